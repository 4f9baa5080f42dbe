//! The W&B client against a local server that speaks the protocol: the
//! outbox arrives whole and in order, outages are ridden out without
//! duplicates, refusals stop uploads once, a crash that lost an
//! acknowledgement is replayed without duplicating lines, and the API key
//! appears only in the Authorization header.

use crate::wandb_fake;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use runner::track::client::Client;
use runner::track::outbox::{Op, Outbox, RunMeta};
use runner::track::upload::{drain, Backoff, Drained};
use serde_json::json;
use wandb_fake::{Fault, Server, ENTITY, KEY};

fn settings(url: &str) -> runner::track::WandbSettings {
    wandb_fake::settings(url, None)
}

fn quick() -> Backoff {
    Backoff { first: Duration::from_millis(5), max: Duration::from_millis(40), attempts: 12 }
}

/// An outbox of one run: upsert, `n` history lines, summary, a file, completion.
fn fill(dir: &Path, n: u64) {
    let mut o = Outbox::open(dir).unwrap();
    let file = dir.join("table.bin");
    std::fs::write(&file, b"PAR1 table bytes").unwrap();
    o.push(Op::Upsert {
        run: RunMeta {
            name: "abc123".into(),
            display_name: "m/d/greedy".into(),
            group: "exp".into(),
            tags: vec!["t1".into()],
            notes: None,
            config: json!({"num_rollouts": {"value": 4}}),
            commit: Some("0123456789abcdef".into()),
            project: "proj".into(),
            entity: None,
        },
    })
    .unwrap();
    for step in 0..n {
        o.push(Op::History { line: json!({"_step": step, "_runtime": 0.5 * step as f64, "_timestamp": 1.7e9, "reward": -(step as f64)}) })
            .unwrap();
    }
    o.push(Op::Summary { summary: json!({"mean_reward": -2.0, "samples": n}) }).unwrap();
    o.push(Op::File { name: "samples.parquet".into(), path: file, sha256: None }).unwrap();
    o.push(Op::Complete { exit_code: 0 }).unwrap();
}

fn check_complete(server: &Server, n: u64) {
    let st = server.state.lock().unwrap();
    let run = st.runs.get("abc123").expect("the run arrived");
    assert_eq!(run.upserts.len(), 1, "one upsert per run");
    let up = &run.upserts[0];
    assert_eq!(up["project"], "proj");
    assert_eq!(up["groupName"], "exp");
    assert_eq!(up["tags"], json!(["t1"]));
    let config: serde_json::Value = serde_json::from_str(up["config"].as_str().unwrap()).unwrap();
    assert_eq!(config, json!({"num_rollouts": {"value": 4}}));
    assert_eq!(run.history.len() as u64, n);
    for (offset, line) in &run.history {
        assert_eq!(line["_step"], json!(offset), "lines in order");
        assert_eq!(run.history_receipts[offset], 1, "line {offset} arrived more than once");
    }
    assert_eq!(run.summary, Some(json!({"mean_reward": -2.0, "samples": n})));
    assert_eq!(run.files.get("samples.parquet").map(Vec::as_slice), Some(&b"PAR1 table bytes"[..]));
    assert_eq!(run.exit_code, Some(0));
}

fn no_key_outside_auth(server: &Server, dir: &Path) {
    let st = server.state.lock().unwrap();
    for r in &st.requests {
        assert!(!String::from_utf8_lossy(&r.body).contains(KEY) && !r.path.contains(KEY), "key in a request body or path");
        if let Some(a) = &r.authorization {
            assert!(a.starts_with("Basic "), "{a}");
        }
    }
    for e in std::fs::read_dir(dir).unwrap() {
        let text = String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned();
        assert!(!text.contains(KEY), "key in an outbox file");
    }
}

#[test]
fn an_outbox_arrives_whole_and_in_order() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 300);
    let client = Client::new(settings(&server.url)).unwrap();
    let out = drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap();
    assert_eq!(out, Drained::Done { sent: 304 });
    check_complete(&server, 300);
    // 300 lines go in two file_stream posts (256 + 44).
    let st = server.state.lock().unwrap();
    let streams = st.requests.iter().filter(|r| r.path.ends_with("/file_stream")).count();
    assert_eq!(streams, 2 + 2, "history in batches, then summary and completion");
    assert!(st.requests.iter().any(|r| r.path == format!("/files/{ENTITY}/proj/abc123/file_stream")), "the server's entity is used");
    drop(st);
    no_key_outside_auth(&server, dir.path());
    // Nothing is left to send.
    assert_eq!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 0 });
}

#[test]
fn errors_and_dropped_connections_are_ridden_out_without_duplicates() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 20);
    server.fail_next(&[Fault::Status(500), Fault::Drop, Fault::Status(503), Fault::Status(429), Fault::Drop]);
    let client = Client::new(settings(&server.url)).unwrap();
    let out = drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap();
    assert_eq!(out, Drained::Done { sent: 24 });
    check_complete(&server, 20);
}

#[test]
fn an_outage_longer_than_the_retries_leaves_the_rest_for_later() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 5);
    let client = Client::new(settings(&server.url)).unwrap();
    let few = Backoff { attempts: 3, ..quick() };
    server.fail_next(&[Fault::Status(502); 3]);
    match drain(&client, dir.path(), &few, &AtomicBool::new(false)).unwrap() {
        Drained::Pending { sent: 0, reason } => assert!(reason.contains("502"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(drain(&client, dir.path(), &few, &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 9 });
    check_complete(&server, 5);
}

#[test]
fn a_refusal_stops_the_uploads_of_the_run_with_one_message() {
    let server = Server::start();
    server.state.lock().unwrap().always = Some(401);
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3);
    let client = Client::new(settings(&server.url)).unwrap();
    match drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap() {
        Drained::Refused { status: 401, message } => assert!(!message.contains(KEY), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.state.lock().unwrap().requests.len(), 1, "a 401 is not retried");
    // The outbox remembers the refusal; nothing more is sent until cleared.
    assert!(matches!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Refused { .. }));
    assert_eq!(server.state.lock().unwrap().requests.len(), 1);
    assert_eq!(Outbox::entries(dir.path()).unwrap().len(), 7, "the outbox keeps everything");
}

#[test]
fn a_lost_acknowledgement_is_replayed_from_the_servers_line_count() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 10);
    let client = Client::new(settings(&server.url)).unwrap();
    drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap();
    // A crash right after the history post, before its acknowledgement
    // was recorded: the state says only the upsert went out.
    let mut state = Outbox::state(dir.path()).unwrap();
    state.acked = 1;
    state.history_lines = 0;
    Outbox::save_state(dir.path(), &state).unwrap();
    assert_eq!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 13 });
    check_complete(&server, 10);
    let st = server.state.lock().unwrap();
    assert!(st.requests.iter().any(|r| r.operation().as_deref() == Some("RunResumeStatus")));
}

#[test]
fn a_torn_outbox_tail_is_cut_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 2);
    let path = dir.path().join("outbox.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"seq":6,"op":{"kind":"hist"#);
    std::fs::write(&path, bytes).unwrap();
    let mut o = Outbox::open(dir.path()).unwrap();
    o.push(Op::Complete { exit_code: 1 }).unwrap();
    let entries = Outbox::entries(dir.path()).unwrap();
    assert_eq!(entries.len(), 7);
    assert_eq!(entries[6].seq, 6);
}

#[test]
fn the_sweep_files_never_touch_the_outbox_of_a_run_another_process_holds() {
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join("runs").join("r1");
    let dir = Outbox::dir_of(&run_dir);
    fill(&dir, 2);
    // The run's owner is mid-write: its last line is not finished yet.
    let path = dir.join("outbox.jsonl");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"seq":6,"op":{"kind":"hist"#);
    std::fs::write(&path, &bytes).unwrap();
    let owner = runner::store::lock::Lock::acquire(&run_dir.join(".lock"), "run r1", Default::default()).unwrap();
    let table = root.path().join("summary.parquet");
    std::fs::write(&table, b"PAR1 summary").unwrap();
    let files = vec![("summary.parquet".to_owned(), table)];
    let attached = runner::track::sweep_files::attach(std::slice::from_ref(&dir), &files).unwrap();
    assert_eq!((attached.added, attached.busy.len()), (0, 1), "{attached:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the owner's line in progress is untouched");
    // The owner finishes its line and lets go; now the files are attached.
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut file, br#"ory","line":{"_step":2}}}"#.as_slice()).unwrap();
    std::io::Write::write_all(&mut file, b"\n").unwrap();
    drop(owner);
    let attached = runner::track::sweep_files::attach(std::slice::from_ref(&dir), &files).unwrap();
    assert_eq!((attached.added, attached.busy.len()), (1, 0));
    let entries = Outbox::entries(&dir).unwrap();
    assert_eq!(entries.len(), 8, "the owner's line kept, the file added after it");
    assert!(matches!(&entries[7].op, Op::File { name, .. } if name == "summary.parquet"));
}

#[test]
fn one_sender_at_a_time_per_outbox() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3);
    let other =
        runner::store::lock::Lock::acquire(&dir.path().join(runner::track::upload::SEND_LOCK), "sending", Default::default()).unwrap();
    let client = Client::new(settings(&server.url)).unwrap();
    match drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap() {
        Drained::Pending { sent: 0, reason } => assert!(reason.contains("being sent by"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(server.state.lock().unwrap().runs.is_empty(), "nothing sent while another sender holds it");
    drop(other);
    assert_eq!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 7 });
}

#[test]
fn a_2xx_that_is_not_json_is_retried_not_taken_for_an_acknowledgement() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3);
    // The upsert and the history post each first meet a proxy's page.
    server.fail_next(&[Fault::NotJson, Fault::NotJson]);
    let client = Client::new(settings(&server.url)).unwrap();
    assert_eq!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 7 });
    check_complete(&server, 3);
}

#[test]
fn retry_after_is_honoured() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 1);
    server.fail_next(&[Fault::RetryAfter(1)]);
    let client = Client::new(settings(&server.url)).unwrap();
    let start = std::time::Instant::now();
    assert_eq!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 5 });
    // The backoff alone would have retried after 2.5-7.5 ms.
    assert!(start.elapsed() >= Duration::from_millis(950), "{:?}", start.elapsed());
}

#[test]
fn a_refusal_is_cleared_by_a_sync_by_hand() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 2);
    let mut state = Outbox::state(dir.path()).unwrap();
    state.refused = Some("HTTP 401: bad key".into());
    Outbox::save_state(dir.path(), &state).unwrap();
    let client = Client::new(settings(&server.url)).unwrap();
    assert!(
        matches!(drain(&client, dir.path(), &quick(), &AtomicBool::new(false)).unwrap(), Drained::Refused { .. }),
        "the sweep's uploads stay stopped"
    );
    let report = runner::track::sync::sync(settings(&server.url), &[dir.path().to_path_buf()], quick()).unwrap();
    assert_eq!(report.cleared.len(), 1, "{report:?}");
    assert_eq!((report.done, report.sent), (1, 6), "{report:?}");
    check_complete(&server, 2);
}

#[test]
fn files_are_found_after_the_results_directory_moved() {
    let server = Server::start();
    let root = tempfile::tempdir().unwrap();
    let run_dir = root.path().join("a").join("runs").join("r1");
    std::fs::create_dir_all(&run_dir).unwrap();
    let samples = run_dir.join("samples.parquet");
    std::fs::write(&samples, b"PAR1 samples").unwrap();
    let summary = root.path().join("a").join("summary.parquet");
    std::fs::write(&summary, b"PAR1 summary").unwrap();
    assert_eq!(runner::track::outbox::file_path(&run_dir, &samples), Path::new("samples.parquet"));
    assert_eq!(runner::track::outbox::file_path(&run_dir, &summary), Path::new("../../summary.parquet"));
    let dir = Outbox::dir_of(&run_dir);
    let mut o = Outbox::open(&dir).unwrap();
    o.push(Op::Upsert {
        run: RunMeta {
            name: "moved".into(),
            display_name: "m".into(),
            group: "g".into(),
            tags: vec![],
            notes: None,
            config: json!({}),
            commit: None,
            project: "proj".into(),
            entity: None,
        },
    })
    .unwrap();
    for (name, path) in [("samples.parquet", &samples), ("summary.parquet", &summary)] {
        o.push(Op::File { name: name.into(), path: runner::track::outbox::file_path(&run_dir, path), sha256: None }).unwrap();
    }
    drop(o);
    std::fs::rename(root.path().join("a"), root.path().join("b")).unwrap();
    let client = Client::new(settings(&server.url)).unwrap();
    let moved = Outbox::dir_of(&root.path().join("b").join("runs").join("r1"));
    assert_eq!(drain(&client, &moved, &quick(), &AtomicBool::new(false)).unwrap(), Drained::Done { sent: 3 });
    let st = server.state.lock().unwrap();
    let files = &st.runs["moved"].files;
    assert_eq!(files.get("samples.parquet").map(Vec::as_slice), Some(&b"PAR1 samples"[..]));
    assert_eq!(files.get("summary.parquet").map(Vec::as_slice), Some(&b"PAR1 summary"[..]));
}
