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
    pub mase: Option<f64>,
    pub smape_naive2: Option<f64>,
    pub mase_naive2: Option<f64>,
    /// Activity samples: the true label and the parsed one.
    pub truth: Option<&'static str>,
    pub answer: Option<&'static str>,
    pub parsed: bool,
    pub nfe: Option<f64>,
    pub tokens: Option<f64>,
}

pub fn rec(run: &'static str, sample: &'static str, method: &'static str, reward: f64, smape: Option<f64>, nfe: f64, tokens: f64) -> Rec {
    Rec {
        run,
        sample,
        dataset: "m3",
        method,
        budget: None,
        reward: Some(reward),
        smape,
        mase: None,
        smape_naive2: None,
        mase_naive2: None,
        truth: None,
        answer: None,
        parsed: true,
        nfe: Some(nfe),
        tokens: Some(tokens),
    }
}

/// A forecast with sMAPE, MASE and Naive2's; `None` sMAPE and MASE for a
/// failed parse.
pub fn forecast(run: &'static str, sample: &'static str, method: &'static str, [s, m, sn, mn]: [Option<f64>; 4]) -> Rec {
    let parsed = s.is_some();
    Rec { smape_naive2: sn, mase_naive2: mn, mase: m, parsed, ..rec(run, sample, method, if parsed { -0.1 } else { -1.0 }, s, 10.0, 20.0) }
}

/// An activity sample; `None` answer for a failed parse.
pub fn activity(run: &'static str, sample: &'static str, method: &'static str, truth: &'static str, answer: Option<&'static str>) -> Rec {
    let reward = if answer == Some(truth) { 1.0 } else { 0.0 };
    Rec { dataset: "har", truth: Some(truth), answer, parsed: answer.is_some(), ..rec(run, sample, method, reward, None, 10.0, 20.0) }
}

impl Rec {
    /// 1 when the parsed label is the true one, 0 when not; none for a forecast.
    pub fn correct(&self) -> Option<f64> {
        self.truth.map(|t| if self.answer == Some(t) { 1.0 } else { 0.0 })
    }

    /// The sample as a `samples.jsonl` record.
    pub fn record(&self, index: usize) -> serde_json::Value {
        serde_json::json!({
            "run_id": self.run, "sample_id": self.sample, "sample_index": index,
            "reward": self.reward, "parse_status": if self.parsed { "ok" } else { "unparsable" },
            "output": "", "answer": self.answer, "truth": self.truth,
            "metrics": {"smape": self.smape, "mase": self.mase, "smape_naive2": self.smape_naive2, "mase_naive2": self.mase_naive2,
                        "correct": self.correct().map(|c| c == 1.0)},
            "counters": {"nfe": self.nfe, "tokens_generated": self.tokens, "tokens_forwarded": self.tokens, "rollouts": 1},
            "wall_seconds": 0.5,
        })
    }
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
        col("mase", recs.iter().map(|r| r.mase).collect()),
        col("smape_naive2", recs.iter().map(|r| r.smape_naive2).collect()),
        col("mase_naive2", recs.iter().map(|r| r.mase_naive2).collect()),
        col("correct", recs.iter().map(Rec::correct).collect()),
        Column::new("true_label".into(), recs.iter().map(|r| r.truth).collect::<Vec<_>>()),
        Column::new("predicted_label".into(), recs.iter().map(|r| r.answer).collect::<Vec<_>>()),
        col("parsed", recs.iter().map(|r| Some(if r.parsed { 1.0 } else { 0.0 })).collect()),
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
    Source {
        results_dir: format!("results/fixture/{name}"),
        commit: name.to_owned(),
        spec: Some("experiments/fixture.yaml".into()),
        planned: None,
    }
}

/// The run columns of `r`'s run.
pub fn run_columns(r: &Rec) -> runner::store::row::RunColumns {
    runner::store::row::RunColumns {
        run_id: r.run.into(),
        model: "smollm2".into(),
        dataset: r.dataset.into(),
        method_name: r.method.into(),
        method: r.method.into(),
        seed: None,
        int_params: vec![r.budget, None, Some(64), None],
        float_params: vec![Some(1.0), Some(1.0), None, None, None],
    }
}

/// Writes the samples of run `run` among `recs` to `path` as `samples.parquet`,
/// read from their records as `store` reads them.
pub fn write_run_parquet(path: &std::path::Path, recs: &[Rec], run: &str) {
    use runner::store::{write_samples_parquet, SampleRow};
    let rows: Vec<SampleRow> =
        recs.iter().filter(|r| r.run == run).enumerate().map(|(i, r)| SampleRow::from_record(&r.record(i), &run_columns(r))).collect();
    write_samples_parquet(path, &rows).unwrap();
}

/// Writes `recs` as a results directory `dir` (`runs/<run>/samples.parquet`),
/// as `store` does.
pub fn write_results(dir: &std::path::Path, recs: &[Rec]) {
    let mut runs: Vec<&str> = recs.iter().map(|r| r.run).collect();
    runs.dedup();
    for run in runs {
        let run_dir = dir.join("runs").join(run);
        std::fs::create_dir_all(&run_dir).unwrap();
        write_run_parquet(&run_dir.join("samples.parquet"), recs, run);
    }
}

/// Forecasts of method `A` (3 samples) and `B` (4, one not parsed), and
/// activity samples of method `C` (5, one not parsed), in runs `r_a`,
/// `r_b`, `r_c`:
/// A: sMAPE 10 20 30, MASE 0.5 1.0 1.5, Naive2 sMAPE 16 24 20, Naive2 MASE 1.0 1.5 2.0;
/// B: sMAPE 12 6 9 -, MASE 0.6 0.3 0.9 -, Naive2 sMAPE 20 16 24 18, Naive2 MASE 1.0 1.5 2.0 1.2;
/// C: truth → answer a→a, a→b, b→b, b→(failed), c→c.
pub fn set_metric_recs() -> Vec<Rec> {
    let f = |s: f64, m: f64, sn: f64, mn: f64| [Some(s), Some(m), Some(sn), Some(mn)];
    vec![
        forecast("r_a", "s1", "A", f(10.0, 0.5, 16.0, 1.0)),
        forecast("r_a", "s2", "A", f(20.0, 1.0, 24.0, 1.5)),
        forecast("r_a", "s3", "A", f(30.0, 1.5, 20.0, 2.0)),
        forecast("r_b", "s1", "B", f(12.0, 0.6, 20.0, 1.0)),
        forecast("r_b", "s2", "B", f(6.0, 0.3, 16.0, 1.5)),
        forecast("r_b", "s3", "B", f(9.0, 0.9, 24.0, 2.0)),
        forecast("r_b", "s4", "B", [None, None, Some(18.0), Some(1.2)]),
        activity("r_c", "h1", "C", "a", Some("a")),
        activity("r_c", "h2", "C", "a", Some("b")),
        activity("r_c", "h3", "C", "b", Some("b")),
        activity("r_c", "h4", "C", "b", None),
        activity("r_c", "h5", "C", "c", Some("c")),
    ]
}

/// The `runner` binary.
pub fn runner() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
}

/// An experiment file that loads (its runs are not needed).
pub fn spec_file() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("experiments/quickstart.yaml")
}
