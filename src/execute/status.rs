//! What `runner status` says of submitted runs: the state of each run's
//! task (queued, running on a node, requeued, finished), its run lock's
//! heartbeat, and the tail of the task's log where the run or the task
//! failed.
//!
//! A task that hit its time limit (`TIMEOUT`) did not fail: its worker
//! stopped on SIGTERM, its runs are partial, and `runner submit --resume`
//! (or a requeue) continues them. With requeue on and a time limit, the job
//! script requeues the task before the limit, so the task reads as
//! requeued and waiting; `TIMEOUT` there means that requeue did not happen,
//! and the log tail says why. Slurm does not requeue a timed-out task
//! itself, so `TIMEOUT` is never read as queued: that would keep
//! `submit --resume` from resubmitting its runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::slurm::{script, SlurmExecutor, SlurmOptions};
use super::submissions::{self, Submission};
use super::{Executor, TaskKey, TaskState};
use crate::plan::RunConfig;
use crate::store::RunProgress;

/// Run ids in tasks the executor lists as queued or running.
pub fn busy_runs(earlier: &[Submission], states: &BTreeMap<TaskKey, TaskState>) -> BTreeSet<String> {
    let mut busy = BTreeSet::new();
    for s in earlier {
        let Some(job) = &s.job else { continue };
        for t in &s.manifest.tasks {
            if states.get(&(job.job_id.clone(), t.index)).is_some_and(TaskState::is_active) {
                busy.extend(t.run_ids.iter().cloned());
            }
        }
    }
    busy
}

/// Lines of log tail shown for a failed task.
const TAIL: usize = 6;

/// Final task states that are failures (a time limit is none).
fn failed_state(state: &str) -> bool {
    matches!(state, "FAILED" | "NODE_FAIL" | "OUT_OF_MEMORY" | "BOOT_FAIL" | "DEADLINE")
}

/// `requeues`: the job script requeues the task before its time limit.
fn task_label(state: Option<&TaskState>, requeued: bool, requeues: bool, heartbeat: Option<u64>) -> String {
    let Some(st) = state else {
        return "finished (no longer listed by Slurm)".into();
    };
    let reason = st.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    let mut label = match st.state.as_str() {
        "PENDING" if requeued => format!("requeued, waiting{reason}"),
        "PENDING" => format!("queued{reason}"),
        "RUNNING" => format!("running on {}", st.node.as_deref().unwrap_or("?")),
        "TIMEOUT" if requeues => "timed out before its requeue (see the log); `runner submit --resume` continues its runs".to_owned(),
        "TIMEOUT" => "timed out; `runner submit --resume` continues its runs".to_owned(),
        other => format!("{}{reason}", other.to_lowercase()),
    };
    if st.state == "RUNNING" && requeued {
        label.push_str(" (requeued)");
    }
    if let (Some(age), "RUNNING") = (heartbeat, st.state.as_str()) {
        label.push_str(&format!(", heartbeat {age} s ago"));
    }
    label
}

/// Per run id: what the cluster says of its task, and the tail of the
/// task's log where the run or the task failed.
pub fn cluster_notes(commit_dir: &Path, runs: &[RunConfig], progress: &[RunProgress]) -> BTreeMap<String, Vec<String>> {
    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let subs: Vec<Submission> = match submissions::list(commit_dir) {
        Ok(s) => s.into_iter().filter(|s| s.manifest.executor == "slurm").collect(),
        Err(e) => {
            eprintln!("submissions: {e}");
            return notes;
        }
    };
    if subs.is_empty() {
        return notes;
    }
    let states = SlurmExecutor::new(SlurmOptions::default()).task_states(&subs).unwrap_or_else(|e| {
        eprintln!("slurm: {e}");
        BTreeMap::new()
    });
    // Whether each submission's script requeues its tasks before the time limit.
    let requeues: Vec<bool> = subs
        .iter()
        .map(|s| std::fs::read_to_string(s.dir.join(super::slurm::SCRIPT)).is_ok_and(|t| script::requeues_before_limit(&t)))
        .collect();
    for (run, p) in runs.iter().zip(progress) {
        let Some((i, task)) = subs.iter().enumerate().rev().find_map(|(i, s)| s.task_of(&run.run_id.0).map(|t| (i, t))) else {
            continue;
        };
        let (sub, requeues) = (&subs[i], requeues[i]);
        let Some(job) = sub.job.as_ref() else { continue };
        let state = states.get(&(job.job_id.clone(), task));
        let log = sub.log_of(task);
        let log_text =
            log.as_ref().and_then(|l| std::fs::read(l).ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let requeued = log_text.contains("DUE TO JOB REQUEUE")
            || log_text.contains(script::REQUEUE_NOTE)
            || log_text.lines().any(|l| l.starts_with("runner worker:") && !l.contains("(restart 0)"));
        let lock = crate::store::layout::run_dir(commit_dir, &run.run_id.0).join(crate::store::layout::RUN_LOCK);
        let heartbeat = crate::store::lock::read_info(&lock).map(|i| crate::store::lock::now().saturating_sub(i.heartbeat));
        let mut lines = vec![format!("slurm job {}_{task}: {}", job.job_id, task_label(state, requeued, requeues, heartbeat))];
        let task_failed = state.is_some_and(|s| failed_state(&s.state));
        // A time limit despite the requeue before it: the log says why.
        let lost_requeue = requeues && state.is_some_and(|s| s.state == "TIMEOUT");
        if matches!(p, RunProgress::Failed { .. }) || task_failed || lost_requeue {
            if let Some(l) = &log {
                lines.push(format!("log {}:", l.display()));
                lines.extend(submissions::tail(l, TAIL).into_iter().map(|t| format!("  | {t}")));
            }
        }
        notes.insert(run.run_id.0.clone(), lines);
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: &str) -> TaskState {
        TaskState { state: state.into(), node: None, reason: None }
    }

    #[test]
    fn a_time_limit_is_no_failure_and_a_requeued_task_waits() {
        assert!(!failed_state("TIMEOUT"));
        assert!(failed_state("FAILED") && failed_state("OUT_OF_MEMORY"));
        let timed_out = task_label(Some(&st("TIMEOUT")), false, false, None);
        assert!(timed_out.starts_with("timed out;") && timed_out.contains("submit --resume"), "{timed_out}");
        let lost = task_label(Some(&st("TIMEOUT")), false, true, None);
        assert!(lost.contains("before its requeue") && lost.contains("submit --resume"), "{lost}");
        // The trap requeued it: Slurm lists it as pending again.
        let waiting = task_label(Some(&TaskState { reason: Some("BeginTime".into()), ..st("PENDING") }), true, true, None);
        assert_eq!(waiting, "requeued, waiting (BeginTime)");
        assert!(!st("TIMEOUT").is_active(), "a timed-out task's runs are resubmitted by submit --resume");
    }
}
