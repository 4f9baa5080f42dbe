//! One record scored again: its output read by the task as the sample's
//! prompt was built (the recorded serialization and history shown).

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

/// `old` with `reward`, `parse_status`, `answer`, `truth` and `metrics`
/// recomputed from its `output` for `samples[sample_index]` of `task`; every
/// other field as it was. An error (a message) when the record does not
/// belong to these samples or lacks what scoring needs.
pub fn rescore_record(old: &Value, task: &Task, samples: &[Sample]) -> Result<(Value, RecordChange), String> {
    let field = |k: &str| old.get(k).ok_or_else(|| format!("the record has no `{k}`"));
    let index = field("sample_index")?.as_u64().ok_or("`sample_index` is not a number")? as usize;
    let sample = samples.get(index).ok_or_else(|| {
        format!("sample_index {index} is outside the run's selection of {} samples (was the dataset entry changed?)", samples.len())
    })?;
    let id = field("sample_id")?.as_str().unwrap_or_default();
    if id != sample.id() {
        return Err(format!("sample {index} is `{}` in the data but `{id}` in the record", sample.id()));
    }
    let output = field("output")?.as_str().ok_or("`output` is not a string")?;
    let mut prompt: PromptOptions = task.prompt.clone();
    if let Sample::Forecast(_) = sample {
        let serialization = field("serialization")?;
        prompt.llmtime = serde_json::from_value::<LlmTimeOptions>(serialization.clone())
            .map_err(|e| format!("`serialization` is not a serialization: {e}"))?;
        prompt.history = field("history_shown")?.as_u64().map(|n| n as usize);
    }
    let scored = sample.score(output, &prompt, &task.score);
    let mut new = old.clone();
    let Value::Object(map) = &mut new else { return Err("the record is not a JSON object".into()) };
    let fresh = [
        ("reward", serde_json::to_value(scored.reward)),
        ("parse_status", serde_json::to_value(scored.status)),
        ("answer", serde_json::to_value(&scored.answer)),
        ("truth", serde_json::to_value(&scored.truth)),
        ("metrics", serde_json::to_value(&scored.metrics)),
    ];
    let mut change = RecordChange::default();
    for (key, value) in fresh {
        let value = value.map_err(|e| format!("`{key}` has no JSON form: {e}"))?;
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
