//! The Llama architecture (also SmolLM2, Mistral, and Qwen2 with q/k/v bias):
//! pre-norm decoder blocks with grouped-query attention, RoPE and a SwiGLU
//! MLP. Config straight from `config.json` (or GGUF metadata, see gguf.rs);
//! the KV cache is passed in explicitly.

use std::collections::HashMap;

use mlx_rs::fast::{rms_norm, rope, rope_dynamic, scaled_dot_product_attention, ScaledDotProductAttentionMask};
use mlx_rs::ops::indexing::IndexOp;
use mlx_rs::ops::{concatenate, dequantize, quantized_matmul};
use mlx_rs::Array;
use serde::Deserialize;

use crate::engine::batch_cache::{BatchCache, DecodeRow};
use crate::engine::cpu_math;
use crate::engine::kv_cache::SeqCache;
use crate::engine::EngineError;

fn default_rope_theta() -> f32 {
    10_000.0
}

/// `rope_scaling` of Llama 3.x checkpoints.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RopeScaling {
    #[serde(alias = "type")]
    pub rope_type: String,
    #[serde(default = "one")]
    pub factor: f32,
    #[serde(default = "one")]
    pub low_freq_factor: f32,
    #[serde(default = "four")]
    pub high_freq_factor: f32,
    #[serde(default = "ctx8k")]
    pub original_max_position_embeddings: f32,
}

fn one() -> f32 {
    1.0
}
fn four() -> f32 {
    4.0
}
fn ctx8k() -> f32 {
    8192.0
}

/// The fields of a Hugging Face `config.json` this architecture reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LlamaConfig {
    #[serde(default)]
    pub model_type: String,
    pub hidden_size: i32,
    pub intermediate_size: i32,
    pub num_hidden_layers: i32,
    pub num_attention_heads: i32,
    #[serde(default)]
    pub num_key_value_heads: Option<i32>,
    #[serde(default)]
    pub head_dim: Option<i32>,
    pub rms_norm_eps: f32,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f32,
    pub vocab_size: i32,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Bias on q/k/v projections (Qwen2 has it; `attention_bias` in Llama configs).
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub rope_scaling: Option<RopeScaling>,
    #[serde(default)]
    pub max_position_embeddings: Option<i32>,
}

pub const ARCHITECTURE: super::Architecture = super::Architecture { model_type: "llama", config: read_config };

/// A `config.json` text as written, with nothing implied by its model type.
pub fn read_config(text: &str) -> Result<LlamaConfig, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

impl LlamaConfig {
    /// Checks every size and constant before anything is shaped by them: a
    /// hostile or broken config (zero heads, negative or huge counts) is an
    /// error naming the field and the valid range, never a panic or an
    /// allocation of its choosing.
    pub fn validate(&self) -> Result<(), EngineError> {
        let range = |name: &str, v: i64, lo: i64, hi: i64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(EngineError::BadInput(format!("model config: {name} is {v}; expected {lo} to {hi}")))
            }
        };
        range("hidden_size", self.hidden_size.into(), 1, 1 << 16)?;
        range("intermediate_size", self.intermediate_size.into(), 1, 1 << 18)?;
        range("num_hidden_layers", self.num_hidden_layers.into(), 1, 1024)?;
        range("num_attention_heads", self.num_attention_heads.into(), 1, 1024)?;
        range("num_key_value_heads", self.kv_heads().into(), 1, self.num_attention_heads.into())?;
        if self.num_attention_heads % self.kv_heads() != 0 {
            return Err(EngineError::BadInput(format!(
                "model config: num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads,
                self.kv_heads()
            )));
        }
        range("head_dim", self.head_dim().into(), 1, 4096)?;
        range("vocab_size", self.vocab_size.into(), 1, 1 << 24)?;
        if let Some(n) = self.max_position_embeddings {
            range("max_position_embeddings", n.into(), 1, 1 << 24)?;
        }
        let positive = |name: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(EngineError::BadInput(format!("model config: {name} is {v}; expected a finite number above 0")))
            }
        };
        positive("rms_norm_eps", self.rms_norm_eps)?;
        positive("rope_theta", self.rope_theta)?;
        if let Some(r) = &self.rope_scaling {
            positive("rope_scaling.factor", r.factor)?;
            positive("rope_scaling.low_freq_factor", r.low_freq_factor)?;
            positive("rope_scaling.high_freq_factor", r.high_freq_factor)?;
            positive("rope_scaling.original_max_position_embeddings", r.original_max_position_embeddings)?;
            if r.rope_type == "llama3" && r.high_freq_factor == r.low_freq_factor {
                return Err(EngineError::BadInput("model config: rope_scaling high_freq_factor equals low_freq_factor".into()));
            }
        }
        Ok(())
    }

    pub fn kv_heads(&self) -> i32 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    pub fn head_dim(&self) -> i32 {
        self.head_dim.unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Per-dimension RoPE frequencies for `llama3` scaling (None: plain RoPE).
    fn rope_freqs(&self) -> Result<Option<Array>, EngineError> {
        let Some(s) = &self.rope_scaling else { return Ok(None) };
        match s.rope_type.as_str() {
            "llama3" => {}
            "default" | "linear" if s.factor == 1.0 => return Ok(None),
            other => return Err(EngineError::Unsupported(format!("rope_scaling type `{other}`"))),
        }
        let dims = self.head_dim();
        let low_wavelen = s.original_max_position_embeddings / s.low_freq_factor;
        let high_wavelen = s.original_max_position_embeddings / s.high_freq_factor;
        let freqs: Vec<f32> = (0..dims / 2)
            .map(|i| {
                let f = self.rope_theta.powf(2.0 * i as f32 / dims as f32);
                let wavelen = 2.0 * std::f32::consts::PI * f;
                if wavelen > low_wavelen {
                    f * s.factor
                } else if wavelen > high_wavelen {
                    let smooth =
                        (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
                    f / ((1.0 - smooth) / s.factor + smooth)
                } else {
                    f
                }
            })
            .collect();
        Ok(Some(Array::from_slice(&freqs, &[dims / 2])))
    }
}

/// MLX affine quantization of a matrix: packed `weight`, per-group `scales`
/// and `biases`.
pub struct QuantizedMatrix {
    weight: Array,
    scales: Array,
    biases: Option<Array>,
    group_size: i32,
    bits: i32,
}

impl QuantizedMatrix {
    /// Infers the bit width from the packed and group shapes.
    fn new(weight: Array, scales: Array, biases: Option<Array>, group_size: i32) -> Result<Self, EngineError> {
        let packed = *weight.shape().last().unwrap_or(&0);
        let groups = *scales.shape().last().unwrap_or(&1);
        let bits = packed * 32 / (groups * group_size).max(1);
        if ![2, 3, 4, 5, 6, 8].contains(&bits) {
            return Err(EngineError::Unsupported(format!("{bits}-bit quantized weights")));
        }
        Ok(QuantizedMatrix { weight, scales, biases, group_size, bits })
    }

    /// `x W^T` without expanding W.
    fn matmul_t(&self, x: &Array) -> Result<Array, EngineError> {
        Ok(quantized_matmul(x, &self.weight, &self.scales, self.biases.as_ref(), true, self.group_size, self.bits)?)
    }

    /// Rows `ids` of the matrix, expanded (an embedding lookup).
    fn rows(&self, ids: &Array) -> Result<Array, EngineError> {
        let b = self.biases.as_ref().map(|b| b.take_axis(ids, 0)).transpose()?;
        Ok(dequantize(self.weight.take_axis(ids, 0)?, self.scales.take_axis(ids, 0)?, b.as_ref(), self.group_size, self.bits)?)
    }

    fn size(&self) -> usize {
        self.weight.size() * 32 / self.bits as usize
    }
}

/// A weight matrix, dense or MLX-quantized.
pub enum Matrix {
    Dense(Array),
    Quantized(QuantizedMatrix),
}

impl Matrix {
    fn matmul_t(&self, x: &Array) -> Result<Array, EngineError> {
        match self {
            Matrix::Dense(w) => Ok(x.matmul(w.t())?),
            Matrix::Quantized(q) => q.matmul_t(x),
        }
    }

    fn rows(&self, ids: &Array) -> Result<Array, EngineError> {
        match self {
            Matrix::Dense(w) => Ok(w.take_axis(ids, 0)?),
            Matrix::Quantized(q) => q.rows(ids),
        }
    }

    fn size(&self) -> usize {
        match self {
            Matrix::Dense(w) => w.size(),
            Matrix::Quantized(q) => q.size(),
        }
    }

    pub fn is_quantized(&self) -> bool {
        matches!(self, Matrix::Quantized(_))
    }
}

/// A projection `y = x W^T (+ b)`.
pub struct Linear {
    weight: Matrix,
    bias: Option<Array>,
}

impl Linear {
    fn forward(&self, x: &Array) -> Result<Array, EngineError> {
        let y = self.weight.matmul_t(x)?;
        Ok(match &self.bias {
            Some(b) => y.add(b)?,
            None => y,
        })
    }
}

struct Block {
    input_norm: Array,
    post_norm: Array,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A loaded Llama-family model.
pub struct Llama {
    pub config: LlamaConfig,
    embed: Matrix,
    blocks: Vec<Block>,
    norm: Array,
    lm_head: Option<Linear>,
    rope_freqs: Option<Array>,
    /// SiLU and attention through `cpu_math`: MLX runs on its CPU backend,
    /// whose own exp is scalar.
    cpu_math: bool,
}

/// Takes named tensors out of a weight map, failing with the name. A
/// matrix with `.scales` beside it is MLX-quantized with `group_size`.
struct Take<'a> {
    map: &'a mut HashMap<String, Array>,
    group_size: i32,
}

impl Take<'_> {
    fn get(&mut self, name: &str) -> Result<Array, EngineError> {
        self.map.remove(name).ok_or_else(|| EngineError::MissingTensor(name.to_owned()))
    }

    fn matrix(&mut self, stem: &str) -> Result<Matrix, EngineError> {
        let weight = self.get(&format!("{stem}.weight"))?;
        match self.map.remove(&format!("{stem}.scales")) {
            Some(scales) => {
                let biases = self.map.remove(&format!("{stem}.biases"));
                Ok(Matrix::Quantized(QuantizedMatrix::new(weight, scales, biases, self.group_size)?))
            }
            None => Ok(Matrix::Dense(weight)),
        }
    }

    fn linear(&mut self, prefix: &str, bias: bool) -> Result<Linear, EngineError> {
        let weight = self.matrix(prefix)?;
        let bias = if bias { Some(self.get(&format!("{prefix}.bias"))?) } else { self.map.remove(&format!("{prefix}.bias")) };
        Ok(Linear { weight, bias })
    }
}

impl Llama {
    /// Builds the model from weights in Hugging Face naming; matrices with
    /// `.scales`/`.biases` beside them stay quantized (groups of `group_size`).
    pub fn from_weights(config: LlamaConfig, mut weights: HashMap<String, Array>, group_size: i32) -> Result<Llama, EngineError> {
        let mut t = Take { map: &mut weights, group_size };
        let embed = t.matrix("model.embed_tokens")?;
        let mut blocks = Vec::with_capacity(config.num_hidden_layers as usize);
        for i in 0..config.num_hidden_layers {
            let p = format!("model.layers.{i}");
            blocks.push(Block {
                input_norm: t.get(&format!("{p}.input_layernorm.weight"))?,
                post_norm: t.get(&format!("{p}.post_attention_layernorm.weight"))?,
                q: t.linear(&format!("{p}.self_attn.q_proj"), config.attention_bias)?,
                k: t.linear(&format!("{p}.self_attn.k_proj"), config.attention_bias)?,
                v: t.linear(&format!("{p}.self_attn.v_proj"), config.attention_bias)?,
                o: t.linear(&format!("{p}.self_attn.o_proj"), false)?,
                gate: t.linear(&format!("{p}.mlp.gate_proj"), false)?,
                up: t.linear(&format!("{p}.mlp.up_proj"), false)?,
                down: t.linear(&format!("{p}.mlp.down_proj"), false)?,
            });
        }
        let norm = t.get("model.norm.weight")?;
        let lm_head =
            if !config.tie_word_embeddings && t.map.contains_key("lm_head.weight") { Some(t.linear("lm_head", false)?) } else { None };
        let rope_freqs = config.rope_freqs()?;
        let cpu_math = matches!(mlx_rs::Device::try_default()?.get_type()?, mlx_rs::DeviceType::Cpu);
        Ok(Llama { config, embed, blocks, norm, lm_head, rope_freqs, cpu_math })
    }

    /// Whether the matrices are kept quantized.
    pub fn is_quantized(&self) -> bool {
        self.embed.is_quantized() || self.blocks.first().is_some_and(|b| b.q.weight.is_quantized())
    }

    pub fn num_layers(&self) -> usize {
        self.blocks.len()
    }

    /// Parameters held (elements of every weight).
    pub fn parameter_count(&self) -> usize {
        let lin = |l: &Linear| l.weight.size() + l.bias.as_ref().map_or(0, |b| b.size());
        // Quantized matrices count their logical elements.
        self.embed.size()
            + self.norm.size()
            + self.lm_head.as_ref().map_or(0, lin)
            + self
                .blocks
                .iter()
                .map(|b| {
                    b.input_norm.size()
                        + b.post_norm.size()
                        + [&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down].into_iter().map(lin).sum::<usize>()
                })
                .sum::<usize>()
    }

    fn rope(&self, x: &Array, offset: i32) -> Result<Array, EngineError> {
        let base = if self.rope_freqs.is_some() { None } else { Some(self.config.rope_theta) };
        Ok(rope(x, self.config.head_dim(), false, base, 1.0, offset, self.rope_freqs.as_ref())?)
    }

    /// Attention of `len` new positions of `rows` rows, whose projections
    /// `q`, `k`, `v` are `[rows, len, heads * head_dim]`, after the prefix in
    /// `cache` (layer `layer`); returns `[rows, len, hidden]` before `o_proj`.
    fn attend(&self, layer: usize, q: &Array, k: &Array, v: &Array, cache: &mut SeqCache) -> Result<Array, EngineError> {
        let (nh, nkv, hd) = (self.config.num_attention_heads, self.config.kv_heads(), self.config.head_dim());
        let shape = q.shape();
        let (rows, len) = (shape[0], shape[1]);
        let heads =
            |y: &Array, n: i32| -> Result<Array, EngineError> { Ok(y.reshape(&[rows, len, n, hd])?.transpose_axes(&[0, 2, 1, 3])?) };
        let offset = cache.len() as i32;
        let q = self.rope(&heads(q, nh)?, offset)?;
        let k = self.rope(&heads(k, nkv)?, offset)?;
        self.attend_roped(layer, &q, k, heads(v, nkv)?, cache)
    }

    /// `[1, rows, heads * head_dim]` projections of one token per row ->
    /// `[rows, heads, 1, head_dim]`, q and k rotated at each row's position.
    fn decode_heads(&self, q: &Array, k: &Array, v: &Array, positions: &Array) -> Result<(Array, Array, Array), EngineError> {
        let (nh, nkv, hd) = (self.config.num_attention_heads, self.config.kv_heads(), self.config.head_dim());
        let heads = |y: &Array, n: i32| -> Result<Array, EngineError> { Ok(y.reshape(&[-1, 1, n, hd])?.transpose_axes(&[0, 2, 1, 3])?) };
        let base = if self.rope_freqs.is_some() { None } else { Some(self.config.rope_theta) };
        let rot =
            |y: Array| -> Result<Array, EngineError> { Ok(rope_dynamic(&y, hd, false, base, 1.0, positions, self.rope_freqs.as_ref())?) };
        Ok((rot(heads(q, nh)?)?, rot(heads(k, nkv)?)?, heads(v, nkv)?))
    }

    /// Attention of rotated `q` (`[rows, heads, new, head_dim]`) over the
    /// cache extended by `k`, `v`; returns `[rows, new, hidden]`.
    fn attend_roped(&self, layer: usize, q: &Array, k: Array, v: Array, cache: &mut SeqCache) -> Result<Array, EngineError> {
        let (rows, len) = (q.shape()[0], q.shape()[2]);
        self.merge_heads(&self.attention(layer, q, k, v, cache)?, rows, len)
    }

    /// Scaled dot-product attention with the cache; `[rows, heads, new, head_dim]`.
    fn attention(&self, layer: usize, q: &Array, k: Array, v: Array, cache: &mut SeqCache) -> Result<Array, EngineError> {
        let (k, v) = cache.append(layer, k, v)?;
        let scale = 1.0 / (self.config.head_dim() as f32).sqrt();
        if self.cpu_math {
            return cpu_math::attention(q, &k, &v, scale);
        }
        let mask = if q.shape()[2] > 1 { Some(ScaledDotProductAttentionMask::Causal) } else { None };
        Ok(scaled_dot_product_attention(q, &k, &v, scale, mask, None)?)
    }

    /// `[rows, heads, len, head_dim]` -> `[rows, len, hidden]`.
    fn merge_heads(&self, a: &Array, rows: i32, len: i32) -> Result<Array, EngineError> {
        let width = self.config.num_attention_heads * self.config.head_dim();
        Ok(a.transpose_axes(&[0, 2, 1, 3])?.reshape(&[rows, len, width])?)
    }

    fn mlp(&self, b: &Block, x: &Array) -> Result<Array, EngineError> {
        let gate = b.gate.forward(x)?;
        let g = if self.cpu_math { cpu_math::silu(&gate)? } else { mlx_rs::nn::silu(gate)? };
        b.down.forward(&g.multiply(b.up.forward(x)?)?)
    }

    fn head(&self, h: &Array) -> Result<Array, EngineError> {
        let h = rms_norm(h, Some(&self.norm), self.config.rms_norm_eps)?;
        Ok(match &self.lm_head {
            Some(head) => head.forward(&h)?,
            None => self.embed.matmul_t(&h)?,
        })
    }

    /// Runs `tokens` (`[rows, len]`) after the cached prefix of `cache`
    /// (every row at the same position), appends their keys and values to
    /// the cache, and returns the logits of every position `[rows, len, vocab]`.
    pub fn forward(&self, tokens: &Array, cache: &mut SeqCache) -> Result<Array, EngineError> {
        let len = tokens.shape()[1];
        let eps = self.config.rms_norm_eps;
        let mut h = self.embed.rows(tokens)?;
        for (i, b) in self.blocks.iter().enumerate() {
            let x = rms_norm(&h, Some(&b.input_norm), eps)?;
            let a = self.attend(i, &b.q.forward(&x)?, &b.k.forward(&x)?, &b.v.forward(&x)?, cache)?;
            h = h.add(b.o.forward(&a)?)?;
            h = h.add(self.mlp(b, &rms_norm(&h, Some(&b.post_norm), eps)?)?)?;
        }
        cache.advance(len as usize);
        self.head(&h)
    }

    /// A batch cache shaped for this model's keys and values.
    pub fn batch_cache(&self) -> BatchCache {
        BatchCache::new(self.blocks.len(), self.config.kv_heads(), self.config.head_dim(), self.cpu_math)
    }

    /// One pass over several sequences, each with its own cache and its own
    /// number of new tokens: the token-wise work (projections, MLP) runs on
    /// all tokens at once. Rows with one new token (decode steps) move into
    /// `batch` and attend together in one op per layer, at their own
    /// positions and lengths; rows with several tokens attend per sequence.
    /// `pass` numbers the call (for the batch cache's idle tracking).
    /// Returns the logits at each row's last new position (`[rows, vocab]`,
    /// f32, in row order; the engine's callers normalize them) and the
    /// number of tokens the pass computed.
    pub fn forward_rows(&self, rows: &mut [(&[u32], &mut SeqCache)], batch: &mut BatchCache, pass: u64) -> Result<RowsOutput, EngineError> {
        if rows.is_empty() || rows.iter().any(|(t, _)| t.is_empty()) {
            return Err(EngineError::BadInput("every row needs at least one new token".into()));
        }
        let eps = self.config.rms_norm_eps;
        let (decode, multi): (Vec<usize>, Vec<usize>) = (0..rows.len()).partition(|&r| rows[r].0.len() == 1 && !rows[r].1.is_empty());
        let fresh: Vec<usize> = multi.iter().copied().filter(|&r| rows[r].1.is_fresh()).collect();
        for &r in &multi {
            batch.evict(rows[r].1)?;
        }
        batch.make_room(decode.iter().map(|&r| &*rows[r].1))?;
        for &r in &decode {
            batch.admit(rows[r].1, pass)?;
        }
        // Tokens: the decode rows' first, then each multi-token row's.
        let mut ids: Vec<i32> = decode.iter().map(|&r| rows[r].0[0] as i32).collect();
        let mut spans = vec![(0i32, 0i32); rows.len()];
        for (i, &r) in decode.iter().enumerate() {
            spans[r] = (i as i32, 1);
        }
        for &r in &multi {
            spans[r] = (ids.len() as i32, rows[r].0.len() as i32);
            ids.extend(rows[r].0.iter().map(|&x| x as i32));
        }
        let total = ids.len() as i32;
        let n_dec = decode.len() as i32;
        let mut h = self.embed.rows(&Array::from_slice(&ids, &[1, total]))?;
        let step = if decode.is_empty() {
            None
        } else {
            let resident: Vec<DecodeRow> = decode
                .iter()
                .map(|&r| {
                    let c = &*rows[r].1;
                    c.slot().map(|slot| DecodeRow { slot, own_len: c.own_len(), prefix: c.prefix().cloned() })
                })
                .collect::<Option<_>>()
                .ok_or_else(|| EngineError::Mlx("a decoding row is not in the batch cache".into()))?;
            let positions: Vec<i32> = decode.iter().map(|&r| rows[r].1.len() as i32).collect();
            let positions = Array::from_slice(&positions, &[n_dec]);
            Some((batch.prepare(&resident, pass, h.dtype())?, positions))
        };
        let scale = 1.0 / (self.config.head_dim() as f32).sqrt();
        for (i, b) in self.blocks.iter().enumerate() {
            let x = rms_norm(&h, Some(&b.input_norm), eps)?;
            let (q, k, v) = (b.q.forward(&x)?, b.k.forward(&x)?, b.v.forward(&x)?);
            let mut parts = Vec::with_capacity(multi.len() + 1);
            if let Some((step, positions)) = &step {
                let seg = |y: &Array| y.index((.., ..n_dec, ..));
                let (q, k, v) = self.decode_heads(&seg(&q), &seg(&k), &seg(&v), positions)?;
                let a = batch.attend(i, step, &q, &k, &v, scale)?;
                // [rows, heads, 1, head_dim] -> [1, rows, hidden]: rows play the token axis.
                parts.push(self.merge_heads(&a, n_dec, 1)?.reshape(&[1, n_dec, -1])?);
            }
            for &r in &multi {
                let (s, n) = spans[r];
                let seg = |y: &Array| y.index((.., s..s + n, ..));
                parts.push(self.attend(i, &seg(&q), &seg(&k), &seg(&v), rows[r].1)?);
            }
            let a = match parts.len() {
                1 => parts.swap_remove(0),
                _ => concatenate(&parts, 1)?,
            };
            h = h.add(b.o.forward(&a)?)?;
            h = h.add(self.mlp(b, &rms_norm(&h, Some(&b.post_norm), eps)?)?)?;
        }
        for (t, cache) in rows.iter_mut() {
            cache.advance(t.len());
        }
        for &r in &fresh {
            rows[r].1.seal_prompt();
        }
        let last: Vec<i32> = spans.iter().map(|(s, n)| s + n - 1).collect();
        let h = h.take_axis(Array::from_slice(&last, &[last.len() as i32]), 1)?;
        let logits = self.head(&h)?.reshape(&[last.len() as i32, -1])?.as_dtype(mlx_rs::Dtype::Float32)?;
        Ok(RowsOutput { logits, tokens: total as usize })
    }
}

/// What `forward_rows` returns.
pub struct RowsOutput {
    /// `[rows, vocab]` f32 logits of each row's last new position.
    pub logits: Array,
    /// Tokens the pass computed (a shared prefix counts once).
    pub tokens: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(edit: &str) -> LlamaConfig {
        let mut v: serde_json::Value = serde_json::json!({
            "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "vocab_size": 100
        });
        let patch: serde_json::Value = serde_json::from_str(edit).expect("patch");
        for (k, x) in patch.as_object().expect("object") {
            v[k] = x.clone();
        }
        serde_json::from_value(v).expect("config")
    }

    #[test]
    fn hostile_sizes_are_named_and_sane_ones_pass() {
        assert!(config("{}").validate().is_ok());
        for (edit, needle) in [
            (r#"{"num_attention_heads": 0}"#, "num_attention_heads is 0"),
            (r#"{"num_hidden_layers": -1}"#, "num_hidden_layers is -1"),
            (r#"{"num_hidden_layers": 2000000000}"#, "num_hidden_layers is 2000000000"),
            (r#"{"num_key_value_heads": 3}"#, "not a multiple"),
            (r#"{"num_key_value_heads": 0}"#, "num_key_value_heads is 0"),
            (r#"{"vocab_size": 0}"#, "vocab_size is 0"),
            (r#"{"head_dim": 100000}"#, "head_dim is 100000"),
            (r#"{"rms_norm_eps": -1.0}"#, "rms_norm_eps"),
            (r#"{"max_position_embeddings": 0}"#, "max_position_embeddings is 0"),
        ] {
            let e = config(edit).validate().expect_err(edit).to_string();
            assert!(e.contains(needle), "{edit}: {e}");
        }
    }
}
