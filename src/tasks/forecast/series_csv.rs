//! A plain CSV of series in long format, one value per row:
//!
//! ```text
//! id,part,value,frequency,period
//! s1,history,10.5,monthly,12
//! s1,history,11.0,,
//! s1,future,12.25,,
//! ```
//!
//! - `id`, `part` and `value` are required; `part` is `history` or `future`
//!   (the future's length is the horizon, at least 1);
//! - `frequency` (optional) is the group for stratification, lowercased
//!   (default `all`);
//! - `period` (optional) is the seasonal period; when absent it follows the
//!   frequency name by the M4 rules, else 1;
//! - a series' rows need not be contiguous; its values keep row order;
//!   series keep the order of their first row; `frequency` and `period` may
//!   be given on any of a series' rows but must agree where given;
//! - extra columns are ignored; a header is required.
use std::collections::HashMap;
use std::path::Path;

use super::{seasonal_period, RawSeries};
use crate::tasks::error::TaskError;

#[derive(Default)]
struct Acc {
    history: Vec<f64>,
    future: Vec<f64>,
    frequency: Option<String>,
    period: Option<usize>,
    line: usize,
}

/// Parses the bytes of a series CSV.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<RawSeries>, TaskError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize).unwrap_or(1).max(1);
        TaskError::parse(path, line, format!("malformed CSV: {e}"))
    };
    let header = rdr.headers().map_err(csv_err)?.clone();
    let find = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let need = |name: &str| {
        find(name).ok_or_else(|| {
            TaskError::parse(path, 1, format!("missing column `{name}`; expected the header id,part,value[,frequency][,period]"))
        })
    };
    let (c_id, c_part, c_value) = (need("id")?, need("part")?, need("value")?);
    let (c_freq, c_period) = (find("frequency"), find("period"));
    let mut order: Vec<String> = Vec::new();
    let mut acc: HashMap<String, Acc> = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(1);
        let get = |c: usize| rec.get(c).unwrap_or("").trim();
        let id = get(c_id);
        if id.is_empty() {
            return Err(TaskError::parse(path, line, "empty `id`"));
        }
        let value: f64 = get(c_value)
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| TaskError::parse(path, line, format!("`value` `{}` is not a finite number", get(c_value))))?;
        if !acc.contains_key(id) {
            order.push(id.to_string());
        }
        let a = acc.entry(id.to_string()).or_insert_with(|| Acc { line, ..Acc::default() });
        match get(c_part).to_ascii_lowercase().as_str() {
            "history" => a.history.push(value),
            "future" => a.future.push(value),
            other => return Err(TaskError::parse(path, line, format!("`part` `{other}` is not valid; expected `history` or `future`"))),
        }
        if let Some(c) = c_freq {
            let f = get(c).to_ascii_lowercase();
            if !f.is_empty() {
                match &a.frequency {
                    Some(prev) if *prev != f => {
                        return Err(TaskError::parse(
                            path,
                            line,
                            format!("series `{id}`: frequency `{f}` differs from `{prev}` given before"),
                        ))
                    }
                    _ => a.frequency = Some(f),
                }
            }
        }
        if let Some(c) = c_period {
            let p = get(c);
            if !p.is_empty() {
                let p: usize = p
                    .parse()
                    .ok()
                    .filter(|&v| v >= 1)
                    .ok_or_else(|| TaskError::parse(path, line, format!("`period` `{p}` is not a positive integer")))?;
                match a.period {
                    Some(prev) if prev != p => {
                        return Err(TaskError::parse(path, line, format!("series `{id}`: period {p} differs from {prev} given before")))
                    }
                    _ => a.period = Some(p),
                }
            }
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for id in order {
        let Some(a) = acc.remove(&id) else { continue };
        if a.history.is_empty() || a.future.is_empty() {
            return Err(TaskError::parse(path, a.line, format!("series `{id}` needs at least one `history` and one `future` row")));
        }
        let frequency = a.frequency.unwrap_or_else(|| "all".to_string());
        let period = a.period.unwrap_or_else(|| seasonal_period(&frequency).unwrap_or(1));
        out.push(RawSeries { id, train: a.history, test: a.future, period, frequency, category: None });
    }
    if out.is_empty() {
        return Err(TaskError::invalid(path, "the file holds no series"));
    }
    Ok(out)
}
