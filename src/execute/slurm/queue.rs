//! The Slurm commands, run as processes: `sbatch --parsable`, `squeue`,
//! `sacct` (where accounting is configured) and `scancel`. Their output
//! formats are Slurm's; parsing them is kept here.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::super::{ExecuteError, TaskKey, TaskState};

fn run(program: &str, args: &[String]) -> Result<std::process::Output, ExecuteError> {
    Command::new(program).args(args).output().map_err(|e| ExecuteError::Command {
        command: program.to_owned(),
        message: format!("could not be started: {e} (is Slurm installed, and SLURM_CONF set where the cluster needs it?)"),
    })
}

fn failed(program: &str, args: &[String], out: &std::process::Output) -> ExecuteError {
    ExecuteError::Command {
        command: format!("{program} {}", args.join(" ")),
        message: format!("failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
    }
}

/// Submits `script`; returns the job id `sbatch --parsable` printed.
pub fn sbatch(script: &Path, extra: &[String]) -> Result<String, ExecuteError> {
    let mut args: Vec<String> = vec!["--parsable".into()];
    args.extend(extra.iter().cloned());
    args.push(script.display().to_string());
    let out = run("sbatch", &args)?;
    if !out.status.success() {
        return Err(failed("sbatch", &args, &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `JOBID` or `JOBID;CLUSTER`.
    let id = text.trim().split(';').next().unwrap_or("").to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ExecuteError::Command {
            command: "sbatch --parsable".into(),
            message: format!("printed `{}`, not a job id", text.trim()),
        });
    }
    Ok(id)
}

/// One `squeue -o '%i|%T|%N|%r'` line: `JOB_TASK` (or `JOB` for a job that
/// is no array) with state, node list and reason.
pub fn parse_squeue_line(line: &str) -> Option<(TaskKey, TaskState)> {
    let mut f = line.trim().split('|');
    let id = f.next()?;
    let state = f.next()?.trim().to_owned();
    let nonempty = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty() && *s != "None" && *s != "(null)").map(str::to_owned);
    let node = nonempty(f.next());
    let reason = nonempty(f.next());
    let (job, task) = match id.split_once('_') {
        Some((j, t)) => (j.to_owned(), t.parse().ok()?),
        None => (id.to_owned(), 0),
    };
    Some(((job, task), TaskState { state, node, reason }))
}

/// The tasks of `jobs` Slurm still lists (finished ones until MinJobAge).
pub fn squeue(jobs: &[String]) -> Result<BTreeMap<TaskKey, TaskState>, ExecuteError> {
    if jobs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let args: Vec<String> =
        ["-h", "-r", "-t", "all", "-o", "%i|%T|%N|%r", "-j"].iter().map(|s| s.to_string()).chain([jobs.join(",")]).collect();
    let out = run("squeue", &args)?;
    if !out.status.success() {
        // Every id purged from the controller: nothing is listed.
        if String::from_utf8_lossy(&out.stderr).contains("Invalid job id") {
            return Ok(BTreeMap::new());
        }
        return Err(failed("squeue", &args, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter_map(parse_squeue_line).collect())
}

/// Final states from accounting (`sacct`); `None` where accounting is not
/// configured (the command says so and fails).
pub fn sacct(jobs: &[String]) -> Option<BTreeMap<TaskKey, TaskState>> {
    if jobs.is_empty() {
        return Some(BTreeMap::new());
    }
    let args: Vec<String> =
        ["-n", "-P", "-X", "-o", "JobID,State,NodeList", "-j"].iter().map(|s| s.to_string()).chain([jobs.join(",")]).collect();
    let out = run("sacct", &args).ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let ((job, task), mut st) = parse_squeue_line(&format!("{l}|"))?;
                // `CANCELLED by 0` -> `CANCELLED`.
                st.state = st.state.split_whitespace().next().unwrap_or("").to_owned();
                Some(((job, task), st))
            })
            .collect(),
    )
}

pub fn scancel(jobs: &[String]) -> Result<(), ExecuteError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let out = run("scancel", jobs)?;
    if !out.status.success() {
        return Err(failed("scancel", jobs, &out));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_of_arrays_and_plain_jobs() {
        let ((job, task), st) = parse_squeue_line("12_3|RUNNING|vm|None").unwrap();
        assert_eq!((job.as_str(), task, st.state.as_str(), st.node.as_deref(), st.reason), ("12", 3, "RUNNING", Some("vm"), None));
        let (_, st) = parse_squeue_line("12_0|PENDING||BeginTime").unwrap();
        assert_eq!((st.node, st.reason.as_deref()), (None, Some("BeginTime")));
        assert_eq!(parse_squeue_line("7|COMPLETED|vm|None").unwrap().0, ("7".to_owned(), 0));
        // An array not yet split into tasks is no one task.
        assert!(parse_squeue_line("3_[0-3]|PENDING||None").is_none());
    }
}
