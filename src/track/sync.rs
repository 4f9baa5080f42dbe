//! `runner wandb sync`: replays every outbox under a results directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::client::Client;
use super::outbox::Outbox;
use super::settings::WandbSettings;
use super::upload::{drain, Backoff, Drained};
use crate::store::layout::RUNS;
use crate::store::StoreError;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    pub outboxes: usize,
    pub sent: usize,
    pub done: usize,
    pub pending: Vec<(PathBuf, String)>,
    pub refused: Vec<(PathBuf, String)>,
    /// Earlier refusals cleared to try again.
    pub cleared: Vec<(PathBuf, String)>,
}

/// The outbox directories of every run under `commit_dirs`, sorted.
pub fn outboxes(commit_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for c in commit_dirs {
        let runs = c.join(RUNS);
        for e in std::fs::read_dir(&runs).into_iter().flatten().flatten() {
            let dir = Outbox::dir_of(&e.path());
            if dir.join(super::outbox::OUTBOX).is_file() {
                found.push(dir);
            }
        }
    }
    found.sort();
    found
}

pub fn sync(settings: WandbSettings, dirs: &[PathBuf], backoff: Backoff) -> Result<SyncReport, String> {
    let client = Client::new(settings)?;
    let stop = AtomicBool::new(false);
    let mut report = SyncReport { outboxes: dirs.len(), ..SyncReport::default() };
    for dir in dirs {
        // A refusal stops a sweep's uploads for good; syncing by hand is
        // the user's word that its cause (a key, a project) is fixed.
        let mut state = Outbox::state(dir).map_err(|e| e.to_string())?;
        if let Some(was) = state.refused.take() {
            report.cleared.push((dir.clone(), was));
            Outbox::save_state(dir, &state).map_err(|e| e.to_string())?;
        }
        match drain(&client, dir, &backoff, &stop).map_err(|e: StoreError| e.to_string())? {
            Drained::Done { sent } => {
                report.sent += sent;
                report.done += 1;
            }
            Drained::Pending { sent, reason } => {
                report.sent += sent;
                report.pending.push((dir.clone(), reason));
            }
            Drained::Refused { status, message } => report.refused.push((dir.clone(), format!("HTTP {status}: {message}"))),
        }
    }
    Ok(report)
}

/// Every commit directory of an experiment.
pub fn commit_dirs(experiment_dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(experiment_dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    v.sort();
    v
}
