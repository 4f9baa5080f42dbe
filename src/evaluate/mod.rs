//! One sample through the whole path: task prompt -> engine tokens ->
//! search method (on the engine loop) -> task score -> per-sample record.
//! The scheduler runs many of these at once, one engine session each, so
//! that their forward passes share batches.

pub mod engine_lm;
pub mod evaluator;
pub mod prompt;
pub mod record;
pub mod sample;

pub use engine_lm::{EngineLm, RecomputeLm};
pub use evaluator::TaskEvaluator;
pub use prompt::{fit_prompt, llmtime_for, render_prompt, render_with, token_texts, FittedPrompt, RenderedPrompt};
pub use record::{Identity, SampleRecord};
pub use sample::{evaluate_sample, sample_seed, SampleJob};

#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error(transparent)]
    Constraint(#[from] crate::tasks::constrain::ConstraintError),
    #[error("sample {sample}: the search's reward {search} differs from the reward of its text, {rescored}")]
    RewardMismatch { sample: String, search: f64, rescored: f64 },
}
