//! The metrics a report can show: the name used on the command line, the
//! `samples.parquet` column it reads, and which direction is better.

use crate::store::columns;

use super::ReportError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// The name on the command line and in reports.
    pub name: &'static str,
    /// The column of `samples.parquet`.
    pub column: &'static str,
}

/// Every metric, in the order tables list them by default.
pub const ALL: &[Metric] = &[
    Metric { name: "reward", column: columns::REWARD },
    Metric { name: "smape", column: columns::SMAPE },
    Metric { name: "mase", column: columns::MASE },
    Metric { name: "accuracy", column: columns::CORRECT },
    Metric { name: "parsed", column: columns::PARSED },
    Metric { name: "nfe", column: columns::NFE },
    Metric { name: "tokens_generated", column: columns::TOKENS_GENERATED },
    Metric { name: "tokens_forwarded", column: columns::TOKENS_FORWARDED },
    Metric { name: "rollouts", column: columns::ROLLOUTS },
    Metric { name: "time", column: columns::WALL_SECONDS },
];

impl Metric {
    pub fn higher_is_better(&self) -> bool {
        columns::higher_is_better(self.column)
    }

    /// An arrow pointing to the better direction.
    pub fn arrow(&self) -> &'static str {
        if self.higher_is_better() {
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
        if self.higher_is_better() {
            s
        } else {
            -s
        }
    }
}

/// The metric named `name` (its report name or its column name).
pub fn parse(name: &str, flag: &'static str) -> Result<Metric, ReportError> {
    let name = name.trim();
    ALL.iter().find(|m| m.name == name || m.column == name).copied().ok_or_else(|| ReportError::UnknownName {
        flag,
        what: "metric",
        given: name.to_owned(),
        valid: ALL.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
    })
}

/// The metrics named in `names`, in that order, without repeats.
pub fn parse_list(names: &[String], flag: &'static str) -> Result<Vec<Metric>, ReportError> {
    let mut out: Vec<Metric> = Vec::new();
    for n in names.iter().filter(|n| !n.trim().is_empty()) {
        let m = parse(n, flag)?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// The default metrics: reward, then sMAPE and/or accuracy (whichever
/// `has_values` finds values for), NFE and generated tokens.
pub fn defaults(has_values: impl Fn(&str) -> bool) -> Vec<Metric> {
    ["reward", "smape", "accuracy", "nfe", "tokens_generated"]
        .iter()
        .filter_map(|n| ALL.iter().find(|m| m.name == *n))
        .filter(|m| !matches!(m.name, "smape" | "accuracy") || has_values(m.column))
        .copied()
        .collect()
}
