//! Confidence intervals of means and of set statistics (percentile
//! bootstrap, or the normal approximation for large samples: for a set
//! statistic, from its influence values by the delta method), the paired
//! bootstrap of a difference, and the two-sided sign test.
//!
//! Every bootstrap draws from a ChaCha8 generator seeded with the same
//! constant and picks samples the same way, so the same values always give
//! the same interval.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::metrics::SetSample;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 1000;
/// The seed of every bootstrap.
pub const SEED: u64 = 0x5eed_2026_0b00_7575;
/// A sample larger than this many draws (n · resamples) gets the normal
/// interval, which the bootstrap converges to.
pub const CELL_DRAWS: usize = 20_000_000;
/// Bootstrap draws allowed in one table or diff in all; see [`Budget`].
pub const TOTAL_DRAWS: usize = 100_000_000;
/// The two-sided 95% quantile of the standard normal.
const Z95: f64 = 1.959_963_984_540_054;

/// How an interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CiMethod {
    Bootstrap,
    Normal,
}

impl CiMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CiMethod::Bootstrap => "bootstrap",
            CiMethod::Normal => "normal",
        }
    }
}

/// A mean with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    /// Values the mean is over.
    pub n: usize,
    pub method: CiMethod,
}

impl Estimate {
    /// Half the width of the interval.
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }

    /// Whether the interval lies entirely on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// The bootstrap draws one report may still spend. Cells ask for their
/// draws in a fixed order (smallest samples first, where the normal
/// approximation is weakest), so which cells get the bootstrap is itself
/// deterministic.
#[derive(Debug, Clone)]
pub struct Budget {
    left: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { left: TOTAL_DRAWS }
    }
}

impl Budget {
    pub fn new(draws: usize) -> Budget {
        Budget { left: draws }
    }

    /// The interval method for a sample of `n`, taking its draws from the
    /// budget when it is the bootstrap.
    pub fn method_for(&mut self, n: usize) -> CiMethod {
        let draws = n.saturating_mul(RESAMPLES);
        if draws <= CELL_DRAWS && draws <= self.left {
            self.left -= draws;
            CiMethod::Bootstrap
        } else {
            CiMethod::Normal
        }
    }
}

/// The arithmetic mean (0 for no values).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

fn bounds(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// The `q` quantile of sorted values, interpolating linearly.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    match sorted.get(i + 1) {
        Some(&next) if frac > 0.0 => sorted[i] + frac * (next - sorted[i]),
        _ => sorted[i],
    }
}

/// Fills `picks` with one resample of `n` positions: two per random 64
/// bits (its low and high 32 bits, by multiply-shift; n is far below 2^32,
/// so the bias, under n / 2^32, is immaterial), the last one alone when n
/// is odd.
fn resample(rng: &mut ChaCha8Rng, n: usize, picks: &mut Vec<u32>) {
    let pick = |bits: u64| (((bits & 0xffff_ffff) * n as u64) >> 32) as u32;
    picks.clear();
    for _ in 0..n / 2 {
        let r = rng.next_u64();
        picks.extend([pick(r), pick(r >> 32)]);
    }
    if n % 2 == 1 {
        picks.push(pick(rng.next_u64()));
    }
}

/// The 2.5% and 97.5% quantiles of resampled statistics.
fn percentiles(mut stats: Vec<f64>) -> (f64, f64) {
    stats.sort_by(f64::total_cmp);
    (quantile(&stats, 0.025), quantile(&stats, 0.975))
}

/// The statistics of [`RESAMPLES`] resamples of `n` positions (those
/// defined), in the order drawn.
fn resampled(n: usize, stat: impl Fn(&[u32]) -> Option<f64>) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut picks = Vec::with_capacity(n);
    (0..RESAMPLES)
        .filter_map(|_| {
            resample(&mut rng, n, &mut picks);
            stat(&picks).filter(|v| v.is_finite())
        })
        .collect()
}

fn bootstrap(values: &[f64]) -> (f64, f64) {
    percentiles(resampled(values.len(), |picks| {
        let mut s = 0.0;
        for two in picks.chunks(2) {
            s += two.iter().map(|&i| values[i as usize]).sum::<f64>();
        }
        Some(s / values.len() as f64)
    }))
}

/// Half the width of the normal 95% interval of the mean of `values`
/// (spread measured about `center`); 0 for fewer than two values.
fn normal_half_width(values: &[f64], center: f64) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let var = values.iter().map(|v| (v - center) * (v - center)).sum::<f64>() / (n - 1) as f64;
    Z95 * (var / n as f64).sqrt()
}

fn normal(values: &[f64], m: f64) -> (f64, f64) {
    let half = normal_half_width(values, m);
    (m - half, m + half)
}

/// The mean of `values` and its 95% interval by `method`; `None` for no
/// values. Mean and bounds are kept within the values' range (where every
/// mean of them lies), so a constant sample gives exactly that constant.
pub fn mean_ci_with(values: &[f64], method: CiMethod) -> Option<Estimate> {
    if values.is_empty() {
        return None;
    }
    let (min, max) = bounds(values);
    let m = mean(values).clamp(min, max);
    let (lo, hi) = match method {
        CiMethod::Bootstrap => bootstrap(values),
        CiMethod::Normal => normal(values, m),
    };
    let clamp = |x: f64| x.clamp(min, max);
    Some(Estimate { mean: m, lo: clamp(lo).min(m), hi: clamp(hi).max(m), n: values.len(), method })
}

/// [`mean_ci_with`], the method chosen by `budget`.
pub fn mean_ci(values: &[f64], budget: &mut Budget) -> Option<Estimate> {
    if values.is_empty() {
        return None;
    }
    let method = budget.method_for(values.len());
    mean_ci_with(values, method)
}

/// The mean of `after − before` over pairs and its 95% interval: the
/// paired bootstrap resamples pairs, which is resampling their differences.
pub fn paired_ci(before: &[f64], after: &[f64], budget: &mut Budget) -> Option<Estimate> {
    let diffs: Vec<f64> = before.iter().zip(after).map(|(a, b)| b - a).collect();
    mean_ci(&diffs, budget)
}

/// A statistic `value` of `n` samples with its 95% interval by `method`:
/// the percentile bootstrap of `at` (the statistic of a resample of
/// positions), or normal with the variance of the `influence` values over n.
fn stat_interval(
    n: usize,
    value: f64,
    at: impl Fn(&[u32]) -> Option<f64>,
    influence: impl FnOnce() -> Option<Vec<f64>>,
    method: CiMethod,
) -> Estimate {
    let (lo, hi) = match method {
        CiMethod::Bootstrap => match resampled(n, at) {
            stats if stats.is_empty() => (value, value),
            stats => percentiles(stats),
        },
        CiMethod::Normal => {
            let half = influence().map_or(0.0, |psi| normal_half_width(&psi, mean(&psi)));
            (value - half, value + half)
        }
    };
    Estimate { mean: value, lo: lo.min(value), hi: hi.max(value), n, method }
}

/// The set statistic of `sample` and its 95% interval by `method`
/// (resampling its samples, or the delta method); `None` when undefined.
pub fn set_ci_with(sample: &dyn SetSample, method: CiMethod) -> Option<Estimate> {
    let value = sample.value_of_all()?;
    Some(stat_interval(sample.len(), value, |picks| sample.value(picks), || sample.influence(), method))
}

/// [`set_ci_with`], the method chosen by `budget`.
pub fn set_ci(sample: &dyn SetSample, budget: &mut Budget) -> Option<Estimate> {
    if sample.is_empty() {
        return None;
    }
    set_ci_with(sample, budget.method_for(sample.len()))
}

/// The difference `b − a` of a set statistic over paired samples (the
/// same samples, position by position, on both sides) and its 95%
/// interval: the paired bootstrap draws the same positions on both sides;
/// the normal interval uses the differences of the influence values.
pub fn paired_set_ci_with(a: &dyn SetSample, b: &dyn SetSample, method: CiMethod) -> Option<Estimate> {
    if a.len() != b.len() {
        return None;
    }
    let d = b.value_of_all()? - a.value_of_all()?;
    let at = |picks: &[u32]| Some(b.value(picks)? - a.value(picks)?);
    let influence = || Some(b.influence()?.iter().zip(a.influence()?).map(|(y, x)| y - x).collect());
    Some(stat_interval(a.len(), d, at, influence, method))
}

/// The two-sided exact sign test of "positive and negative differences are
/// equally likely": zeros are dropped; with k of the m others positive,
/// p = min(1, 2 · P(X ≤ min(k, m − k))), X ~ Binomial(m, 1/2).
pub fn sign_test(diffs: &[f64]) -> f64 {
    let pos = diffs.iter().filter(|&&d| d > 0.0).count();
    let neg = diffs.iter().filter(|&&d| d < 0.0).count();
    let m = pos + neg;
    if m == 0 {
        return 1.0;
    }
    let k = pos.min(neg);
    // log P(X = i), summed in log space so large m neither under- nor overflows.
    let mut log_p = -(m as f64) * std::f64::consts::LN_2;
    let mut terms = Vec::with_capacity(k + 1);
    for i in 0..=k {
        terms.push(log_p);
        log_p += ((m - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * terms.iter().map(|t| (t - top).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_test_small_cases() {
        assert!((sign_test(&[1.0; 5]) - 0.0625).abs() < 1e-12);
        assert!((sign_test(&[1.0, -1.0]) - 1.0).abs() < 1e-12);
        // 1 of 6 negative: 2 · (1 + 6) / 64.
        let d = [1.0, 1.0, 1.0, 1.0, 1.0, -2.0, 0.0];
        assert!((sign_test(&d) - 14.0 / 64.0).abs() < 1e-12);
        assert_eq!(sign_test(&[0.0, 0.0]), 1.0);
    }

    #[test]
    fn sign_test_large_balanced_is_one() {
        let d: Vec<f64> = (0..100_000).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert!((sign_test(&d) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(&[0.0, 10.0], 0.25), 2.5);
        assert_eq!(quantile(&[3.0], 0.975), 3.0);
    }

    #[test]
    fn constant_values_collapse() {
        for method in [CiMethod::Bootstrap, CiMethod::Normal] {
            let e = mean_ci_with(&[0.1, 0.1, 0.1], method).expect("values");
            assert_eq!((e.mean, e.lo, e.hi), (0.1, 0.1, 0.1));
        }
    }

    #[test]
    fn budget_spends_then_falls_back() {
        let mut b = Budget::new(2 * RESAMPLES * 10);
        assert_eq!(b.method_for(10), CiMethod::Bootstrap);
        assert_eq!(b.method_for(10), CiMethod::Bootstrap);
        assert_eq!(b.method_for(10), CiMethod::Normal);
        let mut b = Budget::default();
        assert_eq!(b.method_for(CELL_DRAWS / RESAMPLES + 1), CiMethod::Normal);
    }

    #[test]
    fn bootstrap_is_close_to_normal_for_many_values() {
        let v: Vec<f64> = (0..2000).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
        let b = mean_ci_with(&v, CiMethod::Bootstrap).expect("values");
        let n = mean_ci_with(&v, CiMethod::Normal).expect("values");
        assert!((b.half_width() - n.half_width()).abs() < 0.15 * n.half_width());
    }
}
