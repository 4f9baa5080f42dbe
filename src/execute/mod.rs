//! Executors: where the array tasks of a submitted sweep run. A
//! submission groups the sweep's pending runs into tasks (`group`), records
//! them in a manifest (`manifest`, `submissions`), and hands them to an
//! executor: `local` runs each task as a `runner worker` process here,
//! `slurm` submits one job array. Every task runs `runner worker`, which
//! executes its runs through the same store, locks and resume logic as
//! `runner run`. Another engine (Kubernetes indexed jobs, say) is one more
//! implementation of `Executor`.

pub mod group;
pub mod local;
pub mod manifest;
pub mod slurm;
pub mod status;
pub mod submissions;
pub mod submit;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use group::group_runs;
pub use manifest::{Manifest, TaskSpec};
pub use submissions::Submission;

#[derive(Debug, thiserror::Error)]
pub enum ExecuteError {
    /// An option with a value the executor cannot use.
    #[error("{key}: {message}")]
    Option { key: String, message: String },
    /// An external command failed or could not be started.
    #[error("`{command}` {message}")]
    Command { command: String, message: String },
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What an executor knows of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// The scheduler's state word (`PENDING`, `RUNNING`, `COMPLETED`, ...).
    pub state: String,
    /// Where it runs, when it runs.
    pub node: Option<String>,
    /// Why it waits, when it waits.
    pub reason: Option<String>,
}

impl TaskState {
    pub fn is_active(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUED"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESIZING"
                | "SUSPENDED"
                | "STOPPED"
        )
    }
}

/// Where a task's state lives: (job id, task index).
pub type TaskKey = (String, usize);

pub trait Executor {
    fn name(&self) -> &'static str;

    /// Submits the tasks of `submission`, whose manifest is written; returns
    /// the job id. A dry run renders what would be submitted and returns
    /// `None`.
    fn submit(&self, submission: &Submission, dry_run: bool) -> Result<Option<String>, ExecuteError>;

    /// The state of every task of `submissions` the executor still knows.
    fn task_states(&self, submissions: &[Submission]) -> Result<BTreeMap<TaskKey, TaskState>, ExecuteError>;

    /// Cancels every task of `submissions`; returns the job ids cancelled.
    fn cancel(&self, submissions: &[Submission]) -> Result<Vec<String>, ExecuteError>;
}

/// The executor named `name` (`local` or `slurm`).
pub fn executor(name: &str, slurm: slurm::SlurmOptions) -> Result<Box<dyn Executor>, ExecuteError> {
    match name {
        "local" => Ok(Box::new(local::LocalExecutor)),
        "slurm" => Ok(Box::new(slurm::SlurmExecutor::new(slurm))),
        other => {
            Err(ExecuteError::Option { key: "--executor".into(), message: format!("unknown executor `{other}` (valid: local, slurm)") })
        }
    }
}
