//! Where a sweep's models and data are on this machine: local paths
//! relative to the spec, files in the asset cache, and remote sources
//! (URL and hub datasets, hub models) resolved through the lock file
//! beside the spec. Resolving fetches what the cache lacks, verifies every
//! fetched file against the lock, and adds to the lock what it did not pin
//! yet; runs then read only what was verified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::assets::lockfile::{self, LockFile, LockedModel};
use crate::assets::remote::FetchMode;
use crate::assets::{FetchError, Fetched};
use crate::engine::locator::ModelLocator;
use crate::plan::{DataSource, ModelSource, RunConfig};

/// The resolved sources of a sweep.
#[derive(Debug, Clone)]
pub struct Sources {
    spec_dir: PathBuf,
    /// Remote data source key -> verified folder.
    data: HashMap<String, PathBuf>,
    /// Hub model lock key -> commit.
    models: HashMap<String, String>,
}

/// What resolving did, for the user.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Resolution {
    pub lock: PathBuf,
    /// Whether the lock file was written.
    pub lock_written: bool,
    pub data: Vec<ResolvedData>,
    pub models: Vec<ResolvedModel>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ResolvedData {
    pub source: String,
    pub dir: PathBuf,
    pub files: usize,
    pub commit: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ResolvedModel {
    pub source: String,
    pub commit: String,
}

impl Sources {
    /// Sources without remote data (paths and assets only); remote datasets
    /// are unresolved and report that they need `runner fetch`.
    pub fn local(spec_dir: &Path) -> Sources {
        Sources { spec_dir: spec_dir.to_path_buf(), data: HashMap::new(), models: HashMap::new() }
    }

    /// Resolves the remote sources of `runs` for the spec at `spec`: data
    /// is fetched (unless `mode.offline`) and verified; hub models are
    /// pinned to the lock's commit, and resolved through the hub (which
    /// downloads them) when the lock has none or when `fetch_models`.
    pub fn resolve(runs: &[RunConfig], spec: &Path, mode: FetchMode, fetch_models: bool) -> Result<(Sources, Resolution), FetchError> {
        let lock_path = lockfile::lock_path(spec);
        let lock = LockFile::read(&lock_path)?;
        let mut next = lock.clone();
        let mut sources = Sources::local(&spec_dir(spec));
        let mut report = Resolution { lock: lock_path.clone(), ..Resolution::default() };
        sources.add_data(runs, &lock, &lock_path, mode, &mut next, &mut report)?;
        for run in runs {
            let ModelSource::Hf { repo, revision } = &run.model.source else { continue };
            let key = lockfile::model_key(repo, revision.as_deref());
            if sources.models.contains_key(&key) {
                continue;
            }
            let locked = lock.models.get(&key).filter(|_| !mode.update).map(|m| m.commit.clone());
            let commit = match locked {
                Some(c) if !fetch_models => c,
                pinned => {
                    let want = pinned.as_deref().or(revision.as_deref());
                    let snap = crate::engine::hub::resolve(repo, want)
                        .map_err(|e| FetchError::Hub { source_name: key.clone(), why: e.to_string() })?;
                    snap.commit
                }
            };
            next.models.insert(key.clone(), LockedModel { commit: commit.clone() });
            report.models.push(ResolvedModel { source: key.clone(), commit: commit.clone() });
            sources.models.insert(key, commit);
        }
        if next != lock {
            next.write(&lock_path)?;
            report.lock_written = true;
        }
        Ok((sources, report))
    }

    /// The sources of `runs` from what this machine already has: remote
    /// data from the cache, verified against the lock (or the cache's
    /// manifest), and hub models at the lock's commit where it pins one.
    /// Nothing is downloaded and the lock file is not written.
    pub fn cached(runs: &[RunConfig], spec: &Path) -> Result<Sources, FetchError> {
        let lock_path = lockfile::lock_path(spec);
        let lock = LockFile::read(&lock_path)?;
        let mut sources = Sources::local(&spec_dir(spec));
        let mode = FetchMode { offline: true, update: false };
        sources.add_data(runs, &lock, &lock_path, mode, &mut lock.clone(), &mut Resolution::default())?;
        for run in runs {
            if let ModelSource::Hf { repo, revision } = &run.model.source {
                let key = lockfile::model_key(repo, revision.as_deref());
                if let Some(m) = lock.models.get(&key) {
                    sources.models.insert(key, m.commit.clone());
                }
            }
        }
        Ok(sources)
    }

    /// Fetches (or, offline, finds) and verifies the remote data of `runs`,
    /// recording each in `next` and `report`.
    fn add_data(
        &mut self,
        runs: &[RunConfig],
        lock: &LockFile,
        lock_path: &Path,
        mode: FetchMode,
        next: &mut LockFile,
        report: &mut Resolution,
    ) -> Result<(), FetchError> {
        for run in runs {
            let Some((remote, _)) = run.dataset.source.remote() else { continue };
            let key = remote.key();
            if self.data.contains_key(&key) {
                continue;
            }
            let fetched: Fetched = remote.fetch(lock.data.get(&key), lock_path, mode)?;
            next.data.insert(key.clone(), fetched.locked());
            report.data.push(ResolvedData {
                source: key.clone(),
                dir: fetched.dir.clone(),
                files: fetched.files.len(),
                commit: fetched.commit.clone(),
            });
            self.data.insert(key, fetched.dir);
        }
        Ok(())
    }

    /// The revision a hub model loads at: the lock's commit, else the
    /// spec's revision.
    pub fn model_revision(&self, repo: &str, revision: Option<&str>) -> Option<String> {
        self.models.get(&lockfile::model_key(repo, revision)).cloned().or_else(|| revision.map(str::to_owned))
    }

    /// The spec's directory (relative paths are relative to it).
    pub fn spec_dir(&self) -> &Path {
        &self.spec_dir
    }

    /// The file or folder a dataset's format reads.
    pub fn data_path(&self, source: &DataSource) -> Result<PathBuf, FetchError> {
        match source {
            DataSource::Asset { asset } => Ok(crate::assets::resolve(asset)),
            DataSource::Path { path } => Ok(resolve_path(path, &self.spec_dir)),
            DataSource::Url { .. } | DataSource::Hf { .. } => {
                let (remote, root) = source.remote().ok_or_else(|| FetchError::io(&self.spec_dir, "not a remote source"))?;
                let dir = self.data.get(&remote.key()).ok_or_else(|| FetchError::Offline {
                    source_name: remote.key(),
                    cache: crate::assets::assets_dir().join("fetched"),
                    why: "it was not resolved for this command".into(),
                })?;
                Ok(root.map_or_else(|| dir.clone(), |r| dir.join(r)))
            }
        }
    }

    /// Where the engine finds a model source: assets and paths on disk,
    /// hub models at their locked commit when there is one.
    pub fn model_locator(&self, source: &ModelSource) -> ModelLocator {
        match source {
            ModelSource::Asset { asset } => ModelLocator::Local(crate::assets::resolve(asset)),
            ModelSource::Path { path } => ModelLocator::Local(resolve_path(path, &self.spec_dir)),
            ModelSource::Hf { repo, revision } => {
                ModelLocator::Hub { repo: repo.clone(), revision: self.model_revision(repo, revision.as_deref()) }
            }
        }
    }
}

/// The directory of the spec file at `spec` (`.` for a bare file name).
fn spec_dir(spec: &Path) -> PathBuf {
    spec.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `path` as is when absolute, else under `spec_dir`.
pub fn resolve_path(path: &str, spec_dir: &Path) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        spec_dir.join(p)
    }
}
