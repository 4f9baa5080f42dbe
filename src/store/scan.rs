//! Where every run of a plan stands, read from the results directory
//! without touching the samples of complete runs.

use std::path::Path;

use super::layout::{run_dir, RUN_JSON, SAMPLES_JSONL, SAMPLES_PARQUET};
use super::run_file::{RunFile, RunStatus};
use super::StoreError;
use crate::plan::RunConfig;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunProgress {
    Pending,
    /// `done` of `total` samples recorded.
    Partial {
        done: usize,
        total: usize,
    },
    Complete {
        samples: usize,
    },
    Failed {
        error: String,
        done: usize,
        total: usize,
    },
}

impl RunProgress {
    pub fn is_complete(&self) -> bool {
        matches!(self, RunProgress::Complete { .. })
    }

    pub fn label(&self) -> String {
        match self {
            RunProgress::Pending => "pending".into(),
            RunProgress::Partial { done, total } => format!("partial ({done} of {total})"),
            RunProgress::Complete { samples } => format!("complete ({samples})"),
            RunProgress::Failed { error, done, total } => format!("failed ({done} of {total}): {error}"),
        }
    }
}

/// Counts the whole lines of a records file.
fn recorded(path: &Path) -> Result<usize, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes.iter().filter(|&&b| b == b'\n').count()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::Io { path: path.into(), source: e }),
    }
}

/// The progress of one run. Complete means `run.json` says so and its
/// `samples.parquet` exists.
pub fn progress(commit_dir: &Path, run: &RunConfig) -> Result<RunProgress, StoreError> {
    let dir = run_dir(commit_dir, &run.run_id.0);
    let Some(file) = RunFile::read(&dir.join(RUN_JSON))? else {
        return Ok(RunProgress::Pending);
    };
    if file.status == RunStatus::Complete && dir.join(SAMPLES_PARQUET).is_file() {
        return Ok(RunProgress::Complete { samples: file.samples_done });
    }
    let done = recorded(&dir.join(SAMPLES_JSONL))?;
    let total = file.samples_total;
    Ok(match (file.status, file.error) {
        (RunStatus::Failed, Some(error)) => RunProgress::Failed { error, done, total },
        _ if done == 0 => RunProgress::Pending,
        _ => RunProgress::Partial { done, total },
    })
}

/// The progress of every run of the plan, in plan order.
pub fn scan(commit_dir: &Path, runs: &[RunConfig]) -> Result<Vec<RunProgress>, StoreError> {
    runs.iter().map(|r| progress(commit_dir, r)).collect()
}
