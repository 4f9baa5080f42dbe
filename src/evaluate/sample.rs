//! One sample end to end: the task's prompt (through the model's chat
//! template when it has one), the search on the engine, the score of the
//! returned text, the record.

use std::time::Instant;

use sha2::{Digest, Sha256};

use super::engine_lm::EngineLm;
use super::evaluator::TaskEvaluator;
use super::record::{Identity, SampleRecord};
use super::EvaluateError;
use crate::engine::service::Session;
use crate::engine::tokenizer::{Message, TextTokenizer};
use crate::search::{method_for, SearchConfig, SearchInput, SearchOutcome};
use crate::tasks::{Sample, Task};

/// A prompt as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    pub text: String,
    pub tokens: Vec<u32>,
    /// `chat` or `plain`.
    pub template: &'static str,
}

/// The task's prompt for `sample`: its messages through the chat template
/// when the model has one, else the plain-text form.
pub fn render_prompt(tokenizer: &TextTokenizer, task: &Task, sample: &Sample) -> Result<RenderedPrompt, EvaluateError> {
    let prompt = task.prompt(sample);
    let (text, template) = if tokenizer.has_chat_template() {
        let messages: Vec<Message> = prompt.messages.iter().map(|m| Message::new(&m.role, &m.content)).collect();
        (tokenizer.apply_chat_template(&messages, true)?, "chat")
    } else {
        (prompt.text, "plain")
    };
    let tokens = tokenizer.encode(&text)?;
    Ok(RenderedPrompt { text, tokens, template })
}

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
    let prompt = render_prompt(job.tokenizer, job.task, job.sample)?;
    let seed = sample_seed(job.run_seed, job.index);
    let mut config = job.config;
    config.seed = seed;
    let method = method_for(config);
    let mut lm = EngineLm::new(session);
    let mut evaluator = TaskEvaluator { tokenizer: job.tokenizer, task: job.task, sample: job.sample };
    let mut input = SearchInput::new(&prompt.tokens);
    if let Some(b) = job.token_budget {
        input = input.with_token_budget(b);
    }
    let outcome = method.search(&mut lm, &mut evaluator, &input)?;
    drop(lm);
    let scored = evaluator.score(&outcome.output.text);
    if scored.reward.to_bits() != outcome.output.reward.to_bits() {
        return Err(EvaluateError::RewardMismatch { sample: job.sample.id().to_owned(), search: outcome.output.reward, rescored: scored.reward });
    }
    let id = job.identity;
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
