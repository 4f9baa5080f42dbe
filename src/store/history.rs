//! Every results directory of an experiment (one per commit tag), with
//! what its plan says of where it came from and what git says of its
//! commit, oldest commit first.

use std::path::{Path, PathBuf};

use super::git::{CommitInfo, Repo};
use super::layout::{CommitTag, PLAN_JSON};
use super::plan_file::PlanFile;
use super::StoreError;

/// One results directory of an experiment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TagDir {
    pub dir: PathBuf,
    /// Its name (the commit tag, with `-rescore-…` for rescored results).
    pub tag: String,
    /// The commit and tree state its plan records.
    pub commit: CommitTag,
    /// Date and subject of that commit, where the repository has it.
    pub info: Option<CommitInfo>,
    /// For rescored results: the tag their outputs came from.
    pub rescored_from: Option<String>,
    /// Runs the plan lists.
    pub planned: usize,
}

/// The results directories under `experiment_dir` that hold a `plan.json`,
/// ordered by commit date (commits git does not know last), then by name.
pub fn tag_dirs(experiment_dir: &Path, repo: Option<&Repo>) -> Result<Vec<TagDir>, StoreError> {
    let entries = match std::fs::read_dir(experiment_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::NoResults { dir: experiment_dir.to_path_buf(), what: "no results for this experiment yet".into() })
        }
        Err(e) => return Err(StoreError::Io { path: experiment_dir.to_path_buf(), source: e }),
    };
    let mut dirs = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let dir = entry.path();
        let tag = entry.file_name().to_string_lossy().into_owned();
        if tag.starts_with('.') || !dir.join(PLAN_JSON).is_file() {
            continue;
        }
        let Some(plan) = PlanFile::read(&dir)? else { continue };
        let commit = plan.provenance.commit.clone();
        let info = repo.and_then(|r| r.commit_info(&commit.commit));
        dirs.push(TagDir { dir, tag, info, rescored_from: plan.provenance.rescored_from.map(|o| o.tag), commit, planned: plan.runs.len() });
    }
    dirs.sort_by(|a, b| {
        let key = |d: &TagDir| (d.info.is_none(), d.info.as_ref().map(|i| i.timestamp));
        key(a).cmp(&key(b)).then_with(|| a.tag.cmp(&b.tag))
    });
    Ok(dirs)
}
