//! The forecasting prompt: the history in LLMTime form and the horizon.
//!
//! Chat form: a system message with the rules and a user message with the
//! series; the reply should be the `h` values only. Plain form (models
//! without a chat template): the same instruction, a blank line, then the
//! series followed by `time_sep`, so that a base model continues it.
use super::llmtime::{serialize, LlmTimeOptions};
use super::Series;
use crate::tasks::sample::{ChatMessage, Prompt};

fn describe_separators(opts: &LlmTimeOptions) -> String {
    let time = format!("time steps are separated by \"{}\"", opts.time_sep);
    if opts.bit_sep.is_empty() {
        time
    } else {
        format!("{time} and the digits of each value by \"{}\"", opts.bit_sep)
    }
}

/// The prompt for forecasting `series`.
pub fn forecast_prompt(series: &Series, opts: &LlmTimeOptions) -> Prompt {
    let (values, _) = serialize(&series.history, opts);
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
        series.history.len()
    );
    let user = format!("{ask}\n\n{values}");
    let text = format!("{system} {ask}\n\n{values}{}", opts.time_sep);
    Prompt {
        messages: vec![ChatMessage::new("system", system), ChatMessage::new("user", user)],
        text,
    }
}
