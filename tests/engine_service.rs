//! The engine loop: many callers share batched passes; batches, and so
//! every token and log-probability, do not depend on timing.

use crate::common;

use std::sync::{Arc, Mutex, MutexGuard};

use mlx_rs::Dtype;
use runner::engine::model::{load, LoadedModel};
use runner::engine::service::{EngineOptions, EngineService, SeqId, Session};
use runner::sampling::{Sampler, SamplingParams};

const SMOLLM2: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn service(max_rows: usize) -> EngineService {
    EngineService::start(|| load(SMOLLM2, Dtype::Float32), max_rows).expect("SmolLM2 from the asset cache")
}

/// How far a row computed in a batch may be from the same row computed
/// alone: a batch changes the shape of every matmul and so BLAS's f32
/// summation order; rows agree to 1e-3 in log-probability.
const BATCH_TOL: f32 = 1e-3;

/// Asserts that `got` equals the log-probabilities after `tokens`
/// computed from scratch by `direct`, within `BATCH_TOL`.
fn assert_fresh(direct: &LoadedModel, what: &str, got: &[f32], tokens: &[u32]) {
    let d = common::max_diff(got, &common::fresh_last_logprobs(direct, tokens));
    assert!(d <= BATCH_TOL, "{what}: max |Δ| = {d} after {} tokens", tokens.len());
}

/// A loop of up to 8 rows per pass, whose one caller starts a sequence per
/// row of `rows` and sends them all in one request (each prompt is computed
/// in a pass of its own); each row's answer equals a fresh computation. Returns the loop, the caller and the sequences.
fn first_pass_equals_fresh(rows: &[Vec<u32>]) -> (EngineService, Session, Vec<SeqId>) {
    let direct = load(SMOLLM2, Dtype::Float32).unwrap();
    let single: Vec<Vec<f32>> = rows.iter().map(|t| common::fresh_last_logprobs(&direct, t)).collect();
    drop(direct);
    let engine = service(8);
    let s = engine.group(1).unwrap().pop().unwrap();
    let seqs: Vec<_> = rows.iter().map(|_| s.new_seq(None).unwrap()).collect();
    let out = s.forward_rows(seqs.iter().copied().zip(rows.iter().cloned()).collect()).unwrap();
    for (i, (a, b)) in out.iter().zip(&single).enumerate() {
        let d = common::max_diff(a, b);
        assert!(d <= BATCH_TOL, "row {i}: max |Δ| = {d}");
    }
    (engine, s, seqs)
}

/// 16 concurrent sampled generations; returns every caller's tokens and log-probs.
fn sixteen_searches(engine: &EngineService) -> Vec<(Vec<u32>, Vec<f32>)> {
    let sessions = engine.group(16).unwrap();
    let handles: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let prompt: Vec<u32> = match i % 4 {
                // Token ids of different lengths per caller.
                0 => vec![1, 31, 42, 43, 44],
                1 => vec![504, 3575, 282, 4649, 314],
                2 => vec![9138, 2070, 253],
                _ => vec![104, 446, 216, 39, 45, 346, 446],
            };
            std::thread::spawn(move || {
                let seq = s.new_seq(None).unwrap();
                let mut sampler = Sampler::new(100 + i as u64);
                let params = SamplingParams { temperature: 1.0, top_k: Some(40), top_p: 0.95 };
                let mut lp = s.forward(seq, &prompt).unwrap();
                let (mut tokens, mut logprobs) = (Vec::new(), Vec::new());
                for _ in 0..(6 + i % 5) {
                    let next = sampler.pick(&lp, &params);
                    tokens.push(next);
                    logprobs.push(lp[next as usize]);
                    lp = s.forward(seq, &[next]).unwrap();
                }
                (tokens, logprobs)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn the_same_searches_give_the_same_bits_twice() {
    let _g = serial();
    let engine = service(16);
    let first = sixteen_searches(&engine);
    let second = sixteen_searches(&engine);
    assert_eq!(first.len(), 16);
    for (i, (a, b)) in first.iter().zip(&second).enumerate() {
        assert_eq!(a.0, b.0, "caller {i}: tokens");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.1), bits(&b.1), "caller {i}: log-probs bitwise");
    }
    let stats = engine.stats().unwrap();
    // Each prompt has a pass of its own; the decode steps of the sixteen
    // callers share theirs.
    let decode_batch = (stats.rows - stats.prefills) as f64 / (stats.passes - stats.prefills) as f64;
    assert!(decode_batch > 8.0, "callers share passes: mean decode batch {decode_batch}");
    assert!(stats.peak_cache_bytes > 0);
}

#[test]
fn batched_rows_of_different_lengths_equal_single_rows() {
    let _g = serial();
    let rows: Vec<Vec<u32>> = vec![vec![504, 3575, 282, 4649, 314], vec![9138, 2070], vec![1, 31, 42, 43, 44, 45, 46]];
    let (engine, s, seqs) = first_pass_equals_fresh(&rows);
    // Continue the shortest row by one token while forking the longest.
    let fork = s.new_seq(Some(seqs[2])).unwrap();
    let next = s.forward_rows(vec![(seqs[1], vec![11]), (fork, vec![12])]).unwrap();
    assert_eq!(next.len(), 2);
    s.trim(fork, 3).unwrap();
    assert!(s.forward(fork, &[13]).is_ok());
    drop(s);
    let stats = engine.stats().unwrap();
    // One pass per prompt, then the continuation and the fork's step.
    assert_eq!(stats.passes, 5);
}

/// A prompt served from the prompt cache gives the bits of computing it
/// anew: the same sixteen searches (four distinct prompts) with the cache
/// off and on, and again on the warm cache.
#[test]
fn cached_prompts_give_the_bits_of_computing_them_anew() {
    let _g = serial();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let same = |a: &[(Vec<u32>, Vec<f32>)], b: &[(Vec<u32>, Vec<f32>)], what: &str| {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(x.0, y.0, "{what}, caller {i}: tokens");
            assert_eq!(bits(&x.1), bits(&y.1), "{what}, caller {i}: log-probs bitwise");
        }
    };
    let off = service(16);
    let reference = sixteen_searches(&off);
    assert_eq!(off.stats().unwrap().prompt_cache.lookups, 0, "no cache, no lookups");
    drop(off);

    let cached = EngineService::start_with(|| load(SMOLLM2, Dtype::Float32), EngineOptions { max_rows: 16, prompt_cache_bytes: 64 << 20 })
        .expect("SmolLM2 from the asset cache");
    same(&reference, &sixteen_searches(&cached), "cold cache");
    let stats = cached.stats().unwrap();
    // Four prompts (5, 5, 3 and 7 tokens), each asked for by four callers:
    // computed once each, the other twelve served.
    assert_eq!((stats.prompt_cache.lookups, stats.prompt_cache.hits), (16, 12));
    assert_eq!(stats.prompt_cache.tokens_reused, 3 * (5 + 5 + 3 + 7));
    assert!(stats.prompt_cache_bytes > 0);
    same(&reference, &sixteen_searches(&cached), "warm cache");
    let stats = cached.stats().unwrap();
    assert_eq!((stats.prompt_cache.lookups, stats.prompt_cache.hits), (32, 28));
}

#[test]
fn a_finished_caller_does_not_block_the_others() {
    let _g = serial();
    let engine = Arc::new(service(4));
    let mut sessions = engine.group(2).unwrap();
    let quitter = sessions.pop().unwrap();
    let worker = sessions.pop().unwrap();
    drop(quitter);
    let seq = worker.new_seq(None).unwrap();
    assert_eq!(worker.forward(seq, &[1, 2, 3]).unwrap().len(), engine.vocab_size().unwrap());
}

/// Decode steps of sequences of different lengths, with forks, trims and
/// releases in between (every path of the batch cache), against each
/// sequence's content computed from scratch.
#[test]
fn decode_steps_through_the_batch_cache_equal_fresh_computation() {
    let _g = serial();
    let direct = load(SMOLLM2, Dtype::Float32).unwrap();
    let close = |what: &str, got: &[f32], tokens: &[u32]| assert_fresh(&direct, what, got, tokens);
    let engine = service(16);
    let s = engine.group(1).unwrap().pop().unwrap();
    let mut content: Vec<Vec<u32>> = vec![vec![504, 3575, 282, 4649, 314], vec![9138, 2070], vec![1, 31, 42, 43, 44, 45, 46]];
    let mut seqs: Vec<_> = content.iter().map(|_| s.new_seq(None).unwrap()).collect();
    s.forward_rows(seqs.iter().copied().zip(content.iter().cloned()).collect()).unwrap();
    for step in 0..4u32 {
        let rows: Vec<_> = seqs.iter().enumerate().map(|(i, &q)| (q, vec![100 + 10 * i as u32 + step])).collect();
        for (i, (_, t)) in rows.iter().enumerate() {
            content[i].extend(t);
        }
        let out = s.forward_rows(rows).unwrap();
        for (i, lp) in out.iter().enumerate() {
            close(&format!("step {step} row {i}"), lp, &content[i]);
        }
    }
    // Fork a resident sequence, trim another, and decode both with a third.
    let fork = s.new_seq(Some(seqs[0])).unwrap();
    let mut fork_content = content[0].clone();
    s.trim(seqs[2], 5).unwrap();
    content[2].truncate(5);
    let rows = vec![(seqs[0], vec![7]), (fork, vec![8]), (seqs[2], vec![9])];
    content[0].push(7);
    fork_content.push(8);
    content[2].push(9);
    let out = s.forward_rows(rows).unwrap();
    close("parent after fork", &out[0], &content[0]);
    close("fork", &out[1], &fork_content);
    close("trimmed", &out[2], &content[2]);
    // Release one (its slot is reused), start a new sequence, and mix a
    // several-token row with decode rows in one pass.
    s.release(seqs[1]);
    let fresh_seq = s.new_seq(None).unwrap();
    let extra = vec![504, 3575, 282];
    let rows = vec![(fresh_seq, extra.clone()), (seqs[0], vec![5, 6]), (fork, vec![4])];
    content[0].extend([5, 6]);
    fork_content.push(4);
    let out = s.forward_rows(rows).unwrap();
    close("new sequence", &out[0], &extra);
    close("several tokens after decoding", &out[1], &content[0]);
    close("fork decoding on", &out[2], &fork_content);
    seqs[1] = fresh_seq;
    let mut extra = extra;
    extra.push(11);
    content[0].push(12);
    let out = s.forward_rows(vec![(fresh_seq, vec![11]), (seqs[0], vec![12])]).unwrap();
    close("new sequence decoding", &out[0], &extra);
    close("back in the batch", &out[1], &content[0]);
}

/// The batch cache keeps its buffers for the loop's lifetime: released
/// slots are reused, a sequence longer than the rows widens only the slots
/// up to the last one in use (holes included), and buffers holding nothing
/// are replaced when a longer sequence arrives. Every step against a fresh
/// computation.
#[test]
fn the_batch_cache_widens_and_is_reused_without_losing_a_row() {
    let _g = serial();
    let direct = load(SMOLLM2, Dtype::Float32).unwrap();
    let close = |what: &str, got: &[f32], tokens: &[u32]| assert_fresh(&direct, what, got, tokens);
    let ids = |n: usize, salt: u32| -> Vec<u32> { (0..n as u32).map(|i| 100 + (i * 37 + salt * 101) % 5000).collect() };
    let engine = service(16);
    let s = engine.group(1).unwrap().pop().unwrap();
    let mut content: Vec<Vec<u32>> = (0..4).map(|i| ids(3, i)).collect();
    let seqs: Vec<_> = content.iter().map(|_| s.new_seq(None).unwrap()).collect();
    s.forward_rows(seqs.iter().copied().zip(content.iter().cloned()).collect()).unwrap();
    // All four decode: they enter slots 0..4 together.
    let rows: Vec<_> = seqs.iter().enumerate().map(|(i, &q)| (q, vec![200 + i as u32])).collect();
    for (i, c) in content.iter_mut().enumerate() {
        c.push(200 + i as u32);
    }
    for (i, lp) in s.forward_rows(rows).unwrap().iter().enumerate() {
        close(&format!("first step of row {i}"), lp, &content[i]);
    }
    // Holes at slots 1 and 3; the first sequence leaves for a long step
    // past the rows' capacity, then decodes beside the third.
    s.release(seqs[1]);
    s.release(seqs[3]);
    let long = ids(260, 9);
    content[0].extend(&long);
    close("long step", &s.forward(seqs[0], &long).unwrap(), &content[0]);
    content[0].push(7);
    content[2].push(8);
    let out = s.forward_rows(vec![(seqs[0], vec![7]), (seqs[2], vec![8])]).unwrap();
    close("widened row", &out[0], &content[0]);
    close("row kept through the widening", &out[1], &content[2]);
    let bytes = engine.stats().unwrap().cache_bytes;
    // Everything released: a short newcomer reuses the buffers.
    s.release(seqs[0]);
    s.release(seqs[2]);
    let e = s.new_seq(None).unwrap();
    let mut short = ids(5, 3);
    s.forward(e, &short).unwrap();
    short.push(9);
    close("newcomer in a reused slot", &s.forward(e, &[9]).unwrap(), &short);
    assert!(engine.stats().unwrap().cache_bytes >= bytes - bytes / 4, "the buffers were given back");
    // A longer newcomer while only `e` is resident, then alone.
    s.release(e);
    let f = s.new_seq(None).unwrap();
    let mut longer = ids(600, 5);
    s.forward(f, &longer).unwrap();
    longer.push(10);
    close("600-position row", &s.forward(f, &[10]).unwrap(), &longer);
}

/// Sixteen forks of one 600-token prompt decode together holding one copy
/// of the prompt: the batch cache stores only each row's own positions and
/// every row attends over the shared prompt block. Rows still equal a fresh
/// computation.
#[test]
fn forks_of_a_prompt_share_one_copy_of_it_while_they_decode() {
    let _g = serial();
    let direct = load(SMOLLM2, Dtype::Float32).unwrap();
    let prompt: Vec<u32> = (0..600u32).map(|i| 100 + (i * 37) % 5000).collect();
    let engine = service(16);
    let s = engine.group(1).unwrap().pop().unwrap();
    let root = s.new_seq(None).unwrap();
    s.forward(root, &prompt).unwrap();
    let prompt_bytes = engine.stats().unwrap().cache_bytes;
    let per_token = prompt_bytes / prompt.len() as u64;
    assert!(per_token > 0);
    let forks: Vec<SeqId> = (0..16).map(|_| s.new_seq(Some(root)).unwrap()).collect();
    let mut content: Vec<Vec<u32>> = (0..16).map(|_| prompt.clone()).collect();
    for step in 0..2u32 {
        let rows: Vec<_> = forks.iter().enumerate().map(|(i, &f)| (f, vec![200 + i as u32 + 16 * step])).collect();
        for (i, c) in content.iter_mut().enumerate() {
            c.push(200 + i as u32 + 16 * step);
        }
        let out = s.forward_rows(rows).unwrap();
        for i in [0, 15] {
            assert_fresh(&direct, &format!("fork {i}, step {step}"), &out[i], &content[i]);
        }
    }
    let peak = engine.stats().unwrap().peak_cache_bytes;
    // The prompt once, and 16 rows of at most 64 own positions; copies of
    // the prompt per row would be 16 × 600 positions.
    assert!(
        peak >= prompt_bytes && peak <= prompt_bytes + 16 * 64 * per_token,
        "peak {peak} B, prompt {prompt_bytes} B, {per_token} B a position"
    );
}
