//! One row of `samples.parquet`: a sample's record flattened, with its
//! run's labels and sweep parameters (see `columns`).

use serde_json::Value;

use crate::plan::RunConfig;

#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    pub run_id: String,
    pub sample_id: String,
    pub sample_index: i64,
    pub model: String,
    pub dataset: String,
    pub method_name: String,
    pub method: String,
    pub seed: Option<i64>,
    /// In the order of `columns::INT_PARAMS`.
    pub int_params: Vec<Option<i64>>,
    /// In the order of `columns::FLOAT_PARAMS`.
    pub float_params: Vec<Option<f64>>,
    /// In the order of `columns::METRICS`.
    pub metrics: Vec<Option<f64>>,
    pub output: String,
    pub parse_status: String,
}

/// The run's labels and parameters, shared by all its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RunColumns {
    pub run_id: String,
    pub model: String,
    pub dataset: String,
    pub method_name: String,
    pub method: String,
    pub seed: Option<i64>,
    pub int_params: Vec<Option<i64>>,
    pub float_params: Vec<Option<f64>>,
}

impl RunColumns {
    pub fn of(run: &RunConfig) -> RunColumns {
        let p = &run.method.params;
        let method = serde_json::to_value(run.method.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        RunColumns {
            run_id: run.run_id.0.clone(),
            model: run.model.name.clone(),
            dataset: run.dataset.name.clone(),
            method_name: run.method.name.clone(),
            method,
            seed: run.seed.map(|s| s as i64),
            int_params: vec![p.num_rollouts.map(i64::from), p.expansion_k.map(i64::from), Some(i64::from(p.max_new_tokens)), p.top_k.map(i64::from)],
            float_params: vec![p.sampling_temperature, p.top_p, p.lambda.map(|l| l.value()), p.c_uct, p.c_puct],
        }
    }
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    match cur {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        other => other.as_f64(),
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

impl SampleRow {
    /// The row of one `samples.jsonl` record (`evaluate::SampleRecord` as
    /// JSON) of `run`.
    pub fn from_record(record: &Value, run: &RunColumns) -> SampleRow {
        let status = text(record, "parse_status");
        let parsed = matches!(status.as_str(), "ok" | "truncated" | "padded");
        let metrics = vec![
            num(record, &["reward"]),
            num(record, &["metrics", "smape"]),
            num(record, &["metrics", "mase"]),
            num(record, &["metrics", "correct"]),
            Some(if parsed { 1.0 } else { 0.0 }),
            num(record, &["counters", "nfe"]),
            num(record, &["counters", "tokens_generated"]),
            num(record, &["counters", "tokens_forwarded"]),
            num(record, &["counters", "rollouts"]),
            num(record, &["wall_seconds"]),
        ];
        SampleRow {
            run_id: run.run_id.clone(),
            sample_id: text(record, "sample_id"),
            sample_index: record.get("sample_index").and_then(Value::as_i64).unwrap_or(-1),
            model: run.model.clone(),
            dataset: run.dataset.clone(),
            method_name: run.method_name.clone(),
            method: run.method.clone(),
            seed: run.seed,
            int_params: run.int_params.clone(),
            float_params: run.float_params.clone(),
            metrics,
            output: text(record, "output"),
            parse_status: status,
        }
    }
}
