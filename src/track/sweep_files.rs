//! Files of the whole sweep (the summary table, the figures `runner plot`
//! made) attached to every W&B run of a results directory: each file is
//! added to a run's outbox when its content is new to that run, so a
//! re-plot uploads again and an unchanged file never twice.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::outbox::{Op, Outbox};
use super::settings::WandbSettings;
use crate::store::layout::{RUN_LOCK, SUMMARY_PARQUET};
use crate::store::lock::{Lock, LockTiming};
use crate::store::StoreError;

/// The figures directory `runner plot` writes by default.
pub const FIGURES: &str = "figures";

/// (name in the W&B run, path) of the sweep files `settings` asks for.
pub fn sweep_files(commit_dir: &Path, settings: &WandbSettings) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let summary = commit_dir.join(SUMMARY_PARQUET);
    if settings.upload_summary && summary.is_file() {
        files.push((SUMMARY_PARQUET.to_owned(), summary));
    }
    if settings.upload_figures {
        let mut figures: Vec<PathBuf> = std::fs::read_dir(commit_dir.join(FIGURES))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "png" || x == "svg"))
            .collect();
        figures.sort();
        for p in figures {
            if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                files.push((format!("{FIGURES}/{name}"), p.clone()));
            }
        }
    }
    files
}

fn sha256_of(path: &Path) -> Result<String, StoreError> {
    let bytes = std::fs::read(path).map_err(StoreError::io(path))?;
    Ok(crate::assets::hex(&Sha256::digest(&bytes)))
}

/// What [`attach`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attached {
    /// Operations added.
    pub added: usize,
    /// Outboxes it could write (their run's lock was free).
    pub written: Vec<PathBuf>,
    /// Outboxes of runs another process holds: their owner, or the next
    /// `runner wandb sync`, attaches the files.
    pub busy: Vec<PathBuf>,
}

/// Adds each of `files` to every outbox in `outboxes` (runs that were
/// upserted) whose last attachment of that name had other content. Only
/// the holder of a run's lock writes its outbox, so each outbox is written
/// under its run's lock, and the outbox of a run another process holds is
/// left to it.
pub fn attach(outboxes: &[PathBuf], files: &[(String, PathBuf)]) -> Result<Attached, StoreError> {
    let digests: Vec<String> = files.iter().map(|(_, p)| sha256_of(p)).collect::<Result<_, _>>()?;
    let mut done = Attached::default();
    for dir in outboxes {
        let Some(run_dir) = dir.parent() else { continue };
        let _lock = match Lock::acquire(&run_dir.join(RUN_LOCK), "attaching the sweep's files to the W&B outbox", LockTiming::default()) {
            Ok(l) => l,
            Err(StoreError::Locked { .. }) => {
                done.busy.push(dir.clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        let entries = Outbox::entries(dir)?;
        if !entries.iter().any(|e| matches!(e.op, Op::Upsert { .. })) {
            continue;
        }
        done.written.push(dir.clone());
        let mut outbox = None;
        for ((name, path), sha) in files.iter().zip(&digests) {
            let last = entries.iter().rev().find_map(|e| match &e.op {
                Op::File { name: n, sha256, .. } if n == name => Some(sha256.clone()),
                _ => None,
            });
            if last.flatten().as_ref() == Some(sha) {
                continue;
            }
            if outbox.is_none() {
                outbox = Some(Outbox::open(dir)?);
            }
            if let Some(o) = outbox.as_mut() {
                o.push(Op::File { name: name.clone(), path: super::outbox::file_path(run_dir, path), sha256: Some(sha.clone()) })?;
                done.added += 1;
            }
        }
    }
    Ok(done)
}
