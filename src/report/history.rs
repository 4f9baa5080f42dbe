//! One table across the commits of an experiment: for each results
//! directory, oldest commit first, the aggregate table of its complete runs,
//! all with the same grouping and metrics (resolved over every commit's
//! samples together).

use polars::prelude::DataFrame;

use super::provenance::Source;
use super::table::{self, resolve_by, resolve_metrics, Table, TableOptions};
use super::ReportError;
use crate::store::history::TagDir;

/// One commit's results.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tag: TagDir,
    /// Its table; `None` when none of its runs is complete.
    pub table: Option<Table>,
}

#[derive(Debug, Clone)]
pub struct History {
    pub experiment: String,
    /// The experiment's results folder.
    pub results: String,
    pub by: Vec<String>,
    pub metrics: Vec<super::metric::Metric>,
    pub entries: Vec<Entry>,
}

/// The history of `commits` (each results directory with its samples).
pub fn build(experiment: &str, results: &str, commits: Vec<(TagDir, DataFrame)>, opts: &TableOptions) -> Result<History, ReportError> {
    let mut all: Option<DataFrame> = None;
    for (_, df) in &commits {
        match &mut all {
            None => all = Some(df.clone()),
            Some(a) => {
                a.vstack_mut(df).map_err(|e| ReportError::Empty(format!("{results}: samples of different commits do not stack: {e}")))?;
            }
        }
    }
    let all = all.filter(|a| a.height() > 0).ok_or_else(|| ReportError::Empty(format!("{results}: no complete runs at any commit")))?;
    let by = resolve_by(&all, opts.by.as_deref())?;
    let metrics = resolve_metrics(&all, opts.metrics.as_deref())?;
    let names: Vec<String> = metrics.iter().map(|m| m.name.to_owned()).collect();
    let same = TableOptions { by: Some(by.clone()), metrics: Some(names) };
    let mut entries = Vec::with_capacity(commits.len());
    for (tag, df) in commits {
        let table = if df.height() == 0 { None } else { Some(table::build(&df, Source::of_dir(&tag.dir, None), &same)?) };
        entries.push(Entry { tag, table });
    }
    Ok(History { experiment: experiment.to_owned(), results: results.to_owned(), by, metrics, entries })
}
