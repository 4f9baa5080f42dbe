//! Grouping samples by the values of some columns: which columns may be
//! grouped by, the default grouping, and the groups in a fixed order.

use std::collections::HashMap;

use polars::prelude::DataFrame;

use super::frame::{self, Level};
use super::ReportError;
use crate::store::columns;

/// Columns a report can group by: run labels, then sweep parameters.
pub fn groupable() -> Vec<&'static str> {
    let mut v = vec![columns::MODEL, columns::DATASET, columns::METHOD_NAME, columns::METHOD, columns::SEED, columns::RUN_ID];
    v.extend_from_slice(&columns::INT_PARAMS);
    v.extend_from_slice(&columns::FLOAT_PARAMS);
    v
}

/// Checks the `--by` names against [`groupable`] and the frame's columns.
pub fn parse_by(names: &[String], df: &DataFrame, flag: &'static str) -> Result<Vec<String>, ReportError> {
    let valid = groupable();
    let mut out: Vec<String> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !valid.contains(&name) {
            return Err(ReportError::UnknownName { flag, what: "column", given: name.to_owned(), valid: valid.join(", ") });
        }
        if !frame::has(df, name) {
            return Err(ReportError::column(name, "missing from the samples"));
        }
        if !out.iter().any(|o| o == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// The default grouping: model and dataset where they take more than one
/// value, then the method's label.
pub fn default_by(df: &DataFrame) -> Result<Vec<String>, ReportError> {
    let mut by = Vec::new();
    for name in [columns::MODEL, columns::DATASET] {
        if frame::has(df, name) && frame::coded(df, name)?.levels.len() > 1 {
            by.push(name.to_owned());
        }
    }
    by.push(columns::METHOD_NAME.to_owned());
    Ok(by)
}

/// Rows split into groups: `ids[row]` is the row's group, `keys[g]` the
/// values of the grouping columns of group `g`. Groups are ordered by their
/// keys, column by column.
pub struct Grouping {
    pub by: Vec<String>,
    pub keys: Vec<Vec<Level>>,
    pub ids: Vec<u32>,
}

impl Grouping {
    /// Groups the rows of `df` by the columns `by` (one group when empty).
    pub fn of(df: &DataFrame, by: &[String]) -> Result<Grouping, ReportError> {
        let height = df.height();
        let mut ids = vec![0u32; height];
        // Level indices (into each column's levels) of every combined id.
        let mut tuples: Vec<Vec<u32>> = vec![Vec::new()];
        let mut levels: Vec<Vec<Level>> = Vec::new();
        for name in by {
            let coded = frame::coded(df, name)?;
            let mut next: HashMap<(u32, u32), u32> = HashMap::new();
            let mut next_tuples: Vec<Vec<u32>> = Vec::new();
            let mut last: Option<((u32, u32), u32)> = None;
            for (id, &code) in ids.iter_mut().zip(&coded.codes) {
                let key = (*id, code);
                if let Some((k, n)) = last {
                    if k == key {
                        *id = n;
                        continue;
                    }
                }
                *id = match next.get(&key) {
                    Some(&n) => n,
                    None => {
                        let n = next_tuples.len() as u32;
                        let mut t = tuples[*id as usize].clone();
                        t.push(code);
                        next_tuples.push(t);
                        next.insert(key, n);
                        n
                    }
                };
                last = Some((key, *id));
            }
            tuples = next_tuples;
            levels.push(coded.levels);
        }
        if height == 0 {
            tuples.clear();
        }
        let keys_unordered: Vec<Vec<Level>> =
            tuples.iter().map(|t| t.iter().zip(&levels).map(|(&c, lv)| lv[c as usize].clone()).collect()).collect();
        let mut order: Vec<usize> = (0..keys_unordered.len()).collect();
        order.sort_by(|&a, &b| {
            keys_unordered[a]
                .iter()
                .zip(&keys_unordered[b])
                .map(|(x, y)| x.order(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut rank = vec![0u32; order.len()];
        for (r, &g) in order.iter().enumerate() {
            rank[g] = r as u32;
        }
        for id in &mut ids {
            *id = rank[*id as usize];
        }
        let keys = order.into_iter().map(|g| keys_unordered[g].clone()).collect();
        Ok(Grouping { by: by.to_vec(), keys, ids })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The row indices of every group, in row order.
    pub fn rows(&self) -> Vec<Vec<u32>> {
        let mut rows = vec![Vec::new(); self.keys.len()];
        for (r, &g) in self.ids.iter().enumerate() {
            rows[g as usize].push(r as u32);
        }
        rows
    }
}

/// The finite values of `column` at `rows` (nulls and NaN left out).
pub fn values_at(column: &[Option<f64>], rows: &[u32]) -> Vec<f64> {
    rows.iter().filter_map(|&r| column[r as usize]).filter(|v| v.is_finite()).collect()
}
