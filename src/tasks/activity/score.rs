//! Scoring a reply to an activity prompt: reward 1 for the true label, 0
//! for another label, `reward_on_failure` when no label could be read.
use super::metrics::ActivityMetrics;
use super::parse::parse_label;
use super::ActivityCase;
use crate::tasks::scored::{Answer, SampleMetrics, Scored};

/// Scores `text` as the answer to `case`.
pub fn score_activity(case: &ActivityCase, text: &str, reward_on_failure: f64) -> Scored {
    let parsed = parse_label(text, &case.labels);
    let correct = parsed.label.as_deref() == Some(case.label.as_str());
    let reward = match &parsed.label {
        None if reward_on_failure.is_finite() => reward_on_failure,
        None => -1.0,
        Some(_) if correct => 1.0,
        Some(_) => 0.0,
    };
    Scored {
        reward,
        status: parsed.status,
        answer: parsed.label.map(Answer::Label),
        truth: Answer::Label(case.label.clone()),
        metrics: SampleMetrics::Activity(ActivityMetrics { correct }),
    }
}
