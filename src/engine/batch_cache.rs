//! Decode-time key/value storage shared by the sequences of an engine loop.
//!
//! A sequence that decodes one token per step keeps its own positions (the
//! ones after its prompt) in a row ("slot") of one preallocated buffer per
//! layer, `[slots, kv_heads, capacity, head_dim]` stored flat as
//! `[slots * kv_heads * capacity, head_dim]`. A decode step writes the new
//! keys and values of every row with one scatter (in place: the loop holds
//! the only reference, so MLX reuses the buffer) and attends over all rows'
//! own positions with one masked product, whatever their lengths.
//!
//! The prompt is not copied into the row. Rows that share a prompt (the
//! rollouts of one sample, the runs of a sweep that ask the same question)
//! share its [`PrefixBlock`], and each group of such rows attends over the
//! block's arrays in place: one product per group against the block, one
//! softmax over each row's prompt and own positions together, then one
//! product per part. A row's bits do not depend on its group: each row's
//! products have the same shapes whoever else is in the step.
//!
//! Sequences that receive several tokens at once (prompts, recomputed
//! prefixes) use their own arrays (`SeqCache` layers); the engine moves a
//! sequence into a slot at its first decode step and back out when it stops
//! decoding, forks or needs a multi-token step.
//!
//! The buffers are a pool: they keep their largest size for the engine
//! loop's lifetime (released slots are reused), because growing them means
//! writing fresh memory, which is slow on the CPU backend.

use std::sync::Arc;

use mlx_rs::ops::indexing::{scatter_single, IndexOp, TryIndexMutOp};
use mlx_rs::ops::{concatenate, full, softmax_axis, zeros_dtype};
use mlx_rs::{Array, Dtype};

use super::cpu_math;
use super::kv_cache::{PrefixBlock, SeqCache};
use super::EngineError;

/// Capacities are multiples of this many positions. Rows hold only the
/// positions after their prompt (a search's generated tokens), so this is
/// small; widening grows by at least half, so a long generation widens the
/// pool a few times, not once per step.
const CAPACITY_STEP: usize = 32;

pub struct BatchCache {
    /// Per layer: flat keys and values.
    layers: Vec<(Array, Array)>,
    /// Softmax through `cpu_math` (MLX's CPU backend) rather than MLX's own.
    cpu_math: bool,
    num_layers: usize,
    kv_heads: i32,
    head_dim: i32,
    dtype: Option<Dtype>,
    slots: usize,
    capacity: usize,
    used: Vec<bool>,
    /// Pass counter at each slot's last decode step.
    last_used: Vec<u64>,
}

/// Indices and mask of one decode step, shared by every layer.
pub struct DecodeStep {
    /// Flat row index of each (row, kv head) write: `[rows * kv_heads]`.
    writes: Array,
    /// Slots of the rows, in row order.
    slot_ids: Array,
    /// Whether the rows are exactly the slots `0..span` in order.
    identity: bool,
    /// Slots attended over (the highest used slot + 1).
    span: i32,
    /// Positions attended over (the longest row after this step).
    width: i32,
    /// `[span, 1, 1, width]`: 0 where a row has a key, -inf elsewhere.
    bias: Array,
    /// Runs of consecutive rows that share a prefix block (or have none).
    groups: Vec<RowGroup>,
    /// Scores per row in the joint softmax: the longest prefix plus `width`.
    joint: i32,
}

/// Rows `start..end` of a decode step and the prompt block they share.
struct RowGroup {
    start: i32,
    end: i32,
    prefix: Option<Arc<PrefixBlock>>,
}

impl RowGroup {
    fn prefix_len(&self) -> i32 {
        self.prefix.as_ref().map_or(0, |p| p.len() as i32)
    }
}

/// A resident row about to decode: its slot, its own positions before the
/// step and its prompt block.
pub struct DecodeRow {
    pub slot: usize,
    pub own_len: usize,
    pub prefix: Option<Arc<PrefixBlock>>,
}

impl BatchCache {
    pub fn new(num_layers: usize, kv_heads: i32, head_dim: i32, cpu_math: bool) -> BatchCache {
        BatchCache {
            layers: Vec::new(),
            cpu_math,
            num_layers,
            kv_heads,
            head_dim,
            dtype: None,
            slots: 0,
            capacity: 0,
            used: Vec::new(),
            last_used: Vec::new(),
        }
    }

    /// Bytes held by the buffers.
    pub fn nbytes(&self) -> usize {
        self.layers.iter().map(|(k, v)| k.nbytes() + v.nbytes()).sum()
    }

    /// Slots in use.
    pub fn occupied(&self) -> usize {
        self.used.iter().filter(|u| **u).count()
    }

    fn row_elems(&self, capacity: usize) -> i32 {
        self.kv_heads * capacity as i32
    }

    /// Makes room for `slots` rows of `capacity` positions.
    ///
    /// Growing copies what is kept into new buffers, and on the CPU
    /// backend writing gigabytes of fresh memory is slow (0.6 GB/s: growing
    /// from 128 to 256 rows of 200 positions took 4 s). So the buffers keep
    /// their largest size for the loop's lifetime, as a KV pool does; a
    /// burst of admissions grows them once (`make_room`); and buffers that
    /// hold no sequence are replaced rather than copied.
    fn reserve(&mut self, slots: usize, capacity: usize, dtype: Dtype) -> Result<(), EngineError> {
        if self.dtype.is_some_and(|d| d != dtype) {
            return Err(EngineError::Mlx(format!("batch cache holds {:?}, got {dtype:?}", self.dtype)));
        }
        self.dtype = Some(dtype);
        let hd = self.head_dim;
        let top = self.end_in_use();
        let grows = slots > self.slots || capacity > self.capacity;
        if self.layers.is_empty() || (top == 0 && grows) {
            // Nothing to keep: new buffers. Wider rows reset the pool to
            // what is asked for, so one long sequence does not widen every
            // slot the pool ever had.
            let cap = capacity.max(1).next_multiple_of(CAPACITY_STEP);
            let n = if cap > self.capacity { slots.max(1) } else { slots.max(self.slots).max(1) };
            self.layers.clear();
            for _ in 0..self.num_layers {
                let z = || zeros_dtype(&[n as i32 * self.row_elems(cap), hd], dtype);
                self.layers.push((z()?, z()?));
            }
            self.slots = n;
            self.capacity = cap;
            self.used = vec![false; n];
            self.last_used = vec![0; n];
            return Ok(());
        }
        if capacity > self.capacity {
            // Only the slots up to the last one in use are widened.
            let cap = capacity.max(self.capacity + self.capacity / 2).next_multiple_of(CAPACITY_STEP);
            let (s, kv, old) = (self.slots as i32, self.kv_heads, self.capacity as i32);
            let keep = top as i32;
            let extra = zeros_dtype(&[keep, kv, cap as i32 - old, hd], dtype)?;
            let widen = |x: &Array| -> Result<Array, EngineError> {
                let x4 = x.reshape(&[s, kv, old, hd])?.index((..keep, .., .., ..));
                Ok(concatenate(&[&x4, &extra], 2)?.reshape(&[-1, hd])?)
            };
            for (k, v) in self.layers.iter_mut() {
                *k = widen(k)?;
                *v = widen(v)?;
            }
            self.capacity = cap;
            self.slots = top;
            self.used.truncate(top);
            self.last_used.truncate(top);
        }
        if slots > self.slots {
            // Doubling while small; then by a quarter (the buffers are
            // kept, so slack is kept too), or straight to what a burst asks.
            let n = if self.slots < 64 || slots > 2 * self.slots {
                slots.max(2 * self.slots)
            } else {
                slots.max(self.slots + self.slots / 4).next_multiple_of(16).min(2 * self.slots)
            };
            let extra = zeros_dtype(&[(n - self.slots) as i32 * self.row_elems(self.capacity), hd], dtype)?;
            for (k, v) in self.layers.iter_mut() {
                *k = concatenate(&[&*k, &extra], 0)?;
                *v = concatenate(&[&*v, &extra], 0)?;
            }
            self.used.resize(n, false);
            self.last_used.resize(n, 0);
            self.slots = n;
        }
        Ok(())
    }

    /// One past the last slot in use (0 when none is).
    fn end_in_use(&self) -> usize {
        self.used.iter().rposition(|u| *u).map_or(0, |s| s + 1)
    }

    /// Grows the buffers once for the sequences of `decoding` that are
    /// about to be admitted, instead of once per doubling while they are
    /// admitted one by one.
    pub fn make_room<'a>(&mut self, decoding: impl IntoIterator<Item = &'a SeqCache>) -> Result<(), EngineError> {
        let arriving: Vec<&SeqCache> = decoding.into_iter().filter(|s| s.slot().is_none()).collect();
        let Some(first) = arriving.first() else { return Ok(()) };
        let longest = arriving.iter().map(|s| s.own_len()).max().unwrap_or(0);
        self.reserve(self.occupied() + arriving.len(), longest + 1, dtype_of(first)?)
    }

    /// Flat indices of positions `start..start + len` of every kv head of `slot`.
    fn flat_indices(&self, slot: usize, start: usize, len: usize) -> Vec<i32> {
        let (kv, cap) = (self.kv_heads as usize, self.capacity);
        let mut idx = Vec::with_capacity(kv * len);
        for h in 0..kv {
            for p in start..start + len {
                idx.push(((slot * kv + h) * cap + p) as i32);
            }
        }
        idx
    }

    /// Moves a sequence's own keys and values into a free slot (its prompt
    /// block stays where it is).
    pub fn admit(&mut self, seq: &mut SeqCache, pass: u64) -> Result<(), EngineError> {
        if seq.slot().is_some() {
            return Ok(());
        }
        let dtype = dtype_of(seq)?;
        let free = self.used.iter().position(|u| !u);
        let slot = free.unwrap_or(self.used.len());
        self.reserve(slot + 1, seq.own_len() + 1, dtype)?;
        if seq.own_len() > 0 {
            let shape = [self.slots as i32, self.kv_heads, self.capacity as i32, self.head_dim];
            for (layer, (bk, bv)) in self.layers.iter_mut().enumerate() {
                let (k, v) = seq.own_layer(layer).ok_or_else(|| EngineError::Mlx(format!("cache layer {layer} missing")))?;
                *bk = write_prefix(bk, shape, slot, k)?;
                *bv = write_prefix(bv, shape, slot, v)?;
            }
        }
        self.used[slot] = true;
        self.last_used[slot] = pass;
        seq.enter_slot(slot);
        Ok(())
    }

    /// Copies of a resident sequence's own keys and values (`[1, kv, len,
    /// hd]` per layer, none when it has no own positions) that hold no
    /// reference to the buffers.
    fn copy_rows(&self, seq: &SeqCache) -> Result<Vec<(Array, Array)>, EngineError> {
        let slot = seq.slot().ok_or_else(|| EngineError::Mlx("the sequence is not in the batch cache".into()))? as i32;
        let (s, kv, cap, hd, len) = (self.slots as i32, self.kv_heads, self.capacity as i32, self.head_dim, seq.own_len() as i32);
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(self.layers.len());
        for (k, v) in &self.layers {
            let take = |x: &Array| -> Result<Array, EngineError> {
                Ok(x.reshape(&[s, kv, cap, hd])?.index((slot..slot + 1, .., ..len, ..)).contiguous()?)
            };
            out.push((take(k)?, take(v)?));
        }
        let flat: Vec<&Array> = out.iter().flat_map(|(k, v)| [k, v]).collect();
        mlx_rs::transforms::eval(flat)?;
        // The copies must hold no link to the buffers they were read from:
        // a link would keep every version of a buffer alive and stop the
        // in-place writes. Evaluated arrays drop their inputs, so a real
        // copy is free of the buffer; but the slice is already row-contiguous
        // when it spans the whole capacity or there is one kv head, and then
        // MLX shares the buffer instead of copying, so it is cloned here.
        if kv > 1 && len < cap {
            return Ok(out);
        }
        Ok(out.iter().map(|(k, v)| (k.deep_clone(), v.deep_clone())).collect())
    }

    /// A new sequence continuing `seq`; resident or not, the child owns
    /// its arrays (sharing them with `seq` when `seq` owns its own).
    pub fn fork(&self, seq: &SeqCache) -> Result<SeqCache, EngineError> {
        match seq.slot() {
            None => Ok(seq.fork()),
            Some(_) => Ok(SeqCache::with_own(seq.prefix().cloned(), self.copy_rows(seq)?, self.num_layers, seq.len())),
        }
    }

    /// Moves a resident sequence back to its own arrays and frees its slot.
    pub fn evict(&mut self, seq: &mut SeqCache) -> Result<(), EngineError> {
        let Some(slot) = seq.slot() else { return Ok(()) };
        let layers = self.copy_rows(seq)?;
        *seq = SeqCache::with_own(seq.prefix().cloned(), layers, self.num_layers, seq.len());
        self.free(slot);
        Ok(())
    }

    /// Frees a slot (the sequence was released).
    pub fn free(&mut self, slot: usize) {
        if let Some(u) = self.used.get_mut(slot) {
            *u = false;
        }
    }

    /// Slots whose last decode step is older than `pass`.
    pub fn idle_since(&self, pass: u64) -> Vec<usize> {
        (0..self.used.len()).filter(|&s| self.used[s] && self.last_used[s] < pass).collect()
    }

    /// Indices, masks and prefix groups for a step in which resident `rows`
    /// each gain one position. Rows that share a prompt block should be
    /// next to each other: each run of them attends over the block once.
    pub fn prepare(&mut self, rows: &[DecodeRow], pass: u64, dtype: Dtype) -> Result<DecodeStep, EngineError> {
        let longest = rows.iter().map(|r| r.own_len + 1).max().unwrap_or(1);
        let top = rows.iter().map(|r| r.slot + 1).max().unwrap_or(1);
        self.reserve(top, longest, dtype)?;
        let mut writes = Vec::with_capacity(rows.len() * self.kv_heads as usize);
        for r in rows {
            writes.extend(self.flat_indices(r.slot, r.own_len, 1));
            if let Some(t) = self.last_used.get_mut(r.slot) {
                *t = pass;
            }
        }
        let span = self.end_in_use().max(top);
        let width = longest;
        let mut bias = vec![f32::NEG_INFINITY; span * width];
        for s in 0..span {
            bias[s * width] = 0.0;
        }
        for r in rows {
            bias[r.slot * width..r.slot * width + r.own_len + 1].fill(0.0);
        }
        let mut groups: Vec<RowGroup> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let id = r.prefix.as_ref().map(|p| p.id());
            match groups.last_mut() {
                Some(g) if g.prefix.as_ref().map(|p| p.id()) == id => g.end = i as i32 + 1,
                _ => groups.push(RowGroup { start: i as i32, end: i as i32 + 1, prefix: r.prefix.clone() }),
            }
        }
        let joint = groups.iter().map(RowGroup::prefix_len).max().unwrap_or(0) + width as i32;
        let slot_ids: Vec<i32> = rows.iter().map(|r| r.slot as i32).collect();
        let identity = rows.len() == span && rows.iter().enumerate().all(|(i, r)| r.slot == i);
        Ok(DecodeStep {
            writes: Array::from_slice(&writes, &[writes.len() as i32]),
            slot_ids: Array::from_slice(&slot_ids, &[slot_ids.len() as i32]),
            identity,
            span: span as i32,
            width: width as i32,
            bias: Array::from_slice(&bias, &[span as i32, 1, 1, width as i32]).as_dtype(dtype)?,
            groups,
            joint,
        })
    }

    /// Writes the step's keys and values of `layer` and attends: `q`, `k`,
    /// `v` are `[rows, heads, 1, head_dim]` (rotated) in the step's row
    /// order; returns `[rows, heads, 1, head_dim]`.
    ///
    /// With one query per row, the query heads that share a kv head are
    /// laid out as that head's query rows (`[rows, kv, heads / kv, hd]`), so
    /// every product runs against the cached keys and values as they are,
    /// with no broadcast copies: the own positions in slot order (queries
    /// scattered to their rows' slots), each prompt block once for its
    /// group of rows.
    ///
    /// Each row's scores are laid out as its sequence is, prompt first, then
    /// its own positions, then -inf up to the step's widest row; one softmax
    /// covers them, and the weights are split back into the two products.
    pub fn attend(&mut self, layer: usize, step: &DecodeStep, q: &Array, k: &Array, v: &Array, scale: f32) -> Result<Array, EngineError> {
        let (kv, hd, cap) = (self.kv_heads, self.head_dim, self.capacity as i32);
        let slots = self.slots as i32;
        let (bk, bv) = self.layers.get_mut(layer).ok_or_else(|| EngineError::Mlx(format!("no cache layer {layer}")))?;
        *bk = scatter_single(&*bk, &step.writes, k.reshape(&[-1, 1, hd])?, 0)?;
        *bv = scatter_single(&*bv, &step.writes, v.reshape(&[-1, 1, hd])?, 0)?;
        let view =
            |x: &Array| -> Result<Array, EngineError> { Ok(x.reshape(&[slots, kv, cap, hd])?.index((..step.span, .., ..step.width, ..))) };
        let (keys, values) = (view(bk)?, view(bv)?);
        let (rows, heads) = (q.shape()[0], q.shape()[1]);
        let group = heads / kv;
        let dtype = q.dtype();
        let q = q.multiply(Array::from_f32(scale).as_dtype(dtype)?)?.reshape(&[rows, kv, group, hd])?;
        // Own positions: [rows, kv, group, width], -inf where a row has no key.
        let own = self.to_slots(step, &q, [kv, group, hd])?.matmul(keys.swap_axes(-1, -2)?)?.add(&step.bias)?;
        let own = if step.identity { own } else { own.take_axis(&step.slot_ids, 0)? };
        let mut joint = Vec::with_capacity(step.groups.len());
        for g in &step.groups {
            let mut parts = Vec::with_capacity(3);
            if let Some(prefix) = &g.prefix {
                let (pk, _) = prefix.layer(layer)?;
                parts.push(q.index(g.start..g.end).matmul(pk.swap_axes(-1, -2)?)?);
            }
            parts.push(own.index(g.start..g.end));
            let used = g.prefix_len() + step.width;
            if used < step.joint {
                parts.push(
                    full::<f32>(&[g.end - g.start, kv, group, step.joint - used], Array::from_f32(f32::NEG_INFINITY))?.as_dtype(dtype)?,
                );
            }
            joint.push(if parts.len() == 1 { parts.swap_remove(0) } else { concatenate(&parts, 3)? });
        }
        let scores = if joint.len() == 1 { joint.swap_remove(0) } else { concatenate(&joint, 0)? };
        let weights = if self.cpu_math {
            cpu_math::softmax_last(&scores)?
        } else {
            softmax_axis(&scores.as_dtype(Dtype::Float32)?, -1, true)?.as_dtype(dtype)?
        };
        let mut own_weights = Vec::with_capacity(step.groups.len());
        let mut from_prefix = Vec::with_capacity(step.groups.len());
        for g in &step.groups {
            let (w, p) = (weights.index(g.start..g.end), g.prefix_len());
            own_weights.push(w.index((.., .., .., p..p + step.width)));
            from_prefix.push(match &g.prefix {
                Some(prefix) => w.index((.., .., .., ..p)).matmul(&prefix.layer(layer)?.1)?,
                None => zeros_dtype(&[g.end - g.start, kv, group, hd], dtype)?,
            });
        }
        let own_weights = if own_weights.len() == 1 { own_weights.swap_remove(0) } else { concatenate(&own_weights, 0)? };
        let out = self.to_slots(step, &own_weights, [kv, group, step.width])?.matmul(&values)?;
        let out = if step.identity { out } else { out.take_axis(&step.slot_ids, 0)? };
        let from_prefix = if from_prefix.len() == 1 { from_prefix.swap_remove(0) } else { concatenate(&from_prefix, 0)? };
        Ok(out.add(&from_prefix)?.reshape(&[rows, heads, 1, hd])?)
    }

    /// `x` (`[rows, ..inner]` in the step's row order) laid out by slot,
    /// `[span, ..inner]`, zero where a slot is not stepping.
    fn to_slots(&self, step: &DecodeStep, x: &Array, inner: [i32; 3]) -> Result<Array, EngineError> {
        if step.identity {
            return Ok(x.clone());
        }
        let [a, b, c] = inner;
        let rows = x.shape()[0];
        let empty = zeros_dtype(&[step.span, a, b, c], x.dtype())?;
        Ok(scatter_single(&empty, &step.slot_ids, x.reshape(&[rows, 1, a, b, c])?, 0)?)
    }
}

/// `flat` (a layer's buffer, `shape` = `[slots, kv, capacity, hd]`) with
/// the first positions of `slot` replaced by `prefix` (`[1, kv, len, hd]`).
/// A slice update copies whole runs of positions; the loop holds the only
/// reference to the buffer, so MLX writes it in place. (A scatter moves the
/// same bytes one element at a time: in the search benchmark's wave,
/// admissions by scatter took 8.5 s of its 49.)
fn write_prefix(flat: &Array, shape: [i32; 4], slot: usize, prefix: &Array) -> Result<Array, EngineError> {
    let len = prefix.shape().get(2).copied().unwrap_or(0);
    let mut x = flat.reshape(&shape)?;
    x.try_index_mut((slot as i32, .., 0..len, ..), prefix)?;
    Ok(x.reshape(&[-1, shape[3]])?)
}

/// The dtype of a sequence's keys and values.
fn dtype_of(seq: &SeqCache) -> Result<Dtype, EngineError> {
    seq.dtype().ok_or_else(|| EngineError::Mlx("a sequence needs a prompt before it decodes".into()))
}
