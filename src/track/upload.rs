//! Draining outboxes: every operation not yet acknowledged is sent in
//! order, consecutive history lines together; retryable failures back off
//! exponentially; a refusal is recorded in the outbox state (and reported
//! once by the caller) and stops that run's uploads.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::client::{Client, SendError};
use super::outbox::{Entry, Op, Outbox, RunMeta, State};
use super::protocol as p;
use crate::store::lock::{Lock, LockTiming};
use crate::store::StoreError;

/// The lock a sender holds on an outbox folder.
pub const SEND_LOCK: &str = ".send.lock";

/// Most history lines per file_stream request.
pub const HISTORY_BATCH: usize = 256;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    /// Tries per request before the drain gives up for now.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { first: Duration::from_millis(500), max: Duration::from_secs(30), attempts: 8 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Drained {
    /// Everything is acknowledged.
    Done { sent: usize },
    /// Some operations wait in the outbox (outage, or stopped).
    Pending { sent: usize, reason: String },
    /// The server refused; nothing more is sent for this run.
    Refused { status: u16, message: String },
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let step = Duration::from_millis(20);
    let mut left = d;
    while left > Duration::ZERO {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let s = step.min(left);
        std::thread::sleep(s);
        left -= s;
    }
    !stop.load(Ordering::Relaxed)
}

/// `d` scaled by a factor in [0.5, 1.5): processes that failed together
/// do not retry in step.
fn jittered(d: Duration) -> Duration {
    use rand::Rng;
    d.mul_f64(rand::rng().random_range(0.5..1.5))
}

fn with_retry<T>(backoff: &Backoff, stop: &AtomicBool, mut f: impl FnMut() -> Result<T, SendError>) -> Result<T, SendError> {
    let mut wait = backoff.first;
    let mut last = String::new();
    let mut asked: Option<Duration> = None;
    for attempt in 0..backoff.attempts.max(1) {
        if attempt > 0 {
            // The server's Retry-After wins over a shorter backoff.
            let pause = jittered(wait).max(asked.unwrap_or_default());
            if !sleep_unless_stopped(pause, stop) {
                break;
            }
        }
        match f() {
            Ok(v) => return Ok(v),
            Err(SendError::Retry { message, after }) => {
                last = message;
                asked = after;
            }
            Err(refused) => return Err(refused),
        }
        wait = (wait * 2).min(backoff.max);
    }
    Err(SendError::Retry { message: last, after: asked })
}

fn entity_of(meta: &RunMeta, state: &State) -> String {
    state.entity.clone().or_else(|| meta.entity.clone()).unwrap_or_default()
}

/// Sends one operation group starting at `entries[i]`; returns how many
/// entries and history lines it acknowledged.
#[allow(clippy::too_many_arguments)]
fn send(
    client: &Client,
    meta: &RunMeta,
    state: &mut State,
    server_lines: u64,
    entries: &[Entry],
    i: usize,
    backoff: &Backoff,
    stop: &AtomicBool,
    run_dir: &Path,
) -> Result<(usize, u64), SendError> {
    let base = client.settings().base_url.clone();
    let stream_url = || p::file_stream_url(&base, &entity_of(meta, state), &meta.project, &meta.name);
    match &entries[i].op {
        Op::Upsert { run } => {
            let data = with_retry(backoff, stop, || client.graphql(p::UPSERT_BUCKET, p::upsert_variables(run)))?;
            let entity = data.pointer("/upsertBucket/bucket/project/entity/name").and_then(Value::as_str);
            if let Some(e) = entity {
                state.entity = Some(e.to_owned());
            }
            Ok((1, 0))
        }
        Op::History { .. } => {
            let lines: Vec<Value> = entries[i..]
                .iter()
                .take(HISTORY_BATCH)
                .map_while(|e| match &e.op {
                    Op::History { line } => Some(line.clone()),
                    _ => None,
                })
                .collect();
            // Lines the server already holds (sent before a crash lost
            // their acknowledgement) are not sent again.
            let held = (server_lines.saturating_sub(state.history_lines) as usize).min(lines.len());
            if held < lines.len() {
                let body = p::history_body(state.history_lines + held as u64, &lines[held..]);
                let url = stream_url();
                with_retry(backoff, stop, || client.file_stream(&url, &body))?;
            }
            Ok((lines.len(), lines.len() as u64))
        }
        Op::Summary { summary } => {
            let (url, body) = (stream_url(), p::summary_body(summary));
            with_retry(backoff, stop, || client.file_stream(&url, &body))?;
            Ok((1, 0))
        }
        Op::File { name, path, .. } => {
            let path = &run_dir.join(path);
            let bytes = std::fs::read(path).map_err(|e| SendError::Refused { status: 0, message: format!("{}: {e}", path.display()) })?;
            let vars = p::create_files_variables(meta, &entity_of(meta, state), std::slice::from_ref(name));
            let data = with_retry(backoff, stop, || client.graphql(p::CREATE_RUN_FILES, vars.clone()))?;
            let files = data.pointer("/createRunFiles/files").and_then(Value::as_array).cloned().unwrap_or_default();
            let url = files
                .iter()
                .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|f| f.get("uploadUrl").and_then(Value::as_str))
                .ok_or_else(|| SendError::Refused { status: 200, message: format!("createRunFiles gave no upload URL for {name}") })?;
            let url = if url.starts_with('/') { format!("{base}{url}") } else { url.to_owned() };
            let headers: Vec<String> = data
                .pointer("/createRunFiles/uploadHeaders")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|h| h.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            with_retry(backoff, stop, || client.upload(&url, &headers, bytes.clone()))?;
            Ok((1, 0))
        }
        Op::Complete { exit_code } => {
            let uploaded: Vec<String> = entries[..i]
                .iter()
                .filter_map(|e| match &e.op {
                    Op::File { name, .. } => Some(name.clone()),
                    _ => None,
                })
                .collect();
            let (url, body) = (stream_url(), p::complete_body(*exit_code, &uploaded));
            with_retry(backoff, stop, || client.file_stream(&url, &body))?;
            Ok((1, 0))
        }
    }
}

/// Sends what the outbox in `dir` holds beyond its acknowledged count.
pub fn drain(client: &Client, dir: &Path, backoff: &Backoff, stop: &AtomicBool) -> Result<Drained, StoreError> {
    // One sender per outbox at a time: two would send operations twice and
    // race on the acknowledged count.
    let _sending = match Lock::acquire(&dir.join(SEND_LOCK), "sending the W&B outbox", LockTiming::default()) {
        Ok(l) => l,
        Err(StoreError::Locked { holder, .. }) => return Ok(Drained::Pending { sent: 0, reason: format!("being sent by {holder}") }),
        Err(e) => return Err(e),
    };
    let entries = Outbox::entries(dir)?;
    let mut state = Outbox::state(dir)?;
    if let Some(message) = &state.refused {
        return Ok(Drained::Refused { status: 0, message: message.clone() });
    }
    let Some(meta) = entries.iter().find_map(|e| match &e.op {
        Op::Upsert { run } => Some(run.clone()),
        _ => None,
    }) else {
        return Ok(Drained::Done { sent: 0 });
    };
    let mut i = state.acked as usize;
    let mut sent = 0;
    // A run whose upsert went out earlier: ask how many history lines the
    // server holds, so that a replay continues there.
    let mut server_lines = 0;
    if i > 0 && entries[i..].iter().any(|e| matches!(e.op, Op::History { .. })) {
        let vars = p::resume_variables(&meta, state.entity.as_deref().or(meta.entity.as_deref()));
        match with_retry(backoff, stop, || client.graphql(p::RUN_RESUME_STATUS, vars.clone())) {
            Ok(data) => server_lines = data.pointer("/model/bucket/historyLineCount").and_then(Value::as_u64).unwrap_or(0),
            Err(SendError::Retry { message: reason, .. }) => return Ok(Drained::Pending { sent, reason }),
            Err(SendError::Refused { status, message }) => {
                state.refused = Some(format!("HTTP {status}: {message}"));
                Outbox::save_state(dir, &state)?;
                return Ok(Drained::Refused { status, message });
            }
        }
    }
    while i < entries.len() {
        if stop.load(Ordering::Relaxed) {
            return Ok(Drained::Pending { sent, reason: "stopped".into() });
        }
        match send(client, &meta, &mut state, server_lines, &entries, i, backoff, stop, dir.parent().unwrap_or(dir)) {
            Ok((n, lines)) => {
                i += n;
                sent += n;
                state.acked = i as u64;
                state.history_lines += lines;
                Outbox::save_state(dir, &state)?;
            }
            Err(SendError::Retry { message: reason, .. }) => return Ok(Drained::Pending { sent, reason }),
            Err(SendError::Refused { status, message }) => {
                state.refused = Some(format!("HTTP {status}: {message}"));
                Outbox::save_state(dir, &state)?;
                return Ok(Drained::Refused { status, message });
            }
        }
    }
    Ok(Drained::Done { sent })
}
