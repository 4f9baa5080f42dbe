//! Errors of loading datasets and selecting samples.
use std::path::{Path, PathBuf};

use crate::spec::Split;

/// Everything that can go wrong while reading a dataset or drawing samples
/// from it. Messages name the file, the 1-based line where there is one,
/// and what would have been valid.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line of a file does not follow its format.
    #[error("{}:{line}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, message: String },
    /// A file or directory is wrong as a whole (missing header, column or file).
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The format does not hold the split that was asked for.
    #[error("{}: {format} data has no {} split (valid: {valid})", path.display(), split_name(*split))]
    UnsupportedSplit { path: PathBuf, format: String, split: Split, valid: &'static str },
    /// The selection cannot be made (too many samples asked, unknown group key).
    #[error("sample selection: {0}")]
    Selection(String),
}

impl TaskError {
    pub(crate) fn parse(path: &Path, line: usize, message: impl Into<String>) -> Self {
        TaskError::Parse { path: path.to_path_buf(), line, message: message.into() }
    }

    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        TaskError::Invalid { path: path.to_path_buf(), message: message.into() }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        TaskError::Io { path: path.to_path_buf(), source }
    }

    /// The 1-based line the error points at, where it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            TaskError::Parse { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// The lowercase name of a split, as the spec writes it.
pub fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Validation => "validation",
        Split::Test => "test",
    }
}
