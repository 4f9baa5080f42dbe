//! Where results live:
//!
//! ```text
//! <results>/<experiment>/<commit>[-dirty-<hash8>]/
//!     plan.json  summary.parquet  .plan.lock
//!     runs/<run_id>/run.json  samples.jsonl  samples.parquet  .lock
//! ```
//! `<results>` is `results/` at the root of the git repository that holds
//! the spec (or the directory given); `<commit>` is the first 12 hex digits
//! of HEAD, or `nogit` outside git.

use std::fmt;
use std::path::{Path, PathBuf};

use super::git::{Repo, SHORT_SHA};
use super::StoreError;

pub const PLAN_JSON: &str = "plan.json";
pub const SUMMARY_PARQUET: &str = "summary.parquet";
pub const PLAN_LOCK: &str = ".plan.lock";
pub const RUNS: &str = "runs";
pub const RUN_JSON: &str = "run.json";
pub const SAMPLES_JSONL: &str = "samples.jsonl";
pub const SAMPLES_PARQUET: &str = "samples.parquet";
pub const RUN_LOCK: &str = ".lock";
/// Tag of results made outside any git repository.
pub const NOGIT: &str = "nogit";

/// The commit (and working-tree state) results were made at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitTag {
    /// Full sha, or `nogit`.
    pub commit: String,
    /// Hash of the difference to the commit, when the tree was dirty.
    pub dirty: Option<String>,
}

impl fmt::Display for CommitTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.commit[..self.commit.len().min(SHORT_SHA)])?;
        if let Some(h) = &self.dirty {
            write!(f, "-dirty-{h}")?;
        }
        Ok(())
    }
}

/// The results root of an experiment file, and the repository holding it.
#[derive(Debug, Clone)]
pub struct Results {
    pub root: PathBuf,
    pub repo: Option<Repo>,
}

impl Results {
    /// `explicit` if given, else `results/` at the root of the repository
    /// holding `spec_file`, else `results/` next to the spec.
    pub fn locate(spec_file: &Path, explicit: Option<&Path>) -> Results {
        let spec_dir = spec_file.parent().map(Path::to_path_buf).unwrap_or_default();
        let repo = Repo::containing(&spec_dir);
        let root = match (explicit, &repo) {
            (Some(dir), _) => dir.to_path_buf(),
            (None, Some(r)) => r.root.join("results"),
            (None, None) => spec_dir.join("results"),
        };
        Results { root, repo }
    }

    /// The tag of the working tree now.
    pub fn current_tag(&self) -> Result<CommitTag, StoreError> {
        match &self.repo {
            None => Ok(CommitTag { commit: NOGIT.into(), dirty: None }),
            Some(r) => Ok(CommitTag { commit: r.resolve("HEAD")?, dirty: r.dirty_hash()? }),
        }
    }

    pub fn experiment_dir(&self, experiment: &str) -> PathBuf {
        self.root.join(experiment)
    }

    pub fn commit_dir(&self, experiment: &str, tag: &CommitTag) -> PathBuf {
        self.experiment_dir(experiment).join(tag.to_string())
    }

    /// The results directory `rev` names: an existing directory path, a
    /// directory name under the experiment, or a git revision (its clean
    /// directory, else its only dirty one).
    pub fn find(&self, experiment: &str, rev: &str) -> Result<PathBuf, StoreError> {
        let as_path = Path::new(rev);
        if as_path.join(PLAN_JSON).is_file() || as_path.join(RUNS).is_dir() {
            return Ok(as_path.to_path_buf());
        }
        let exp = self.experiment_dir(experiment);
        if !rev.is_empty() && exp.join(rev).is_dir() {
            return Ok(exp.join(rev));
        }
        let sha = match &self.repo {
            Some(r) => r.resolve(rev)?,
            None if rev == NOGIT || rev == "HEAD" => NOGIT.to_owned(),
            None => {
                return Err(StoreError::NoResults {
                    dir: exp,
                    what: format!("`{rev}` is not a results directory and there is no git repository"),
                })
            }
        };
        let short = &sha[..sha.len().min(SHORT_SHA)];
        if exp.join(short).is_dir() {
            return Ok(exp.join(short));
        }
        let prefix = format!("{short}-dirty-");
        let mut dirty: Vec<PathBuf> =
            std::fs::read_dir(&exp).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
        // Rescored results (`…-rescore-…`) are named as directories only.
        dirty.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && !n.contains("-rescore-")));
        dirty.sort();
        match dirty.len() {
            1 => Ok(dirty.remove(0)),
            0 => Err(StoreError::NoResults { dir: exp, what: format!("no results for commit {short} (`{rev}`)") }),
            _ => Err(StoreError::NoResults {
                dir: exp,
                what: format!(
                    "commit {short} has {} dirty result directories ({}); name one",
                    dirty.len(),
                    dirty.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect::<Vec<_>>().join(", ")
                ),
            }),
        }
    }
}

pub fn run_dir(commit_dir: &Path, run_id: &str) -> PathBuf {
    commit_dir.join(RUNS).join(run_id)
}
