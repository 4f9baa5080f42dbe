//! `plan.json`: the resolved plan, the spec as loaded, and provenance. The
//! first `runner run` of a commit writes it; later ones add the runs they
//! bring and the model revisions and data digests they resolve, under the
//! plan lock, never dropping what is there.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::layout::{PLAN_JSON, PLAN_LOCK};
use super::lock::{Lock, LockTiming};
use super::provenance::Provenance;
use super::StoreError;
use crate::plan::RunConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub experiment: String,
    /// The spec file as given on the command line.
    pub spec_file: String,
    /// Its text exactly as read, and any `--set` overrides.
    pub spec_text: String,
    #[serde(default)]
    pub overrides: Vec<String>,
    pub runs: Vec<RunConfig>,
    pub provenance: Provenance,
}

impl PlanFile {
    pub fn read(commit_dir: &Path) -> Result<Option<PlanFile>, StoreError> {
        let path = commit_dir.join(PLAN_JSON);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| StoreError::Corrupt {
                path,
                line: e.line(),
                message: format!("not a plan file: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    /// Writes `self` merged with what is on disk: runs already listed stay
    /// (new ones are appended), revisions and digests are added.
    pub fn merge_into(&self, commit_dir: &Path, timing: LockTiming) -> Result<PlanFile, StoreError> {
        let _lock = Lock::acquire_waiting(&commit_dir.join(PLAN_LOCK), "plan.json", timing, super::lock::SHORT_LOCK_WAIT)?;
        let merged = match PlanFile::read(commit_dir)? {
            None => self.clone(),
            Some(mut old) => {
                for run in &self.runs {
                    if !old.runs.iter().any(|r| r.run_id == run.run_id) {
                        old.runs.push(run.clone());
                    }
                }
                old.provenance.model_revisions.extend(self.provenance.model_revisions.clone());
                old.provenance.data_sha256.extend(self.provenance.data_sha256.clone());
                old
            }
        };
        merged.write(commit_dir)?;
        Ok(merged)
    }

    /// Writes `self` as `commit_dir/plan.json` (atomically), replacing any.
    pub fn write(&self, commit_dir: &Path) -> Result<(), StoreError> {
        let path = commit_dir.join(PLAN_JSON);
        let mut text =
            serde_json::to_vec_pretty(self).map_err(|e| StoreError::Corrupt { path: path.clone(), line: 0, message: e.to_string() })?;
        text.push(b'\n');
        super::write_atomic(&path, &text)
    }
}
