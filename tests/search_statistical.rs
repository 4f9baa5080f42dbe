//! docs/algorithms.md §6.8: DTS with multiplicity weights converges to the soft
//! value and to π*. Tolerances are 4 standard errors measured here over 20
//! seeds; nothing is copied from an earlier run.

use crate::toy;

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use runner::search::methods::dts::DtsRun;
use runner::search::tree::{NodeId, Tree};
use runner::spec::MethodKind;
use serde_json::json;
use toy::*;

const SEEDS: u64 = 20;
const ITERATIONS: u64 = 20_000;
const LAMBDA: f64 = 1.0;

/// Π(y) for every terminal of the toy (0 where the tree lacks y).
fn descent_law(run: &DtsRun<'_>) -> Vec<f64> {
    let tree: &Tree = run.tree();
    terminals()
        .iter()
        .map(|y| {
            let mut p = 1.0;
            let mut s: NodeId = 0;
            for &t in y {
                let Some(c) = tree.child(s, t) else { return 0.0 };
                let probs = run.step_probs(s).expect("probs");
                p *= probs.iter().find(|x| x.0 == c).map_or(0.0, |x| x.1);
                s = c;
            }
            p
        })
        .collect()
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

#[test]
fn dts_multiplicity_converges_to_the_soft_value_and_the_target() {
    let v_root = value(&[], Lam::Finite(LAMBDA), 3);
    let pi: Vec<f64> = target(LAMBDA, 3).into_iter().map(|x| x.1).collect();
    let p = with_lambda(params(MethodKind::Dts, json!({ "num_rollouts": ITERATIONS })), Lam::Finite(LAMBDA));
    let mut roots = Vec::new();
    let mut laws: Vec<Vec<f64>> = Vec::new();
    let mut tvs = Vec::new();
    for seed in 0..SEEDS {
        let cfg = config(MethodKind::Dts, &p, seed);
        let (mut m, mut e) = (model(), evaluator());
        let mut r = DtsRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
        while !r.finished() {
            r.step().expect("step");
        }
        roots.push(r.tree().nodes()[0].value.expect("root value"));
        let law = descent_law(&r);
        assert!((law.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        tvs.push(law.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0);
        if seed == 0 {
            // Algorithm-2 samples follow Π.
            let draws = 20_000usize;
            let mut rng = ChaCha20Rng::seed_from_u64(99);
            let mut hist = vec![0usize; law.len()];
            let ys = terminals();
            for _ in 0..draws {
                let leaf = r.descend(&mut rng).expect("descent");
                let y = r.tree().tokens(leaf);
                let i = ys.iter().position(|t| *t == y).expect("terminal of the toy");
                hist[i] += 1;
            }
            for (i, &h) in hist.iter().enumerate() {
                let f = h as f64 / draws as f64;
                let se = (law[i] * (1.0 - law[i]) / draws as f64).sqrt();
                assert!((f - law[i]).abs() <= 4.0 * se + 1e-12, "histogram {:?}: {f} vs Π {}", ys[i], law[i]);
            }
        }
        laws.push(law);
    }
    let (m, sd) = mean_sd(&roots);
    let se = sd / (SEEDS as f64).sqrt();
    assert!((m - v_root).abs() <= 4.0 * se, "v̂(root) mean {m} vs V {v_root} (se {se})");
    let mut mean_law = vec![0.0; pi.len()];
    for (i, target) in pi.iter().enumerate() {
        let xs: Vec<f64> = laws.iter().map(|l| l[i]).collect();
        let (m, sd) = mean_sd(&xs);
        let se = sd / (SEEDS as f64).sqrt();
        mean_law[i] = m;
        assert!((m - target).abs() <= 4.0 * se, "Π({:?}) mean {m} vs π* {target} (se {se})", terminals()[i]);
    }
    // The per-seed TV distance shrinks with the tree: the mean law is closer
    // to π* than a typical single run.
    let tv_mean: f64 = mean_law.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0;
    let (tv, tv_sd) = mean_sd(&tvs);
    assert!(tv_mean <= tv + 4.0 * tv_sd / (SEEDS as f64).sqrt(), "TV of the mean law {tv_mean} vs mean TV {tv}");
}
