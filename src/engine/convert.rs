//! `runner model convert`: a GGUF (or any loadable) model written as an
//! mlx-community style directory — config.json, model.safetensors,
//! tokenizer files — optionally quantized (MLX affine groups), so other MLX
//! tools (and the benchmark peer) can load it.

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

/// Converts the GGUF at `src` into a model directory at `dst` (which must
/// not exist; written to a temporary sibling and renamed when complete).
pub fn convert_gguf(src: &Path, dst: &Path, q: Option<Quantization>) -> Result<(), EngineError> {
    if let Some(q) = q {
        if ![4, 8].contains(&q.bits) || ![32, 64, 128].contains(&q.group_size) {
            return Err(EngineError::BadInput("--quantize takes 4 or 8, --group-size 32, 64 or 128".into()));
        }
    }
    if dst.exists() {
        return Err(io_err(dst, "already exists; choose a new directory"));
    }
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
    let tmp = dst.with_file_name(format!(".{}.partial", dst.file_name().and_then(|n| n.to_str()).unwrap_or("converted")));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    let write = || -> Result<(), EngineError> {
        let config_text = serde_json::to_string_pretty(&config_json(&config, q)).unwrap_or_default();
        std::fs::write(tmp.join("config.json"), config_text).map_err(|e| io_err(&tmp, e))?;
        let metadata: HashMap<String, String> = [("format".to_owned(), "mlx".to_owned())].into();
        Array::save_safetensors(weights.iter().map(|(k, v)| (k.as_str(), v)), &metadata, tmp.join("model.safetensors"))
            .map_err(|e| io_err(&tmp, e))?;
        tokenizer.save_dir(&tmp, config.max_position_embeddings)
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
        let quantizable = name.ends_with(".weight") && w.ndim() == 2 && w.shape()[1] % q.group_size == 0 && !name.contains("norm");
        if !quantizable {
            out.insert(name, w);
            continue;
        }
        let stem = name.trim_end_matches(".weight");
        let (wq, scales, biases) = quantize(&w, q.group_size, q.bits)?;
        out.insert(format!("{stem}.weight"), wq);
        out.insert(format!("{stem}.scales"), scales);
        out.insert(format!("{stem}.biases"), biases);
    }
    Ok(out)
}
