//! The proposal q(·|s) and draws from it.

use rand::Rng;
use rand_chacha::ChaCha20Rng;

use super::error::SearchError;
use crate::sampling::{self, SamplingParams};

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

    fn sampling(&self) -> SamplingParams {
        SamplingParams { temperature: self.temperature, top_k: self.top_k, top_p: self.top_p }
    }
}

/// A proposal as (token, probability), probabilities descending, ties by
/// smaller id, all probabilities positive.
pub type Dist = Vec<(u32, f64)>;

/// The proposal for one row of log-probabilities (or logits).
pub fn proposal(logprobs: &[f32], params: &ProposalParams) -> Result<Dist, SearchError> {
    check_row(logprobs)?;
    let dist =
        if params.temperature <= 0.0 { vec![(sampling::argmax(logprobs), 1.0)] } else { sampling::proposal(logprobs, &params.sampling()) };
    check_dist(&dist)?;
    Ok(dist)
}

/// The proposal of one freshly computed row: its first entries in order,
/// and the row's log-probabilities to order the rest only when a draw
/// falls beyond them (rare: the head holds most of the mass).
pub struct RowProposal {
    pub head: Dist,
    /// The head is all of the proposal.
    pub complete: bool,
    logprobs: Vec<f32>,
}

/// Entries ordered up front for a draw without a cut.
const DRAW_HEAD: usize = 64;

impl RowProposal {
    /// `need`: entries callers read directly (kept at nodes, or a draw cut).
    pub fn new(logprobs: Vec<f32>, params: &ProposalParams, need: usize) -> Result<RowProposal, SearchError> {
        check_row(&logprobs)?;
        let (head, complete) = if params.temperature <= 0.0 {
            (vec![(sampling::argmax(&logprobs), 1.0)], true)
        } else {
            sampling::proposal_head(&logprobs, &params.sampling(), need.max(DRAW_HEAD) + 1)
        };
        check_dist(&head)?;
        Ok(RowProposal { head, complete, logprobs })
    }

    /// A proposal already known in full.
    pub fn known(full: Dist) -> RowProposal {
        RowProposal { head: full, complete: true, logprobs: Vec::new() }
    }

    fn full(&self, params: &ProposalParams) -> Result<Dist, SearchError> {
        proposal(&self.logprobs, params)
    }

    /// What `draw(full, cut, rng)` gives on the full proposal, ordering the
    /// tail only when the draw lands in it.
    pub fn draw(&self, params: &ProposalParams, cut: Option<usize>, rng: &mut ChaCha20Rng) -> Result<Option<(u32, f64)>, SearchError> {
        match cut {
            Some(k) if k < self.head.len() || self.complete => Ok(draw(&self.head, Some(k), rng)),
            Some(_) => Ok(draw(&self.full(params)?, cut, rng)),
            None => {
                let u: f64 = rng.random::<f64>();
                match locate(&self.head, u, self.complete) {
                    Some(x) => Ok(Some(x)),
                    None => Ok(locate(&self.full(params)?, u, true)),
                }
            }
        }
    }
}

fn check_row(logprobs: &[f32]) -> Result<(), SearchError> {
    if logprobs.is_empty() {
        return Err(SearchError::ModelOutput("empty log-probability row".into()));
    }
    if logprobs.iter().any(|x| x.is_nan()) {
        return Err(SearchError::ModelOutput("NaN in log-probabilities".into()));
    }
    Ok(())
}

fn check_dist(dist: &Dist) -> Result<(), SearchError> {
    if dist.is_empty() || dist.iter().any(|(_, q)| !q.is_finite()) {
        return Err(SearchError::ModelOutput("the proposal has no finite support".into()));
    }
    Ok(())
}

/// The part of a proposal kept at a tree node: its first entries, and
/// whether they are all of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseDist {
    pub entries: Dist,
    pub complete: bool,
}

impl SparseDist {
    /// The first `keep` entries of `head`, the start of a proposal that
    /// `complete` says whether it ends there.
    pub fn keep(head: &Dist, complete: bool, keep: usize) -> SparseDist {
        let n = keep.max(1).min(head.len());
        SparseDist { entries: head[..n].to_vec(), complete: complete && n == head.len() }
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
