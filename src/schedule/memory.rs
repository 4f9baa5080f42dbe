//! Concurrency by memory, not by count: each run needs its model's weights
//! (counted once per loaded model, however many runs share it) plus the KV
//! budget of one wave of searches. A run starts when the estimate fits in
//! the budget, or when nothing else runs (a run larger than the budget
//! still runs, alone).

use std::collections::BTreeMap;

use super::sources::Sources;
use crate::engine::EngineError;
use crate::plan::{ModelSource, RunConfig};

/// KV bytes per token per sequence assumed when the model's shape is not
/// read (a 135M Llama: 30 layers x 3 KV heads x 64 dims x K and V x f32 is
/// 46 KB; 1B-class models are about 2-4x that at f16).
pub const KV_BYTES_PER_TOKEN: u64 = 64 * 1024;
/// Prompt tokens assumed per sequence (a series of a few hundred values).
pub const PROMPT_TOKENS: u64 = 512;

/// The weights in memory of a run's model, as the engine counts them. A
/// hub model not yet in the local cache is downloaded first when
/// `download` (the run needs it next anyway); otherwise its size is unknown.
pub fn model_bytes(source: &ModelSource, sources: &Sources, download: bool) -> Result<u64, EngineError> {
    sources.model_locator(source).memory_bytes(download)
}

/// The KV budget of one wave of `run`: every search keeps at most its
/// cache cap of sequences of prompt + `max_new_tokens` tokens.
pub fn kv_bytes(run: &RunConfig, wave: usize) -> u64 {
    let p = &run.method.params;
    let seqs_per_search = u64::from(p.parallel_rollouts.unwrap_or(4).max(1)).saturating_mul(4);
    let tokens = PROMPT_TOKENS.saturating_add(u64::from(p.max_new_tokens));
    (wave as u64).saturating_mul(seqs_per_search).saturating_mul(tokens).saturating_mul(KV_BYTES_PER_TOKEN)
}

/// Memory held by running runs and loaded models.
#[derive(Debug, Default)]
pub struct Budget {
    pub limit: Option<u64>,
    kv: u64,
    weights: BTreeMap<String, (u64, usize)>,
}

impl Budget {
    pub fn new(limit: Option<u64>) -> Budget {
        Budget { limit, ..Budget::default() }
    }

    pub fn used(&self) -> u64 {
        self.weights.values().fold(self.kv, |sum, (b, _)| sum.saturating_add(*b))
    }

    /// Whether a run of `model` with `kv` bytes may start now.
    pub fn fits(&self, model: &str, weights: u64, kv: u64) -> bool {
        let Some(limit) = self.limit else { return true };
        if self.kv == 0 && self.weights.is_empty() {
            return true;
        }
        let extra = if self.weights.contains_key(model) { 0 } else { weights };
        self.used().saturating_add(extra).saturating_add(kv) <= limit
    }

    pub fn take(&mut self, model: &str, weights: u64, kv: u64) {
        self.kv = self.kv.saturating_add(kv);
        self.weights.entry(model.to_owned()).or_insert((weights, 0)).1 += 1;
    }

    pub fn give(&mut self, model: &str, kv: u64) {
        self.kv = self.kv.saturating_sub(kv);
        if let Some(e) = self.weights.get_mut(model) {
            e.1 = e.1.saturating_sub(1);
            if e.1 == 0 {
                self.weights.remove(model);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_count_once_per_model_and_a_lone_run_always_fits() {
        let mut b = Budget::new(Some(100));
        assert!(b.fits("a", 500, 10), "nothing runs: even an oversized run starts");
        b.take("a", 60, 10);
        assert!(b.fits("a", 60, 30), "a second run of the loaded model adds only its KV");
        assert!(!b.fits("b", 60, 10), "another model's weights do not fit");
        b.take("a", 60, 30);
        assert_eq!(b.used(), 100);
        b.give("a", 10);
        b.give("a", 30);
        assert_eq!(b.used(), 0);
        assert!(b.fits("b", 60, 10));
    }

    #[test]
    fn huge_estimates_saturate_instead_of_wrapping() {
        let mut b = Budget::new(Some(u64::MAX - 1));
        b.take("a", u64::MAX, u64::MAX);
        assert_eq!(b.used(), u64::MAX);
        assert!(!b.fits("b", 1, 1), "a full budget admits nothing more");
    }
}
