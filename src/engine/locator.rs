//! Where a model's files are: a typed locator, built once from a spec's
//! model source or parsed once from a command-line argument, and the size
//! its weights take in memory once loaded.

use std::fmt;
use std::path::{Path, PathBuf};

use super::hub::{self, Snapshot};
use super::EngineError;

/// A model: a local `.gguf` file or model directory, or a hub repository
/// at a revision (a branch, tag or commit; `None` = `main`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelLocator {
    Local(PathBuf),
    Hub { repo: String, revision: Option<String> },
}

impl fmt::Display for ModelLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelLocator::Local(path) => write!(f, "{}", path.display()),
            ModelLocator::Hub { repo, revision: Some(r) } => write!(f, "{repo}@{r}"),
            ModelLocator::Hub { repo, revision: None } => f.write_str(repo),
        }
    }
}

impl ModelLocator {
    /// Reads a command-line model argument: an existing path, else a file
    /// in the asset cache, else a repo id (`org/name`, optionally `@revision`).
    pub fn parse(reference: &str) -> Result<ModelLocator, EngineError> {
        let direct = PathBuf::from(reference);
        if direct.exists() {
            return Ok(ModelLocator::Local(direct));
        }
        let asset = crate::assets::resolve(reference);
        if asset.exists() {
            return Ok(ModelLocator::Local(asset));
        }
        let (repo, revision) = match reference.split_once('@') {
            Some((r, rev)) => (r, Some(rev.to_owned())),
            None => (reference, None),
        };
        if hub::is_repo_id(repo) {
            return Ok(ModelLocator::Hub { repo: repo.to_owned(), revision });
        }
        Err(EngineError::ModelNotFound(format!(
            "`{reference}` is not a file, a model directory, an asset in {} (run `make setup`) or a repo id",
            crate::assets::assets_dir().display()
        )))
    }

    /// The model's files on this machine and, for a hub model, its commit.
    /// A hub model missing from the local cache is downloaded when
    /// `download`, else it is an error.
    pub fn files(&self, download: bool) -> Result<(PathBuf, Option<String>), EngineError> {
        match self {
            ModelLocator::Local(path) if !path.exists() => Err(EngineError::ModelNotFound(format!(
                "{} does not exist (a .gguf file, a model directory, or an asset in {} after `make setup`)",
                path.display(),
                crate::assets::assets_dir().display()
            ))),
            ModelLocator::Local(path) => Ok((path.clone(), None)),
            ModelLocator::Hub { repo, revision } => {
                let Snapshot { dir, commit } =
                    if download { hub::resolve(repo, revision.as_deref())? } else { hub::resolve_cached(repo, revision.as_deref())? };
                Ok((dir, Some(commit)))
            }
        }
    }

    /// Bytes the weights take in memory once loaded (see [`weights_bytes`]).
    pub fn memory_bytes(&self, download: bool) -> Result<u64, EngineError> {
        let (path, _) = self.files(download)?;
        Ok(weights_bytes(&path))
    }
}

/// Weights in memory: file size, times the expansion when quantized
/// weights are computed dequantized (GGUF is dequantized to the compute
/// dtype at load; an MLX-quantized directory is on the CPU backend, where
/// `--dtype auto` computes in f32: 32 / bits times its size).
pub fn weights_bytes(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    if path.is_dir() {
        let total: u64 = std::fs::read_dir(path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                    .map(|p| size(&p))
                    .sum()
            })
            .unwrap_or(0);
        match quantized_bits(path) {
            Some(bits) if dequantized_here() => total.saturating_mul(u64::from(32 / bits.clamp(1, 32))),
            _ => total,
        }
    } else if path.extension().is_some_and(|x| x == "gguf") {
        size(path).saturating_mul(6)
    } else {
        size(path)
    }
}

/// The bits of an MLX-quantized model directory (`quantization.bits` of
/// its config.json), if it is one.
fn quantized_bits(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let q = config.get("quantization").or_else(|| config.get("quantization_config"))?;
    q.get("bits").and_then(serde_json::Value::as_u64).and_then(|b| u32::try_from(b).ok()).filter(|b| *b > 0)
}

/// Whether `--dtype auto` computes quantized weights dequantized here.
fn dequantized_here() -> bool {
    matches!(super::model::ComputeDtype::Auto.resolve(), Ok(Some(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mlx_quantized_directory_counts_dequantized_on_the_cpu() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("model.safetensors"), vec![0u8; 1000]).expect("write");
        std::fs::write(dir.path().join("config.json"), r#"{"quantization": {"group_size": 64, "bits": 4}}"#).expect("write");
        let expected = if dequantized_here() { 8000 } else { 1000 };
        assert_eq!(weights_bytes(dir.path()), expected);
        std::fs::write(dir.path().join("config.json"), "{}").expect("write");
        assert_eq!(weights_bytes(dir.path()), 1000);
        let local = ModelLocator::Local(dir.path().to_path_buf());
        assert_eq!(local.memory_bytes(false).expect("local"), 1000);
    }

    #[test]
    fn arguments_are_read_once_into_their_kind() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(ModelLocator::parse(&dir.path().display().to_string()).expect("dir"), ModelLocator::Local(dir.path().to_path_buf()));
        assert_eq!(
            ModelLocator::parse("org/name@abc").expect("repo"),
            ModelLocator::Hub { repo: "org/name".into(), revision: Some("abc".into()) }
        );
        assert_eq!(ModelLocator::parse("org/name@abc").expect("repo").to_string(), "org/name@abc");
        assert!(matches!(ModelLocator::parse("no-such-file.gguf"), Err(EngineError::ModelNotFound(_))));
    }

    #[test]
    fn a_hub_model_outside_the_cache_has_no_size_without_a_download() {
        let hub = ModelLocator::Hub { repo: "runner-test/not-cached".into(), revision: Some("0".repeat(40)) };
        assert!(hub.memory_bytes(false).is_err(), "an unknown size is an error, not 0 bytes");
    }
}
