//! Keeps the local W&B server and our client honest against the official
//! `wandb` Python SDK (the version `scripts/peer-requirements.txt` pins):
//! the SDK runs a tiny run, and a resume of it, against one local server;
//! our client sends the equivalent outbox, and a resume of it, to another.
//! Both must use the same GraphQL operations (same text), variable names,
//! endpoints, `file_stream` keys, reserved history keys, authorization and
//! resume offset.

use crate::common;
use crate::wandb_fake;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use runner::track::client::Client;
use runner::track::outbox::{Op, Outbox, RunMeta};
use runner::track::upload::{drain, Backoff, Drained};
use serde_json::{json, Value};
use wandb_fake::{Request, Server, ENTITY, KEY};

/// The SDK version the comparison was written against.
const SDK_VERSION: &str = "0.31.0";

fn python() -> PathBuf {
    let p = common::root().join(".venv/bin/python");
    assert!(p.exists(), "{} is missing: run `make setup`", p.display());
    let out = Command::new(&p).args(["-c", "import wandb; print(wandb.__version__)"]).output().expect("python runs");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        version,
        SDK_VERSION,
        "the wandb SDK {SDK_VERSION} is not in {} (run `make setup`): {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

fn sdk(phase: &[&str], server: &Server, home: &Path) {
    let mut cmd = Command::new(python());
    cmd.arg(common::root().join("tests/wandb_sdk/tiny_run.py")).args(phase);
    for (key, _) in std::env::vars() {
        if key.starts_with("WANDB_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .env("HOME", home)
        .env("WANDB_BASE_URL", &server.url)
        .env("WANDB_API_KEY", KEY)
        .env("WANDB_MODE", "online")
        .env("WANDB_DIR", home.join("wandb"))
        .env("WANDB_CONFIG_DIR", home.join("config"))
        .env("WANDB_CACHE_DIR", home.join("cache"))
        .env("WANDB_DATA_DIR", home.join("data"))
        .env("WANDB_SILENT", "true")
        .env("WANDB_ERROR_REPORTING", "false")
        .output()
        .expect("the SDK run starts");
    assert!(out.status.success(), "the SDK run {phase:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The SDK's requests for a new run and its resume.
fn sdk_requests() -> (Vec<Request>, Server) {
    let server = Server::start();
    let home = tempfile::tempdir().unwrap();
    let table = home.path().join("table.bin");
    std::fs::write(&table, b"PAR1 table bytes").unwrap();
    sdk(&["new", table.to_str().unwrap()], &server, home.path());
    sdk(&["resume"], &server, home.path());
    let requests = server.state.lock().unwrap().requests.clone();
    (requests, server)
}

/// Our client's requests for the same run and its resume.
fn our_requests() -> (Vec<Request>, Server) {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.bin");
    std::fs::write(&table, b"PAR1 table bytes").unwrap();
    let client = Client::new(wandb_fake::settings(&server.url, Some(ENTITY))).unwrap();
    let backoff = Backoff { first: Duration::from_millis(5), max: Duration::from_millis(40), attempts: 4 };
    let meta = RunMeta {
        name: "ourrun01".into(),
        display_name: "m/d/greedy".into(),
        group: "exp".into(),
        tags: vec!["t1".into()],
        notes: None,
        config: json!({"num_rollouts": {"value": 4}, "method": {"value": "greedy"}}),
        commit: Some("0123456789abcdef".into()),
        project: "proj".into(),
        entity: Some(ENTITY.into()),
    };
    let line = |step: u64| json!({"_step": step, "_runtime": 0.5 * step as f64, "_timestamp": 1.7e9, "reward": -(step as f64), "sample_id": format!("s{step}")});
    let mut o = Outbox::open(dir.path()).unwrap();
    o.push(Op::Upsert { run: meta.clone() }).unwrap();
    for step in 0..3 {
        o.push(Op::History { line: line(step) }).unwrap();
    }
    o.push(Op::Summary { summary: json!({"mean_reward": -1.0}) }).unwrap();
    o.push(Op::File { name: "table.bin".into(), path: table, sha256: None }).unwrap();
    o.push(Op::Complete { exit_code: 0 }).unwrap();
    assert_eq!(drain(&client, dir.path(), &backoff, &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 7 });
    // The run resumes: upsert again, one more line, completion.
    o.push(Op::Upsert { run: meta }).unwrap();
    o.push(Op::History { line: line(3) }).unwrap();
    o.push(Op::Complete { exit_code: 0 }).unwrap();
    assert_eq!(drain(&client, dir.path(), &backoff, &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 3 });
    let requests = server.state.lock().unwrap().requests.clone();
    (requests, server)
}

fn squeeze(query: &str) -> String {
    query.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Operation name -> (query text without whitespace, variable names).
fn operations(requests: &[Request]) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let mut ops: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.path == "/graphql") {
        let v = r.json();
        let name = r.operation().expect("a named operation");
        let entry = ops.entry(name).or_default();
        entry.0.insert(squeeze(v["query"].as_str().unwrap_or("")));
        if let Some(vars) = v["variables"].as_object() {
            entry.1.extend(vars.keys().cloned());
        }
    }
    ops
}

fn streams(requests: &[Request]) -> Vec<&Request> {
    requests.iter().filter(|r| r.path.ends_with("/file_stream")).collect()
}

/// Top-level keys and per-file keys of every file_stream body.
fn stream_keys(requests: &[Request]) -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let mut top = BTreeSet::new();
    let mut files: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in streams(requests) {
        let v = r.json();
        top.extend(v.as_object().expect("a JSON object").keys().cloned());
        for (name, body) in v["files"].as_object().into_iter().flatten() {
            files.entry(name.clone()).or_default().extend(body.as_object().expect("a file body").keys().cloned());
            assert!(body["content"].as_array().is_some_and(|c| c.iter().all(Value::is_string)), "content is a list of strings");
        }
    }
    (top, files)
}

/// Offsets of the history posts, in order.
fn history_offsets(requests: &[Request]) -> Vec<u64> {
    streams(requests).iter().filter_map(|r| r.json().pointer("/files/wandb-history.jsonl/offset").and_then(Value::as_u64)).collect()
}

fn history_lines(requests: &[Request]) -> Vec<Value> {
    let mut lines = Vec::new();
    for r in streams(requests) {
        for l in r.json().pointer("/files/wandb-history.jsonl/content").and_then(Value::as_array).into_iter().flatten() {
            lines.push(serde_json::from_str(l.as_str().unwrap()).unwrap());
        }
    }
    lines
}

fn config_of_first_upsert(requests: &[Request]) -> Value {
    let r = requests.iter().find(|r| r.operation().as_deref() == Some("UpsertBucket")).expect("an upsert");
    serde_json::from_str(r.json()["variables"]["config"].as_str().expect("config is a JSON string")).unwrap()
}

#[test]
fn our_client_speaks_the_protocol_as_the_official_sdk_does() {
    let (sdk, sdk_server) = sdk_requests();
    let (ours, our_server) = our_requests();

    // The same GraphQL operations, with the same text and variables we use
    // among the SDK's.
    let (sdk_ops, our_ops) = (operations(&sdk), operations(&ours));
    assert_eq!(sdk_ops.keys().collect::<Vec<_>>(), our_ops.keys().collect::<Vec<_>>(), "GraphQL operations");
    for (name, (texts, vars)) in &our_ops {
        let (sdk_texts, sdk_vars) = &sdk_ops[name];
        assert!(texts.is_subset(sdk_texts), "{name}: our query text differs from the SDK's:\n ours {texts:?}\n sdk  {sdk_texts:?}");
        assert!(
            vars.is_subset(sdk_vars),
            "{name}: variables {:?} are not among the SDK's {sdk_vars:?}",
            vars.difference(sdk_vars).collect::<Vec<_>>()
        );
    }

    // Config in W&B's {"key": {"value": ...}} shape on both sides.
    for (who, config) in [("sdk", config_of_first_upsert(&sdk)), ("ours", config_of_first_upsert(&ours))] {
        let map = config.as_object().unwrap_or_else(|| panic!("{who}: config is an object"));
        assert!(map.values().all(|v| v.get("value").is_some()), "{who}: every config key holds {{\"value\": ...}}: {config}");
        assert_eq!(config["num_rollouts"]["value"], 4, "{who}");
    }

    // The same file_stream endpoint and keys.
    for (who, reqs, run) in [("sdk", &sdk, "sdkrun01"), ("ours", &ours, "ourrun01")] {
        let s = streams(reqs);
        assert!(!s.is_empty(), "{who}: no file_stream posts");
        assert!(
            s.iter().all(|r| r.method == "POST" && r.path == format!("/files/{ENTITY}/proj/{run}/file_stream")),
            "{who}: file_stream path"
        );
    }
    let (sdk_top, sdk_files) = stream_keys(&sdk);
    let (our_top, our_files) = stream_keys(&ours);
    assert!(
        our_top.is_subset(&sdk_top),
        "file_stream keys {:?} are not among the SDK's {sdk_top:?}",
        our_top.difference(&sdk_top).collect::<Vec<_>>()
    );
    for (name, keys) in &our_files {
        assert_eq!(Some(keys), sdk_files.get(name), "file_stream file {name}: its keys, against the SDK's {sdk_files:?}");
    }
    assert!(our_files.contains_key("wandb-history.jsonl") && our_files.contains_key("wandb-summary.json"));
    assert!(our_top.contains("complete") && our_top.contains("exitcode") && our_top.contains("uploaded"));

    // History lines carry the SDK's reserved keys, with `_step` = the line.
    for (who, lines) in [("sdk", history_lines(&sdk)), ("ours", history_lines(&ours))] {
        assert_eq!(lines.len(), 4, "{who}: every line sent once");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["_step"], json!(i), "{who}: {l}");
            assert!(l["_runtime"].is_number() && l["_timestamp"].is_number(), "{who}: {l}");
        }
    }

    // A resume continues at the server's line count.
    assert_eq!(history_offsets(&sdk).last(), Some(&3), "the SDK resumes at line 3");
    assert_eq!(history_offsets(&ours).last(), Some(&3), "we resume at line 3");
    for server in [&sdk_server, &our_server] {
        let st = server.state.lock().unwrap();
        for run in st.runs.values().filter(|r| !r.history.is_empty()) {
            assert!(run.history_receipts.values().all(|&n| n == 1), "a history line arrived twice");
            assert_eq!(run.exit_code, Some(0));
            assert_eq!(run.files.get("table.bin").map(Vec::as_slice), Some(&b"PAR1 table bytes"[..]), "the uploaded file");
        }
    }

    // Completion names the uploaded file on both sides.
    for (who, reqs) in [("sdk", &sdk), ("ours", &ours)] {
        let done = streams(reqs)
            .into_iter()
            .map(Request::json)
            .find(|v| v["complete"] == json!(true))
            .unwrap_or_else(|| panic!("{who}: no completion"));
        assert_eq!(done["exitcode"], 0, "{who}");
        assert!(done["uploaded"].as_array().is_some_and(|u| u.contains(&json!("table.bin"))), "{who}: {done}");
    }

    // Files go up by PUT to the URL createRunFiles returned.
    for (who, reqs) in [("sdk", &sdk), ("ours", &ours)] {
        assert!(
            reqs.iter().any(|r| r.method == "PUT" && r.path.starts_with("/upload/") && r.path.ends_with("/table.bin")),
            "{who}: upload"
        );
    }

    // The same authorization on every API request.
    let auth = |reqs: &[Request]| -> BTreeSet<Option<String>> {
        reqs.iter().filter(|r| r.path == "/graphql" || r.path.ends_with("/file_stream")).map(|r| r.authorization.clone()).collect()
    };
    assert_eq!(auth(&sdk), auth(&ours), "Authorization headers");
    assert_eq!(auth(&ours).len(), 1);
}
