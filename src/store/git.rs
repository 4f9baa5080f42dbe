//! The git facts a results directory is named by: the repository that holds
//! the spec, its HEAD commit, and whether (and how) the tree differs from it.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::StoreError;

/// Characters of the commit sha used in directory names.
pub const SHORT_SHA: usize = 12;

/// A git working tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub root: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, StoreError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| StoreError::Git(format!("cannot run git in {}: {e}", dir.display())))?;
    if !out.status.success() {
        return Err(StoreError::Git(format!(
            "git {} in {} failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).trim().to_owned()
}

impl Repo {
    /// The repository whose working tree holds `dir`, if any (no git, or
    /// not inside a repository: `None`).
    pub fn containing(dir: &Path) -> Option<Repo> {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let root = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
        Some(Repo { root: PathBuf::from(text(root)) })
    }

    /// The full sha of `rev` (`HEAD`, a branch, a tag, a sha prefix).
    pub fn resolve(&self, rev: &str) -> Result<String, StoreError> {
        let spec = format!("{rev}^{{commit}}");
        git(&self.root, &["rev-parse", "--verify", "--quiet", &spec])
            .map(text)
            .map_err(|_| StoreError::Git(format!("`{rev}` names no commit of the repository at {}", self.root.display())))
    }

    /// `None` for a clean tree; otherwise 8 hex digits of the SHA-256 of the
    /// difference to HEAD (tracked changes as a binary diff, then every
    /// untracked, not ignored file's path and contents).
    pub fn dirty_hash(&self) -> Result<Option<String>, StoreError> {
        let status = git(&self.root, &["status", "--porcelain", "--untracked-files=all"])?;
        if status.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let mut h = Sha256::new();
        h.update(git(&self.root, &["diff", "HEAD", "--binary"])?);
        let untracked = text(git(&self.root, &["ls-files", "--others", "--exclude-standard", "-z"])?);
        for path in untracked.split('\0').filter(|p| !p.is_empty()) {
            h.update(path.as_bytes());
            h.update([0]);
            if let Ok(bytes) = std::fs::read(self.root.join(path)) {
                h.update(&bytes);
            }
        }
        Ok(Some(crate::assets::hex(&h.finalize()[..4])))
    }
}

/// When a commit was made and its subject line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    /// Committer date, ISO 8601 (`2026-12-05T21:04:11+00:00`).
    pub date: String,
    /// The same date in seconds since the epoch (for ordering).
    #[serde(skip)]
    pub timestamp: i64,
    pub subject: String,
}

impl Repo {
    /// The date and subject of commit `sha`; `None` when this repository
    /// does not have it (results copied from another clone).
    pub fn commit_info(&self, sha: &str) -> Option<CommitInfo> {
        let out = git(&self.root, &["log", "-1", "--format=%cI%n%ct%n%s", &format!("{sha}^{{commit}}"), "--"]).ok()?;
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        let date = lines.next()?.trim().to_owned();
        let timestamp = lines.next()?.trim().parse().ok()?;
        let subject = lines.next().unwrap_or_default().trim().to_owned();
        (!date.is_empty()).then_some(CommitInfo { date, timestamp, subject })
    }
}
