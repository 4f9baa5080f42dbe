//! `summary.parquet`: one row per run of the plan: its labels and
//! parameters, status, sample count, and every metric of the registry over
//! its samples (null until the run is complete): `mean_<column>` for a
//! mean, the metric's name (`owa`, `f1`) for a set statistic.

use std::path::Path;

use polars::prelude::*;

use super::layout::{run_dir, PLAN_LOCK, RUN_JSON, SAMPLES_PARQUET, SUMMARY_PARQUET};
use super::lock::{Lock, LockTiming};
use super::parquet::{read_frame, run_columns, write_frame};
use super::row::RunColumns;
use super::run_file::RunFile;
use super::scan::{progress, RunProgress};
use super::StoreError;
use crate::metrics::{self, aggregate};
use crate::plan::RunConfig;

struct Row {
    cols: RunColumns,
    status: String,
    samples: i64,
    error: Option<String>,
    mean_batch: Option<f64>,
    /// In the order of `metrics::ALL`.
    values: Vec<Option<f64>>,
}

fn row(commit_dir: &Path, run: &RunConfig) -> Result<Row, StoreError> {
    let state = progress(commit_dir, run)?;
    let dir = run_dir(commit_dir, &run.run_id.0);
    let (status, samples, error) = match &state {
        RunProgress::Pending => ("pending", 0, None),
        RunProgress::Partial { done, .. } => ("partial", *done, None),
        RunProgress::Complete { samples } => ("complete", *samples, None),
        RunProgress::Failed { error, done, .. } => ("failed", *done, Some(error.clone())),
    };
    let mut values = vec![None; metrics::ALL.len()];
    let mut mean_batch = None;
    if state.is_complete() {
        let path = dir.join(SAMPLES_PARQUET);
        let df = read_frame(&path)?;
        values =
            aggregate::all(&df).map_err(|e| StoreError::Parquet { path, message: e.to_string() })?.into_iter().map(|(_, v)| v).collect();
        mean_batch = RunFile::read(&dir.join(RUN_JSON))?.map(|f| f.mean_batch);
    }
    Ok(Row { cols: RunColumns::of(run), status: status.into(), samples: samples as i64, error, mean_batch, values })
}

/// The summary of `runs` as a DataFrame.
pub fn summary_frame(commit_dir: &Path, runs: &[RunConfig]) -> Result<DataFrame, StoreError> {
    let rows: Vec<Row> = runs.iter().map(|r| row(commit_dir, r)).collect::<Result<_, _>>()?;
    let runs_cols: Vec<&RunColumns> = rows.iter().map(|r| &r.cols).collect();
    let mut cols = run_columns(&runs_cols);
    let s = |name: &str, f: &dyn Fn(&Row) -> String| Column::new(name.into(), rows.iter().map(f).collect::<Vec<String>>());
    cols.push(s("status", &|r| r.status.clone()));
    cols.push(Column::new("samples".into(), rows.iter().map(|r| r.samples).collect::<Vec<_>>()));
    cols.push(Column::new("error".into(), rows.iter().map(|r| r.error.clone()).collect::<Vec<_>>()));
    cols.push(Column::new("mean_batch".into(), rows.iter().map(|r| r.mean_batch).collect::<Vec<_>>()));
    for (i, m) in metrics::ALL.iter().enumerate() {
        cols.push(Column::new(m.aggregate_key().into(), rows.iter().map(|r| r.values[i]).collect::<Vec<_>>()));
    }
    DataFrame::new(rows.len(), cols).map_err(|e| StoreError::Parquet { path: commit_dir.join(SUMMARY_PARQUET), message: e.to_string() })
}

/// Writes `summary.parquet` for `runs`, under the plan lock.
pub fn write_summary(commit_dir: &Path, runs: &[RunConfig], timing: LockTiming) -> Result<(), StoreError> {
    let _lock = Lock::acquire_waiting(&commit_dir.join(PLAN_LOCK), "summary.parquet", timing, super::lock::SHORT_LOCK_WAIT)?;
    let mut df = summary_frame(commit_dir, runs)?;
    write_frame(&commit_dir.join(SUMMARY_PARQUET), &mut df)
}
