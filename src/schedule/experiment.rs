//! One `runner run` of an experiment, below the command line: the plan
//! file, remote sources, tracking, the sweep and the summary, in that
//! order. The caller parses arguments and prints; what happens on the way
//! is told through `notify`.

use std::path::Path;

use super::{execute_sweep, Progress, RunFilter, ScheduleError, Sources, SweepOptions, SweepReport};
use crate::assets::remote::FetchMode;
use crate::plan::{Plan, RunConfig};
use crate::spec::LoadedSpec;
use crate::store::plan_file::PlanFile;
use crate::store::provenance::{Libraries, Provenance};
use crate::store::summary::write_summary;
use crate::store::CommitTag;
use crate::track::{Tracker, UploadReport, WandbSettings};

/// What one execution of an experiment needs.
pub struct Experiment<'a> {
    pub plan: &'a Plan,
    pub loaded: &'a LoadedSpec,
    /// The spec file as given.
    pub spec: &'a Path,
    /// The `--set` overrides, as given.
    pub overrides: &'a [String],
    /// The results tag of the working tree, and its directory.
    pub tag: CommitTag,
    pub commit_dir: &'a Path,
    pub libraries: Libraries,
    /// W&B settings, when the spec tracks (resolved by the caller, whose
    /// input they are).
    pub tracking: Option<WandbSettings>,
}

/// What an execution did.
pub struct ExperimentReport {
    pub sweep: SweepReport,
    /// W&B uploads at the end, when tracking ran.
    pub uploads: Option<UploadReport>,
}

/// Executes the runs of `e` that `options.only` selects: resolves their
/// remote data and hub models against the lock file before anything is
/// written, records the plan file, starts tracking when the spec asks for it
/// (a tracking failure is told and the sweep runs untracked), runs the
/// sweep, then records the revisions it met and rewrites the summary.
pub fn run_experiment(
    e: Experiment<'_>,
    options: &SweepOptions,
    progress: &dyn Progress,
    notify: &dyn Fn(&str),
) -> Result<ExperimentReport, ScheduleError> {
    let timing = options.lock_timing;
    let mut plan_file = PlanFile {
        experiment: e.plan.experiment.clone(),
        spec_file: e.spec.display().to_string(),
        spec_text: e.loaded.text.clone(),
        overrides: e.overrides.to_vec(),
        runs: e.plan.runs.clone(),
        provenance: Provenance::new(e.tag.clone(), e.libraries.clone()),
    };
    let only: Option<&RunFilter> = options.only.as_ref();
    let wanted: Vec<RunConfig> = e.plan.runs.iter().filter(|r| only.is_none_or(|f| f.matches(r))).cloned().collect();
    let mode = FetchMode { offline: crate::assets::hf_offline(), update: false };
    let (sources, resolution) = Sources::resolve(&wanted, e.spec, mode, false)?;
    if resolution.lock_written {
        notify(&format!("lock: {} written (commit it with the spec)", resolution.lock.display()));
    }
    plan_file.merge_into(e.commit_dir, timing)?;
    notify(&format!("results: {}", e.commit_dir.display()));
    let tracker = start_tracking(&e, notify);
    let sweep = execute_sweep(e.plan, e.commit_dir, &sources, options, progress, tracker.as_ref())?;
    plan_file.provenance.model_revisions = sweep.model_revisions.clone();
    plan_file.provenance.data_sha256 = sweep.data_sha256.clone();
    plan_file.merge_into(e.commit_dir, timing)?;
    let changed = !sweep.completed.is_empty() || !sweep.failed.is_empty();
    if changed || !e.commit_dir.join(crate::store::layout::SUMMARY_PARQUET).is_file() {
        write_summary(e.commit_dir, &e.plan.runs, timing)?;
    }
    if let Some(t) = &tracker {
        t.attach_sweep_files(e.commit_dir);
    }
    let uploads = tracker.and_then(|t| t.finish(std::time::Duration::from_secs(60)));
    Ok(ExperimentReport { sweep, uploads })
}

/// The tracker of `e.tracking`, or none (told why when it cannot start).
fn start_tracking(e: &Experiment<'_>, notify: &dyn Fn(&str)) -> Option<Tracker> {
    let settings = e.tracking.clone()?;
    let left_over = crate::track::sync::outboxes(&[e.commit_dir.to_path_buf()]);
    Tracker::start(settings, &e.plan.experiment, e.tag.clone(), left_over).unwrap_or_else(|err| {
        notify(&format!("{err}; the sweep runs without tracking"));
        None
    })
}
