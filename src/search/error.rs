//! The one error type of the search module.

use thiserror::Error;

/// Everything that can stop a search.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SearchError {
    /// The configuration cannot describe a run of the chosen method.
    #[error("bad search config: {0}")]
    Config(String),
    /// The language model (or its adapter) failed; the message is the model's own.
    #[error("language model error: {0}")]
    Model(String),
    /// The language model answered with something the search cannot use.
    #[error("bad model output: {0}")]
    ModelOutput(String),
    /// The evaluator failed; the message is the evaluator's own.
    #[error("evaluator error: {0}")]
    Evaluator(String),
    /// A reward was NaN or infinite.
    #[error("reward for {text:?} is not finite ({reward})")]
    NonFiniteReward { text: String, reward: f64 },
    /// The prompt was empty: there is nothing to prefill.
    #[error("the prompt has no tokens")]
    EmptyPrompt,
    /// A token-matched run was started without its token budget.
    #[error("token-matched best-of-N needs the token budget of `{0}`")]
    MissingTokenBudget(String),
    /// The tree outgrew its u32 ids.
    #[error("the search tree is full")]
    TreeFull,
    /// A broken internal assumption; reported instead of panicking.
    #[error("internal search error: {0}")]
    Internal(String),
}

pub(crate) fn config_err(msg: impl Into<String>) -> SearchError {
    SearchError::Config(msg.into())
}
