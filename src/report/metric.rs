//! The metrics a report can show, as `metrics::registry` defines them:
//! parsing `--metrics` and the default choice.

use crate::metrics::{self, Shown, ALL};

use super::ReportError;

/// A metric of the registry.
pub type Metric = &'static metrics::Metric;

/// The metric named `name` (its report name or the column it averages).
pub fn parse(name: &str, flag: &'static str) -> Result<Metric, ReportError> {
    let name = name.trim();
    metrics::find(name).ok_or_else(|| ReportError::UnknownName {
        flag,
        what: "metric",
        given: name.to_owned(),
        valid: ALL.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
    })
}

/// The metrics named in `names`, in that order, without repeats.
pub fn parse_list(names: &[String], flag: &'static str) -> Result<Vec<Metric>, ReportError> {
    let mut out: Vec<Metric> = Vec::new();
    for n in names.iter().filter(|n| !n.trim().is_empty()) {
        let m = parse(n, flag)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Whether the samples have values of `m` (`has_values` tells it of a
/// column): of its column for a mean, of the column that shows a set
/// statistic applies (Naive2's sMAPE for OWA, the true label for F1).
pub fn applies(m: Metric, has_values: impl Fn(&str) -> bool) -> bool {
    has_values(m.evidence().name)
}

/// The default metrics, in the registry's order: those always shown
/// (reward, the parse rate, NFE, generated tokens) and those the samples
/// have values of (sMAPE and OWA for forecasting, accuracy and F1 for
/// activity recognition).
pub fn defaults(has_values: impl Fn(&str) -> bool) -> Vec<Metric> {
    ALL.iter()
        .filter(|m| match m.table {
            Shown::Always => true,
            Shown::WithValues => applies(m, &has_values),
            Shown::OnRequest => false,
        })
        .collect()
}
