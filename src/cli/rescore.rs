//! `runner rescore`: find the results named, score their records again with
//! this build, and say what changed.

use std::path::PathBuf;

use super::{CliError, SpecArgs};
use crate::rescore;

#[derive(Debug, clap::Args)]
pub struct RescoreArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The results whose records to score again: a git revision, a
    /// directory name under the experiment's results, or a results
    /// directory.
    #[arg(long, value_name = "REV")]
    pub from: String,
    /// The results root (default: results/ at the root of the repository
    /// holding the experiment file).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Rescore from a working tree that differs from HEAD (the new results
    /// are tagged `<commit>-dirty-<hash8>-rescore-...`).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Print what changed as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn rescore(args: &RescoreArgs) -> Result<(), CliError> {
    let loaded = crate::spec::load(&args.spec.spec, &args.spec.sets)?;
    let name = &loaded.spec.name;
    let (results, tag, _) = super::run::current_commit_dir(&args.spec, name, args.results_dir.as_deref(), args.allow_dirty)?;
    let source = results.find(name, &args.from)?;
    let source_name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let target = results.experiment_dir(name).join(rescore::target_name(&tag, &source_name));
    let done = rescore::rescore(&args.spec.spec, &source, &target, &tag)?;
    if args.json {
        let text = serde_json::to_string_pretty(&done).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let records: usize = done.runs.iter().map(|r| r.records).sum();
    println!("rescored {} runs ({records} records) from {}", done.runs.len(), done.from.display());
    println!("into {}", done.to.display());
    println!(
        "{:<16}  {:<40}  {:>7}  {:>14}  {:>14}  {:>15}",
        "RUN", "MODEL/DATASET/METHOD", "RECORDS", "REWARD CHANGED", "PARSE CHANGED", "METRICS CHANGED"
    );
    for r in &done.runs {
        println!(
            "{:<16}  {:<40}  {:>7}  {:>14}  {:>14}  {:>15}",
            r.run_id, r.label, r.records, r.reward_changed, r.parse_status_changed, r.metrics_changed
        );
    }
    Ok(())
}
