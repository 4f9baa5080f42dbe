//! Engine throughput measurements (`runner bench engine`): prefill, greedy
//! decode of a fixed number of tokens (no early stop), batched decode through
//! the engine loop, and the machine's memory bandwidth with the decode bound
//! it implies. Timings only; correctness is the tests' job.

use std::time::Instant;

use mlx_rs::{Array, Dtype};

use crate::engine::generate::{last_logits, peak_memory};
use crate::engine::kv_cache::SeqCache;
use crate::engine::model::{load, LoadedModel};
use crate::engine::service::EngineService;
use crate::engine::EngineError;
use crate::sampling::argmax;

#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineBench {
    pub prompt_tokens: usize,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens: usize,
    pub decode_tokens_per_s: f64,
    /// Total tokens per second of `rows` callers decoding together.
    pub batched: Vec<(usize, f64)>,
    pub peak_memory_bytes: u64,
    pub weight_bytes: u64,
    pub memory_bandwidth_gb_s: f64,
    /// Decode tok/s if every step read every weight once at that bandwidth.
    pub decode_bound_tokens_per_s: f64,
}

/// Bytes per second at which a large f32 matrix is read by a matrix-vector
/// product (the access pattern of decoding), 256 MiB per read.
pub fn memory_bandwidth() -> Result<f64, EngineError> {
    let n = 8192;
    let a = Array::ones::<f32>(&[n, n])?;
    let x = Array::ones::<f32>(&[n, 1])?;
    a.eval()?;
    a.matmul(&x)?.eval()?;
    let reps = 5;
    let start = Instant::now();
    for _ in 0..reps {
        a.matmul(&x)?.eval()?;
    }
    Ok((n as f64 * n as f64 * 4.0 * reps as f64) / start.elapsed().as_secs_f64())
}

fn decode(m: &LoadedModel, prompt: &[u32], tokens: usize) -> Result<(f64, f64), EngineError> {
    let ids: Vec<i32> = prompt.iter().map(|&t| t as i32).collect();
    let mut cache = SeqCache::new(m.model.num_layers());
    let t0 = Instant::now();
    let logits = m.model.forward(&Array::from_slice(&ids, &[1, ids.len() as i32]), &mut cache)?;
    let mut row = last_logits(&logits)?;
    let prefill = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    for _ in 0..tokens {
        let next = argmax(&row) as i32;
        let logits = m.model.forward(&Array::from_slice(&[next], &[1, 1]), &mut cache)?;
        row = last_logits(&logits)?;
    }
    Ok((prompt.len() as f64 / prefill, tokens as f64 / t1.elapsed().as_secs_f64()))
}

/// `rows` callers decode `tokens` greedy steps each through one engine loop.
fn batched(engine: &EngineService, prompt: &[u32], rows: usize, tokens: usize) -> Result<f64, EngineError> {
    let sessions = engine.group(rows)?;
    let start = Instant::now();
    let handles: Vec<_> = sessions
        .into_iter()
        .map(|s| {
            let prompt = prompt.to_vec();
            std::thread::spawn(move || -> Result<(), EngineError> {
                let seq = s.new_seq(None)?;
                let mut lp = s.forward(seq, &prompt)?;
                for _ in 0..tokens {
                    let next = argmax(&lp);
                    lp = s.forward(seq, &[next])?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| EngineError::Mlx("a bench caller panicked".into()))??;
    }
    Ok((rows * tokens) as f64 / start.elapsed().as_secs_f64())
}

/// The text of a numeric prompt: 3-digit values from a fixed sequence,
/// separated by `", "`, as a forecasting prompt's history reads
/// (`scripts/peer/bench_mlx_lm.py` builds the same text).
pub fn numeric_text(values: usize) -> String {
    (0..values).map(|i| ((i * 7919 + 13) % 900 + 100).to_string()).collect::<Vec<_>>().join(", ")
}

/// The first `n` tokens of a numeric text long enough to give them.
fn numeric_prompt(m: &LoadedModel, n: usize) -> Result<Vec<u32>, EngineError> {
    let mut values = n / 2 + 8;
    loop {
        let ids = m.tokenizer.encode(&numeric_text(values))?;
        if ids.len() >= n {
            return Ok(ids[..n].to_vec());
        }
        values *= 2;
    }
}

/// What the benchmark prefills: a text, or a numeric prompt of exactly
/// this many tokens.
#[derive(Debug, Clone)]
pub enum BenchPrompt {
    Text(String),
    Tokens(usize),
}

pub fn run(model: &str, prompt: &BenchPrompt, tokens: usize, rows: &[usize]) -> Result<EngineBench, EngineError> {
    let m = load(model, Dtype::Float32)?;
    let prompt = match prompt {
        BenchPrompt::Text(text) => m.tokenizer.encode(text)?,
        BenchPrompt::Tokens(0) => return Err(EngineError::BadInput("--prompt-tokens must be at least 1".into())),
        BenchPrompt::Tokens(n) => numeric_prompt(&m, *n)?,
    };
    let (prefill, dec) = decode(&m, &prompt, tokens)?;
    let weight_bytes = m.model.parameter_count() as u64 * 4;
    drop(m);
    let model_ref = model.to_owned();
    let engine = EngineService::start(move || load(&model_ref, Dtype::Float32), 64)?;
    let mut batched_rates = Vec::new();
    for &r in rows {
        batched_rates.push((r, batched(&engine, &prompt, r, tokens)?));
    }
    // The peak of the inference work alone: the bandwidth probe below
    // allocates a 256 MiB matrix of its own.
    let peak_memory_bytes = peak_memory();
    drop(engine);
    let bw = memory_bandwidth()?;
    Ok(EngineBench {
        prompt_tokens: prompt.len(),
        prefill_tokens_per_s: prefill,
        decode_tokens: tokens,
        decode_tokens_per_s: dec,
        batched: batched_rates,
        peak_memory_bytes,
        weight_bytes,
        memory_bandwidth_gb_s: bw / 1e9,
        decode_bound_tokens_per_s: bw / weight_bytes.max(1) as f64,
    })
}
