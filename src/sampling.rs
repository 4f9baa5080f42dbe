//! Sampling math, with no MLX in it (the engine and search both use it).
//! Choosing the next token: greedy, or a draw from the proposal
//! q = softmax(z/τ) cut to the top-k and the top-p nucleus, renormalised;
//! seeded per caller (ChaCha), so the same seed gives the same tokens.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// How to pick tokens; `temperature == 0` is greedy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: f64,
}

impl SamplingParams {
    pub const GREEDY: SamplingParams = SamplingParams { temperature: 0.0, top_k: None, top_p: 1.0 };
}

/// log-softmax of `logits`, in f64.
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
    let sum: f64 = logits.iter().map(|&x| (f64::from(x) - max).exp()).sum();
    let lse = max + sum.ln();
    logits.iter().map(|&x| f64::from(x) - lse).collect()
}

/// Turns one row of logits into log-probabilities in place: x - logsumexp(x),
/// the sum taken in f64 over a branch-free f32 exp that the compiler
/// vectorizes. The engine's callers run it on their own threads, beside
/// the engine, instead of the engine running it on the vocabulary of every
/// row.
pub fn log_softmax_in_place(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    if !max.is_finite() {
        // All -inf, or a NaN/inf logit: the slow path says what it is.
        let lp = log_softmax(row);
        for (x, l) in row.iter_mut().zip(lp) {
            *x = l as f32;
        }
        return;
    }
    const LANES: usize = 8;
    let mut acc = [0f64; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in chunks.by_ref() {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f64::from(exp_nonpositive(x - max));
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&x| f64::from(exp_nonpositive(x - max))).sum();
    let lse = (f64::from(max) + (acc.iter().sum::<f64>() + tail).ln()) as f32;
    for x in row.iter_mut() {
        *x -= lse;
    }
}

/// e^x for x <= 0 within 2 ulp (0 below -87): x = n ln2 + r with
/// |r| <= ln2/2, e^r by its degree-7 Taylor polynomial, times 2^n built
/// from the exponent bits. No branches, so loops over it vectorize.
#[inline(always)]
fn exp_nonpositive(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.max(-87.0);
    // Round to nearest by the 1.5 * 2^23 trick (exact for |t| < 2^22).
    let n = (x * std::f32::consts::LOG2_E + 12_582_912.0) - 12_582_912.0;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// Index of the largest logit; ties go to the smaller id.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Probabilities of softmax(z/τ), in f64, by token id.
fn probabilities(logits: &[f32], temperature: f64) -> Vec<f64> {
    let scaled: Vec<f32> = logits.iter().map(|&z| (f64::from(z) / temperature) as f32).collect();
    log_softmax(&scaled).into_iter().map(f64::exp).collect()
}

/// Sort key of (token, probability): ascending keys are descending
/// probabilities, ties by smaller id. Probabilities are non-negative, so
/// their bit patterns order as the numbers do.
fn order_key(id: usize, q: f64) -> u128 {
    (u128::from(!q.to_bits()) << 32) | id as u128
}

fn from_key(key: u128, qs: &[f64]) -> (u32, f64) {
    let id = (key & 0xffff_ffff) as u32;
    (id, qs[id as usize])
}

/// The proposal's support and probabilities (descending, ties by id).
pub fn proposal(logits: &[f32], p: &SamplingParams) -> Vec<(u32, f64)> {
    let qs = probabilities(logits, p.temperature);
    let mut keys: Vec<u128> = qs.iter().enumerate().map(|(i, &q)| order_key(i, q)).collect();
    keys.sort_unstable();
    let mut order: Vec<(u32, f64)> = keys.into_iter().map(|k| from_key(k, &qs)).collect();
    if let Some(k) = p.top_k.filter(|k| *k > 0) {
        order.truncate(k);
    }
    if p.top_p < 1.0 {
        let mut cum = 0.0;
        let mut keep = 0;
        for (_, q) in &order {
            keep += 1;
            cum += q;
            if cum >= p.top_p {
                break;
            }
        }
        order.truncate(keep.max(1));
    }
    let total: f64 = order.iter().map(|(_, q)| q).sum();
    order.into_iter().map(|(i, q)| (i, q / total)).filter(|(_, q)| *q > 0.0).collect()
}

/// The first `head` entries of [`proposal`] without ordering the rest of
/// the vocabulary (one selection pass instead of a full sort). The
/// probabilities are normalised over the whole support, as in `proposal`
/// (summed in another order when the head is shorter than the support, so
/// they may then differ from it in the last bit).
/// Returns the entries and whether they are all of the proposal.
pub fn proposal_head(logits: &[f32], p: &SamplingParams, head: usize) -> (Vec<(u32, f64)>, bool) {
    if p.top_p < 1.0 || head == 0 {
        let full = proposal(logits, p);
        let complete = full.len() <= head;
        return (full.into_iter().take(head).collect(), complete);
    }
    let qs = probabilities(logits, p.temperature);
    let mut keys: Vec<u128> = qs.iter().enumerate().map(|(i, &q)| order_key(i, q)).collect();
    let support = p.top_k.filter(|k| *k > 0).unwrap_or(keys.len()).min(keys.len());
    if support < keys.len() {
        keys.select_nth_unstable(support);
        keys.truncate(support);
    }
    if head >= keys.len() {
        // All of it: the full proposal's arithmetic exactly.
        keys.sort_unstable();
    }
    let total: f64 = keys.iter().map(|&k| from_key(k, &qs).1).sum();
    let positive = keys.iter().filter(|&&k| from_key(k, &qs).1 > 0.0).count();
    if head < keys.len() {
        keys.select_nth_unstable(head);
        keys.truncate(head);
        keys.sort_unstable();
    }
    let entries: Vec<(u32, f64)> =
        keys.into_iter().map(|k| from_key(k, &qs)).map(|(i, q)| (i, q / total)).filter(|(_, q)| *q > 0.0).collect();
    (entries, positive <= head)
}

/// A seeded token picker for one caller.
pub struct Sampler {
    rng: ChaCha20Rng,
}

impl Sampler {
    pub fn new(seed: u64) -> Sampler {
        Sampler { rng: ChaCha20Rng::seed_from_u64(seed) }
    }

    pub fn pick(&mut self, logits: &[f32], p: &SamplingParams) -> u32 {
        if p.temperature <= 0.0 {
            return argmax(logits);
        }
        let q = proposal(logits, p);
        let u: f64 = self.rng.random::<f64>();
        let mut cum = 0.0;
        for (id, prob) in &q {
            cum += prob;
            if u < cum {
                return *id;
            }
        }
        q.last().map_or_else(|| argmax(logits), |(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_breaks_ties_towards_the_smaller_id() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_k_and_top_p_cut_the_proposal() {
        let logits = [2.0f32, 1.0, 0.0, -1.0];
        let k2 = proposal(&logits, &SamplingParams { temperature: 1.0, top_k: Some(2), top_p: 1.0 });
        assert_eq!(k2.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1]);
        assert!((k2.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
        let nucleus = proposal(&logits, &SamplingParams { temperature: 1.0, top_k: None, top_p: 0.5 });
        assert_eq!(nucleus.len(), 1, "the top token alone holds over half the mass");
    }

    #[test]
    fn the_head_equals_the_start_of_the_full_proposal() {
        // Many ties, a top-k cut and none, heads shorter and longer than the support.
        let logits: Vec<f32> = (0..400).map(|i| ((i * 37) % 23) as f32 * 0.2 - 2.0).collect();
        for top_k in [None, Some(5), Some(60)] {
            let p = SamplingParams { temperature: 0.7, top_k, top_p: 1.0 };
            let full = proposal(&logits, &p);
            for head in [1, 4, 5, 17, 60, 400, 500] {
                let (h, complete) = proposal_head(&logits, &p, head);
                assert_eq!(complete, full.len() <= head, "top_k {top_k:?} head {head}");
                assert_eq!(h.len(), head.min(full.len()));
                for (a, b) in h.iter().zip(&full) {
                    assert_eq!(a.0, b.0, "top_k {top_k:?} head {head}");
                    assert!((a.1 - b.1).abs() <= 1e-15 * b.1.max(1e-300) * 10.0 + 1e-17, "{a:?} vs {b:?}");
                }
            }
        }
    }

    #[test]
    fn the_fast_log_softmax_equals_the_f64_one() {
        // A vocabulary-sized row with a wide spread, a tail beyond e^-87 and
        // a length that is not a multiple of the lanes.
        let row: Vec<f32> = (0..49_157).map(|i| ((i * 7919) % 4001) as f32 * 0.031 - 95.0).collect();
        let want = log_softmax(&row);
        let mut got = row.clone();
        log_softmax_in_place(&mut got);
        let d = got.iter().zip(&want).map(|(&a, &b)| (f64::from(a) - b).abs()).fold(0.0, f64::max);
        assert!(d <= 2e-5, "max |Δ| = {d}");
        // exp itself, from 0 down to the clamp.
        for i in 0..=19_300 {
            let x = -(i as f32) * 0.0045;
            let (a, b) = (f64::from(exp_nonpositive(x)), f64::from(x).exp());
            assert!((a - b).abs() <= 3e-7 * b, "exp({x}): {a} vs {b}");
        }
        assert_eq!(exp_nonpositive(-200.0), exp_nonpositive(-87.0), "clamped below -87");
        // Rows that the fast path cannot take keep the exact behaviour.
        let mut all_low = vec![f32::NEG_INFINITY; 3];
        log_softmax_in_place(&mut all_low);
        assert!(all_low.iter().all(|x| x.is_nan()));
    }

    #[test]
    fn the_same_seed_gives_the_same_draws() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let p = SamplingParams { temperature: 1.0, top_k: None, top_p: 1.0 };
        let draw = |seed| {
            let mut s = Sampler::new(seed);
            (0..20).map(|_| s.pick(&logits, &p)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }
}
