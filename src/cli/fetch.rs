//! `runner fetch`: everything a sweep needs from the network, fetched
//! ahead of time and pinned in the lock file beside the spec (for a login
//! node with internet before compute nodes without).

use std::io::Write;

use super::{CliError, SpecArgs};
use crate::assets::remote::FetchMode;
use crate::plan::resolve;
use crate::schedule::sources::Sources;
use crate::spec::load;

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Re-resolve every source (revisions may have moved, URLs may serve
    /// new bytes) and rewrite the lock's entries with what is found.
    #[arg(long)]
    pub update: bool,
    /// Print JSON: the lock file's path, whether it was written, and each
    /// dataset and model with where it is.
    #[arg(long)]
    pub json: bool,
}

pub fn fetch(args: &FetchArgs) -> Result<(), CliError> {
    let loaded = load(&args.spec.spec, &args.spec.sets)?;
    let plan = resolve(&loaded)?;
    let mode = FetchMode { offline: crate::assets::hf_offline(), update: args.update };
    let (_, resolution) = Sources::resolve(&plan.runs, &args.spec.spec, mode, true)?;
    let io = |e: std::io::Error| CliError::Io { context: "writing to standard output".into(), source: e };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &resolution).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
        return Ok(());
    }
    for d in &resolution.data {
        let commit = d.commit.as_deref().map(|c| format!(" at {c}")).unwrap_or_default();
        writeln!(out, "data   {}{commit}: {} files verified in {}", d.source, d.files, d.dir.display()).map_err(io)?;
    }
    for m in &resolution.models {
        writeln!(out, "model  {} at {}", m.source, m.commit).map_err(io)?;
    }
    if resolution.data.is_empty() && resolution.models.is_empty() {
        writeln!(out, "nothing to fetch: every dataset and model is local or in the asset cache").map_err(io)?;
    }
    let state = if resolution.lock_written { "written" } else { "unchanged" };
    writeln!(out, "lock   {} ({state})", resolution.lock.display()).map_err(io)?;
    Ok(())
}
