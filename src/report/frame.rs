//! Reading the columns of a samples DataFrame into plain vectors: metrics
//! as numbers, grouping columns as small integer codes with their values.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use polars::prelude::{Column, DataFrame, DataType, StringChunked};

use super::ReportError;

/// One value of a grouping column.
#[derive(Debug, Clone, PartialEq)]
pub enum Level {
    Int(i64),
    Float(f64),
    Str(String),
    /// The column is null here (e.g. a parameter that does not apply).
    Null,
}

impl Level {
    fn rank(&self) -> u8 {
        match self {
            Level::Int(_) => 0,
            Level::Float(_) => 1,
            Level::Str(_) => 2,
            Level::Null => 3,
        }
    }

    /// Numbers in numeric order, text in byte order, nulls last.
    pub fn order(&self, other: &Level) -> Ordering {
        match (self, other) {
            (Level::Int(a), Level::Int(b)) => a.cmp(b),
            (Level::Float(a), Level::Float(b)) => a.total_cmp(b),
            (Level::Str(a), Level::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    /// The value as JSON (infinite floats as the strings `inf`, `-inf`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Level::Int(i) => (*i).into(),
            Level::Float(f) if f.is_finite() => (*f).into(),
            Level::Float(f) => f.to_string().into(),
            Level::Str(s) => s.clone().into(),
            Level::Null => serde_json::Value::Null,
        }
    }

    /// A numeric value, for axes.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Level::Int(i) => Some(*i as f64),
            Level::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Int(i) => write!(f, "{i}"),
            Level::Float(x) => write!(f, "{x}"),
            Level::Str(s) => f.write_str(s),
            Level::Null => f.write_str("-"),
        }
    }
}

/// A column as one code per row and the distinct values the codes index
/// (in order of first appearance).
pub struct Coded {
    pub codes: Vec<u32>,
    pub levels: Vec<Level>,
}

fn get<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column, ReportError> {
    df.column(name).map_err(|_| ReportError::column(name, "missing from the samples"))
}

/// Whether the frame has a column `name`.
pub fn has(df: &DataFrame, name: &str) -> bool {
    df.column(name).is_ok()
}

/// A numeric column as `f64`s (null where null).
pub fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, ReportError> {
    Ok(crate::metrics::input::numbers(df, name)?)
}

/// A text column.
pub fn text<'a>(df: &'a DataFrame, name: &str) -> Result<&'a StringChunked, ReportError> {
    let col = get(df, name)?;
    col.str().map_err(|_| ReportError::column(name, format!("expected text, found {}", col.dtype())))
}

fn intern<K: std::hash::Hash + Eq + Clone>(values: impl Iterator<Item = Option<K>>, level: impl Fn(&K) -> Level) -> Coded {
    let mut ids: HashMap<Option<K>, u32> = HashMap::new();
    let mut levels = Vec::new();
    // Rows come run by run, so most values repeat the one before.
    let mut last: Option<(Option<K>, u32)> = None;
    let codes = values
        .map(|v| {
            if let Some((prev, id)) = &last {
                if *prev == v {
                    return *id;
                }
            }
            let id = match ids.get(&v) {
                Some(&id) => id,
                None => {
                    let id = levels.len() as u32;
                    levels.push(v.as_ref().map_or(Level::Null, &level));
                    ids.insert(v.clone(), id);
                    id
                }
            };
            last = Some((v, id));
            id
        })
        .collect();
    Coded { codes, levels }
}

/// A grouping column as codes and levels.
pub fn coded(df: &DataFrame, name: &str) -> Result<Coded, ReportError> {
    let col = get(df, name)?;
    let err = |e: polars::prelude::PolarsError| ReportError::column(name, e);
    let dtype = col.dtype();
    if dtype.is_integer() || dtype.is_bool() {
        let cast = col.cast(&DataType::Int64).map_err(err)?;
        Ok(intern(cast.i64().map_err(err)?.iter(), |v| Level::Int(*v)))
    } else if dtype.is_float() {
        let cast = col.cast(&DataType::Float64).map_err(err)?;
        let bits = cast.f64().map_err(err)?.iter().map(|v| v.filter(|x| !x.is_nan()).map(|x| (x + 0.0).to_bits()));
        Ok(intern(bits, |b| Level::Float(f64::from_bits(*b))))
    } else if dtype.is_null() {
        Ok(Coded { codes: vec![0; col.len()], levels: vec![Level::Null] })
    } else {
        let cast = col.cast(&DataType::String).map_err(err)?;
        Ok(intern(cast.str().map_err(err)?.iter(), |s: &&str| Level::Str((*s).to_owned())))
    }
}
