//! What scoring one generated text yields: the part of the per-sample
//! record that the task owns.
use serde::{Deserialize, Serialize};

use super::activity::metrics::ActivityMetrics;
use super::forecast::metrics::ForecastMetrics;

/// How the generated text was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseStatus {
    /// The answer was read as asked.
    Ok,
    /// Forecasting: more than `h` values; the first `h` were kept.
    Truncated,
    /// Forecasting: fewer than `h` values, completed by repeating the last
    /// one (only under `TooFewPolicy::RepeatLast`).
    Padded,
    /// Forecasting: fewer than `h` values (a failure).
    TooFew,
    /// Forecasting: no value could be read, or a malformed value broke the
    /// sequence before `h` values (a failure).
    Unparsable,
    /// The text is empty, or (activity) holds no `Answer:` (a failure).
    NoAnswer,
    /// Activity: the last `Answer:` names no label of the label set (a failure).
    UnknownLabel,
}

impl ParseStatus {
    /// Whether an answer was obtained (possibly truncated or padded).
    pub fn is_success(self) -> bool {
        matches!(self, ParseStatus::Ok | ParseStatus::Truncated | ParseStatus::Padded)
    }
}

/// A parsed answer or a ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// A forecast (or the true future), in the series' own units.
    Values(Vec<f64>),
    /// An activity label.
    Label(String),
}

/// Per-sample metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SampleMetrics {
    Forecast(ForecastMetrics),
    Activity(ActivityMetrics),
}

/// The task's part of a per-sample record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// Always finite.
    pub reward: f64,
    pub status: ParseStatus,
    /// The parsed answer; absent when parsing failed.
    pub answer: Option<Answer>,
    pub truth: Answer,
    pub metrics: SampleMetrics,
}
