//! The on-disk outbox of one run: every W&B operation is appended (and
//! fsynced) before any attempt to send it, and the count of acknowledged
//! operations is kept beside it. A crash or an outage loses nothing; a
//! replay sends exactly what is not acknowledged, in order. History lines
//! carry their line offset, and the server keys them by it, so a line sent
//! twice (acknowledged but the acknowledgement not yet recorded) is stored
//! once.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::jsonl::{self, Appender};
use crate::store::StoreError;

pub const DIR: &str = "wandb";
pub const OUTBOX: &str = "outbox.jsonl";
pub const STATE: &str = "state.json";

/// What the W&B run is called and shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Stable id: a hash of the run id and the results tag.
    pub name: String,
    pub display_name: String,
    pub group: String,
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// `{"key": {"value": ...}}`, as W&B stores config.
    pub config: Value,
    pub commit: Option<String>,
    pub project: String,
    pub entity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Op {
    Upsert {
        run: RunMeta,
    },
    /// One history line (`_step`, `_runtime`, `_timestamp`, metrics).
    History {
        line: Value,
    },
    /// The whole summary (last write wins).
    Summary {
        summary: Value,
    },
    /// A file to upload: its name in the run and its path on disk (read
    /// when sent), relative to the run's directory when it is under the
    /// results directory (so a moved results directory still uploads);
    /// for sweep files, the sha256 it had when attached.
    File {
        name: String,
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    Complete {
        exit_code: i32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub op: Op,
}

/// What has been acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Operations acknowledged (the next to send has this `seq`).
    pub acked: u64,
    /// History lines acknowledged: the offset of the next line.
    pub history_lines: u64,
    /// The entity the server resolved (when the spec left it to the key).
    pub entity: Option<String>,
    /// Set when the server refused for good; nothing more is sent.
    pub refused: Option<String>,
}

pub struct Outbox {
    dir: PathBuf,
    appender: Option<Appender>,
    next_seq: u64,
    history: u64,
}

fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt { path: path.into(), line: 0, message }
}

/// `path` as an outbox stores it: relative to `run_dir` (a run folder,
/// `<commit dir>/runs/<id>`) when it is in the run folder or its commit
/// directory, else as given.
pub fn file_path(run_dir: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix(run_dir) {
        return rest.to_path_buf();
    }
    match run_dir.parent().and_then(Path::parent).map(|commit| path.strip_prefix(commit)) {
        Some(Ok(rest)) => Path::new("..").join("..").join(rest),
        _ => path.to_path_buf(),
    }
}

impl Outbox {
    /// The outbox of the run whose directory is `run_dir`.
    pub fn dir_of(run_dir: &Path) -> PathBuf {
        run_dir.join(DIR)
    }

    /// Opens (for appending) the outbox in `dir`, cutting a torn tail.
    pub fn open(dir: &Path) -> Result<Outbox, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        let entries = Outbox::entries(dir)?;
        let (appender, _) = Appender::open(&dir.join(OUTBOX))?;
        let history = entries.iter().filter(|e| matches!(e.op, Op::History { .. })).count() as u64;
        Ok(Outbox { dir: dir.into(), appender: Some(appender), next_seq: entries.len() as u64, history })
    }

    pub fn push(&mut self, op: Op) -> Result<(), StoreError> {
        let history = matches!(op, Op::History { .. });
        let entry = Entry { seq: self.next_seq, op };
        if let Some(a) = &mut self.appender {
            a.append(&entry)?;
        }
        self.next_seq += 1;
        self.history += u64::from(history);
        Ok(())
    }

    /// History lines the outbox holds (sent or not).
    pub fn history_lines(&self) -> u64 {
        self.history
    }

    /// Every entry, in order.
    pub fn entries(dir: &Path) -> Result<Vec<Entry>, StoreError> {
        let path = dir.join(OUTBOX);
        jsonl::read(&path)?
            .values
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| corrupt(&path, format!("not an outbox entry: {e}"))))
            .collect()
    }

    pub fn state(dir: &Path) -> Result<State, StoreError> {
        let path = dir.join(STATE);
        match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| corrupt(&path, format!("not an outbox state: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }

    pub fn save_state(dir: &Path, state: &State) -> Result<(), StoreError> {
        let text = serde_json::to_vec(state).map_err(|e| corrupt(&dir.join(STATE), e.to_string()))?;
        crate::store::write_atomic(&dir.join(STATE), &text)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}
