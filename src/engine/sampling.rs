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

/// The proposal's support and probabilities (descending, ties by id).
pub fn proposal(logits: &[f32], p: &SamplingParams) -> Vec<(u32, f64)> {
    let scaled: Vec<f32> = logits.iter().map(|&z| (f64::from(z) / p.temperature) as f32).collect();
    let lp = log_softmax(&scaled);
    let mut order: Vec<(u32, f64)> = lp.iter().enumerate().map(|(i, &l)| (i as u32, l.exp())).collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
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
