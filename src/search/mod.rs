//! Token-level search methods (docs/algorithms.md): greedy, best-of-N, MCTS,
//! DTS, DTS* and MaxEnt-TS over one token tree.
//!
//! A search talks to a [`LanguageModel`] (the engine's sequence API) and
//! an [`Evaluator`] (decode + reward) and returns a [`SearchOutcome`]
//! whose output is always an element of the evaluated set E.
//!
//! ```text
//! let cfg = SearchConfig::from_params(kind, &params, stop_tokens, seed)?;
//! let outcome = method_for(cfg).search(&mut model, &mut evaluator, &SearchInput::new(&prompt))?;
//! ```

pub mod config;
pub mod constraint;
pub mod counters;
pub mod error;
pub mod evaluated;
pub mod lm;
pub mod lme;
pub mod methods;
pub mod proposal;
pub mod stop;
pub mod toy;
pub mod tree;

mod context;
mod kv;

use serde::{Deserialize, Serialize};

pub use config::{BestOfNConfig, BonOutput, DtsConfig, MctsConfig, MethodConfig, SearchConfig, SoftSelection, TopKConfig, TreeOutput};
pub use constraint::{Allowed, Constraint, TokenConstraint};
pub use counters::{Counters, TreeStats};
pub use error::SearchError;
pub use evaluated::Evaluated;
pub use lm::{Evaluation, Evaluator, LanguageModel, SeqHandle};
pub use lme::Tilt;
pub use methods::{method_for, BestOfN, Dts, Greedy, MaxEntTs, Mcts};
pub use stop::{StopPredicate, StopRule};

use crate::spec::MethodKind;

/// What one search is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct SearchInput<'a> {
    /// Prompt token ids (chat template already applied).
    pub prompt: &'a [u32],
    /// Token-matched best-of-N: the `tokens_generated` of the tree method
    /// named by `token_budget_from`, on the same sample.
    pub token_budget: Option<u64>,
}

impl<'a> SearchInput<'a> {
    pub fn new(prompt: &'a [u32]) -> SearchInput<'a> {
        SearchInput { prompt, token_budget: None }
    }

    pub fn with_token_budget(mut self, budget: u64) -> SearchInput<'a> {
        self.token_budget = Some(budget);
        self
    }
}

/// The result of one search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchOutcome {
    pub method: MethodKind,
    /// The returned sequence: an element of E, evaluated on exactly its text.
    pub output: Evaluated,
    /// |E|.
    pub evaluated_count: usize,
    /// E itself, in completion order (not written by the store).
    #[serde(skip)]
    pub evaluated: Vec<Evaluated>,
    pub counters: Counters,
    /// Absent for greedy and best-of-N.
    pub tree: Option<TreeStats>,
}

/// A search method.
pub trait Method {
    fn config(&self) -> &SearchConfig;
    /// Runs the search for one prompt.
    fn search(
        &self,
        model: &mut dyn LanguageModel,
        evaluator: &mut dyn Evaluator,
        input: &SearchInput<'_>,
    ) -> Result<SearchOutcome, SearchError>;
}
