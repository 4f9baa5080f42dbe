//! `runner model convert`: a GGUF file or a Hugging Face safetensors
//! directory written as an mlx-community style directory — config.json,
//! model.safetensors, tokenizer files — optionally quantized (MLX affine
//! groups), so other MLX tools (and the benchmark peer) can load it.

use std::collections::HashMap;
use std::path::Path;

use mlx_rs::ops::quantize;
use mlx_rs::{Array, Dtype};

use super::gguf::Gguf;
use super::models::llama::LlamaConfig;
use super::tokenizer::TextTokenizer;
use super::EngineError;

/// Quantization of a converted model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantization {
    pub bits: i32,
    pub group_size: i32,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> EngineError {
    EngineError::BadInput(format!("{}: {e}", path.display()))
}

/// The `config.json` of a converted model.
pub fn config_json(c: &LlamaConfig, q: Option<Quantization>) -> serde_json::Value {
    let mut v = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": if c.model_type.is_empty() { "llama" } else { c.model_type.as_str() },
        "hidden_size": c.hidden_size,
        "intermediate_size": c.intermediate_size,
        "num_hidden_layers": c.num_hidden_layers,
        "num_attention_heads": c.num_attention_heads,
        "num_key_value_heads": c.kv_heads(),
        "head_dim": c.head_dim(),
        "rms_norm_eps": c.rms_norm_eps,
        "rope_theta": c.rope_theta,
        "vocab_size": c.vocab_size,
        "tie_word_embeddings": c.tie_word_embeddings,
        "attention_bias": c.attention_bias,
        "mlp_bias": false,
        "max_position_embeddings": c.max_position_embeddings,
        "torch_dtype": "float32",
    });
    if let Some(q) = q {
        v["quantization"] = serde_json::json!({ "group_size": q.group_size, "bits": q.bits });
    }
    v
}

/// Converts the model at `src` (a `.gguf` file, or a directory of
/// `config.json`, safetensors weights and tokenizer files) into a model
/// directory at `dst`.
pub fn convert(src: &Path, dst: &Path, q: Option<Quantization>) -> Result<(), EngineError> {
    if src.is_dir() {
        convert_dir(src, dst, q)
    } else {
        convert_gguf(src, dst, q)
    }
}

fn check(dst: &Path, q: Option<Quantization>) -> Result<(), EngineError> {
    if let Some(q) = q {
        if ![4, 8].contains(&q.bits) || ![32, 64, 128].contains(&q.group_size) {
            return Err(EngineError::BadInput("--quantize takes 4 or 8, --group-size 32, 64 or 128".into()));
        }
    }
    if dst.exists() {
        return Err(io_err(dst, "already exists; choose a new directory"));
    }
    Ok(())
}

/// Converts the GGUF at `src` into a model directory at `dst` (which must
/// not exist; written to a temporary sibling and renamed when complete).
/// Weights are written in f32.
pub fn convert_gguf(src: &Path, dst: &Path, q: Option<Quantization>) -> Result<(), EngineError> {
    check(dst, q)?;
    let gguf = Gguf::open(src)?;
    let config = gguf.config()?;
    config.validate()?;
    let tokenizer = TextTokenizer::from_gguf(&gguf)?;
    let mut weights = gguf.weights(&config, Some(Dtype::Float32))?;
    if config.tie_word_embeddings {
        weights.remove("lm_head.weight");
    }
    let weights = match q {
        None => weights,
        Some(q) => quantize_weights(weights, q)?,
    };
    write_dir(dst, &config_json(&config, q), &weights, |dir| tokenizer.save_dir(dir, config.max_position_embeddings))
}

/// Tokenizer and generation files a model directory may have, copied as
/// they are.
const TOKENIZER_FILES: &[&str] = &[
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "chat_template.json",
    "chat_template.jinja",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "added_tokens.json",
];

/// Converts a safetensors model directory: its weights in their stored
/// dtype (quantized when asked), its `config.json` with `quantization`
/// added, its tokenizer files copied. An already quantized directory is
/// refused.
pub fn convert_dir(src: &Path, dst: &Path, q: Option<Quantization>) -> Result<(), EngineError> {
    check(dst, q)?;
    let bad = |what: String| EngineError::BadModel(format!("{}: {what}", src.display()));
    let config_path = src.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| EngineError::ModelNotFound(format!("{}: {e}", config_path.display())))?;
    let mut config: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("config.json: {e}")))?;
    let model_type = config["model_type"].as_str().unwrap_or_default().to_owned();
    let arch = super::models::architecture(&model_type).map_err(|e| EngineError::Unsupported(format!("{}: {e}", src.display())))?;
    (arch.config)(&text).map_err(|e| bad(format!("config.json: {e}")))?.validate().map_err(|e| bad(format!("config.json: {e}")))?;
    for key in ["quantization", "quantization_config"] {
        if config.get(key).is_some_and(|v| !v.is_null()) {
            return Err(EngineError::BadInput(format!(
                "{}: already quantized (config.json has `{key}`); convert the unquantized model",
                src.display()
            )));
        }
    }
    let mut weights = HashMap::new();
    for file in super::model::weight_files(src)? {
        super::safetensors_header::check(&file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
        weights.extend(Array::load_safetensors(&file).map_err(|e| bad(format!("{}: {e}", file.display())))?);
    }
    // Tied embeddings: the output projection is the embedding; a stored
    // copy is dropped, as the GGUF path does.
    if config["tie_word_embeddings"].as_bool() == Some(true) {
        weights.remove("lm_head.weight");
    }
    let weights = match q {
        None => weights,
        Some(q) => quantize_weights(weights, q)?,
    };
    if let Some(q) = q {
        config["quantization"] = serde_json::json!({ "group_size": q.group_size, "bits": q.bits });
    }
    write_dir(dst, &config, &weights, |dir| {
        for name in TOKENIZER_FILES {
            let from = src.join(name);
            if from.is_file() {
                std::fs::copy(&from, dir.join(name)).map_err(|e| io_err(&from, e))?;
            }
        }
        Ok(())
    })
}

/// Writes `config`, `weights` and (through `tokenizer`) the tokenizer files
/// into a temporary sibling of `dst`, renamed to `dst` when complete.
fn write_dir(
    dst: &Path,
    config: &serde_json::Value,
    weights: &HashMap<String, Array>,
    tokenizer: impl FnOnce(&Path) -> Result<(), EngineError>,
) -> Result<(), EngineError> {
    let tmp = dst.with_file_name(format!(".{}.partial", dst.file_name().and_then(|n| n.to_str()).unwrap_or("converted")));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    let write = || -> Result<(), EngineError> {
        let config_text = serde_json::to_string_pretty(config).unwrap_or_default();
        std::fs::write(tmp.join("config.json"), config_text).map_err(|e| io_err(&tmp, e))?;
        let metadata: HashMap<String, String> = [("format".to_owned(), "mlx".to_owned())].into();
        Array::save_safetensors(weights.iter().map(|(k, v)| (k.as_str(), v)), &metadata, tmp.join("model.safetensors"))
            .map_err(|e| io_err(&tmp, e))?;
        tokenizer(&tmp)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dst).map_err(|e| io_err(dst, e))
}

/// Quantizes every linear and embedding matrix whose rows split into groups.
fn quantize_weights(weights: HashMap<String, Array>, q: Quantization) -> Result<HashMap<String, Array>, EngineError> {
    let mut out = HashMap::new();
    for (name, w) in weights {
        let float = matches!(w.dtype(), Dtype::Float32 | Dtype::Float16 | Dtype::Bfloat16);
        let quantizable = float && name.ends_with(".weight") && w.ndim() == 2 && w.shape()[1] % q.group_size == 0 && !name.contains("norm");
        if !quantizable {
            out.insert(name, w);
            continue;
        }
        let stem = name.trim_end_matches(".weight");
        let (wq, scales, biases) =
            quantize(&w, q.group_size, q.bits).map_err(|e| EngineError::BadModel(format!("quantizing {name}: {e}")))?;
        out.insert(format!("{stem}.weight"), wq);
        out.insert(format!("{stem}.scales"), scales);
        out.insert(format!("{stem}.biases"), biases);
    }
    Ok(out)
}
