//! The columns of `samples.parquet` (one row per sample) and
//! `summary.parquet` (one row per run), named once.
//!
//! Sample tables: identity columns, the sweep parameters (null where a
//! parameter does not apply to the run's method), then per-sample metrics
//! and the text columns of metrics (see `metrics::registry`).

use std::sync::LazyLock;

use crate::metrics::{self, registry, Kind};
use crate::spec::{self, ColumnType};

/// Identity of the row.
pub const RUN_ID: &str = "run_id";
pub const SAMPLE_ID: &str = "sample_id";
pub const SAMPLE_INDEX: &str = "sample_index";
/// The spec's labels of model, dataset and method entry.
pub const MODEL: &str = "model";
pub const DATASET: &str = "dataset";
pub const METHOD_NAME: &str = "method_name";
/// The method kind (`greedy`, `best_of_n`, `mcts`, `dts`, `dts_star`, `maxent_ts`).
pub const METHOD: &str = "method";
/// The run's seed; null for deterministic methods.
pub const SEED: &str = "seed";

/// The rollout budget (null for methods without one, such as greedy).
pub const NUM_ROLLOUTS: &str = "num_rollouts";
/// Sweep parameters, as columns (declared with the parameters in
/// `spec::params`): integer ones (Int64, nullable).
pub static INT_PARAMS: LazyLock<Vec<&'static str>> = LazyLock::new(|| spec::columns(ColumnType::Int));
/// Floating-point ones (Float64, nullable; `lambda` = inf for the max backup).
pub static FLOAT_PARAMS: LazyLock<Vec<&'static str>> = LazyLock::new(|| spec::columns(ColumnType::Float));

/// Per-sample metric columns (Float64; null where undefined, e.g. `smape`
/// for activity recognition, `correct` for forecasting), in the order of
/// `metrics::registry`, which defines them.
pub static METRICS: LazyLock<Vec<&'static str>> = LazyLock::new(|| metrics::column_names(Kind::Number));
/// Per-sample text columns the metrics read (Utf8; e.g. the true and
/// predicted labels of activity samples), in the registry's order.
pub static TEXTS: LazyLock<Vec<&'static str>> = LazyLock::new(|| metrics::column_names(Kind::Text));

/// Text columns kept for inspection (Utf8).
pub const OUTPUT: &str = "output";
pub const PARSE_STATUS: &str = "parse_status";

/// Columns (of records, sample tables and the summary) that measure time
/// or depend on how work was scheduled, and so differ between two
/// computations of the same results; everything else is reproducible bit
/// for bit.
pub const TIMING_COLUMNS: &[&str] = &[registry::WALL_SECONDS.name, "mean_wall_seconds", "mean_batch"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_columns_are_a_column_and_its_summary_key() {
        let time = metrics::find(registry::WALL_SECONDS.name).map(metrics::Metric::aggregate_key);
        assert_eq!(time.as_deref(), Some(TIMING_COLUMNS[1]));
        assert!(METRICS.contains(&TIMING_COLUMNS[0]));
    }
}
