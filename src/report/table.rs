//! The aggregate table: one row per group, each metric as a mean with its
//! 95% interval and the number of values.

use polars::prelude::DataFrame;

use super::bootstrap::{self, Budget, Estimate};
use super::frame::{self, Level};
use super::group::{self, Grouping};
use super::metric::{self, Metric};
use super::provenance::{Provenance, Source};
use super::ReportError;

/// What to tabulate; `None` takes the defaults.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub by: Option<Vec<String>>,
    pub metrics: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Row {
    /// Values of the grouping columns.
    pub key: Vec<Level>,
    /// Samples in the group.
    pub n: usize,
    /// One per metric; `None` where the group has no value of it.
    pub cells: Vec<Option<Estimate>>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub provenance: Provenance,
    pub by: Vec<String>,
    pub metrics: Vec<Metric>,
    pub rows: Vec<Row>,
}

impl Table {
    /// The best mean of metric `m` over the rows.
    pub fn best(&self, m: usize) -> Option<f64> {
        let higher = self.metrics[m].higher_is_better();
        self.rows.iter().filter_map(|r| r.cells[m].map(|c| c.mean)).reduce(|a, b| if (b > a) == higher { b } else { a })
    }
}

/// The metrics of `opts`, or the defaults for the columns of `df`.
pub fn resolve_metrics(df: &DataFrame, names: Option<&[String]>) -> Result<Vec<Metric>, ReportError> {
    let metrics = match names {
        Some(n) if n.iter().any(|s| !s.trim().is_empty()) => metric::parse_list(n, "metrics")?,
        _ => metric::defaults(|col| df.column(col).is_ok_and(|c| c.null_count() < c.len())),
    };
    for m in &metrics {
        if !frame::has(df, m.column) {
            return Err(ReportError::column(m.column, format!("missing from the samples (needed for metric `{}`)", m.name)));
        }
    }
    Ok(metrics)
}

/// The grouping of `opts`, or the default one.
pub fn resolve_by(df: &DataFrame, names: Option<&[String]>) -> Result<Vec<String>, ReportError> {
    match names {
        Some(n) => group::parse_by(n, df, "by"),
        None => group::default_by(df),
    }
}

/// Means and intervals of `metrics` for every group of `grouping`. Cells
/// take bootstrap draws from one budget, smallest samples first; each
/// cell's values are sorted first, so the order of rows changes nothing.
pub fn estimates(df: &DataFrame, grouping: &Grouping, metrics: &[Metric]) -> Result<Vec<Vec<Option<Estimate>>>, ReportError> {
    let rows = grouping.rows();
    let mut values: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(metrics.len()); rows.len()];
    for m in metrics {
        let column = frame::numbers(df, m.column)?;
        for (g, r) in rows.iter().enumerate() {
            let mut v = group::values_at(&column, r);
            v.sort_unstable_by(f64::total_cmp);
            values[g].push(v);
        }
    }
    let mut order: Vec<(usize, usize, usize)> =
        values.iter().enumerate().flat_map(|(g, vs)| vs.iter().enumerate().map(move |(m, v)| (v.len(), g, m))).collect();
    order.sort_unstable();
    let mut budget = Budget::default();
    let mut cells = vec![vec![None; metrics.len()]; rows.len()];
    for (_, g, m) in order {
        cells[g][m] = bootstrap::mean_ci(&values[g][m], &mut budget);
    }
    Ok(cells)
}

/// The table of `df` (samples as `store::load_samples` gives them).
pub fn build(df: &DataFrame, source: Source, opts: &TableOptions) -> Result<Table, ReportError> {
    if df.height() == 0 {
        return Err(ReportError::Empty(format!("{}: no samples to tabulate (no complete runs?)", source.results_dir)));
    }
    let by = resolve_by(df, opts.by.as_deref())?;
    let metrics = resolve_metrics(df, opts.metrics.as_deref())?;
    let provenance = Provenance::of(df, source)?;
    let grouping = Grouping::of(df, &by)?;
    let sizes = grouping.rows().iter().map(Vec::len).collect::<Vec<_>>();
    let cells = estimates(df, &grouping, &metrics)?;
    let rows = grouping.keys.into_iter().zip(sizes).zip(cells).map(|((key, n), cells)| Row { key, n, cells }).collect();
    Ok(Table { provenance, by, metrics, rows })
}
