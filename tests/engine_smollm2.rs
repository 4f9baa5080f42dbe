//! The engine on the real SmolLM2-135M GGUF that setup installs: known
//! answers, cache correctness, tokenizer behaviour and bad input.

use crate::common;

use std::sync::{Mutex, MutexGuard, OnceLock};

use mlx_rs::{Array, Dtype};
use runner::engine::generate::generate;
use runner::engine::kv_cache::SeqCache;
use runner::engine::model::{load, LoadedModel};
use runner::engine::tokenizer::Message;
use runner::engine::EngineError;
use runner::sampling::SamplingParams;

const SMOLLM2: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
/// f32 logits of cached and uncached paths agree to this (absolute).
const TOL: f32 = 1e-4;
/// One-token steps against a whole-sequence pass: the projections run as
/// matrix-vector products in one and as matrix products in the other,
/// whose sums round differently; over 30 layers that moves logits by up
/// to about 1.1e-4 on this prompt (0.9e-4 with MLX's own exp).
const STEP_TOL: f32 = 2e-4;

fn model() -> MutexGuard<'static, LoadedModel> {
    static MODEL: OnceLock<Mutex<LoadedModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Mutex::new(load(SMOLLM2, Dtype::Float32).expect("SmolLM2 from the asset cache (run `make setup`)")))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn ids(tokens: &[u32]) -> Array {
    let v: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
    Array::from_slice(&v, &[1, v.len() as i32])
}

/// Logits `[len, vocab]` of row 0 as rows of f32.
fn rows(logits: &Array) -> Vec<Vec<f32>> {
    let shape = logits.shape().to_vec();
    let flat = logits.as_dtype(Dtype::Float32).unwrap();
    flat.eval().unwrap();
    let data = flat.as_slice::<f32>();
    let (len, vocab) = (shape[shape.len() - 2] as usize, shape[shape.len() - 1] as usize);
    (0..len).map(|i| data[i * vocab..(i + 1) * vocab].to_vec()).collect()
}

#[test]
fn greedy_knows_the_capital_of_france() {
    let m = model();
    let prompt = m.tokenizer.encode("The capital of France is").unwrap();
    let g = generate(&m, &prompt, 3, &SamplingParams::GREEDY, 0).unwrap();
    assert!(g.text.starts_with(" Paris"), "got {:?}", g.text);
    assert_eq!(g.logprobs.len(), g.generated_ids.len());
    assert_eq!(g.top10.len(), 10);
    assert_eq!(g.top10[0].id, g.generated_ids[0], "greedy takes the top token");
}

#[test]
fn kept_quantized_the_gguf_model_gives_the_same_answer() {
    let _m = model();
    let q = load(SMOLLM2, runner::engine::model::ComputeDtype::Quantized).unwrap();
    assert_eq!(q.compute, "quantized");
    assert!(q.model.is_quantized());
    let prompt = q.tokenizer.encode("The capital of France is").unwrap();
    let g = generate(&q, &prompt, 3, &SamplingParams::GREEDY, 0).unwrap();
    assert!(g.text.starts_with(" Paris"), "got {:?}", g.text);
}

#[test]
fn cached_decoding_equals_recomputing_the_whole_sequence() {
    let m = model();
    let tokens = m.tokenizer.encode("The quick brown fox jumps over the lazy dog. 12345").unwrap();
    let n = m.model.num_layers();
    let full = rows(&m.model.forward(&ids(&tokens), &mut SeqCache::new(n)).unwrap());
    let mut cache = SeqCache::new(n);
    let split = 4;
    let first = rows(&m.model.forward(&ids(&tokens[..split]), &mut cache).unwrap());
    assert!(common::max_diff(&first[split - 1], &full[split - 1]) <= TOL);
    for t in split..tokens.len() {
        let step = rows(&m.model.forward(&ids(&tokens[t..t + 1]), &mut cache).unwrap());
        let d = common::max_diff(&step[0], &full[t]);
        assert!(d <= STEP_TOL, "position {t}: max |Δ| = {d}");
    }
    assert_eq!(cache.len(), tokens.len());
    assert!(cache.nbytes() > 0);
}

#[test]
fn forks_and_trims_equal_independent_computation() {
    let m = model();
    let n = m.model.num_layers();
    let prefix = m.tokenizer.encode("Series: 1, 2, 3,").unwrap();
    let a = m.tokenizer.encode(" 4, 5").unwrap();
    let b = m.tokenizer.encode(" 9").unwrap();
    let fresh = |tail: &[u32]| {
        let all: Vec<u32> = prefix.iter().chain(tail).copied().collect();
        rows(&m.model.forward(&ids(&all), &mut SeqCache::new(n)).unwrap()).pop().unwrap()
    };

    let mut parent = SeqCache::new(n);
    m.model.forward(&ids(&prefix), &mut parent).unwrap();
    let mut fa = parent.fork();
    let mut fb = parent.fork();
    let la = rows(&m.model.forward(&ids(&a), &mut fa).unwrap()).pop().unwrap();
    let lb = rows(&m.model.forward(&ids(&b), &mut fb).unwrap()).pop().unwrap();
    assert!(common::max_diff(&la, &fresh(&a)) <= TOL);
    assert!(common::max_diff(&lb, &fresh(&b)) <= TOL);
    assert_eq!(parent.len(), prefix.len(), "forks leave the parent as it was");

    // Decode A, trim back to the prefix, decode B: as if A never happened.
    let mut c = parent.fork();
    m.model.forward(&ids(&a), &mut c).unwrap();
    c.trim(prefix.len()).unwrap();
    let lt = rows(&m.model.forward(&ids(&b), &mut c).unwrap()).pop().unwrap();
    assert!(common::max_diff(&lt, &fresh(&b)) <= TOL);
}

#[test]
fn rows_of_a_batch_equal_single_rows() {
    let m = model();
    let n = m.model.num_layers();
    let x = m.tokenizer.encode("one two three").unwrap();
    let y = m.tokenizer.encode("four five six").unwrap();
    assert_eq!(x.len(), y.len());
    let both: Vec<i32> = x.iter().chain(&y).map(|&t| t as i32).collect();
    let batch = m.model.forward(&Array::from_slice(&both, &[2, x.len() as i32]), &mut SeqCache::new(n)).unwrap();
    let batch = batch.as_dtype(Dtype::Float32).unwrap();
    batch.eval().unwrap();
    let vocab = *batch.shape().last().unwrap() as usize;
    let data = batch.as_slice::<f32>();
    let last = |row: usize| data[(row * x.len() + x.len() - 1) * vocab..(row * x.len() + x.len()) * vocab].to_vec();
    let single = |t: &[u32]| rows(&m.model.forward(&ids(t), &mut SeqCache::new(n)).unwrap()).pop().unwrap();
    assert!(common::max_diff(&last(0), &single(&x)) <= TOL);
    assert!(common::max_diff(&last(1), &single(&y)) <= TOL);
}

#[test]
fn tokenizer_round_trips_and_splits_digits() {
    let m = model();
    for text in ["Hello, world!", "  leading spaces\nand lines\n", "x = 3.14159; y = -2e10", "naïve café ✓ 東京", "<|im_start|>user"]
    {
        let ids = m.tokenizer.encode(text).unwrap();
        assert_eq!(m.tokenizer.decode(&ids).unwrap(), text);
    }
    let digits = m.tokenizer.encode("12345").unwrap();
    assert_eq!(digits.len(), 5, "one token per digit");
    let pieces: Vec<String> = digits.iter().map(|&i| m.tokenizer.token(i).unwrap()).collect();
    assert_eq!(pieces, ["1", "2", "3", "4", "5"]);
    let special = m.tokenizer.encode("<|im_start|>").unwrap();
    assert_eq!(special.len(), 1, "special-token strings become their token");
}

#[test]
fn chat_template_renders_a_two_message_conversation() {
    let m = model();
    let text = m.tokenizer.apply_chat_template(&[Message::new("system", "Be brief."), Message::new("user", "Hi")], true).unwrap();
    assert_eq!(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    let default_system = m.tokenizer.apply_chat_template(&[Message::new("user", "Hi")], false).unwrap();
    assert_eq!(
        default_system,
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    );
}

#[test]
fn the_same_seed_gives_the_same_sample() {
    let m = model();
    let prompt = m.tokenizer.encode("Once upon a time").unwrap();
    let p = SamplingParams { temperature: 1.0, top_k: Some(20), top_p: 0.95 };
    let a = generate(&m, &prompt, 6, &p, 11).unwrap();
    let b = generate(&m, &prompt, 6, &p, 11).unwrap();
    assert_eq!(a.generated_ids, b.generated_ids);
    assert_eq!(a.logprobs, b.logprobs);
}

#[test]
fn bad_input_is_a_clear_error() {
    // Hold the shared model throughout: MLX work stays on one thread at a time.
    let m = model();
    assert!(matches!(load("/nonexistent/model.gguf", Dtype::Float32), Err(EngineError::ModelNotFound(_))));
    let dir = tempfile::tempdir().unwrap();
    let corrupt = dir.path().join("corrupt.gguf");
    std::fs::write(&corrupt, b"GGUF\x03\x00\x00\x00garbage that is not a header").unwrap();
    match load(corrupt.to_str().unwrap(), Dtype::Float32) {
        Err(EngineError::BadModel(msg)) => assert!(msg.contains("corrupt.gguf"), "{msg}"),
        Err(other) => panic!("expected BadModel, got {other}"),
        Ok(_) => panic!("a corrupt GGUF loaded"),
    }
    // A real model file cut short.
    let real = std::fs::read(&m.path).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    match load(truncated.to_str().unwrap(), Dtype::Float32) {
        Err(EngineError::BadModel(msg)) => assert!(msg.contains("past the end of the file"), "{msg}"),
        Err(other) => panic!("expected BadModel, got {other}"),
        Ok(_) => panic!("a truncated GGUF loaded"),
    }
    // A tensor type MLX cannot read (Q6_K).
    let mut q6k = b"GGUF".to_vec();
    q6k.extend(3u32.to_le_bytes());
    q6k.extend(1u64.to_le_bytes()); // tensors
    q6k.extend(0u64.to_le_bytes()); // metadata entries
    q6k.extend(1u64.to_le_bytes());
    q6k.push(b'x');
    q6k.extend(1u32.to_le_bytes());
    q6k.extend(256u64.to_le_bytes());
    q6k.extend(14u32.to_le_bytes());
    q6k.extend(0u64.to_le_bytes());
    q6k.resize(q6k.len().div_ceil(32) * 32 + 210, 0);
    let unsupported = dir.path().join("q6k.gguf");
    std::fs::write(&unsupported, &q6k).unwrap();
    match load(unsupported.to_str().unwrap(), Dtype::Float32) {
        Err(EngineError::Unsupported(msg)) => assert!(msg.contains("Q6_K"), "{msg}"),
        Err(other) => panic!("expected Unsupported, got {other}"),
        Ok(_) => panic!("a Q6_K GGUF loaded"),
    }
    let long = vec![1u32; 8200];
    assert!(matches!(generate(&m, &long, 4, &SamplingParams::GREEDY, 0), Err(EngineError::BadInput(_))));
    assert!(matches!(generate(&m, &[], 4, &SamplingParams::GREEDY, 0), Err(EngineError::BadInput(_))));
}
