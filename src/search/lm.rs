//! What a search needs from a language model and from a reward function.
//!
//! [`LanguageModel`] mirrors the engine's session API one to one, so the
//! MLX adapter is a thin wrapper and the toy model in [`super::toy`] can
//! check every call.

use serde::{Deserialize, Serialize};

use super::error::SearchError;

/// An engine sequence (a KV cache) owned by one search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeqHandle(pub u64);

/// A causal language model seen through its KV-cache sessions.
pub trait LanguageModel {
    /// A new sequence; with a parent, it starts as a cheap shared copy of
    /// the parent's cache.
    fn new_seq(&mut self, parent: Option<SeqHandle>) -> Result<SeqHandle, SearchError>;
    /// Appends each row's tokens (one or more) to its sequence and returns
    /// the full-vocabulary log-probabilities after the last token of each
    /// row, in row order. One call is one batched forward pass.
    fn forward(&mut self, rows: Vec<(SeqHandle, Vec<u32>)>) -> Result<Vec<Vec<f32>>, SearchError>;
    /// Cuts the sequence back to its first `len` positions.
    fn trim(&mut self, seq: SeqHandle, len: usize) -> Result<(), SearchError>;
    /// Frees the sequence; the handle is not used again.
    fn release(&mut self, seq: SeqHandle);
}

/// The decoded text of a finished sequence and its reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub text: String,
    pub reward: f64,
}

/// Decodes a finished generation and scores it. Must be deterministic:
/// the search calls it once per distinct token sequence.
pub trait Evaluator {
    fn evaluate(&mut self, generated: &[u32]) -> Result<Evaluation, SearchError>;
}
