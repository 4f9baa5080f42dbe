//! `runner table`, `runner plot` and `runner diff`: find the results,
//! load their samples, and hand them to `report`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{CliError, SpecArgs};
use crate::report::{self, DiffOptions, Format, Source, TableOptions};
use crate::store::{self, layout, Results, StoreError};

/// Where the results are: the revision and the results root.
#[derive(Debug, clap::Args)]
pub struct ResultsArgs {
    /// Results of this commit: a git revision, a directory name under the
    /// experiment's results, or a results directory.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub commit: String,
    /// The results root (default: results/ at the root of the repository
    /// holding the experiment file).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct TableArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub results: ResultsArgs,
    /// Group rows by these columns (default: method_name, with model and
    /// dataset first where they vary).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS", conflicts_with = "layout")]
    pub by: Option<Vec<String>>,
    /// `paper`: a block per model and dataset, a row per method entry (and
    /// value of any other swept parameter, such as lambda), a
    /// column per num_rollouts, one metric (OWA, else accuracy, else
    /// reward; or the one --metrics names). Formats md and latex.
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Metrics to show (default: reward, smape and owa and/or accuracy and
    /// f1, parsed, nfe, tokens_generated).
    #[arg(long, value_delimiter = ',', value_name = "METRICS")]
    pub metrics: Option<Vec<String>>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Shapes of the aggregate table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One row per group of `--by`, a column per metric (the default).
    Long,
    /// Methods by rollout budgets, per model and dataset.
    Paper,
}

#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    #[command(flatten)]
    pub results: ResultsArgs,
    /// Directory for the figures (default: figures/ in the results directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// The results root (default: results/ at the root of the repository
    /// holding the experiment file).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Group each commit's rows by these columns (default as for `runner table`).
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub by: Option<Vec<String>>,
    /// Metrics to show (default as for `runner table`).
    #[arg(long, value_delimiter = ',', value_name = "METRICS")]
    pub metrics: Option<Vec<String>>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: DiffFormat,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Formats a diff can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Md,
    Json,
}

impl From<DiffFormat> for Format {
    fn from(f: DiffFormat) -> Format {
        match f {
            DiffFormat::Md => Format::Md,
            DiffFormat::Json => Format::Json,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier results: a git revision or a results directory.
    pub rev_a: String,
    /// The later results: a git revision or a results directory.
    pub rev_b: String,
    /// The experiment file (needed to name results by revision).
    pub spec: Option<PathBuf>,
    /// The results root (default: results/ at the root of the repository
    /// holding the experiment file).
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,
    /// Also compare within groups of these columns.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub by: Option<Vec<String>>,
    /// Metrics to compare (default as for `runner table`).
    #[arg(long, value_delimiter = ',', value_name = "METRICS")]
    pub metrics: Option<Vec<String>>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: DiffFormat,
    /// Exit with status 3 when this metric got significantly worse overall.
    #[arg(long, value_delimiter = ',', value_name = "METRIC")]
    pub fail_on_regression: Vec<String>,
}

/// The results directory of `args`, the samples of the spec's planned runs
/// in it (runs of other configurations there are left out), and the source
/// saying how many of the planned runs are complete.
fn load(spec: &SpecArgs, results: &ResultsArgs) -> Result<(PathBuf, polars::prelude::DataFrame, Source), CliError> {
    let loaded = crate::spec::load(&spec.spec, &spec.sets)?;
    let plan = crate::plan::resolve(&loaded)?;
    let dir = Results::locate(&spec.spec, results.results_dir.as_deref()).find(&loaded.spec.name, &results.commit)?;
    let ids: Vec<String> = plan.runs.iter().map(|r| r.run_id.0.clone()).collect();
    let (df, complete) = store::load_run_samples(&dir, &ids)?;
    eprintln!("{complete} of {} planned runs complete", ids.len());
    let source = Source::of_dir(&dir, Some(&spec.spec)).planned(ids.len());
    Ok((dir, df, source))
}

fn write_out(output: Option<&Path>, text: &str) -> Result<(), CliError> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| CliError::Io { context: format!("writing {}", path.display()), source: e }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| CliError::Io { context: "writing to standard output".into(), source: e })
        }
    }
}

pub fn table(args: &TableArgs) -> Result<(), CliError> {
    let (_, df, source) = load(&args.spec, &args.results)?;
    let text = match args.layout {
        Some(Layout::Paper) => report::render_paper(&df, source, args.metrics.as_deref(), args.format)?,
        Some(Layout::Long) | None => {
            let opts = TableOptions { by: args.by.clone(), metrics: args.metrics.clone() };
            report::render_table(&df, source, &opts, args.format)?
        }
    };
    write_out(args.output.as_deref(), &text)
}

pub fn plot(args: &PlotArgs) -> Result<(), CliError> {
    let (dir, df, source) = load(&args.spec, &args.results)?;
    let out = args.out.clone().unwrap_or_else(|| dir.join("figures"));
    let files = report::plot::plot(&df, source, &out)?;
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}

/// The results directory `rev` names: with an experiment file, as for
/// `runner table --commit`; without, it must be a results directory.
fn side(rev: &str, spec: Option<&Path>, results_dir: Option<&Path>) -> Result<PathBuf, CliError> {
    match spec {
        Some(spec) => {
            let name = crate::spec::load(spec, &[])?.spec.name;
            Ok(Results::locate(spec, results_dir).find(&name, rev)?)
        }
        None => {
            let dir = PathBuf::from(rev);
            if dir.join(layout::RUNS).is_dir() || dir.join(layout::PLAN_JSON).is_file() {
                Ok(dir)
            } else {
                Err(StoreError::NoResults {
                    dir,
                    what: "not a results directory (no runs/ or plan.json); give the experiment file to name results by revision".into(),
                }
                .into())
            }
        }
    }
}

pub fn history(args: &HistoryArgs) -> Result<(), CliError> {
    let name = crate::spec::load(&args.spec.spec, &args.spec.sets)?.spec.name;
    let results = Results::locate(&args.spec.spec, args.results_dir.as_deref());
    let dir = results.experiment_dir(&name);
    let tags = store::history::tag_dirs(&dir, results.repo.as_ref())?;
    let mut commits = Vec::with_capacity(tags.len());
    for tag in tags {
        let df = if tag.dir.join(layout::RUNS).is_dir() {
            store::load_samples(&tag.dir)?
        } else {
            store::parquet::samples_frame(&[]).map_err(|e| StoreError::Parquet { path: tag.dir.clone(), message: e.to_string() })?
        };
        commits.push((tag, df));
    }
    let opts = TableOptions { by: args.by.clone(), metrics: args.metrics.clone() };
    let h = report::history::build(&name, &dir.display().to_string(), commits, &opts)?;
    write_out(args.output.as_deref(), &Format::from(args.format).exporter().history(&h)?)
}

pub fn diff(args: &DiffArgs) -> Result<(), CliError> {
    let spec = args.spec.as_deref();
    let (dir_a, dir_b) = (side(&args.rev_a, spec, args.results_dir.as_deref())?, side(&args.rev_b, spec, args.results_dir.as_deref())?);
    let (a, b) = (store::load_samples(&dir_a)?, store::load_samples(&dir_b)?);
    let opts = DiffOptions { by: args.by.clone(), metrics: args.metrics.clone(), require: args.fail_on_regression.clone() };
    let d = report::diff(&a, Source::of_dir(&dir_a, spec), &b, Source::of_dir(&dir_b, spec), &opts)?;
    write_out(None, &Format::from(args.format).exporter().diff(&d)?)?;
    for metric in &args.fail_on_regression {
        d.check_regression(metric)?;
    }
    Ok(())
}
