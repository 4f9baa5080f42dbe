//! The Naive2 benchmark of the M4 competition: the naive forecast of the
//! seasonally adjusted history, re-seasonalised.
//!
//! Seasonality test (90%, as the M4 benchmark code): the history is seasonal
//! at period m > 1 when n ≥ 3m and
//! |acf_m| > 1.645 · sqrt((1 + 2 · Σ_{k=1}^{m−1} acf_k²) / n),
//! with acf_k = Σ_{t≥k} (x_t − x̄)(x_{t−k} − x̄) / Σ_t (x_t − x̄)².
//!
//! Seasonal indices come from classical multiplicative decomposition: a
//! centred moving average of order m (2×m for even m) as the trend, the
//! ratios x / trend averaged per position t mod m, normalised to mean 1.
//! Where the indices are not all finite and positive (a zero trend, zeros in
//! the series), the series is treated as non-seasonal.
//!
//! Forecast: ŷ_{n+i} = (x_n / s_{n mod m}) · s_{(n+i) mod m} (0-based
//! positions), i.e. the last value repeated when not seasonal.
use serde::Serialize;

/// The lag-`k` autocorrelation as the M4 benchmark code computes it
/// (0 for a constant series or k ≥ n).
pub fn acf(x: &[f64], k: usize) -> f64 {
    let n = x.len();
    if n == 0 || k >= n {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let num: f64 = (k..n).map(|i| (x[i] - mean) * (x[i - k] - mean)).sum();
    let den: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    if den > 0.0 && num.is_finite() {
        num / den
    } else {
        0.0
    }
}

/// Whether the 90% autocorrelation test finds seasonality at period `m`.
pub fn is_seasonal(x: &[f64], m: usize) -> bool {
    let n = x.len();
    if m <= 1 || n < m.saturating_mul(3) {
        return false;
    }
    let sum_sq: f64 = (1..m).map(|k| acf(x, k).powi(2)).sum();
    let limit = 1.645 * ((1.0 + 2.0 * sum_sq) / n as f64).sqrt();
    acf(x, m).abs() > limit
}

/// Seasonal indices (mean 1) by classical multiplicative decomposition;
/// index j belongs to positions t with t mod m = j. `None` when they cannot
/// be computed or are not all finite and positive.
pub fn seasonal_indices(x: &[f64], m: usize) -> Option<Vec<f64>> {
    let n = x.len();
    if m <= 1 || n < m.saturating_mul(2) {
        return None;
    }
    let weights: Vec<f64> = if m & 1 == 0 {
        let mut w = vec![1.0 / m as f64; m + 1];
        w[0] = 0.5 / m as f64;
        w[m] = 0.5 / m as f64;
        w
    } else {
        vec![1.0 / m as f64; m]
    };
    let half = weights.len() / 2;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for t in half..n.saturating_sub(half) {
        let trend: f64 = weights.iter().enumerate().map(|(j, w)| w * x[t + j - half]).sum();
        let ratio = x[t] / trend;
        if !ratio.is_finite() {
            return None;
        }
        sums[t % m] += ratio;
        counts[t % m] += 1;
    }
    if counts.contains(&0) {
        return None;
    }
    let raw: Vec<f64> = sums.iter().zip(&counts).map(|(s, &c)| s / c as f64).collect();
    let mean = raw.iter().sum::<f64>() / m as f64;
    let idx: Vec<f64> = raw.iter().map(|r| r / mean).collect();
    idx.iter().all(|v| v.is_finite() && *v > 0.0).then_some(idx)
}

/// A Naive2 forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Naive2 {
    pub forecast: Vec<f64>,
    /// Whether the history was seasonally adjusted.
    pub seasonal: bool,
}

/// The Naive2 forecast of `h` steps after `history` with seasonal period `m`.
pub fn naive2(history: &[f64], h: usize, m: usize) -> Naive2 {
    let Some(&last) = history.last() else {
        return Naive2 { forecast: vec![0.0; h], seasonal: false };
    };
    let n = history.len();
    if is_seasonal(history, m) {
        if let Some(s) = seasonal_indices(history, m) {
            let level = last / s[(n - 1) % m];
            let forecast = (0..h).map(|i| level * s[(n + i) % m]).collect();
            return Naive2 { forecast, seasonal: true };
        }
    }
    Naive2 { forecast: vec![last; h], seasonal: false }
}
