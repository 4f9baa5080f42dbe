//! Classification metrics.
//!
//! Accuracy = correct / n, with a failed parse (`None`) counted as wrong.
//! Macro-F1 = the mean over the labels present in the truth or among the
//! predictions of F1 = 2·TP / (2·TP + FP + FN); a failed parse adds a false
//! negative to its true label and no false positive. Labels compare exactly.
use std::collections::BTreeMap;

use serde::Serialize;

/// Per-sample activity metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityMetrics {
    pub correct: bool,
}

/// One label's counts and F1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub label: String,
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub f1: f64,
}

/// Accuracy and macro-F1 over a set of samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    pub n: usize,
    pub correct: usize,
    /// Samples whose answer could not be parsed.
    pub failed: usize,
    /// `None` for no samples.
    pub accuracy: Option<f64>,
    /// `None` for no samples.
    pub macro_f1: Option<f64>,
    /// Sorted by label.
    pub per_label: Vec<LabelScore>,
}

/// Accuracy and macro-F1 of `(truth, prediction)` pairs.
pub fn classification<T: AsRef<str>, P: AsRef<str>>(pairs: &[(T, Option<P>)]) -> Classification {
    let mut counts: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let (mut correct, mut failed) = (0, 0);
    for (truth, pred) in pairs {
        let t = truth.as_ref();
        match pred.as_ref().map(|p| p.as_ref()) {
            Some(p) if p == t => {
                correct += 1;
                counts.entry(t.to_string()).or_default().0 += 1;
            }
            Some(p) => {
                counts.entry(p.to_string()).or_default().1 += 1;
                counts.entry(t.to_string()).or_default().2 += 1;
            }
            None => {
                failed += 1;
                counts.entry(t.to_string()).or_default().2 += 1;
            }
        }
    }
    let per_label: Vec<LabelScore> = counts
        .into_iter()
        .map(|(label, (tp, fp, fn_))| {
            let denom = 2 * tp + fp + fn_;
            let f1 = if denom > 0 { 2.0 * tp as f64 / denom as f64 } else { 0.0 };
            LabelScore { label, tp, fp, fn_, f1 }
        })
        .collect();
    let n = pairs.len();
    let accuracy = (n > 0).then(|| correct as f64 / n as f64);
    let macro_f1 = (!per_label.is_empty()).then(|| per_label.iter().map(|l| l.f1).sum::<f64>() / per_label.len() as f64);
    Classification { n, correct, failed, accuracy, macro_f1, per_label }
}
