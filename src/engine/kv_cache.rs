//! Per-sequence key/value cache. MLX arrays are immutable and reference
//! counted, so a fork shares its parent's prefix without copying it and a
//! trim is a view of the first `len` positions. While a sequence decodes
//! through the engine loop its keys and values live in a row of the loop's
//! `BatchCache` instead (`slot`), and the arrays here are empty.

use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::Array;

use super::models::llama::cat_seq;
use super::EngineError;

/// Keys and values of every layer for one batch of rows at one position.
#[derive(Clone, Default)]
pub struct SeqCache {
    layers: Vec<Option<(Array, Array)>>,
    len: usize,
    slot: Option<usize>,
}

impl SeqCache {
    pub fn new(num_layers: usize) -> SeqCache {
        SeqCache { layers: vec![None; num_layers], len: 0, slot: None }
    }

    /// A cache of `len` positions made of per-layer keys and values.
    pub(crate) fn from_layers(layers: Vec<(Array, Array)>, len: usize) -> SeqCache {
        SeqCache { layers: layers.into_iter().map(Some).collect(), len, slot: None }
    }

    /// The batch-cache row holding this sequence, if it is resident there.
    pub fn slot(&self) -> Option<usize> {
        self.slot
    }

    /// The keys and values now live in batch-cache row `slot`.
    pub(crate) fn enter_slot(&mut self, slot: usize) {
        self.slot = Some(slot);
        for l in self.layers.iter_mut() {
            *l = None;
        }
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nothing computed yet: the next tokens are a prompt.
    pub fn is_fresh(&self) -> bool {
        self.len == 0 && self.slot.is_none()
    }

    /// Appends new keys/values of `layer` (`[rows, kv_heads, new, head_dim]`)
    /// and returns the whole keys/values to attend over.
    pub(crate) fn append(&mut self, layer: usize, k: Array, v: Array) -> Result<(Array, Array), EngineError> {
        let slot = self.layers.get_mut(layer).ok_or_else(|| EngineError::Mlx(format!("no cache layer {layer}")))?;
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (cat_seq(&pk, &k)?, cat_seq(&pv, &v)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        Ok((k, v))
    }

    /// Keys and values of `layer`, None before its first append.
    pub(crate) fn layer(&self, layer: usize) -> Option<&(Array, Array)> {
        self.layers.get(layer).and_then(Option::as_ref)
    }

    /// Every layer's keys and values, when every layer has them and the
    /// sequence is not resident in a batch cache.
    pub(crate) fn layers_if_complete(&self) -> Option<Vec<(Array, Array)>> {
        if self.slot.is_some() {
            return None;
        }
        self.layers.iter().cloned().collect()
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// A new sequence that continues from this one; the prefix is shared.
    /// (A resident sequence is forked through its `BatchCache`.)
    pub fn fork(&self) -> SeqCache {
        self.clone()
    }

    /// Cuts the cache back to its first `len` positions.
    pub fn trim(&mut self, len: usize) -> Result<(), EngineError> {
        if len >= self.len {
            return Ok(());
        }
        if self.slot.is_some() {
            // Positions past `len` are masked and overwritten later.
            self.len = len;
            return Ok(());
        }
        let end = len as i32;
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.index((.., .., ..end, ..));
            *v = v.index((.., .., ..end, ..));
        }
        self.len = len;
        Ok(())
    }

    /// Bytes held by the cached keys and values (a resident sequence's
    /// bytes are counted with its batch cache).
    pub fn nbytes(&self) -> usize {
        self.layers.iter().flatten().map(|(k, v)| k.nbytes() + v.nbytes()).sum()
    }
}
