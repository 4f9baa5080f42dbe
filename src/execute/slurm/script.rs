//! The sbatch script of a submission: one job array whose task `i` runs
//! `runner worker` for task `i` of the manifest. Options go in `#SBATCH`
//! lines (validated tokens); paths go in the shell part, single-quoted.

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
        ("account", options.account.clone()),
    ] {
        if let Some(v) = value {
            lines.push(format!("#SBATCH --{flag}={v}"));
        }
    }
    for e in &options.extra_sbatch {
        lines.push(format!("#SBATCH {e}"));
    }
    lines.push(String::new());
    lines.push("set -euo pipefail".to_owned());
    // exec: Slurm's SIGTERM (scancel, preemption, time limit) reaches the
    // worker itself, which stops at once and releases its locks.
    lines.push(format!(
        "exec {} worker --manifest {} --task \"$SLURM_ARRAY_TASK_ID\"",
        shell_quote(&runner.display().to_string()),
        shell_quote(&submission_dir.join(crate::execute::manifest::MANIFEST).display().to_string())
    ));
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
