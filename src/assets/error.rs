//! What can go wrong while fetching, unpacking, verifying and locking data
//! and models.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: {why}")]
    Http { url: String, why: String },
    /// The server answered with a status that retrying cannot change.
    #[error("{url}: HTTP {code} {reason}")]
    Status { url: String, code: u16, reason: String },
    #[error("{path}: {why}")]
    Io { path: PathBuf, why: String },
    #[error("{archive}: {why}")]
    Archive { archive: PathBuf, why: String },
    /// A file whose bytes are not the ones the lock file pins.
    #[error(
        "{file} does not match the lock file {lock}: locked sha256 {locked}, found {found}. \
         If the source changed on purpose, run `runner fetch --update` and commit the new lock; \
         otherwise delete {cache} and fetch again"
    )]
    Mismatch { file: PathBuf, lock: PathBuf, locked: String, found: String, cache: PathBuf },
    /// The set of files differs from the one the lock pins.
    #[error("{source_name}: {why} (lock file {lock})")]
    Files { source_name: String, lock: PathBuf, why: String },
    #[error("{source_name} is not in the cache {cache} and the network is off ({why}); run `runner fetch` on a machine that reaches it")]
    Offline { source_name: String, cache: PathBuf, why: String },
    #[error("{path}: {why}")]
    Lock { path: PathBuf, why: String },
    #[error("{source_name}: {why}")]
    Hub { source_name: String, why: String },
}

impl FetchError {
    /// 2 when the input is at fault (the lock file, or bytes that differ
    /// from it), 1 for failures of the network or the machine.
    pub fn exit_code(&self) -> u8 {
        match self {
            FetchError::Mismatch { .. } | FetchError::Files { .. } | FetchError::Lock { .. } => 2,
            _ => 1,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> FetchError {
        FetchError::Io { path: path.into(), why: e.to_string() }
    }
}
