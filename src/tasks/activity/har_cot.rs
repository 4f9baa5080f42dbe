//! The HAR chain-of-thought CSV (`har_cot_{train,val,test}_cot.csv`):
//! columns `x_axis`, `y_axis`, `z_axis` (list literals such as
//! `"[0.0123, -0.0456]"`), `label` and optionally `rationale`; other
//! columns are ignored. Labels must be among [`LABELS`].
//!
//! Path and split: a directory must hold `har_cot_<split>_cot.csv` with
//! `val` for validation; a file named `har_cot_<s>_cot.csv` holds split
//! `<s>` and asking it for another split is an error; a file with another
//! name is taken as the asked split.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{case_id, ActivityCase, Channel};
use crate::spec::Split;
use crate::tasks::digest::SourceFiles;
use crate::tasks::error::{split_name, TaskError};

/// The label set of the HAR chain-of-thought data.
pub const LABELS: [&str; 8] = ["biking", "lying", "running", "sitting", "standing", "walking", "walking_down", "walking_up"];

fn file_tag(split: Split) -> &'static str {
    match split {
        Split::Train => "train",
        Split::Validation => "val",
        Split::Test => "test",
    }
}

/// The file of `split` under the root of `files`.
pub(crate) fn resolve_file(files: &SourceFiles, split: Split) -> Result<PathBuf, TaskError> {
    let root = files.root();
    let wanted = format!("har_cot_{}_cot.csv", file_tag(split));
    if files.is_dir() {
        let p = root.join(&wanted);
        if !p.is_file() {
            return Err(TaskError::invalid(root, format!("no {wanted} in this directory")));
        }
        return Ok(p);
    }
    let name = root.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    for other in [Split::Train, Split::Validation, Split::Test] {
        if other != split && name == format!("har_cot_{}_cot.csv", file_tag(other)) {
            return Err(TaskError::invalid(
                root,
                format!(
                    "this file holds the {} split but the {} split was asked; name {wanted} or set the split to {}",
                    split_name(other),
                    split_name(split),
                    split_name(other)
                ),
            ));
        }
    }
    Ok(root.to_path_buf())
}

/// Parses a list literal `[a, b, ...]`.
fn list(text: &str) -> Result<Vec<f64>, String> {
    let t = text.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("expected a list such as `[0.01, -0.04]`, found `{}`", preview(t)))?;
    if inner.trim().is_empty() {
        return Err("the list is empty".into());
    }
    inner
        .split(',')
        .enumerate()
        .map(|(j, v)| {
            let v = v.trim();
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("item {}: `{}` is not a finite number", j + 1, preview(v)))
        })
        .collect()
}

fn preview(s: &str) -> String {
    let mut p: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        p.push_str("...");
    }
    p
}

/// Parses the bytes of a HAR CoT CSV into cases of `split`.
pub(crate) fn parse(path: &Path, bytes: &[u8], split: Split) -> Result<(Vec<ActivityCase>, Vec<String>), TaskError> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize).unwrap_or(1).max(1);
        TaskError::parse(path, line, format!("malformed CSV: {e}"))
    };
    let header = rdr.headers().map_err(csv_err)?.clone();
    let find = |name: &str| header.iter().position(|h| h.trim() == name);
    let need = |name: &str| {
        find(name).ok_or_else(|| {
            TaskError::parse(path, 1, format!("missing column `{name}`; expected x_axis, y_axis, z_axis, label[, rationale]"))
        })
    };
    let cols = [need("x_axis")?, need("y_axis")?, need("z_axis")?];
    let c_label = need("label")?;
    let c_rationale = find("rationale");
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let shared = Arc::new(labels.clone());
    let mut cases = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(1);
        let mut channels = Vec::with_capacity(3);
        for (c, name) in cols.iter().zip(["x_axis", "y_axis", "z_axis"]) {
            let values = list(rec.get(*c).unwrap_or("")).map_err(|m| TaskError::parse(path, line, format!("`{name}`: {m}")))?;
            channels.push(Channel { name: name.to_string(), values });
        }
        let label = rec.get(c_label).unwrap_or("").trim().to_string();
        if !labels.contains(&label) {
            return Err(TaskError::parse(path, line, format!("label `{label}` is not one of {}", LABELS.join(", "))));
        }
        let rationale = c_rationale.and_then(|c| rec.get(c)).map(|r| r.to_string()).filter(|r| !r.is_empty());
        cases.push(ActivityCase {
            id: case_id(split, cases.len() + 1),
            label,
            labels: shared.clone(),
            channels,
            sample_rate_hz: None,
            rationale,
        });
    }
    if cases.is_empty() {
        return Err(TaskError::invalid(path, "no cases"));
    }
    Ok((cases, labels))
}
