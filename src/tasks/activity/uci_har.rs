//! The UCI HAR directory (`UCI HAR Dataset/`):
//! `activity_labels.txt` (`<id> <NAME>` per line), `<split>/y_<split>.txt`
//! (one label id per line) and the nine
//! `<split>/Inertial Signals/{body_acc,body_gyro,total_acc}_{x,y,z}_<split>.txt`
//! (one window per line, whitespace-separated readings at 50 Hz). Line k of
//! every file belongs to case k. Splits: train and test; no validation.
//! Labels are the activity names (e.g. `WALKING_UPSTAIRS`), ordered by id;
//! channels are named like the files (`body_acc_x`, ...).
use std::path::Path;
use std::sync::Arc;

use super::{case_id, ActivityCase, Channel};
use crate::spec::Split;
use crate::tasks::digest::SourceFiles;
use crate::tasks::error::{split_name, TaskError};

/// The signal files, in channel order.
pub const SIGNALS: [&str; 9] =
    ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z", "total_acc_x", "total_acc_y", "total_acc_z"];

/// Reads the cases of `split` under the root of `files`.
pub(crate) fn load(files: &mut SourceFiles, split: Split) -> Result<(Vec<ActivityCase>, Vec<String>), TaskError> {
    let root = files.root().to_path_buf();
    if !files.is_dir() {
        return Err(TaskError::invalid(&root, "the uci_har format needs the `UCI HAR Dataset` directory"));
    }
    if split == Split::Validation {
        return Err(TaskError::UnsupportedSplit { path: root, format: "uci_har".into(), split, valid: "train, test" });
    }
    let s = split_name(split);
    let labels_path = root.join("activity_labels.txt");
    let labels_text = files.read_text(&labels_path)?;
    let mut table: Vec<(u32, String)> = Vec::new();
    for (i, line) in labels_text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut it = line.split_whitespace();
        let id = it.next().and_then(|t| t.parse::<u32>().ok());
        let name = it.next();
        match (id, name, it.next()) {
            (Some(id), Some(name), None) => {
                if table.iter().any(|(k, _)| *k == id) {
                    return Err(TaskError::parse(&labels_path, i + 1, format!("label id {id} appears twice")));
                }
                table.push((id, name.to_string()));
            }
            _ => return Err(TaskError::parse(&labels_path, i + 1, "expected `<id> <NAME>`, e.g. `1 WALKING`")),
        }
    }
    if table.is_empty() {
        return Err(TaskError::invalid(&labels_path, "no labels"));
    }
    table.sort();
    let labels: Vec<String> = table.iter().map(|(_, n)| n.clone()).collect();

    let y_path = root.join(s).join(format!("y_{s}.txt"));
    let y_text = files.read_text(&y_path)?;
    let mut y = Vec::new();
    for (i, line) in y_text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let label = t.parse::<u32>().ok().and_then(|id| table.iter().find(|(k, _)| *k == id)).ok_or_else(|| {
            let valid: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
            TaskError::parse(&y_path, i + 1, format!("`{t}` is not a label id; valid: {}", valid.join(", ")))
        })?;
        y.push(label.1.clone());
    }
    if y.is_empty() {
        return Err(TaskError::invalid(&y_path, "no cases"));
    }

    let mut channels: Vec<Vec<Vec<f64>>> = Vec::with_capacity(SIGNALS.len());
    for sig in SIGNALS {
        let p = root.join(s).join("Inertial Signals").join(format!("{sig}_{s}.txt"));
        let text = files.read_text(&p)?;
        channels.push(read_windows(&p, &text, y.len())?);
    }
    let shared = Arc::new(labels.clone());
    let mut cases = Vec::with_capacity(y.len());
    for (k, label) in y.into_iter().enumerate() {
        let chans = SIGNALS
            .iter()
            .zip(channels.iter_mut())
            .map(|(name, c)| Channel { name: name.to_string(), values: std::mem::take(&mut c[k]) })
            .collect();
        cases.push(ActivityCase {
            id: case_id(split, k + 1),
            label,
            labels: shared.clone(),
            channels: chans,
            sample_rate_hz: Some(50.0),
            rationale: None,
        });
    }
    Ok((cases, labels))
}

fn read_windows(path: &Path, text: &str, expected: usize) -> Result<Vec<Vec<f64>>, TaskError> {
    let mut out = Vec::with_capacity(expected);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut w = Vec::new();
        for (j, tok) in line.split_whitespace().enumerate() {
            let v: f64 = tok
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| TaskError::parse(path, i + 1, format!("reading {}: `{tok}` is not a finite number", j + 1)))?;
            w.push(v);
        }
        out.push(w);
    }
    if out.len() != expected {
        return Err(TaskError::invalid(path, format!("{} windows, but the label file has {expected} cases", out.len())));
    }
    Ok(out)
}
