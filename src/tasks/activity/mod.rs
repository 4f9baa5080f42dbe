//! Activity recognition: sensor-window loaders, the prompt, answer parsing
//! and classification metrics.
//!
//! Splits: `.ts` files have TRAIN and TEST; UCI HAR has `train/` and
//! `test/`; the HAR chain-of-thought CSV has train, val (→ validation) and
//! test files. Sample ids are `<split>-<case number>` (1-based, zero-padded
//! to 4 digits), e.g. `test-0007`.
pub mod har_cot;
pub mod metrics;
pub mod parse;
pub mod prompt;
pub mod score;
pub mod ts;
pub mod uci_har;

use std::sync::Arc;

use serde::Serialize;

use crate::spec::Split;
use crate::tasks::error::split_name;

/// One sensor channel of a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    pub name: String,
    pub values: Vec<f64>,
}

/// One window of sensor readings and its activity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityCase {
    pub id: String,
    pub label: String,
    /// The dataset's label set, in its declared order (shared by all cases;
    /// not serialized, the dataset records it once).
    #[serde(skip)]
    pub labels: Arc<Vec<String>>,
    pub channels: Vec<Channel>,
    /// Readings per second, where the format documents it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate_hz: Option<f64>,
    /// A reference explanation (HAR chain-of-thought CSV), not shown in the prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
}

pub(crate) fn case_id(split: Split, number: usize) -> String {
    format!("{}-{number:04}", split_name(split))
}
