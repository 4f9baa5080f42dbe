//! The forecasting prompt: the history in LLMTime form and the horizon.
//!
//! Continuation mode (LLMTime): the serialized history followed by
//! `time_sep` and nothing else; the model continues the series.
//! Chat mode: a system message with the rules and a user message with the
//! series; the reply should be the `h` values only. Its plain form (models
//! without a chat template): the same instruction, a blank line, then the
//! series followed by `time_sep`.
use super::llmtime::{serialize, LlmTimeOptions};
use super::Series;
use crate::spec::PromptMode;
use crate::tasks::prompt::{ChatMessage, Prompt};

fn describe_separators(opts: &LlmTimeOptions) -> String {
    let time = format!("time steps are separated by \"{}\"", opts.time_sep);
    if opts.bit_sep.is_empty() {
        time
    } else {
        format!("{time} and the digits of each value by \"{}\"", opts.bit_sep)
    }
}

/// The prompt for forecasting `series` from the `shown` part of its history.
pub fn forecast_prompt(series: &Series, shown: &[f64], opts: &LlmTimeOptions, mode: PromptMode) -> Prompt {
    let (values, _) = serialize(shown, opts);
    let h = series.horizon();
    let freq = if series.frequency == "all" {
        String::new()
    } else {
        format!(" The series is {} (seasonal period {}).", series.frequency, series.period)
    };
    let system = format!(
        "You continue numeric time series. Values are scaled and written as integers without a decimal point; {}.",
        describe_separators(opts)
    );
    let ask = format!(
        "Continue this series of {} values with exactly {h} more values, in the same format.{freq} Reply with the {h} values only.",
        shown.len()
    );
    let user = format!("{ask}\n\n{values}");
    let text = match mode {
        PromptMode::Continuation => format!("{values}{}", opts.time_sep),
        PromptMode::Chat => format!("{system} {ask}\n\n{values}{}", opts.time_sep),
    };
    Prompt { messages: vec![ChatMessage::new("system", system), ChatMessage::new("user", user)], text, mode }
}
