//! A per-sample column: its name in `samples.parquet` and where its value
//! comes from in a `samples.jsonl` record.

use serde::Deserialize;
use serde_json::Value;

use crate::tasks::ParseStatus;

/// Where a column's value is read from in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The number at this path of keys (a bool counts as 1 or 0); null
    /// where absent or of another type.
    Number(&'static [&'static str]),
    /// 1 when the record's `parse_status` is a success (`ok`, `truncated`,
    /// `padded`), else 0.
    ParseSucceeded,
    /// The string at this path; null where absent or not a string.
    Text(&'static [&'static str]),
    /// The string at this path when the record's parse succeeded; null
    /// otherwise.
    ParsedText(&'static [&'static str]),
}

/// The type of a column in `samples.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Float64.
    Number,
    /// Utf8.
    Text,
}

/// A per-sample column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub source: Source,
}

/// One value of a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Number(Option<f64>),
    Text(Option<String>),
}

fn at<'a>(record: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(record, |v, key| v.get(key)).filter(|v| !v.is_null())
}

fn parse_succeeded(record: &Value) -> bool {
    record.get("parse_status").and_then(|v| ParseStatus::deserialize(v).ok()).is_some_and(ParseStatus::is_success)
}

impl Column {
    pub fn kind(&self) -> Kind {
        match self.source {
            Source::Number(_) | Source::ParseSucceeded => Kind::Number,
            Source::Text(_) | Source::ParsedText(_) => Kind::Text,
        }
    }

    /// The column's value in `record`.
    pub fn read(&self, record: &Value) -> Cell {
        let text = |path: &[&str]| at(record, path).and_then(Value::as_str).map(str::to_owned);
        match self.source {
            Source::Number(path) => Cell::Number(at(record, path).and_then(|v| match v {
                Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
                other => other.as_f64(),
            })),
            Source::ParseSucceeded => Cell::Number(Some(if parse_succeeded(record) { 1.0 } else { 0.0 })),
            Source::Text(path) => Cell::Text(text(path)),
            Source::ParsedText(path) => Cell::Text(text(path).filter(|_| parse_succeeded(record))),
        }
    }

    /// The value in `record` as JSON, as the record holds it where the
    /// column copies a field (an integer stays an integer, a bool a bool);
    /// `None` where it has none.
    pub fn json(&self, record: &Value) -> Option<Value> {
        match self.source {
            Source::Number(path) => at(record, path).filter(|v| v.is_number() || v.is_boolean()).cloned(),
            Source::Text(path) => at(record, path).filter(|v| v.is_string()).cloned(),
            Source::ParseSucceeded | Source::ParsedText(_) => match self.read(record) {
                Cell::Number(n) => n.map(Value::from),
                Cell::Text(t) => t.map(Value::from),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_numbers_bools_text_and_the_parse_status() {
        let rec = |status: &str| {
            serde_json::json!({"parse_status": status, "answer": "walking", "truth": "running",
                               "metrics": {"correct": true, "smape": 12.5}, "counters": {"nfe": 7}})
        };
        let n = |source, r: &Value| Column { name: "x", source }.read(r);
        let r = rec("ok");
        assert_eq!(n(Source::Number(&["metrics", "correct"]), &r), Cell::Number(Some(1.0)));
        assert_eq!(n(Source::Number(&["metrics", "smape"]), &r), Cell::Number(Some(12.5)));
        assert_eq!(n(Source::Number(&["metrics", "mase"]), &r), Cell::Number(None));
        assert_eq!(n(Source::Number(&["truth"]), &r), Cell::Number(None), "text is not a number");
        assert_eq!(n(Source::Text(&["truth"]), &r), Cell::Text(Some("running".into())));
        assert_eq!(n(Source::Text(&["counters", "nfe"]), &r), Cell::Text(None), "a number is not text");
        assert_eq!(n(Source::ParsedText(&["answer"]), &r), Cell::Text(Some("walking".into())));
        assert_eq!(n(Source::ParsedText(&["answer"]), &rec("unknown_label")), Cell::Text(None));
        for (status, parsed) in [("ok", 1.0), ("truncated", 1.0), ("padded", 1.0), ("too_few", 0.0), ("no_answer", 0.0), ("bogus", 0.0)] {
            assert_eq!(n(Source::ParseSucceeded, &rec(status)), Cell::Number(Some(parsed)), "{status}");
        }
        let nfe = Column { name: "nfe", source: Source::Number(&["counters", "nfe"]) };
        assert_eq!(nfe.json(&r), Some(serde_json::json!(7)), "the record's own JSON value");
        assert_eq!(nfe.kind(), Kind::Number);
    }
}
