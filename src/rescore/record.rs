//! One record scored again: its output read by the task as the sample's
//! prompt was built (the recorded serialization and history shown).

use std::collections::HashMap;

use serde_json::Value;

use crate::tasks::forecast::llmtime::LlmTimeOptions;
use crate::tasks::{PromptOptions, Sample, Task};

/// Which of a record's scored fields rescoring changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordChange {
    pub reward: bool,
    pub parse_status: bool,
    /// `metrics`, `answer` or `truth`.
    pub metrics: bool,
}

/// Why a record could not be scored again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The record lacks what scoring needs (a message).
    Malformed(String),
    /// Its sample id is not in the data.
    NotInData(String),
}

/// `old` with `reward`, `parse_status`, `answer`, `truth` and `metrics`
/// recomputed from its `output` for the sample of its `sample_id` in `task`;
/// every other field as it was.
pub fn rescore_record(old: &Value, task: &Task, samples: &HashMap<String, Sample>) -> Result<(Value, RecordChange), RecordError> {
    let malformed = |m: &str| RecordError::Malformed(m.to_owned());
    let field = |k: &str| old.get(k).ok_or_else(|| RecordError::Malformed(format!("the record has no `{k}`")));
    let id = field("sample_id")?.as_str().ok_or_else(|| malformed("`sample_id` is not a string"))?;
    let sample = samples.get(id).ok_or_else(|| RecordError::NotInData(id.to_owned()))?;
    let output = field("output")?.as_str().ok_or_else(|| malformed("`output` is not a string"))?;
    let mut prompt: PromptOptions = task.prompt.clone();
    if let Sample::Forecast(_) = sample {
        let serialization = field("serialization")?;
        prompt.llmtime = serde_json::from_value::<LlmTimeOptions>(serialization.clone())
            .map_err(|e| RecordError::Malformed(format!("`serialization` is not a serialization: {e}")))?;
        prompt.history = field("history_shown")?.as_u64().map(|n| n as usize);
    }
    let scored = sample.score(output, &prompt, &task.score);
    let mut new = old.clone();
    let Value::Object(map) = &mut new else { return Err(malformed("the record is not a JSON object")) };
    let fresh = [
        ("reward", serde_json::to_value(scored.reward)),
        ("parse_status", serde_json::to_value(scored.status)),
        ("answer", serde_json::to_value(&scored.answer)),
        ("truth", serde_json::to_value(&scored.truth)),
        ("metrics", serde_json::to_value(&scored.metrics)),
    ];
    let mut change = RecordChange::default();
    for (key, value) in fresh {
        let value = value.map_err(|e| RecordError::Malformed(format!("`{key}` has no JSON form: {e}")))?;
        let differs = old.get(key) != Some(&value);
        match key {
            "reward" => change.reward = differs,
            "parse_status" => change.parse_status = differs,
            _ => change.metrics |= differs,
        }
        map.insert(key.to_owned(), value);
    }
    Ok((new, change))
}
