//! `--only FILTER`: which runs of the plan to execute. A filter is a
//! comma-separated list of `key=value` terms that must all hold; keys are
//! `run` (an id prefix), `model`, `dataset`, `method` (the entry name or
//! the kind), `seed`, or any method parameter (`num_rollouts=10`,
//! `lambda=inf`). Values compare as text with the value's JSON form.

use super::ScheduleError;
use crate::plan::RunConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct RunFilter {
    text: String,
    terms: Vec<(String, String)>,
    /// Exactly these run ids (an executor's task), when set.
    ids: Option<std::collections::BTreeSet<String>>,
}

const KEYS: &[&str] = &["run", "model", "dataset", "method", "seed"];

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl RunFilter {
    pub fn parse(text: &str) -> Result<RunFilter, ScheduleError> {
        let bad = |message: String| ScheduleError::Filter { filter: text.to_owned(), message };
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (k, v) = term
                .split_once('=')
                .ok_or_else(|| bad(format!("`{term}` is not key=value (keys: {}, or a method parameter)", KEYS.join(", "))))?;
            let k = k.trim();
            if !KEYS.contains(&k) && !crate::spec::PARAM_NAMES.contains(&k) {
                let hint = crate::spec::did_you_mean(k, KEYS.iter().copied().chain(crate::spec::PARAM_NAMES.iter().copied()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(bad(format!("unknown key `{k}` (keys: {}, or a method parameter){hint}", KEYS.join(", "))));
            }
            terms.push((k.to_owned(), v.trim().to_owned()));
        }
        if terms.is_empty() {
            return Err(bad("empty filter".into()));
        }
        Ok(RunFilter { text: text.to_owned(), terms, ids: None })
    }

    /// Exactly the runs with these ids.
    pub fn run_ids(ids: impl IntoIterator<Item = String>) -> RunFilter {
        let ids: std::collections::BTreeSet<String> = ids.into_iter().collect();
        RunFilter { text: format!("{} run ids", ids.len()), terms: Vec::new(), ids: Some(ids) }
    }

    /// Both filters must hold.
    pub fn and(mut self, other: RunFilter) -> RunFilter {
        self.text = format!("{} and {}", self.text, other.text);
        self.terms.extend(other.terms);
        self.ids = match (self.ids, other.ids) {
            (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
            (a, b) => a.or(b),
        };
        self
    }

    pub fn matches(&self, run: &RunConfig) -> bool {
        if self.ids.as_ref().is_some_and(|ids| !ids.contains(&run.run_id.0)) {
            return false;
        }
        let params = serde_json::to_value(&run.method.params).unwrap_or_default();
        self.terms.iter().all(|(k, v)| match k.as_str() {
            "run" => run.run_id.0.starts_with(v.as_str()),
            "model" => &run.model.name == v,
            "dataset" => &run.dataset.name == v,
            "method" => &run.method.name == v || serde_json::to_value(run.method.kind).is_ok_and(|m| json_text(&m) == *v),
            "seed" => run.seed.is_some_and(|s| s.to_string() == *v),
            param => {
                params.get(param).is_some_and(|p| json_text(p) == *v || p.as_f64().zip(v.parse::<f64>().ok()).is_some_and(|(a, b)| a == b))
            }
        })
    }
}
