//! The results store: where results live, the append-only per-sample
//! records, run and plan files, locks, provenance, and parquet tables.
//!
//! `samples.jsonl` is the source of truth: a line is written whole,
//! flushed and fsynced before its sample counts as done, and nothing once
//! written is rewritten. Parquet files are derived from it, written to a
//! temporary name and renamed.

pub mod columns;
pub mod git;
pub mod history;
pub mod jsonl;
pub mod layout;
pub mod lock;
pub mod parquet;
pub mod plan_file;
pub mod provenance;
pub mod row;
pub mod run_file;
pub mod scan;
pub mod summary;

use std::path::PathBuf;

pub use layout::{run_dir, CommitTag, Results};
pub use lock::{Lock, LockInfo};
pub use parquet::{load_run_samples, load_samples, write_samples_parquet};
pub use row::SampleRow;
pub use run_file::{RunFile, RunStatus};
pub use scan::{scan, RunProgress};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {message}", path.display())]
    Corrupt { path: PathBuf, line: usize, message: String },
    #[error("{0}")]
    Git(String),
    #[error("{}: {what}", dir.display())]
    NoResults { dir: PathBuf, what: String },
    #[error("{}: held by {holder}; wait for it to finish, stop it, or remove the lock file if that process is gone", path.display())]
    Locked { path: PathBuf, holder: String },
    /// A held lock stopped being this process's: nothing more is written.
    #[error("{}: this process no longer holds the lock ({why}); it stopped writing", path.display())]
    LockLost { path: PathBuf, why: String },
    #[error("{}: {message}", path.display())]
    Parquet { path: PathBuf, message: String },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }
}

/// Now, as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Writes `bytes` to `path` whole or not at all: a temporary file in the
/// same directory, fsynced, then renamed over `path`.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
    let tmp = tmp_name(path);
    let mut f = std::fs::File::create(&tmp).map_err(StoreError::io(&tmp))?;
    f.write_all(bytes).map_err(StoreError::io(&tmp))?;
    f.sync_all().map_err(StoreError::io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    sync_dir(&dir);
    Ok(())
}

/// `.<name>.tmp-<pid>` next to `path`.
pub(crate) fn tmp_name(path: &std::path::Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Makes a rename in `dir` durable (best effort; not every platform can).
pub(crate) fn sync_dir(dir: &std::path::Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
