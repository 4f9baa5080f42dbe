//! The evaluated set E and the reward cache.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::counters::Counters;
use super::error::SearchError;
use super::lm::Evaluator;

/// One finished, evaluated sequence: the reward was computed on `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluated {
    /// Generated tokens (the prompt excluded).
    pub tokens: Vec<u32>,
    pub text: String,
    pub reward: f64,
    /// The search iteration that produced it (0-based).
    pub iteration: u64,
}

/// E: every completed sequence in completion order (a sequence produced
/// twice is listed twice), plus a cache so each distinct sequence is
/// evaluated once.
#[derive(Debug, Default)]
pub struct EvaluatedSet {
    entries: Vec<Evaluated>,
    cache: HashMap<Vec<u32>, (String, f64)>,
}

impl EvaluatedSet {
    /// Scores `tokens` (from the cache when seen before), appends the
    /// result to E and returns its index.
    pub fn add(
        &mut self,
        evaluator: &mut dyn Evaluator,
        tokens: Vec<u32>,
        iteration: u64,
        counters: &mut Counters,
    ) -> Result<usize, SearchError> {
        let (text, reward) = match self.cache.get(&tokens) {
            Some(hit) => hit.clone(),
            None => {
                let ev = evaluator.evaluate(&tokens)?;
                counters.reward_calls += 1;
                if !ev.reward.is_finite() {
                    return Err(SearchError::NonFiniteReward { text: ev.text, reward: ev.reward });
                }
                self.cache.insert(tokens.clone(), (ev.text.clone(), ev.reward));
                (ev.text, ev.reward)
            }
        };
        self.entries.push(Evaluated { tokens, text, reward, iteration });
        Ok(self.entries.len() - 1)
    }

    pub fn entries(&self) -> &[Evaluated] {
        &self.entries
    }

    pub fn get(&self, i: usize) -> Option<&Evaluated> {
        self.entries.get(i)
    }

    /// Index of the highest reward; ties go to the earliest.
    pub fn best(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if best.is_none_or(|b| e.reward > self.entries[b].reward) {
                best = Some(i);
            }
        }
        best
    }

    pub fn into_entries(self) -> Vec<Evaluated> {
        self.entries
    }
}
