//! GGUF files through MLX's GGUF loader: Llama-family config from the
//! metadata, tensors renamed to the Hugging Face layout, quantized blocks
//! (Q4_0, Q4_1, Q8_0: MLX affine groups of 32) dequantized, and Q/K rows
//! un-permuted (GGUF stores them ordered for interleaved RoPE).

use std::collections::HashMap;
use std::path::Path;

use mlx_rs::io::{GgufFile, GgufMetadataValue};
use mlx_rs::ops::dequantize;
use mlx_rs::{Array, Dtype};

use super::models::llama::LlamaConfig;
use super::EngineError;

/// A GGUF file opened through MLX.
pub struct Gguf {
    file: GgufFile,
    path: String,
}

/// GGUF block size of the formats MLX reads (Q4_0, Q4_1, Q8_0).
const GGUF_GROUP: i32 = 32;

impl Gguf {
    pub fn open(path: &Path) -> Result<Gguf, EngineError> {
        if !path.is_file() {
            return Err(EngineError::ModelNotFound(format!("{} does not exist", path.display())));
        }
        super::gguf_header::check(path).map_err(|e| match e {
            super::gguf_header::HeaderError::Corrupt(m) => EngineError::BadModel(format!("{}: {m}", path.display())),
            super::gguf_header::HeaderError::Unsupported(m) => EngineError::Unsupported(format!("{}: {m}", path.display())),
        })?;
        let file = GgufFile::load(path).map_err(|e| EngineError::BadModel(format!("{}: not a readable GGUF file: {e}", path.display())))?;
        Ok(Gguf { file, path: path.display().to_string() })
    }

    fn bad(&self, what: impl std::fmt::Display) -> EngineError {
        EngineError::BadModel(format!("{}: {what}", self.path))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, EngineError> {
        match self.file.get_metadata(key).map_err(|e| self.bad(e))? {
            Some(GgufMetadataValue::String(s)) => Ok(Some(s)),
            None => Ok(None),
            Some(_) => Err(self.bad(format!("metadata {key} is not a string"))),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>, EngineError> {
        match self.file.get_metadata(key).map_err(|e| self.bad(e))? {
            Some(GgufMetadataValue::Strings(s)) => Ok(Some(s)),
            None => Ok(None),
            Some(_) => Err(self.bad(format!("metadata {key} is not a list of strings"))),
        }
    }

    /// A numeric metadata value (scalar) as f64.
    pub fn number(&self, key: &str) -> Result<Option<f64>, EngineError> {
        match self.file.get_metadata(key).map_err(|e| self.bad(e))? {
            Some(GgufMetadataValue::Array(a)) => {
                let a = a.as_dtype(Dtype::Float32)?;
                a.eval()?;
                Ok(Some(f64::from(a.item_exact::<f32>())))
            }
            None => Ok(None),
            Some(_) => Err(self.bad(format!("metadata {key} is not a number"))),
        }
    }

    /// A numeric metadata array as i32 values.
    pub fn ints(&self, key: &str) -> Result<Option<Vec<i32>>, EngineError> {
        match self.file.get_metadata(key).map_err(|e| self.bad(e))? {
            Some(GgufMetadataValue::Array(a)) => {
                let a = a.as_dtype(Dtype::Int32)?;
                a.eval()?;
                Ok(Some(a.as_slice::<i32>().to_vec()))
            }
            None => Ok(None),
            Some(_) => Err(self.bad(format!("metadata {key} is not numeric"))),
        }
    }

    fn required(&self, arch: &str, key: &str) -> Result<f64, EngineError> {
        let full = format!("{arch}.{key}");
        self.number(&full)?.ok_or_else(|| self.bad(format!("metadata {full} is missing")))
    }

    /// The model config from `general.architecture` and its `<arch>.*` keys.
    pub fn config(&self) -> Result<LlamaConfig, EngineError> {
        let arch = self.string("general.architecture")?.ok_or_else(|| self.bad("no general.architecture"))?;
        let model_type = super::models::architecture(&arch)
            .map_err(|e| EngineError::Unsupported(format!("GGUF architecture: {e}")))?
            .model_type
            .to_owned();
        let heads = self.required(&arch, "attention.head_count")? as i32;
        let hidden = self.required(&arch, "embedding_length")? as i32;
        let vocab = match self.number(&format!("{arch}.vocab_size"))? {
            Some(v) => v as i32,
            None => self.strings("tokenizer.ggml.tokens")?.map(|t| t.len() as i32).ok_or_else(|| self.bad("no vocabulary size"))?,
        };
        let names = self.file.array_keys().map_err(|e| self.bad(e))?;
        Ok(LlamaConfig {
            model_type: model_type.clone(),
            hidden_size: hidden,
            intermediate_size: self.required(&arch, "feed_forward_length")? as i32,
            num_hidden_layers: self.required(&arch, "block_count")? as i32,
            num_attention_heads: heads,
            num_key_value_heads: Some(self.number(&format!("{arch}.attention.head_count_kv"))?.map_or(heads, |v| v as i32)),
            head_dim: self.number(&format!("{arch}.rope.dimension_count"))?.map(|v| v as i32),
            rms_norm_eps: self.required(&arch, "attention.layer_norm_rms_epsilon")? as f32,
            rope_theta: self.number(&format!("{arch}.rope.freq_base"))?.map_or(10_000.0, |v| v as f32),
            vocab_size: vocab,
            tie_word_embeddings: !names.iter().any(|n| n == "output.weight"),
            attention_bias: names.iter().any(|n| n.ends_with("attn_q.bias")),
            rope_scaling: None,
            max_position_embeddings: self.number(&format!("{arch}.context_length"))?.map(|v| v as i32),
        })
    }

    /// Every tensor named as in Hugging Face checkpoints: dense in `dtype`,
    /// or (`dtype` None) quantized blocks kept as MLX affine groups of 32
    /// (`.weight`, `.scales`, `.biases`) and the rest as stored.
    pub fn weights(&self, config: &LlamaConfig, dtype: Option<Dtype>) -> Result<HashMap<String, Array>, EngineError> {
        let arrays = self.file.arrays().map_err(|e| self.bad(e))?;
        let mut out = HashMap::new();
        for (name, array) in &arrays {
            let hf = hf_name(name).ok_or_else(|| EngineError::Unsupported(format!("{}: unknown tensor {name}", self.path)))?;
            let stem = name.strip_suffix(".weight").unwrap_or(name);
            let quantized = arrays.get(&format!("{stem}.scales"));
            let value = match (dtype, quantized) {
                // Parts of a quantized matrix are expanded with their `.weight`.
                (Some(_), _) if name.ends_with(".scales") || name.ends_with(".biases") => continue,
                (Some(dtype), Some(scales)) => {
                    let packed_cols = *array.shape().last().unwrap_or(&0);
                    let groups = *scales.shape().last().unwrap_or(&1);
                    let bits = packed_cols * 32 / (groups * GGUF_GROUP).max(1);
                    if ![4, 8].contains(&bits) {
                        return Err(EngineError::Unsupported(format!("{}: tensor {name} has {bits}-bit blocks", self.path)));
                    }
                    // Scales and offsets are stored as f16; GGUF defines the
                    // values as f32 products, so widen before multiplying.
                    let scales = scales.as_dtype(Dtype::Float32)?;
                    let biases = arrays.get(&format!("{stem}.biases")).map(|b| b.as_dtype(Dtype::Float32)).transpose()?;
                    dequantize(array, &scales, biases.as_ref(), GGUF_GROUP, bits)?.as_dtype(dtype)?
                }
                (Some(dtype), None) => array.as_dtype(dtype)?,
                (None, _) => array.clone(),
            };
            let value = if hf.contains("q_proj.") {
                unpermute_rows(&value, config.num_attention_heads)?
            } else if hf.contains("k_proj.") {
                unpermute_rows(&value, config.kv_heads())?
            } else {
                value
            };
            out.insert(hf, value);
        }
        Ok(out)
    }
}

/// The MLX group size of quantized GGUF blocks.
pub const GROUP_SIZE: i32 = GGUF_GROUP;

/// `unpermute` for matrices (rows) and vectors (biases) alike.
fn unpermute_rows(a: &Array, heads: i32) -> Result<Array, EngineError> {
    if a.ndim() == 1 {
        Ok(unpermute(&a.reshape(&[-1, 1])?, heads)?.reshape(&[-1])?)
    } else {
        unpermute(a, heads)
    }
}

/// Undoes the row permutation GGUF converters apply to Q and K: rows are
/// stored per head as interleaved pairs; Hugging Face keeps the two rotary
/// halves apart.
fn unpermute(w: &Array, heads: i32) -> Result<Array, EngineError> {
    let shape = w.shape().to_vec();
    let (rows, cols) = (shape[0], shape[1]);
    let half = rows / heads / 2;
    Ok(w.reshape(&[heads, half, 2, cols])?.swap_axes(1, 2)?.reshape(&[rows, cols])?)
}

/// GGUF tensor name -> Hugging Face name.
fn hf_name(name: &str) -> Option<String> {
    let (stem, suffix) = name.rsplit_once('.')?;
    let fixed = match stem {
        "token_embd" => Some("model.embed_tokens"),
        "output_norm" => Some("model.norm"),
        "output" => Some("lm_head"),
        _ => None,
    };
    if let Some(f) = fixed {
        return Some(format!("{f}.{suffix}"));
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, tail) = rest.split_once('.')?;
    let layer: u32 = layer.parse().ok()?;
    let (part, suffix) = tail.rsplit_once('.')?;
    let hf = match part {
        "attn_norm" => "input_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{hf}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names_map_to_the_hugging_face_layout() {
        assert_eq!(hf_name("token_embd.weight").unwrap(), "model.embed_tokens.weight");
        assert_eq!(hf_name("token_embd.scales").unwrap(), "model.embed_tokens.scales");
        assert_eq!(hf_name("blk.12.attn_q.weight").unwrap(), "model.layers.12.self_attn.q_proj.weight");
        assert_eq!(hf_name("blk.0.attn_k.bias").unwrap(), "model.layers.0.self_attn.k_proj.bias");
        assert_eq!(hf_name("blk.3.ffn_down.weight").unwrap(), "model.layers.3.mlp.down_proj.weight");
        assert!(hf_name("blk.x.attn_q.weight").is_none());
    }

    #[test]
    fn unpermute_inverts_the_gguf_row_order() {
        // One head of dim 4: HF rows [r0 r1 | r2 r3] are stored as [r0 r2 r1 r3].
        let stored = Array::from_slice(&[0.0f32, 2.0, 1.0, 3.0], &[4, 1]);
        let hf = unpermute(&stored, 1).unwrap();
        hf.eval().unwrap();
        assert_eq!(hf.as_slice::<f32>(), &[0.0, 1.0, 2.0, 3.0]);
    }
}
