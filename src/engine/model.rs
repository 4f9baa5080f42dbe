//! Loading a model by reference: weights, config and tokenizer, plus the
//! identity (sha256 of the file) that runs record.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mlx_rs::ops::dequantize;
use mlx_rs::{Array, Dtype};

use super::gguf::Gguf;
use super::locator::ModelLocator;
use super::models::{architecture, Model};
use super::tokenizer::TextTokenizer;
use super::EngineError;

/// What the weights are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDtype {
    /// f32 on the CPU backend (MLX's quantized matmul is slower than
    /// OpenBLAS there); quantized weights stay quantized on GPU backends.
    Auto,
    F32,
    F16,
    Bf16,
    /// Keep quantized matrices quantized (quantized matmul); others as stored.
    Quantized,
}

impl From<Dtype> for ComputeDtype {
    fn from(d: Dtype) -> Self {
        match d {
            Dtype::Float16 => ComputeDtype::F16,
            Dtype::Bfloat16 => ComputeDtype::Bf16,
            _ => ComputeDtype::F32,
        }
    }
}

impl ComputeDtype {
    /// The concrete choice on this machine: a dense dtype, or None for quantized.
    pub fn resolve(self) -> Result<Option<Dtype>, EngineError> {
        Ok(match self {
            ComputeDtype::Auto => match super::mlx_info()?.backend {
                super::Backend::Cpu => Some(Dtype::Float32),
                _ => None,
            },
            ComputeDtype::F32 => Some(Dtype::Float32),
            ComputeDtype::F16 => Some(Dtype::Float16),
            ComputeDtype::Bf16 => Some(Dtype::Bfloat16),
            ComputeDtype::Quantized => None,
        })
    }
}

/// A model ready to run.
pub struct LoadedModel {
    pub model: Model,
    pub tokenizer: TextTokenizer,
    pub path: PathBuf,
    /// sha256 of the weights file (GGUF) — what runs record as the revision.
    pub revision: String,
    /// What the weights are computed in: a dense dtype, or "quantized".
    pub compute: String,
    /// Where the weights came from, e.g. `gguf` with its quantization.
    pub format: String,
}

fn compute_name(dtype: Option<Dtype>) -> String {
    match dtype {
        Some(Dtype::Float16) => "float16",
        Some(Dtype::Bfloat16) => "bfloat16",
        Some(_) => "float32",
        None => "quantized",
    }
    .to_owned()
}

/// Loads a `.gguf` file: dense in `dtype`, or quantized when `dtype` is None.
pub fn load_gguf(path: &Path, dtype: Option<Dtype>) -> Result<LoadedModel, EngineError> {
    let gguf = Gguf::open(path)?;
    let config = gguf.config()?;
    config.validate().map_err(|e| EngineError::BadInput(format!("{}: {e}", path.display())))?;
    let tokenizer = TextTokenizer::from_gguf(&gguf)?;
    let weights = gguf.weights(&config, dtype)?;
    // Materialise now, so dequantisation is paid at load, not in the first forward.
    mlx_rs::transforms::eval(weights.values())?;
    let model = Model::from_weights(config, weights, super::gguf::GROUP_SIZE)?;
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
    Ok(LoadedModel { model, tokenizer, path: path.to_owned(), revision, compute: compute_name(dtype), format })
}

/// `config.json` fields beyond the architecture's own.
#[derive(serde::Deserialize)]
struct DirConfig {
    #[serde(default)]
    model_type: String,
    #[serde(default)]
    quantization: Option<QuantConfig>,
}

#[derive(serde::Deserialize)]
struct QuantConfig {
    group_size: i32,
    bits: i32,
}

/// The weight files of a model directory: `model.safetensors`, or the
/// shards `model.safetensors.index.json` lists, in name order.
pub(crate) fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, EngineError> {
    let bad = |what: String| EngineError::BadModel(format!("{}: {what}", dir.display()));
    if dir.join("model.safetensors").is_file() {
        return Ok(vec![dir.join("model.safetensors")]);
    }
    let index_path = dir.join("model.safetensors.index.json");
    let index: serde_json::Value = std::fs::read_to_string(&index_path)
        .map_err(|_| EngineError::ModelNotFound(format!("{}: no model.safetensors or model.safetensors.index.json", dir.display())))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| bad(format!("model.safetensors.index.json: {e}"))))?;
    let mut shards: Vec<PathBuf> = index["weight_map"]
        .as_object()
        .ok_or_else(|| bad("model.safetensors.index.json has no weight_map".into()))?
        .values()
        .filter_map(|v| v.as_str().map(|f| dir.join(f)))
        .collect();
    shards.sort();
    shards.dedup();
    Ok(shards)
}

/// Loads a Hugging Face / mlx-community model directory: `config.json`,
/// `model.safetensors` (or shards listed in `model.safetensors.index.json`),
/// dense f32/f16/bf16 or MLX-quantized weights, and the tokenizer files.
/// Dense in `dtype`, or quantized matrices kept quantized when it is None.
pub fn load_dir(dir: &Path, dtype: Option<Dtype>) -> Result<LoadedModel, EngineError> {
    let bad = |what: String| EngineError::BadModel(format!("{}: {what}", dir.display()));
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| EngineError::ModelNotFound(format!("{}: {e}", config_path.display())))?;
    let extra: DirConfig = serde_json::from_str(&text).map_err(|e| bad(format!("config.json: {e}")))?;
    let arch = architecture(&extra.model_type).map_err(|e| EngineError::Unsupported(format!("{}: {e}", dir.display())))?;
    let config = (arch.config)(&text).map_err(|e| bad(format!("config.json: {e}")))?;
    config.validate().map_err(|e| bad(format!("config.json: {e}")))?;
    let files = weight_files(dir)?;
    let mut raw: HashMap<String, Array> = HashMap::new();
    let mut digest = String::new();
    for file in &files {
        super::safetensors_header::check(file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
        let arrays = Array::load_safetensors(file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
        raw.extend(arrays);
        let sum = crate::assets::sha256_file(file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
        digest.push_str(&sum);
    }
    // Each weight is converted and evaluated on its own, and the file's
    // array dropped before the next: converting all at once would hold every
    // stored tensor beside its converted copy (a 16-bit file computed in f32
    // peaked at half the weights' size again).
    let mut weights = HashMap::new();
    let mut names: Vec<String> = raw.keys().cloned().collect();
    names.sort();
    for name in names {
        if name.ends_with(".scales") || name.ends_with(".biases") {
            continue;
        }
        let Some(w) = raw.get(&name) else { continue };
        let stem = name.trim_end_matches(".weight");
        let scales = raw.get(&format!("{stem}.scales"));
        let biases = raw.get(&format!("{stem}.biases"));
        match (dtype, scales, &extra.quantization) {
            (_, Some(_), None) => {
                return Err(bad(format!("{name} is quantized but config.json has no `quantization`")));
            }
            (Some(dtype), Some(scales), Some(q)) => {
                if ![2, 3, 4, 6, 8].contains(&q.bits) {
                    return Err(EngineError::Unsupported(format!("{}: {}-bit quantization", dir.display(), q.bits)));
                }
                // For an f32 computation 16-bit scales are widened first, so
                // the expansion keeps every bit they give; other dtypes
                // expand in the scales' own.
                let widen = |a: &Array| if dtype == Dtype::Float32 { a.as_dtype(dtype) } else { Ok(a.clone()) };
                let scales = widen(scales)?;
                let biases = biases.map(widen).transpose()?;
                weights.insert(name.clone(), dequantize(w, &scales, biases.as_ref(), q.group_size, q.bits)?.as_dtype(dtype)?);
            }
            (None, Some(scales), _) => {
                weights.insert(format!("{stem}.scales"), scales.clone());
                if let Some(b) = biases {
                    weights.insert(format!("{stem}.biases"), b.clone());
                }
                weights.insert(name.clone(), w.clone());
            }
            (Some(dtype), None, _) => {
                weights.insert(name.clone(), w.as_dtype(dtype)?);
            }
            (None, None, _) => {
                weights.insert(name.clone(), w.clone());
            }
        }
        if let Some(converted) = weights.get(&name) {
            converted.eval()?;
        }
        for part in [name.clone(), format!("{stem}.scales"), format!("{stem}.biases")] {
            if dtype.is_some() {
                raw.remove(&part);
            }
        }
    }
    mlx_rs::transforms::eval(weights.values())?;
    let tokenizer = TextTokenizer::from_dir(dir)?;
    let format = match &extra.quantization {
        Some(q) => format!("mlx {}-bit (group {})", q.bits, q.group_size),
        None => "safetensors".to_owned(),
    };
    let group = extra.quantization.as_ref().map_or(64, |q| q.group_size);
    let model = Model::from_weights(config, weights, group)?;
    let revision = dir_revision(dir, &digest)?;
    Ok(LoadedModel { model, tokenizer, path: dir.to_owned(), revision, compute: compute_name(dtype), format })
}

/// The files of a model directory besides its weights that its revision
/// covers.
pub const REVISION_FILES: &[&str] = &[
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.json",
    "chat_template.jinja",
];

/// The revision of a model directory: the sha256 over its weight files'
/// digests (`weights`, concatenated) and those of the [`REVISION_FILES`] it
/// has, which decide the outputs too (architecture, tokenizer, chat
/// template).
pub fn dir_revision(dir: &Path, weights: &str) -> Result<String, EngineError> {
    use sha2::Digest;
    let mut digest = weights.to_owned();
    for name in REVISION_FILES {
        let file = dir.join(name);
        if file.is_file() {
            let sum = crate::assets::sha256_file(&file).map_err(|e| EngineError::BadInput(format!("{}: {e}", file.display())))?;
            digest.push_str(&format!("{name}:{sum}"));
        }
    }
    Ok(crate::assets::hex(&sha2::Sha256::digest(digest.as_bytes())))
}

/// Loads the model a command-line argument names (read by
/// [`ModelLocator::parse`]), downloading a hub model that is not cached.
pub fn load(reference: &str, dtype: impl Into<ComputeDtype>) -> Result<LoadedModel, EngineError> {
    load_from(&ModelLocator::parse(reference)?, dtype)
}

/// Loads the model at `locator`, downloading a hub model that is not cached.
pub fn load_from(locator: &ModelLocator, dtype: impl Into<ComputeDtype>) -> Result<LoadedModel, EngineError> {
    let dtype = dtype.into().resolve()?;
    let (path, commit) = locator.files(true)?;
    let mut model = if path.is_dir() {
        load_dir(&path, dtype)?
    } else if path.extension().is_some_and(|e| e == "gguf") {
        load_gguf(&path, dtype)?
    } else {
        return Err(EngineError::Unsupported(format!("{}: expected a .gguf file or a model directory", path.display())));
    };
    if let Some(c) = commit {
        model.revision = c;
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_revision_covers_config_tokenizer_and_template() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        write("config.json", r#"{"hidden_size": 64}"#);
        write("tokenizer_config.json", r#"{"chat_template": "{{ messages }}"}"#);
        let first = dir_revision(dir.path(), "weights").expect("revision");
        assert_eq!(dir_revision(dir.path(), "weights").expect("revision"), first, "deterministic");
        write("tokenizer_config.json", r#"{"chat_template": "{{ messages | reverse }}"}"#);
        let template = dir_revision(dir.path(), "weights").expect("revision");
        assert_ne!(template, first, "a new chat template is a new revision");
        write("chat_template.jinja", "{{ x }}");
        assert_ne!(dir_revision(dir.path(), "weights").expect("revision"), template);
        assert_ne!(dir_revision(dir.path(), "other weights").expect("revision"), dir_revision(dir.path(), "weights").expect("revision"));
    }
}
