//! A sample's prompt as the model sees it: the mode (continuation or chat
//! template), a history cut to fit the model's context, and the settings
//! that follow the tokenizer (LLMTime separators, token texts).

use crate::engine::tokenizer::{Message, TextTokenizer};
use crate::engine::EngineError;
use crate::spec::PromptMode;
use crate::tasks::constrain::TokenTexts;
use crate::tasks::forecast::llmtime::LlmTimeOptions;
use crate::tasks::{PromptOptions, Sample, Task};

use super::EvaluateError;

/// A prompt as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    pub text: String,
    pub tokens: Vec<u32>,
    /// `continuation`, `chat`, or `plain` (chat asked of a model without a
    /// chat template: the messages' plain form).
    pub template: &'static str,
}

/// A prompt fitted to the model's context.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedPrompt {
    pub rendered: RenderedPrompt,
    /// The options it was built with (the history limit lowered when the
    /// history was cut); replies are read back with the same.
    pub options: PromptOptions,
    /// Forecasting: history values shown.
    pub history_shown: Option<usize>,
    /// Forecasting: the oldest history values left out so that the prompt
    /// and the answer budget fit the context (0 when nothing was cut).
    pub history_dropped: usize,
}

/// The prompt of `sample` under `opts`: plain text in continuation mode,
/// the messages through the chat template in chat mode (their plain form
/// when the model has no template).
pub fn render_with(tokenizer: &TextTokenizer, sample: &Sample, opts: &PromptOptions) -> Result<RenderedPrompt, EvaluateError> {
    let prompt = sample.prompt(opts);
    let (text, template) = match prompt.mode {
        PromptMode::Continuation => (prompt.text, "continuation"),
        PromptMode::Chat if tokenizer.has_chat_template() => {
            let messages: Vec<Message> = prompt.messages.iter().map(|m| Message::new(&m.role, &m.content)).collect();
            (tokenizer.apply_chat_template(&messages, true)?, "chat")
        }
        PromptMode::Chat => (prompt.text, "plain"),
    };
    let tokens = tokenizer.encode(&text)?;
    Ok(RenderedPrompt { text, tokens, template })
}

/// The prompt of `sample` under the task's own options.
pub fn render_prompt(tokenizer: &TextTokenizer, task: &Task, sample: &Sample) -> Result<RenderedPrompt, EvaluateError> {
    render_with(tokenizer, sample, &task.prompt)
}

/// The prompt of `sample`, its forecasting history cut from the oldest end
/// (as LLMTime does) until the prompt plus `max_new_tokens` fits `context`
/// positions. An error when even one value does not fit, or when an
/// activity prompt is too long (it cannot be cut).
pub fn fit_prompt(
    tokenizer: &TextTokenizer,
    sample: &Sample,
    opts: &PromptOptions,
    context: Option<usize>,
    max_new_tokens: usize,
) -> Result<FittedPrompt, EvaluateError> {
    let full = render_with(tokenizer, sample, opts)?;
    let fits = |p: &RenderedPrompt| context.is_none_or(|c| p.tokens.len() + max_new_tokens <= c);
    let Sample::Forecast(series) = sample else {
        if !fits(&full) {
            return Err(too_long(sample, full.tokens.len(), max_new_tokens, context));
        }
        return Ok(FittedPrompt { rendered: full, options: opts.clone(), history_shown: None, history_dropped: 0 });
    };
    let shown = series.shown(opts.history).len();
    if fits(&full) {
        return Ok(FittedPrompt { rendered: full, options: opts.clone(), history_shown: Some(shown), history_dropped: 0 });
    }
    // The largest number of recent values that fits, by bisection (prompt
    // length grows with the values shown): `lo` values fit (none when 0),
    // `hi` do not, and `over` is the length of the prompt with `hi`.
    let with = |k: usize| PromptOptions { history: Some(k), ..opts.clone() };
    let (mut lo, mut hi, mut over) = (0usize, shown, full.tokens.len());
    let mut best: Option<RenderedPrompt> = None;
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        let p = render_with(tokenizer, sample, &with(mid))?;
        if fits(&p) {
            lo = mid;
            best = Some(p);
        } else {
            hi = mid;
            over = p.tokens.len();
        }
    }
    // Without a fitting prompt, `hi` is 1: even one value is too long.
    let Some(rendered) = best else {
        return Err(too_long(sample, over, max_new_tokens, context));
    };
    Ok(FittedPrompt { rendered, options: with(lo), history_shown: Some(lo), history_dropped: shown - lo })
}

fn too_long(sample: &Sample, prompt: usize, budget: usize, context: Option<usize>) -> EvaluateError {
    EvaluateError::Engine(EngineError::BadInput(format!(
        "sample {}: a prompt of {prompt} tokens and an answer budget of {budget} exceed the model's context of {} positions",
        sample.id(),
        context.unwrap_or(0)
    )))
}

/// Whether the tokenizer writes every digit as its own token.
pub fn splits_digits(tokenizer: &TextTokenizer) -> Result<bool, EvaluateError> {
    let probe = "1234567890";
    let ids = tokenizer.encode(probe)?;
    let digits: Vec<String> = ids.iter().map(|&id| tokenizer.decode(&[id])).collect::<Result<_, _>>()?;
    let kept: Vec<&String> = digits.iter().filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit())).collect();
    Ok(kept.len() == probe.len() && kept.iter().all(|t| t.len() == 1))
}

/// LLMTime's settings for this tokenizer: digits joined directly and time
/// steps by ", " when it splits digits; else digits separated by a space
/// and time steps by " ," (LLMTime's choice for tokenizers that merge
/// digits, such as Llama 3's groups of three).
pub fn llmtime_for(tokenizer: &TextTokenizer) -> Result<LlmTimeOptions, EvaluateError> {
    Ok(if splits_digits(tokenizer)? { LlmTimeOptions::default() } else { LlmTimeOptions::merged_digits() })
}

/// The text of every token of the tokenizer's vocabulary.
pub fn token_texts(tokenizer: &TextTokenizer) -> Result<TokenTexts, EvaluateError> {
    let n = tokenizer.vocab_size();
    let mut texts = Vec::with_capacity(n);
    for id in 0..n as u32 {
        texts.push(tokenizer.decode(&[id])?);
    }
    Ok(TokenTexts::new(texts, tokenizer.stop_ids().to_vec()))
}
