//! Datasets that come from elsewhere: a URL (one file, a zip archive with
//! selectable members, or several files under a base URL) or a Hugging Face
//! dataset repository at a revision. Fetched once into the asset cache
//! (`<assets>/fetched/<id>/files/`, or the hub cache for hub datasets) and
//! verified against the lock file, file by file, on every use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::hub::{is_commit, RepoKind};
use super::lockfile::LockedData;
use super::{archive, http, FetchError};
use crate::store::lock::{Lock, LockTiming};

/// A remote dataset, as a spec declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteData {
    /// `url` alone: a file, or a zip archive unpacked whole or `members`
    /// only. With `files`: `url` is a base (ending in `/`) and each file is
    /// fetched from `url + file`, keeping its relative path.
    Url { url: String, files: Vec<String>, members: Vec<String> },
    /// A hub dataset repository: `files` (default: every file) at
    /// `revision` (default `main`).
    Hf { repo: String, revision: Option<String>, files: Vec<String> },
}

/// A fetched and verified dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// The folder holding the files.
    pub dir: PathBuf,
    /// `/`-separated path -> sha256, as verified.
    pub files: BTreeMap<String, String>,
    /// A hub dataset's commit.
    pub commit: Option<String>,
}

impl Fetched {
    pub fn locked(&self) -> LockedData {
        LockedData { commit: self.commit.clone(), files: self.files.clone() }
    }
}

/// Whether fetching may use the network, and whether the lock's entry is
/// to be replaced.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchMode {
    pub offline: bool,
    pub update: bool,
}

const MANIFEST: &str = "manifest.json";

impl RemoteData {
    /// The key of this source in the lock file.
    pub fn key(&self) -> String {
        let list = |label: &str, v: &[String]| if v.is_empty() { String::new() } else { format!(" {label}=[{}]", v.join(", ")) };
        match self {
            RemoteData::Url { url, files, members } => format!("{url}{}{}", list("files", files), list("members", members)),
            RemoteData::Hf { repo, revision, files } => {
                format!("hf:{repo}@{}{}", revision.as_deref().unwrap_or("main"), list("files", files))
            }
        }
    }

    /// The cache folder of a URL source.
    fn cache_dir(&self) -> PathBuf {
        let id = super::hex(&sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), self.key().as_bytes())));
        super::assets_dir().join("fetched").join(&id[..16])
    }

    /// Fetches what the cache lacks (unless `mode.offline`) and verifies
    /// every file against `locked` (the lock file's entry, at `lock`), or
    /// against the digests taken when it was fetched when there is none.
    pub fn fetch(&self, locked: Option<&LockedData>, lock: &Path, mode: FetchMode) -> Result<Fetched, FetchError> {
        let locked = locked.filter(|_| !mode.update);
        match self {
            RemoteData::Url { url, files, members } => self.fetch_url(url, files, members, locked, lock, mode),
            RemoteData::Hf { repo, revision, files } => fetch_hub(repo, revision.as_deref(), files, locked, lock, mode),
        }
    }

    fn fetch_url(
        &self,
        url: &str,
        files: &[String],
        members: &[String],
        locked: Option<&LockedData>,
        lock: &Path,
        mode: FetchMode,
    ) -> Result<Fetched, FetchError> {
        let cache = self.cache_dir();
        let tree = cache.join("files");
        let manifest = cache.join(MANIFEST);
        if !manifest.is_file() {
            if mode.offline {
                return Err(FetchError::Offline { source_name: self.key(), cache, why: "HF_HUB_OFFLINE is set".into() });
            }
            std::fs::create_dir_all(&cache).map_err(|e| FetchError::io(&cache, e))?;
            // One process fetches a source at a time; the others wait and then find it.
            let _guard =
                Lock::acquire_waiting(&cache.join(".fetching"), "fetching data", LockTiming::default(), Duration::from_secs(6 * 3600))
                    .map_err(|e| FetchError::io(&cache, e))?;
            if !manifest.is_file() {
                download_url(url, files, members, &cache, &tree)?;
                let digests = digest_tree(&tree)?;
                if let Some(l) = locked {
                    // Keep nothing that disagrees with the lock.
                    if let Err(e) = compare(&self.key(), &tree, &digests, l, lock, &cache) {
                        let _ = std::fs::remove_dir_all(&tree);
                        return Err(e);
                    }
                }
                write_manifest(&manifest, &digests)?;
                let _ = std::fs::remove_dir_all(cache.join("downloads"));
            }
        }
        let recorded = read_manifest(&manifest)?;
        let found = digest_listed(&tree, recorded.keys())?;
        let reference = match locked {
            Some(l) => l.clone(),
            None => LockedData { commit: None, files: recorded },
        };
        compare(&self.key(), &tree, &found, &reference, if locked.is_some() { lock } else { &manifest }, &cache)?;
        Ok(Fetched { dir: tree, files: found, commit: None })
    }
}

/// Downloads a URL source into `tree` (through `<cache>/downloads/`).
fn download_url(url: &str, files: &[String], members: &[String], cache: &Path, tree: &Path) -> Result<(), FetchError> {
    let downloads = cache.join("downloads");
    let staging = cache.join(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for dir in [&downloads, &staging] {
        std::fs::create_dir_all(dir).map_err(|e| FetchError::io(dir, e))?;
    }
    if files.is_empty() {
        let name = file_name(url);
        let got = downloads.join(&name);
        if !got.is_file() {
            http::download(url, &got)?;
        }
        if is_zip(&got)? {
            archive::unzip(&got, &staging, members)?;
        } else {
            std::fs::rename(&got, staging.join(&name)).map_err(|e| FetchError::io(&got, e))?;
        }
    } else {
        for f in files {
            let got = downloads.join(f);
            if let Some(parent) = got.parent() {
                std::fs::create_dir_all(parent).map_err(|e| FetchError::io(parent, e))?;
            }
            if !got.is_file() {
                http::download(&format!("{url}{}", encode_path(f)), &got)?;
            }
        }
        std::fs::rename(&downloads, &staging).map_err(|e| FetchError::io(&downloads, e))?;
    }
    let _ = std::fs::remove_dir_all(tree);
    std::fs::rename(&staging, tree).map_err(|e| FetchError::io(tree, e))
}

/// The last path segment of a URL, without its query, percent-decoded
/// for the common `%20`.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("download");
    last.replace("%20", " ")
}

/// Percent-encodes what a file path may hold that a URL path may not.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn is_zip(path: &Path) -> Result<bool, FetchError> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| FetchError::io(path, e))?;
    let n = f.read(&mut head).map_err(|e| FetchError::io(path, e))?;
    Ok(n == 4 && head == *b"PK\x03\x04")
}

fn rel_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// The sha256 of every file under `root`.
fn digest_tree(root: &Path) -> Result<BTreeMap<String, String>, FetchError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| FetchError::io(&dir, e))? {
            let path = entry.map_err(|e| FetchError::io(&dir, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let sum = super::sha256_file(&path).map_err(|e| FetchError::io(&path, e))?;
                out.insert(rel_name(root, &path), sum);
            }
        }
    }
    Ok(out)
}

/// The sha256 of each named file under `root`; a missing file has none.
fn digest_listed<'a>(root: &Path, names: impl Iterator<Item = &'a String>) -> Result<BTreeMap<String, String>, FetchError> {
    let mut out = BTreeMap::new();
    for name in names {
        let path = root.join(name);
        match super::sha256_file(&path) {
            Ok(sum) => {
                out.insert(name.clone(), sum);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FetchError::io(&path, e)),
        }
    }
    Ok(out)
}

/// Checks `found` against `reference`: the same files, the same bytes.
fn compare(
    source: &str,
    root: &Path,
    found: &BTreeMap<String, String>,
    reference: &LockedData,
    lock: &Path,
    cache: &Path,
) -> Result<(), FetchError> {
    for (name, want) in &reference.files {
        match found.get(name) {
            Some(got) if got == want => {}
            Some(got) => {
                return Err(FetchError::Mismatch {
                    file: root.join(name),
                    lock: lock.to_path_buf(),
                    locked: want.clone(),
                    found: got.clone(),
                    cache: cache.to_path_buf(),
                })
            }
            None => {
                return Err(FetchError::Files {
                    source_name: source.to_owned(),
                    lock: lock.to_path_buf(),
                    why: format!("{} is locked but missing from {}", name, root.display()),
                })
            }
        }
    }
    if let Some(extra) = found.keys().find(|k| !reference.files.contains_key(*k)) {
        return Err(FetchError::Files {
            source_name: source.to_owned(),
            lock: lock.to_path_buf(),
            why: format!("{extra} was fetched but the lock does not list it"),
        });
    }
    Ok(())
}

fn write_manifest(path: &Path, files: &BTreeMap<String, String>) -> Result<(), FetchError> {
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_string_pretty(files).map_err(|e| FetchError::io(path, e))?;
    std::fs::write(&tmp, body).map_err(|e| FetchError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| FetchError::io(path, e))
}

fn read_manifest(path: &Path) -> Result<BTreeMap<String, String>, FetchError> {
    let text = std::fs::read_to_string(path).map_err(|e| FetchError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| FetchError::io(path, format!("unreadable ({e}); delete its folder and fetch again")))
}

/// A hub dataset: resolved through the hub (online) or the hub cache
/// (offline), at the locked commit when there is one.
fn fetch_hub(
    repo: &str,
    revision: Option<&str>,
    files: &[String],
    locked: Option<&LockedData>,
    lock: &Path,
    mode: FetchMode,
) -> Result<Fetched, FetchError> {
    let source = RemoteData::Hf { repo: repo.to_owned(), revision: revision.map(str::to_owned), files: files.to_vec() }.key();
    let hub_err = |why: String| FetchError::Hub { source_name: source.clone(), why };
    let folder = super::hub::cache_folder(RepoKind::Dataset, repo);
    let want_rev = locked.and_then(|l| l.commit.clone()).unwrap_or_else(|| revision.unwrap_or("main").to_owned());
    // A locked commit whose files are all in the cache needs no network
    // (the hub client's cache knows branches, not commits, and would
    // download them again).
    let cached = locked.and_then(|l| {
        let commit = l.commit.as_deref().filter(|c| is_commit(c))?;
        let snap = folder.join("snapshots").join(commit);
        l.files.keys().all(|name| snap.join(name).is_file()).then_some(())
    });
    let (commit, names) = if mode.offline || cached.is_some() {
        let commit = super::hub::cached_commit(RepoKind::Dataset, repo, &want_rev).ok_or_else(|| FetchError::Offline {
            source_name: source.clone(),
            cache: folder.clone(),
            why: "HF_HUB_OFFLINE is set and the cache has no ref for the revision".into(),
        })?;
        let names: Vec<String> = match (locked, files.is_empty()) {
            (Some(l), _) => l.files.keys().cloned().collect(),
            (None, false) => files.to_vec(),
            (None, true) => {
                let snap = folder.join("snapshots").join(&commit);
                digest_tree(&snap)
                    .map_err(|_| FetchError::Offline { source_name: source.clone(), cache: snap, why: "HF_HUB_OFFLINE is set".into() })?
                    .into_keys()
                    .collect()
            }
        };
        (commit, names)
    } else {
        let info = super::hub::revision_info(RepoKind::Dataset, repo, &want_rev)
            .map_err(|e| hub_err(format!("the hub at {} answered: {e}", super::hub_endpoint())))?;
        let names = if files.is_empty() { info.files.clone() } else { files.to_vec() };
        for name in &names {
            super::hub::fetch_file(RepoKind::Dataset, repo, &info.commit, name).map_err(|e| hub_err(format!("{name}: {e}")))?;
        }
        if want_rev != info.commit {
            super::hub::write_ref(RepoKind::Dataset, repo, &want_rev, &info.commit).map_err(|e| hub_err(e.to_string()))?;
        }
        (info.commit, names)
    };
    let dir = folder.join("snapshots").join(&commit);
    let found = digest_listed(&dir, names.iter())?;
    if let Some(missing) = names.iter().find(|n| !found.contains_key(*n)) {
        return Err(match mode.offline {
            true => FetchError::Offline { source_name: source, cache: dir.join(missing), why: "HF_HUB_OFFLINE is set".into() },
            false => hub_err(format!("{missing} is not in the repository at {commit}")),
        });
    }
    if let Some(l) = locked {
        if let Some(c) = l.commit.as_deref().filter(|c| *c != commit) {
            return Err(hub_err(format!("resolved to commit {commit}, but the lock file {} pins {c}", lock.display())));
        }
        compare(&source, &dir, &found, l, lock, &folder)?;
    }
    Ok(Fetched { dir, files: found, commit: Some(commit) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_source_and_its_selection() {
        let u = RemoteData::Url { url: "https://h/d.zip".into(), files: vec![], members: vec!["a/".into()] };
        assert_eq!(u.key(), "https://h/d.zip members=[a/]");
        let h = RemoteData::Hf { repo: "o/d".into(), revision: None, files: vec![] };
        assert_eq!(h.key(), "hf:o/d@main");
    }

    #[test]
    fn paths_are_encoded_for_urls_and_names_decoded_for_files() {
        assert_eq!(encode_path("Train/Daily train.csv"), "Train/Daily%20train.csv");
        assert_eq!(file_name("https://h/x/UCI%20HAR%20Dataset.zip?dl=1"), "UCI HAR Dataset.zip");
    }
}
