//! One row of `samples.parquet`: a sample's record flattened, with its
//! run's labels and sweep parameters (see `columns`).

use serde_json::Value;

use crate::metrics::{self, Cell};
use crate::plan::RunConfig;
use crate::spec;
use crate::store::columns;

#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    /// The run's labels and parameters.
    pub run: RunColumns,
    pub sample_id: String,
    pub sample_index: i64,
    /// In the order of `columns::METRICS`.
    pub metrics: Vec<Option<f64>>,
    /// In the order of `columns::TEXTS`.
    pub texts: Vec<Option<String>>,
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
        let p = serde_json::to_value(&run.method.params).unwrap_or(Value::Null);
        let cell = |name: &&str| p.get(*name).and_then(spec::column_value);
        let method = serde_json::to_value(run.method.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        RunColumns {
            run_id: run.run_id.0.clone(),
            model: run.model.name.clone(),
            dataset: run.dataset.name.clone(),
            method_name: run.method.name.clone(),
            method,
            seed: run.seed.map(|s| s as i64),
            int_params: columns::INT_PARAMS.iter().map(|n| cell(n).map(|v| v as i64)).collect(),
            float_params: columns::FLOAT_PARAMS.iter().map(cell).collect(),
        }
    }
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

impl SampleRow {
    /// The row of one `samples.jsonl` record (`evaluate::SampleRecord` as
    /// JSON) of `run`: every column of the metric registry read from it.
    pub fn from_record(record: &Value, run: &RunColumns) -> SampleRow {
        let (mut numbers, mut texts) = (Vec::new(), Vec::new());
        for column in metrics::columns() {
            match column.read(record) {
                Cell::Number(v) => numbers.push(v),
                Cell::Text(v) => texts.push(v),
            }
        }
        SampleRow {
            run: run.clone(),
            sample_id: text(record, "sample_id"),
            sample_index: record.get("sample_index").and_then(Value::as_i64).unwrap_or(-1),
            metrics: numbers,
            texts,
            output: text(record, "output"),
            parse_status: text(record, "parse_status"),
        }
    }

    /// The value of metric column `name` (`None` also for an unknown name).
    pub fn number(&self, name: &str) -> Option<f64> {
        let i = super::columns::METRICS.iter().position(|c| *c == name)?;
        self.metrics.get(i).copied().flatten()
    }

    /// The value of text column `name`.
    pub fn text(&self, name: &str) -> Option<&str> {
        let i = super::columns::TEXTS.iter().position(|c| *c == name)?;
        self.texts.get(i).and_then(|t| t.as_deref())
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
        let parsed = |status: &str| SampleRow::from_record(&rec(status), &run()).number("parsed");
        assert_eq!(parsed("ok"), Some(1.0));
        assert_eq!(parsed("truncated"), Some(1.0));
        assert_eq!(parsed("padded"), Some(1.0));
        assert_eq!(parsed("too_few"), Some(0.0));
        assert_eq!(parsed("no_answer"), Some(0.0));
        let row = SampleRow::from_record(&rec("ok"), &run());
        assert_eq!(
            (row.sample_index, row.number("reward"), row.number("correct"), row.number("nfe")),
            (3, Some(-0.5), Some(1.0), Some(7.0))
        );
        assert_eq!(row.number("smape"), None);
        assert_eq!(row.run, run());
    }

    #[test]
    fn forecasting_and_activity_records_fill_their_columns() {
        let forecast = serde_json::json!({"sample_id": "N1", "parse_status": "ok", "answer": [1.0, 2.0], "truth": [1.5, 2.5],
            "metrics": {"smape": 12.0, "mase": 0.8, "smape_naive2": 15.0, "mase_naive2": 1.1, "mase_period": 1}});
        let row = SampleRow::from_record(&forecast, &run());
        assert_eq!([row.number("smape_naive2"), row.number("mase_naive2")], [Some(15.0), Some(1.1)]);
        assert_eq!((row.text("true_label"), row.text("predicted_label")), (None, None), "a forecast is no label");
        let activity = |status: &str, answer: Value| serde_json::json!({"sample_id": "a1", "parse_status": status, "answer": answer, "truth": "walking", "metrics": {"correct": false}});
        let row = SampleRow::from_record(&activity("ok", "running".into()), &run());
        assert_eq!(
            (row.text("true_label"), row.text("predicted_label"), row.number("correct")),
            (Some("walking"), Some("running"), Some(0.0))
        );
        let row = SampleRow::from_record(&activity("no_answer", Value::Null), &run());
        assert_eq!((row.text("true_label"), row.text("predicted_label")), (Some("walking"), None));
    }
}
