//! `runner run` and `runner status`.

use std::path::{Path, PathBuf};

use super::{CliError, SpecArgs};
use crate::plan::{resolve, Plan};
use crate::schedule::experiment::{run_experiment, Experiment};
use crate::schedule::{signals, Reporter, RunFilter, SweepOptions};
use crate::spec::load;
use crate::store::lock::LockTiming;
use crate::store::provenance::Libraries;
use crate::store::scan::scan;
use crate::store::Results;
use crate::track::WandbSettings;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Runs executed at once (they share each model's loaded weights).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Memory budget in GB for concurrent runs (weights once per model plus
    /// each run's KV budget); a run larger than the budget runs alone.
    #[arg(long, value_name = "GB")]
    pub max_memory: Option<f64>,
    /// Execute only matching runs: `key=value[,key=value]` with keys run
    /// (id prefix), model, dataset, method, seed, or a method parameter.
    #[arg(long, value_name = "FILTER")]
    pub only: Option<String>,
    /// Run even though the working tree differs from HEAD (results go to
    /// `<commit>-dirty-<hash8>`).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Results root (default: `results/` at the root of the spec's git repository).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Stop starting runs after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Samples searched at once within a run (consecutive sample indices).
    #[arg(long, default_value_t = crate::schedule::sweep::DEFAULT_WAVE, value_parser = crate::schedule::sweep::parse_wave)]
    pub wave: usize,
    /// Print the summary as JSON on standard output (progress stays on
    /// standard error).
    #[arg(long)]
    pub json: bool,
    /// Say only which runs failed, and the summary (no bars, no progress
    /// lines; off a terminal, sample lines are at most one per 30 s per run).
    #[arg(long)]
    pub quiet: bool,
    /// GB of computed prompts each model keeps for the runs that share
    /// them (0 turns the prompt cache off; results are the same bits
    /// either way).
    #[arg(long, value_name = "GB", default_value_t = crate::schedule::sweep::DEFAULT_PROMPT_CACHE_BYTES as f64 / 1e9, value_parser = parse_gigabytes)]
    pub prompt_cache: f64,
}

/// A size in GB: a finite number from 0 to 1,000,000.
pub(crate) fn parse_gigabytes(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(gb) if gb.is_finite() && (0.0..=1e6).contains(&gb) => Ok(gb),
        _ => Err(format!("`{s}` is not a size in GB: give a number from 0 to 1000000")),
    }
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Results root (default: `results/` at the root of the spec's git repository).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Which results: a revision or a results directory (default: the working tree's).
    #[arg(long, value_name = "REV")]
    pub commit: Option<String>,
}

impl StatusArgs {
    /// The results directory these arguments select for `experiment`.
    pub fn commit_dir(&self, experiment: &str) -> Result<PathBuf, CliError> {
        let results = Results::locate(&self.spec.spec, self.results_dir.as_deref());
        Ok(match &self.commit {
            Some(rev) => results.find(experiment, rev)?,
            None => results.commit_dir(experiment, &results.current_tag()?),
        })
    }
}

pub fn plan_of(args: &SpecArgs) -> Result<(Plan, crate::spec::LoadedSpec), CliError> {
    let loaded = load(&args.spec, &args.sets)?;
    let plan = resolve(&loaded)?;
    Ok((plan, loaded))
}

fn libraries() -> Result<Libraries, CliError> {
    let (mlx, blas) = crate::engine::init()?;
    Ok(Libraries {
        mlx_version: mlx.version,
        mlx_backend: format!("{:?}", mlx.backend).to_lowercase(),
        mlx_device: mlx.default_device,
        blas: format!("{:?}{}", blas.kind, blas.config.map(|c| format!(" ({c})")).unwrap_or_default()),
    })
}

/// Which runs an executor's task executes, and the results tag it was
/// submitted for (the working tree must still be at it).
pub struct Scope {
    pub runs: RunFilter,
    pub tag: String,
}

pub fn run(args: &RunArgs) -> Result<(), CliError> {
    run_scoped(args, None)
}

/// The results directory of `spec` for the working tree as it is now;
/// a dirty tree is refused unless allowed.
pub fn current_commit_dir(
    spec: &SpecArgs,
    experiment: &str,
    results_dir: Option<&Path>,
    allow_dirty: bool,
) -> Result<(Results, crate::store::CommitTag, PathBuf), CliError> {
    let results = Results::locate(&spec.spec, results_dir);
    let tag = results.current_tag()?;
    if let (Some(hash), false) = (&tag.dirty, allow_dirty) {
        let repo = results.repo.as_ref().map(|r| r.root.display().to_string()).unwrap_or_default();
        return Err(CliError::Dirty { repo, hash: hash.clone() });
    }
    let commit_dir = results.commit_dir(experiment, &tag);
    Ok((results, tag, commit_dir))
}

pub fn run_scoped(args: &RunArgs, scope: Option<Scope>) -> Result<(), CliError> {
    signals::install().map_err(|e| CliError::Io { context: e, source: std::io::Error::other("signals") })?;
    let (plan, loaded) = plan_of(&args.spec)?;
    let mut only = args.only.as_deref().map(RunFilter::parse).transpose()?;
    let (_, tag, commit_dir) = current_commit_dir(&args.spec, &plan.experiment, args.results_dir.as_deref(), args.allow_dirty)?;
    if let Some(scope) = scope {
        if scope.tag != tag.to_string() {
            return Err(CliError::TreeMoved { submitted: scope.tag, now: tag.to_string() });
        }
        only = Some(match only {
            Some(o) => o.and(scope.runs),
            None => scope.runs,
        });
    }
    let options = SweepOptions {
        jobs: args.jobs.max(1),
        max_memory: args.max_memory.map(|gb| (gb * 1e9) as u64),
        only,
        fail_fast: args.fail_fast,
        wave: args.wave.max(1),
        prompt_cache_bytes: (args.prompt_cache * 1e9) as u64,
        lock_timing: LockTiming::default(),
        ..SweepOptions::default()
    };
    let wandb = loaded.spec.tracking.as_ref().and_then(|t| t.wandb.as_ref());
    let tracking = WandbSettings::resolve(wandb, &plan.experiment).map_err(|e| CliError::Usage(format!("wandb: {e}")))?;
    let experiment = Experiment {
        plan: &plan,
        loaded: &loaded,
        spec: &args.spec.spec,
        overrides: &args.spec.sets,
        tag,
        commit_dir: &commit_dir,
        libraries: libraries()?,
        tracking,
    };
    let reporter = Reporter::new(plan.runs.len(), args.quiet);
    let done = run_experiment(experiment, &options, &reporter, &|line| eprintln!("{line}"))?;
    drop(reporter);
    if let Some(up) = &done.uploads {
        eprintln!(
            "wandb: {} operations sent for {} runs{}",
            up.sent,
            up.runs,
            if up.pending > 0 {
                format!("; {} runs have operations left in their outbox (`runner wandb sync`)", up.pending)
            } else {
                String::new()
            }
        );
    }
    let report = done.sweep;
    if args.json {
        let v = serde_json::json!({
            "experiment": plan.experiment,
            "results": commit_dir,
            "planned": report.planned,
            "selected": report.selected,
            "already_complete": report.already_complete,
            "completed": report.completed,
            "failed": report.failed.iter().map(|(id, e)| serde_json::json!({"run_id": id, "error": e})).collect::<Vec<_>>(),
            "not_started": report.not_started,
            "determinism_mismatches": report.determinism_mismatches,
            "model_revisions": report.model_revisions,
            "data_sha256": report.data_sha256,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        print_summary(&plan.experiment, &report);
    }
    if report.failed.is_empty() && report.not_started == 0 {
        Ok(())
    } else {
        Err(CliError::RunsFailed { failed: report.failed.len(), not_started: report.not_started })
    }
}

fn print_summary(experiment: &str, report: &crate::schedule::SweepReport) {
    println!(
        "{}: {} runs planned, {} selected: {} already complete, {} completed now, {} failed, {} not started{}",
        experiment,
        report.planned,
        report.selected,
        report.already_complete,
        report.completed.len(),
        report.failed.len(),
        report.not_started,
        if report.determinism_mismatches > 0 {
            format!("; {} recomputed samples differed from their records (see run.json)", report.determinism_mismatches)
        } else {
            String::new()
        }
    );
    for (id, e) in &report.failed {
        println!("  failed {id}: {e}");
    }
}

/// `runner status`.
#[derive(Debug, clap::Args)]
pub struct StatusCmd {
    #[command(flatten)]
    pub args: StatusArgs,
    /// As JSON: the results directory, each run with its state, and the counts.
    #[arg(long)]
    pub json: bool,
}

pub fn status(cmd: &StatusCmd) -> Result<(), CliError> {
    let args = &cmd.args;
    let (plan, _) = plan_of(&args.spec)?;
    let commit_dir = args.commit_dir(&plan.experiment)?;
    let states = scan(&commit_dir, &plan.runs)?;
    let notes = crate::execute::status::cluster_notes(&commit_dir, &plan.runs, &states);
    let mut counts = [0usize; 4];
    for state in &states {
        counts[match state {
            crate::store::RunProgress::Complete { .. } => 0,
            crate::store::RunProgress::Partial { .. } => 1,
            crate::store::RunProgress::Pending => 2,
            crate::store::RunProgress::Failed { .. } => 3,
        }] += 1;
    }
    if cmd.json {
        let runs: Vec<serde_json::Value> = plan
            .runs
            .iter()
            .zip(&states)
            .map(|(run, state)| {
                serde_json::json!({
                    "run_id": run.run_id,
                    "model": run.model.name,
                    "dataset": run.dataset.name,
                    "method": run.method.name,
                    "seed": run.seed,
                    "progress": state,
                    "cluster": notes.get(&run.run_id.0).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let v = serde_json::json!({
            "experiment": plan.experiment,
            "results": commit_dir,
            "runs": runs,
            "counts": {"complete": counts[0], "partial": counts[1], "pending": counts[2], "failed": counts[3]},
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    println!("results: {}", commit_dir.display());
    for (run, state) in plan.runs.iter().zip(&states) {
        println!(
            "{}  {}/{}/{}{}  {}",
            run.run_id,
            run.model.name,
            run.dataset.name,
            run.method.name,
            run.seed.map(|s| format!(" seed {s}")).unwrap_or_default(),
            state.label()
        );
        for line in notes.get(&run.run_id.0).into_iter().flatten() {
            println!("    {line}");
        }
    }
    println!("{} runs: {} complete, {} partial, {} pending, {} failed", plan.runs.len(), counts[0], counts[1], counts[2], counts[3]);
    Ok(())
}
