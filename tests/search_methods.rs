//! Validity, baselines, counters, configuration, KV handling and
//! determinism of every method on toy models.

use crate::toy;

use runner::search::config::SearchConfig;
use runner::search::lm::Evaluator;
use runner::search::methods::maxent_ts::MaxEntRun;
use runner::search::proposal::{proposal, ProposalParams};
use runner::search::toy::{ToyEvaluator, ToyModel};
use runner::search::{method_for, SearchError, SearchInput, SearchOutcome};
use runner::spec::MethodKind;
use serde_json::json;
use toy::*;

/// Every configuration the validity test runs.
fn all_configs() -> Vec<(MethodKind, serde_json::Value)> {
    vec![
        (MethodKind::Greedy, json!({})),
        (MethodKind::BestOfN, json!({})),
        (MethodKind::BestOfN, json!({ "output": "sample" })),
        (MethodKind::BestOfN, json!({ "top_k": 2, "sampling_temperature": 0.7 })),
        (MethodKind::Mcts, json!({})),
        (MethodKind::Mcts, json!({ "selection": "puct", "expansion_k": 2 })),
        (MethodKind::Mcts, json!({ "add_rollout_to_tree": true, "prune_exhausted": false })),
        (MethodKind::Mcts, json!({ "parallel_rollouts": 4 })),
        (MethodKind::Dts, json!({})),
        (MethodKind::Dts, json!({ "output": "sample_then_best", "output_samples": 4, "weights": "prior" })),
        (MethodKind::Dts, json!({ "parallel_rollouts": 4 })),
        (MethodKind::Dts, json!({ "expansion": "top_k", "expansion_k": 2 })),
        (MethodKind::DtsStar, json!({})),
        (MethodKind::DtsStar, json!({ "output": "argmax_descent" })),
        (MethodKind::DtsStar, json!({ "expansion": "top_k", "expansion_k": 3, "parallel_rollouts": 3 })),
        (MethodKind::MaxentTs, json!({})),
        (MethodKind::MaxentTs, json!({ "output": "sample" })),
        (MethodKind::MaxentTs, json!({ "rollout_all_on_expand": true, "parallel_rollouts": 2 })),
        (MethodKind::MaxentTs, json!({ "expansion_k": 2, "rollout_top_k": 3, "top_p": 0.9 })),
        (MethodKind::MaxentTs, json!({ "parallel_rollouts": 5, "max_tokens_generated": 20 })),
    ]
}

fn check_valid(out: &SearchOutcome, what: &str) {
    let y = &out.output;
    assert!(is_terminal(&y.tokens), "{what}: output {:?} is not terminal", y.tokens);
    assert!(out.evaluated.contains(y), "{what}: output not in E");
    assert_eq!(out.evaluated_count, out.evaluated.len());
    let again = evaluator().evaluate(&y.tokens).expect("evaluate");
    assert_eq!(again.text, y.text, "{what}");
    assert_eq!(again.reward.to_bits(), y.reward.to_bits(), "{what}");
    for e in &out.evaluated {
        assert_eq!(evaluator().evaluate(&e.tokens).expect("evaluate").reward.to_bits(), e.reward.to_bits());
    }
    assert!(out.counters.reward_calls <= out.counters.rollouts, "{what}");
    assert_eq!(out.counters.rollouts, out.evaluated.len() as u64, "{what}");
}

#[test]
fn every_method_returns_an_evaluated_terminal() {
    for (kind, extra) in all_configs() {
        for lam in LAMBDAS {
            for seed in 0..12 {
                let p = with_lambda(params(kind, extra.clone()), lam);
                let cfg = config(kind, &p, seed);
                let best_found = cfg_is_best_found(&p);
                let (out, m, e) = run(cfg);
                let what = format!("{kind:?} {extra} {lam:?} seed {seed}");
                check_valid(&out, &what);
                assert!(m.violations.is_empty(), "{what}: {:?}", m.violations);
                assert_eq!(m.live(), 0, "{what}: sequences left alive");
                assert_eq!(e.calls, out.counters.reward_calls);
                assert_eq!(
                    (m.calls, m.rows, m.tokens),
                    (out.counters.nfe, out.counters.forward_rows, out.counters.tokens_forwarded),
                    "{what}"
                );
                if best_found {
                    let max = out.evaluated.iter().map(|e| e.reward).fold(f64::NEG_INFINITY, f64::max);
                    assert_eq!(out.output.reward, max, "{what}");
                    let first = out.evaluated.iter().position(|e| e.reward == max);
                    assert_eq!(out.evaluated.iter().position(|e| *e == out.output), first, "{what}: ties go to the earliest");
                }
            }
        }
    }
}

fn cfg_is_best_found(p: &runner::plan::MethodParams) -> bool {
    matches!(p.output, None | Some(runner::spec::OutputRule::BestFound))
}

/// Per-step argmax of the table (ties to the smaller id).
fn table_greedy() -> Vec<u32> {
    let mut y = Vec::new();
    while !is_terminal(&y) {
        let z = logits_table().into_iter().find(|(p, _)| *p == y).map(|x| x.1).expect("prefix");
        let mut best = 0;
        for (i, v) in z.iter().enumerate() {
            if *v > z[best] {
                best = i;
            }
        }
        y.push(best as u32);
    }
    y
}

#[test]
fn greedy_is_the_per_step_argmax_and_counts_by_hand() {
    let y = table_greedy();
    assert_eq!(y, vec![A, B, A], "root near-tie goes to a, then the `ab` tie to a");
    let (out, _, _) = run(config(MethodKind::Greedy, &params(MethodKind::Greedy, json!({})), 0));
    assert_eq!(out.output.tokens, y);
    let l = y.len() as u64;
    let c = out.counters;
    assert_eq!((c.nfe, c.forward_rows, c.tokens_forwarded), (l, l, PROMPT.len() as u64 + l - 1));
    assert_eq!((c.rollouts, c.reward_calls, c.tokens_generated, c.iterations), (1, 1, l, 1));
    assert!(out.tree.is_none());
}

#[test]
fn best_of_n_at_temperature_zero_is_greedy() {
    for seed in 0..5 {
        let p = params(MethodKind::BestOfN, json!({ "sampling_temperature": 0.0, "num_rollouts": 4 }));
        let (out, _, _) = run(config(MethodKind::BestOfN, &p, seed));
        assert_eq!(out.output.tokens, table_greedy());
        assert!(out.evaluated.iter().all(|e| e.tokens == table_greedy()));
        assert_eq!(out.counters.reward_calls, 1, "the cache serves the duplicates");
    }
}

#[test]
fn best_of_n_counts_by_hand() {
    for seed in 0..20 {
        let n = 6u64;
        let p = params(MethodKind::BestOfN, json!({ "num_rollouts": n }));
        let (out, _, _) = run(config(MethodKind::BestOfN, &p, seed));
        let lens: Vec<u64> = out.evaluated.iter().map(|e| e.tokens.len() as u64).collect();
        let c = out.counters;
        assert_eq!(c.rollouts, n);
        assert_eq!(c.iterations, n);
        assert_eq!(c.tokens_generated, lens.iter().sum::<u64>());
        assert_eq!(c.nfe, 1 + lens.iter().map(|l| l - 1).max().unwrap_or(0));
        assert_eq!(c.forward_rows, 1 + lens.iter().map(|l| l - 1).sum::<u64>());
        assert_eq!(c.tokens_forwarded, PROMPT.len() as u64 + lens.iter().map(|l| l - 1).sum::<u64>());
        let distinct: std::collections::HashSet<&Vec<u32>> = out.evaluated.iter().map(|e| &e.tokens).collect();
        assert_eq!(c.reward_calls, distinct.len() as u64);
    }
}

#[test]
fn token_matched_best_of_n_stops_at_the_budget() {
    let p = params(MethodKind::BestOfN, json!({ "token_budget_from": "dts", "num_rollouts": null }));
    let cfg = config(MethodKind::BestOfN, &p, 4);
    let err = method_for(cfg.clone()).search(&mut model(), &mut evaluator(), &SearchInput::new(&PROMPT));
    assert!(matches!(err, Err(SearchError::MissingTokenBudget(_))));
    for g in [1u64, 7, 25] {
        let out = method_for(cfg.clone())
            .search(&mut model(), &mut evaluator(), &SearchInput::new(&PROMPT).with_token_budget(g))
            .expect("search");
        let lens: Vec<u64> = out.evaluated.iter().map(|e| e.tokens.len() as u64).collect();
        let total: u64 = lens.iter().sum();
        assert!(total >= g && total - lens.last().copied().unwrap_or(0) < g, "budget {g}: {lens:?}");
        assert_eq!(out.counters.tokens_generated, total);
        // The kept draws are the first draws of plain best-of-N with the same seed.
        let plain = params(MethodKind::BestOfN, json!({ "num_rollouts": lens.len() }));
        let (bon, _, _) = run(config(MethodKind::BestOfN, &plain, 4));
        assert_eq!(
            bon.evaluated.iter().map(|e| &e.tokens).collect::<Vec<_>>(),
            out.evaluated.iter().map(|e| &e.tokens).collect::<Vec<_>>()
        );
    }
    // With `num_rollouts` given it is the wave width, not a cap: the budget
    // is still reached.
    let p = params(MethodKind::BestOfN, json!({ "token_budget_from": "dts", "num_rollouts": 2 }));
    let out = method_for(config(MethodKind::BestOfN, &p, 4))
        .search(&mut model(), &mut evaluator(), &SearchInput::new(&PROMPT).with_token_budget(25))
        .expect("search");
    let total: u64 = out.evaluated.iter().map(|e| e.tokens.len() as u64).sum();
    assert!(total >= 25 && out.evaluated.len() > 2, "{} sequences, {total} tokens", out.evaluated.len());
}

#[test]
fn same_seed_same_everything() {
    for (kind, extra) in all_configs() {
        let p = params(kind, extra.clone());
        let (a, _, _) = run(config(kind, &p, 11));
        let (b, _, _) = run(config(kind, &p, 11));
        assert_eq!(a, b, "{kind:?} {extra}");
        assert_eq!(a.evaluated, b.evaluated);
        let json = serde_json::to_string(&a).expect("serialize");
        assert!(json.contains("tokens_generated"));
    }
}

#[test]
fn parallel_rollouts_one_is_the_sequential_algorithm() {
    // The batched driver with B = 1 runs one iteration per forward batch and
    // matches a step-by-step run; B > 1 batches rows and spends fewer calls.
    for lam in LAMBDAS {
        let p = with_lambda(params(MethodKind::MaxentTs, json!({ "num_rollouts": 40 })), lam);
        let cfg = config(MethodKind::MaxentTs, &p, 5);
        let (whole, _, _) = run(cfg.clone());
        let (mut m, mut e) = (model(), evaluator());
        let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &PROMPT).expect("start");
        let mut steps = 0;
        while !r.finished() {
            r.step().expect("step");
            steps += 1;
        }
        assert_eq!(steps, 40);
        let stepped = r.finish().expect("finish");
        assert_eq!(whole, stepped);
        let pb = with_lambda(params(MethodKind::MaxentTs, json!({ "num_rollouts": 40, "parallel_rollouts": 8 })), lam);
        let (batched, _, _) = run(config(MethodKind::MaxentTs, &pb, 5));
        assert!(batched.counters.nfe < whole.counters.nfe, "{lam:?}");
        assert_eq!(batched.counters.iterations, 40);
    }
}

#[test]
fn config_errors_are_clear() {
    let bad = |kind, extra: serde_json::Value| {
        let mut p = params(kind, json!({}));
        let mut v = serde_json::to_value(&p).expect("to json");
        for (k, val) in extra.as_object().expect("object") {
            if val.is_null() {
                v.as_object_mut().expect("object").remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        p = serde_json::from_value(v).expect("params");
        SearchConfig::from_params(kind, &p, vec![EOS], 0)
    };
    let msg = |r: Result<SearchConfig, SearchError>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg(bad(MethodKind::Mcts, json!({ "num_rollouts": null }))).contains("num_rollouts"));
    assert!(msg(bad(MethodKind::MaxentTs, json!({ "expansion_k": null }))).contains("expansion_k"));
    assert!(msg(bad(MethodKind::Dts, json!({ "expansion": "top_k" }))).contains("expansion_k"));
    assert!(msg(bad(MethodKind::BestOfN, json!({ "num_rollouts": null }))).contains("num_rollouts"));
    assert!(msg(bad(MethodKind::Mcts, json!({ "output": "sample" }))).contains("output"));
    assert!(msg(bad(MethodKind::Dts, json!({ "pw_alpha": 1.5 }))).contains("pw_alpha"));
    assert!(msg(bad(MethodKind::BestOfN, json!({ "top_p": 0.0 }))).contains("top_p"));
    assert!(msg(bad(MethodKind::Greedy, json!({ "max_new_tokens": 0 }))).contains("max_new_tokens"));
    assert!(bad(MethodKind::Dts, json!({})).is_ok());
    let empty = method_for(config(MethodKind::Greedy, &params(MethodKind::Greedy, json!({})), 0)).search(
        &mut model(),
        &mut evaluator(),
        &SearchInput::new(&[]),
    );
    assert!(matches!(empty, Err(SearchError::EmptyPrompt)));
}

#[test]
fn non_finite_rewards_are_errors() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut e = ToyEvaluator::new(vec!["a".into(), "b".into(), String::new()], Box::new(move |_| Some(bad)));
        let cfg = config(MethodKind::MaxentTs, &params(MethodKind::MaxentTs, json!({})), 0);
        let mut m = model();
        let r = method_for(cfg).search(&mut m, &mut e, &SearchInput::new(&PROMPT));
        assert!(matches!(r, Err(SearchError::NonFiniteReward { .. })));
        assert_eq!(m.live(), 0, "sequences are released on error");
    }
}

/// A longer toy: 3 tokens, up to 9 new tokens, logits hashed from the prefix.
fn long_model(stop_after: usize) -> ToyModel {
    ToyModel::new(
        vec![A, B, A],
        Box::new(move |y: &[u32]| {
            if y.len() >= stop_after || y.last() == Some(&EOS) {
                return None;
            }
            let mut h: u64 = 1469598103934665603;
            for &t in y {
                h = (h ^ (u64::from(t) + 1)).wrapping_mul(1099511628211);
            }
            let f = |k: u64| ((h >> (k * 8)) & 0xff) as f32 / 128.0;
            Some(vec![f(0), f(1), f(2) - 1.5])
        }),
    )
}

fn long_evaluator() -> ToyEvaluator {
    ToyEvaluator::new(
        vec!["a".into(), "b".into(), String::new()],
        Box::new(|t: &str| Some(t.chars().enumerate().map(|(i, c)| if c == 'a' { (i % 3) as f64 - 0.7 } else { 0.25 }).sum())),
    )
}

#[test]
fn kv_rows_continue_their_sequences_and_stay_under_the_cap() {
    let max_new = 9u32;
    let cases = [
        (MethodKind::MaxentTs, json!({ "num_rollouts": 60 })),
        (MethodKind::MaxentTs, json!({ "num_rollouts": 30, "rollout_all_on_expand": true })),
        (MethodKind::Dts, json!({ "num_rollouts": 60 })),
        (MethodKind::DtsStar, json!({ "num_rollouts": 60, "parallel_rollouts": 3 })),
        (MethodKind::Mcts, json!({ "num_rollouts": 60 })),
        (MethodKind::Mcts, json!({ "num_rollouts": 60, "add_rollout_to_tree": true })),
        (MethodKind::BestOfN, json!({ "num_rollouts": 5 })),
        (MethodKind::Greedy, json!({})),
    ];
    for (kind, extra) in cases {
        let mut reference: Option<SearchOutcome> = None;
        for cap in [64usize, 4, 2] {
            let mut extra = extra.clone();
            extra["max_new_tokens"] = max_new.into();
            let p = params(kind, extra.clone());
            let mut cfg = config(kind, &p, 9);
            cfg.kv_cap = cap;
            cfg.keep_top = 2; // forces tail recomputation in DTS draws
            let mut m = long_model(max_new as usize);
            let mut e = long_evaluator();
            let what = format!("{kind:?} {extra} cap {cap}");
            let out = method_for(cfg.clone()).search(&mut m, &mut e, &SearchInput::new(&[A, B, A])).expect(&what);
            assert!(m.violations.is_empty(), "{what}: {:?}", m.violations);
            assert_eq!(m.live(), 0, "{what}");
            let rows_in_flight = cfg.parallel_rollouts.max(match kind {
                MethodKind::BestOfN => 5,
                MethodKind::MaxentTs => 3,
                _ => 1,
            });
            // Beyond the cap only: the pinned prompt, the sequence being forked, rows in flight.
            assert!(m.max_live <= cap.max(rows_in_flight + 2), "{what}: {} live", m.max_live);
            assert_eq!((m.calls, m.rows, m.tokens), (out.counters.nfe, out.counters.forward_rows, out.counters.tokens_forwarded), "{what}");
            // Eviction changes what is recomputed, never what is found.
            match &reference {
                None => reference = Some(out),
                Some(r) => {
                    assert_eq!(r.output, out.output, "{what}");
                    assert_eq!(r.evaluated, out.evaluated, "{what}");
                    assert_eq!(r.counters.tokens_generated, out.counters.tokens_generated, "{what}");
                    assert!(out.counters.tokens_forwarded >= r.counters.tokens_forwarded, "{what}");
                }
            }
        }
    }
}

#[test]
fn stored_proposals_match_the_model_at_every_node() {
    let max_new = 9usize;
    let p = params(MethodKind::MaxentTs, json!({ "num_rollouts": 80, "max_new_tokens": max_new }));
    let mut cfg = config(MethodKind::MaxentTs, &p, 2);
    cfg.kv_cap = 3;
    let mut m = long_model(max_new);
    let mut e = long_evaluator();
    let mut r = MaxEntRun::start(&cfg, &mut m, &mut e, &[A, B, A]).expect("start");
    let reference = long_model(max_new);
    let params = ProposalParams { temperature: 1.0, top_k: None, top_p: 1.0 };
    let mut checked = 0;
    while !r.finished() {
        r.step().expect("step");
        for (id, n) in r.tree().nodes().iter().enumerate() {
            if let Some(d) = n.proposal() {
                let y = r.tree().tokens(id as u32);
                let want = proposal(&reference.log_probs(&y).expect("logits"), &params).expect("proposal");
                assert_eq!(d.entries[..], want[..d.entries.len()], "node {id} {y:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
}
