//! The task manifest of one submission: everything a `runner worker` needs
//! to execute its task without planning anew.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ExecuteError;

pub const MANIFEST: &str = "manifest.json";
pub const FORMAT: u32 = 1;

/// One array task: runs of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub index: usize,
    pub model: String,
    pub run_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The submission's directory name.
    pub id: String,
    pub executor: String,
    pub experiment: String,
    /// The experiment file (absolute) and its `--set` overrides.
    pub spec: PathBuf,
    pub sets: Vec<String>,
    /// `--results-dir` as given (absolute), if any.
    pub results_dir: Option<PathBuf>,
    /// Where the runs' results go, and the results tag it stands for.
    pub commit_dir: PathBuf,
    pub tag: String,
    pub allow_dirty: bool,
    pub wave: usize,
    pub dry_run: bool,
    pub created_at: String,
    pub tasks: Vec<TaskSpec>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, ExecuteError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| ExecuteError::File { path: path.clone(), message: e.to_string() })?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| ExecuteError::File { path: path.clone(), message: format!("not a task manifest: {e}") })?;
        if m.format != FORMAT {
            return Err(ExecuteError::File { path, message: format!("manifest format {} (this runner reads {FORMAT})", m.format) });
        }
        Ok(m)
    }

    pub fn write(&self, dir: &Path) -> Result<(), ExecuteError> {
        let text = serde_json::to_vec_pretty(self).map_err(|e| ExecuteError::File { path: dir.join(MANIFEST), message: e.to_string() })?;
        crate::store::write_atomic(&dir.join(MANIFEST), &text)?;
        Ok(())
    }

    pub fn task(&self, index: usize) -> Result<&TaskSpec, ExecuteError> {
        self.tasks.get(index).ok_or_else(|| ExecuteError::Option {
            key: "--task".into(),
            message: format!("task {index} is not in submission {} (it has tasks 0..{})", self.id, self.tasks.len()),
        })
    }

    pub fn run_count(&self) -> usize {
        self.tasks.iter().map(|t| t.run_ids.len()).sum()
    }
}
