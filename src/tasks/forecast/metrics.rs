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
use serde::Serialize;

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
    /// `None` when the forecast could not be parsed.
    pub smape: Option<f64>,
    /// `None` when the forecast could not be parsed or MASE is undefined.
    pub mase: Option<f64>,
    pub smape_naive2: Option<f64>,
    pub mase_naive2: Option<f64>,
    /// The seasonal period the MASE scale used (`None` when undefined).
    pub mase_period: Option<usize>,
    /// Whether Naive2 found the history seasonal.
    pub naive2_seasonal: bool,
    /// How many numbers the generated text held.
    pub values_found: usize,
}

impl ForecastMetrics {
    /// The metrics of `forecast` (or of a failed parse, `None`) for a series.
    pub fn compute(history: &[f64], actual: &[f64], period: usize, forecast: Option<&[f64]>, values_found: usize) -> Self {
        let scale = mase_scale(history, period);
        let naive = super::naive2::naive2(history, actual.len(), period);
        let smape_of = |f: &[f64]| smape(actual, f);
        let mase_of = |f: &[f64]| scale.and_then(|(s, _)| mase_with_scale(actual, f, s));
        ForecastMetrics {
            smape: forecast.and_then(smape_of),
            mase: forecast.and_then(mase_of),
            smape_naive2: smape_of(&naive.forecast),
            mase_naive2: mase_of(&naive.forecast),
            mase_period: scale.map(|(_, m)| m),
            naive2_seasonal: naive.seasonal,
            values_found,
        }
    }
}

/// OWA and the averages it comes from, over a set of series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OwaSummary {
    /// Series in the averages: parsed, with every metric defined.
    pub series: usize,
    /// Series left out because their forecast was not parsed.
    pub failed: usize,
    /// Parsed series left out because MASE is undefined for them.
    pub undefined: usize,
    pub smape: Option<f64>,
    pub mase: Option<f64>,
    pub smape_naive2: Option<f64>,
    pub mase_naive2: Option<f64>,
    /// `None` when no series counts or a Naive2 average is 0.
    pub owa: Option<f64>,
}

/// OWA over `metrics`: the four averages are taken over the same series
/// (those whose forecast parsed and whose four metrics are defined), then
/// OWA = ½ · (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2). Failed parses are
/// counted in `failed`, not averaged.
pub fn owa(metrics: &[ForecastMetrics]) -> OwaSummary {
    let mut sums = [0.0f64; 4];
    let (mut series, mut failed, mut undefined) = (0usize, 0usize, 0usize);
    for m in metrics {
        if m.smape.is_none() {
            failed += 1;
            continue;
        }
        match (m.smape, m.mase, m.smape_naive2, m.mase_naive2) {
            (Some(a), Some(b), Some(c), Some(d)) => {
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
