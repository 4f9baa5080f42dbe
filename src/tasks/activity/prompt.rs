//! The activity prompt: each channel's readings (downsampled and rounded),
//! the label set, and the request to end with `Answer: <label>`.
//!
//! Chat form: a system message and a user message. Plain form (continuation
//! mode, or a model without a chat template): the two joined by a blank
//! line, ending with a newline. With reasoning the model is asked to reason
//! briefly and end with the answer line; without, to reply with the answer
//! line alone.
use serde::Serialize;

use super::ActivityCase;
use crate::spec::PromptMode;
use crate::tasks::prompt::{ChatMessage, Prompt};

/// How many readings of each channel the prompt shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Downsample {
    /// Every reading.
    None,
    /// Every k-th reading, from the first (k = 0 is taken as 1).
    Factor(usize),
    /// At most this many readings: index ⌊i·n/L⌋ for i in 0..L (all readings
    /// when n ≤ L; L = 0 is taken as 1).
    TargetLength(usize),
}

/// Options of the activity prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityPromptOptions {
    /// Default: at most 50 readings per channel.
    pub downsample: Downsample,
    /// Decimals of each reading (default 2).
    pub decimals: usize,
}

impl Default for ActivityPromptOptions {
    fn default() -> Self {
        ActivityPromptOptions { downsample: Downsample::TargetLength(50), decimals: 2 }
    }
}

/// The indices of `n` readings that `d` keeps.
pub fn kept_indices(n: usize, d: Downsample) -> Vec<usize> {
    match d {
        Downsample::None => (0..n).collect(),
        Downsample::Factor(k) => (0..n).step_by(k.max(1)).collect(),
        Downsample::TargetLength(l) => {
            let l = l.max(1);
            if n <= l {
                (0..n).collect()
            } else {
                (0..l).map(|i| i * n / l).collect()
            }
        }
    }
}

/// `v` with `decimals` decimals, without a negative zero.
pub fn format_reading(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

fn format_rate(r: f64) -> String {
    let s = format!("{r:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The prompt for `case`.
pub fn activity_prompt(case: &ActivityCase, opts: &ActivityPromptOptions, reasoning: bool, mode: PromptMode) -> Prompt {
    let system = "You recognise human activities from wearable motion sensor readings.".to_string();
    let mut body = String::new();
    let mut shown = 0;
    let mut original = 0;
    for ch in &case.channels {
        let idx = kept_indices(ch.values.len(), opts.downsample);
        shown = shown.max(idx.len());
        original = original.max(ch.values.len());
        let vals: Vec<String> = idx.iter().filter_map(|&i| ch.values.get(i)).map(|&v| format_reading(v, opts.decimals)).collect();
        body.push_str(&format!("{}: {}\n", ch.name, vals.join(", ")));
    }
    let rate = match case.sample_rate_hz {
        Some(r) if original > 0 => format!(", about {} readings per second", format_rate(r * shown as f64 / original as f64)),
        _ => String::new(),
    };
    let labels = case.labels.join(", ");
    let ask = if reasoning {
        "Reason briefly if it helps, then end your reply with a line of the form `Answer: <activity>`"
    } else {
        "Reply with one line of the form `Answer: <activity>`"
    };
    let user = format!(
        "Sensor readings of one time window: {} channels, {shown} readings each{rate}.\n\n{body}\nPossible activities: {labels}.\n{ask}, naming exactly one of the possible activities as written above.",
        case.channels.len()
    );
    let text = format!("{system}\n\n{user}\n");
    Prompt { messages: vec![ChatMessage::new("system", system), ChatMessage::new("user", user)], text, mode }
}
