//! Greedy decoding: per-step argmax until terminal.

use super::super::config::SearchConfig;
use super::super::context::{stream_rng, Ctx, RolloutJob};
use super::super::error::SearchError;
use super::super::lm::{Evaluator, LanguageModel};
use super::super::proposal::ProposalParams;
use super::super::tree::{Tree, ROOT};
use super::super::{Method, SearchInput, SearchOutcome};
use super::common::outcome;

/// Greedy decoding. Ignores τ, top-k and top-p.
pub struct Greedy {
    config: SearchConfig,
}

impl Greedy {
    pub fn new(mut config: SearchConfig) -> Greedy {
        config.proposal = ProposalParams::GREEDY;
        Greedy { config }
    }
}

impl Method for Greedy {
    fn config(&self) -> &SearchConfig {
        &self.config
    }

    fn search(
        &self,
        model: &mut dyn LanguageModel,
        evaluator: &mut dyn Evaluator,
        input: &SearchInput<'_>,
    ) -> Result<SearchOutcome, SearchError> {
        let mut tree = Tree::new();
        let mut ctx = Ctx::start(model, evaluator, &self.config, input.prompt, &mut tree)?;
        let job = RolloutJob { start: ROOT, materialise: false, fresh: false, iteration: 0, rng: stream_rng(self.config.seed, 0, 0) };
        let done = ctx.rollouts(&mut tree, vec![job], None)?;
        ctx.counters.iterations = 1;
        let entry = done.first().map(|d| d.entry).ok_or_else(|| SearchError::Internal("greedy produced nothing".into()))?;
        outcome(&mut ctx, entry, None)
    }
}
