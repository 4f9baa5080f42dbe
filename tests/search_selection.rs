//! Selection rules followed iteration by iteration on the three-token toy.
//!
//! MCTS selects deterministically everywhere, DTS* everywhere a node is
//! not being widened. Before each iteration the test works out, from the
//! tree as it stands and with the scores of docs/algorithms.md §3–4 written
//! out here, the path the iteration must take; afterwards the nodes whose visit
//! count grew must be that path. The same prediction under a plausible
//! wrong rule is made alongside, and it must disagree at some iteration of
//! each configuration, so the runs tell the rules apart.

use crate::toy;

use runner::search::methods::dts::DtsRun;
use runner::search::methods::maxent_ts::MaxEntRun;
use runner::search::methods::mcts::MctsRun;
use runner::search::tree::{Node, NodeId, Tree, ROOT};
use runner::spec::MethodKind;
use serde_json::json;
use toy::*;

/// One decision: at `parent`, take `token` (an existing child or a new one).
type Hop = (NodeId, u32);

/// An option at a node: score, tie-break weight, token, existing child.
type Opt = (f64, f64, u32, Option<NodeId>);

/// The best option: largest score, then larger weight, then smaller token.
fn best(opts: &[Opt]) -> Option<Opt> {
    let better = |a: &Opt, b: &Opt| a.0 > b.0 || (a.0 == b.0 && (a.1 > b.1 || (a.1 == b.1 && a.2 < b.2)));
    opts.iter().copied().reduce(|b, o| if better(&o, &b) { o } else { b })
}

/// The top `k` entries of the node's stored q with q > 0.
fn top_k(node: &Node, k: usize) -> Vec<(u32, f64)> {
    let dist = node.proposal().expect("a node that can expand keeps q");
    dist.entries.iter().copied().filter(|x| x.1 > 0.0).take(k).collect()
}

/// The nodes on `hops` after the iteration ran (the root first).
fn resolve(tree: &Tree, hops: &[Hop]) -> Vec<NodeId> {
    let mut ids = vec![ROOT];
    for &(parent, token) in hops {
        assert_eq!(ids.last(), Some(&parent));
        ids.push(tree.child(parent, token).unwrap_or_else(|| panic!("no child {token} at {parent}")));
    }
    ids
}

fn visits(tree: &Tree, id: NodeId) -> u64 {
    tree.nodes().get(id as usize).map_or(0, |n| n.n)
}

/// The nodes whose visit count grew from `before` to `after`.
fn grown(before: &Tree, after: &Tree) -> Vec<NodeId> {
    (0..after.len() as NodeId).filter(|&i| visits(after, i) > visits(before, i)).collect()
}

/// The iteration went down `hops`: every node on it was visited, and above
/// its last node the visits grew only along it.
fn check_went(before: &Tree, after: &Tree, hops: &[Hop], what: &str) {
    let path = resolve(after, hops);
    let grew = grown(before, after);
    for (i, &id) in path.iter().enumerate() {
        assert!(grew.contains(&id), "{what}: node {id} of the predicted path {path:?} was not visited (visited {grew:?})");
        let below: Vec<NodeId> = after.nodes()[id as usize].children.iter().map(|c| c.1).filter(|c| grew.contains(c)).collect();
        if let Some(&next) = path.get(i + 1) {
            assert_eq!(below, vec![next], "{what}: below node {id}");
        }
    }
}

/// A run stepped one iteration at a time.
trait Steps {
    fn tree(&self) -> &Tree;
    /// The rewards of E so far.
    fn rewards(&self) -> Vec<f64>;
    fn done(&self) -> bool;
    fn next(&mut self);
}

/// [`Steps`] for one of the run types; `$done` says whether it finished.
macro_rules! impl_steps {
    ($run:ident, |$r:ident| $done:expr) => {
        impl Steps for $run<'_> {
            fn tree(&self) -> &Tree {
                $run::tree(self)
            }
            fn rewards(&self) -> Vec<f64> {
                self.evaluated().iter().map(|e| e.reward).collect()
            }
            fn done(&self) -> bool {
                let $r = self;
                $done
            }
            fn next(&mut self) {
                self.step().expect("step");
            }
        }
    };
}

impl_steps!(MctsRun, |r| r.finished().expect("finished"));
impl_steps!(DtsRun, |r| r.finished());
impl_steps!(MaxEntRun, |r| r.finished());

/// Steps `run` to its end. Before each iteration `predict(tree, rewards,
/// rules[0])` is the path it must take (with `whole`, exactly the nodes
/// whose visits grow); `rules[1..]` are wrong rules, and for each the
/// number of iterations where it would have gone elsewhere is added to
/// `differ`.
fn follow<R: Copy>(
    run: &mut dyn Steps,
    rules: &[R],
    predict: impl Fn(&Tree, &[f64], R) -> Vec<Hop>,
    whole: bool,
    differ: &mut [usize],
    what: &str,
) {
    let mut iteration = 0;
    while !run.done() {
        let before = run.tree().clone();
        let rewards = run.rewards();
        let want = predict(&before, &rewards, rules[0]);
        for (d, &wrong) in differ.iter_mut().zip(&rules[1..]) {
            *d += usize::from(predict(&before, &rewards, wrong) != want);
        }
        run.next();
        let what = format!("{what} iteration {iteration}");
        check_went(&before, run.tree(), &want, &what);
        if whole {
            let mut path = resolve(run.tree(), &want);
            path.sort();
            assert_eq!(grown(&before, run.tree()), path, "{what}: more than the path grew");
        }
        iteration += 1;
    }
}

/// The path from the root: `options(s, node)` lists the choices at a
/// non-terminal node (`None`: the node is widened, the path stops there);
/// an option with an existing visited child descends into it, any other
/// ends the path.
fn walk(tree: &Tree, options: impl Fn(NodeId, &Node) -> Option<Vec<Opt>>) -> Vec<Hop> {
    let mut hops = Vec::new();
    let mut s = ROOT;
    loop {
        let node = &tree.nodes()[s as usize];
        if node.terminal {
            return hops;
        }
        let Some(opts) = options(s, node) else { return hops };
        let (_, _, token, child) = best(&opts).expect("a selectable option");
        hops.push((s, token));
        match child {
            Some(id) => s = id,
            None => return hops,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mcts {
    Uct,
    /// Wrong: Q̃ + c·√(n(s)/n(c)).
    UctWithoutLog,
    Puct,
    /// Wrong: untried actions scored with Q̃ = 0 instead of Q̃(s).
    PuctFpuZero,
}

/// The MCTS path from the tree as it stands; `rewards` are E's rewards,
/// whose minimum and maximum scale Q̃.
fn mcts_path(tree: &Tree, rewards: &[f64], rule: Mcts, c: f64, k: usize) -> Vec<Hop> {
    let lo = rewards.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = rewards.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let q_tilde = |n: &Node| if n.n > 0 && hi > lo { (n.w_sum / n.n as f64 - lo) / (hi - lo) } else { 0.0 };
    walk(tree, |s, node| {
        // A(s) with priors renormalised over it, minus the expanded tokens.
        let untried = node.untried.clone().unwrap_or_else(|| {
            let cands = top_k(node, k);
            let total: f64 = cands.iter().map(|x| x.1).sum();
            cands.into_iter().filter(|x| tree.child(s, x.0).is_none()).map(|(t, q)| (t, q / total)).collect()
        });
        let n_s = node.n as f64;
        let fpu = if rule == Mcts::PuctFpuZero || node.n == 0 { 0.0 } else { q_tilde(node) };
        let mut opts: Vec<Opt> = Vec::new();
        for &(token, id) in &node.children {
            let child = &tree.nodes()[id as usize];
            if child.exhausted {
                continue;
            }
            let n_c = child.n as f64;
            let score = match rule {
                Mcts::Uct => q_tilde(child) + c * (n_s.ln() / n_c).sqrt(),
                Mcts::UctWithoutLog => q_tilde(child) + c * (n_s / n_c).sqrt(),
                Mcts::Puct | Mcts::PuctFpuZero => q_tilde(child) + c * child.prior * n_s.sqrt() / (1.0 + n_c),
            };
            opts.push((score, child.prior, token, Some(id)));
        }
        for &(token, p) in &untried {
            let score = match rule {
                Mcts::Uct | Mcts::UctWithoutLog => f64::INFINITY,
                Mcts::Puct | Mcts::PuctFpuZero => fpu + c * p * n_s.sqrt(),
            };
            opts.push((score, p, token, None));
        }
        Some(opts)
    })
}

#[test]
fn mcts_takes_the_path_its_scores_say() {
    let cases = [("uct", [Mcts::Uct, Mcts::UctWithoutLog]), ("puct", [Mcts::Puct, Mcts::PuctFpuZero])];
    for (name, rules) in cases {
        for c in [0.5, 1.0, 2.0] {
            let mut differ = [0];
            for seed in 0..8 {
                let p = params(MethodKind::Mcts, json!({ "selection": name, "c_uct": c, "c_puct": c, "num_rollouts": 40 }));
                let cfg = config(MethodKind::Mcts, &p, seed);
                let (mut m, mut e) = (model(), evaluator());
                let mut r = MctsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
                // Rollouts stay out of the tree: the path is all that grows.
                follow(&mut r, &rules, |t, rw, rule| mcts_path(t, rw, rule, c, 3), true, &mut differ, &format!("{name} c={c} seed {seed}"));
            }
            assert!(differ[0] > 0, "{name} c={c}: {:?} never chose differently", rules[1]);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Star {
    Uct,
    /// Wrong: v̂ + c·√(n(s)/n(c)).
    WithoutLog,
    /// Wrong (top-k): an unvisited child scored as v̂ = 0 with one visit.
    UnvisitedAsZero,
}

/// The DTS* score of a visited child, in raw reward units.
fn star_score(rule: Star, v: f64, c: f64, n_s: u64, n_c: u64) -> f64 {
    match rule {
        Star::WithoutLog => v + c * (n_s as f64 / n_c as f64).sqrt(),
        Star::Uct | Star::UnvisitedAsZero => v + c * ((n_s as f64).ln() / n_c as f64).sqrt(),
    }
}

/// The DTS* (widening) path from the tree as it stands, down to the first
/// open node or terminal: below that the iteration draws at random.
fn dts_star_path(tree: &Tree, rule: Star, c: f64) -> Vec<Hop> {
    walk(tree, |_, node| {
        let mut opts: Vec<Opt> = Vec::new();
        for &(token, id) in &node.children {
            let child = &tree.nodes()[id as usize];
            if let Some(v) = child.value {
                opts.push((star_score(rule, v, c, node.n, child.n), child.mult as f64, token, Some(id)));
            }
        }
        // Open: D(s) < 2·max(n(s), 1)^0.7 (the toy's pw_c and pw_alpha).
        let open = (node.draws as f64) < 2.0 * (node.n.max(1) as f64).powf(0.7);
        (!open && !opts.is_empty()).then_some(opts)
    })
}

#[test]
fn dts_star_takes_the_path_its_scores_say() {
    for c in [0.2, 1.0] {
        let mut differ = [0];
        for seed in 0..8 {
            let p = with_lambda(params(MethodKind::DtsStar, json!({ "c_uct": c, "num_rollouts": 60 })), Lam::Finite(1.0));
            let cfg = config(MethodKind::DtsStar, &p, seed);
            let (mut m, mut e) = (model(), evaluator());
            let mut r = DtsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
            let rules = [Star::Uct, Star::WithoutLog];
            follow(&mut r, &rules, |t, _, rule| dts_star_path(t, rule, c), false, &mut differ, &format!("DTS* c={c} seed {seed}"));
        }
        assert!(differ[0] > 0, "DTS* c={c}: the rule without the log never chose differently");
    }
}

/// The top-k DTS* path: unvisited children (existing or about to be
/// created from the top `k` of q) first, largest q first; otherwise the
/// largest score. The path ends at the child that is rolled out, or at a
/// terminal.
fn top_k_star_path(tree: &Tree, rule: Star, c: f64, k: usize) -> Vec<Hop> {
    walk(tree, |s, node| {
        let unvisited = if rule == Star::UnvisitedAsZero { star_score(rule, 0.0, c, node.n, 1) } else { f64::INFINITY };
        let mut opts: Vec<Opt> = Vec::new();
        for &(token, id) in &node.children {
            let child = &tree.nodes()[id as usize];
            let score = child.value.map_or(unvisited, |v| star_score(rule, v, c, node.n, child.n));
            opts.push((score, child.prior, token, Some(id).filter(|_| child.n > 0)));
        }
        if !node.expanded {
            for (token, q) in top_k(node, k).into_iter().filter(|x| tree.child(s, x.0).is_none()) {
                opts.push((unvisited, q, token, None));
            }
        }
        Some(opts)
    })
}

#[test]
fn top_k_dts_star_takes_the_path_its_scores_say() {
    for c in [0.2, 1.0] {
        let mut differ = [0, 0];
        for seed in 0..8 {
            let p = with_lambda(
                params(MethodKind::DtsStar, json!({ "expansion": "top_k", "expansion_k": 3, "c_uct": c, "num_rollouts": 40 })),
                Lam::Finite(1.0),
            );
            let cfg = config(MethodKind::DtsStar, &p, seed);
            let (mut m, mut e) = (model(), evaluator());
            let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
            let rules = [Star::Uct, Star::WithoutLog, Star::UnvisitedAsZero];
            follow(
                &mut r,
                &rules,
                |t, _, rule| top_k_star_path(t, rule, c, 3),
                false,
                &mut differ,
                &format!("top-k DTS* c={c} seed {seed}"),
            );
        }
        assert!(differ[0] > 0, "top-k DTS* c={c}: the rule without the log never chose differently");
        assert!(differ[1] > 0, "top-k DTS* c={c}: scoring unvisited children as 0 never chose differently");
    }
}
