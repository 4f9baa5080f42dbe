//! `run.json`: a run's configuration, status and what it resolved to. It
//! is rewritten whole (atomically) as the run moves on; the samples
//! themselves live in `samples.jsonl`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::engine::prompt_cache::PromptCacheCounters;
use crate::plan::{RunConfig, RuntimeIdentity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Complete,
    Failed,
    /// Stopped by a signal; resumes on the next `runner run`.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFile {
    pub run: RunConfig,
    pub status: RunStatus,
    /// Why the run failed (the last attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Recorded when the run first started; a resume must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<RuntimeIdentity>,
    pub samples_total: usize,
    pub samples_done: usize,
    /// Samples per wave (consecutive sample indices searched at once).
    pub wave: usize,
    /// Times `runner run` started this run.
    pub attempts: u32,
    /// Seconds spent in the run over all attempts (a timing field).
    pub wall_seconds: f64,
    /// Mean rows per engine forward pass while the run was active.
    #[serde(default)]
    pub mean_batch: f64,
    /// The run's prompts looked up in its engine's prompt cache, over all
    /// attempts: lookups, hits and prompt tokens not computed again.
    #[serde(default)]
    pub prompt_cache: PromptCacheCounters,
    /// Samples recomputed on resume whose record differed from the stored
    /// one (the stored record is kept). Empty when computation is
    /// reproducible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub determinism_mismatches: Vec<String>,
    /// RFC 3339 times.
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl RunFile {
    /// The file of `run` completed now, `samples` samples in one attempt
    /// (waves of 16), as fixtures and benchmarks write it; timing fields 0.
    pub fn complete(run: RunConfig, samples: usize) -> RunFile {
        let now = super::now_rfc3339();
        RunFile {
            run,
            status: RunStatus::Complete,
            error: None,
            identity: None,
            samples_total: samples,
            samples_done: samples,
            wave: 16,
            attempts: 1,
            wall_seconds: 0.0,
            mean_batch: 0.0,
            prompt_cache: PromptCacheCounters::default(),
            determinism_mismatches: Vec::new(),
            started_at: now.clone(),
            finished_at: Some(now),
        }
    }

    pub fn read(path: &Path) -> Result<Option<RunFile>, StoreError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { path: path.into(), source: e }),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| StoreError::Corrupt {
            path: path.into(),
            line: e.line(),
            message: format!("not a run file: {e}"),
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|e| StoreError::Corrupt {
            path: path.into(),
            line: 0,
            message: format!("run file has no JSON form: {e}"),
        })?;
        text.push(b'\n');
        super::write_atomic(path, &text)
    }
}
