//! Selection rules of the tree methods (docs/algorithms.md §3–5) as pure
//! functions of the numbers a node and its children hold. The methods call
//! these; the unit tests check them on small trees computed by hand.

use super::super::lme::{argmax_by, Choice, Tilt};

/// Q̃ = (mean − lo)/(hi − lo) of a node with `visits` visits and reward sum
/// `w_sum`; 0 before its first visit or while `lo == hi` (or no bounds).
pub(crate) fn normalised_value(w_sum: f64, visits: u64, bounds: Option<(f64, f64)>) -> f64 {
    match bounds {
        Some((lo, hi)) if hi > lo && visits > 0 => (w_sum / visits as f64 - lo) / (hi - lo),
        _ => 0.0,
    }
}

/// UCT: `value + c·√(ln n(s) / n(c))`, +∞ for a child with no visit. MCTS
/// passes Q̃(c) (scale [0, 1]); DTS* passes the raw soft value v̂(s·a).
pub(crate) fn uct_score(value: f64, c: f64, n_s: u64, n_c: u64) -> f64 {
    if n_c == 0 {
        return f64::INFINITY;
    }
    value + c * ((n_s.max(1) as f64).ln() / n_c as f64).sqrt()
}

/// PUCT: `Q̃(c) + c·P(a|s)·√n(s) / (1 + n(c))`.
pub(crate) fn puct_score(q: f64, c: f64, prior: f64, n_s: u64, n_c: u64) -> f64 {
    q + c * prior * (n_s as f64).sqrt() / (1.0 + n_c as f64)
}

/// The Q̃ an untried PUCT action is scored with: Q̃(s), or 0 when n(s) = 0.
pub(crate) fn first_play_urgency(n_s: u64, q_s: f64) -> f64 {
    if n_s == 0 {
        0.0
    } else {
        q_s
    }
}

/// The MCTS exploration rule and its constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Explore {
    Uct(f64),
    Puct(f64),
}

/// An expanded, selectable child as MCTS sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Arm {
    pub token: u32,
    /// P(a|s) over the candidate set.
    pub prior: f64,
    /// Q̃(c).
    pub q: f64,
    /// n(c), pending visits included.
    pub visits: u64,
}

/// What MCTS does at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// Descend into `kids[i]`.
    Child(usize),
    /// Expand `untried[i]`.
    Untried(usize),
}

/// MCTS selection at a node with `n_s` visits and value `q_s`, over its
/// selectable children and its untried `(token, prior)` actions. UCT
/// expands an untried action whenever there is one (highest prior first);
/// PUCT scores untried actions with n = 0 and Q̃ = first-play urgency.
/// Ties go to the larger prior, then the smaller token. `None`: nothing
/// is selectable.
pub(crate) fn mcts_pick(rule: Explore, n_s: u64, q_s: f64, kids: &[Arm], untried: &[(u32, f64)]) -> Option<Pick> {
    let as_choice = |token: u32, prior: f64| Choice { weight: prior, value: 0.0, token };
    let untried_opts: Vec<Choice> = untried.iter().map(|&(t, p)| as_choice(t, p)).collect();
    let mut opts: Vec<Choice> = kids.iter().map(|k| as_choice(k.token, k.prior)).collect();
    let mut scores: Vec<f64> = Vec::with_capacity(kids.len() + untried.len());
    match rule {
        Explore::Uct(c) => {
            if let Some(j) = argmax_by(&untried_opts, |_, _| f64::INFINITY) {
                return Some(Pick::Untried(j));
            }
            scores.extend(kids.iter().map(|k| uct_score(k.q, c, n_s, k.visits)));
        }
        Explore::Puct(c) => {
            let fpu = first_play_urgency(n_s, q_s);
            scores.extend(kids.iter().map(|k| puct_score(k.q, c, k.prior, n_s, k.visits)));
            scores.extend(untried.iter().map(|&(_, p)| puct_score(fpu, c, p, n_s, 0)));
            opts.extend(untried_opts);
        }
    }
    let i = argmax_by(&opts, |i, _| scores[i])?;
    Some(if i < kids.len() { Pick::Child(i) } else { Pick::Untried(i - kids.len()) })
}

/// DTS*'s pick among children with `visits[i]` visits each: the largest
/// [`uct_score`] on raw soft values, so an unvisited child (top-k mode)
/// comes first, the largest weight first among several.
pub(crate) fn soft_uct_pick(c: f64, n_s: u64, options: &[Choice], visits: &[u64]) -> Option<usize> {
    argmax_by(options, |i, o| uct_score(o.value, c, n_s, visits.get(i).copied().unwrap_or(0)))
}

/// A child of a MaxEnt-TS node: its weight w_a, its token and v̂(s·a)
/// (`None` while unvisited).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TopKChild {
    pub token: u32,
    pub weight: f64,
    pub value: Option<f64>,
}

/// The Boltzmann choice of MaxEnt-TS (and top-k DTS) at a node whose
/// current estimate is `parent`: option values ṽ_a = v̂(s·a) when visited,
/// else v̂(s); with no estimate yet the choice is ∝ w_a (λ = 0).
pub(crate) fn maxent_choices(tilt: Tilt, parent: Option<f64>, kids: &[TopKChild]) -> (Tilt, Vec<Choice>) {
    let (tilt, fallback) = match parent {
        Some(v) => (tilt, v),
        None => (Tilt::Mean, 0.0),
    };
    let choices = kids.iter().map(|k| Choice { weight: k.weight, value: k.value.unwrap_or(fallback), token: k.token }).collect();
    (tilt, choices)
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
