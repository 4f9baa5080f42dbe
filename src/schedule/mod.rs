//! Executing a plan: which runs still need work, how many run at once
//! (slots weighted by estimated memory), one shared engine per model,
//! waves of samples, progress, resume, and stopping by signal.

pub mod engines;
pub mod filter;
pub mod memory;
pub mod peer;
pub mod progress;
pub mod run_one;
pub mod signals;
pub mod sweep;

pub use filter::RunFilter;
pub use progress::{Progress, Reporter};
pub use sweep::{execute_sweep, SweepOptions, SweepReport};

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Evaluate(#[from] crate::evaluate::EvaluateError),
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    #[error("{0}")]
    Run(String),
    #[error("--only {filter}: {message}")]
    Filter { filter: String, message: String },
}
