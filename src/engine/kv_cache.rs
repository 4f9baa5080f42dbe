//! Per-sequence key/value cache. MLX arrays are immutable and reference
//! counted, so a fork shares its parent's positions without copying them and
//! a trim is a view of the first `len` positions.
//!
//! A sequence's first chunk of tokens is its prompt. Once computed, the
//! prompt's keys and values are sealed into a [`PrefixBlock`] that the
//! sequence holds by reference: its forks, and every sequence that gets the
//! same prompt from the prompt cache, share that one block, and only the
//! positions after it are the sequence's own. While a sequence decodes
//! through the engine loop its own positions live in a row of the loop's
//! `BatchCache` instead (`slot`), and its own arrays here are empty; the
//! prefix block stays here and the batch cache attends over it in place.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mlx_rs::ops::concatenate;
use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::{Array, Dtype};

use super::EngineError;

/// A computed prompt's keys and values (`[1, kv_heads, len, head_dim]` per
/// layer), shared read-only by every sequence that starts with it.
pub struct PrefixBlock {
    id: u64,
    layers: Vec<(Array, Array)>,
    len: usize,
}

impl PrefixBlock {
    fn new(layers: Vec<(Array, Array)>, len: usize) -> PrefixBlock {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        PrefixBlock { id: NEXT.fetch_add(1, Ordering::Relaxed), layers, len }
    }

    /// Identifies the block: sequences with equal ids share the same arrays.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Positions in the block.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys and values of `layer`.
    pub(crate) fn layer(&self, layer: usize) -> Result<&(Array, Array), EngineError> {
        self.layers.get(layer).ok_or_else(|| EngineError::Mlx(format!("prefix block has no layer {layer}")))
    }

    /// Bytes held by the block's keys and values.
    pub fn nbytes(&self) -> usize {
        self.layers.iter().map(|(k, v)| k.nbytes() + v.nbytes()).sum()
    }
}

/// Keys and values of every layer for one batch of rows at one position.
#[derive(Clone, Default)]
pub struct SeqCache {
    prefix: Option<Arc<PrefixBlock>>,
    /// The positions after the prefix, per layer.
    layers: Vec<Option<(Array, Array)>>,
    /// Positions cached, the prefix's included.
    len: usize,
    slot: Option<usize>,
}

impl SeqCache {
    pub fn new(num_layers: usize) -> SeqCache {
        SeqCache { prefix: None, layers: vec![None; num_layers], len: 0, slot: None }
    }

    /// A sequence whose cache is exactly `prefix`.
    pub(crate) fn from_prefix(prefix: Arc<PrefixBlock>) -> SeqCache {
        let (num_layers, len) = (prefix.layers.len(), prefix.len);
        SeqCache { prefix: Some(prefix), layers: vec![None; num_layers], len, slot: None }
    }

    /// A cache of `len` positions: `prefix`, then `own` keys and values per
    /// layer (empty when the sequence has no positions of its own).
    pub(crate) fn with_own(prefix: Option<Arc<PrefixBlock>>, own: Vec<(Array, Array)>, num_layers: usize, len: usize) -> SeqCache {
        let layers = if own.is_empty() { vec![None; num_layers] } else { own.into_iter().map(Some).collect() };
        SeqCache { prefix, layers, len, slot: None }
    }

    /// The batch-cache row holding this sequence, if it is resident there.
    pub fn slot(&self) -> Option<usize> {
        self.slot
    }

    /// The own positions now live in batch-cache row `slot`.
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

    /// The shared prompt block, if the sequence has one.
    pub fn prefix(&self) -> Option<&Arc<PrefixBlock>> {
        self.prefix.as_ref()
    }

    /// Positions before this sequence's own ones.
    pub fn prefix_len(&self) -> usize {
        self.prefix.as_ref().map_or(0, |p| p.len)
    }

    /// Positions of the sequence's own (after the prefix block).
    pub fn own_len(&self) -> usize {
        self.len - self.prefix_len()
    }

    /// The dtype of the keys and values, None before the first tokens.
    pub(crate) fn dtype(&self) -> Option<Dtype> {
        match (self.layers.first().and_then(Option::as_ref), &self.prefix) {
            (Some((k, _)), _) => Some(k.dtype()),
            (None, Some(p)) => p.layers.first().map(|(k, _)| k.dtype()),
            (None, None) => None,
        }
    }

    /// Appends new keys/values of `layer` (`[rows, kv_heads, new, head_dim]`)
    /// and returns the whole keys/values to attend over, the prefix's included.
    pub(crate) fn append(&mut self, layer: usize, k: Array, v: Array) -> Result<(Array, Array), EngineError> {
        let slot = self.layers.get_mut(layer).ok_or_else(|| EngineError::Mlx(format!("no cache layer {layer}")))?;
        let (k, v) = match slot.take() {
            Some((pk, pv)) => (cat_seq(&pk, &k)?, cat_seq(&pv, &v)?),
            None => (k, v),
        };
        *slot = Some((k.clone(), v.clone()));
        match &self.prefix {
            None => Ok((k, v)),
            Some(p) => {
                let (pk, pv) = p.layer(layer)?;
                Ok((cat_seq(pk, &k)?, cat_seq(pv, &v)?))
            }
        }
    }

    /// Own keys and values of `layer`, None before its first own positions.
    pub(crate) fn own_layer(&self, layer: usize) -> Option<&(Array, Array)> {
        self.layers.get(layer).and_then(Option::as_ref)
    }

    /// Seals a just-computed prompt: its positions become a prefix block
    /// that forks and the prompt cache share. Does nothing unless the
    /// sequence holds exactly its own, complete first chunk.
    pub(crate) fn seal_prompt(&mut self) {
        if self.prefix.is_some() || self.slot.is_some() || self.len == 0 {
            return;
        }
        let Some(layers) = self.layers.iter().cloned().collect::<Option<Vec<_>>>() else { return };
        self.prefix = Some(Arc::new(PrefixBlock::new(layers, self.len)));
        for l in self.layers.iter_mut() {
            *l = None;
        }
    }

    /// The prefix block, when the sequence is exactly its sealed prompt.
    pub(crate) fn sealed_prompt(&self) -> Option<Arc<PrefixBlock>> {
        self.prefix.clone().filter(|p| p.len == self.len && self.slot.is_none())
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }

    /// A new sequence that continues from this one; everything is shared.
    /// (A resident sequence is forked through its `BatchCache`.)
    pub fn fork(&self) -> SeqCache {
        self.clone()
    }

    /// Cuts the cache back to its first `len` positions.
    pub fn trim(&mut self, len: usize) -> Result<(), EngineError> {
        if len >= self.len {
            return Ok(());
        }
        let prefix_len = self.prefix_len();
        if len < prefix_len {
            // Into the prompt: the kept part becomes the sequence's own. A
            // resident sequence leaves the batch cache first.
            if let Some(slot) = self.slot {
                return Err(EngineError::Mlx(format!("the sequence in batch row {slot} must leave it before a trim into its prompt")));
            }
            let end = len as i32;
            if let Some(prefix) = self.prefix.take() {
                self.layers =
                    prefix.layers.iter().map(|(k, v)| Some((k.index((.., .., ..end, ..)), v.index((.., .., ..end, ..))))).collect();
            }
            self.len = len;
            return Ok(());
        }
        if self.slot.is_some() {
            // Positions past `len` are masked and overwritten later.
            self.len = len;
            return Ok(());
        }
        let end = (len - prefix_len) as i32;
        for (k, v) in self.layers.iter_mut().flatten() {
            *k = k.index((.., .., ..end, ..));
            *v = v.index((.., .., ..end, ..));
        }
        self.len = len;
        Ok(())
    }

    /// Bytes held by the sequence's own keys and values (a resident
    /// sequence's are counted with its batch cache, a shared prefix block's
    /// once by whoever counts blocks).
    pub fn nbytes(&self) -> usize {
        self.layers.iter().flatten().map(|(k, v)| k.nbytes() + v.nbytes()).sum()
    }
}

/// Concatenates along the sequence axis (cache growth).
pub(crate) fn cat_seq(a: &Array, b: &Array) -> Result<Array, EngineError> {
    Ok(concatenate(&[a, b], 2)?)
}
