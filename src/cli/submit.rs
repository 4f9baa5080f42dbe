//! `runner submit`, `runner worker` and `runner cancel`.

use std::path::{Path, PathBuf};

use super::run::{current_commit_dir, plan_of, run_scoped, RunArgs, Scope, StatusArgs};
use super::{CliError, SpecArgs};
use crate::execute::slurm::{SlurmExecutor, SlurmOptions};
use crate::execute::submissions::{self, Submission};
use crate::execute::submit::{submit_pending, SubmitRequest, Submitted};
use crate::execute::{local::LocalExecutor, Executor, Manifest};
use crate::schedule::RunFilter;
use crate::spec::SlurmSpec;

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Where the tasks run: `local` (here, one after another) or `slurm`.
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    pub executor: String,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Array tasks running at once.
    #[arg(long, value_name = "N")]
    pub array_parallelism: Option<u32>,
    /// Time limit per task (`02:00:00`, `1-00:00:00`, minutes).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// Memory per task (`16G`).
    #[arg(long, value_name = "M")]
    pub mem: Option<String>,
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<u32>,
    /// Generic resources (`gpu:1`).
    #[arg(long, value_name = "G")]
    pub gres: Option<String>,
    /// GPUs per task (`--gpus`): a count, or `TYPE:N` (`a100:1`).
    #[arg(long, value_name = "N")]
    pub gpus: Option<String>,
    #[arg(long, value_name = "A")]
    pub account: Option<String>,
    /// Further sbatch options, separated by spaces (`"--qos=high --constraint=a100"`).
    #[arg(long, value_name = "OPTIONS", allow_hyphen_values = true)]
    pub extra_sbatch: Option<String>,
    /// Runs per task (runs of one model only).
    #[arg(long, value_name = "N")]
    pub group_size: Option<u32>,
    /// Submit without `--requeue`.
    #[arg(long)]
    pub no_requeue: bool,
    /// A shell line the job script runs before the worker (`"module load
    /// cuda/12"`); repeatable, after the spec's `executor.slurm.setup`.
    #[arg(long, value_name = "LINE", allow_hyphen_values = true)]
    pub setup: Vec<String>,
    /// Also submit a job that builds the table once every task succeeded
    /// (`--dependency=afterok`), written to the submission's `tables.md`.
    #[arg(long)]
    pub tables: bool,
    /// Write the script and print it; submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit what is still missing after earlier submissions (runs neither
    /// complete nor in a queued or running task).
    #[arg(long)]
    pub resume: bool,
    #[arg(long)]
    pub allow_dirty: bool,
    /// Results root (default: `results/` at the root of the spec's git repository).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Samples searched at once within a run.
    #[arg(long, default_value_t = crate::schedule::sweep::DEFAULT_WAVE, value_parser = crate::schedule::sweep::parse_wave)]
    pub wave: usize,
    /// Print what was submitted as JSON (job id, runs, tasks, where the logs go).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The submission's manifest.json (or its directory).
    #[arg(long)]
    pub manifest: PathBuf,
    /// The task (default: SLURM_ARRAY_TASK_ID).
    #[arg(long)]
    pub task: Option<usize>,
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| CliError::Io { context: format!("{}", p.display()), source: e })
}

impl SubmitArgs {
    fn slurm_flags(&self) -> SlurmSpec {
        SlurmSpec {
            partition: self.partition.clone(),
            array_parallelism: self.array_parallelism,
            time: self.time.clone(),
            mem: self.mem.clone(),
            cpus_per_task: self.cpus_per_task,
            gres: self.gres.clone(),
            account: self.account.clone(),
            extra_sbatch: self.extra_sbatch.as_deref().map(|e| e.split_whitespace().map(str::to_owned).collect()).unwrap_or_default(),
            group_size: self.group_size,
            requeue: self.no_requeue.then_some(false),
            gpus: self.gpus.clone(),
            setup: self.setup.clone(),
            requeue_signal_seconds: None,
        }
    }
}

fn executor_of(name: &str, options: SlurmOptions, tables: bool) -> Box<dyn Executor> {
    match name {
        "slurm" => {
            let mut e = SlurmExecutor::new(options);
            e.tables = tables;
            Box::new(e)
        }
        _ => Box::new(LocalExecutor),
    }
}

pub fn submit(args: &SubmitArgs) -> Result<(), CliError> {
    let (plan, loaded) = plan_of(&args.spec)?;
    let file = loaded.spec.executor.as_ref().and_then(|e| e.slurm.as_ref());
    let options = SlurmOptions::resolve(file, &args.slurm_flags())?;
    let results_dir = args.results_dir.as_deref().map(absolute).transpose()?;
    let (_, tag, commit_dir) = current_commit_dir(&args.spec, &plan.experiment, results_dir.as_deref(), args.allow_dirty)?;
    let exec = executor_of(&args.executor, options.clone(), args.tables);
    let request = SubmitRequest {
        plan: &plan,
        executor: exec.as_ref(),
        spec: absolute(&args.spec.spec)?,
        sets: args.spec.sets.clone(),
        results_dir,
        tag,
        commit_dir,
        group_size: options.group_size as usize,
        wave: args.wave.max(1),
        allow_dirty: args.allow_dirty,
        dry_run: args.dry_run,
        resume: args.resume,
    };
    let submitted = submit_pending(request)?;
    if args.json {
        let v = match &submitted {
            Submitted::Nothing { complete, busy } => serde_json::json!({
                "experiment": plan.experiment, "submitted": false, "complete": complete, "busy": busy,
            }),
            Submitted::Tasks { job, runs, tasks, logs, dir } => serde_json::json!({
                "experiment": plan.experiment, "submitted": job.is_some(), "job": job, "runs": runs, "tasks": tasks,
                "logs": logs, "submission": dir, "dry_run": args.dry_run,
            }),
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    match submitted {
        Submitted::Nothing { complete, busy } => {
            println!("{}: nothing to submit ({complete} runs complete, {busy} in queued or running tasks)", plan.experiment);
        }
        Submitted::Tasks { job: Some(job), runs, tasks, logs, .. } => {
            eprintln!("{}: {runs} runs in {tasks} tasks; logs in {}", plan.experiment, logs.display());
            println!("submitted job {job}");
        }
        Submitted::Tasks { job: None, runs, tasks, dir, .. } => {
            eprintln!("dry run: nothing submitted ({runs} runs in {tasks} tasks; script in {})", dir.display())
        }
    }
    Ok(())
}

pub fn worker(args: &WorkerArgs) -> Result<(), CliError> {
    let dir =
        if args.manifest.is_dir() { args.manifest.clone() } else { args.manifest.parent().map(Path::to_path_buf).unwrap_or_default() };
    let manifest = Manifest::read(&dir)?;
    let index = match args.task {
        Some(i) => i,
        None => std::env::var("SLURM_ARRAY_TASK_ID")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| CliError::Usage("runner worker: give --task N (SLURM_ARRAY_TASK_ID is not set)".into()))?,
    };
    let task = manifest.task(index)?.clone();
    let restart = std::env::var("SLURM_RESTART_COUNT").ok().and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
    eprintln!(
        "runner worker: submission {} task {index} on {} (restart {restart}): {} runs of {}",
        manifest.id,
        crate::store::lock::hostname(),
        task.run_ids.len(),
        task.model
    );
    let run_args = RunArgs {
        spec: SpecArgs { spec: manifest.spec.clone(), sets: manifest.sets.clone() },
        jobs: 1,
        max_memory: None,
        only: None,
        allow_dirty: manifest.allow_dirty,
        results_dir: manifest.results_dir.clone(),
        fail_fast: false,
        wave: manifest.wave,
        quiet: false,
        json: false,
        prompt_cache: crate::schedule::sweep::DEFAULT_PROMPT_CACHE_BYTES as f64 / 1e9,
    };
    run_scoped(&run_args, Some(Scope { runs: RunFilter::run_ids(task.run_ids), tag: manifest.tag }))
}

pub fn cancel(args: &StatusArgs) -> Result<(), CliError> {
    let (plan, _) = plan_of(&args.spec)?;
    let commit_dir = args.commit_dir(&plan.experiment)?;
    let subs: Vec<Submission> = submissions::list(&commit_dir)?.into_iter().filter(|s| s.manifest.executor == "slurm").collect();
    if subs.is_empty() {
        println!("{}: no Slurm submissions in {}", plan.experiment, commit_dir.display());
        return Ok(());
    }
    let jobs = SlurmExecutor::new(SlurmOptions::default()).cancel(&subs)?;
    println!("cancelled jobs {}", jobs.join(", "));
    Ok(())
}
