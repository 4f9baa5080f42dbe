//! sktime/aeon `.ts` files (e.g. BasicMotions).
//!
//! Header lines start with `@` (keywords are case-insensitive), comments
//! with `#`; blank lines are skipped. `@classLabel true <labels...>` is
//! required (it gives the label set); `@timeStamps true` and missing values
//! (`?`) are not supported. After `@data`, each line is one case: the
//! dimensions separated by `:`, values by `,`, the class label last. Where
//! `@dimensions` is given every case must have that many; dimensions may
//! differ in length only when `@equalLength` is not `true`.
//!
//! Path and split: a file whose name ends in `_TRAIN.ts` or `_TEST.ts`
//! (any case) holds that split, and asking it for another split is an
//! error; a file with neither suffix is taken as the asked split. A
//! directory must hold exactly one `*_TRAIN.ts` or `*_TEST.ts` for the
//! asked split. There is no validation split.
//!
//! Channels are named `dim_1`, `dim_2`, ...; BasicMotions' six are named
//! `accel_x`, `accel_y`, `accel_z`, `gyro_x`, `gyro_y`, `gyro_z` (its 10 Hz
//! rate is recorded too).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{case_id, ActivityCase, Channel};
use crate::spec::Split;
use crate::tasks::digest::SourceFiles;
use crate::tasks::error::TaskError;

/// The file of `split` under the root of `files` (see the module docs).
pub(crate) fn resolve_file(files: &SourceFiles, split: Split) -> Result<PathBuf, TaskError> {
    let root = files.root();
    let suffix = match split {
        Split::Train => "_train.ts",
        Split::Test => "_test.ts",
        Split::Validation => {
            return Err(TaskError::UnsupportedSplit {
                path: root.to_path_buf(),
                format: "ts".into(),
                split,
                valid: "train (*_TRAIN.ts), test (*_TEST.ts)",
            })
        }
    };
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    if !files.is_dir() {
        let name = name_of(root);
        let (other, held) = if split == Split::Train { ("_test.ts", "test") } else { ("_train.ts", "train") };
        if name.ends_with(other) {
            let asked = crate::tasks::error::split_name(split);
            return Err(TaskError::invalid(
                root,
                format!(
                    "this file holds the {held} split but the {asked} split was asked; name the *_{}.ts file or set the split to {held}",
                    asked.to_ascii_uppercase()
                ),
            ));
        }
        return Ok(root.to_path_buf());
    }
    let entries = std::fs::read_dir(root).map_err(|e| TaskError::io(root, e))?;
    let mut found: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TaskError::io(root, e))?;
        let p = entry.path();
        if p.is_file() && name_of(&p).ends_with(suffix) {
            found.push(p);
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(TaskError::invalid(root, format!("no file ending in {} in this directory", suffix.to_ascii_uppercase()))),
        _ => Err(TaskError::invalid(
            root,
            format!("{} files end in {}; name the file instead of the directory", found.len(), suffix.to_ascii_uppercase()),
        )),
    }
}

/// Parses the text of a `.ts` file into cases of `split`.
pub(crate) fn parse(path: &Path, text: &str, split: Split) -> Result<(Vec<ActivityCase>, Vec<String>), TaskError> {
    let mut labels: Option<Vec<String>> = None;
    let mut dimensions: Option<usize> = None;
    let mut equal_length = false;
    let mut problem = String::new();
    let mut in_data = false;
    let mut raw: Vec<(usize, Vec<Vec<f64>>, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data {
            let Some(rest) = line.strip_prefix('@') else {
                return Err(TaskError::parse(path, no, "expected a header line starting with `@`, a `#` comment, or `@data`"));
            };
            let mut words = rest.split_whitespace();
            let key = words.next().unwrap_or("").to_ascii_lowercase();
            let args: Vec<&str> = words.collect();
            let flag = |args: &[&str]| -> Result<bool, TaskError> {
                match args.first().map(|a| a.to_ascii_lowercase()) {
                    Some(a) if a == "true" => Ok(true),
                    Some(a) if a == "false" => Ok(false),
                    _ => Err(TaskError::parse(path, no, format!("@{key} needs `true` or `false`"))),
                }
            };
            match key.as_str() {
                "problemname" => problem = args.join(" "),
                "timestamps" => {
                    let stamped = flag(&args)?;
                    if stamped {
                        return Err(TaskError::parse(path, no, "@timeStamps true is not supported; expected @timeStamps false"));
                    }
                }
                "missing" | "univariate" => {
                    flag(&args)?;
                }
                "equallength" => equal_length = flag(&args)?,
                "dimensions" => {
                    dimensions = Some(
                        args.first()
                            .and_then(|a| a.parse().ok())
                            .filter(|&d: &usize| d >= 1)
                            .ok_or_else(|| TaskError::parse(path, no, "@dimensions needs a positive integer"))?,
                    )
                }
                "serieslength" => {}
                "classlabel" => {
                    if !flag(&args)? {
                        return Err(TaskError::parse(
                            path,
                            no,
                            "@classLabel false: the cases have no labels; expected @classLabel true <labels...>",
                        ));
                    }
                    let l: Vec<String> = args[1..].iter().map(|s| s.to_string()).collect();
                    if l.is_empty() {
                        return Err(TaskError::parse(path, no, "@classLabel true needs the list of labels"));
                    }
                    labels = Some(l);
                }
                "targetlabel" => {
                    return Err(TaskError::parse(
                        path,
                        no,
                        "@targetLabel (regression) is not supported; expected @classLabel true <labels...>",
                    ))
                }
                "data" => in_data = true,
                _ => {}
            }
            continue;
        }
        let parts: Vec<&str> = line.split(':').collect();
        if parts.len() < 2 {
            return Err(TaskError::parse(path, no, "expected `<dimension 1>:...:<dimension d>:<label>`"));
        }
        let label = parts[parts.len() - 1].trim().to_string();
        let mut dims = Vec::with_capacity(parts.len() - 1);
        for (d, part) in parts[..parts.len() - 1].iter().enumerate() {
            let mut values = Vec::new();
            for (j, v) in part.split(',').enumerate() {
                let v = v.trim();
                if v == "?" || v.eq_ignore_ascii_case("nan") {
                    return Err(TaskError::parse(
                        path,
                        no,
                        format!("dimension {}, value {}: missing values are not supported", d + 1, j + 1),
                    ));
                }
                let x: f64 = v.parse().ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| {
                    TaskError::parse(path, no, format!("dimension {}, value {}: `{v}` is not a finite number", d + 1, j + 1))
                })?;
                values.push(x);
            }
            dims.push(values);
        }
        raw.push((no, dims, label));
    }
    if !in_data {
        return Err(TaskError::invalid(path, "no `@data` line; expected the header, then @data, then one case per line"));
    }
    let Some(labels) = labels else {
        return Err(TaskError::invalid(path, "no `@classLabel true <labels...>` line in the header"));
    };
    if raw.is_empty() {
        return Err(TaskError::invalid(path, "no cases after @data"));
    }
    let expected = dimensions.unwrap_or(raw[0].1.len());
    let names: Vec<String> = if problem.eq_ignore_ascii_case("BasicMotions") && expected == 6 {
        ["accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z"].iter().map(|s| s.to_string()).collect()
    } else {
        (1..=expected).map(|d| format!("dim_{d}")).collect()
    };
    let rate = problem.eq_ignore_ascii_case("BasicMotions").then_some(10.0);
    let shared = Arc::new(labels.clone());
    let mut cases = Vec::with_capacity(raw.len());
    for (k, (no, dims, label)) in raw.into_iter().enumerate() {
        if dims.len() != expected {
            return Err(TaskError::parse(path, no, format!("{} dimensions, expected {expected}", dims.len())));
        }
        if equal_length && dims.iter().any(|d| d.len() != dims[0].len()) {
            return Err(TaskError::parse(path, no, "dimensions differ in length but @equalLength is true"));
        }
        if !labels.contains(&label) {
            return Err(TaskError::parse(path, no, format!("label `{label}` is not declared; @classLabel lists {}", labels.join(", "))));
        }
        let channels = dims.into_iter().zip(&names).map(|(values, name)| Channel { name: name.clone(), values }).collect();
        cases.push(ActivityCase {
            id: case_id(split, k + 1),
            label,
            labels: shared.clone(),
            channels,
            sample_rate_hz: rate,
            rationale: None,
        });
    }
    Ok((cases, labels))
}
