//! `runner bench report`: `runner table` over a large generated results
//! set, timed: loading the per-run parquet files, grouping with intervals,
//! and every output format.

use std::path::{Path, PathBuf};
use std::time::Instant;

use polars::prelude::{DataFrame, ParquetWriter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::report::format::Format;
use crate::report::provenance::Source;
use crate::report::table::{self, TableOptions};
use crate::report::ReportError;
use crate::store::row::RunColumns;
use crate::store::{self, SampleRow};

const METHODS: &[(&str, &str)] =
    &[("greedy", "greedy"), ("bon", "best_of_n"), ("mcts", "mcts"), ("dts", "dts"), ("dts_star", "dts_star"), ("maxent", "maxent_ts")];
const BUDGETS: &[i64] = &[5, 10, 20, 50];
/// Samples per generated run.
pub const SAMPLES_PER_RUN: usize = 1000;

fn fixture_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Bench(e.to_string())
}

/// The rows of run `run` (of a forecasting sweep over six methods and four
/// budgets), with random metrics, read from records as the store reads them.
fn run_rows(run: usize, samples: usize, rng: &mut ChaCha8Rng) -> Vec<SampleRow> {
    let (name, kind) = METHODS[run % METHODS.len()];
    let budget = (kind != "greedy").then(|| BUDGETS[(run / METHODS.len()) % BUDGETS.len()]);
    let columns = RunColumns {
        run_id: format!("{run:016x}"),
        model: "smollm2".into(),
        dataset: "m3".into(),
        method_name: name.into(),
        method: kind.into(),
        seed: budget.map(|_| 0),
        int_params: vec![budget, budget.map(|_| 3), Some(64), None],
        float_params: vec![Some(1.0), Some(1.0), budget.map(|_| 1.0), None, None],
    };
    (0..samples)
        .map(|i| {
            let s: f64 = rng.random_range(0.0..60.0);
            let naive2: f64 = rng.random_range(5.0..40.0);
            let parsed = rng.random_range(0.0..1.0) > 0.05;
            let b = budget.unwrap_or(1) as f64;
            let nfe = (b * rng.random_range(8.0..24.0)).round();
            let tokens = (b * rng.random_range(20.0..64.0)).round();
            let record = serde_json::json!({
                "sample_id": format!("N{i:04}"),
                "sample_index": i,
                "reward": if parsed { -s / 200.0 } else { -1.0 },
                "parse_status": if parsed { "ok" } else { "unparsable" },
                "output": "0, 1, 2, 3, 4, 5",
                "metrics": {"smape": parsed.then_some(s), "mase": parsed.then_some(s / 20.0), "smape_naive2": naive2, "mase_naive2": naive2 / 20.0},
                "counters": {"nfe": nfe, "tokens_generated": tokens, "tokens_forwarded": tokens * 2.0, "rollouts": b},
                "wall_seconds": rng.random_range(0.5..5.0) * b,
            });
            SampleRow::from_record(&record, &columns)
        })
        .collect()
}

/// Writes `rows` sample rows as a results directory under `dir` (one
/// `samples.parquet` per run of 1000 samples).
pub fn write_results(dir: &Path, rows: usize) -> Result<(), ReportError> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let runs = rows.div_ceil(SAMPLES_PER_RUN);
    for run in 0..runs {
        let n = SAMPLES_PER_RUN.min(rows - run * SAMPLES_PER_RUN);
        let run_dir = store::run_dir(dir, &format!("{run:016x}"));
        std::fs::create_dir_all(&run_dir).map_err(|e| ReportError::Io { path: run_dir.clone(), source: e })?;
        // The store's columns, written without its fsyncs (a fixture, not results).
        let mut df = store::parquet::samples_frame(&run_rows(run, n, &mut rng)).map_err(fixture_error)?;
        let path = run_dir.join(store::layout::SAMPLES_PARQUET);
        let file = std::fs::File::create(&path).map_err(|e| ReportError::Io { path: path.clone(), source: e })?;
        ParquetWriter::new(file).finish(&mut df).map_err(fixture_error)?;
    }
    Ok(())
}

fn timed(df: &DataFrame, opts: &TableOptions) -> Result<serde_json::Value, ReportError> {
    let source = Source { results_dir: "bench".into(), commit: "bench".into(), spec: None, planned: None };
    let t0 = Instant::now();
    let t = table::build(df, source, opts)?;
    let build = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let bytes: usize = [Format::Md, Format::Latex, Format::Csv, Format::Json].iter().map(|f| f.exporter().table(&t).len()).sum();
    let render = t1.elapsed().as_secs_f64();
    let bootstrap =
        t.rows.iter().flat_map(|r| &r.cells).flatten().filter(|c| c.method == crate::report::bootstrap::CiMethod::Bootstrap).count();
    let cells = t.rows.iter().flat_map(|r| &r.cells).flatten().count();
    Ok(serde_json::json!({
        "groups": t.rows.len(),
        "cells": cells,
        "bootstrap_cells": bootstrap,
        "output_bytes": bytes,
        "table_seconds": build,
        "format_seconds": render,
        "seconds": build + render,
    }))
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Times `runner table` over `rows` generated sample rows: loading them
/// (`store::load_samples` over runs of 1000 samples), then the table with
/// the default grouping (`method_name`), by method and budget, and per run
/// (`--by run_id`, where the bootstrap budget binds), each rendered in all
/// four formats. `seconds` is loading plus the default table.
pub fn bench_table(rows: usize) -> Result<serde_json::Value, ReportError> {
    let dir = TempDir(std::env::temp_dir().join(format!("runner-bench-report-{}", std::process::id())));
    let t0 = Instant::now();
    write_results(&dir.0, rows)?;
    let generate = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let df = store::load_samples(&dir.0).map_err(fixture_error)?;
    let load = t1.elapsed().as_secs_f64();
    let by = |cols: &[&str]| TableOptions { by: Some(cols.iter().map(|c| c.to_string()).collect()), metrics: None };
    let default = timed(&df, &TableOptions::default())?;
    let total = load + default["seconds"].as_f64().unwrap_or(f64::NAN);
    Ok(serde_json::json!({
        "rows": df.height(),
        "runs": rows.div_ceil(SAMPLES_PER_RUN),
        "generate_seconds": generate,
        "load_seconds": load,
        "default": default,
        "by_method_name_num_rollouts": timed(&df, &by(&["method_name", "num_rollouts"]))?,
        "by_run_id": timed(&df, &by(&["run_id"]))?,
        "seconds": total,
        "limit_seconds": 3.0,
    }))
}
