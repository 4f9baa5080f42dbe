//! Macro-F1 over a set of classifications: the mean over the labels
//! present in the truth or the predictions of 2TP / (2TP + FP + FN), as
//! the task computes it (`tasks::activity::metrics::classification`): a
//! failed parse (no predicted label) adds a false negative to its true
//! label and no false positive. Higher is better.

use std::collections::HashMap;

use super::{texts, SetSample};
use crate::metrics::column::Column;
use crate::metrics::input::Input;
use crate::metrics::registry::{PREDICTED_LABEL, TRUE_LABEL};
use crate::metrics::MetricsError;
use crate::tasks::activity::metrics::classification;

pub const INPUTS: [Column; 2] = [TRUE_LABEL, PREDICTED_LABEL];
pub const EVIDENCE: Column = TRUE_LABEL;

pub fn usable(inputs: &[Input]) -> Result<Vec<bool>, MetricsError> {
    Ok(texts(inputs, &INPUTS, 0)?.iter().map(Option::is_some).collect())
}

struct Pairs(Vec<(String, Option<String>)>);

pub fn sample(inputs: &[Input], rows: &[u32]) -> Result<Box<dyn SetSample>, MetricsError> {
    let (truth, predicted) = (texts(inputs, &INPUTS, 0)?, texts(inputs, &INPUTS, 1)?);
    let pairs =
        rows.iter().filter_map(|&r| Some((truth.get(r as usize)?.clone()?, predicted.get(r as usize).cloned().flatten()))).collect();
    Ok(Box::new(Pairs(pairs)))
}

impl SetSample for Pairs {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn value(&self, picks: &[u32]) -> Option<f64> {
        let set: Vec<(&str, Option<&str>)> =
            picks.iter().filter_map(|&i| self.0.get(i as usize)).map(|(t, p)| (t.as_str(), p.as_deref())).collect();
        classification(&set).macro_f1
    }

    /// Macro-F1 = (1/L) Σ_c 2·tp_c / d_c in the per-sample means of the
    /// indicators tp_c and d_c = 2·tp_c + fp_c + fn_c; sample i moves it by
    /// (1/L) Σ_c (2·tp_ci − F1_c · d_ci) / mean(d_c), over the labels it
    /// touches.
    fn influence(&self) -> Option<Vec<f64>> {
        let all = classification(&self.0);
        all.macro_f1?;
        let n = self.0.len() as f64;
        let labels = all.per_label.len() as f64;
        let score: HashMap<&str, (f64, f64)> =
            all.per_label.iter().map(|l| (l.label.as_str(), (l.f1, (2 * l.tp + l.fp + l.fn_) as f64 / n))).collect();
        let term = |label: &str, tp: f64, d: f64| score.get(label).map_or(0.0, |&(f1, mean_d)| (2.0 * tp - f1 * d) / mean_d);
        Some(
            self.0
                .iter()
                .map(|(t, p)| {
                    let sum = match p.as_deref() {
                        Some(p) if p == t => term(t, 1.0, 2.0),
                        Some(p) => term(p, 0.0, 1.0) + term(t, 0.0, 1.0),
                        None => term(t, 0.0, 1.0),
                    };
                    sum / labels
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(rows: &[(Option<&str>, Option<&str>)]) -> Vec<Input> {
        vec![
            Input::Texts(rows.iter().map(|r| r.0.map(str::to_owned)).collect()),
            Input::Texts(rows.iter().map(|r| r.1.map(str::to_owned)).collect()),
        ]
    }

    #[test]
    fn macro_f1_with_a_failed_parse_by_hand() {
        // truth → predicted: a→a, a→b, b→b, b→(failed), c→c.
        // a: TP 1, FP 0, FN 1 → 2/3; b: TP 1, FP 1, FN 1 → 2/4; c: TP 1 → 1.
        // Macro-F1 = (2/3 + 1/2 + 1) / 3 = 13/18. A row without a true label
        // does not count.
        let v = inputs(&[
            (Some("a"), Some("a")),
            (Some("a"), Some("b")),
            (Some("b"), Some("b")),
            (Some("b"), None),
            (Some("c"), Some("c")),
            (None, Some("a")),
        ]);
        assert_eq!(usable(&v).unwrap(), [true, true, true, true, true, false]);
        let s = sample(&v, &[0, 1, 2, 3, 4]).unwrap();
        assert!((s.value_of_all().unwrap() - 13.0 / 18.0).abs() < 1e-15);
        // The influence values average to 0.
        let psi = s.influence().unwrap();
        assert!(psi.iter().sum::<f64>().abs() < 1e-12, "{psi:?}");
        // The linearization predicts the change from dropping a sample:
        // T(all) − T(all but i) ≈ ψ_i / n for large n; here it has the sign.
        let without_miss = s.value(&[0, 1, 2, 4]).unwrap();
        assert!(psi[3] < 0.0 && without_miss > s.value_of_all().unwrap());
    }
}
