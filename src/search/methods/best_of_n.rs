//! Best-of-N: i.i.d. draws from q, all rows in one batch.

use super::super::config::{BestOfNConfig, BonOutput, MethodConfig, SearchConfig};
use super::super::context::{output_rng, stream_rng, Ctx, RolloutJob};
use super::super::error::{config_err, SearchError};
use super::super::lm::{Evaluator, LanguageModel};
use super::super::lme::{boltzmann_choice, Choice};
use super::super::tree::{Tree, ROOT};
use super::super::{Method, SearchInput, SearchOutcome};
use super::common::{best_found, outcome};

/// Rows per wave in token-matched mode when neither `num_rollouts` nor
/// `parallel_rollouts` gives a width.
const DEFAULT_WAVE: usize = 16;

/// Best-of-N and its token-matched and resampling variants.
///
/// Draw i always uses sub-stream i, so the sequences do not depend on how
/// rows are batched. With a token budget (the budget passed in
/// [`SearchInput::token_budget`], capped by `max_tokens_generated`),
/// sequences are decoded in waves of `num_rollouts` rows and kept in draw
/// order until their cumulative length first reaches the budget (a budget
/// from `max_tokens_generated` alone also stops at `num_rollouts`
/// sequences; a token-matched one does not); the rest of the last wave is discarded: it is not
/// evaluated, not in E and not in `rollouts` or `tokens_generated`, while
/// `nfe`, `forward_rows` and `tokens_forwarded` keep the compute it used.
pub struct BestOfN {
    config: SearchConfig,
}

impl BestOfN {
    pub fn new(config: SearchConfig) -> BestOfN {
        BestOfN { config }
    }

    fn bon(&self) -> Result<&BestOfNConfig, SearchError> {
        match &self.config.method {
            MethodConfig::BestOfN(b) => Ok(b),
            _ => Err(config_err("BestOfN run with another method's config")),
        }
    }
}

impl Method for BestOfN {
    fn config(&self) -> &SearchConfig {
        &self.config
    }

    fn search(
        &self,
        model: &mut dyn LanguageModel,
        evaluator: &mut dyn Evaluator,
        input: &SearchInput<'_>,
    ) -> Result<SearchOutcome, SearchError> {
        let bon = self.bon()?;
        let matched = match &bon.token_budget_from {
            Some(from) => Some(input.token_budget.ok_or_else(|| SearchError::MissingTokenBudget(from.clone()))?),
            None => None,
        };
        let budget = match (matched, self.config.max_tokens_generated) {
            (Some(g), Some(c)) => Some(g.min(c)),
            (g, c) => g.or(c),
        };
        let seed = self.config.seed;
        let mut tree = Tree::new();
        let mut ctx = Ctx::start(model, evaluator, &self.config, input.prompt, &mut tree)?;
        let job = |i: u64| RolloutJob { start: ROOT, materialise: false, fresh: false, iteration: i, rng: stream_rng(seed, i, 0) };
        match budget {
            None => {
                let n = bon.n.unwrap_or(1) as u64;
                ctx.rollouts(&mut tree, (0..n).map(job).collect(), None)?;
                ctx.counters.iterations = n;
            }
            Some(g) => {
                let wave = bon.n.unwrap_or(if self.config.parallel_rollouts > 1 { self.config.parallel_rollouts } else { DEFAULT_WAVE });
                let max_n = match matched {
                    Some(_) => u64::MAX,
                    None => bon.n.map_or(u64::MAX, |n| n as u64),
                };
                let mut next = 0u64;
                let mut total = 0u64;
                while total < g && next < max_n {
                    let width = (wave as u64).min(max_n - next);
                    let decoded = ctx.decode(&mut tree, (next..next + width).map(job).collect(), None)?;
                    let mut keep = Vec::new();
                    for d in decoded {
                        if total < g {
                            total += d.tokens.len() as u64;
                            keep.push(d);
                        } else {
                            ctx.counters.tokens_generated -= (d.tokens.len() as u64).min(ctx.counters.tokens_generated);
                        }
                    }
                    next += keep.len() as u64;
                    ctx.evaluate(&mut tree, keep)?;
                    if width == 0 {
                        break;
                    }
                }
                ctx.counters.iterations = next;
            }
        }
        let chosen = match bon.output {
            BonOutput::BestFound => best_found(&ctx)?,
            BonOutput::Resample(tilt) => {
                let options: Vec<Choice> = ctx
                    .evaluated
                    .entries()
                    .iter()
                    .enumerate()
                    .map(|(i, e)| Choice { weight: 1.0, value: e.reward, token: i as u32 })
                    .collect();
                boltzmann_choice(tilt, &options, &mut output_rng(seed))
                    .ok_or_else(|| SearchError::Internal("nothing to resample".into()))?
            }
        };
        outcome(&mut ctx, chosen, None)
    }
}
