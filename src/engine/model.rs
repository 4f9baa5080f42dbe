//! Loading a model by reference: weights, config and tokenizer, plus the
//! identity (sha256 of the file) that runs record.

use std::path::{Path, PathBuf};

use mlx_rs::Dtype;

use super::gguf::Gguf;
use super::models::llama::Llama;
use super::tokenizer::TextTokenizer;
use super::EngineError;

/// A model ready to run.
pub struct LoadedModel {
    pub model: Llama,
    pub tokenizer: TextTokenizer,
    pub path: PathBuf,
    /// sha256 of the weights file (GGUF) — what runs record as the revision.
    pub revision: String,
    /// What the weights are computed in.
    pub dtype: Dtype,
    /// Where the weights came from, e.g. `gguf` with its quantization.
    pub format: String,
}

/// Loads a `.gguf` file, dequantizing to `dtype`.
pub fn load_gguf(path: &Path, dtype: Dtype) -> Result<LoadedModel, EngineError> {
    let gguf = Gguf::open(path)?;
    let config = gguf.config()?;
    let tokenizer = TextTokenizer::from_gguf(&gguf)?;
    let weights = gguf.dense_weights(&config, dtype)?;
    // Materialise now, so dequantisation is paid at load, not in the first forward.
    mlx_rs::transforms::eval(weights.values())?;
    let model = Llama::from_weights(config, weights)?;
    let revision = crate::assets::sha256_file(path).map_err(|e| EngineError::ModelNotFound(format!("{}: {e}", path.display())))?;
    let file_type = gguf.number("general.file_type")?.map(|v| v as i64);
    let format = match file_type {
        Some(0) => "gguf F32",
        Some(1) => "gguf F16",
        Some(2) => "gguf Q4_0",
        Some(3) => "gguf Q4_1",
        Some(7) => "gguf Q8_0",
        _ => "gguf",
    }
    .to_owned();
    Ok(LoadedModel { model, tokenizer, path: path.to_owned(), revision, dtype, format })
}

/// Resolves a model argument: a `.gguf` path, or a file in the asset cache.
pub fn load(reference: &str, dtype: Dtype) -> Result<LoadedModel, EngineError> {
    let direct = PathBuf::from(reference);
    let path = if direct.exists() { direct } else { crate::assets::resolve(reference) };
    if !path.exists() {
        return Err(EngineError::ModelNotFound(format!(
            "`{reference}` is neither a file nor an asset in {} (run `make setup`)",
            crate::assets::assets_dir().display()
        )));
    }
    if path.extension().is_some_and(|e| e == "gguf") {
        load_gguf(&path, dtype)
    } else {
        Err(EngineError::Unsupported(format!("{}: only .gguf models are loaded so far", path.display())))
    }
}
