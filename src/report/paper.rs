//! The paper layout of the aggregate table (`runner table --layout paper`):
//! one block per model and dataset, a row per method entry, a column per
//! rollout budget (`num_rollouts`; methods without one, such as greedy,
//! under `-`), each cell the block's primary metric as mean ± half its
//! 95% interval. Seeds of a method entry are pooled, as in the long table;
//! runs that differ in any other swept parameter (λ, `expansion_k`, ...)
//! are never pooled: each value gets its own row, labelled with it.

use polars::prelude::DataFrame;

use super::bootstrap::Estimate;
use super::frame::Level;
use super::group::Grouping;
use super::metric::{self, Metric};
use super::provenance::{Provenance, Source};
use super::table::{estimates, resolve_metrics};
use super::{frame, ReportError};
use crate::store::columns;

/// The metrics a block shows by default, first that has values in it:
/// OWA for forecasting (the M4 competition's ranking measure), accuracy
/// for classification, else the reward.
pub const PRIMARY: &[&str] = &["owa", "accuracy", "reward"];

#[derive(Debug, Clone)]
pub struct PaperTable {
    pub provenance: Provenance,
    pub blocks: Vec<Block>,
}

/// One model on one dataset.
#[derive(Debug, Clone)]
pub struct Block {
    pub model: Level,
    pub dataset: Level,
    pub metric: Metric,
    /// The rollout budgets, ascending (`Level::Null` first: no budget).
    pub budgets: Vec<Level>,
    pub rows: Vec<PaperRow>,
}

#[derive(Debug, Clone)]
pub struct PaperRow {
    pub method: Level,
    /// The swept parameters (other than the budget) that tell this row
    /// from others of its method entry, where they apply.
    pub params: Vec<(String, Level)>,
    /// One per budget: the estimate, or `None` where the method has no run.
    pub cells: Vec<Option<Estimate>>,
}

impl PaperRow {
    /// `method` or `method (name=value, ...)`.
    pub fn label(&self) -> String {
        if self.params.is_empty() {
            return self.method.to_string();
        }
        let params: Vec<String> = self.params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        format!("{} ({})", self.method, params.join(", "))
    }
}

impl Block {
    /// The best mean of the column of budget `b` (only when more than one
    /// method has a value there).
    pub fn best(&self, b: usize) -> Option<f64> {
        let higher = self.metric.higher_is_better;
        let means: Vec<f64> = self.rows.iter().filter_map(|r| r.cells[b].map(|c| c.mean)).collect();
        if means.len() < 2 {
            return None;
        }
        means.into_iter().reduce(|a, x| if (x > a) == higher { x } else { a })
    }
}

/// The paper table of `df`; `metrics` (at most one) overrides
/// [`PRIMARY`] in every block.
pub fn build(df: &DataFrame, source: Source, metrics: Option<&[String]>) -> Result<PaperTable, ReportError> {
    if df.height() == 0 {
        return Err(ReportError::Empty(format!("{}: no samples to tabulate (no complete runs?)", source.results_dir)));
    }
    let candidates: Vec<Metric> = match metrics {
        Some(names) if names.iter().filter(|n| !n.trim().is_empty()).count() > 1 => {
            return Err(ReportError::Layout(format!(
                "shows one metric per block; --metrics names {} (give one, or use --layout long)",
                names.join(",")
            )))
        }
        Some(names) if names.iter().any(|n| !n.trim().is_empty()) => resolve_metrics(df, Some(names))?,
        _ => {
            let names: Vec<String> = PRIMARY.iter().map(|s| (*s).to_owned()).collect();
            let all = metric::parse_list(&names, "metrics")?;
            let present = resolve_metrics(df, None)?;
            all.into_iter().filter(|m| present.contains(m)).collect()
        }
    };
    let base: Vec<String> = [columns::MODEL, columns::DATASET, columns::METHOD_NAME, columns::NUM_ROLLOUTS].map(String::from).to_vec();
    for b in &base {
        if !frame::has(df, b) {
            return Err(ReportError::column(b, "missing from the samples (the paper layout needs it)"));
        }
    }
    let varying = varying_params(df, &base)?;
    let budget_at = 3 + varying.len();
    let mut by = base[..3].to_vec();
    by.extend(varying.iter().cloned());
    by.push(columns::NUM_ROLLOUTS.to_owned());
    let grouping = Grouping::of(df, &by)?;
    let cells = estimates(df, &grouping, &candidates)?;
    let provenance = Provenance::of(df, source)?;
    let mut blocks: Vec<Block> = Vec::new();
    for key in &grouping.keys {
        let (model, dataset, budget) = (&key[0], &key[1], &key[budget_at]);
        let same = |b: &Block| b.model == *model && b.dataset == *dataset;
        if !blocks.last().is_some_and(same) {
            blocks.push(Block {
                model: model.clone(),
                dataset: dataset.clone(),
                metric: candidates[0],
                budgets: Vec::new(),
                rows: Vec::new(),
            });
        }
        let Some(block) = blocks.last_mut() else { continue };
        if !block.budgets.contains(budget) {
            block.budgets.push(budget.clone());
        }
    }
    // Second pass, now that each block knows its budgets.
    for block in &mut blocks {
        // No budget (`-`) first, then ascending.
        block.budgets.sort_by(|a, b| (*a != Level::Null).cmp(&(*b != Level::Null)).then(a.order(b)));
        let in_block = |key: &[Level]| key[0] == block.model && key[1] == block.dataset;
        let metric_index =
            (0..candidates.len()).find(|&m| grouping.keys.iter().zip(&cells).any(|(k, c)| in_block(k) && c[m].is_some())).unwrap_or(0);
        block.metric = candidates[metric_index];
        for (key, c) in grouping.keys.iter().zip(&cells).filter(|(k, _)| in_block(k)) {
            let b = block.budgets.iter().position(|x| *x == key[budget_at]).unwrap_or(0);
            let params: Vec<(String, Level)> =
                varying.iter().zip(&key[3..budget_at]).filter(|(_, v)| **v != Level::Null).map(|(n, v)| (n.clone(), v.clone())).collect();
            let row = match block.rows.iter().position(|r| r.method == key[2] && r.params == params) {
                Some(i) => &mut block.rows[i],
                None => {
                    block.rows.push(PaperRow { method: key[2].clone(), params, cells: vec![None; block.budgets.len()] });
                    let last = block.rows.len() - 1;
                    &mut block.rows[last]
                }
            };
            row.cells[b] = c[metric_index];
        }
        // A label names only what tells a method entry's rows apart.
        let methods: Vec<Level> = block.rows.iter().map(|r| r.method.clone()).collect();
        for m in &methods {
            let same: Vec<&PaperRow> = block.rows.iter().filter(|r| r.method == *m).collect();
            let constant: Vec<String> = varying
                .iter()
                .filter(|p| {
                    let value = |r: &PaperRow| r.params.iter().find(|(n, _)| n == *p).map(|(_, v)| v.clone());
                    same.iter().all(|r| value(r) == value(same[0]))
                })
                .cloned()
                .collect();
            for r in block.rows.iter_mut().filter(|r| r.method == *m) {
                r.params.retain(|(n, _)| !constant.contains(n));
            }
        }
    }
    Ok(PaperTable { provenance, blocks })
}

/// The swept parameters, other than the budget, that take more than one
/// value within some group of `base` (model, dataset, method entry,
/// budget): each becomes part of the row key, so no cell pools them.
fn varying_params(df: &DataFrame, base: &[String]) -> Result<Vec<String>, ReportError> {
    let groups = Grouping::of(df, base)?.len();
    let params = columns::INT_PARAMS.iter().chain(columns::FLOAT_PARAMS.iter()).filter(|p| **p != columns::NUM_ROLLOUTS);
    let mut out = Vec::new();
    for p in params.filter(|p| frame::has(df, p)) {
        let mut finer = base.to_vec();
        finer.push((*p).to_owned());
        if Grouping::of(df, &finer)?.len() > groups {
            out.push((*p).to_owned());
        }
    }
    Ok(out)
}
