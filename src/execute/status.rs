//! What `runner status` says of submitted runs: the state of each run's
//! task (queued, running on a node, requeued, finished), its run lock's
//! heartbeat, and the tail of the task's log where the run or the task
//! failed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::slurm::{SlurmExecutor, SlurmOptions};
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

fn task_label(state: Option<&TaskState>, requeued: bool, heartbeat: Option<u64>) -> String {
    let Some(st) = state else {
        return "finished (no longer listed by Slurm)".into();
    };
    let reason = st.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
    let mut label = match st.state.as_str() {
        "PENDING" if requeued => format!("requeued, waiting{reason}"),
        "PENDING" => format!("queued{reason}"),
        "RUNNING" => format!("running on {}", st.node.as_deref().unwrap_or("?")),
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
    for (run, p) in runs.iter().zip(progress) {
        let Some((sub, task)) = subs.iter().rev().find_map(|s| s.task_of(&run.run_id.0).map(|t| (s, t))) else { continue };
        let Some(job) = sub.job.as_ref() else { continue };
        let state = states.get(&(job.job_id.clone(), task));
        let log = sub.log_of(task);
        let log_text =
            log.as_ref().and_then(|l| std::fs::read(l).ok()).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let requeued = log_text.contains("DUE TO JOB REQUEUE")
            || log_text.lines().any(|l| l.starts_with("runner worker:") && !l.contains("(restart 0)"));
        let lock = crate::store::layout::run_dir(commit_dir, &run.run_id.0).join(crate::store::layout::RUN_LOCK);
        let heartbeat = crate::store::lock::read_info(&lock).map(|i| crate::store::lock::now().saturating_sub(i.heartbeat));
        let mut lines = vec![format!("slurm job {}_{task}: {}", job.job_id, task_label(state, requeued, heartbeat))];
        let task_failed = state
            .is_some_and(|s| matches!(s.state.as_str(), "FAILED" | "NODE_FAIL" | "TIMEOUT" | "OUT_OF_MEMORY" | "BOOT_FAIL" | "DEADLINE"));
        if matches!(p, RunProgress::Failed { .. }) || task_failed {
            if let Some(l) = &log {
                lines.push(format!("log {}:", l.display()));
                lines.extend(submissions::tail(l, TAIL).into_iter().map(|t| format!("  | {t}")));
            }
        }
        notes.insert(run.run_id.0.clone(), lines);
    }
    notes
}
