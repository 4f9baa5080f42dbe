//! The per-sample metrics, defined once (in [`registry`]): for each, its
//! name on the command line, the `samples.parquet` columns it reads and
//! where their values come from in a `samples.jsonl` record, which
//! direction is better, and how a group of samples is summarized (the mean
//! of one column, or a set statistic over several). Records become rows,
//! rows become parquet columns, and the summary, tables, diffs, figures and
//! W&B summaries all follow from the same table.

pub mod aggregate;
pub mod column;
mod error;
pub mod input;
pub mod registry;
pub mod set_stat;

pub use column::{Cell, Column, Kind, Source};
pub use error::MetricsError;
pub use registry::ALL;
pub use set_stat::{SetSample, SetStat};

/// How a group of samples is summarized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// The mean of the column over the samples where it is defined.
    Mean(Column),
    /// A statistic of the set of samples (see [`set_stat`]).
    Set(SetStat),
}

/// When a table shows the metric without `--metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Always,
    /// When the samples have values of it (e.g. sMAPE for forecasting).
    WithValues,
    /// Only when asked for.
    OnRequest,
}

/// The metric's place in figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Plotted on y, against compute.
    Quality,
    /// Plotted on x.
    Compute,
    NotPlotted,
}

/// One metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The name of `--metrics`, tables and diffs.
    pub name: &'static str,
    /// The name in figure titles and axes.
    pub label: &'static str,
    pub higher_is_better: bool,
    pub aggregate: Aggregate,
    pub table: Shown,
    pub figure: Role,
}

impl Metric {
    /// The column averaged, for a mean.
    pub fn column(&self) -> Option<&'static str> {
        match self.aggregate {
            Aggregate::Mean(c) => Some(c.name),
            Aggregate::Set(_) => None,
        }
    }

    /// Every column the metric reads.
    pub fn columns(&'static self) -> &'static [Column] {
        match &self.aggregate {
            Aggregate::Mean(c) => std::slice::from_ref(c),
            Aggregate::Set(s) => s.inputs(),
        }
    }

    /// The column whose values show that the metric applies to samples.
    pub fn evidence(&self) -> Column {
        match self.aggregate {
            Aggregate::Mean(c) => c,
            Aggregate::Set(s) => s.evidence(),
        }
    }

    pub fn is_set(&self) -> bool {
        matches!(self.aggregate, Aggregate::Set(_))
    }

    /// The key of the metric's per-run value in `summary.parquet` and W&B
    /// summaries: `mean_<column>` for a mean, the name for a set statistic.
    pub fn aggregate_key(&self) -> String {
        match self.aggregate {
            Aggregate::Mean(c) => format!("mean_{}", c.name),
            Aggregate::Set(_) => self.name.to_owned(),
        }
    }

    /// An arrow pointing to the better direction.
    pub fn arrow(&self) -> &'static str {
        if self.higher_is_better {
            "↑"
        } else {
            "↓"
        }
    }

    /// `d` (later minus earlier) as an improvement (+1), a worsening (-1)
    /// or neither (0).
    pub fn direction_of(&self, d: f64) -> i8 {
        let s = if d > 0.0 {
            1
        } else if d < 0.0 {
            -1
        } else {
            0
        };
        if self.higher_is_better {
            s
        } else {
            -s
        }
    }
}

/// The metric named `name`: its name, or the column it averages.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|m| m.name == name || m.column() == Some(name))
}

/// Every per-sample column the metrics read, each once, in the order of
/// [`ALL`].
pub fn columns() -> Vec<Column> {
    let mut out: Vec<Column> = Vec::new();
    for c in ALL.iter().flat_map(Metric::columns) {
        if !out.iter().any(|o| o.name == c.name) {
            out.push(*c);
        }
    }
    out
}

/// The names of the per-sample columns of `kind`, in the order of [`columns`].
pub fn column_names(kind: Kind) -> Vec<&'static str> {
    columns().into_iter().filter(|c| c.kind() == kind).map(|c| c.name).collect()
}

/// The per-sample column named `name`.
pub fn column(name: &str) -> Option<Column> {
    columns().into_iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keys_and_columns_are_unique_and_consistent() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.extend(ALL.iter().filter_map(|m| m.column().filter(|c| !ALL.iter().any(|o| o.name == *c))));
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a name or column names two metrics: {names:?}");
        let mut keys: Vec<String> = ALL.iter().map(Metric::aggregate_key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ALL.len());
        // A column read by two metrics is defined the same way for both.
        for a in ALL.iter().flat_map(Metric::columns) {
            for b in ALL.iter().flat_map(Metric::columns).filter(|b| b.name == a.name) {
                assert_eq!(a, b);
            }
        }
        // Means average numbers.
        assert!(ALL.iter().filter_map(|m| m.column()).all(|c| column(c).is_some_and(|c| c.kind() == Kind::Number)));
    }

    #[test]
    fn existing_names_and_columns_stay() {
        for (name, column) in [
            ("reward", "reward"),
            ("smape", "smape"),
            ("mase", "mase"),
            ("accuracy", "correct"),
            ("parsed", "parsed"),
            ("nfe", "nfe"),
            ("tokens_generated", "tokens_generated"),
            ("tokens_forwarded", "tokens_forwarded"),
            ("rollouts", "rollouts"),
            ("time", "wall_seconds"),
        ] {
            assert_eq!(find(name).and_then(Metric::column), Some(column), "{name}");
            assert_eq!(find(column).map(|m| m.name), Some(name), "{column}");
        }
        assert_eq!(find("owa").map(Metric::aggregate_key).as_deref(), Some("owa"));
        assert_eq!(find("f1").map(Metric::aggregate_key).as_deref(), Some("f1"));
        assert_eq!(find("time").map(Metric::aggregate_key).as_deref(), Some("mean_wall_seconds"));
        assert_eq!(
            column_names(Kind::Number),
            [
                "reward",
                "smape",
                "mase",
                "smape_naive2",
                "mase_naive2",
                "correct",
                "parsed",
                "nfe",
                "tokens_generated",
                "tokens_forwarded",
                "rollouts",
                "wall_seconds"
            ]
        );
        assert_eq!(column_names(Kind::Text), ["true_label", "predicted_label"]);
    }
}
