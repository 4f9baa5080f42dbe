//! The per-sample record: everything the store writes for one finished
//! sample, as one JSON line.

use serde::Serialize;

use crate::search::{Counters, TreeStats};
use crate::spec::MethodKind;
use crate::tasks::forecast::llmtime::LlmTimeOptions;
use crate::tasks::{Answer, ParseStatus, SampleMetrics};

/// Which model and data produced a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    pub run_id: String,
    /// The model reference as the spec gives it.
    pub model: String,
    /// The resolved revision: a hub commit sha or the weights' sha256.
    pub model_revision: String,
    /// The dataset reference as the spec gives it.
    pub dataset: String,
    /// sha256 of the data file(s) read.
    pub data_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleRecord {
    pub run_id: String,
    pub sample_id: String,
    /// Position of the sample in the run's selection.
    pub sample_index: usize,
    pub method: MethodKind,
    /// The returned text (an evaluated sequence of the search).
    pub output: String,
    pub output_tokens: Vec<u32>,
    pub reward: f64,
    /// sha256 of the rendered prompt text.
    pub prompt_sha256: String,
    /// `continuation` (plain text the model continues), `chat` (the
    /// model's chat template) or `plain` (chat asked of a model without one).
    pub prompt_template: String,
    pub prompt_tokens: usize,
    /// Forecasting: how the series was written (and the reply read).
    pub serialization: Option<LlmTimeOptions>,
    /// Forecasting: history values the prompt showed.
    pub history_shown: Option<usize>,
    /// Forecasting: the oldest history values left out to fit the model's
    /// context (scoring still uses the whole history).
    pub history_dropped: usize,
    /// The decoding constraint, when the answer was constrained.
    pub constraint: Option<String>,
    pub parse_status: ParseStatus,
    pub answer: Option<Answer>,
    pub truth: Answer,
    pub metrics: SampleMetrics,
    pub counters: Counters,
    /// Absent for greedy and best-of-N.
    pub tree: Option<TreeStats>,
    /// |E|: sequences the search evaluated.
    pub evaluated: usize,
    pub seed: u64,
    pub wall_seconds: f64,
    pub model: String,
    pub model_revision: String,
    pub dataset: String,
    pub data_sha256: String,
}
