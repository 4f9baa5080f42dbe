//! Submissions on disk, under the results directory they write to:
//!
//! ```text
//! <commit_dir>/submissions/<id>/manifest.json  job.json  job.sbatch  logs/<job>_<task>.out
//! ```
//!
//! `job.json` is written once the executor accepted the submission.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ExecuteError, Manifest};

pub const SUBMISSIONS: &str = "submissions";
pub const JOB: &str = "job.json";
pub const LOGS: &str = "logs";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: String,
    pub submitted_at: String,
}

#[derive(Debug, Clone)]
pub struct Submission {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub job: Option<JobRecord>,
}

/// A fresh submission directory name: the UTC time, with a suffix when taken.
pub fn new_id(commit_dir: &Path) -> String {
    let base = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let root = commit_dir.join(SUBMISSIONS);
    let mut id = base.clone();
    let mut n = 1;
    while root.join(&id).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

pub fn dir_of(commit_dir: &Path, id: &str) -> PathBuf {
    commit_dir.join(SUBMISSIONS).join(id)
}

impl Submission {
    /// Creates the submission's directory and writes its manifest.
    pub fn create(manifest: Manifest) -> Result<Submission, ExecuteError> {
        let dir = dir_of(&manifest.commit_dir, &manifest.id);
        let logs = dir.join(LOGS);
        std::fs::create_dir_all(&logs).map_err(|e| ExecuteError::File { path: logs.clone(), message: e.to_string() })?;
        manifest.write(&dir)?;
        Ok(Submission { dir, manifest, job: None })
    }

    pub fn read(dir: &Path) -> Result<Submission, ExecuteError> {
        let manifest = Manifest::read(dir)?;
        let job_path = dir.join(JOB);
        let job = match std::fs::read_to_string(&job_path) {
            Ok(t) => Some(
                serde_json::from_str(&t)
                    .map_err(|e| ExecuteError::File { path: job_path.clone(), message: format!("not a job record: {e}") })?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ExecuteError::File { path: job_path, message: e.to_string() }),
        };
        Ok(Submission { dir: dir.into(), manifest, job })
    }

    pub fn record_job(&mut self, job_id: &str) -> Result<(), ExecuteError> {
        let job = JobRecord { job_id: job_id.to_owned(), submitted_at: crate::store::now_rfc3339() };
        let text = serde_json::to_vec_pretty(&job).map_err(|e| ExecuteError::File { path: self.dir.join(JOB), message: e.to_string() })?;
        crate::store::write_atomic(&self.dir.join(JOB), &text)?;
        self.job = Some(job);
        Ok(())
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join(LOGS)
    }

    /// The log of task `index` (Slurm writes `%A_%a.out`).
    pub fn log_of(&self, index: usize) -> Option<PathBuf> {
        let job = self.job.as_ref()?;
        Some(self.logs().join(format!("{}_{index}.out", job.job_id)))
    }

    /// The task holding run `run_id`, if any.
    pub fn task_of(&self, run_id: &str) -> Option<usize> {
        self.manifest.tasks.iter().find(|t| t.run_ids.iter().any(|r| r == run_id)).map(|t| t.index)
    }
}

/// Every accepted submission under `commit_dir`, oldest first (dry runs
/// and submissions the executor never accepted are left out).
pub fn list(commit_dir: &Path) -> Result<Vec<Submission>, ExecuteError> {
    let root = commit_dir.join(SUBMISSIONS);
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(&root) {
        Ok(rd) => rd.flatten().map(|e| e.path()).filter(|p| p.join(super::manifest::MANIFEST).is_file()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ExecuteError::File { path: root, message: e.to_string() }),
    };
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let s = Submission::read(&d)?;
        if !s.manifest.dry_run && s.job.is_some() {
            out.push(s);
        }
    }
    Ok(out)
}

/// The last `lines` lines of a file (empty when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> Vec<String> {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].iter().map(|s| s.to_string()).collect()
}
