//! file < RUNNER_* environment < --set.

use crate::common;

use common::{plan_text, root, runner, spec_with, stdout};

fn mcts_rollouts(json: &str) -> Vec<u64> {
    let plan: serde_json::Value = serde_json::from_str(json).expect("plan --json is JSON");
    plan["runs"]
        .as_array()
        .expect("runs array")
        .iter()
        .filter(|r| r["method"]["kind"] == "mcts")
        .map(|r| r["method"]["params"]["num_rollouts"].as_u64().expect("num_rollouts"))
        .collect()
}

#[test]
fn set_flags_override_the_file_in_process() {
    let text = spec_with("methods:\n  mcts:\n    num_rollouts: 4\n    expansion_k: 2\n");
    let plan = plan_text(&text, &["methods.mcts.num_rollouts=9", "methods.mcts.expansion_k=[2, 3]"]);
    assert_eq!(plan.runs.len(), 2);
    assert!(plan.runs.iter().all(|r| r.method.params.num_rollouts == Some(9)));
    // Later flags win over earlier ones.
    let plan = plan_text(&text, &["methods.mcts.num_rollouts=9", "methods.mcts.num_rollouts=11"]);
    assert_eq!(plan.runs[0].method.params.num_rollouts, Some(11));
}

#[test]
fn environment_overrides_the_file_and_set_overrides_the_environment() {
    let spec = root().join("experiments/quickstart.yaml");
    let file = runner().args(["plan", "--json"]).arg(&spec).output().expect("runs");
    assert!(file.status.success());
    assert!(mcts_rollouts(&stdout(&file)).iter().all(|n| *n == 4));

    let env = runner().args(["plan", "--json"]).arg(&spec).env("RUNNER_METHODS__MCTS__NUM_ROLLOUTS", "7").output().expect("runs");
    assert!(env.status.success());
    assert!(mcts_rollouts(&stdout(&env)).iter().all(|n| *n == 7));

    let set = runner()
        .args(["plan", "--json", "--set", "methods.mcts.num_rollouts=9"])
        .arg(&spec)
        .env("RUNNER_METHODS__MCTS__NUM_ROLLOUTS", "7")
        .output()
        .expect("runs");
    assert!(set.status.success());
    let counts = mcts_rollouts(&stdout(&set));
    assert!(!counts.is_empty() && counts.iter().all(|n| *n == 9));
}

#[test]
fn unrelated_runner_variables_are_not_read_as_spec_keys() {
    let spec = root().join("experiments/quickstart.yaml");
    let out = runner()
        .args(["validate"])
        .arg(&spec)
        .env("RUNNER_ASSETS_DIR", "/nonexistent")
        .env("RUNNER_SOMETHING_ELSE", "1")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", common::stderr(&out));
}
