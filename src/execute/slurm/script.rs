//! The sbatch script of a submission: one job array whose task `i` runs
//! `runner worker` for task `i` of the manifest. Options go in `#SBATCH`
//! lines (validated tokens); paths go in the shell part, single-quoted;
//! setup lines (`executor.slurm.setup`, `--setup`) go in verbatim, after
//! `set -euo pipefail` and before the worker starts.
//!
//! With requeue on and a time limit, Slurm signals the batch shell with
//! USR1 some seconds before the limit (`--signal=B:USR1@N`): the script
//! runs the worker in the background, and its trap requeues this array
//! task (`scontrol requeue JOB_TASK`), then stops the worker with SIGTERM
//! (it releases its locks at once) and waits for it. A plain SIGTERM
//! (`scancel`, preemption) is passed on to the worker the same way.
//! Without the trap the shell `exec`s the worker, which gets Slurm's
//! signals itself.

use std::path::Path;

use super::SlurmOptions;
use crate::execute::{ExecuteError, Manifest};

/// `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c)) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What the trap writes to the task's log when it requeues the task
/// (`runner status` reads it).
pub const REQUEUE_NOTE: &str = "runner job script: time limit near, requeueing";

/// The `#SBATCH` option that asks for the requeue signal.
const SIGNAL_OPTION: &str = "#SBATCH --signal=B:USR1@";

/// Whether a job script (the text of `job.sbatch`) requeues its task
/// before the time limit.
pub fn requeues_before_limit(script: &str) -> bool {
    script.lines().any(|l| l.starts_with(SIGNAL_OPTION))
}

/// The trap's functions and handlers, installed before the setup lines so
/// that a signal during setup is not lost: USR1 requeues the task and stops
/// the worker, TERM stops the worker; a signal before the worker exists is
/// remembered in `trapped`.
fn trap_lines(seconds: u32) -> Vec<String> {
    let task = "\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"";
    [
        format!("# Slurm sends USR1 to this shell {seconds} s before the time limit: requeue this"),
        "# task, then stop the worker (SIGTERM: it releases its locks at once) and wait".to_owned(),
        "# for it. A SIGTERM from Slurm (scancel, preemption) is passed on the same way.".to_owned(),
        "worker=".to_owned(),
        "trapped=".to_owned(),
        "stop_worker() {".to_owned(),
        "    trapped=1".to_owned(),
        "    if [ -n \"$worker\" ]; then kill -TERM \"$worker\" 2>/dev/null || true; fi".to_owned(),
        "}".to_owned(),
        "requeue_task() {".to_owned(),
        format!("    echo \"{REQUEUE_NOTE} {}\" >&2", "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"),
        format!("    scontrol requeue {task} || echo \"runner job script: scontrol requeue failed\" >&2"),
        "    stop_worker".to_owned(),
        "}".to_owned(),
        "trap requeue_task USR1".to_owned(),
        "trap stop_worker TERM".to_owned(),
    ]
    .into()
}

/// The lines that start `command` (already quoted) under the trap: in the
/// background, stopped at once when a signal came first, waited for until
/// its status is known, which the script exits with.
fn trapped_start(command: &str) -> Vec<String> {
    [
        format!("{command} &"),
        "worker=$!".to_owned(),
        "# A signal that came before the worker existed stops it now.".to_owned(),
        "if [ -n \"$trapped\" ]; then kill -TERM \"$worker\" 2>/dev/null || true; fi".to_owned(),
        "# A trapped signal ends `wait` early: wait again until the worker's status is known.".to_owned(),
        "status=".to_owned(),
        "while :; do".to_owned(),
        "    trapped=".to_owned(),
        "    wait \"$worker\" && s=0 || s=$?".to_owned(),
        "    # 127 after a trap: the wait before already had the worker's status.".to_owned(),
        "    if [ \"$s\" -eq 127 ] && [ -n \"$status\" ]; then break; fi".to_owned(),
        "    status=$s".to_owned(),
        "    if [ -z \"$trapped\" ]; then break; fi".to_owned(),
        "done".to_owned(),
        "exit \"$status\"".to_owned(),
    ]
    .into()
}

/// A job name Slurm shows: the experiment name, reduced to safe characters.
pub fn job_name(experiment: &str) -> String {
    let clean: String = experiment.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.".contains(c) { c } else { '_' }).collect();
    format!("runner-{clean}")
}

/// `dir/file` in an `#SBATCH` line: bare when `dir` is one plain token,
/// else in double quotes (which sbatch honours there). `file` may use
/// Slurm's patterns (`%A`, `%a`); `dir` cannot hold `"`, `\`, `%` or line
/// breaks.
pub fn sbatch_path(dir: &Path, file: &str) -> Result<String, ExecuteError> {
    let dir = dir.display().to_string();
    if dir.chars().any(|c| matches!(c, '"' | '\\' | '%' | '\n' | '\r')) {
        return Err(ExecuteError::Option {
            key: "--results-dir".into(),
            message: format!("{dir}: Slurm log paths cannot hold `\"`, `\\`, `%` or line breaks; choose another results directory"),
        });
    }
    let text = format!("{dir}/{file}");
    if dir.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c)) {
        Ok(text)
    } else {
        Ok(format!("\"{text}\""))
    }
}

pub fn render(manifest: &Manifest, options: &SlurmOptions, runner: &Path, submission_dir: &Path) -> Result<String, ExecuteError> {
    let n = manifest.tasks.len();
    let mut array = format!("0-{}", n.saturating_sub(1));
    if let Some(p) = options.array_parallelism {
        array.push_str(&format!("%{p}"));
    }
    let logs = submission_dir.join(crate::execute::submissions::LOGS);
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!("# runner: experiment {}, submission {}, {} runs in {n} tasks", manifest.experiment, manifest.id, manifest.run_count()),
        format!("#SBATCH --job-name={}", job_name(&manifest.experiment)),
        format!("#SBATCH --array={array}"),
        // Slurm substitutes %A (array job id) and %a (task index); a
        // requeued task appends to its log.
        format!("#SBATCH --output={}", sbatch_path(&logs, "%A_%a.out")?),
        "#SBATCH --open-mode=append".to_owned(),
    ];
    lines.push(if options.requeue { "#SBATCH --requeue" } else { "#SBATCH --no-requeue" }.to_owned());
    for (flag, value) in [
        ("partition", options.partition.clone()),
        ("time", options.time.clone()),
        ("mem", options.mem.clone()),
        ("cpus-per-task", options.cpus_per_task.map(|c| c.to_string())),
        ("gres", options.gres.clone()),
        ("gpus", options.gpus.clone()),
        ("account", options.account.clone()),
    ] {
        if let Some(v) = value {
            lines.push(format!("#SBATCH --{flag}={v}"));
        }
    }
    let signal = options.requeue_signal();
    if let Some(seconds) = signal {
        lines.push(format!("{SIGNAL_OPTION}{seconds}"));
    }
    for e in &options.extra_sbatch {
        lines.push(format!("#SBATCH {e}"));
    }
    lines.push(String::new());
    lines.push("set -euo pipefail".to_owned());
    if let Some(seconds) = signal {
        lines.extend(trap_lines(seconds));
    }
    lines.extend(options.setup.iter().cloned());
    let command = format!(
        "{} worker --manifest {} --task \"$SLURM_ARRAY_TASK_ID\"",
        shell_quote(&runner.display().to_string()),
        shell_quote(&submission_dir.join(crate::execute::manifest::MANIFEST).display().to_string())
    );
    match signal {
        Some(_) => lines.extend(trapped_start(&command)),
        // exec: Slurm's SIGTERM (scancel, preemption, time limit) reaches
        // the worker itself, which stops at once and releases its locks.
        None => lines.push(format!("exec {command}")),
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

/// Where the dependent job writes the sweep's table.
pub const TABLES: &str = "tables.md";

/// The job that builds the tables once every task succeeded.
pub fn render_tables(manifest: &Manifest, runner: &Path, submission_dir: &Path, options: &SlurmOptions) -> Result<String, ExecuteError> {
    let logs = submission_dir.join(crate::execute::submissions::LOGS);
    let mut lines = vec![
        "#!/bin/bash".to_owned(),
        format!("#SBATCH --job-name={}-tables", job_name(&manifest.experiment)),
        format!("#SBATCH --output={}", sbatch_path(&logs, "tables.out")?),
    ];
    for (flag, value) in [("partition", options.partition.clone()), ("account", options.account.clone())] {
        if let Some(v) = value {
            lines.push(format!("#SBATCH --{flag}={v}"));
        }
    }
    lines.push(String::new());
    lines.push("set -euo pipefail".to_owned());
    lines.extend(options.setup.iter().cloned());
    let mut cmd = vec![shell_quote(&runner.display().to_string()), "table".into(), shell_quote(&manifest.spec.display().to_string())];
    for s in &manifest.sets {
        cmd.push("--set".into());
        cmd.push(shell_quote(s));
    }
    if let Some(r) = &manifest.results_dir {
        cmd.push("--results-dir".into());
        cmd.push(shell_quote(&r.display().to_string()));
    }
    cmd.push("--commit".into());
    cmd.push(shell_quote(&manifest.commit_dir.display().to_string()));
    cmd.push("--output".into());
    cmd.push(shell_quote(&submission_dir.join(TABLES).display().to_string()));
    lines.push(format!("exec {}", cmd.join(" ")));
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quoting_keeps_every_character() {
        assert_eq!(shell_quote("/a/b-c.yaml"), "/a/b-c.yaml");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $(x)"), r"'it'\''s $(x)'");
        assert_eq!(shell_quote(""), "''");
    }
}
