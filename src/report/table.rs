//! The aggregate table: one row per group, each metric as a mean (or, for
//! a set statistic such as OWA or F1, the statistic of the group) with its
//! 95% interval and the number of samples it is over.

use polars::prelude::DataFrame;

use super::bootstrap::{self, Budget, Estimate};
use super::frame::{self, Level};
use super::group::{self, Grouping};
use super::metric::{self, Metric};
use super::provenance::{Provenance, Source};
use super::ReportError;
use crate::metrics::input::{self as metric_input, SampleOrder};
use crate::metrics::{Aggregate, SetSample};

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
        let higher = self.metrics[m].higher_is_better;
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
        if let Some(c) = m.columns().iter().find(|c| !frame::has(df, c.name)) {
            return Err(ReportError::column(c.name, format!("missing from the samples (needed for metric `{}`)", m.name)));
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

/// What one cell is computed from: the sorted values of a mean, or the
/// samples of a set statistic.
enum CellData {
    Values(Vec<f64>),
    Set(Box<dyn SetSample>),
}

impl CellData {
    fn len(&self) -> usize {
        match self {
            CellData::Values(v) => v.len(),
            CellData::Set(s) => s.len(),
        }
    }

    fn estimate(&self, budget: &mut Budget) -> Option<Estimate> {
        match self {
            CellData::Values(v) => bootstrap::mean_ci(v, budget),
            CellData::Set(s) => bootstrap::set_ci(s.as_ref(), budget),
        }
    }
}

/// The cell data of `metric` for every group (`rows` of each): a mean's
/// values sorted, a set statistic's usable samples in sample order.
fn cell_data(df: &DataFrame, metric: Metric, rows: &[Vec<u32>]) -> Result<Vec<CellData>, ReportError> {
    match metric.aggregate {
        Aggregate::Mean(c) => {
            let column = frame::numbers(df, c.name)?;
            Ok(rows
                .iter()
                .map(|r| {
                    let mut v = group::values_at(&column, r);
                    v.sort_unstable_by(f64::total_cmp);
                    CellData::Values(v)
                })
                .collect())
        }
        Aggregate::Set(stat) => {
            let inputs = metric_input::read_all(df, stat.inputs())?;
            let usable = stat.usable(&inputs)?;
            let order = SampleOrder::of(df)?;
            rows.iter()
                .map(|r| {
                    let mut kept: Vec<u32> = r.iter().copied().filter(|&i| usable[i as usize]).collect();
                    order.sort(&mut kept);
                    Ok(CellData::Set(stat.sample(&inputs, &kept)?))
                })
                .collect()
        }
    }
}

/// Estimates and intervals of `metrics` for every group of `grouping`.
/// Cells take bootstrap draws from one budget, smallest samples first;
/// each cell's values are sorted first (a set statistic's samples put in
/// sample order), so the order of rows changes nothing.
pub fn estimates(df: &DataFrame, grouping: &Grouping, metrics: &[Metric]) -> Result<Vec<Vec<Option<Estimate>>>, ReportError> {
    let rows = grouping.rows();
    let data: Vec<Vec<CellData>> = metrics.iter().map(|m| cell_data(df, m, &rows)).collect::<Result<_, _>>()?;
    let mut sizes: Vec<(usize, usize, usize)> =
        data.iter().enumerate().flat_map(|(m, per_group)| per_group.iter().enumerate().map(move |(g, d)| (d.len(), g, m))).collect();
    sizes.sort_unstable();
    let mut budget = Budget::default();
    let mut cells = vec![vec![None; metrics.len()]; rows.len()];
    for (_, g, m) in sizes {
        cells[g][m] = data[m][g].estimate(&mut budget);
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
