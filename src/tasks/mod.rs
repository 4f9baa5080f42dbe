//! Datasets, prompts, answer parsing, rewards and metrics.
//!
//! A caller loads a [`Dataset`] from its files ([`load`]), selects samples
//! ([`Dataset::select`]), builds each sample's [`Prompt`]
//! ([`Sample::prompt`]) and scores the generated text ([`Sample::score`]),
//! which yields a serializable [`Scored`] for the per-sample record. Run
//! metrics come from slices of per-sample results:
//! [`forecast::metrics::owa`] and [`activity::metrics::classification`].
//! [`Task`] bundles a dataset with its options. Nothing here calls a model.
pub mod activity;
pub mod constrain;
pub mod dataset;
pub mod digest;
pub mod error;
pub mod forecast;
pub mod prompt;
pub mod sample;
pub mod scored;
pub mod select;

use std::path::Path;

pub use dataset::{load, task_of, Dataset};
pub use error::TaskError;
pub use prompt::{ChatMessage, Prompt};
pub use sample::{PromptOptions, Sample, ScoreOptions};
pub use scored::{Answer, ParseStatus, SampleMetrics, Scored};
pub use select::Selection;

use crate::plan::DatasetRef;
use crate::spec::{DataFormat, Split};
use forecast::llmtime::LlmTimeOptions;

/// A dataset with the options its prompts and scores use.
#[derive(Debug, Clone)]
pub struct Task {
    pub dataset: Dataset,
    pub prompt: PromptOptions,
    pub score: ScoreOptions,
}

impl Task {
    /// Loads `split` of the dataset at `path`, with default options.
    pub fn load(path: &Path, format: DataFormat, split: Split) -> Result<Task, TaskError> {
        Ok(Task::new(load(path, format, split)?))
    }

    /// A task over `dataset` with default options.
    pub fn new(dataset: Dataset) -> Task {
        Task { dataset, prompt: PromptOptions::default(), score: ScoreOptions::default() }
    }

    /// This task with the settings of a run's dataset entry applied: the
    /// reward of a failed parse, readings per channel, the serialization
    /// (the entry's settings over `llmtime`, the model's defaults), the
    /// prompt mode, history, constraint, reasoning and the stand-in forecast
    /// of a failed parse.
    pub fn for_dataset(self, d: &DatasetRef, llmtime: LlmTimeOptions) -> Task {
        let mut task = self.with_reward_on_failure(d.reward_on_failure);
        if let Some(n) = d.readings {
            task.prompt.activity.downsample = activity::prompt::Downsample::TargetLength(n as usize);
        }
        task.prompt.llmtime = match &d.serialization {
            Some(s) => llmtime.overridden(s),
            None => llmtime,
        };
        task.prompt.mode = d.prompt;
        task.prompt.history = d.history.map(|n| n as usize);
        task.prompt.constrain = d.constrain.unwrap_or(true);
        task.prompt.reasoning = d.reasoning.unwrap_or(false);
        if let Some(f) = d.on_failure {
            task.score.forecast.on_failure = f;
        }
        task
    }

    /// Sets the reward of unparsable answers.
    pub fn with_reward_on_failure(mut self, reward: f64) -> Task {
        self.score.reward_on_failure = reward;
        self
    }

    /// Selects `n` samples deterministically.
    pub fn select(&self, n: usize, seed: u64, stratify_by: Option<&str>) -> Result<Selection, TaskError> {
        self.dataset.select(n, seed, stratify_by)
    }

    /// The prompt of `sample`.
    pub fn prompt(&self, sample: &Sample) -> Prompt {
        sample.prompt(&self.prompt)
    }

    /// Scores `text` generated for `sample`.
    pub fn score(&self, sample: &Sample, text: &str) -> Scored {
        sample.score(text, &self.prompt, &self.score)
    }
}
