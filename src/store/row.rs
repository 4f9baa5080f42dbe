//! One row of `samples.parquet`: a sample's record flattened, with its
//! run's labels and sweep parameters (see `columns`).

use serde::Deserialize;
use serde_json::Value;

use crate::plan::RunConfig;
use crate::tasks::ParseStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// The run's labels and parameters.
    pub run: RunColumns,
    pub sample_id: String,
    pub sample_index: i64,
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
    /// In the order of `columns::INT_PARAMS`.
    pub int_params: Vec<Option<i64>>,
    /// In the order of `columns::FLOAT_PARAMS`.
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
        let parsed = record
            .get("parse_status")
            .and_then(|v| ParseStatus::deserialize(v).ok())
            .is_some_and(ParseStatus::is_success);
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
            run: run.clone(),
            sample_id: text(record, "sample_id"),
            sample_index: record.get("sample_index").and_then(Value::as_i64).unwrap_or(-1),
            metrics,
            output: text(record, "output"),
            parse_status: status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> RunColumns {
        RunColumns {
            run_id: "r".into(),
            model: "m".into(),
            dataset: "d".into(),
            method_name: "greedy".into(),
            method: "greedy".into(),
            seed: None,
            int_params: vec![None, None, Some(8), None],
            float_params: vec![None; 5],
        }
    }

    #[test]
    fn parsed_follows_the_parse_status_and_bools_become_numbers() {
        let rec = |status: &str| serde_json::json!({"sample_id": "N1", "sample_index": 3, "reward": -0.5, "parse_status": status, "metrics": {"correct": true}, "counters": {"nfe": 7}});
        let parsed = |status: &str| SampleRow::from_record(&rec(status), &run()).metrics[4];
        assert_eq!(parsed("ok"), Some(1.0));
        assert_eq!(parsed("truncated"), Some(1.0));
        assert_eq!(parsed("padded"), Some(1.0));
        assert_eq!(parsed("too_few"), Some(0.0));
        assert_eq!(parsed("no_answer"), Some(0.0));
        let row = SampleRow::from_record(&rec("ok"), &run());
        assert_eq!((row.sample_index, row.metrics[0], row.metrics[3], row.metrics[5]), (3, Some(-0.5), Some(1.0), Some(7.0)));
        assert_eq!(row.run, run());
    }
}
