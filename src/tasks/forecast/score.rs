//! Scoring a generated continuation of a series.
use serde::Serialize;

use super::llmtime::{LlmTimeOptions, Scaler};
use super::metrics::ForecastMetrics;
use super::parse::{parse_forecast, TooFewPolicy};
use super::Series;
use crate::spec::FailureForecast;
use crate::tasks::scored::{Answer, SampleMetrics, Scored};

/// The reward of a parsed forecast.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ForecastReward {
    /// −sMAPE/200, in [−1, 0] (the default).
    #[default]
    NegSmape,
    /// −min(MASE, cap)/cap, in [−1, 0]; −sMAPE/200 where MASE is undefined.
    NegMaseCapped { cap: f64 },
}

/// Options of forecast scoring.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastScoring {
    pub reward: ForecastReward,
    pub too_few: TooFewPolicy,
    /// The forecast MASE and OWA use when the answer could not be parsed.
    pub on_failure: FailureForecast,
}

impl Default for ForecastScoring {
    fn default() -> Self {
        ForecastScoring { reward: ForecastReward::NegSmape, too_few: TooFewPolicy::Fail, on_failure: FailureForecast::Naive2 }
    }
}

/// Scores `text` as the continuation of `series` whose prompt showed
/// `shown` (the values the text's scale comes from) written with `llmtime`.
/// Metrics use the whole history (MASE scale, Naive2).
pub fn score_forecast(
    series: &Series,
    shown: &[f64],
    text: &str,
    llmtime: &LlmTimeOptions,
    scoring: &ForecastScoring,
    reward_on_failure: f64,
) -> Scored {
    let scaler = Scaler::fit(shown, llmtime.alpha, llmtime.beta);
    let parsed = parse_forecast(text, series.horizon(), &scaler, llmtime, scoring.too_few);
    let metrics = ForecastMetrics::compute(
        &series.history,
        &series.future,
        series.period,
        parsed.values.as_deref(),
        parsed.found,
        scoring.on_failure,
    );
    let failure = if reward_on_failure.is_finite() { reward_on_failure } else { -1.0 };
    let parsed_smape = metrics.smape.filter(|_| metrics.fallback.is_none());
    let reward = match (parsed_smape, scoring.reward) {
        (None, _) => failure,
        (Some(s), ForecastReward::NegSmape) => -s / 200.0,
        (Some(s), ForecastReward::NegMaseCapped { cap }) => match metrics.mase {
            Some(m) if cap.is_finite() && cap > 0.0 => -m.min(cap) / cap,
            _ => -s / 200.0,
        },
    };
    let reward = if reward.is_finite() { reward } else { failure };
    Scored {
        reward,
        status: parsed.status,
        answer: parsed.values.map(Answer::Values),
        truth: Answer::Values(series.future.clone()),
        metrics: SampleMetrics::Forecast(metrics),
    }
}
