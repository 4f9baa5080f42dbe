//! A toy language model and evaluator for exact tests and benchmarks.
//!
//! The model keeps the token content of every sequence it hands out and
//! computes each answer from that content alone, so a search that feeds
//! the wrong tokens, trims wrongly or forgets a fork gets wrong numbers or
//! an error. Every inconsistency is also recorded in `violations`.

use std::collections::{BTreeMap, HashMap};

use super::error::SearchError;
use super::lm::{Evaluation, Evaluator, LanguageModel, SeqHandle};
use crate::sampling::log_softmax;

/// Logits for a generated prefix (prompt excluded); `None` where the model
/// must never be asked (past a terminal).
pub type LogitsFn = Box<dyn Fn(&[u32]) -> Option<Vec<f32>>>;

/// The toy model.
pub struct ToyModel {
    prompt: Vec<u32>,
    logits: LogitsFn,
    seqs: BTreeMap<u64, Vec<u32>>,
    next: u64,
    /// Forward calls, rows and fed tokens, as the model saw them.
    pub calls: u64,
    pub rows: u64,
    pub tokens: u64,
    /// Most sequences alive at once.
    pub max_live: usize,
    /// Every misuse seen (unknown handle, bad trim, wrong content...).
    pub violations: Vec<String>,
}

impl ToyModel {
    pub fn new(prompt: Vec<u32>, logits: LogitsFn) -> ToyModel {
        ToyModel { prompt, logits, seqs: BTreeMap::new(), next: 1, calls: 0, rows: 0, tokens: 0, max_live: 0, violations: Vec::new() }
    }

    /// Logits from a table keyed by generated prefix.
    pub fn from_table(prompt: Vec<u32>, table: Vec<(Vec<u32>, Vec<f32>)>) -> ToyModel {
        let map: HashMap<Vec<u32>, Vec<f32>> = table.into_iter().collect();
        ToyModel::new(prompt, Box::new(move |p| map.get(p).cloned()))
    }

    /// The log-probabilities the model returns after `generated`.
    pub fn log_probs(&self, generated: &[u32]) -> Option<Vec<f32>> {
        (self.logits)(generated).map(|z| log_softmax(&z).into_iter().map(|x| x as f32).collect())
    }

    /// Sequences alive now.
    pub fn live(&self) -> usize {
        self.seqs.len()
    }

    fn fail(&mut self, msg: String) -> SearchError {
        self.violations.push(msg.clone());
        SearchError::Model(msg)
    }
}

impl LanguageModel for ToyModel {
    fn new_seq(&mut self, parent: Option<SeqHandle>) -> Result<SeqHandle, SearchError> {
        let content = match parent {
            None => Vec::new(),
            Some(p) => match self.seqs.get(&p.0) {
                Some(c) => c.clone(),
                None => return Err(self.fail(format!("fork of unknown sequence {}", p.0))),
            },
        };
        let id = self.next;
        self.next += 1;
        self.seqs.insert(id, content);
        self.max_live = self.max_live.max(self.seqs.len());
        Ok(SeqHandle(id))
    }

    fn forward(&mut self, rows: Vec<(SeqHandle, Vec<u32>)>) -> Result<Vec<Vec<f32>>, SearchError> {
        self.calls += 1;
        self.rows += rows.len() as u64;
        let mut seen = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for (h, toks) in rows {
            if seen.contains(&h.0) {
                return Err(self.fail(format!("sequence {} twice in one call", h.0)));
            }
            seen.push(h.0);
            if toks.is_empty() {
                return Err(self.fail("empty row".into()));
            }
            self.tokens += toks.len() as u64;
            let Some(content) = self.seqs.get_mut(&h.0) else {
                return Err(self.fail(format!("forward on unknown sequence {}", h.0)));
            };
            content.extend_from_slice(&toks);
            let content = content.clone();
            if !content.starts_with(&self.prompt) {
                return Err(self.fail(format!("sequence {} does not start with the prompt: {content:?}", h.0)));
            }
            match self.log_probs(&content[self.prompt.len()..]) {
                Some(lp) => out.push(lp),
                None => return Err(self.fail(format!("no logits after {:?} (fed past a terminal?)", &content[self.prompt.len()..]))),
            }
        }
        Ok(out)
    }

    fn trim(&mut self, seq: SeqHandle, len: usize) -> Result<(), SearchError> {
        match self.seqs.get_mut(&seq.0) {
            Some(c) if len <= c.len() => {
                c.truncate(len);
                Ok(())
            }
            Some(c) => {
                let have = c.len();
                Err(self.fail(format!("trim of sequence {} to {len} > {have}", seq.0)))
            }
            None => Err(self.fail(format!("trim of unknown sequence {}", seq.0))),
        }
    }

    fn release(&mut self, seq: SeqHandle) {
        if self.seqs.remove(&seq.0).is_none() {
            self.violations.push(format!("release of unknown sequence {}", seq.0));
        }
    }
}

/// Reward of a decoded text.
pub type RewardFn = Box<dyn Fn(&str) -> Option<f64>>;

/// Decodes with a per-token string table and scores with a function.
pub struct ToyEvaluator {
    names: Vec<String>,
    reward: RewardFn,
    /// Evaluations performed.
    pub calls: u64,
}

impl ToyEvaluator {
    pub fn new(names: Vec<String>, reward: RewardFn) -> ToyEvaluator {
        ToyEvaluator { names, reward, calls: 0 }
    }

    /// Rewards from a table keyed by text.
    pub fn from_table(names: Vec<String>, table: Vec<(String, f64)>) -> ToyEvaluator {
        let map: HashMap<String, f64> = table.into_iter().collect();
        ToyEvaluator::new(names, Box::new(move |t| map.get(t).copied()))
    }

    pub fn decode(&self, generated: &[u32]) -> String {
        generated.iter().map(|&t| self.names.get(t as usize).map_or("?", |s| s.as_str())).collect()
    }
}

impl Evaluator for ToyEvaluator {
    fn evaluate(&mut self, generated: &[u32]) -> Result<Evaluation, SearchError> {
        self.calls += 1;
        let text = self.decode(generated);
        let reward = (self.reward)(&text).ok_or_else(|| SearchError::Evaluator(format!("no reward for {text:?}")))?;
        Ok(Evaluation { text, reward })
    }
}
