//! The M4 accuracy measures.
//!
//! - sMAPE = (200/h) · Σ |y − ŷ| / (|y| + |ŷ|); a step where both are 0
//!   contributes 0 (the competition's formula would divide by zero).
//! - MASE = mean |y − ŷ| / scale, scale = (1/(n−m)) · Σ_{t=m+1..n} |x_t − x_{t−m}|
//!   over the n history values. When n ≤ m the seasonal scale has no terms
//!   and m = 1 is used instead (recorded in `mase_period`); when the scale
//!   is 0 (a constant history) or n ≤ 1, MASE is undefined (`None`).
//! - OWA = ½ · (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) from the averages
//!   over a set of series (see [`owa`]).
//! - An answer that could not be parsed is scored, never dropped: its sMAPE
//!   is 200 (the largest possible, matching the reward −1 = −sMAPE/200) and
//!   its MASE is that of a declared stand-in forecast (Naive2 by default),
//!   flagged in `fallback`.
use serde::Serialize;

use crate::spec::FailureForecast;

/// sMAPE in percent (0..=200); `None` for empty or unequal lengths or
/// non-finite input.
pub fn smape(actual: &[f64], forecast: &[f64]) -> Option<f64> {
    if actual.is_empty() || actual.len() != forecast.len() {
        return None;
    }
    let mut sum = 0.0;
    for (&y, &f) in actual.iter().zip(forecast) {
        let denom = y.abs() + f.abs();
        if denom > 0.0 {
            sum += (y - f).abs() / denom;
        }
    }
    let v = 200.0 * sum / actual.len() as f64;
    v.is_finite().then_some(v)
}

/// The MASE scale of a history and the period it used (see the module docs).
pub fn mase_scale(history: &[f64], period: usize) -> Option<(f64, usize)> {
    let n = history.len();
    let m = if period >= 1 && n > period { period } else { 1 };
    if n <= m {
        return None;
    }
    let sum: f64 = (m..n).map(|t| (history[t] - history[t - m]).abs()).sum();
    let scale = sum / (n - m) as f64;
    (scale.is_finite() && scale > 0.0).then_some((scale, m))
}

/// MASE of `forecast` against `actual`, scaled by the seasonal naive error
/// of `history`; `None` when undefined.
pub fn mase(history: &[f64], actual: &[f64], forecast: &[f64], period: usize) -> Option<f64> {
    let (scale, _) = mase_scale(history, period)?;
    mase_with_scale(actual, forecast, scale)
}

pub(crate) fn mase_with_scale(actual: &[f64], forecast: &[f64], scale: f64) -> Option<f64> {
    if actual.is_empty() || actual.len() != forecast.len() {
        return None;
    }
    let mae = actual.iter().zip(forecast).map(|(y, f)| (y - f).abs()).sum::<f64>() / actual.len() as f64;
    let v = mae / scale;
    v.is_finite().then_some(v)
}

/// A forecast's per-sample metrics, with the Naive2 benchmark's on the same series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastMetrics {
    /// 200 when the forecast could not be parsed; `None` only for an empty
    /// future.
    pub smape: Option<f64>,
    /// Of the stand-in forecast when the answer could not be parsed; `None`
    /// when MASE is undefined.
    pub mase: Option<f64>,
    pub smape_naive2: Option<f64>,
    pub mase_naive2: Option<f64>,
    /// The seasonal period the MASE scale used (`None` when undefined).
    pub mase_period: Option<usize>,
    /// Whether Naive2 found the history seasonal.
    pub naive2_seasonal: bool,
    /// How many numbers the generated text held.
    pub values_found: usize,
    /// The stand-in forecast of a failed parse (absent when it parsed).
    pub fallback: Option<FailureForecast>,
}

/// The sMAPE of an answer that could not be parsed.
pub const FAILED_SMAPE: f64 = 200.0;

impl ForecastMetrics {
    /// The metrics of `forecast` for a series; a failed parse (`None`) is
    /// scored with sMAPE 200 and the MASE of the `on_failure` forecast.
    pub fn compute(
        history: &[f64],
        actual: &[f64],
        period: usize,
        forecast: Option<&[f64]>,
        values_found: usize,
        on_failure: FailureForecast,
    ) -> Self {
        let scale = mase_scale(history, period);
        let naive = super::naive2::naive2(history, actual.len(), period);
        let smape_of = |f: &[f64]| smape(actual, f);
        let mase_of = |f: &[f64]| scale.and_then(|(s, _)| mase_with_scale(actual, f, s));
        let (smape_v, mase_v, fallback) = match forecast {
            Some(f) => (smape_of(f), mase_of(f), None),
            None => {
                let stand_in = match on_failure {
                    FailureForecast::Naive2 => naive.forecast.clone(),
                    FailureForecast::Naive1 => vec![history.last().copied().unwrap_or(0.0); actual.len()],
                };
                ((!actual.is_empty()).then_some(FAILED_SMAPE), mase_of(&stand_in), Some(on_failure))
            }
        };
        ForecastMetrics {
            smape: smape_v,
            mase: mase_v,
            smape_naive2: smape_of(&naive.forecast),
            mase_naive2: mase_of(&naive.forecast),
            mase_period: scale.map(|(_, m)| m),
            naive2_seasonal: naive.seasonal,
            values_found,
            fallback,
        }
    }
}

/// OWA and the averages it comes from, over a set of series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwaSummary {
    /// Series in the averages: every metric defined.
    pub series: usize,
    /// Series among them whose answer was not parsed (scored through the
    /// stand-in forecast).
    pub failed: usize,
    /// Series left out because MASE is undefined for them.
    pub undefined: usize,
    pub smape: Option<f64>,
    pub mase: Option<f64>,
    pub smape_naive2: Option<f64>,
    pub mase_naive2: Option<f64>,
    /// `None` when no series counts or a Naive2 average is 0.
    pub owa: Option<f64>,
}

/// OWA over `metrics`: the four averages are taken over the same series
/// (those whose four metrics are defined, failed parses included through
/// their sMAPE of 200 and stand-in MASE), then
/// OWA = ½ · (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2).
pub fn owa(metrics: &[ForecastMetrics]) -> OwaSummary {
    let mut sums = [0.0f64; 4];
    let (mut series, mut failed, mut undefined) = (0usize, 0usize, 0usize);
    for m in metrics {
        match (m.smape, m.mase, m.smape_naive2, m.mase_naive2) {
            (Some(a), Some(b), Some(c), Some(d)) => {
                failed += usize::from(m.fallback.is_some());
                sums[0] += a;
                sums[1] += b;
                sums[2] += c;
                sums[3] += d;
                series += 1;
            }
            _ => undefined += 1,
        }
    }
    let avg = |s: f64| (series > 0).then(|| s / series as f64);
    let (smape, mase, smape_naive2, mase_naive2) = (avg(sums[0]), avg(sums[1]), avg(sums[2]), avg(sums[3]));
    let owa = match (smape, mase, smape_naive2, mase_naive2) {
        (Some(a), Some(b), Some(c), Some(d)) if c > 0.0 && d > 0.0 => Some(0.5 * (a / c + b / d)),
        _ => None,
    };
    OwaSummary { series, failed, undefined, smape, mase, smape_naive2, mase_naive2, owa }
}
