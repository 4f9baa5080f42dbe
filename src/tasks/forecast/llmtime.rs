//! LLMTime serialization (Gruver et al., 2023).
//!
//! A history is scaled by `offset = min − β·(max − min)` and
//! `scale = q_α(x − offset)` (the α-quantile, linear interpolation as
//! numpy's default; a scale of 0 becomes 1), so every history value maps to
//! a positive number of order 1. Each scaled value is rounded to `precision`
//! decimals and written without the decimal point and without leading
//! zeros (`0.523` → `523`, `1.04` → `1040`, `0` → `0`), with a leading `-`
//! for negative values (which only a continuation can produce). Digits are
//! joined by `bit_sep`, time steps by `time_sep`.
use serde::{Deserialize, Serialize};

use crate::spec::SerializationSpec;

/// How a series is written as text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmTimeOptions {
    /// Quantile of `x − offset` that becomes 1 (default 0.95).
    pub alpha: f64,
    /// Offset below the minimum, as a share of the range (default 0.3).
    pub beta: f64,
    /// Decimals kept of each scaled value (default 3; at most 9).
    pub precision: u32,
    /// Between the digits of one value (default "").
    pub bit_sep: String,
    /// Between time steps (default ", ").
    pub time_sep: String,
}

impl Default for LlmTimeOptions {
    /// The settings for tokenizers that split digits one per token
    /// (SmolLM2; Llama 3 merges digits: see `merged_digits`).
    fn default() -> Self {
        LlmTimeOptions { alpha: 0.95, beta: 0.3, precision: 3, bit_sep: String::new(), time_sep: ", ".to_string() }
    }
}

impl LlmTimeOptions {
    /// The settings for tokenizers that merge digits: `bit_sep = " "`,
    /// `time_sep = " ,"`.
    pub fn merged_digits() -> Self {
        LlmTimeOptions { bit_sep: " ".to_string(), time_sep: " ,".to_string(), ..Self::default() }
    }

    /// These options with the fields an experiment file sets replaced.
    pub fn overridden(mut self, s: &SerializationSpec) -> Self {
        self.alpha = s.alpha.unwrap_or(self.alpha);
        self.beta = s.beta.unwrap_or(self.beta);
        self.precision = s.precision.unwrap_or(self.precision);
        if let Some(b) = &s.bit_sep {
            self.bit_sep = b.clone();
        }
        if let Some(t) = &s.time_sep {
            self.time_sep = t.clone();
        }
        self
    }

    pub(crate) fn precision(&self) -> u32 {
        self.precision.min(9)
    }
}

/// The affine map between a series and its text: `scaled = (x − offset) / scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scaler {
    pub offset: f64,
    pub scale: f64,
}

impl Scaler {
    /// The scaler of `history` (an empty or non-finite history gives the identity).
    pub fn fit(history: &[f64], alpha: f64, beta: f64) -> Scaler {
        let mut v: Vec<f64> = history.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Scaler { offset: 0.0, scale: 1.0 };
        }
        v.sort_by(f64::total_cmp);
        let (min, max) = (v[0], v[v.len() - 1]);
        let offset = min - beta * (max - min);
        let shifted: Vec<f64> = v.iter().map(|x| x - offset).collect();
        let q = quantile_sorted(&shifted, alpha);
        let scale = if q.is_finite() && q > 0.0 { q } else { 1.0 };
        let offset = if offset.is_finite() { offset } else { 0.0 };
        Scaler { offset, scale }
    }

    pub fn scale(&self, x: f64) -> f64 {
        (x - self.offset) / self.scale
    }

    pub fn unscale(&self, scaled: f64) -> f64 {
        scaled * self.scale + self.offset
    }
}

/// The `q`-quantile of sorted values, interpolating linearly between the
/// order statistics (numpy's default); `q` is clamped to [0, 1].
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = pos - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Writes one scaled value: rounded to `precision` decimals, without the
/// decimal point and leading zeros, digits joined by `bit_sep`.
pub fn encode_value(scaled: f64, opts: &LlmTimeOptions) -> String {
    let factor = 10f64.powi(opts.precision() as i32);
    let n = (scaled * factor).round();
    let n = if n.is_finite() { n } else { 0.0 };
    // Exact for |n| < 2^53; `{:.0}` never uses an exponent.
    let digits = format!("{:.0}", n.abs());
    let joined = if opts.bit_sep.is_empty() { digits } else { digits.chars().map(String::from).collect::<Vec<_>>().join(&opts.bit_sep) };
    if n < 0.0 {
        format!("-{joined}")
    } else {
        joined
    }
}

/// Reads back the scaled value of written digits: `digits / 10^precision`.
pub fn decode_digits(digits: f64, negative: bool, opts: &LlmTimeOptions) -> f64 {
    let v = digits / 10f64.powi(opts.precision() as i32);
    if negative {
        -v
    } else {
        v
    }
}

/// The text of `history` and the scaler that produced it.
pub fn serialize(history: &[f64], opts: &LlmTimeOptions) -> (String, Scaler) {
    let scaler = Scaler::fit(history, opts.alpha, opts.beta);
    let text = history.iter().map(|&x| encode_value(scaler.scale(x), opts)).collect::<Vec<_>>().join(&opts.time_sep);
    (text, scaler)
}
