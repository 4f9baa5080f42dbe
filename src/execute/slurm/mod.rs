//! Slurm: a submission is one job array (`--requeue` unless disabled),
//! task `i` running `runner worker` for task `i` of the manifest; its state
//! comes from `squeue` (and `sacct` where accounting is configured); a
//! cancel is `scancel` of the array. With a time limit and requeue on, a
//! task requeues itself shortly before the limit (see [`script`]).

mod options;
pub mod queue;
pub mod script;

use std::collections::BTreeMap;

pub use options::{SlurmOptions, DEFAULT_GROUP_SIZE};

use super::{ExecuteError, Executor, Submission, TaskKey, TaskState};

pub const SCRIPT: &str = "job.sbatch";
pub const TABLES_SCRIPT: &str = "tables.sbatch";

pub struct SlurmExecutor {
    options: SlurmOptions,
    /// Also submit the table job (`--dependency=afterok`).
    pub tables: bool,
}

impl SlurmExecutor {
    pub fn new(options: SlurmOptions) -> SlurmExecutor {
        SlurmExecutor { options, tables: false }
    }

    fn runner_exe() -> Result<std::path::PathBuf, ExecuteError> {
        std::env::current_exe()
            .map_err(|e| ExecuteError::Command { command: "runner".into(), message: format!("cannot find its own executable: {e}") })
    }

    fn write(path: &std::path::Path, text: &str) -> Result<(), ExecuteError> {
        crate::store::write_atomic(path, text.as_bytes())?;
        Ok(())
    }
}

fn job_ids(submissions: &[Submission]) -> Vec<String> {
    submissions.iter().filter_map(|s| s.job.as_ref().map(|j| j.job_id.clone())).collect()
}

impl Executor for SlurmExecutor {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn submit(&self, submission: &Submission, dry_run: bool) -> Result<Option<String>, ExecuteError> {
        let exe = Self::runner_exe()?;
        let text = script::render(&submission.manifest, &self.options, &exe, &submission.dir)?;
        let path = submission.dir.join(SCRIPT);
        Self::write(&path, &text)?;
        let tables = self.tables.then(|| script::render_tables(&submission.manifest, &exe, &submission.dir, &self.options)).transpose()?;
        if let Some(t) = &tables {
            Self::write(&submission.dir.join(TABLES_SCRIPT), t)?;
        }
        if dry_run {
            print!("{text}");
            if let Some(t) = tables {
                print!("\n# then, with --dependency=afterok:<job>:\n{t}");
            }
            return Ok(None);
        }
        let job = queue::sbatch(&path, &[])?;
        if tables.is_some() {
            queue::sbatch(&submission.dir.join(TABLES_SCRIPT), &[format!("--dependency=afterok:{job}")])?;
        }
        Ok(Some(job))
    }

    fn task_states(&self, submissions: &[Submission]) -> Result<BTreeMap<TaskKey, TaskState>, ExecuteError> {
        let jobs = job_ids(submissions);
        let mut states = queue::sacct(&jobs).unwrap_or_default();
        // squeue is current; accounting fills in what the controller forgot.
        states.extend(queue::squeue(&jobs)?);
        Ok(states)
    }

    fn cancel(&self, submissions: &[Submission]) -> Result<Vec<String>, ExecuteError> {
        let jobs = job_ids(submissions);
        queue::scancel(&jobs)?;
        Ok(jobs)
    }
}
