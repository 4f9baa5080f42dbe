//! docs/algorithms.md §6 exact invariants on the three-token toy.

use crate::toy;

use runner::search::methods::dts::DtsRun;
use runner::search::methods::maxent_ts::MaxEntRun;
use runner::search::methods::mcts::MctsRun;
use runner::search::tree::{NodeId, Tree, ROOT};
use runner::spec::MethodKind;
use serde_json::json;
use toy::*;

const EXACT: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= EXACT
}

/// Weight of a child as the method defines it (unnormalised).
fn weight(tree: &Tree, c: NodeId, multiplicity: bool) -> f64 {
    let n = &tree.nodes()[c as usize];
    if multiplicity {
        n.mult as f64
    } else {
        n.prior
    }
}

/// §6.6: every non-terminal node holds the soft value of its visited
/// children; visited leaves are terminals in E.
fn check_soft_identity(tree: &Tree, lam: Lam, multiplicity: bool, e_len: usize, what: &str) {
    for (id, n) in tree.nodes().iter().enumerate() {
        if n.n == 0 {
            assert!(n.value.is_none(), "{what}: unvisited node {id} has a value");
            assert!(n.children.is_empty() || id == 0, "{what}: unvisited node {id} has children");
            continue;
        }
        if n.terminal {
            assert_eq!(n.value, n.reward, "{what}: terminal value");
            let e = n.evaluated.expect("visited terminal is in E");
            assert!(e < e_len);
            continue;
        }
        let wv: Vec<(f64, f64)> =
            n.children.iter().filter_map(|&(_, c)| tree.nodes()[c as usize].value.map(|v| (weight(tree, c, multiplicity), v))).collect();
        assert!(!wv.is_empty(), "{what}: visited non-terminal {id} is a leaf");
        let v = n.value.expect("visited node has a value");
        assert!(close(v, soft(lam, &wv)), "{what}: node {id}: {v} vs {}", soft(lam, &wv));
    }
}

#[test]
fn the_toy_has_15_terminals_and_21_prefixes() {
    assert_eq!(terminals().len(), 15);
    assert_eq!(prefixes().len(), 21);
    let total: f64 = terminals().iter().map(|y| q_seq(y, 3)).sum();
    assert!(close(total, 1.0));
    for s in prefixes().iter().filter(|s| !is_terminal(s)).chain(std::iter::once(&vec![])) {
        let eos = q(s, 3).into_iter().find(|x| x.0 == EOS).map_or(0.0, |x| x.1);
        assert!(eos >= 0.1, "EOS probability at {s:?} is {eos}");
    }
    // V(root) at λ = 0 is the mean reward, at λ = ∞ the best.
    let mean: f64 = terminals().iter().map(|y| q_seq(y, 3) * reward_of(y)).sum();
    assert!(close(value(&[], Lam::Finite(0.0), 3), mean));
    assert_eq!(value(&[], Lam::Inf, 3), 1.3);
}

#[test]
fn soft_identity_holds_after_every_iteration() {
    for lam in LAMBDAS {
        for seed in 0..4 {
            // DTS and DTS* with both weightings (Sampled).
            for (kind, w) in [(MethodKind::Dts, "multiplicity"), (MethodKind::Dts, "prior"), (MethodKind::DtsStar, "multiplicity")] {
                let p = with_lambda(params(kind, json!({ "num_rollouts": 60, "weights": w })), lam);
                let cfg = config(kind, &p, seed);
                let (mut m, mut e) = (model(), evaluator());
                let mut r = DtsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                while !r.finished() {
                    r.step().expect("step");
                    let what = format!("{kind:?} {w} {lam:?} seed {seed}");
                    check_soft_identity(r.tree(), lam, w == "multiplicity", r.evaluated().len(), &what);
                    for n in r.tree().nodes() {
                        assert!(n.draws as f64 <= r.widening_bound(n.n) + 1.0, "{what}: D(s) above the widening bound");
                    }
                }
            }
            // MaxEnt-TS, top-k DTS and top-k DTS*.
            for (kind, extra) in [
                (MethodKind::MaxentTs, json!({})),
                (MethodKind::MaxentTs, json!({ "rollout_all_on_expand": true })),
                (MethodKind::Dts, json!({ "expansion": "top_k", "expansion_k": 2 })),
                (MethodKind::DtsStar, json!({ "expansion": "top_k", "expansion_k": 3 })),
            ] {
                let mut extra = extra;
                extra["num_rollouts"] = 40.into();
                let p = with_lambda(params(kind, extra.clone()), lam);
                let cfg = config(kind, &p, seed);
                let (mut m, mut e) = (model(), evaluator());
                let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                while !r.finished() {
                    r.step().expect("step");
                    check_soft_identity(r.tree(), lam, false, r.evaluated().len(), &format!("{kind:?} {extra} {lam:?}"));
                }
            }
        }
    }
}

/// Runs MaxEnt-TS until every non-terminal node is expanded and every child visited.
fn complete_maxent(k: u32, lam: Lam, seed: u64) -> (Tree, Vec<NodeId>) {
    let p = with_lambda(params(MethodKind::MaxentTs, json!({ "expansion_k": k, "rollout_top_k": k, "num_rollouts": 100000 })), lam);
    let cfg = config(MethodKind::MaxentTs, &p, seed);
    let (mut m, mut e) = (model(), evaluator());
    let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
    while !r.finished() && !maxent_complete(r.tree()) {
        r.step().expect("step");
    }
    assert!(maxent_complete(r.tree()), "tree never completed (k={k}, {lam:?}, {} nodes)", r.tree().len());
    let leaves = (0..r.tree().len() as NodeId).filter(|&i| r.tree().nodes()[i as usize].terminal).collect();
    (r.tree().clone(), leaves)
}

/// Π(y) from the tree's selection probabilities (written out here).
fn descent_law(tree: &Tree, leaf: NodeId, lam: f64, multiplicity: bool) -> f64 {
    let mut p = 1.0;
    let mut cur = leaf;
    while let Some(parent) = tree.nodes()[cur as usize].parent {
        let kids: Vec<(NodeId, f64)> = tree.nodes()[parent as usize]
            .children
            .iter()
            .filter_map(|&(_, c)| tree.nodes()[c as usize].value.map(|v| (c, weight(tree, c, multiplicity) * (lam * v).exp())))
            .collect();
        let total: f64 = kids.iter().map(|x| x.1).sum();
        p *= kids.iter().find(|x| x.0 == cur).map_or(0.0, |x| x.1) / total;
        cur = parent;
    }
    p
}

#[test]
fn maxent_ts_is_exact_once_the_tree_is_complete() {
    // λ = ∞ selection is greedy and need not visit every child; its limit
    // is checked by `lambda_infinity_backs_up_the_subtree_maximum`.
    for k in [3u32, 2] {
        for lam in LAMBDAS.into_iter().filter(|l| matches!(l, Lam::Finite(_))) {
            let (tree, leaves) = complete_maxent(k, lam, 7);
            for (id, n) in tree.nodes().iter().enumerate() {
                let s = tree.tokens(id as NodeId);
                let v = n.value.expect("complete tree");
                assert!(close(v, value(&s, lam, k as usize)), "k={k} {lam:?} {s:?}: {v} vs {}", value(&s, lam, k as usize));
            }
            if let Lam::Finite(l) = lam {
                let pi = target(l, k as usize);
                let mut total = 0.0;
                for leaf in leaves {
                    let y = tree.tokens(leaf);
                    let want = pi.iter().find(|x| x.0 == y).map_or(0.0, |x| x.1);
                    let got = descent_law(&tree, leaf, l, false);
                    total += got;
                    assert!(close(got, want), "k={k} λ={l} {y:?}: Π {got} vs π* {want}");
                }
                assert!(close(total, 1.0));
            }
        }
    }
}

#[test]
fn dts_with_prior_weights_is_exact_once_every_token_is_drawn() {
    for lam in [Lam::Finite(0.0), Lam::Finite(1.0), Lam::Inf] {
        let p = with_lambda(params(MethodKind::Dts, json!({ "weights": "prior", "num_rollouts": 20000 })), lam);
        let cfg = config(MethodKind::Dts, &p, 3);
        let (mut m, mut e) = (model(), evaluator());
        let mut r = DtsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
        while !r.finished() && r.tree().len() < 22 {
            r.step().expect("step");
        }
        // One more iteration refreshes nothing structurally but keeps going until all values settle.
        assert_eq!(r.tree().len(), 22, "every token drawn at every node");
        for (id, n) in r.tree().nodes().iter().enumerate() {
            let s = r.tree().tokens(id as NodeId);
            let v = n.value.expect("all visited");
            assert!(close(v, value(&s, lam, 3)), "{lam:?} {s:?}: {v} vs {}", value(&s, lam, 3));
        }
    }
}

#[test]
fn lambda_infinity_backs_up_the_subtree_maximum() {
    for kind in [MethodKind::Dts, MethodKind::DtsStar, MethodKind::MaxentTs] {
        for seed in 0..5 {
            let p = with_lambda(params(kind, json!({ "num_rollouts": 25 })), Lam::Inf);
            let cfg = config(kind, &p, seed);
            let (mut m, mut e) = (model(), evaluator());
            let check = |t: &Tree| {
                for (id, n) in t.nodes().iter().enumerate() {
                    if let Some(v) = n.value {
                        let best = subtree_max(t, id as NodeId);
                        assert_eq!(v, best, "{kind:?}: node {id}");
                    }
                }
            };
            if kind == MethodKind::MaxentTs {
                let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                while !r.finished() {
                    r.step().expect("step");
                    check(r.tree());
                }
            } else {
                let mut r = DtsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                while !r.finished() {
                    r.step().expect("step");
                    check(r.tree());
                }
            }
        }
    }
    // DTS* ArgmaxDescent returns the best found sequence at λ = ∞.
    for seed in 0..10 {
        let best = with_lambda(params(MethodKind::DtsStar, json!({ "output": "best_found" })), Lam::Inf);
        let arg = with_lambda(params(MethodKind::DtsStar, json!({ "output": "argmax_descent" })), Lam::Inf);
        let (a, _, _) = run(config(MethodKind::DtsStar, &best, seed));
        let (b, _, _) = run(config(MethodKind::DtsStar, &arg, seed));
        assert_eq!(a.output.reward.to_bits(), b.output.reward.to_bits());
        assert_eq!(a.output.tokens, b.output.tokens);
    }
}

fn subtree_max(t: &Tree, id: NodeId) -> f64 {
    let n = &t.nodes()[id as usize];
    if n.terminal {
        return n.reward.unwrap_or(f64::NAN);
    }
    n.children.iter().filter(|&&(_, c)| t.nodes()[c as usize].n > 0).map(|&(_, c)| subtree_max(t, c)).fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn an_unvisited_child_is_not_a_zero() {
    for lam in LAMBDAS {
        for seed in 0..10 {
            let p = with_lambda(params(MethodKind::MaxentTs, json!({ "num_rollouts": 1 })), lam);
            let cfg = config(MethodKind::MaxentTs, &p, seed);
            let (mut m, mut e) = (model(), evaluator());
            let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
            r.step().expect("step");
            let root = &r.tree().nodes()[ROOT as usize];
            assert_eq!(root.children.len(), 3, "all top-k children exist");
            let visited = root.children.iter().filter(|&&(_, c)| r.tree().nodes()[c as usize].n > 0).count();
            assert_eq!(visited, 1);
            let reward = r.evaluated()[0].reward;
            assert_eq!(root.value.map(f64::to_bits), Some(reward.to_bits()), "{lam:?} seed {seed}");
        }
    }
}

#[test]
fn mcts_visit_and_reward_sums_are_consistent() {
    for (sel, add) in [("uct", false), ("puct", false), ("uct", true)] {
        for seed in 0..10 {
            let p = params(
                MethodKind::Mcts,
                json!({ "selection": sel, "add_rollout_to_tree": add, "num_rollouts": 18, "prune_exhausted": false }),
            );
            let cfg = config(MethodKind::Mcts, &p, seed);
            let (mut m, mut e) = (model(), evaluator());
            let mut r = MctsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
            let mut sims = 0;
            while !r.finished().expect("finished") {
                r.step().expect("step");
                sims += 1;
                let t = r.tree();
                assert_eq!(t.nodes()[0].n, sims, "n(root) = simulations");
                if add {
                    continue; // rollout nodes end paths inside the tree; the identity below is for add_rollout_to_tree = false
                }
                for (id, n) in t.nodes().iter().enumerate().skip(1) {
                    if n.terminal {
                        continue;
                    }
                    let kids_n: u64 = n.children.iter().map(|&(_, c)| t.nodes()[c as usize].n).sum();
                    let kids_w: f64 = n.children.iter().map(|&(_, c)| t.nodes()[c as usize].w_sum).sum();
                    assert_eq!(n.n, 1 + kids_n, "{sel}: node {id}");
                    // The creating rollout's reward is the one not passed to a child.
                    let own = n.w_sum - kids_w;
                    assert!(r.evaluated().iter().any(|e| close(e.reward, own)), "{sel}: node {id} w_sum");
                }
            }
        }
    }
}

#[test]
fn mcts_with_c_zero_exhausts_the_tree_and_finds_the_best() {
    let p = params(MethodKind::Mcts, json!({ "c_uct": 0.0, "num_rollouts": 1000, "expansion_k": 3, "prune_exhausted": true }));
    for seed in 0..10 {
        let cfg = config(MethodKind::Mcts, &p, seed);
        let (mut m, mut e) = (model(), evaluator());
        let mut r = MctsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
        while !r.finished().expect("finished") {
            r.step().expect("step");
        }
        assert!(r.tree().nodes()[0].exhausted, "root exhausted");
        assert!(r.counters().iterations <= 21, "exhausted within 21 simulations");
        let out = r.finish().expect("finish");
        assert_eq!(out.output.reward, 1.3);
    }
    // c > 0: the best reward found never decreases and reaches the maximum.
    let p = params(MethodKind::Mcts, json!({ "c_uct": 1.0, "num_rollouts": 200, "prune_exhausted": true }));
    let cfg = config(MethodKind::Mcts, &p, 1);
    let (mut m, mut e) = (model(), evaluator());
    let mut r = MctsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
    let mut best = f64::NEG_INFINITY;
    while !r.finished().expect("finished") {
        r.step().expect("step");
        let now = r.evaluated().iter().map(|e| e.reward).fold(f64::NEG_INFINITY, f64::max);
        assert!(now >= best);
        best = now;
    }
    assert_eq!(best, 1.3);
}

#[test]
fn tree_methods_generate_one_token_per_visited_node() {
    for lam in LAMBDAS {
        for seed in 0..5 {
            for (kind, extra) in [
                (MethodKind::Dts, json!({})),
                (MethodKind::DtsStar, json!({})),
                (MethodKind::MaxentTs, json!({})),
                (MethodKind::MaxentTs, json!({ "rollout_all_on_expand": true })),
                (MethodKind::MaxentTs, json!({ "expansion_k": 2 })),
            ] {
                let p = with_lambda(params(kind, extra), lam);
                let (out, _, _) = run(config(kind, &p, seed));
                // Recount from a stepped run of the same config.
                let cfg = config(kind, &p, seed);
                let (mut m, mut e) = (model(), evaluator());
                let visited = if matches!(cfg.method, runner::search::MethodConfig::Dts(_)) {
                    let mut r = DtsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                    while !r.finished() {
                        r.step().expect("step");
                    }
                    r.tree().nodes().iter().skip(1).filter(|n| n.n > 0).count()
                } else {
                    let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                    while !r.finished() {
                        r.step().expect("step");
                    }
                    r.tree().nodes().iter().skip(1).filter(|n| n.n > 0).count()
                };
                assert_eq!(out.counters.tokens_generated, visited as u64, "{kind:?} {lam:?} seed {seed}");
            }
        }
    }
}
