//! Reading a dataset's files while hashing them, so that the data a run
//! used is part of its identity.
//!
//! A dataset given as one file hashes to the sha256 of that file's bytes.
//! A dataset given as a directory hashes to the sha256 of the lines
//! `<relative path>\t<sha256 of the file>\n` of every file the loader read,
//! sorted by path (paths use `/` on every platform).
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::TaskError;

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The files a loader read under one root, with their hashes.
#[derive(Debug)]
pub(crate) struct SourceFiles {
    root: PathBuf,
    is_dir: bool,
    read: Vec<(String, String)>,
}

impl SourceFiles {
    /// Files under `root`, a file or a directory.
    pub(crate) fn new(root: &Path) -> Result<Self, TaskError> {
        let meta = std::fs::metadata(root).map_err(|e| TaskError::io(root, e))?;
        Ok(SourceFiles { root: root.to_path_buf(), is_dir: meta.is_dir(), read: Vec::new() })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.is_dir
    }

    /// Reads `path` (the root itself or a file under it) and records its hash.
    pub(crate) fn read_bytes(&mut self, path: &Path) -> Result<Vec<u8>, TaskError> {
        let bytes = std::fs::read(path).map_err(|e| TaskError::io(path, e))?;
        let rel = match path.strip_prefix(&self.root) {
            Ok(r) if !r.as_os_str().is_empty() => {
                r.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
            }
            _ => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        self.read.push((rel, sha256_hex(&bytes)));
        Ok(bytes)
    }

    /// Reads `path` as UTF-8 text and records its hash.
    pub(crate) fn read_text(&mut self, path: &Path) -> Result<String, TaskError> {
        let bytes = self.read_bytes(path)?;
        String::from_utf8(bytes).map_err(|e| {
            let upto = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..upto].iter().filter(|&&b| b == b'\n').count() + 1;
            TaskError::parse(path, line, "the file is not valid UTF-8 text")
        })
    }

    /// The dataset's sha256 (see the module docs).
    pub(crate) fn sha256(&self) -> String {
        if !self.is_dir && self.read.len() == 1 {
            return self.read[0].1.clone();
        }
        let mut entries = self.read.clone();
        entries.sort();
        entries.dedup();
        let mut listing = String::new();
        for (rel, hash) in &entries {
            listing.push_str(rel);
            listing.push('\t');
            listing.push_str(hash);
            listing.push('\n');
        }
        sha256_hex(listing.as_bytes())
    }

    /// Relative paths of the files read, sorted.
    pub(crate) fn files(&self) -> Vec<String> {
        let mut files: Vec<String> = self.read.iter().map(|(r, _)| r.clone()).collect();
        files.sort();
        files.dedup();
        files
    }
}

/// The 1-based line holding byte `offset` of `text`.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}
