//! docs/algorithms.md §6.12: the invariants with a decoding constraint. On
//! the toy of §6 with a mask (`b` may not follow `a`) and a completion rule
//! (`bb` is a finished answer), every method returns sequences the
//! constraint allows, and MaxEnt-TS's values and descent law are exact for
//! the masked, renormalised proposal and the constrained terminal set.

use crate::toy;

use runner::search::methods::maxent_ts::MaxEntRun;
use runner::search::tree::NodeId;
use runner::search::{method_for, Allowed, Constraint, SearchInput, TokenConstraint};
use runner::spec::MethodKind;
use serde_json::json;
use toy::*;

/// `b` never follows `a`; `bb` is complete.
struct NoBAfterA;

impl TokenConstraint for NoBAfterA {
    fn allowed(&self, generated: &[u32]) -> Allowed {
        match generated.last() {
            Some(&A) => Allowed::AllBut(vec![B]),
            _ => Allowed::All,
        }
    }
    fn is_complete(&self, generated: &[u32]) -> bool {
        generated == [B, B]
    }
    fn describe(&self) -> String {
        "no b after a".into()
    }
}

fn constrained(kind: MethodKind, extra: serde_json::Value, lam: Lam, seed: u64) -> runner::search::SearchConfig {
    config(kind, &with_lambda(params(kind, extra), lam), seed).with_constraint(Constraint::new(NoBAfterA))
}

fn allowed_token(prefix: &[u32], t: u32) -> bool {
    !(prefix.last() == Some(&A) && t == B)
}

fn terminal(y: &[u32]) -> bool {
    is_terminal(y) || y == [B, B]
}

/// The masked proposal at τ = 1: the model's log-probabilities (f32, as
/// the search receives them) over the allowed tokens, renormalised in f64.
fn q_masked(s: &[u32]) -> Vec<(u32, f64)> {
    let lp = model().log_probs(s).expect("non-terminal prefix");
    let kept: Vec<(u32, f64)> =
        [A, B, EOS].into_iter().filter(|&t| allowed_token(s, t)).map(|t| (t, f64::from(lp[t as usize]).exp())).collect();
    let total: f64 = kept.iter().map(|x| x.1).sum();
    kept.into_iter().map(|(t, p)| (t, p / total)).collect()
}

fn v_masked(s: &[u32], lam: Lam) -> f64 {
    if terminal(s) {
        return reward_of(s);
    }
    let wv: Vec<(f64, f64)> = q_masked(s)
        .into_iter()
        .map(|(t, p)| {
            let mut c = s.to_vec();
            c.push(t);
            (p, v_masked(&c, lam))
        })
        .collect();
    soft(lam, &wv)
}

/// Every constrained terminal and its masked probability.
fn terminals_masked() -> Vec<(Vec<u32>, f64)> {
    let mut out = Vec::new();
    let mut stack = vec![(vec![], 1.0)];
    while let Some((p, w)) = stack.pop() {
        for (t, q) in q_masked(&p) {
            let mut y: Vec<u32> = p.clone();
            y.push(t);
            if terminal(&y) {
                out.push((y, w * q));
            } else {
                stack.push((y, w * q));
            }
        }
    }
    out
}

fn obeys(y: &[u32]) -> bool {
    (1..y.len()).all(|i| allowed_token(&y[..i], y[i])) && terminal(y) && (0..y.len()).all(|i| i == 0 || !terminal(&y[..i]))
}

#[test]
fn every_method_returns_what_the_constraint_allows() {
    let kinds = [
        (MethodKind::Greedy, json!({})),
        (MethodKind::BestOfN, json!({"num_rollouts": 8})),
        (MethodKind::Mcts, json!({})),
        (MethodKind::Dts, json!({})),
        (MethodKind::DtsStar, json!({})),
        (MethodKind::MaxentTs, json!({})),
    ];
    for (kind, extra) in kinds {
        for seed in 0..20 {
            let cfg = constrained(kind, extra.clone(), Lam::Finite(1.0), seed);
            let (mut m, mut e) = (model(), evaluator());
            let out = method_for(cfg).search(&mut m, &mut e, &SearchInput::new(&PROMPT)).expect("search");
            assert!(obeys(&out.output.tokens), "{kind:?} seed {seed}: {:?}", out.output.tokens);
            for ev in &out.evaluated {
                assert!(obeys(&ev.tokens), "{kind:?} seed {seed}: evaluated {:?}", ev.tokens);
            }
            assert!(m.violations.is_empty(), "{:?}", m.violations);
        }
    }
    // Greedy is the masked argmax: the root's argmax is a (1.0 vs 0.999),
    // then b is masked after a, so a (0.5) beats EOS (0.0), then after aa
    // b is masked again and EOS (0.1) beats a (0.0): "aa" + EOS.
    let (out, _, _) = {
        let cfg = constrained(MethodKind::Greedy, json!({}), Lam::Finite(1.0), 0);
        let (mut m, mut e) = (model(), evaluator());
        let out = method_for(cfg).search(&mut m, &mut e, &SearchInput::new(&PROMPT)).expect("search");
        (out, m, e)
    };
    assert_eq!(out.output.tokens, vec![A, A, EOS]);
}

#[test]
fn maxent_ts_is_exact_for_the_masked_proposal() {
    for lam in [Lam::Finite(0.5), Lam::Finite(1.0), Lam::Finite(4.0)] {
        let Lam::Finite(l) = lam else { unreachable!() };
        let cfg = constrained(MethodKind::MaxentTs, json!({"expansion_k": 3, "rollout_top_k": 3, "num_rollouts": 100000}), lam, 11);
        let (mut m, mut e) = (model(), evaluator());
        let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
        while !r.finished() && !maxent_complete(r.tree()) {
            r.step().expect("step");
        }
        let tree = r.tree().clone();
        assert!(maxent_complete(&tree), "{lam:?}: the tree never completed");
        // Every node's value is the exact soft value under the masked q;
        // no masked token was ever expanded.
        for (id, n) in tree.nodes().iter().enumerate() {
            let s = tree.tokens(id as NodeId);
            if let Some((last, rest)) = s.split_last() {
                assert!(allowed_token(rest, *last), "{s:?} was expanded");
            }
            let v = n.value.expect("visited");
            let want = v_masked(&s, lam);
            assert!((v - want).abs() <= 1e-12, "{lam:?} {s:?}: {v} vs {want}");
        }
        // The descent law equals π* ∝ q_masked(y)·exp(λ r(y)).
        let targets = terminals_masked();
        let z: f64 = targets.iter().map(|(y, q)| q * (l * reward_of(y)).exp()).sum();
        let mut total = 0.0;
        for (id, n) in tree.nodes().iter().enumerate() {
            if !n.terminal {
                continue;
            }
            let y = tree.tokens(id as NodeId);
            let mut p = 1.0;
            let mut cur = id as NodeId;
            while let Some(parent) = tree.nodes()[cur as usize].parent {
                let kids: Vec<(NodeId, f64)> = tree.nodes()[parent as usize]
                    .children
                    .iter()
                    .map(|&(_, c)| (c, tree.nodes()[c as usize].prior * (l * tree.nodes()[c as usize].value.unwrap_or(f64::NAN)).exp()))
                    .collect();
                let sum: f64 = kids.iter().map(|x| x.1).sum();
                p *= kids.iter().find(|x| x.0 == cur).map_or(0.0, |x| x.1) / sum;
                cur = parent;
            }
            let want = targets.iter().find(|(t, _)| *t == y).map_or(0.0, |(_, q)| q * (l * reward_of(&y)).exp() / z);
            assert!((p - want).abs() <= 1e-12, "{lam:?} {y:?}: Π {p} vs π* {want}");
            total += p;
        }
        assert!((total - 1.0).abs() <= 1e-12);
        // "bb" is terminal under the constraint: no node below it.
        assert!(tree.nodes().iter().enumerate().all(|(id, _)| {
            let s = tree.tokens(id as NodeId);
            s.len() < 3 || s[..2] != [B, B]
        }));
    }
}
