//! Comparing two results sets sample by sample: runs are matched by run
//! id and samples by sample id. For a metric that is a mean: the mean
//! difference (second minus first) with a paired bootstrap 95% interval
//! and a sign test; a change is significant when the interval excludes
//! zero and the sign test gives p < 0.05. For a set statistic (OWA, F1):
//! the difference of the statistic over the paired samples with a paired
//! bootstrap 95% interval (the same samples drawn on both sides); there is
//! no per-sample difference to count, so no sign test and no p-value, and
//! a change is significant when the interval excludes zero.

use std::collections::{BTreeSet, HashMap};

use polars::prelude::DataFrame;

use super::bootstrap::{self, Budget, CiMethod, Estimate};
use super::frame::{self, Level};
use super::group::Grouping;
use super::metric::{self, Metric};
use super::provenance::{Provenance, Source};
use super::table::{resolve_by, resolve_metrics};
use super::ReportError;
use crate::metrics::input::{self as metric_input, SampleOrder};
use crate::metrics::{Aggregate, SetSample};
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

/// The sign test of a mean's per-pair differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignTest {
    /// Pairs that got better, worse.
    pub better: usize,
    pub worse: usize,
    /// Two-sided p.
    pub p: f64,
}

#[derive(Debug, Clone)]
pub struct DiffRow {
    /// Values of the grouping columns; empty for the overall row.
    pub key: Vec<Level>,
    pub metric: Metric,
    /// Pairs with a value on both sides.
    pub n: usize,
    /// The metric over the pairs on each side: a mean, or the set statistic.
    pub mean_a: f64,
    pub mean_b: f64,
    /// `b − a` (of the means, or of the set statistic) and its paired
    /// bootstrap interval.
    pub diff: Estimate,
    /// For a mean; `None` for a set statistic, which has no per-sample
    /// difference.
    pub sign: Option<SignTest>,
    pub significant: bool,
}

impl DiffRow {
    /// What decides significance: `sign` (the interval and the sign test)
    /// or `interval` (the interval alone, for a set statistic).
    pub fn test(&self) -> &'static str {
        if self.sign.is_some() {
            "sign"
        } else {
            "interval"
        }
    }

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
                what: if m.is_set() { "difference" } else { "mean difference" },
                diff: r.diff.mean,
                lo: r.diff.lo,
                hi: r.diff.hi,
                test: match r.sign {
                    Some(s) => format!("sign test p = {:.3}", s.p),
                    None => "the interval alone: no sign test for a set statistic".to_owned(),
                },
                n: r.n,
                direction: if m.higher_is_better { "higher" } else { "lower" },
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

/// The comparison of paired values of a mean; differences and means are
/// taken over sorted values, so the order of the samples changes nothing.
fn mean_row(key: Vec<Level>, metric: Metric, a: &[f64], b: &[f64], method: CiMethod) -> Option<DiffRow> {
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_unstable_by(f64::total_cmp);
        v
    };
    let diffs = sorted(&a.iter().zip(b).map(|(x, y)| y - x).collect::<Vec<_>>());
    let diff = bootstrap::mean_ci_with(&diffs, method)?;
    let sign = SignTest {
        better: diffs.iter().filter(|&&d| metric.direction_of(d) > 0).count(),
        worse: diffs.iter().filter(|&&d| metric.direction_of(d) < 0).count(),
        p: bootstrap::sign_test(&diffs),
    };
    Some(DiffRow {
        key,
        metric,
        n: diffs.len(),
        mean_a: bootstrap::mean(&sorted(a)),
        mean_b: bootstrap::mean(&sorted(b)),
        significant: diff.excludes_zero() && sign.p < ALPHA,
        diff,
        sign: Some(sign),
    })
}

/// The comparison of a set statistic over paired samples (in sample order).
fn set_row(key: Vec<Level>, metric: Metric, a: &dyn SetSample, b: &dyn SetSample, method: CiMethod) -> Option<DiffRow> {
    let diff = bootstrap::paired_set_ci_with(a, b, method)?;
    Some(DiffRow {
        key,
        metric,
        n: a.len(),
        mean_a: a.value_of_all()?,
        mean_b: b.value_of_all()?,
        significant: diff.excludes_zero(),
        diff,
        sign: None,
    })
}

/// What one row of a diff compares.
enum Paired {
    /// A mean's values on both sides, pair by pair.
    Values(Vec<f64>, Vec<f64>),
    /// A set statistic over the same samples on both sides.
    Set(Box<dyn SetSample>, Box<dyn SetSample>),
}

impl Paired {
    fn len(&self) -> usize {
        match self {
            Paired::Values(a, _) => a.len(),
            Paired::Set(a, _) => a.len(),
        }
    }

    fn row(&self, key: Vec<Level>, metric: Metric, method: CiMethod) -> Option<DiffRow> {
        match self {
            Paired::Values(a, b) => mean_row(key, metric, a, b, method),
            Paired::Set(a, b) => set_row(key, metric, a.as_ref(), b.as_ref(), method),
        }
    }
}

/// The matched samples and where each counts: slot 0 is overall, slot
/// g + 1 group g (of `b`'s rows) when grouping.
struct Slots<'a> {
    pairs: &'a [(u32, u32)],
    grouping: Option<&'a Grouping>,
}

impl Slots<'_> {
    fn count(&self) -> usize {
        self.grouping.map_or(1, |g| g.len() + 1)
    }

    /// The pairs `keep` accepts, per slot.
    fn split(&self, keep: impl Fn(u32, u32) -> bool) -> Vec<Vec<(u32, u32)>> {
        let mut out = vec![Vec::new(); self.count()];
        for &(ia, ib) in self.pairs.iter().filter(|(ia, ib)| keep(*ia, *ib)) {
            out[0].push((ia, ib));
            if let Some(g) = self.grouping {
                out[g.ids[ib as usize] as usize + 1].push((ia, ib));
            }
        }
        out
    }
}

/// Per slot, what `metric` compares.
fn paired(a: &DataFrame, b: &DataFrame, metric: Metric, slots: &Slots<'_>) -> Result<Vec<Paired>, ReportError> {
    match metric.aggregate {
        Aggregate::Mean(c) => {
            let (col_a, col_b) = (frame::numbers(a, c.name)?, frame::numbers(b, c.name)?);
            let value = |col: &[Option<f64>], i: u32| col[i as usize].filter(|v| v.is_finite());
            let split = slots.split(|ia, ib| value(&col_a, ia).is_some() && value(&col_b, ib).is_some());
            Ok(split
                .into_iter()
                .map(|ps| {
                    let xs = ps.iter().filter_map(|&(ia, _)| value(&col_a, ia)).collect();
                    let ys = ps.iter().filter_map(|&(_, ib)| value(&col_b, ib)).collect();
                    Paired::Values(xs, ys)
                })
                .collect())
        }
        Aggregate::Set(stat) => {
            let (in_a, in_b) = (metric_input::read_all(a, stat.inputs())?, metric_input::read_all(b, stat.inputs())?);
            let (ok_a, ok_b) = (stat.usable(&in_a)?, stat.usable(&in_b)?);
            let order = SampleOrder::of(b)?;
            slots
                .split(|ia, ib| ok_a[ia as usize] && ok_b[ib as usize])
                .into_iter()
                .map(|mut ps| {
                    order.sort_pairs(&mut ps);
                    let (rows_a, rows_b): (Vec<u32>, Vec<u32>) = ps.into_iter().unzip();
                    Ok(Paired::Set(stat.sample(&in_a, &rows_a)?, stat.sample(&in_b, &rows_b)?))
                })
                .collect()
        }
    }
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

    let slots = Slots { pairs: &pairs, grouping: (!by.is_empty()).then_some(&grouping) };
    // Per metric, per slot.
    let data: Vec<Vec<Paired>> = metrics.iter().map(|m| paired(a, b, m, &slots)).collect::<Result<_, _>>()?;

    let mut order: Vec<(usize, usize, usize)> =
        data.iter().enumerate().flat_map(|(mi, per_slot)| per_slot.iter().enumerate().map(move |(s, p)| (p.len(), s, mi))).collect();
    order.sort_unstable();
    let mut budget = Budget::default();
    let mut methods = vec![vec![CiMethod::Normal; metrics.len()]; slots.count()];
    for (n, s, mi) in order {
        if n > 0 {
            methods[s][mi] = budget.method_for(n);
        }
    }
    let mut rows = Vec::new();
    for (s, slot_methods) in methods.iter().enumerate() {
        let key = if s == 0 { Vec::new() } else { grouping.keys[s - 1].clone() };
        for (mi, m) in metrics.iter().enumerate() {
            if let Some(row) = data[mi][s].row(key.clone(), m, slot_methods[mi]) {
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
