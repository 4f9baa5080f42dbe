//! What a table, figure or diff was made from: the results directory, its
//! commit tag, the spec, and the runs (their count and a hash of their
//! sorted ids, with the ids themselves in JSON).

use std::collections::HashSet;

use polars::prelude::DataFrame;
use sha2::{Digest, Sha256};

use super::{frame, ReportError};
use crate::store::columns;

/// Where the samples were loaded from (given by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    /// The results directory (`<results>/<experiment>/<commit>[-dirty-…]`).
    pub results_dir: String,
    /// The commit tag the results were made at (the directory's name).
    pub commit: String,
    /// The experiment file, when one was given.
    pub spec: Option<String>,
    /// Runs the experiment file plans, when the samples were restricted to
    /// them.
    pub planned: Option<usize>,
}

impl Source {
    /// A source for `dir`, its commit tag taken from the directory's name.
    pub fn of_dir(dir: &std::path::Path, spec: Option<&std::path::Path>) -> Source {
        Source {
            results_dir: dir.display().to_string(),
            commit: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            spec: spec.map(|s| s.display().to_string()),
            planned: None,
        }
    }

    /// The same source, its samples restricted to the `n` runs of a plan.
    pub fn planned(mut self, n: usize) -> Source {
        self.planned = Some(n);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub source: Source,
    /// Distinct run ids, sorted.
    pub run_ids: Vec<String>,
    /// First 16 hex digits of the SHA-256 of the sorted run ids, one per line.
    pub runs_sha256: String,
    /// Sample rows.
    pub samples: usize,
}

impl Provenance {
    pub fn of(df: &DataFrame, source: Source) -> Result<Provenance, ReportError> {
        let ids = frame::text(df, columns::RUN_ID)?;
        let mut set: HashSet<&str> = HashSet::new();
        let mut last = None;
        for id in ids.iter().flatten() {
            if last != Some(id) {
                set.insert(id);
                last = Some(id);
            }
        }
        let mut set: Vec<&str> = set.into_iter().collect();
        set.sort_unstable();
        let mut h = Sha256::new();
        for id in &set {
            h.update(id.as_bytes());
            h.update(b"\n");
        }
        Ok(Provenance {
            source,
            run_ids: set.into_iter().map(str::to_owned).collect(),
            runs_sha256: crate::assets::hex(&h.finalize()[..8]),
            samples: df.height(),
        })
    }

    /// The run count, and of how many planned runs when restricted to a plan.
    fn runs(&self) -> String {
        match self.source.planned {
            Some(n) => format!("{} of {n} planned runs complete", self.run_ids.len()),
            None => self.run_ids.len().to_string(),
        }
    }

    /// `key: value` lines for comments and captions.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!("results: {}", self.source.results_dir),
            format!("commit: {}", self.source.commit),
            format!("spec: {}", self.source.spec.as_deref().unwrap_or("-")),
            format!("runs: {} (sha256 of sorted run ids: {})", self.runs(), self.runs_sha256),
            format!("samples: {}", self.samples),
        ]
    }

    /// One line, for figure footers.
    pub fn short(&self) -> String {
        format!(
            "commit {} · spec {} · runs: {} ({}) · {} samples",
            self.source.commit,
            self.source.spec.as_deref().unwrap_or("-"),
            self.runs(),
            self.runs_sha256,
            self.samples
        )
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "results_dir": self.source.results_dir,
            "commit": self.source.commit,
            "spec": self.source.spec,
            "runs": self.run_ids.len(),
            "planned_runs": self.source.planned,
            "runs_sha256": self.runs_sha256,
            "run_ids": self.run_ids,
            "samples": self.samples,
        })
    }
}
