//! The metrics, one entry each, and the per-sample columns they read.
//!
//! A metric that averages one column is an entry whose aggregate is
//! `Mean(column)`; one computed from the whole set of a group's samples is
//! `Set(statistic)`, the statistic naming its columns in `set_stat`. The
//! columns of `samples.parquet`, the `mean_*` and set-statistic columns of
//! `summary.parquet`, the W&B summary keys and the report metrics are
//! these entries, in this order.

use super::column::{Column, Source};
use super::set_stat::SetStat;
use super::Aggregate::{Mean, Set};
use super::{Metric, Role, Shown};

pub const REWARD: Column = Column { name: "reward", source: Source::Number(&["reward"]) };
pub const SMAPE: Column = Column { name: "smape", source: Source::Number(&["metrics", "smape"]) };
pub const MASE: Column = Column { name: "mase", source: Source::Number(&["metrics", "mase"]) };
/// The Naive2 benchmark's errors on the same series.
pub const SMAPE_NAIVE2: Column = Column { name: "smape_naive2", source: Source::Number(&["metrics", "smape_naive2"]) };
pub const MASE_NAIVE2: Column = Column { name: "mase_naive2", source: Source::Number(&["metrics", "mase_naive2"]) };
/// 1 when the predicted label is right, 0 when not.
pub const CORRECT: Column = Column { name: "correct", source: Source::Number(&["metrics", "correct"]) };
/// The true label of an activity sample (a forecast's truth is no label).
pub const TRUE_LABEL: Column = Column { name: "true_label", source: Source::Text(&["truth"]) };
/// The parsed label; null when the answer could not be read.
pub const PREDICTED_LABEL: Column = Column { name: "predicted_label", source: Source::ParsedText(&["answer"]) };
/// 1 when the answer could be read.
pub const PARSED: Column = Column { name: "parsed", source: Source::ParseSucceeded };
pub const NFE: Column = Column { name: "nfe", source: Source::Number(&["counters", "nfe"]) };
pub const TOKENS_GENERATED: Column = Column { name: "tokens_generated", source: Source::Number(&["counters", "tokens_generated"]) };
pub const TOKENS_FORWARDED: Column = Column { name: "tokens_forwarded", source: Source::Number(&["counters", "tokens_forwarded"]) };
pub const ROLLOUTS: Column = Column { name: "rollouts", source: Source::Number(&["counters", "rollouts"]) };
/// Seconds the sample took (a timing column: see `store::columns::TIMING_COLUMNS`).
pub const WALL_SECONDS: Column = Column { name: "wall_seconds", source: Source::Number(&["wall_seconds"]) };

/// Every metric, in the order of tables and files.
pub const ALL: &[Metric] = &[
    Metric {
        name: "reward",
        label: "reward",
        higher_is_better: true,
        aggregate: Mean(REWARD),
        table: Shown::Always,
        figure: Role::Quality,
    },
    Metric {
        name: "smape",
        label: "sMAPE",
        higher_is_better: false,
        aggregate: Mean(SMAPE),
        table: Shown::WithValues,
        figure: Role::Quality,
    },
    Metric {
        name: "mase",
        label: "MASE",
        higher_is_better: false,
        aggregate: Mean(MASE),
        table: Shown::OnRequest,
        figure: Role::NotPlotted,
    },
    Metric {
        name: "smape_naive2",
        label: "Naive2 sMAPE",
        higher_is_better: false,
        aggregate: Mean(SMAPE_NAIVE2),
        table: Shown::OnRequest,
        figure: Role::NotPlotted,
    },
    Metric {
        name: "mase_naive2",
        label: "Naive2 MASE",
        higher_is_better: false,
        aggregate: Mean(MASE_NAIVE2),
        table: Shown::OnRequest,
        figure: Role::NotPlotted,
    },
    Metric {
        name: "owa",
        label: "OWA",
        higher_is_better: false,
        aggregate: Set(SetStat::Owa),
        table: Shown::WithValues,
        figure: Role::Quality,
    },
    Metric {
        name: "accuracy",
        label: "accuracy",
        higher_is_better: true,
        aggregate: Mean(CORRECT),
        table: Shown::WithValues,
        figure: Role::Quality,
    },
    Metric {
        name: "f1",
        label: "macro-F1",
        higher_is_better: true,
        aggregate: Set(SetStat::MacroF1),
        table: Shown::WithValues,
        figure: Role::Quality,
    },
    Metric {
        name: "parsed",
        label: "parse rate",
        higher_is_better: true,
        aggregate: Mean(PARSED),
        table: Shown::Always,
        figure: Role::NotPlotted,
    },
    Metric { name: "nfe", label: "NFE", higher_is_better: false, aggregate: Mean(NFE), table: Shown::Always, figure: Role::Compute },
    Metric {
        name: "tokens_generated",
        label: "generated tokens",
        higher_is_better: false,
        aggregate: Mean(TOKENS_GENERATED),
        table: Shown::Always,
        figure: Role::Compute,
    },
    Metric {
        name: "tokens_forwarded",
        label: "forwarded tokens",
        higher_is_better: false,
        aggregate: Mean(TOKENS_FORWARDED),
        table: Shown::OnRequest,
        figure: Role::NotPlotted,
    },
    Metric {
        name: "rollouts",
        label: "rollouts",
        higher_is_better: false,
        aggregate: Mean(ROLLOUTS),
        table: Shown::OnRequest,
        figure: Role::NotPlotted,
    },
    Metric {
        name: "time",
        label: "seconds",
        higher_is_better: false,
        aggregate: Mean(WALL_SECONDS),
        table: Shown::OnRequest,
        figure: Role::NotPlotted,
    },
];
