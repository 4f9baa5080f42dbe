//! When a generated sequence is finished.

use std::fmt;
use std::sync::Arc;

/// A pure test on the generated tokens (the prompt excluded).
pub type StopPredicate = Arc<dyn Fn(&[u32]) -> bool + Send + Sync>;

/// Terminal rule: the last token is a stop token, or the length reached
/// `max_new_tokens`, or the optional predicate holds. The empty generation
/// (the root) is never terminal.
#[derive(Clone)]
pub struct StopRule {
    pub max_new_tokens: usize,
    pub stop_tokens: Vec<u32>,
    pub predicate: Option<StopPredicate>,
}

impl StopRule {
    pub fn is_terminal(&self, generated: &[u32]) -> bool {
        match generated.last() {
            None => false,
            Some(last) => {
                generated.len() >= self.max_new_tokens
                    || self.stop_tokens.contains(last)
                    || self.predicate.as_ref().is_some_and(|p| p(generated))
            }
        }
    }
}

impl fmt::Debug for StopRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopRule")
            .field("max_new_tokens", &self.max_new_tokens)
            .field("stop_tokens", &self.stop_tokens)
            .field("predicate", &self.predicate.as_ref().map(|_| "<fn>"))
            .finish()
    }
}
