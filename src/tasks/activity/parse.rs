//! Reading the activity label from a reply.
//!
//! The LAST occurrence of `answer` followed by `:` (case-insensitive;
//! spaces and `*` may sit between, so `**Answer:**` counts) is used. Its
//! answer is the rest of that line, or the next non-blank line when the
//! rest is blank, trimmed of whitespace and of the characters
//! `` * _ ` ' " . , ; : ! ? ( ) [ ] { } < > `` at both ends.
//!
//! Matching is case-insensitive and treats `_`, `-` and runs of whitespace
//! as one space (`walking up` and `Walking-Up` both name `walking_up`).
//! When the whole answer is no label, the longest label that the answer
//! starts with, followed by a word boundary, is taken
//! (`walking down the stairs` → `walking_down`).
use crate::tasks::scored::ParseStatus;

/// A parsed label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLabel {
    /// The label as the label set writes it.
    pub label: Option<String>,
    pub status: ParseStatus,
    /// The answer text after `Answer:`, trimmed (absent without `Answer:`).
    pub raw: Option<String>,
}

/// Lowercase, with `_`, `-` and whitespace runs as one space, trimmed.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c == '_' || c == '-' || c.is_whitespace() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

const TRIM: &str = "*_`'\".,;:!?()[]{}<>";

/// The text after the last `Answer:` marker.
fn last_answer(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    let mut end = lower.len();
    while let Some(pos) = lower[..end].rfind("answer") {
        let after = &text[pos + "answer".len()..];
        let skipped = after.trim_start_matches([' ', '\t', '*']);
        if let Some(rest) = skipped.strip_prefix(':') {
            return Some(rest);
        }
        end = pos;
    }
    None
}

/// Parses the label of `text` against `labels`.
pub fn parse_label(text: &str, labels: &[String]) -> ParsedLabel {
    let Some(rest) = last_answer(text) else {
        return ParsedLabel { label: None, status: ParseStatus::NoAnswer, raw: None };
    };
    let clean = |s: &str| s.trim_matches(|c: char| c.is_whitespace() || TRIM.contains(c)).to_string();
    let mut lines = rest.lines();
    let mut answer = clean(lines.next().unwrap_or(""));
    if answer.is_empty() {
        answer = lines.map(clean).find(|l| !l.is_empty()).unwrap_or_default();
    }
    if answer.is_empty() {
        return ParsedLabel { label: None, status: ParseStatus::NoAnswer, raw: Some(answer) };
    }
    let norm = normalize(&answer);
    let exact = labels.iter().find(|l| normalize(l) == norm);
    let found = exact.or_else(|| {
        labels
            .iter()
            .filter(|l| {
                let nl = normalize(l);
                !nl.is_empty() && norm.starts_with(&nl) && norm[nl.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
            })
            .max_by_key(|l| normalize(l).len())
    });
    match found {
        Some(l) => ParsedLabel { label: Some(l.clone()), status: ParseStatus::Ok, raw: Some(answer) },
        None => ParsedLabel { label: None, status: ParseStatus::UnknownLabel, raw: Some(answer) },
    }
}
