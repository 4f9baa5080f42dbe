//! Prompts computed once per engine and reused by every sequence that
//! starts with the same tokens: the runs of a sweep that share a model and
//! a dataset (methods, seeds, budgets) all prefill the same prompts.
//!
//! An entry holds a prompt's sealed prefix block (its keys and values for
//! every layer) and the logits after its last token. A hit hands the new
//! sequence the same block, without copying it; every sequence that starts
//! from it, in any run, then shares that one copy in the batch cache too.
//!
//! A hit is bitwise identical to computing the prompt anew because the
//! engine always computes a fresh prompt the same way: alone in its own
//! pass (never batched with other rows, whose presence would change the
//! shapes of the shared matrix products). Entries are evicted least
//! recently used first, within a byte budget; a budget of 0 turns the cache
//! off (prompts are still computed alone).

use std::collections::HashMap;
use std::sync::Arc;

use super::kv_cache::{PrefixBlock, SeqCache};

/// Counters of prompt lookups (per engine caller, or summed over a run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromptCacheCounters {
    /// Fresh prompts looked up.
    pub lookups: u64,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Prompt tokens not computed thanks to hits.
    pub tokens_reused: u64,
}

impl PromptCacheCounters {
    pub fn add(&mut self, other: &PromptCacheCounters) {
        self.lookups += other.lookups;
        self.hits += other.hits;
        self.tokens_reused += other.tokens_reused;
    }

    /// Hits over lookups (0 without lookups).
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 {
            0.0
        } else {
            self.hits as f64 / self.lookups as f64
        }
    }
}

struct Entry {
    block: Arc<PrefixBlock>,
    logits: Vec<f32>,
    bytes: usize,
    last_used: u64,
}

/// A prompt's computed state, as the cache hands it back.
pub struct CachedPrompt {
    pub cache: SeqCache,
    pub logits: Vec<f32>,
}

pub struct PromptCache {
    budget: usize,
    bytes: usize,
    clock: u64,
    entries: HashMap<Vec<u32>, Entry>,
}

impl PromptCache {
    /// A cache holding at most `budget` bytes of keys, values and logits.
    pub fn new(budget: usize) -> PromptCache {
        PromptCache { budget, bytes: 0, clock: 0, entries: HashMap::new() }
    }

    pub fn is_enabled(&self) -> bool {
        self.budget > 0
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The state after `tokens`, when cached.
    pub fn get(&mut self, tokens: &[u32]) -> Option<CachedPrompt> {
        self.clock += 1;
        let entry = self.entries.get_mut(tokens)?;
        entry.last_used = self.clock;
        Some(CachedPrompt { cache: SeqCache::from_prefix(entry.block.clone()), logits: entry.logits.clone() })
    }

    /// Keeps the state after `tokens` (a fresh sequence's cache right after
    /// its prompt), evicting the least recently used entries to make room.
    /// An entry larger than the whole budget is not kept.
    pub fn insert(&mut self, tokens: &[u32], cache: &SeqCache, logits: &[f32]) {
        let Some(block) = cache.sealed_prompt() else { return };
        let bytes = block.nbytes() + std::mem::size_of_val(logits) + std::mem::size_of_val(tokens);
        if bytes > self.budget || self.entries.contains_key(tokens) {
            return;
        }
        while self.bytes + bytes > self.budget {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone()) else { break };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.insert(tokens.to_vec(), Entry { block, logits: logits.to_vec(), bytes, last_used: self.clock });
    }
}

#[cfg(test)]
mod tests {
    use mlx_rs::Array;

    use super::*;

    /// A one-layer cache of `len` positions of 16 f32 keys and values (128 B
    /// per position).
    fn computed(len: usize) -> SeqCache {
        let a = Array::from_slice(&vec![0.5f32; len * 16], &[1, 1, len as i32, 16]);
        let mut cache = SeqCache::with_own(None, vec![(a.clone(), a)], 1, len);
        cache.seal_prompt();
        cache
    }

    #[test]
    fn least_recently_used_prompts_leave_first_and_the_budget_holds() {
        let entry = |len: usize| 128 * len + 4 * 4 + 4 * len;
        let (a, b, c) = ([1u32, 2], [3u32, 4], [5u32, 6]);
        let mut cache = PromptCache::new(2 * entry(2));
        assert!(cache.get(&a).is_none());
        cache.insert(&a, &computed(2), &[0.0; 4]);
        cache.insert(&b, &computed(2), &[1.0; 4]);
        assert_eq!(cache.bytes(), 2 * entry(2));
        // `a` is used again, so `b` is the one to go when `c` comes.
        let hit = cache.get(&a).expect("a is cached");
        assert_eq!((hit.cache.len(), hit.logits), (2, vec![0.0; 4]));
        cache.insert(&c, &computed(2), &[2.0; 4]);
        assert!(cache.get(&b).is_none());
        assert!(cache.get(&a).is_some() && cache.get(&c).is_some());
        assert!(cache.bytes() <= 2 * entry(2));
        // A prompt larger than the whole budget is not kept, and evicts nothing.
        let long: Vec<u32> = (0..64).collect();
        cache.insert(&long, &computed(64), &[0.0; 4]);
        assert!(cache.get(&long).is_none() && cache.get(&a).is_some() && cache.get(&c).is_some());
    }

    #[test]
    fn a_budget_of_zero_is_off_and_counters_add_up() {
        let mut cache = PromptCache::new(0);
        assert!(!cache.is_enabled());
        cache.insert(&[1, 2], &computed(2), &[0.0; 4]);
        assert!(cache.get(&[1, 2]).is_none());
        let mut total = PromptCacheCounters { lookups: 3, hits: 1, tokens_reused: 10 };
        total.add(&PromptCacheCounters { lookups: 1, hits: 1, tokens_reused: 5 });
        assert_eq!(total, PromptCacheCounters { lookups: 4, hits: 2, tokens_reused: 15 });
        assert_eq!(total.hit_rate(), 0.5);
        assert_eq!(PromptCacheCounters::default().hit_rate(), 0.0);
    }
}
