//! Autoregressive generation for one sequence with the KV cache.

use std::time::Instant;

use mlx_rs::Array;

use super::kv_cache::SeqCache;
use super::model::LoadedModel;
use super::EngineError;
use crate::sampling::{log_softmax, Sampler, SamplingParams};

#[derive(Debug, Clone, serde::Serialize)]
pub struct TopToken {
    pub id: u32,
    pub logprob: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Timings {
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    pub peak_memory_bytes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Generation {
    pub prompt_ids: Vec<u32>,
    pub generated_ids: Vec<u32>,
    pub text: String,
    /// log p_θ(token | prefix) of each generated token (model distribution, τ = 1).
    pub logprobs: Vec<f64>,
    /// The ten most likely tokens at the first generated position.
    pub top10: Vec<TopToken>,
    pub timings: Timings,
}

/// Logits of the last position of row 0 as f32.
pub(crate) fn last_logits(logits: &Array) -> Result<Vec<f32>, EngineError> {
    let shape = logits.shape();
    let (len, vocab) = (shape[1], shape[2]);
    let last = logits.reshape(&[-1, vocab])?;
    let row = last.take_axis(Array::from_int(len - 1), 0)?.as_dtype(mlx_rs::Dtype::Float32)?;
    row.eval()?;
    Ok(row.as_slice::<f32>().to_vec())
}

pub fn peak_memory() -> u64 {
    let mut bytes: usize = 0;
    // SAFETY: writes one size_t.
    unsafe { mlx_sys::mlx_get_peak_memory(&mut bytes) };
    bytes as u64
}

/// Bytes of MLX arrays alive now.
pub fn active_memory() -> u64 {
    let mut bytes: usize = 0;
    // SAFETY: writes one size_t.
    unsafe { mlx_sys::mlx_get_active_memory(&mut bytes) };
    bytes as u64
}

/// Generates up to `max_tokens` after `prompt_ids`, stopping at a stop token.
pub fn generate(
    m: &LoadedModel,
    prompt_ids: &[u32],
    max_tokens: usize,
    params: &SamplingParams,
    seed: u64,
) -> Result<Generation, EngineError> {
    if prompt_ids.is_empty() {
        return Err(EngineError::BadInput("the prompt has no tokens".into()));
    }
    if let Some(ctx) = m.model.config().max_position_embeddings {
        if prompt_ids.len() + max_tokens > ctx as usize {
            return Err(EngineError::BadInput(format!(
                "the prompt ({} tokens) plus {max_tokens} new tokens exceeds the model's context of {ctx}",
                prompt_ids.len()
            )));
        }
    }
    let mut cache = SeqCache::new(m.model.num_layers());
    let mut sampler = Sampler::new(seed);
    let ids: Vec<i32> = prompt_ids.iter().map(|&i| i as i32).collect();
    let start = Instant::now();
    let logits = m.model.forward(&Array::from_slice(&ids, &[1, ids.len() as i32]), &mut cache)?;
    let mut row = last_logits(&logits)?;
    let prefill = start.elapsed().as_secs_f64();

    let mut lp = log_softmax(&row);
    let mut top: Vec<(usize, f64)> = lp.iter().copied().enumerate().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top10 = top.iter().take(10).map(|&(id, logprob)| TopToken { id: id as u32, logprob }).collect();

    let mut generated = Vec::new();
    let mut logprobs = Vec::new();
    let decode_start = Instant::now();
    for step in 0..max_tokens {
        let next = sampler.pick(&row, params);
        logprobs.push(lp[next as usize]);
        generated.push(next);
        if m.tokenizer.stop_ids().contains(&next) || step + 1 == max_tokens {
            break;
        }
        let logits = m.model.forward(&Array::from_slice(&[next as i32], &[1, 1]), &mut cache)?;
        row = last_logits(&logits)?;
        lp = log_softmax(&row);
    }
    let decode = decode_start.elapsed().as_secs_f64();
    let decoded_steps = generated.len().saturating_sub(1).max(1);
    Ok(Generation {
        prompt_ids: prompt_ids.to_vec(),
        // The text is the answer: a final stop token is not part of it.
        text: m.tokenizer.decode(match generated.split_last() {
            Some((last, rest)) if m.tokenizer.stop_ids().contains(last) => rest,
            _ => &generated,
        })?,
        generated_ids: generated,
        logprobs,
        top10,
        timings: Timings {
            prefill_tokens_per_s: prompt_ids.len() as f64 / prefill.max(1e-9),
            decode_tokens_per_s: decoded_steps as f64 / decode.max(1e-9),
            peak_memory_bytes: peak_memory(),
        },
    })
}
