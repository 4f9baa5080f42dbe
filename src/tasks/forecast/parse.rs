//! Reading a generated continuation back into numbers.
//!
//! Rules (with `sep` = `time_sep` without surrounding whitespace, e.g. `,`):
//! - text before the first number (a digit, or `-` then a digit) is skipped,
//!   so a short preamble such as `Forecast: ` is tolerated;
//! - a number is an optional `-` and digits, optionally separated by
//!   `bit_sep`; whitespace around `sep` is ignored; when `sep` is empty,
//!   numbers are separated by whitespace;
//! - reading stops at the first place that is not `sep` followed by a number;
//! - with at least `h` numbers the first `h` are kept: status `Ok`, or
//!   `Truncated` when more followed (text after the values is ignored);
//! - with no number at all: `NoAnswer` for blank text, else `Unparsable`;
//! - with 1..h−1 numbers: `Unparsable` when the sequence broke on a
//!   malformed value (a separator followed by something that is not a
//!   number, or text glued to the last number such as `12.5` or `12abc`);
//!   otherwise (the text ended, or prose followed after whitespace)
//!   `TooFew`, which the `TooFewPolicy` may turn into `Padded`.
//!
//! Values are decoded as digits / 10^precision and unscaled with the
//! series' scaler.
use serde::Serialize;

use super::llmtime::{decode_digits, LlmTimeOptions, Scaler};
use crate::tasks::scored::ParseStatus;

/// What to do with fewer than `h` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TooFewPolicy {
    /// A failure (status `TooFew`); the default.
    #[default]
    Fail,
    /// Repeat the last value read up to `h` (status `Padded`).
    RepeatLast,
}

/// The numbers read from a text, scaled (as written).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadValues {
    pub values: Vec<f64>,
    /// Whether reading stopped on a malformed value (see the module docs).
    pub malformed: bool,
    /// Whether the text held nothing but whitespace.
    pub blank: bool,
}

/// A parsed forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedForecast {
    /// Exactly `h` values in the series' units, when parsing succeeded.
    pub values: Option<Vec<f64>>,
    pub status: ParseStatus,
    /// How many numbers the text held (before truncation or padding).
    pub found: usize,
}

/// A number at the start of `s`: (digits as f64, negative, bytes used).
fn number_at(s: &str, bit_sep: &str) -> Option<(f64, bool, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    let negative = b.first() == Some(&b'-');
    if negative {
        i = 1;
        if !bit_sep.is_empty() && s[i..].starts_with(bit_sep) && s[i + bit_sep.len()..].starts_with(|c: char| c.is_ascii_digit()) {
            i += bit_sep.len();
        }
    }
    let mut digits = String::new();
    loop {
        if i < b.len() && b[i].is_ascii_digit() {
            digits.push(b[i] as char);
            i += 1;
        } else if !bit_sep.is_empty()
            && !digits.is_empty()
            && s[i..].starts_with(bit_sep)
            && s[i + bit_sep.len()..].starts_with(|c: char| c.is_ascii_digit())
        {
            i += bit_sep.len();
        } else {
            break;
        }
    }
    if digits.is_empty() {
        return None;
    }
    let v: f64 = digits.parse().ok()?;
    Some((v, negative, i))
}

/// Reads the numbers of `text` (see the module docs), as scaled values.
pub fn read_values(text: &str, opts: &LlmTimeOptions) -> ReadValues {
    let sep = opts.time_sep.trim();
    let bit = if opts.bit_sep.trim().is_empty() && sep.is_empty() { "" } else { opts.bit_sep.as_str() };
    let blank = text.trim().is_empty();
    let start = text.char_indices().map(|(i, _)| i).find(|&i| number_at(&text[i..], bit).is_some());
    let Some(mut pos) = start else {
        return ReadValues { values: Vec::new(), malformed: !blank, blank };
    };
    let mut values = Vec::new();
    while let Some((digits, negative, used)) = number_at(&text[pos..], bit) {
        values.push(decode_digits(digits, negative, opts));
        pos += used;
        let after = &text[pos..];
        let trimmed = after.trim_start();
        let next =
            if sep.is_empty() { (trimmed.len() < after.len()).then_some(trimmed) } else { trimmed.strip_prefix(sep).map(str::trim_start) };
        match next {
            Some(n) if number_at(n, bit).is_some() => pos = text.len() - n.len(),
            _ => break,
        }
    }
    let rest = &text[pos..];
    let trimmed = rest.trim_start();
    let glued = !rest.is_empty() && !rest.starts_with(char::is_whitespace) && (sep.is_empty() || !rest.starts_with(sep));
    let sep_then_garbage = !sep.is_empty() && trimmed.strip_prefix(sep).is_some_and(|r| !r.trim().is_empty());
    ReadValues { values, malformed: glued || sep_then_garbage, blank }
}

/// Parses a continuation into exactly `horizon` values in the series' units.
pub fn parse_forecast(text: &str, horizon: usize, scaler: &Scaler, opts: &LlmTimeOptions, too_few: TooFewPolicy) -> ParsedForecast {
    let read = read_values(text, opts);
    let found = read.values.len();
    let unscaled = |v: &[f64]| v.iter().map(|&x| scaler.unscale(x)).collect::<Vec<f64>>();
    if found == 0 {
        let status = if read.blank { ParseStatus::NoAnswer } else { ParseStatus::Unparsable };
        return ParsedForecast { values: None, status, found };
    }
    if found >= horizon {
        let status = if found > horizon { ParseStatus::Truncated } else { ParseStatus::Ok };
        return ParsedForecast { values: Some(unscaled(&read.values[..horizon])), status, found };
    }
    if read.malformed {
        return ParsedForecast { values: None, status: ParseStatus::Unparsable, found };
    }
    match too_few {
        TooFewPolicy::Fail => ParsedForecast { values: None, status: ParseStatus::TooFew, found },
        TooFewPolicy::RepeatLast => {
            let mut v = read.values;
            let last = v[found - 1];
            v.resize(horizon, last);
            ParsedForecast { values: Some(unscaled(&v)), status: ParseStatus::Padded, found }
        }
    }
}
