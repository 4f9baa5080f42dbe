//! One sample end to end: the task's prompt (fitted to the model's
//! context, in the dataset's prompt mode), the search on the engine under
//! the task's decoding constraint, the score of the returned text, the
//! record.

use std::sync::Arc;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::engine_lm::EngineLm;
use super::evaluator::TaskEvaluator;
use super::prompt::fit_prompt;
use super::record::{Identity, SampleRecord};
use super::EvaluateError;
use crate::engine::service::Session;
use crate::engine::tokenizer::TextTokenizer;
use crate::search::{method_for, SearchConfig, SearchInput, SearchOutcome};
use crate::tasks::constrain::{answer_constraint, TokenTexts};
use crate::tasks::{Sample, Task};

/// The search seed of the sample at `index` of a run seeded `run_seed`:
/// distinct per sample, fixed by the two numbers (SplitMix64 of both).
pub fn sample_seed(run_seed: u64, index: usize) -> u64 {
    let mut z = run_seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What one sample needs besides the engine session.
pub struct SampleJob<'a> {
    pub tokenizer: &'a TextTokenizer,
    /// The text of every token, for the answer constraint.
    pub texts: &'a Arc<TokenTexts>,
    /// The model's context length, when it declares one.
    pub context: Option<usize>,
    pub task: &'a Task,
    pub sample: &'a Sample,
    pub index: usize,
    /// The method's configuration; its seed is replaced by the sample's.
    pub config: SearchConfig,
    pub run_seed: u64,
    /// Token-matched best-of-N budget, when the method asks for one.
    pub token_budget: Option<u64>,
    pub identity: &'a Identity,
}

/// Runs the search for one sample and scores its output.
pub fn evaluate_sample(session: &Session, job: SampleJob<'_>) -> Result<(SampleRecord, SearchOutcome), EvaluateError> {
    let start = Instant::now();
    let max_new = job.config.stop.max_new_tokens;
    let fitted = fit_prompt(job.tokenizer, job.sample, &job.task.prompt, job.context, max_new)?;
    let prompt = &fitted.rendered;
    let seed = sample_seed(job.run_seed, job.index);
    let mut config = job.config;
    config.seed = seed;
    let constraint = answer_constraint(job.sample, &fitted.options, job.texts, max_new)?;
    let constraint_label = constraint.as_ref().map(|c| c.0.describe());
    if let Some(c) = constraint {
        config = config.with_constraint(c);
    }
    let method = method_for(config);
    let mut lm = EngineLm::new(session);
    let mut evaluator = TaskEvaluator { tokenizer: job.tokenizer, task: job.task, sample: job.sample, prompt: &fitted.options };
    let mut input = SearchInput::new(&prompt.tokens);
    if let Some(b) = job.token_budget {
        input = input.with_token_budget(b);
    }
    let outcome = method.search(&mut lm, &mut evaluator, &input)?;
    drop(lm);
    let scored = evaluator.score(&outcome.output.text);
    if scored.reward.to_bits() != outcome.output.reward.to_bits() {
        return Err(EvaluateError::RewardMismatch {
            sample: job.sample.id().to_owned(),
            search: outcome.output.reward,
            rescored: scored.reward,
        });
    }
    let id = job.identity;
    let forecasting = matches!(job.sample, Sample::Forecast(_));
    let record = SampleRecord {
        run_id: id.run_id.clone(),
        sample_id: job.sample.id().to_owned(),
        sample_index: job.index,
        method: outcome.method,
        output: outcome.output.text.clone(),
        output_tokens: outcome.output.tokens.clone(),
        reward: scored.reward,
        prompt_sha256: crate::assets::hex(&Sha256::digest(prompt.text.as_bytes())),
        prompt_template: prompt.template.to_owned(),
        prompt_tokens: prompt.tokens.len(),
        serialization: forecasting.then(|| fitted.options.llmtime.clone()),
        history_shown: fitted.history_shown,
        history_dropped: fitted.history_dropped,
        constraint: constraint_label,
        parse_status: scored.status,
        answer: scored.answer,
        truth: scored.truth,
        metrics: scored.metrics,
        counters: outcome.counters,
        tree: outcome.tree,
        evaluated: outcome.evaluated_count,
        seed,
        wall_seconds: start.elapsed().as_secs_f64(),
        model: id.model.clone(),
        model_revision: id.model_revision.clone(),
        dataset: id.dataset.clone(),
        data_sha256: id.data_sha256.clone(),
    };
    Ok((record, outcome))
}
