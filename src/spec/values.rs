//! Value types of the experiment file that serde alone does not cover:
//! a parameter that may be one value or a list to sweep (`Axis`), and the
//! soft-backup strength λ, which may be infinite (`Lambda`).

use std::borrow::Cow;
use std::fmt;

use figment::value::Value;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One value, or a list of values to sweep over.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Axis<T> {
    /// A single value.
    One(T),
    /// Several values; each becomes its own run.
    Many(Vec<T>),
}

impl<T: Clone> Axis<T> {
    /// The values of this axis, in the order written.
    pub fn values(&self) -> Vec<T> {
        match self {
            Axis::One(v) => vec![v.clone()],
            Axis::Many(vs) => vs.clone(),
        }
    }
}

impl<T: JsonSchema> JsonSchema for Axis<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Axis_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        json_schema!({
            "description": "One value, or a list of values to sweep over.",
            "anyOf": [one.clone(), { "type": "array", "items": one }]
        })
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Axis<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Buffer through figment's value type: unlike JSON values it keeps
        // infinities, and it is itself a deserializer with typed errors.
        let value = <Value as Deserialize>::deserialize(deserializer)?;
        match value {
            Value::Array(_, items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| T::deserialize(item).map_err(|e| D::Error::custom(format!("list item {i}: {}", e.kind))))
                .collect::<Result<Vec<T>, D::Error>>()
                .map(Axis::Many),
            other => T::deserialize(&other).map(Axis::One).map_err(|e| D::Error::custom(e.kind)),
        }
    }
}

/// λ ≥ 0, the inverse temperature of soft backups. `inf` (YAML `.inf`, or
/// the string `"inf"`) selects the max backup; it is written as `"inf"` in JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lambda(f64);

impl Lambda {
    pub const INFINITE: Lambda = Lambda(f64::INFINITY);
    pub const ONE: Lambda = Lambda(1.0);

    /// A λ from a float; rejects NaN and negative values.
    pub fn new(value: f64) -> Result<Lambda, String> {
        if value.is_nan() || value < 0.0 {
            Err(format!("lambda must be >= 0 or inf, got {value}"))
        } else {
            Ok(Lambda(value))
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }

    pub fn is_infinite(self) -> bool {
        self.0.is_infinite()
    }
}

impl fmt::Display for Lambda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_infinite() {
            f.write_str("inf")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for Lambda {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_infinite() {
            serializer.serialize_str("inf")
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Lambda {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Text(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| D::Error::custom("lambda must be a number >= 0 or inf"))? {
            Raw::Num(v) => Lambda::new(v).map_err(D::Error::custom),
            Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "inf" | ".inf" | "+inf" | "infinity" => Ok(Lambda::INFINITE),
                other => other
                    .parse::<f64>()
                    .map_err(|_| D::Error::custom(format!("lambda must be a number >= 0 or inf, got \"{s}\"")))
                    .and_then(|v| Lambda::new(v).map_err(D::Error::custom)),
            },
        }
    }
}

impl JsonSchema for Lambda {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Lambda".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Inverse temperature of soft backups, >= 0; `.inf` (YAML) or \"inf\" for the max backup.",
            "anyOf": [
                { "type": "number", "minimum": 0 },
                { "type": "string", "enum": ["inf", ".inf"] }
            ]
        })
    }
}

/// A free-form value of `sweep.include` / `sweep.exclude`, kept as JSON.
/// Read through figment's value type so that YAML `.inf` becomes `"inf"`
/// (the JSON spelling of λ = ∞) rather than being lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct JsonValue(pub serde_json::Value);

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(JsonValue(figment_to_json(&<Value as Deserialize>::deserialize(deserializer)?)))
    }
}

fn figment_to_json(value: &Value) -> serde_json::Value {
    use figment::value::Num;
    match value {
        Value::String(_, s) => serde_json::Value::String(s.clone()),
        Value::Char(_, c) => serde_json::Value::String(c.to_string()),
        Value::Bool(_, b) => serde_json::Value::Bool(*b),
        Value::Empty(_, _) => serde_json::Value::Null,
        Value::Array(_, items) => serde_json::Value::Array(items.iter().map(figment_to_json).collect()),
        Value::Dict(_, dict) => serde_json::Value::Object(dict.iter().map(|(k, v)| (k.clone(), figment_to_json(v))).collect()),
        Value::Num(_, num) => {
            let float = match *num {
                Num::F32(f) => Some(f as f64),
                Num::F64(f) => Some(f),
                _ => None,
            };
            match float {
                Some(f) if f.is_infinite() => serde_json::Value::String(if f > 0.0 { "inf".into() } else { "-inf".into() }),
                Some(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number),
                None => num
                    .to_i128()
                    .and_then(|i| i64::try_from(i).ok())
                    .map(|i| serde_json::Value::Number(i.into()))
                    .or_else(|| num.to_u128().and_then(|u| u64::try_from(u).ok()).map(|u| serde_json::Value::Number(u.into())))
                    .unwrap_or(serde_json::Value::Null),
            }
        }
    }
}

impl JsonSchema for JsonValue {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "AnyValue".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({ "description": "Any value: a method or model name, a seed, or a parameter value." })
    }
}
