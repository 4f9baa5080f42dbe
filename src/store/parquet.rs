//! Parquet tables through polars: `samples.parquet` per run (from its
//! records), `summary.parquet` per experiment (one row per run), and the
//! loader the reports read. Every file is written to a temporary name and
//! renamed, so a reader never sees half of one.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::columns as col;
use super::layout::{RUNS, SAMPLES_PARQUET};
use super::row::{RunColumns, SampleRow};
use super::StoreError;

fn perr(path: &Path) -> impl Fn(PolarsError) -> StoreError + '_ {
    move |e| StoreError::Parquet { path: path.into(), message: e.to_string() }
}

/// The identity and parameter columns of `runs` (one entry per row), in
/// the order of `columns`; shared by the sample and summary tables.
pub fn run_columns(runs: &[&RunColumns]) -> Vec<Column> {
    let text = |name: &str, f: fn(&RunColumns) -> &str| Column::new(name.into(), runs.iter().map(|r| f(r)).collect::<Vec<&str>>());
    let mut cols = vec![
        text(col::RUN_ID, |r| &r.run_id),
        text(col::MODEL, |r| &r.model),
        text(col::DATASET, |r| &r.dataset),
        text(col::METHOD_NAME, |r| &r.method_name),
        text(col::METHOD, |r| &r.method),
        Column::new(col::SEED.into(), runs.iter().map(|r| r.seed).collect::<Vec<Option<i64>>>()),
    ];
    for (i, name) in col::INT_PARAMS.iter().enumerate() {
        cols.push(Column::new((*name).into(), runs.iter().map(|r| r.int_params.get(i).copied().flatten()).collect::<Vec<_>>()));
    }
    for (i, name) in col::FLOAT_PARAMS.iter().enumerate() {
        cols.push(Column::new((*name).into(), runs.iter().map(|r| r.float_params.get(i).copied().flatten()).collect::<Vec<_>>()));
    }
    cols
}

/// The rows as a DataFrame: run id, sample id and index, the other run
/// columns, metric columns (numbers, then text), output and parse status
/// (see `columns`).
pub fn samples_frame(rows: &[SampleRow]) -> PolarsResult<DataFrame> {
    let runs: Vec<&RunColumns> = rows.iter().map(|r| &r.run).collect();
    let mut cols = run_columns(&runs);
    cols.insert(1, Column::new(col::SAMPLE_ID.into(), rows.iter().map(|r| r.sample_id.as_str()).collect::<Vec<&str>>()));
    cols.insert(2, Column::new(col::SAMPLE_INDEX.into(), rows.iter().map(|r| r.sample_index).collect::<Vec<i64>>()));
    for (i, name) in col::METRICS.iter().enumerate() {
        cols.push(Column::new((*name).into(), rows.iter().map(|r| r.metrics.get(i).copied().flatten()).collect::<Vec<_>>()));
    }
    for (i, name) in col::TEXTS.iter().enumerate() {
        cols.push(Column::new(
            (*name).into(),
            rows.iter().map(|r| r.texts.get(i).and_then(|t| t.as_deref())).collect::<Vec<Option<&str>>>(),
        ));
    }
    cols.push(Column::new(col::OUTPUT.into(), rows.iter().map(|r| r.output.as_str()).collect::<Vec<&str>>()));
    cols.push(Column::new(col::PARSE_STATUS.into(), rows.iter().map(|r| r.parse_status.as_str()).collect::<Vec<&str>>()));
    DataFrame::new(rows.len(), cols)
}

/// Writes `df` to `path` atomically.
pub fn write_frame(path: &Path, df: &mut DataFrame) -> Result<(), StoreError> {
    let tmp = super::tmp_name(path);
    let file = File::create(&tmp).map_err(StoreError::io(&tmp))?;
    ParquetWriter::new(&file).finish(df).map_err(perr(path))?;
    file.sync_all().map_err(StoreError::io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    if let Some(dir) = path.parent() {
        super::sync_dir(dir);
    }
    Ok(())
}

pub fn write_samples_parquet(path: &Path, rows: &[SampleRow]) -> Result<(), StoreError> {
    let mut df = samples_frame(rows).map_err(perr(path))?;
    write_frame(path, &mut df)
}

pub fn read_frame(path: &Path) -> Result<DataFrame, StoreError> {
    let file = File::open(path).map_err(StoreError::io(path))?;
    ParquetReader::new(file).finish().map_err(perr(path))
}

/// `df` with the columns of `like`, in its order: a column `df` lacks (a
/// file written before the column existed) is null throughout; one `like`
/// lacks is left out.
fn conform(df: DataFrame, like: &DataFrame) -> PolarsResult<DataFrame> {
    let cols = like
        .columns()
        .iter()
        .map(|c| df.column(c.name()).cloned().unwrap_or_else(|_| Column::full_null(c.name().clone(), df.height(), c.dtype())))
        .collect();
    DataFrame::new(df.height(), cols)
}

/// Every complete run's samples under a results directory, as one table
/// (runs in run-id order, samples in file order), with today's columns.
pub fn load_samples(commit_dir: &Path) -> Result<DataFrame, StoreError> {
    let runs = commit_dir.join(RUNS);
    let files: Vec<_> = std::fs::read_dir(&runs)
        .map_err(StoreError::io(&runs))?
        .filter_map(Result::ok)
        .map(|e| e.path().join(SAMPLES_PARQUET))
        .filter(|p| p.is_file())
        .collect();
    stack(commit_dir, files)
}

/// The samples of the complete runs among `run_ids` (a plan's runs), as
/// [`load_samples`] gives them, and how many of those runs are complete.
/// Runs of other configurations in the same directory are left out.
pub fn load_run_samples(commit_dir: &Path, run_ids: &[String]) -> Result<(DataFrame, usize), StoreError> {
    let runs = commit_dir.join(RUNS);
    std::fs::read_dir(&runs).map_err(StoreError::io(&runs))?;
    let files: Vec<_> = run_ids.iter().map(|id| runs.join(id).join(SAMPLES_PARQUET)).filter(|p| p.is_file()).collect();
    let complete = files.len();
    Ok((stack(commit_dir, files)?, complete))
}

/// The sample tables `files`, in path order, as one table with today's columns.
fn stack(commit_dir: &Path, mut files: Vec<std::path::PathBuf>) -> Result<DataFrame, StoreError> {
    files.sort();
    files.dedup();
    let mut all = samples_frame(&[]).map_err(perr(commit_dir))?;
    for f in files {
        let df = conform(read_frame(&f)?, &all).map_err(perr(&f))?;
        all.vstack_mut_owned(df).map_err(perr(&f))?;
    }
    all.rechunk_mut();
    Ok(all)
}
