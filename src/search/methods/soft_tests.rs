//! DTS's child weights in selection and backup, and MaxEnt-TS's backup
//! over visited children only, on hand-built trees.

use rand::SeedableRng;

use super::*;
use crate::search::proposal::gumbel;

const EXACT: f64 = 1e-12;

fn assert_close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= EXACT, "{what}: {got} vs {want}");
}

/// A root with the given children `(token, prior, m_a, v̂, n)`; `v̂ = None`
/// leaves the child unvisited. D(root) = Σ m_a, n(root) = Σ n.
fn tree_with(kids: &[(u32, f64, u64, Option<f64>, u64)]) -> (Tree, Vec<NodeId>) {
    let mut tree = Tree::new();
    let mut ids = Vec::new();
    for &(token, prior, mult, value, n) in kids {
        let id = tree.add_child(ROOT, token, prior, false).unwrap();
        let node = tree.node_mut(id).unwrap();
        node.mult = mult;
        node.value = value;
        node.n = n;
        ids.push(id);
    }
    let root = tree.node_mut(ROOT).unwrap();
    root.draws = kids.iter().map(|k| k.2).sum();
    root.n = kids.iter().map(|k| k.4).sum();
    (tree, ids)
}

/// DTS node: D(s) = 6 draws gave token 0 three times (q = 0.2, v̂ = 0.1),
/// token 1 once (q = 0.7, v̂ = 0.5), token 2 twice (q = 0.1, v̂ = −0.2); λ = 2.
fn dts_node() -> (Tree, Vec<NodeId>) {
    tree_with(&[(0, 0.2, 3, Some(0.1), 3), (1, 0.7, 1, Some(0.5), 1), (2, 0.1, 2, Some(-0.2), 2)])
}

fn probs(tree: &Tree, mode: ChildWeights) -> Vec<f64> {
    step_probs(tree, ROOT, Tilt::Soft(2.0), mode, false).unwrap().into_iter().map(|x| x.1).collect()
}

#[test]
fn dts_selection_uses_multiplicity_over_draws() {
    let (tree, _) = dts_node();
    // P(a) ∝ (m_a/D)·e^{λ v̂}: (3/6)e^{0.2}, (1/6)e^{1}, (2/6)e^{−0.4}
    //   = 0.474446, 0.351966, 0.173588 (token 0 most likely).
    let u = [3.0 / 6.0 * 0.2f64.exp(), 1.0 / 6.0 * 1f64.exp(), 2.0 / 6.0 * (-0.4f64).exp()];
    let z: f64 = u.iter().sum();
    let want = [0.4744460059533373, 0.35196633486964435, 0.17358765917701818];
    for ((p, x), w) in probs(&tree, ChildWeights::Multiplicity).into_iter().zip(u).zip(want) {
        assert_close(p, x / z, "DTS selection");
        assert_close(p, w, "DTS selection (decimal)");
    }
    // m_a·q weights would give 0.2646, 0.6870, 0.0484: token 1 most likely.
    let wrong: Vec<Choice> = valued_children(&tree, ROOT, ChildWeights::Multiplicity)
        .unwrap()
        .into_iter()
        .map(|(c, id)| Choice { weight: c.weight * tree.node(id).unwrap().prior, ..c })
        .collect();
    let wrong = choice_probs(Tilt::Soft(2.0), &wrong);
    assert_close(wrong[1], 0.6870041005756529, "m·q tilt");
    // `Prior` weights: q_a·e^{λ v̂} normalised = 0.110329, 0.859396, 0.030275.
    let want = [0.11032901242877641, 0.8593960646613861, 0.030274922909837482];
    for (p, w) in probs(&tree, ChildWeights::Prior).into_iter().zip(want) {
        assert_close(p, w, "DTS prior selection");
    }
}

#[test]
fn dts_pick_is_gumbel_max_on_log_weight_plus_lambda_value() {
    // The draw DTS makes at a closed node is argmax_a ln m_a + λ v̂_a + g_a,
    // with one Gumbel variate per child, in child order, from the
    // iteration's stream: m = (3, 1, 2), v̂ = (0.1, 0.5, −0.2), λ = 2.
    // Replaying the stream predicts every pick; the m_a·q_a keys
    // (q = 0.2, 0.7, 0.1) would pick differently on some seeds.
    let (tree, _) = dts_node();
    let opts: Vec<Choice> = valued_children(&tree, ROOT, ChildWeights::Multiplicity).unwrap().into_iter().map(|o| o.0).collect();
    let (mult, value, prior) = ([3.0, 1.0, 2.0], [0.1, 0.5, -0.2], [0.2, 0.7, 0.1]);
    let mut differ = 0;
    for seed in 0..200 {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        let mut replay = rng.clone();
        let g: Vec<f64> = (0..3).map(|_| gumbel(&mut replay)).collect();
        let pick = |w: &dyn Fn(usize) -> f64| {
            let key = |i: usize| w(i).ln() + 2.0 * value[i] + g[i];
            (0..3).fold(0, |b, i| if key(i) > key(b) { i } else { b })
        };
        let want = pick(&|i| mult[i]);
        assert_eq!(boltzmann_choice(Tilt::Soft(2.0), &opts, &mut rng), Some(want), "seed {seed}");
        differ += usize::from(pick(&|i| mult[i] * prior[i]) != want);
    }
    assert!(differ > 0, "the m·q rule never picked differently");
}

#[test]
fn dts_backup_uses_multiplicity_over_draws() {
    let (mut tree, _) = dts_node();
    // v̂(s) = ½·ln((3e^{0.2} + e^{1} + 2e^{−0.4})/6) = 0.126230.
    refresh_value(&mut tree, ROOT, Tilt::Soft(2.0), ChildWeights::Multiplicity).unwrap();
    let want = 0.5 * ((3.0 * 0.2f64.exp() + 1f64.exp() + 2.0 * (-0.4f64).exp()) / 6.0).ln();
    assert_close(want, 0.12623013915230732, "hand value");
    assert_close(tree.node(ROOT).unwrap().value.unwrap(), want, "DTS backup");
    // m_a·q weights: ½·ln((0.6e^{0.2} + 0.7e + 0.2e^{−0.4})/1.5) = 0.306637.
    let wrong = 0.5 * ((0.6 * 0.2f64.exp() + 0.7 * 1f64.exp() + 0.2 * (-0.4f64).exp()) / 1.5).ln();
    assert!((wrong - want).abs() > 0.1);
    // `Prior` weights: ½·ln(0.2e^{0.2} + 0.7e + 0.1e^{−0.4}) = 0.397425.
    refresh_value(&mut tree, ROOT, Tilt::Soft(2.0), ChildWeights::Prior).unwrap();
    assert_close(tree.node(ROOT).unwrap().value.unwrap(), 0.39742522144144826, "prior backup");
}

#[test]
fn maxent_backup_leaves_unvisited_children_out() {
    // MaxEnt-TS node: visited (q 0.5, v̂ −0.2) and (q 0.2, v̂ −0.7), unvisited q 0.3.
    // Weights over C⁺ are 0.5/0.7 and 0.2/0.7.
    let (mut tree, ids) = tree_with(&[(0, 0.5, 1, Some(-0.2), 2), (1, 0.2, 1, Some(-0.7), 1), (2, 0.3, 1, None, 0)]);
    let cases = [
        // λ = 1.5: (1/1.5)·ln((0.5e^{−0.3} + 0.2e^{−1.05})/0.7) = −0.308936;
        // with the unvisited child as 0: (1/1.5)·ln(0.5e^{−0.3} + 0.2e^{−1.05} + 0.3) = −0.200379.
        (Tilt::Soft(1.5), -0.3089363425785636, -0.2003794727651935),
        // λ = 0: (0.5·(−0.2) + 0.2·(−0.7))/0.7 = −0.342857; as 0: −0.24.
        (Tilt::Mean, -0.34285714285714286, -0.24),
        // λ = ∞: max(−0.2, −0.7) = −0.2; as 0: 0.
        (Tilt::Max, -0.2, 0.0),
    ];
    for (tilt, want, as_zero) in cases {
        refresh_value(&mut tree, ROOT, tilt, ChildWeights::Prior).unwrap();
        let got = tree.node(ROOT).unwrap().value.unwrap();
        assert_close(got, want, &format!("{tilt:?}"));
        assert!((got - as_zero).abs() > 0.05, "{tilt:?}");
    }
    // The hand formula for λ = 1.5, written out.
    let soft = ((0.5 * (-0.3f64).exp() + 0.2 * (-1.05f64).exp()) / 0.7).ln() / 1.5;
    assert_close(soft, -0.3089363425785636, "hand value");
    // The descent law has no mass on the unvisited child either.
    let law = step_probs(&tree, ROOT, Tilt::Soft(1.5), ChildWeights::Prior, false).unwrap();
    assert!(law.iter().all(|x| x.0 != ids[2]));
    assert_eq!(law.len(), 2);
}
