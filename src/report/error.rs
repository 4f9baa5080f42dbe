//! What can go wrong while making a table, a figure or a diff.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A name given on the command line (a metric, a grouping column, a
    /// format) that is not one of the valid ones.
    #[error("--{flag}: unknown {what} `{given}`; valid: {valid}")]
    UnknownName { flag: &'static str, what: &'static str, given: String, valid: String },
    /// A column the report needs is missing or has an unusable type.
    #[error("column `{column}` of the samples: {message}")]
    Column { column: String, message: String },
    /// Nothing to report on.
    #[error("{0}")]
    Empty(String),
    /// The same sample appears twice in one results set.
    #[error("{side}: sample `{sample_id}` of run `{run_id}` appears more than once")]
    DuplicateSample { side: &'static str, run_id: String, sample_id: String },
    /// The chosen output format cannot render this kind of report.
    #[error("--format {format}: not available for {what}; use one of {valid}")]
    Unsupported { format: &'static str, what: &'static str, valid: &'static str },
    /// The paper layout cannot show these samples as asked.
    #[error("--layout paper: {0}")]
    Layout(String),
    /// `--fail-on-regression`: the metric got significantly worse.
    /// `what` names the difference (of means, or of a set statistic) and
    /// `test` what decided it.
    #[error("regression in {metric}: {what} {} (95% CI [{}, {}], {test}, n = {n}); {direction} is better", sig(*diff), sig(*lo), sig(*hi))]
    Regression { metric: String, what: &'static str, diff: f64, lo: f64, hi: f64, test: String, n: usize, direction: &'static str },
    /// No TTF font for the text of bitmap figures.
    #[error("no font for figure text; tried {tried}; install the package fonts-dejavu-core (apt) or set RUNNER_FONT to a .ttf file")]
    NoFont { tried: String },
    /// Drawing a figure failed.
    #[error("{}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
    /// The benchmark could not write or read its generated results.
    #[error("benchmark fixture: {0}")]
    Bench(String),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl ReportError {
    /// 2 for bad input, 3 for a regression found, 1 for a failure of the machine.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::UnknownName { .. } | ReportError::Unsupported { .. } | ReportError::Empty(_) | ReportError::Layout(_) => 2,
            // Its own code: a regression is a finding, not a failure to run.
            ReportError::Regression { .. } => 3,
            _ => 1,
        }
    }

    pub(crate) fn column(column: &str, message: impl std::fmt::Display) -> ReportError {
        ReportError::Column { column: column.to_owned(), message: message.to_string() }
    }
}

impl From<crate::metrics::MetricsError> for ReportError {
    fn from(e: crate::metrics::MetricsError) -> ReportError {
        match e {
            crate::metrics::MetricsError::Column { column, message } => ReportError::Column { column, message },
        }
    }
}

/// `x` with a sign and four significant digits.
fn sig(x: f64) -> String {
    let d = if x == 0.0 || !x.is_finite() { 0 } else { (3 - x.abs().log10().floor() as i64).clamp(0, 12) as usize };
    format!("{x:+.d$}")
}
