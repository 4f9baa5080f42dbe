//! A run's value of every metric over all its samples: the `mean_*` and
//! set-statistic columns of `summary.parquet` and the aggregates of its W&B
//! summary.

use polars::prelude::{ChunkAgg, DataFrame, DataType};

use super::input::{self, SampleOrder};
use super::{Aggregate, Metric, MetricsError, ALL};

/// The value of `metric` over every sample of `df`; `None` where no sample
/// has one, or where `df` lacks the metric's columns (results written
/// before the metric existed).
pub fn value(df: &DataFrame, metric: &Metric) -> Result<Option<f64>, MetricsError> {
    match metric.aggregate {
        Aggregate::Mean(c) => {
            let Ok(col) = df.column(c.name) else { return Ok(None) };
            let cast = col.cast(&DataType::Float64).map_err(|e| MetricsError::column(c.name, e))?;
            Ok(cast.f64().map_err(|e| MetricsError::column(c.name, e))?.mean())
        }
        Aggregate::Set(stat) => {
            if stat.inputs().iter().any(|c| df.column(c.name).is_err()) {
                return Ok(None);
            }
            let inputs = input::read_all(df, stat.inputs())?;
            let usable = stat.usable(&inputs)?;
            let mut rows: Vec<u32> = (0..df.height() as u32).filter(|&r| usable[r as usize]).collect();
            SampleOrder::of(df)?.sort(&mut rows);
            Ok(stat.sample(&inputs, &rows)?.value_of_all())
        }
    }
}

/// `(key, value)` of every metric over the samples of `df`, in the order
/// of the registry (keys as [`Metric::aggregate_key`]).
pub fn all(df: &DataFrame) -> Result<Vec<(String, Option<f64>)>, MetricsError> {
    ALL.iter().map(|m| Ok((m.aggregate_key(), value(df, m)?))).collect()
}
