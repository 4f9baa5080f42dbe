//! Soft backups and Boltzmann choices, with λ = 0 and λ = ∞ as their own
//! code paths.

use rand_chacha::ChaCha20Rng;

use super::proposal::gumbel;
use crate::spec::Lambda;

/// The tilt λ of a soft method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tilt {
    /// λ = 0: weighted mean backup, choices ∝ weight.
    Mean,
    /// 0 < λ < ∞: log-mean-exp backup, choices ∝ w·exp(λ v).
    Soft(f64),
    /// λ = ∞: max backup, argmax choices.
    Max,
}

impl Tilt {
    pub fn from_lambda(lambda: Lambda) -> Tilt {
        if lambda.is_infinite() {
            Tilt::Max
        } else if lambda.value() == 0.0 {
            Tilt::Mean
        } else {
            Tilt::Soft(lambda.value())
        }
    }
}

/// One option of a choice: its (unnormalised) weight, value and token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    pub weight: f64,
    pub value: f64,
    pub token: u32,
}

/// `(1/λ)·log Σ w̄_i e^{λ v_i}` with `w̄ = w / Σ w`, over entries with positive
/// weight (zero weights are skipped, never read as a value). `None` when no
/// entry has positive weight. A single entry returns its value unchanged.
pub fn soft_value(tilt: Tilt, entries: &[(f64, f64)]) -> Option<f64> {
    let mut live = entries.iter().filter(|(w, _)| *w > 0.0);
    let first = *live.next()?;
    if live.next().is_none() {
        return Some(first.1);
    }
    let live = entries.iter().filter(|(w, _)| *w > 0.0);
    match tilt {
        Tilt::Max => live.map(|(_, v)| *v).reduce(f64::max),
        Tilt::Mean => {
            let (sw, swv) = live.fold((0.0, 0.0), |(a, b), (w, v)| (a + w, b + w * v));
            Some(swv / sw)
        }
        Tilt::Soft(lambda) => {
            let m = live.clone().map(|(w, v)| w.ln() + lambda * v).fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = live.clone().map(|(w, v)| (w.ln() + lambda * v - m).exp()).sum();
            let total: f64 = live.map(|(w, _)| *w).sum();
            Some((m + s.ln() - total.ln()) / lambda)
        }
    }
}

/// Better of two options on equal score: larger weight, then smaller token.
fn wins_tie(a: &Choice, b: &Choice) -> bool {
    a.weight > b.weight || (a.weight == b.weight && a.token < b.token)
}

/// Index of the option with the largest `key`, ties by [`wins_tie`].
pub fn argmax_by(options: &[Choice], key: impl Fn(usize, &Choice) -> f64) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in options.iter().enumerate() {
        if c.weight <= 0.0 {
            continue;
        }
        let k = key(i, c);
        best = match best {
            None => Some((i, k)),
            Some((j, bk)) if k > bk || (k == bk && wins_tie(c, &options[j])) => Some((i, k)),
            keep => keep,
        };
    }
    best.map(|(i, _)| i)
}

/// A draw `i ∝ w_i·exp(λ v_i)` by Gumbel-max in f64 (λ = 0: `∝ w_i`;
/// λ = ∞: the largest value, no randomness). One Gumbel variate is drawn
/// per option, in slice order, whatever the weights.
pub fn boltzmann_choice(tilt: Tilt, options: &[Choice], rng: &mut ChaCha20Rng) -> Option<usize> {
    match tilt {
        Tilt::Max => argmax_by(options, |_, c| c.value),
        Tilt::Mean | Tilt::Soft(_) => {
            let g: Vec<f64> = options.iter().map(|_| gumbel(rng)).collect();
            let lambda = if let Tilt::Soft(l) = tilt { l } else { 0.0 };
            argmax_by(options, |i, c| {
                let tilt_term = if lambda == 0.0 { 0.0 } else { lambda * c.value };
                c.weight.ln() + tilt_term + g[i]
            })
        }
    }
}

/// The probabilities with which [`boltzmann_choice`] picks each option
/// (λ = ∞: all mass on the deterministic winner).
pub fn choice_probs(tilt: Tilt, options: &[Choice]) -> Vec<f64> {
    let mut out = vec![0.0; options.len()];
    match tilt {
        Tilt::Max => {
            if let Some(i) = argmax_by(options, |_, c| c.value) {
                out[i] = 1.0;
            }
        }
        Tilt::Mean => {
            let total: f64 = options.iter().filter(|c| c.weight > 0.0).map(|c| c.weight).sum();
            for (o, c) in out.iter_mut().zip(options) {
                if c.weight > 0.0 {
                    *o = c.weight / total;
                }
            }
        }
        Tilt::Soft(lambda) => {
            let keys: Vec<f64> =
                options.iter().map(|c| if c.weight > 0.0 { c.weight.ln() + lambda * c.value } else { f64::NEG_INFINITY }).collect();
            let m = keys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = keys.iter().map(|k| (k - m).exp()).sum();
            for (o, k) in out.iter_mut().zip(&keys) {
                *o = (k - m).exp() / s;
            }
        }
    }
    out
}
