//! The lock file beside a spec (`x.yaml` -> `x.lock`): what the spec's
//! remote sources resolved to the first time, meant to be committed with
//! the spec, as `Cargo.lock` is. For every fetched dataset the sha256 of
//! each of its files (and the commit of a hub dataset); for every hub model
//! the commit its revision named. Later resolutions, on this machine or
//! another, must find the same bytes and use the same commits.
//!
//! Entries are added, never changed, except by `runner fetch --update`.
//! The file is written whole and renamed into place, so a reader never sees
//! half of it; two processes adding the same entries at once write the same
//! content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::FetchError;

pub const VERSION: u32 = 1;

const HEADER: &str = "# Written by runner (`runner fetch` or the first `runner run`): the sha256 of every\n\
# fetched data file and the commit of every hub model this spec resolved to.\n\
# Commit it beside the spec; `runner fetch --update` re-resolves.\n";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    /// Keyed by the source as the plan prints it.
    #[serde(default)]
    pub data: BTreeMap<String, LockedData>,
    /// Keyed by `org/name@revision`.
    #[serde(default)]
    pub models: BTreeMap<String, LockedModel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedData {
    /// A hub dataset's commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `/`-separated path -> sha256.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedModel {
    pub commit: String,
}

/// `experiments/x.yaml` -> `experiments/x.lock`.
pub fn lock_path(spec: &Path) -> PathBuf {
    spec.with_extension("lock")
}

/// The key of a hub model in [`LockFile::models`].
pub fn model_key(repo: &str, revision: Option<&str>) -> String {
    format!("{repo}@{}", revision.unwrap_or("main"))
}

impl LockFile {
    /// Reads `path`; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<LockFile, FetchError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockFile { version: VERSION, ..LockFile::default() }),
            Err(e) => return Err(FetchError::io(path, e)),
        };
        let lock: LockFile = serde_yaml::from_str(&text).map_err(|e| FetchError::Lock {
            path: path.to_path_buf(),
            why: format!("not a runner lock file: {e} (expected `version: {VERSION}`, `data:` and `models:`)"),
        })?;
        if lock.version != VERSION {
            return Err(FetchError::Lock {
                path: path.to_path_buf(),
                why: format!("version {} is not one this runner reads (it reads {VERSION})", lock.version),
            });
        }
        lock.check().map_err(|why| FetchError::Lock { path: path.to_path_buf(), why })?;
        Ok(lock)
    }

    /// Every commit 40 hex digits, every digest 64, every file a relative
    /// path that stays inside its folder: a lock file comes from a
    /// repository and its names are joined into cache paths.
    fn check(&self) -> Result<(), String> {
        let hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
        for (key, d) in &self.data {
            if let Some(c) = d.commit.as_deref().filter(|c| !hex(c, 40)) {
                return Err(format!("data `{key}`: commit `{}` is not 40 hex digits", c.escape_debug()));
            }
            for (name, digest) in &d.files {
                let inside =
                    !name.is_empty() && std::path::Path::new(name).components().all(|c| matches!(c, std::path::Component::Normal(_)));
                if !inside {
                    return Err(format!("data `{key}`: file `{}` is not a relative path inside the dataset's folder", name.escape_debug()));
                }
                if !hex(digest, 64) {
                    return Err(format!("data `{key}`: file `{name}`: `{}` is not a sha256 (64 hex digits)", digest.escape_debug()));
                }
            }
        }
        for (key, m) in &self.models {
            if !hex(&m.commit, 40) {
                return Err(format!("model `{key}`: commit `{}` is not 40 hex digits", m.commit.escape_debug()));
            }
        }
        Ok(())
    }

    /// Writes the lock whole, then renames it over `path`.
    pub fn write(&self, path: &Path) -> Result<(), FetchError> {
        let body = serde_yaml::to_string(self).map_err(|e| FetchError::io(path, e))?;
        let tmp = path.with_extension(format!("lock.tmp{}", std::process::id()));
        std::fs::write(&tmp, format!("{HEADER}{body}")).map_err(|e| FetchError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| FetchError::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_reads_back_what_was_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.lock");
        assert_eq!(LockFile::read(&path).expect("missing is empty").version, VERSION);
        let mut lock = LockFile { version: VERSION, ..LockFile::default() };
        lock.data.insert(
            "https://h/a.zip".into(),
            LockedData { commit: None, files: BTreeMap::from([("a/b.txt".to_owned(), "00".repeat(32))]) },
        );
        lock.models.insert(model_key("o/m", None), LockedModel { commit: "ab".repeat(20) });
        lock.write(&path).expect("write");
        assert_eq!(LockFile::read(&path).expect("read"), lock);
        std::fs::write(&path, "version: 9\n").expect("write");
        let err = LockFile::read(&path).expect_err("version 9").to_string();
        assert!(err.contains("x.lock") && err.contains("version 9"), "{err}");
    }

    #[test]
    fn a_hostile_lock_is_refused_naming_the_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.lock");
        for (body, needle) in [
            ("version: 1\ndata:\n  u:\n    files: {'../../etc/passwd': 'aa'}\nmodels: {}\n", "../../etc/passwd"),
            ("version: 1\ndata:\n  u:\n    files: {'a.csv': 'zz'}\nmodels: {}\n", "sha256"),
            ("version: 1\ndata:\n  u:\n    commit: ../main\n    files: {}\nmodels: {}\n", "../main"),
            ("version: 1\ndata: {}\nmodels:\n  o/m@main: {commit: 'main/../../x'}\n", "o/m@main"),
        ] {
            std::fs::write(&path, body).expect("write");
            let e = LockFile::read(&path).expect_err(body).to_string();
            assert!(e.contains(needle) && e.contains("x.lock"), "{e}");
        }
    }
}
