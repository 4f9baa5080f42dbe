//! One sample of a dataset, the options of prompting and scoring, and the prompt.
use serde::Serialize;

use super::activity::prompt::{activity_prompt, ActivityPromptOptions};
use super::activity::score::score_activity;
use super::activity::ActivityCase;
use super::forecast::llmtime::LlmTimeOptions;
use super::forecast::prompt::forecast_prompt;
use super::forecast::score::{score_forecast, ForecastScoring};
use super::forecast::Series;
use super::prompt::Prompt;
use super::scored::{Answer, Scored};
use crate::spec::{PromptMode, TaskKind};

/// How prompts are written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptOptions {
    /// Forecasting: the series' text form (also used to read the answer).
    pub llmtime: LlmTimeOptions,
    /// Activity recognition.
    pub activity: ActivityPromptOptions,
    /// `None`: continuation for forecasting, chat for activity recognition.
    pub mode: Option<PromptMode>,
    /// Forecasting: only the most recent this many history values are
    /// shown (and scale the text); scoring still uses the whole history.
    pub history: Option<usize>,
    /// Constrained decoding (default true).
    pub constrain: bool,
    /// Activity recognition: free reasoning before the answer (default false).
    pub reasoning: bool,
}

impl Default for PromptOptions {
    fn default() -> Self {
        PromptOptions {
            llmtime: LlmTimeOptions::default(),
            activity: ActivityPromptOptions::default(),
            mode: None,
            history: None,
            constrain: true,
            reasoning: false,
        }
    }
}

impl PromptOptions {
    /// The prompt mode for a task of `kind`.
    pub fn mode_for(&self, kind: TaskKind) -> PromptMode {
        self.mode.unwrap_or(match kind {
            TaskKind::Forecasting => PromptMode::Continuation,
            TaskKind::ActivityRecognition => PromptMode::Chat,
        })
    }
}

/// How replies are scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreOptions {
    /// Reward when no answer can be parsed (default −1; must be finite, else −1 is used).
    pub reward_on_failure: f64,
    pub forecast: ForecastScoring,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions { reward_on_failure: -1.0, forecast: ForecastScoring::default() }
    }
}

/// One sample: a series to forecast or a window to classify.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Sample {
    Forecast(Series),
    Activity(ActivityCase),
}

impl Sample {
    /// The sample's id, unique within its dataset.
    pub fn id(&self) -> &str {
        match self {
            Sample::Forecast(s) => &s.id,
            Sample::Activity(c) => &c.id,
        }
    }

    pub fn kind(&self) -> TaskKind {
        match self {
            Sample::Forecast(_) => TaskKind::Forecasting,
            Sample::Activity(_) => TaskKind::ActivityRecognition,
        }
    }

    /// The sample's group under a stratification key: `frequency` or
    /// `period` (forecasting: the frequency name), `category` (forecasting,
    /// where the source has one), `label` (activity). `None` when the key
    /// does not apply.
    pub fn group(&self, key: &str) -> Option<&str> {
        match (self, key) {
            (Sample::Forecast(s), "frequency" | "period") => Some(&s.frequency),
            (Sample::Forecast(s), "category") => s.category.as_deref(),
            (Sample::Activity(c), "label") => Some(&c.label),
            _ => None,
        }
    }

    /// The ground truth: the future values or the label.
    pub fn truth(&self) -> Answer {
        match self {
            Sample::Forecast(s) => Answer::Values(s.future.clone()),
            Sample::Activity(c) => Answer::Label(c.label.clone()),
        }
    }

    /// The prompt for this sample.
    pub fn prompt(&self, opts: &PromptOptions) -> Prompt {
        match self {
            Sample::Forecast(s) => forecast_prompt(s, s.shown(opts.history), &opts.llmtime, opts.mode_for(self.kind())),
            Sample::Activity(c) => activity_prompt(c, &opts.activity, opts.reasoning, opts.mode_for(self.kind())),
        }
    }

    /// Scores a generated text (the model's reply or continuation, without
    /// the prompt). `prompt` must be the options the prompt was built with.
    pub fn score(&self, text: &str, prompt: &PromptOptions, score: &ScoreOptions) -> Scored {
        match self {
            Sample::Forecast(s) => {
                score_forecast(s, s.shown(prompt.history), text, &prompt.llmtime, &score.forecast, score.reward_on_failure)
            }
            Sample::Activity(c) => score_activity(c, text, score.reward_on_failure),
        }
    }
}
