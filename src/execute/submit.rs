//! Submitting an experiment's pending runs to an executor, below the
//! command line: which runs are pending (complete ones and those in queued
//! or running tasks are left out), their grouping into tasks, the
//! manifest, and the submission record.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::submissions::{self, Submission};
use super::{group_runs, ExecuteError, Executor, Manifest};
use crate::plan::{Plan, RunConfig};
use crate::store::scan::scan;
use crate::store::CommitTag;

/// One submission to make.
pub struct SubmitRequest<'a> {
    pub plan: &'a Plan,
    pub executor: &'a dyn Executor,
    /// The spec file (absolute) and its `--set` overrides.
    pub spec: PathBuf,
    pub sets: Vec<String>,
    /// The results root as given (absolute), when given.
    pub results_dir: Option<PathBuf>,
    pub tag: CommitTag,
    pub commit_dir: PathBuf,
    /// Runs per task.
    pub group_size: usize,
    pub wave: usize,
    pub allow_dirty: bool,
    /// Write the manifest and script but submit nothing.
    pub dry_run: bool,
    /// Submit only what is missing from earlier submissions.
    pub resume: bool,
}

/// What a submission did.
pub enum Submitted {
    /// Every run is complete or in a queued or running task.
    Nothing { complete: usize, busy: usize },
    /// The tasks went to the executor; `job` is its id (none on a dry run).
    Tasks { job: Option<String>, runs: usize, tasks: usize, logs: PathBuf, dir: PathBuf },
}

/// Submits the pending runs of `r.plan`.
pub fn submit_pending(r: SubmitRequest<'_>) -> Result<Submitted, ExecuteError> {
    let exec = r.executor;
    let earlier: Vec<Submission> = submissions::list(&r.commit_dir)?.into_iter().filter(|s| s.manifest.executor == exec.name()).collect();
    if !earlier.is_empty() && !r.resume && !r.dry_run {
        let last = earlier.last().and_then(|s| s.job.as_ref()).map(|j| j.job_id.clone()).unwrap_or_default();
        return Err(ExecuteError::Option {
            key: "runner submit".into(),
            message: format!(
                "{} was already submitted ({} submissions, the last as job {last}, in {}): `runner submit --resume` submits only what is missing, `runner cancel` cancels",
                r.plan.experiment,
                earlier.len(),
                r.commit_dir.join(submissions::SUBMISSIONS).display()
            ),
        });
    }
    let states = if earlier.is_empty() { BTreeMap::new() } else { exec.task_states(&earlier)? };
    let busy = super::status::busy_runs(&earlier, &states);
    let progress = scan(&r.commit_dir, &r.plan.runs)?;
    let complete = progress.iter().filter(|p| p.is_complete()).count();
    let pending: Vec<&RunConfig> = r
        .plan
        .runs
        .iter()
        .zip(&progress)
        .filter(|(run, p)| !p.is_complete() && !busy.contains(&run.run_id.0))
        .map(|(run, _)| run)
        .collect();
    if pending.is_empty() {
        return Ok(Submitted::Nothing { complete, busy: busy.len() });
    }
    let tasks = group_runs(&pending, r.group_size);
    let mut id = submissions::new_id(&r.commit_dir);
    if r.dry_run {
        id.push_str("-dry-run");
    }
    let manifest = Manifest {
        format: super::manifest::FORMAT,
        id,
        executor: exec.name().to_owned(),
        experiment: r.plan.experiment.clone(),
        spec: r.spec,
        sets: r.sets,
        results_dir: r.results_dir,
        commit_dir: r.commit_dir.clone(),
        tag: r.tag.to_string(),
        allow_dirty: r.allow_dirty,
        wave: r.wave,
        dry_run: r.dry_run,
        created_at: crate::store::now_rfc3339(),
        tasks,
    };
    let (n_tasks, n_runs) = (manifest.tasks.len(), manifest.run_count());
    let mut sub = Submission::create(manifest)?;
    let job = exec.submit(&sub, r.dry_run)?;
    if let Some(job) = &job {
        sub.record_job(job)?;
    }
    Ok(Submitted::Tasks { job, runs: n_runs, tasks: n_tasks, logs: sub.logs(), dir: sub.dir.clone() })
}
