//! Tiny sample tables with hand-checkable values, built in code.
#![allow(dead_code)]

use polars::prelude::{Column, DataFrame};
use runner::report::Source;

/// One sample row of a fixture.
#[derive(Debug, Clone)]
pub struct Rec {
    pub run: &'static str,
    pub sample: &'static str,
    pub dataset: &'static str,
    pub method: &'static str,
    pub budget: Option<i64>,
    pub reward: Option<f64>,
    pub smape: Option<f64>,
    pub nfe: Option<f64>,
    pub tokens: Option<f64>,
}

pub fn rec(run: &'static str, sample: &'static str, method: &'static str, reward: f64, smape: Option<f64>, nfe: f64, tokens: f64) -> Rec {
    Rec { run, sample, dataset: "m3", method, budget: None, reward: Some(reward), smape, nfe: Some(nfe), tokens: Some(tokens) }
}

/// A samples frame with the columns `store::load_samples` gives (those the
/// reports read).
pub fn frame(recs: &[Rec]) -> DataFrame {
    let col = |name: &str, v: Vec<Option<f64>>| Column::new(name.into(), v);
    let text = |name: &str, f: &dyn Fn(&Rec) -> &'static str| Column::new(name.into(), recs.iter().map(f).collect::<Vec<_>>());
    let cols = vec![
        text("run_id", &|r| r.run),
        text("sample_id", &|r| r.sample),
        text("model", &|_| "smollm2"),
        text("dataset", &|r| r.dataset),
        text("method_name", &|r| r.method),
        text("method", &|r| r.method),
        Column::new("seed".into(), vec![Some(0i64); recs.len()]),
        Column::new("num_rollouts".into(), recs.iter().map(|r| r.budget).collect::<Vec<_>>()),
        Column::new("lambda".into(), vec![Some(f64::INFINITY); recs.len()]),
        col("reward", recs.iter().map(|r| r.reward).collect()),
        col("smape", recs.iter().map(|r| r.smape).collect()),
        col("mase", vec![None; recs.len()]),
        col("correct", vec![None; recs.len()]),
        col("parsed", vec![Some(1.0); recs.len()]),
        col("nfe", recs.iter().map(|r| r.nfe).collect()),
        col("tokens_generated", recs.iter().map(|r| r.tokens).collect()),
        col("wall_seconds", vec![Some(1.5); recs.len()]),
    ];
    DataFrame::new(recs.len(), cols).expect("fixture frame")
}

/// Two methods, four samples each:
/// greedy: reward 0.1 0.2 0.3 0.4, sMAPE 10 20 30 40, NFE 5 (all), tokens 10 (all);
/// mcts:   reward 0.5 0.5 0.7 0.7, sMAPE 5 5 - 15,   NFE 20 30 40 50, tokens 100 200 300 400.
pub fn two_methods() -> Vec<Rec> {
    vec![
        rec("r_greedy", "s1", "greedy", 0.1, Some(10.0), 5.0, 10.0),
        rec("r_greedy", "s2", "greedy", 0.2, Some(20.0), 5.0, 10.0),
        rec("r_greedy", "s3", "greedy", 0.3, Some(30.0), 5.0, 10.0),
        rec("r_greedy", "s4", "greedy", 0.4, Some(40.0), 5.0, 10.0),
        rec("r_mcts", "s1", "mcts", 0.5, Some(5.0), 20.0, 100.0),
        rec("r_mcts", "s2", "mcts", 0.5, Some(5.0), 30.0, 200.0),
        rec("r_mcts", "s3", "mcts", 0.7, None, 40.0, 300.0),
        rec("r_mcts", "s4", "mcts", 0.7, Some(15.0), 50.0, 400.0),
    ]
}

pub fn source(name: &str) -> Source {
    Source { results_dir: format!("results/fixture/{name}"), commit: name.to_owned(), spec: Some("experiments/fixture.yaml".into()) }
}

/// Writes `recs` as a results directory `dir` (`runs/<run>/samples.parquet`),
/// as `store` does.
pub fn write_results(dir: &std::path::Path, recs: &[Rec]) {
    use runner::store::row::RunColumns;
    use runner::store::{write_samples_parquet, SampleRow};
    let mut runs: Vec<&str> = recs.iter().map(|r| r.run).collect();
    runs.dedup();
    for run in runs {
        let rows: Vec<SampleRow> = recs
            .iter()
            .filter(|r| r.run == run)
            .enumerate()
            .map(|(i, r)| SampleRow {
                run: RunColumns {
                    run_id: r.run.into(),
                    model: "smollm2".into(),
                    dataset: r.dataset.into(),
                    method_name: r.method.into(),
                    method: r.method.into(),
                    seed: None,
                    int_params: vec![r.budget, None, Some(64), None],
                    float_params: vec![Some(1.0), Some(1.0), None, None, None],
                },
                sample_id: r.sample.into(),
                sample_index: i as i64,
                metrics: vec![r.reward, r.smape, None, None, Some(1.0), r.nfe, r.tokens, r.tokens, Some(1.0), Some(0.5)],
                output: String::new(),
                parse_status: "ok".into(),
            })
            .collect();
        let run_dir = dir.join("runs").join(run);
        std::fs::create_dir_all(&run_dir).unwrap();
        write_samples_parquet(&run_dir.join("samples.parquet"), &rows).unwrap();
    }
}

/// The `runner` binary.
pub fn runner() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
}

/// An experiment file that loads (its runs are not needed).
pub fn spec_file() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.yaml")
}
