//! `runner wandb sync`: replays the W&B outboxes of an experiment's results.

use std::path::PathBuf;

use super::{CliError, SpecArgs};
use crate::store::Results;
use crate::track::settings::WandbSettings;
use crate::track::sweep_files::{attach, sweep_files};
use crate::track::sync::{commit_dirs, outboxes, sync};
use crate::track::upload::Backoff;

#[derive(Debug, clap::Subcommand)]
pub enum WandbCommand {
    /// Send everything the outboxes hold that W&B has not acknowledged.
    Sync {
        #[command(flatten)]
        spec: SpecArgs,
        /// Results root (default: `results/` at the root of the spec's git repository).
        #[arg(long, value_name = "DIR")]
        results_dir: Option<PathBuf>,
        /// Only these results (a revision or a results directory; default: every commit's).
        #[arg(long, value_name = "REV")]
        commit: Option<String>,
    },
}

pub fn wandb(cmd: WandbCommand) -> Result<(), CliError> {
    let WandbCommand::Sync { spec, results_dir, commit } = cmd;
    let loaded = crate::spec::load(&spec.spec, &spec.sets)?;
    let experiment = loaded.spec.name.clone();
    let section = loaded.spec.tracking.as_ref().and_then(|t| t.wandb.clone()).unwrap_or_default();
    let mut settings = WandbSettings::resolve(Some(&section), &experiment)
        .map_err(|e| CliError::Usage(format!("wandb sync: {e}")))?
        .ok_or_else(|| CliError::Usage("wandb sync: no W&B settings".into()))?;
    // Syncing is the point of the command: an offline mode does not apply.
    settings.mode = crate::spec::WandbMode::Online;
    if settings.api_key.is_none() {
        return Err(CliError::Usage("wandb sync: no API key (set WANDB_API_KEY or add the host to ~/.netrc)".into()));
    }
    let results = Results::locate(&spec.spec, results_dir.as_deref());
    let dirs = match commit {
        Some(rev) => vec![results.find(&experiment, &rev)?],
        None => commit_dirs(&results.experiment_dir(&experiment)),
    };
    for dir in &dirs {
        let files = sweep_files(dir, &settings);
        let attached = attach(&outboxes(std::slice::from_ref(dir)), &files)?;
        for busy in &attached.busy {
            println!("  {}: its run is held by another process; the sweep's files are attached by it or a later sync", busy.display());
        }
    }
    let boxes = outboxes(&dirs);
    let report =
        sync(settings, &boxes, Backoff::default()).map_err(|e| CliError::Io { context: e, source: std::io::Error::other("wandb") })?;
    for (dir, was) in &report.cleared {
        println!("  {}: trying again after an earlier refusal ({was})", dir.display());
    }
    println!(
        "wandb sync: {} outboxes, {} operations sent, {} complete, {} waiting, {} refused",
        report.outboxes,
        report.sent,
        report.done,
        report.pending.len(),
        report.refused.len()
    );
    for (dir, why) in report.pending.iter().chain(&report.refused) {
        println!("  {}: {why}", dir.display());
    }
    if report.pending.is_empty() && report.refused.is_empty() {
        Ok(())
    } else {
        Err(CliError::RunsFailed { failed: report.refused.len(), not_started: report.pending.len() })
    }
}
