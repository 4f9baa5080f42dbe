//! The three-token toy of docs/algorithms.md §6 and helpers shared by the tests.
#![allow(dead_code)]

use runner::plan::MethodParams;
use runner::search::config::SearchConfig;
use runner::search::proposal::{proposal, ProposalParams};
use runner::search::toy::{ToyEvaluator, ToyModel};
use runner::search::{method_for, SearchInput, SearchOutcome};
use runner::spec::{Lambda, MethodKind};

pub const A: u32 = 0;
pub const B: u32 = 1;
pub const EOS: u32 = 2;
pub const PROMPT: [u32; 2] = [A, B];
pub const MAX_NEW: u32 = 3;

/// Logits per generated prefix: they differ per prefix, the root has a
/// near-tie (a vs b), `ab` an exact tie, and EOS keeps q ≥ 0.1 everywhere.
pub fn logits_table() -> Vec<(Vec<u32>, Vec<f32>)> {
    vec![
        (vec![], vec![1.0, 0.999, 0.2]),
        (vec![A], vec![0.5, 1.5, 0.0]),
        (vec![B], vec![1.2, 0.3, 0.4]),
        (vec![A, A], vec![0.0, 0.7, 0.1]),
        (vec![A, B], vec![1.0, 1.0, 0.5]),
        (vec![B, A], vec![-0.5, 0.2, 0.0]),
        (vec![B, B], vec![0.3, -0.2, 0.6]),
    ]
}

/// Rewards per decoded text (EOS decodes to nothing): negatives, a tie
/// ("aa" and "aaa"), a unique maximum ("aba").
pub fn reward_table() -> Vec<(String, f64)> {
    [
        ("", -0.5),
        ("a", 0.2),
        ("b", -0.1),
        ("aa", 0.4),
        ("ab", 0.9),
        ("ba", -0.3),
        ("bb", 0.1),
        ("aaa", 0.4),
        ("aab", -0.8),
        ("aba", 1.3),
        ("abb", 0.0),
        ("baa", 0.6),
        ("bab", -1.0),
        ("bba", 0.7),
        ("bbb", 0.3),
    ]
    .iter()
    .map(|(t, r)| (t.to_string(), *r))
    .collect()
}

pub fn model() -> ToyModel {
    ToyModel::from_table(PROMPT.to_vec(), logits_table())
}

pub fn evaluator() -> ToyEvaluator {
    ToyEvaluator::from_table(vec!["a".into(), "b".into(), String::new()], reward_table())
}

pub fn is_terminal(y: &[u32]) -> bool {
    !y.is_empty() && (y.len() as u32 >= MAX_NEW || *y.last().unwrap_or(&A) == EOS)
}

/// All 15 terminal sequences.
pub fn terminals() -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut stack = vec![vec![]];
    while let Some(p) = stack.pop() {
        for t in [A, B, EOS] {
            let mut y: Vec<u32> = p.clone();
            y.push(t);
            if is_terminal(&y) {
                out.push(y);
            } else {
                stack.push(y);
            }
        }
    }
    out.sort();
    out
}

/// All 21 non-root prefixes.
pub fn prefixes() -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    let mut stack = vec![vec![]];
    while let Some(p) = stack.pop() {
        if is_terminal(&p) {
            continue;
        }
        for t in [A, B, EOS] {
            let mut y: Vec<u32> = p.clone();
            y.push(t);
            out.push(y.clone());
            stack.push(y);
        }
    }
    out.sort();
    out
}

pub fn reward_of(y: &[u32]) -> f64 {
    let text: String = y
        .iter()
        .map(|&t| match t {
            A => "a",
            B => "b",
            _ => "",
        })
        .collect();
    reward_table().into_iter().find(|(t, _)| *t == text).map(|x| x.1).unwrap_or(f64::NAN)
}

/// q(·|s) at τ = 1 as the search computes it, cut to the top `k` (renormalised).
pub fn q(s: &[u32], k: usize) -> Vec<(u32, f64)> {
    let lp = model().log_probs(s).expect("non-terminal prefix");
    let full = proposal(&lp, &ProposalParams { temperature: 1.0, top_k: None, top_p: 1.0 }).expect("proposal");
    let head: Vec<(u32, f64)> = full.into_iter().take(k).collect();
    let total: f64 = head.iter().map(|x| x.1).sum();
    head.into_iter().map(|(t, p)| (t, p / total)).collect()
}

/// λ as used by the tests; `None` = ∞.
#[derive(Clone, Copy, Debug)]
pub enum Lam {
    Finite(f64),
    Inf,
}

pub const LAMBDAS: [Lam; 5] = [Lam::Finite(0.0), Lam::Finite(0.5), Lam::Finite(1.0), Lam::Finite(4.0), Lam::Inf];

/// Soft value of (weight, value) pairs, written out independently of the crate.
pub fn soft(lam: Lam, wv: &[(f64, f64)]) -> f64 {
    let total: f64 = wv.iter().map(|x| x.0).sum();
    match lam {
        Lam::Inf => wv.iter().map(|x| x.1).fold(f64::NEG_INFINITY, f64::max),
        Lam::Finite(0.0) => wv.iter().map(|(w, v)| w * v).sum::<f64>() / total,
        Lam::Finite(l) => {
            let m = wv.iter().map(|(_, v)| l * v).fold(f64::NEG_INFINITY, f64::max);
            (m + wv.iter().map(|(w, v)| w / total * (l * v - m).exp()).sum::<f64>().ln()) / l
        }
    }
}

/// V(s) under the top-`k` proposal.
pub fn value(s: &[u32], lam: Lam, k: usize) -> f64 {
    if is_terminal(s) {
        return reward_of(s);
    }
    let wv: Vec<(f64, f64)> = q(s, k)
        .into_iter()
        .map(|(t, p)| {
            let mut c = s.to_vec();
            c.push(t);
            (p, value(&c, lam, k))
        })
        .collect();
    soft(lam, &wv)
}

/// q(y) under the top-`k` proposal (0 outside its support).
pub fn q_seq(y: &[u32], k: usize) -> f64 {
    let mut p = 1.0;
    for i in 0..y.len() {
        p *= q(&y[..i], k).into_iter().find(|x| x.0 == y[i]).map_or(0.0, |x| x.1);
    }
    p
}

/// π*(y) ∝ q(y)·exp(λ r(y)) for finite λ.
pub fn target(lam: f64, k: usize) -> Vec<(Vec<u32>, f64)> {
    let ys = terminals();
    let un: Vec<f64> = ys.iter().map(|y| q_seq(y, k) * (lam * reward_of(y)).exp()).collect();
    let z: f64 = un.iter().sum();
    ys.into_iter().zip(un).map(|(y, u)| (y, u / z)).collect()
}

/// Params as the plan would fill them, plus overrides.
pub fn params(kind: MethodKind, extra: serde_json::Value) -> MethodParams {
    let mut base = serde_json::json!({
        "max_new_tokens": MAX_NEW,
        "sampling_temperature": 1.0,
        "top_p": 1.0,
    });
    match kind {
        MethodKind::Greedy => {
            base = serde_json::json!({ "max_new_tokens": MAX_NEW });
        }
        MethodKind::BestOfN => {
            base["num_rollouts"] = 5.into();
            base["lambda"] = 1.0.into();
            base["output"] = "best_found".into();
        }
        MethodKind::Mcts => {
            base["num_rollouts"] = 30.into();
            base["expansion_k"] = 3.into();
            base["c_uct"] = 1.0.into();
            base["c_puct"] = 1.0.into();
            base["selection"] = "uct".into();
            base["add_rollout_to_tree"] = false.into();
            base["prune_exhausted"] = true.into();
            base["parallel_rollouts"] = 1.into();
        }
        MethodKind::Dts | MethodKind::DtsStar => {
            base["num_rollouts"] = 30.into();
            base["lambda"] = 1.0.into();
            base["c_uct"] = 1.0.into();
            base["pw_c"] = 2.0.into();
            base["pw_alpha"] = 0.7.into();
            base["expansion"] = "sampled".into();
            base["weights"] = "multiplicity".into();
            base["output"] = if kind == MethodKind::Dts { "sample" } else { "best_found" }.into();
            base["output_samples"] = 1.into();
            base["parallel_rollouts"] = 1.into();
        }
        MethodKind::MaxentTs => {
            base["num_rollouts"] = 30.into();
            base["expansion_k"] = 3.into();
            base["lambda"] = 1.0.into();
            base["output"] = "best_found".into();
            base["rollout_all_on_expand"] = false.into();
            base["parallel_rollouts"] = 1.into();
        }
    }
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let p: MethodParams = serde_json::from_value(base).expect("valid params");
    p.with_defaults(kind).expect("defaults")
}

pub fn with_lambda(mut p: MethodParams, lam: Lam) -> MethodParams {
    p.lambda = Some(match lam {
        Lam::Finite(l) => Lambda::new(l).expect("lambda"),
        Lam::Inf => Lambda::INFINITE,
    });
    p
}

/// Every non-terminal node of a MaxEnt-TS tree is expanded and every child visited.
pub fn maxent_complete(t: &runner::search::tree::Tree) -> bool {
    t.nodes().iter().all(|n| n.terminal || (n.expanded && n.children.iter().all(|&(_, c)| t.nodes()[c as usize].n > 0)))
}

pub fn config(kind: MethodKind, p: &MethodParams, seed: u64) -> SearchConfig {
    SearchConfig::from_params(kind, p, vec![EOS], seed).expect("config")
}

pub fn run(cfg: SearchConfig) -> (SearchOutcome, ToyModel, ToyEvaluator) {
    let mut m = model();
    let mut e = evaluator();
    let out = method_for(cfg).search(&mut m, &mut e, &SearchInput::new(&PROMPT)).expect("search");
    (out, m, e)
}
