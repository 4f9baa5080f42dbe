//! Executing a plan: which runs still need work, how many run at once
//! (slots weighted by estimated memory), one shared engine per model,
//! waves of samples, progress, resume, and stopping by signal; and what
//! a plan will cost before it runs ([`estimate`]).

pub mod engines;
pub mod estimate;
pub mod experiment;
pub mod filter;
pub mod memory;
pub mod peer;
pub mod progress;
pub mod run_one;
pub mod signals;
pub mod sources;
pub mod sweep;

pub use estimate::{estimate, Estimate, EstimateError, EstimateOptions};
pub use filter::RunFilter;
pub use progress::{Progress, Reporter};
pub use sources::Sources;
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
    #[error(transparent)]
    Fetch(#[from] crate::assets::FetchError),
    #[error("{0}")]
    Run(String),
    #[error("--only {filter}: {message}")]
    Filter { filter: String, message: String },
}
