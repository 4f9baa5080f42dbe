//! One error message about an experiment file: which file, which key, where
//! it is written (or which override set it), and what would be valid.

use std::fmt;
use std::path::PathBuf;

use super::source_map::Location;

/// Which layer supplied the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The YAML file itself.
    File,
    /// A `RUNNER_*` environment variable (its name).
    Env(String),
    /// A `--set key=value` flag (as given).
    Set(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// Dotted key path, e.g. `methods.mcts.num_rollouts`; empty for the whole file.
    pub key: String,
    pub location: Option<Location>,
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let (Origin::File, Some(loc)) = (&self.origin, self.location) {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}", self.key)?;
            match &self.origin {
                Origin::File => {}
                Origin::Env(var) => write!(f, " (set by environment variable {var})")?,
                Origin::Set(flag) => write!(f, " (set by --set {flag})")?,
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

/// "did you mean `x`?" for the closest of `candidates`, when one is close.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
