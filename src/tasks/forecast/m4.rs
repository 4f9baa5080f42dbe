//! The M4 competition directory: `Train/<Freq>-train.csv`,
//! `Test/<Freq>-test.csv` for Freq in Yearly, Quarterly, Monthly, Weekly,
//! Daily, Hourly (at least one frequency must be present, with both files),
//! and optionally `M4-info.csv`.
//!
//! Each CSV row holds the series id in `V1`, then its values; rows are padded
//! with empty fields, which end the series (a value after an empty field is
//! an error). The test row's length is the horizon. The seasonal period is
//! the info file's `Frequency` column when the info file lists the series,
//! else the competition's rule for the file's frequency; the info file's
//! `Horizon` must match the test row, and its `category` becomes the
//! series' category. Series are ordered by frequency (in the order above),
//! then by their row in the train file.
use std::collections::HashMap;
use std::path::Path;

use super::{check_finite, seasonal_period, RawSeries};
use crate::tasks::digest::SourceFiles;
use crate::tasks::error::TaskError;

/// The frequencies of M4, in the order series are loaded.
pub const FREQUENCIES: [&str; 6] = ["Yearly", "Quarterly", "Monthly", "Weekly", "Daily", "Hourly"];

struct Info {
    category: String,
    period: usize,
    horizon: usize,
}

/// Reads the M4 directory under `files`' root.
pub(crate) fn load(files: &mut SourceFiles) -> Result<Vec<RawSeries>, TaskError> {
    let root = files.root().to_path_buf();
    if !files.is_dir() {
        return Err(TaskError::invalid(&root, "the m4 format needs the directory holding Train/, Test/ and optionally M4-info.csv"));
    }
    let info_path = root.join("M4-info.csv");
    let info = if info_path.is_file() {
        let bytes = files.read_bytes(&info_path)?;
        Some(read_info(&info_path, &bytes)?)
    } else {
        None
    };
    let mut out = Vec::new();
    let mut found = false;
    for freq in FREQUENCIES {
        let train_path = root.join("Train").join(format!("{freq}-train.csv"));
        let test_path = root.join("Test").join(format!("{freq}-test.csv"));
        match (train_path.is_file(), test_path.is_file()) {
            (false, false) => continue,
            (true, false) => return Err(TaskError::invalid(&test_path, format!("missing: {freq}-train.csv has no test file"))),
            (false, true) => return Err(TaskError::invalid(&train_path, format!("missing: {freq}-test.csv has no train file"))),
            (true, true) => {}
        }
        found = true;
        let train_bytes = files.read_bytes(&train_path)?;
        let test_bytes = files.read_bytes(&test_path)?;
        let train = read_rows(&train_path, &train_bytes)?;
        let test_rows = read_rows(&test_path, &test_bytes)?;
        let mut test: HashMap<String, (Vec<f64>, usize)> = HashMap::new();
        for (id, values, line) in test_rows {
            if test.insert(id.clone(), (values, line)).is_some() {
                return Err(TaskError::parse(&test_path, line, format!("series `{id}` appears twice")));
            }
        }
        let default_period = seasonal_period(freq).unwrap_or(1);
        let mut seen = std::collections::HashSet::new();
        for (id, history, line) in train {
            if !seen.insert(id.clone()) {
                return Err(TaskError::parse(&train_path, line, format!("series `{id}` appears twice")));
            }
            let (future, test_line) = test
                .remove(&id)
                .ok_or_else(|| TaskError::parse(&train_path, line, format!("series `{id}` has no row in {}", test_path.display())))?;
            let mut period = default_period;
            let mut category = None;
            if let Some(i) = info.as_ref().and_then(|m| m.get(&id)) {
                if i.horizon != future.len() {
                    return Err(TaskError::parse(
                        &test_path,
                        test_line,
                        format!("series `{id}` has {} test values but M4-info.csv gives horizon {}", future.len(), i.horizon),
                    ));
                }
                period = i.period;
                category = Some(i.category.clone());
            }
            out.push(RawSeries { id, train: history, test: future, period, frequency: freq.to_ascii_lowercase(), category });
        }
        if let Some((id, (_, line))) = test.into_iter().min_by_key(|(_, (_, l))| *l) {
            return Err(TaskError::parse(&test_path, line, format!("series `{id}` has no row in {}", train_path.display())));
        }
    }
    if !found {
        return Err(TaskError::invalid(
            &root,
            "no M4 files found; expected Train/<Freq>-train.csv and Test/<Freq>-test.csv for Freq in Yearly, Quarterly, Monthly, Weekly, Daily, Hourly",
        ));
    }
    Ok(out)
}

fn reader(bytes: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes)
}

fn csv_error(path: &Path, e: csv::Error) -> TaskError {
    let line = e.position().map(|p| p.line() as usize).unwrap_or(1).max(1);
    TaskError::parse(path, line, format!("malformed CSV: {e}"))
}

/// Rows `(id, values, line)` of a Train or Test file.
fn read_rows(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Vec<f64>, usize)>, TaskError> {
    let mut rdr = reader(bytes);
    let header = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
    if header.get(0).map(str::trim) != Some("V1") {
        return Err(TaskError::parse(path, 1, "expected the header \"V1\",\"V2\",... (series id, then values)"));
    }
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(1);
        let id = rec.get(0).unwrap_or("").trim().to_string();
        if id.is_empty() {
            if rec.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            return Err(TaskError::parse(path, line, "empty series id in column V1"));
        }
        let mut values = Vec::new();
        let mut ended = false;
        for (col, field) in rec.iter().enumerate().skip(1) {
            let f = field.trim();
            if f.is_empty() {
                ended = true;
                continue;
            }
            if ended {
                return Err(TaskError::parse(
                    path,
                    line,
                    format!("series `{id}`: value in column V{} after an empty field; values must be contiguous", col + 1),
                ));
            }
            let v: f64 = f
                .parse()
                .map_err(|_| TaskError::parse(path, line, format!("series `{id}`: column V{}: `{f}` is not a number", col + 1)))?;
            values.push(v);
        }
        if values.is_empty() {
            return Err(TaskError::parse(path, line, format!("series `{id}` has no values")));
        }
        check_finite(&values, path, line, &format!("series `{id}`"))?;
        rows.push((id, values, line));
    }
    Ok(rows)
}

fn read_info(path: &Path, bytes: &[u8]) -> Result<HashMap<String, Info>, TaskError> {
    let mut rdr = reader(bytes);
    let header = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| TaskError::parse(path, 1, format!("missing column `{name}`; expected M4id, category, Frequency, Horizon, SP")))
    };
    let (c_id, c_cat, c_freq, c_h) = (col("M4id")?, col("category")?, col("Frequency")?, col("Horizon")?);
    let mut map = HashMap::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(path, e))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(1);
        let get = |c: usize| rec.get(c).unwrap_or("").trim();
        let id = get(c_id).to_string();
        if id.is_empty() {
            return Err(TaskError::parse(path, line, "empty M4id"));
        }
        let positive = |c: usize, name: &str| -> Result<usize, TaskError> {
            get(c)
                .parse::<usize>()
                .ok()
                .filter(|&v| v >= 1)
                .ok_or_else(|| TaskError::parse(path, line, format!("{name} `{}` is not a positive integer", get(c))))
        };
        let period = positive(c_freq, "Frequency")?;
        let horizon = positive(c_h, "Horizon")?;
        map.insert(id, Info { category: get(c_cat).to_string(), period, horizon });
    }
    Ok(map)
}
