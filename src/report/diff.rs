//! Comparing two results sets sample by sample: runs are matched by run
//! id and samples by sample id; for each metric the mean difference
//! (second minus first) with a paired bootstrap 95% interval and a sign
//! test. A change is significant when the interval excludes zero and the
//! sign test gives p < 0.05.

use std::collections::{BTreeSet, HashMap};

use polars::prelude::DataFrame;

use super::bootstrap::{self, Budget, Estimate};
use super::frame::{self, Level};
use super::group::Grouping;
use super::metric::{self, Metric};
use super::provenance::{Provenance, Source};
use super::table::{resolve_by, resolve_metrics};
use super::ReportError;
use crate::store::columns;

/// Significance level of the sign test.
pub const ALPHA: f64 = 0.05;

#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Also compare within these groups (overall only when `None`).
    pub by: Option<Vec<String>>,
    pub metrics: Option<Vec<String>>,
    /// Metrics compared whether or not `metrics` names them.
    pub require: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Better,
    Worse,
    Same,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Better => "better",
            Change::Worse => "worse",
            Change::Same => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DiffRow {
    /// Values of the grouping columns; empty for the overall row.
    pub key: Vec<Level>,
    pub metric: Metric,
    /// Pairs with a value on both sides.
    pub n: usize,
    pub mean_a: f64,
    pub mean_b: f64,
    /// Mean of `b − a` and its paired bootstrap interval.
    pub diff: Estimate,
    /// Pairs that got better, worse.
    pub better: usize,
    pub worse: usize,
    /// Two-sided sign test.
    pub p: f64,
    pub significant: bool,
}

impl DiffRow {
    pub fn change(&self) -> Change {
        match (self.significant, self.metric.direction_of(self.diff.mean)) {
            (true, 1) => Change::Better,
            (true, -1) => Change::Worse,
            _ => Change::Same,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Diff {
    pub a: Provenance,
    pub b: Provenance,
    pub by: Vec<String>,
    pub metrics: Vec<Metric>,
    pub runs_matched: usize,
    /// Runs of one side only, sorted.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    pub samples_matched: usize,
    pub samples_only_a: usize,
    pub samples_only_b: usize,
    /// Overall rows (one per metric), then one per group and metric.
    pub rows: Vec<DiffRow>,
}

impl Diff {
    /// The overall row of `metric`.
    pub fn overall(&self, metric: &Metric) -> Option<&DiffRow> {
        self.rows.iter().find(|r| r.key.is_empty() && r.metric == *metric)
    }

    /// An error when `metric` got significantly worse overall.
    pub fn check_regression(&self, metric: &str) -> Result<(), ReportError> {
        let m = metric::parse(metric, "fail-on-regression")?;
        match self.overall(&m) {
            Some(r) if r.change() == Change::Worse => Err(ReportError::Regression {
                metric: m.name.to_owned(),
                diff: r.diff.mean,
                lo: r.diff.lo,
                hi: r.diff.hi,
                p: r.p,
                n: r.n,
                direction: if m.higher_is_better() { "higher" } else { "lower" },
            }),
            _ => Ok(()),
        }
    }
}

type SampleKey<'a> = (&'a str, &'a str);

fn sample_keys<'a>(df: &'a DataFrame, side: &'static str) -> Result<HashMap<SampleKey<'a>, u32>, ReportError> {
    let runs = frame::text(df, columns::RUN_ID)?;
    let samples = frame::text(df, columns::SAMPLE_ID)?;
    let mut map = HashMap::with_capacity(df.height());
    for (i, (r, s)) in runs.iter().zip(samples.iter()).enumerate() {
        let key = (r.unwrap_or(""), s.unwrap_or(""));
        if map.insert(key, i as u32).is_some() {
            return Err(ReportError::DuplicateSample { side, run_id: key.0.to_owned(), sample_id: key.1.to_owned() });
        }
    }
    Ok(map)
}

/// Matched rows `(row in a, row in b)`, in the order of `b`.
fn pairs(a: &DataFrame, b: &DataFrame) -> Result<(Vec<(u32, u32)>, usize), ReportError> {
    let keys_a = sample_keys(a, "first")?;
    let runs = frame::text(b, columns::RUN_ID)?;
    let samples = frame::text(b, columns::SAMPLE_ID)?;
    let mut out = Vec::new();
    for (ib, (r, s)) in runs.iter().zip(samples.iter()).enumerate() {
        if let Some(&ia) = keys_a.get(&(r.unwrap_or(""), s.unwrap_or(""))) {
            out.push((ia, ib as u32));
        }
    }
    let b_count = b.height();
    Ok((out, b_count))
}

/// The comparison of paired values; differences and means are taken over
/// sorted values, so the order of the samples changes nothing.
fn one_row(key: Vec<Level>, metric: Metric, a: &[f64], b: &[f64], method: bootstrap::CiMethod) -> Option<DiffRow> {
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let diffs = sorted(&a.iter().zip(b).map(|(x, y)| y - x).collect::<Vec<_>>());
    let diff = bootstrap::mean_ci_with(&diffs, method)?;
    let better = diffs.iter().filter(|&&d| metric.direction_of(d) > 0).count();
    let worse = diffs.iter().filter(|&&d| metric.direction_of(d) < 0).count();
    let p = bootstrap::sign_test(&diffs);
    Some(DiffRow {
        key,
        metric,
        n: diffs.len(),
        mean_a: bootstrap::mean(&sorted(a)),
        mean_b: bootstrap::mean(&sorted(b)),
        significant: diff.excludes_zero() && p < ALPHA,
        diff,
        better,
        worse,
        p,
    })
}

fn run_set(df: &DataFrame) -> Result<BTreeSet<String>, ReportError> {
    Ok(frame::text(df, columns::RUN_ID)?.iter().map(|r| r.unwrap_or("").to_owned()).collect())
}

/// Compares `b` with `a` (differences are `b − a`).
pub fn diff(a: &DataFrame, source_a: Source, b: &DataFrame, source_b: Source, opts: &DiffOptions) -> Result<Diff, ReportError> {
    let mut metrics = resolve_metrics(b, opts.metrics.as_deref())?;
    for m in metric::parse_list(&opts.require, "fail-on-regression")? {
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    }
    resolve_metrics(a, Some(&metrics.iter().map(|m| m.name.to_owned()).collect::<Vec<_>>()))?;
    let by = match &opts.by {
        Some(names) => resolve_by(b, Some(names))?,
        None => Vec::new(),
    };
    let (runs_a, runs_b) = (run_set(a)?, run_set(b)?);
    let (pairs, b_rows) = pairs(a, b)?;
    let grouping = Grouping::of(b, &by)?;

    // Paired values per (group slot, metric): slot 0 is overall, slot g + 1 group g.
    let slots = if by.is_empty() { 1 } else { grouping.len() + 1 };
    let mut paired: Vec<Vec<(Vec<f64>, Vec<f64>)>> = vec![vec![(Vec::new(), Vec::new()); metrics.len()]; slots];
    for (mi, m) in metrics.iter().enumerate() {
        let (col_a, col_b) = (frame::numbers(a, m.column)?, frame::numbers(b, m.column)?);
        for &(ia, ib) in &pairs {
            let (Some(x), Some(y)) = (col_a[ia as usize], col_b[ib as usize]) else { continue };
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let mut push = |slot: usize| {
                paired[slot][mi].0.push(x);
                paired[slot][mi].1.push(y);
            };
            push(0);
            if !by.is_empty() {
                push(grouping.ids[ib as usize] as usize + 1);
            }
        }
    }

    let mut order: Vec<(usize, usize, usize)> =
        paired.iter().enumerate().flat_map(|(s, ms)| ms.iter().enumerate().map(move |(mi, v)| (v.0.len(), s, mi))).collect();
    order.sort_unstable();
    let mut budget = Budget::default();
    let mut methods = vec![vec![bootstrap::CiMethod::Normal; metrics.len()]; slots];
    for (n, s, mi) in order {
        if n > 0 {
            methods[s][mi] = budget.method_for(n);
        }
    }
    let mut rows = Vec::new();
    for (s, per_metric) in paired.iter().enumerate() {
        let key = if s == 0 { Vec::new() } else { grouping.keys[s - 1].clone() };
        for (mi, (x, y)) in per_metric.iter().enumerate() {
            if let Some(row) = one_row(key.clone(), metrics[mi], x, y, methods[s][mi]) {
                rows.push(row);
            }
        }
    }

    Ok(Diff {
        a: Provenance::of(a, source_a)?,
        b: Provenance::of(b, source_b)?,
        by,
        metrics,
        runs_matched: runs_a.intersection(&runs_b).count(),
        only_a: runs_a.difference(&runs_b).cloned().collect(),
        only_b: runs_b.difference(&runs_a).cloned().collect(),
        samples_matched: pairs.len(),
        samples_only_a: a.height() - pairs.len(),
        samples_only_b: b_rows - pairs.len(),
        rows,
    })
}
