//! Constrained decoding of the tasks' answers: which tokens a reply may
//! hold next, so that every reply can be read back.
//!
//! - Forecasting ([`numeric`]): exactly `h` values in the prompt's LLMTime
//!   form (digits, the separators, `-` where the series has negatives).
//! - Activity recognition ([`label`]): `Answer: <label>` over the dataset's
//!   label set, after optional free reasoning.
//!
//! The constraints work on the text of each token ([`TokenTexts`]), so any
//! tokenizer works; a label set or horizon the vocabulary and the budget
//! cannot express is an error before any search starts.
pub mod label;
pub mod numeric;
pub mod vocab;

use std::sync::Arc;

pub use vocab::TokenTexts;

use super::forecast::llmtime::{encode_value, Scaler};
use super::sample::{PromptOptions, Sample};
use crate::search::Constraint;

/// Why a sample's answer cannot be constrained as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// `h` values do not fit the generation budget.
    #[error(
        "sample {sample}: {horizon} values need at least {needed} tokens (each as short as the shortest in the history, {example:?}) but max_new_tokens is {budget}"
    )]
    Horizon { sample: String, horizon: usize, needed: usize, example: String, budget: usize },
    /// The vocabulary cannot write the values, or the separators cannot
    /// delimit them.
    #[error("sample {sample}: {message}")]
    Values { sample: String, message: String },
    /// The label set cannot be answered under the constraint.
    #[error("{0}")]
    Labels(String),
    /// `Answer: <label>` does not fit the generation budget.
    #[error("{0}")]
    LabelBudget(String),
}

/// What a user changes to lift a [`ConstraintError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintFix {
    /// The method's `max_new_tokens`.
    MaxNewTokens,
    /// The dataset's `serialization`.
    Serialization,
    /// The label set in the data file.
    LabelSet,
}

impl ConstraintError {
    /// What would lift the error (besides `constrain: false`).
    pub fn fix(&self) -> ConstraintFix {
        match self {
            ConstraintError::Horizon { .. } | ConstraintError::LabelBudget(_) => ConstraintFix::MaxNewTokens,
            ConstraintError::Values { .. } => ConstraintFix::Serialization,
            ConstraintError::Labels(_) => ConstraintFix::LabelSet,
        }
    }
}

/// A sample's answer constraint, of its concrete kind.
enum Built {
    Values(numeric::ValuesConstraint),
    Label(label::LabelAnswer),
}

/// The constraint of `sample`'s answer under `opts` (`None` when
/// constrained decoding is off), for a vocabulary and a budget of
/// `max_new_tokens`.
pub fn answer_constraint(
    sample: &Sample,
    opts: &PromptOptions,
    texts: &Arc<TokenTexts>,
    max_new_tokens: usize,
) -> Result<Option<Constraint>, ConstraintError> {
    Ok(build(sample, opts, texts, max_new_tokens)?.map(|b| match b {
        Built::Values(c) => Constraint::new(c),
        Built::Label(c) => Constraint::new(c),
    }))
}

/// The most tokens an answer of `sample` can take under its constraint
/// (the stop token included), or `None` when nothing bounds it below
/// `max_new_tokens` (constrained decoding off, or free reasoning first).
/// The same errors as [`answer_constraint`].
pub fn answer_token_bound(
    sample: &Sample,
    opts: &PromptOptions,
    texts: &Arc<TokenTexts>,
    max_new_tokens: usize,
) -> Result<Option<usize>, ConstraintError> {
    Ok(build(sample, opts, texts, max_new_tokens)?.and_then(|b| match b {
        Built::Values(c) => Some(c.grammar().max_tokens()),
        Built::Label(c) => c.max_tokens(),
    }))
}

fn build(sample: &Sample, opts: &PromptOptions, texts: &Arc<TokenTexts>, max_new_tokens: usize) -> Result<Option<Built>, ConstraintError> {
    if !opts.constrain {
        return Ok(None);
    }
    match sample {
        Sample::Forecast(s) => {
            let shown = s.shown(opts.history);
            let llm = &opts.llmtime;
            let scaler = Scaler::fit(shown, llm.alpha, llm.beta);
            let written: Vec<String> = shown.iter().map(|&x| encode_value(scaler.scale(x), llm)).collect();
            let width = |v: &String| v.chars().filter(char::is_ascii_digit).count();
            let max_digits = written.iter().map(width).max().unwrap_or(1) + 1;
            let negatives = s.history.iter().any(|&x| x < 0.0);
            let values_err = |message: String| ConstraintError::Values { sample: s.id.clone(), message };
            let grammar = numeric::ValuesGrammar::new(s.horizon(), &llm.bit_sep, &llm.time_sep, negatives, max_digits).ok_or_else(|| {
                values_err(format!(
                    "a horizon of {} with bit_sep {:?} and time_sep {:?} cannot be constrained (the horizon must be >= 1 and the separators free of digits and '-', time_sep not empty)",
                    s.horizon(),
                    llm.bit_sep,
                    llm.time_sep
                ))
            })?;
            let constraint = numeric::ValuesConstraint::new(grammar, texts.clone());
            let example = written.iter().min_by_key(|v| (v.len(), v.as_str())).cloned().unwrap_or_else(|| "0".into());
            let all = vec![example.clone(); s.horizon()].join(&llm.time_sep);
            let needed = constraint.fewest_tokens(&all).ok_or_else(|| values_err(format!("the model's tokens cannot write {all:?}")))?;
            if needed > max_new_tokens {
                return Err(ConstraintError::Horizon {
                    sample: s.id.clone(),
                    horizon: s.horizon(),
                    needed,
                    example,
                    budget: max_new_tokens,
                });
            }
            Ok(Some(Built::Values(constraint)))
        }
        Sample::Activity(c) => {
            let answer = label::LabelAnswer::new(&c.labels, texts.clone(), opts.reasoning, max_new_tokens).map_err(|e| match e {
                label::LabelSetError::Labels(m) => ConstraintError::Labels(m),
                label::LabelSetError::Budget(m) => ConstraintError::LabelBudget(m),
            })?;
            Ok(Some(Built::Label(answer)))
        }
    }
}
