//! Deterministic sample selection.
//!
//! Without stratification, `n` samples are drawn from the whole dataset.
//! With a key (`frequency`/`period`, `category` or `label`), groups are
//! formed in order of their first sample in the dataset; each gets ⌊n/g⌋
//! samples and the first n mod g groups one more; where a group has too few
//! samples, its shortfall goes to the groups that still have some, one at a
//! time in group order. Within a group the samples are drawn by a partial
//! Fisher–Yates shuffle driven by ChaCha20 seeded with `seed` (one stream
//! for the whole selection, groups in order), with unbiased bounded draws
//! by rejection, so the result depends on nothing but the dataset order,
//! `n`, `seed` and the key. The selected samples are returned in dataset order.
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use super::error::TaskError;
use super::sample::Sample;

/// The stratification keys, for error messages.
pub const STRATIFY_KEYS: &str = "frequency (or period) and category for forecasting; label for activity recognition";

/// Selected samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// Indices into the dataset's samples, ascending.
    pub indices: Vec<usize>,
    /// Their ids, in the same order.
    pub ids: Vec<String>,
}

/// A uniform draw from 0..bound (bound ≥ 1).
fn below(rng: &mut ChaCha20Rng, bound: u64) -> u64 {
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let v = rng.next_u64();
        if v < zone {
            return v % bound;
        }
    }
}

/// Selects `n` of `samples` (see the module docs).
pub fn select(samples: &[Sample], n: usize, seed: u64, stratify_by: Option<&str>) -> Result<Selection, TaskError> {
    if n == 0 {
        return Err(TaskError::Selection("the number of samples must be at least 1".into()));
    }
    if n > samples.len() {
        return Err(TaskError::Selection(format!("{n} samples asked but the dataset holds {}", samples.len())));
    }
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    match stratify_by {
        None => groups.push((String::new(), (0..samples.len()).collect())),
        Some(key) => {
            let key = key.trim().to_ascii_lowercase();
            for (i, s) in samples.iter().enumerate() {
                let g = s.group(&key).ok_or_else(|| {
                    TaskError::Selection(format!("sample `{}` has no `{key}` to stratify by; valid keys: {STRATIFY_KEYS}", s.id()))
                })?;
                match groups.iter_mut().find(|(name, _)| name == g) {
                    Some((_, members)) => members.push(i),
                    None => groups.push((g.to_string(), vec![i])),
                }
            }
        }
    }
    let g = groups.len();
    let mut quota: Vec<usize> = (0..g).map(|k| n / g + usize::from(k < n % g)).collect();
    let mut short = 0;
    for (q, (_, members)) in quota.iter_mut().zip(&groups) {
        if *q > members.len() {
            short += *q - members.len();
            *q = members.len();
        }
    }
    while short > 0 {
        for (q, (_, members)) in quota.iter_mut().zip(&groups) {
            if short > 0 && *q < members.len() {
                *q += 1;
                short -= 1;
            }
        }
    }
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut indices = Vec::with_capacity(n);
    for (q, (_, members)) in quota.iter().zip(groups) {
        let mut pool = members;
        let len = pool.len();
        for k in 0..*q {
            let j = k + below(&mut rng, (len - k) as u64) as usize;
            pool.swap(k, j);
        }
        indices.extend_from_slice(&pool[..*q]);
    }
    indices.sort_unstable();
    let ids = indices.iter().map(|&i| samples[i].id().to_string()).collect();
    Ok(Selection { indices, ids })
}
