//! Output formats. One [`Exporter`] per format renders tables and, where
//! the format suits them, diffs; every output starts with its provenance.

mod csv;
mod json;
mod latex;
mod markdown;

use super::bootstrap::Estimate;
use super::diff::Diff;
use super::frame::Level;
use super::history::History;
use super::paper::{Block, PaperTable};
use super::table::Table;
use super::ReportError;

/// The formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Latex,
    Csv,
    Json,
}

/// Renders reports as text in one format.
pub trait Exporter {
    fn name(&self) -> &'static str;

    fn table(&self, table: &Table) -> String;

    fn diff(&self, _diff: &Diff) -> Result<String, ReportError> {
        Err(ReportError::Unsupported { format: self.name(), what: "diffs", valid: "md, json" })
    }

    fn history(&self, _history: &History) -> Result<String, ReportError> {
        Err(ReportError::Unsupported { format: self.name(), what: "history", valid: "md, json" })
    }

    fn paper(&self, _table: &PaperTable) -> Result<String, ReportError> {
        Err(ReportError::Unsupported { format: self.name(), what: "the paper layout", valid: "md, latex (csv and json: the long layout)" })
    }
}

impl Format {
    pub fn exporter(self) -> &'static dyn Exporter {
        match self {
            Format::Md => &markdown::Markdown,
            Format::Latex => &latex::Latex,
            Format::Csv => &csv::Csv,
            Format::Json => &json::Json,
        }
    }
}

/// Decimals that show two significant digits of the half width (four of
/// the mean when the interval is a point, none for a whole number), at
/// most six.
pub(crate) fn decimals(mean: f64, half: f64) -> usize {
    let magnitude = |x: f64| x.abs().log10().floor() as i64;
    let d = if half.is_finite() && half > 0.0 {
        1 - magnitude(half)
    } else if mean.is_finite() && mean.fract() != 0.0 {
        3 - magnitude(mean)
    } else {
        0
    };
    d.clamp(0, 6) as usize
}

/// `x` with `d` decimals (never a negative zero).
pub(crate) fn fixed(x: f64, d: usize) -> String {
    let s = format!("{x:.d$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_owned()
    } else {
        s
    }
}

/// Mean and half width of an estimate, rounded alike.
pub(crate) fn mean_pm(e: &Estimate) -> (String, String) {
    let half = e.half_width();
    let d = decimals(e.mean, half);
    (fixed(e.mean, d), fixed(half, d))
}

/// `x` with a sign, rounded like its interval.
pub(crate) fn signed(x: f64, d: usize) -> String {
    let s = fixed(x, d);
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

/// A p-value for people.
pub(crate) fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// Which cells of a metric column to mark as the best (only when there is
/// more than one row to compare).
pub(crate) fn is_best(table: &Table, m: usize, e: &Estimate) -> bool {
    table.rows.len() > 1 && table.best(m) == Some(e.mean)
}

/// The sample count of a paper block when every cell has the same one.
pub(crate) fn common_n(block: &Block) -> Option<usize> {
    let mut ns = block.rows.iter().flat_map(|r| r.cells.iter().flatten().map(|e| e.n));
    let first = ns.next()?;
    ns.all(|n| n == first).then_some(first)
}

/// A paper block's budget as a column label (`-`: methods without one).
pub(crate) fn budget_label(level: &Level) -> String {
    match level {
        Level::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// The names of the table's set statistics (`owa, f1`), if it has any.
pub(crate) fn set_metric_names(table: &Table) -> Option<String> {
    let names: Vec<&str> = table.metrics.iter().filter(|m| m.is_set()).map(|m| m.name).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

/// `name=value, …` of a diff row's group, or `all`.
pub(crate) fn group_label(by: &[String], key: &[Level]) -> String {
    if key.is_empty() {
        return "all".to_owned();
    }
    by.iter().zip(key).map(|(b, k)| format!("{b}={k}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_follows_the_interval() {
        assert_eq!(decimals(0.1234, 0.0213), 3);
        assert_eq!(decimals(12345.6, 234.5), 0);
        assert_eq!(decimals(2.5, 0.0), 3);
        assert_eq!(decimals(5.0, 0.0), 0);
        assert_eq!(decimals(0.0, 0.0), 0);
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(signed(0.5, 1), "+0.5");
        assert_eq!(p_value(0.0625), "0.0625");
    }
}
