//! Command-line parsing and dispatch; the logic lives in the other modules.

mod bench;
mod doctor;
mod fetch;
mod list;
mod model;
mod plan;
mod report;
mod rescore;
mod run;
mod schema;
mod shell;
mod submit;
mod wandb;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::engine::EngineError;
use crate::plan::PlanError;
use crate::spec::SpecError;

/// Declarative, reproducible evaluations of LLM inference-time search on MLX.
#[derive(Debug, Parser)]
#[command(name = "runner", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Layering flags shared by the commands that read an experiment file.
#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// The experiment file (YAML).
    pub spec: PathBuf,
    /// Override a value: `--set methods.mcts.c_uct=2` (value read as YAML;
    /// wins over the file and RUNNER_* environment variables).
    #[arg(long = "set", value_name = "KEY.PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Resolve the sweep and print its runs (with --estimate: what they cost).
    Plan(plan::PlanArgs),
    /// Fetch every remote dataset and hub model the sweep needs and pin
    /// them in the lock file beside the spec (`x.yaml` -> `x.lock`).
    Fetch(fetch::FetchArgs),
    /// Execute every run of the sweep not yet complete (resumes where it stopped).
    Run(run::RunArgs),
    /// Per run: complete, partial (k of n), pending or failed, with the
    /// state of its cluster task where the sweep was submitted.
    Status(run::StatusCmd),
    /// Submit the sweep's pending runs to an executor (Slurm: one job array).
    Submit(submit::SubmitArgs),
    /// Execute one task of a submission (what each array task runs).
    Worker(submit::WorkerArgs),
    /// Cancel the sweep's submitted jobs.
    Cancel(run::StatusArgs),
    /// Aggregate results: one row per group, each metric as mean ± 95% interval.
    Table(report::TableArgs),
    /// Figures (PNG and SVG): quality against compute and against num_rollouts.
    Plot(report::PlotArgs),
    /// Compare two results sets sample by sample (paired bootstrap, sign test).
    Diff(report::DiffArgs),
    /// One table across every commit's results of the experiment, oldest
    /// first (markdown or JSON).
    History(report::HistoryArgs),
    /// Score the recorded outputs of earlier results again with this build
    /// (parsing, metrics, rewards), without a model, into a new results
    /// directory `<commit>-rescore-<their commit>`.
    Rescore(rescore::RescoreArgs),
    /// Weights & Biases: replay outboxes.
    #[command(subcommand)]
    Wandb(wandb::WandbCommand),
    /// Check an experiment file and its sweep; print nothing but errors and a count.
    Validate {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Shell completions (bash, zsh, fish, elvish, powershell) on standard
    /// output: `runner completions bash > ~/.local/share/bash-completion/completions/runner`.
    Completions { shell: clap_complete::Shell },
    /// The manual page (roff) on standard output, or with --output one page
    /// per command into a folder (`runner.1`, `runner-run.1`, ...).
    Man {
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// The methods, parameters (defaults, ranges, choices), tasks, dataset
    /// formats and metrics an experiment file can name.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print (or write) the JSON Schema of experiment files.
    Schema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Measure throughput (JSON; see scripts/bench/).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Inspect a model or generate with it.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Report MLX, the BLAS in use (with a measured sgemm figure) and the assets.
    Doctor {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Skip the sgemm measurement.
        #[arg(long)]
        no_bench: bool,
    },
}

impl Command {
    /// Whether a closed standard output may end the command: it only reads
    /// and prints, or (`rescore`) prints only once its files are in place.
    pub fn stops_on_closed_pipe(&self) -> bool {
        matches!(
            self,
            Command::Plan(_)
                | Command::Validate { .. }
                | Command::Status(_)
                | Command::Table(_)
                | Command::Diff(_)
                | Command::History(_)
                | Command::Rescore(_)
                | Command::Completions { .. }
                | Command::Man { output: None }
                | Command::List { .. }
                | Command::Doctor { .. }
                | Command::Schema { output: None }
        )
    }
}

/// A failed command and the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Evaluate(#[from] crate::evaluate::EvaluateError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    #[error(transparent)]
    Fetch(#[from] crate::assets::FetchError),
    #[error("the working tree of {repo} differs from HEAD (diff hash {hash}); commit the changes, or pass --allow-dirty to record results under <commit>-dirty-{hash}")]
    Dirty { repo: String, hash: String },
    #[error("the working tree is at results tag {now}, but this task was submitted at {submitted}: its results would not match their commit; submit again from the current tree")]
    TreeMoved { submitted: String, now: String },
    #[error(transparent)]
    Execute(#[from] crate::execute::ExecuteError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Estimate(#[from] crate::schedule::EstimateError),
    #[error(transparent)]
    Rescore(#[from] crate::rescore::RescoreError),
    #[error("{failed} runs failed and {not_started} were not started (see above and `runner status`)")]
    RunsFailed { failed: usize, not_started: usize },
}

impl CliError {
    /// 2 for anything wrong with the input, 1 for failures of the machine.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Spec(_) | CliError::Plan(_) => 2,
            CliError::Engine(EngineError::BadInput(_)) => 2,
            CliError::Schedule(crate::schedule::ScheduleError::Filter { .. }) | CliError::Dirty { .. } => 2,
            // The sources of an experiment are resolved below the command line.
            CliError::Schedule(crate::schedule::ScheduleError::Fetch(e)) => e.exit_code(),
            CliError::Store(crate::store::StoreError::NoResults { .. }) => 2,
            CliError::Engine(_) | CliError::Evaluate(_) | CliError::Io { .. } => 1,
            CliError::Store(_) | CliError::Schedule(_) | CliError::RunsFailed { .. } => 1,
            CliError::Report(e) => e.exit_code(),
            CliError::Rescore(e) => e.exit_code(),
            CliError::Fetch(e) => e.exit_code(),
            CliError::Estimate(e) => e.exit_code(),
            CliError::Execute(crate::execute::ExecuteError::Option { .. }) | CliError::Usage(_) | CliError::TreeMoved { .. } => 2,
            CliError::Execute(_) => 1,
        }
    }
}

/// Runs one parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Plan(args) => plan::plan(&args),
        Command::Validate { spec } => plan::validate(&spec),
        Command::Fetch(args) => fetch::fetch(&args),
        Command::Run(args) => run::run(&args),
        Command::Submit(args) => submit::submit(&args),
        Command::Worker(args) => submit::worker(&args),
        Command::Cancel(args) => submit::cancel(&args),
        Command::Wandb(cmd) => wandb::wandb(cmd),
        Command::Status(args) => run::status(&args),
        Command::Table(args) => report::table(&args),
        Command::Plot(args) => report::plot(&args),
        Command::Diff(args) => report::diff(&args),
        Command::History(args) => report::history(&args),
        Command::Rescore(args) => rescore::rescore(&args),
        Command::Schema { output } => schema::schema(output.as_deref()),
        Command::List { json } => list::list(json),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man { output } => shell::man(output.as_deref()),
        Command::Doctor { json, no_bench } => doctor::doctor(json, !no_bench),
        Command::Model(cmd) => model::model(cmd),
        Command::Bench(cmd) => bench::bench(cmd),
    }
}
