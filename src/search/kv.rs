//! Which engine sequences a search keeps alive.
//!
//! Policy: the prompt sequence is pinned for the whole search. A rollout
//! forks the sequence of the node it starts from and appends one token per
//! step; every tree node the rollout creates refers to that one sequence
//! (its prefix length is prompt + depth), so no per-node fork is made. To
//! extend a node later, its sequence is forked and the fork trimmed to the
//! node's prefix. A sequence is released once no node that may still
//! expand refers to it, and when more than `cap` sequences are live the
//! least recently used idle one is evicted; a node whose sequence is gone
//! is rebuilt from its nearest live ancestor (counted as forwarded tokens).

use super::error::SearchError;
use super::lm::{LanguageModel, SeqHandle};

#[derive(Debug, Clone)]
struct Entry {
    handle: SeqHandle,
    /// Positions in the cache.
    len: usize,
    /// Nodes that may still expand and refer to this sequence.
    refs: u32,
    last_use: u64,
    live: bool,
    pinned: bool,
    /// A row is decoding into it.
    busy: bool,
}

/// The live sequences of one search, addressed by slot (never reused).
#[derive(Debug)]
pub(crate) struct KvPool {
    entries: Vec<Entry>,
    live: Vec<u32>,
    cap: usize,
    clock: u64,
}

impl KvPool {
    pub fn new(cap: usize) -> KvPool {
        KvPool { entries: Vec::new(), live: Vec::new(), cap: cap.max(1), clock: 0 }
    }

    fn entry(&self, slot: u32) -> Result<&Entry, SearchError> {
        self.entries.get(slot as usize).ok_or_else(|| SearchError::Internal(format!("no kv slot {slot}")))
    }

    fn entry_mut(&mut self, slot: u32) -> Result<&mut Entry, SearchError> {
        self.entries.get_mut(slot as usize).ok_or_else(|| SearchError::Internal(format!("no kv slot {slot}")))
    }

    fn push(&mut self, handle: SeqHandle, len: usize, pinned: bool, busy: bool) -> u32 {
        self.clock += 1;
        let slot = self.entries.len() as u32;
        self.entries.push(Entry { handle, len, refs: 0, last_use: self.clock, live: true, pinned, busy });
        self.live.push(slot);
        slot
    }

    /// A fresh sequence with nothing in it (the prompt's), pinned.
    pub fn add_root(&mut self, model: &mut dyn LanguageModel) -> Result<u32, SearchError> {
        let handle = model.new_seq(None)?;
        Ok(self.push(handle, 0, true, false))
    }

    pub fn is_live(&self, slot: u32) -> bool {
        self.entries.get(slot as usize).is_some_and(|e| e.live)
    }

    pub fn handle(&self, slot: u32) -> Result<SeqHandle, SearchError> {
        let e = self.entry(slot)?;
        if !e.live {
            return Err(SearchError::Internal(format!("kv slot {slot} was released")));
        }
        Ok(e.handle)
    }

    /// A new busy sequence sharing the first `len` positions of `parent`.
    pub fn fork(&mut self, model: &mut dyn LanguageModel, parent: u32, len: usize) -> Result<u32, SearchError> {
        self.clock += 1;
        let clock = self.clock;
        let p = self.entry_mut(parent)?;
        if !p.live || p.len < len {
            return Err(SearchError::Internal(format!("cannot fork kv slot {parent} at {len}")));
        }
        p.last_use = clock;
        let (parent_handle, parent_len) = (p.handle, p.len);
        self.make_room(model, parent);
        let handle = model.new_seq(Some(parent_handle))?;
        if len < parent_len {
            model.trim(handle, len)?;
        }
        Ok(self.push(handle, len, false, true))
    }

    /// Evicts least recently used idle sequences (never `keep`) while at the cap.
    fn make_room(&mut self, model: &mut dyn LanguageModel, keep: u32) {
        while self.live.len() >= self.cap {
            let victim = self
                .live
                .iter()
                .copied()
                .filter(|&s| s != keep && self.entries.get(s as usize).is_some_and(|e| !e.pinned && !e.busy))
                .min_by_key(|&s| self.entries.get(s as usize).map_or(0, |e| e.last_use));
            match victim {
                Some(s) => self.release(model, s),
                None => break,
            }
        }
    }

    pub fn grew(&mut self, slot: u32, n: usize) -> Result<(), SearchError> {
        self.entry_mut(slot)?.len += n;
        Ok(())
    }

    /// A node now refers to this sequence.
    pub fn attach(&mut self, slot: u32) -> Result<(), SearchError> {
        let e = self.entry_mut(slot)?;
        if e.live {
            e.refs += 1;
        }
        Ok(())
    }

    /// A node that referred to this sequence can no longer expand.
    pub fn detach(&mut self, model: &mut dyn LanguageModel, slot: u32) -> Result<(), SearchError> {
        let e = self.entry_mut(slot)?;
        if e.live {
            e.refs = e.refs.saturating_sub(1);
        }
        self.maybe_release(model, slot)
    }

    /// The row decoding into this sequence finished.
    pub fn finish(&mut self, model: &mut dyn LanguageModel, slot: u32) -> Result<(), SearchError> {
        self.entry_mut(slot)?.busy = false;
        self.maybe_release(model, slot)
    }

    fn maybe_release(&mut self, model: &mut dyn LanguageModel, slot: u32) -> Result<(), SearchError> {
        let e = self.entry(slot)?;
        if e.live && e.refs == 0 && !e.busy && !e.pinned {
            self.release(model, slot);
        }
        Ok(())
    }

    fn release(&mut self, model: &mut dyn LanguageModel, slot: u32) {
        if let Some(e) = self.entries.get_mut(slot as usize) {
            if e.live {
                e.live = false;
                model.release(e.handle);
            }
        }
        self.live.retain(|&s| s != slot);
    }

    /// Frees everything (end of the search).
    pub fn release_all(&mut self, model: &mut dyn LanguageModel) {
        for slot in std::mem::take(&mut self.live) {
            if let Some(e) = self.entries.get_mut(slot as usize) {
                if e.live {
                    e.live = false;
                    model.release(e.handle);
                }
            }
        }
    }
}
