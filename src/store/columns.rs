//! The columns of `samples.parquet` (one row per sample) and
//! `summary.parquet` (one row per run), named once.
//!
//! Sample tables: identity columns, the sweep parameters (null where a
//! parameter does not apply to the run's method), then per-sample metrics.

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

/// Sweep parameters, as columns: integer ones (Int64, nullable).
pub const INT_PARAMS: &[&str] = &["num_rollouts", "expansion_k", "max_new_tokens", "top_k"];
/// Floating-point ones (Float64, nullable; `lambda` = inf for the max backup).
pub const FLOAT_PARAMS: &[&str] = &["sampling_temperature", "top_p", "lambda", "c_uct", "c_puct"];

/// Per-sample metrics (Float64; null where undefined, e.g. `smape` for
/// activity recognition, `correct` for forecasting).
pub const REWARD: &str = "reward";
pub const SMAPE: &str = "smape";
pub const MASE: &str = "mase";
/// 1.0 when the predicted label is right, 0.0 when not.
pub const CORRECT: &str = "correct";
/// 1.0 when the answer could be read.
pub const PARSED: &str = "parsed";
pub const NFE: &str = "nfe";
pub const TOKENS_GENERATED: &str = "tokens_generated";
pub const TOKENS_FORWARDED: &str = "tokens_forwarded";
pub const ROLLOUTS: &str = "rollouts";
pub const WALL_SECONDS: &str = "wall_seconds";
/// Every per-sample metric column, all Float64.
pub const METRICS: &[&str] = &[REWARD, SMAPE, MASE, CORRECT, PARSED, NFE, TOKENS_GENERATED, TOKENS_FORWARDED, ROLLOUTS, WALL_SECONDS];

/// Text columns kept for inspection (Utf8).
pub const OUTPUT: &str = "output";
pub const PARSE_STATUS: &str = "parse_status";

/// Columns (of records, sample tables and the summary) that measure time
/// or depend on how work was scheduled, and so differ between two
/// computations of the same results; everything else is reproducible bit
/// for bit.
pub const TIMING_COLUMNS: &[&str] = &[WALL_SECONDS, "mean_wall_seconds", "mean_batch"];

/// Whether a larger value of a metric is better (reward, accuracy, F1) or
/// worse (errors, compute, time).
pub fn higher_is_better(metric: &str) -> bool {
    matches!(metric, "reward" | "correct" | "accuracy" | "parsed" | "f1" | "macro_f1")
}
