//! OWA over a set of forecasts: ½ · (mean sMAPE / mean sMAPE_Naive2 +
//! mean MASE / mean MASE_Naive2), the four means over the same samples,
//! those with all four values defined. The formula is the task's own
//! (`tasks::forecast::metrics::owa`); lower is better.

use super::{numbers, SetSample};
use crate::metrics::column::Column;
use crate::metrics::input::Input;
use crate::metrics::registry::{MASE, MASE_NAIVE2, SMAPE, SMAPE_NAIVE2};
use crate::metrics::MetricsError;
use crate::tasks::forecast::metrics::{owa, ForecastMetrics};

pub const INPUTS: [Column; 4] = [SMAPE, MASE, SMAPE_NAIVE2, MASE_NAIVE2];
/// Naive2's sMAPE is defined for every forecasting sample, parsed or not.
pub const EVIDENCE: Column = SMAPE_NAIVE2;

/// The four values of row `r`, when all are finite.
fn four(cols: &[&[Option<f64>]; 4], r: usize) -> Option<[f64; 4]> {
    let v = [cols[0][r]?, cols[1][r]?, cols[2][r]?, cols[3][r]?];
    v.iter().all(|x| x.is_finite()).then_some(v)
}

fn columns(inputs: &[Input]) -> Result<[&[Option<f64>]; 4], MetricsError> {
    Ok([numbers(inputs, &INPUTS, 0)?, numbers(inputs, &INPUTS, 1)?, numbers(inputs, &INPUTS, 2)?, numbers(inputs, &INPUTS, 3)?])
}

pub fn usable(inputs: &[Input]) -> Result<Vec<bool>, MetricsError> {
    let cols = columns(inputs)?;
    Ok((0..cols[0].len()).map(|r| four(&cols, r).is_some()).collect())
}

/// The four values of each sample: sMAPE, MASE and Naive2's.
struct Series(Vec<[f64; 4]>);

/// One sample as the task's per-series metrics.
fn metrics_of(&[smape, mase, smape_naive2, mase_naive2]: &[f64; 4]) -> ForecastMetrics {
    ForecastMetrics {
        smape: Some(smape),
        mase: Some(mase),
        smape_naive2: Some(smape_naive2),
        mase_naive2: Some(mase_naive2),
        mase_period: None,
        naive2_seasonal: false,
        values_found: 0,
        fallback: None,
    }
}

pub fn sample(inputs: &[Input], rows: &[u32]) -> Result<Box<dyn SetSample>, MetricsError> {
    let cols = columns(inputs)?;
    Ok(Box::new(Series(rows.iter().filter_map(|&r| four(&cols, r as usize)).collect())))
}

impl SetSample for Series {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn value(&self, picks: &[u32]) -> Option<f64> {
        let set: Vec<ForecastMetrics> = picks.iter().filter_map(|&i| self.0.get(i as usize)).map(metrics_of).collect();
        owa(&set).owa
    }

    fn value_of_all(&self) -> Option<f64> {
        owa(&self.0.iter().map(metrics_of).collect::<Vec<_>>()).owa
    }

    /// OWA = ½ (S/Sn + M/Mn) in the four means; sample i moves it by
    /// ½ ((s_i − S/Sn · sn_i) / Sn + (m_i − M/Mn · mn_i) / Mn).
    fn influence(&self) -> Option<Vec<f64>> {
        let all = owa(&self.0.iter().map(metrics_of).collect::<Vec<_>>());
        all.owa?;
        let (s, m, sn, mn) = (all.smape?, all.mase?, all.smape_naive2?, all.mase_naive2?);
        let (rs, rm) = (s / sn, m / mn);
        Some(self.0.iter().map(|&[si, mi, sni, mni]| 0.5 * ((si - rs * sni) / sn + (mi - rm * mni) / mn)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(rows: &[[Option<f64>; 4]]) -> Vec<Input> {
        (0..4).map(|i| Input::Numbers(rows.iter().map(|r| r[i]).collect())).collect()
    }

    #[test]
    fn owa_of_three_series_by_hand_and_incomplete_ones_left_out() {
        // sMAPE 10 20 30 (mean 20), MASE 1 2 3 (2), sMAPE_Naive2 20 20 20 (20),
        // MASE_Naive2 2 2 2 (2): OWA = ½ (20/20 + 2/2) = 1. The fourth row
        // lacks MASE and the fifth Naive2's sMAPE: neither counts.
        let v = inputs(&[
            [Some(10.0), Some(1.0), Some(20.0), Some(2.0)],
            [Some(20.0), Some(2.0), Some(20.0), Some(2.0)],
            [Some(30.0), Some(3.0), Some(20.0), Some(2.0)],
            [Some(200.0), None, Some(20.0), Some(2.0)],
            [Some(5.0), Some(0.5), None, Some(2.0)],
        ]);
        assert_eq!(usable(&v).unwrap(), [true, true, true, false, false]);
        let s = sample(&v, &[0, 1, 2]).unwrap();
        assert_eq!(s.value_of_all(), Some(1.0));
        // Samples 0 and 0 again and 2: sMAPE (10+10+30)/3, MASE (1+1+3)/3, Naive2 20 and 2.
        let expected = 0.5 * ((50.0 / 3.0) / 20.0 + (5.0 / 3.0) / 2.0);
        assert!((s.value(&[0, 0, 2]).unwrap() - expected).abs() < 1e-15);
        let psi = s.influence().unwrap();
        // ½ ((10 − 20)/20 + (1 − 2)/2) = −0.5, then 0, then +0.5.
        assert_eq!(psi, [-0.5, 0.0, 0.5]);
    }
}
