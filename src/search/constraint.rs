//! Constrained decoding: which tokens may come next, as a pure function of
//! the tokens generated so far.
//!
//! A constraint masks each freshly computed row of log-probabilities before
//! the proposal is formed, so q(·|s) is `softmax(z/τ)` over the allowed
//! tokens only, renormalised (then top-k and top-p as usual). Every method
//! samples from, expands with and weighs by that one masked proposal, so
//! tree priors, soft values and counters refer to the distribution actually
//! sampled and the invariants of docs/algorithms.md §6 hold with `q` read
//! as the masked proposal. A constraint also says when a sequence is
//! complete; that test joins the stop rule.

use std::fmt;
use std::sync::Arc;

use super::error::SearchError;

/// The tokens allowed at one position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Every token.
    All,
    /// Only these token ids.
    Only(Vec<u32>),
    /// Every token but these ids.
    AllBut(Vec<u32>),
}

/// A decoding constraint of a task.
pub trait TokenConstraint: Send + Sync {
    /// The tokens that may follow `generated` (the prompt excluded).
    fn allowed(&self, generated: &[u32]) -> Allowed;
    /// Whether `generated` is a finished answer: no token may follow.
    fn is_complete(&self, generated: &[u32]) -> bool;
    /// A short description for records and errors.
    fn describe(&self) -> String;
}

/// A shared constraint.
#[derive(Clone)]
pub struct Constraint(pub Arc<dyn TokenConstraint>);

impl Constraint {
    pub fn new(c: impl TokenConstraint + 'static) -> Constraint {
        Constraint(Arc::new(c))
    }

    /// Sets every disallowed entry of `row` (the log-probabilities after
    /// `generated`) to −∞. An error when no allowed token has a finite
    /// log-probability: the constraint and the model leave nothing to draw.
    pub fn mask(&self, generated: &[u32], row: &mut [f32]) -> Result<(), SearchError> {
        match self.0.allowed(generated) {
            Allowed::All => {}
            Allowed::AllBut(ids) => {
                for id in ids {
                    if let Some(x) = row.get_mut(id as usize) {
                        *x = f32::NEG_INFINITY;
                    }
                }
            }
            Allowed::Only(ids) => {
                let mut keep: Vec<(usize, f32)> = Vec::with_capacity(ids.len());
                for id in ids {
                    if let Some(&x) = row.get(id as usize) {
                        keep.push((id as usize, x));
                    }
                }
                row.fill(f32::NEG_INFINITY);
                for (i, x) in keep {
                    row[i] = x;
                }
            }
        }
        if row.iter().any(|x| x.is_finite()) {
            Ok(())
        } else {
            Err(SearchError::ModelOutput(format!(
                "the constraint ({}) allows no token after {} generated tokens",
                self.0.describe(),
                generated.len()
            )))
        }
    }
}

impl fmt::Debug for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Constraint({})", self.0.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct EvenOnly;
    impl TokenConstraint for EvenOnly {
        fn allowed(&self, generated: &[u32]) -> Allowed {
            if generated.is_empty() {
                Allowed::Only(vec![0, 2])
            } else {
                Allowed::AllBut(vec![1])
            }
        }
        fn is_complete(&self, generated: &[u32]) -> bool {
            generated.len() >= 2
        }
        fn describe(&self) -> String {
            "even".into()
        }
    }

    #[test]
    fn masking_keeps_only_the_allowed_entries() {
        let c = Constraint::new(EvenOnly);
        let mut row = vec![-1.0f32, -2.0, -3.0, -4.0];
        c.mask(&[], &mut row).unwrap();
        assert_eq!(row, vec![-1.0, f32::NEG_INFINITY, -3.0, f32::NEG_INFINITY]);
        let mut row = vec![-1.0f32, -2.0, -3.0];
        c.mask(&[0], &mut row).unwrap();
        assert_eq!(row, vec![-1.0, f32::NEG_INFINITY, -3.0]);
    }

    #[test]
    fn a_mask_that_leaves_nothing_is_an_error() {
        let c = Constraint::new(EvenOnly);
        // Tokens 0 and 2 are allowed, and the model gives both −∞.
        let mut row = vec![f32::NEG_INFINITY, -2.0, f32::NEG_INFINITY];
        assert!(c.mask(&[], &mut row).is_err());
    }
}
