//! Token-matched best-of-N: its budget on each sample is the number of
//! tokens the tree run it names (`token_budget_from`) generated on that
//! sample. The peer is the run of that method entry with the same model,
//! dataset and seed whose shared parameters are equal (`num_rollouts`
//! included when the best-of-N run has one, so a sweep over it pairs each
//! budget with the tree run of the same budget); there must be exactly one.

use std::collections::BTreeMap;
use std::path::Path;

use super::ScheduleError;
use crate::plan::RunConfig;
use crate::store::layout::{run_dir, SAMPLES_JSONL};

fn shared_params_equal(a: &RunConfig, b: &RunConfig) -> bool {
    let (Ok(serde_json::Value::Object(pa)), Ok(serde_json::Value::Object(pb))) =
        (serde_json::to_value(&a.method.params), serde_json::to_value(&b.method.params))
    else {
        return false;
    };
    pa.iter().filter(|(k, _)| k.as_str() != "token_budget_from").all(|(k, v)| pb.get(k).is_none_or(|w| w == v))
}

/// The run whose per-sample token counts budget `run`, if it asks for one.
pub fn peer_of<'a>(run: &RunConfig, all: &'a [RunConfig]) -> Result<Option<&'a RunConfig>, ScheduleError> {
    let Some(name) = &run.method.params.token_budget_from else { return Ok(None) };
    let candidates: Vec<&RunConfig> = all
        .iter()
        .filter(|r| {
            &r.method.name == name
                && r.model.source == run.model.source
                && r.dataset == run.dataset
                && (r.seed == run.seed || r.seed.is_none() || run.seed.is_none())
                && shared_params_equal(run, r)
        })
        .collect();
    match candidates.as_slice() {
        [one] => Ok(Some(one)),
        [] => Err(ScheduleError::Run(format!(
            "token_budget_from: {name}: no run of `{name}` has this run's model, dataset, seed and shared parameters"
        ))),
        many => Err(ScheduleError::Run(format!(
            "token_budget_from: {name}: {} runs match ({}); make the shared parameters pick one",
            many.len(),
            many.iter().map(|r| r.run_id.0.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Tokens generated per sample index by the peer, from its records.
pub fn budgets(commit_dir: &Path, peer: &RunConfig) -> Result<BTreeMap<usize, u64>, ScheduleError> {
    let path = run_dir(commit_dir, &peer.run_id.0).join(SAMPLES_JSONL);
    let lines = crate::store::jsonl::read(&path)?;
    Ok(lines
        .values
        .iter()
        .filter_map(|v| {
            let i = v.get("sample_index")?.as_u64()? as usize;
            let t = v.get("counters")?.get("tokens_generated")?.as_u64()?;
            Some((i, t))
        })
        .collect())
}
