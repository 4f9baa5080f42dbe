//! A metric's columns read from a samples DataFrame (one row per sample),
//! and the order in which set statistics take samples.

use polars::prelude::{DataFrame, DataType};

use super::column::{Column, Kind};
use super::MetricsError;
use crate::store::columns::{RUN_ID, SAMPLE_ID};

/// The values of one column, one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Numbers(Vec<Option<f64>>),
    Texts(Vec<Option<String>>),
}

fn get<'a>(df: &'a DataFrame, name: &str) -> Result<&'a polars::prelude::Column, MetricsError> {
    df.column(name).map_err(|_| MetricsError::column(name, "missing from the samples"))
}

/// A numeric (or boolean, or all-null) column as `f64`s, null where null.
pub fn numbers(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, MetricsError> {
    let col = get(df, name)?;
    if !(col.dtype().is_primitive_numeric() || col.dtype().is_bool() || col.dtype().is_null()) {
        return Err(MetricsError::column(name, format!("expected numbers, found {}", col.dtype())));
    }
    let cast = col.cast(&DataType::Float64).map_err(|e| MetricsError::column(name, e))?;
    let ca = cast.f64().map_err(|e| MetricsError::column(name, e))?;
    Ok(ca.iter().collect())
}

/// A text (or all-null) column, null where null.
pub fn texts(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, MetricsError> {
    let col = get(df, name)?;
    if !(col.dtype().is_string() || col.dtype().is_null()) {
        return Err(MetricsError::column(name, format!("expected text, found {}", col.dtype())));
    }
    let cast = col.cast(&DataType::String).map_err(|e| MetricsError::column(name, e))?;
    let ca = cast.str().map_err(|e| MetricsError::column(name, e))?;
    Ok(ca.iter().map(|v| v.map(str::to_owned)).collect())
}

/// `column` of `df`, typed as the column is.
pub fn read(df: &DataFrame, column: &Column) -> Result<Input, MetricsError> {
    match column.kind() {
        Kind::Number => numbers(df, column.name).map(Input::Numbers),
        Kind::Text => texts(df, column.name).map(Input::Texts),
    }
}

/// The columns `columns` of `df`, in that order.
pub fn read_all(df: &DataFrame, columns: &[Column]) -> Result<Vec<Input>, MetricsError> {
    columns.iter().map(|c| read(df, c)).collect()
}

impl Input {
    pub fn as_numbers(&self, name: &str) -> Result<&[Option<f64>], MetricsError> {
        match self {
            Input::Numbers(v) => Ok(v),
            Input::Texts(_) => Err(MetricsError::column(name, "expected numbers, found text")),
        }
    }

    pub fn as_texts(&self, name: &str) -> Result<&[Option<String>], MetricsError> {
        match self {
            Input::Texts(v) => Ok(v),
            Input::Numbers(_) => Err(MetricsError::column(name, "expected text, found numbers")),
        }
    }
}

/// The order in which a set statistic takes its samples: by run id, then
/// sample id, so that the order of the rows in the frame changes nothing
/// (neither the sums nor the bootstrap draws).
pub struct SampleOrder<'a> {
    keys: Vec<(Option<&'a str>, Option<&'a str>)>,
}

impl<'a> SampleOrder<'a> {
    pub fn of(df: &'a DataFrame) -> Result<SampleOrder<'a>, MetricsError> {
        let text = |name: &str| {
            let col = get(df, name)?;
            col.str().map_err(|_| MetricsError::column(name, format!("expected text, found {}", col.dtype())))
        };
        let (runs, samples) = (text(RUN_ID)?, text(SAMPLE_ID)?);
        Ok(SampleOrder { keys: runs.iter().zip(samples.iter()).collect() })
    }

    /// Sorts row indices into this order.
    pub fn sort(&self, rows: &mut [u32]) {
        rows.sort_by(|&a, &b| self.keys[a as usize].cmp(&self.keys[b as usize]));
    }

    /// Sorts pairs of rows `(other, ours)` by the key of their second row,
    /// a row of this frame.
    pub fn sort_pairs(&self, pairs: &mut [(u32, u32)]) {
        pairs.sort_by(|x, y| self.keys[x.1 as usize].cmp(&self.keys[y.1 as usize]));
    }
}
