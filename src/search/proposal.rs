//! The proposal q(·|s) and draws from it.

use rand::Rng;
use rand_chacha::ChaCha20Rng;

use super::error::SearchError;
use crate::engine::sampling::{self, SamplingParams};

/// How logits become the proposal: softmax(z/τ), top-k, top-p, renormalise.
/// `temperature == 0` is the one-hot argmax (ties to the smaller id).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProposalParams {
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: f64,
}

impl ProposalParams {
    pub const GREEDY: ProposalParams = ProposalParams { temperature: 0.0, top_k: None, top_p: 1.0 };
}

/// A proposal as (token, probability), probabilities descending, ties by
/// smaller id, all probabilities positive.
pub type Dist = Vec<(u32, f64)>;

/// The proposal for one row of log-probabilities (or logits).
pub fn proposal(logprobs: &[f32], params: &ProposalParams) -> Result<Dist, SearchError> {
    if logprobs.is_empty() {
        return Err(SearchError::ModelOutput("empty log-probability row".into()));
    }
    if logprobs.iter().any(|x| x.is_nan()) {
        return Err(SearchError::ModelOutput("NaN in log-probabilities".into()));
    }
    let dist = if params.temperature <= 0.0 {
        vec![(sampling::argmax(logprobs), 1.0)]
    } else {
        sampling::proposal(
            logprobs,
            &SamplingParams { temperature: params.temperature, top_k: params.top_k, top_p: params.top_p },
        )
    };
    if dist.is_empty() || dist.iter().any(|(_, q)| !q.is_finite()) {
        return Err(SearchError::ModelOutput("the proposal has no finite support".into()));
    }
    Ok(dist)
}

/// The part of a proposal kept at a tree node: its first entries, and
/// whether they are all of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseDist {
    pub entries: Dist,
    pub complete: bool,
}

impl SparseDist {
    pub fn keep(full: &Dist, keep: usize) -> SparseDist {
        let n = keep.max(1).min(full.len());
        SparseDist { entries: full[..n].to_vec(), complete: n == full.len() }
    }

    /// The probability of `token`, when it is among the kept entries.
    pub fn prob(&self, token: u32) -> Option<f64> {
        self.entries.iter().find(|(t, _)| *t == token).map(|(_, q)| *q)
    }
}

/// Inverse-CDF position of `u ∈ [0,1)` in `entries`. `None` when `u` lies
/// beyond the listed mass and `complete` is false (the draw falls in the
/// unlisted tail); with `complete`, rounding slack goes to the last entry.
pub fn locate(entries: &[(u32, f64)], u: f64, complete: bool) -> Option<(u32, f64)> {
    let mut cum = 0.0;
    for &(t, q) in entries {
        cum += q;
        if u < cum {
            return Some((t, q));
        }
    }
    if complete {
        entries.last().copied()
    } else {
        None
    }
}

/// A draw from the first `cut` entries of a full proposal, renormalised
/// (no cut: the whole proposal). Returns the token and its probability
/// under the uncut proposal.
pub fn draw(full: &[(u32, f64)], cut: Option<usize>, rng: &mut ChaCha20Rng) -> Option<(u32, f64)> {
    let u: f64 = rng.random::<f64>();
    match cut {
        Some(k) if k < full.len() => {
            let head = &full[..k.max(1)];
            let total: f64 = head.iter().map(|(_, q)| q).sum();
            locate(head, u * total, true)
        }
        _ => locate(full, u, true),
    }
}

/// A standard Gumbel variate, in f64.
pub fn gumbel(rng: &mut ChaCha20Rng) -> f64 {
    let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    -(-u.ln()).ln()
}
