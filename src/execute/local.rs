//! The local executor: each task runs here, one after another, as a
//! `runner worker` process, so a local submission goes through exactly the
//! worker path a cluster task does.

use std::collections::BTreeMap;
use std::process::Command;

use super::{ExecuteError, Executor, Submission, TaskKey, TaskState};

pub struct LocalExecutor;

impl Executor for LocalExecutor {
    fn name(&self) -> &'static str {
        "local"
    }

    fn submit(&self, submission: &Submission, dry_run: bool) -> Result<Option<String>, ExecuteError> {
        let exe = std::env::current_exe()
            .map_err(|e| ExecuteError::Command { command: "runner".into(), message: format!("cannot find its own executable: {e}") })?;
        let manifest = submission.dir.join(super::manifest::MANIFEST);
        let mut failed = Vec::new();
        for task in &submission.manifest.tasks {
            let mut cmd = Command::new(&exe);
            cmd.arg("worker").arg("--manifest").arg(&manifest).arg("--task").arg(task.index.to_string());
            // A worker's output is a log of this command, not its answer
            // (which `--json` keeps alone on standard output).
            cmd.stdout(std::process::Stdio::from(std::io::stderr()));
            if dry_run {
                eprintln!("{} worker --manifest {} --task {}", exe.display(), manifest.display(), task.index);
                continue;
            }
            let status =
                cmd.status().map_err(|e| ExecuteError::Command { command: format!("{} worker", exe.display()), message: e.to_string() })?;
            if !status.success() {
                failed.push(task.index);
            }
        }
        if !failed.is_empty() {
            return Err(ExecuteError::Command {
                command: "runner worker".into(),
                message: format!("failed for tasks {failed:?} (see above and `runner status`)"),
            });
        }
        Ok((!dry_run).then(|| "local".to_owned()))
    }

    fn task_states(&self, _: &[Submission]) -> Result<BTreeMap<TaskKey, TaskState>, ExecuteError> {
        Ok(BTreeMap::new())
    }

    fn cancel(&self, _: &[Submission]) -> Result<Vec<String>, ExecuteError> {
        Ok(Vec::new())
    }
}
