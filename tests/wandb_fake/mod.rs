//! A local W&B server for the tests: it answers the GraphQL operations and
//! the file_stream and upload endpoints as the W&B protocol defines them,
//! records every request, keeps history lines by offset (counting how many
//! times each offset arrived), and can be told to fail: a status code or a
//! dropped connection for the next requests, or one status for all.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Status(u16),
    Drop,
    /// 200 with an HTML page (a proxy's), not JSON.
    NotJson,
    /// 429 with `Retry-After: <seconds>`.
    RetryAfter(u64),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// The GraphQL operation name (`UpsertBucket`, ...), if any.
    pub fn operation(&self) -> Option<String> {
        let q = self.json().get("query")?.as_str()?.to_owned();
        let after = q.split_whitespace().nth(1)?;
        Some(after.split('(').next()?.to_owned())
    }
}

#[derive(Debug, Default)]
pub struct RunState {
    pub upserts: Vec<Value>,
    /// Line offset -> line.
    pub history: BTreeMap<u64, Value>,
    /// Line offset -> times received.
    pub history_receipts: BTreeMap<u64, u32>,
    pub summary: Option<Value>,
    pub exit_code: Option<i64>,
    pub files: BTreeMap<String, Vec<u8>>,
}

#[derive(Default)]
pub struct State {
    pub requests: Vec<Request>,
    pub runs: BTreeMap<String, RunState>,
    pub faults: VecDeque<Fault>,
    /// Answer every request with this status (e.g. 401).
    pub always: Option<u16>,
    /// Hold every file_stream answer this long after the request was
    /// taken in (a slow server: a client killed meanwhile never sees the
    /// acknowledgement of what the server stored).
    pub stream_delay: Option<std::time::Duration>,
}

pub struct Server {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

pub const ENTITY: &str = "test-entity";

fn respond(stream: &mut TcpStream, status: u16, body: &Value) {
    let text = body.to_string();
    let reason = if status == 200 { "OK" } else { "Error" };
    let _ = write!(stream, "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}", text.len());
    let _ = stream.flush();
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    let mut authorization = None;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().ok()?,
                "authorization" => authorization = Some(v.trim().to_owned()),
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
    }
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        body
    };
    Some(Request { method, path, authorization, body })
}

/// A `Transfer-Encoding: chunked` body.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; n + 2];
        reader.read_exact(&mut chunk).ok()?;
        if n == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

fn graphql(state: &mut State, req: &Request, base: &str) -> Value {
    let v = req.json();
    let vars = v.get("variables").cloned().unwrap_or(Value::Null);
    match req.operation().as_deref() {
        Some("UpsertBucket") => {
            let name = vars.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
            let run = state.runs.entry(name.clone()).or_default();
            run.upserts.push(vars.clone());
            let lines = run.history.len();
            json!({"data": {"upsertBucket": {"bucket": {"id": format!("id-{name}"), "name": name, "displayName": vars.get("displayName"),
                "project": {"id": "p", "name": vars.get("project"), "entity": {"id": "e", "name": ENTITY}}, "historyLineCount": lines}, "inserted": true}}})
        }
        Some("RunResumeStatus") => {
            let name = vars.get("name").and_then(Value::as_str).unwrap_or("");
            let bucket = state.runs.get(name).map(|r| {
                let config = r.upserts.iter().rev().find_map(|u| u.get("config").and_then(Value::as_str)).unwrap_or("{}");
                json!({"id": format!("id-{name}"), "name": name, "displayName": name, "notes": null, "tags": [],
                    "summaryMetrics": r.summary.as_ref().map_or("{}".to_owned(), Value::to_string), "config": config,
                    "wandbConfig": wandb_config(config).to_string(), "logLineCount": 0, "historyLineCount": r.history.len(), "eventsLineCount": 0,
                    "historyTail": "[]", "eventsTail": "[]"})
            });
            json!({"data": {"model": {"id": "p", "name": vars.get("project"), "entity": {"id": "e", "name": ENTITY}, "bucket": bucket}}})
        }
        Some("CreateRunFiles") => {
            let run = vars.get("run").and_then(Value::as_str).unwrap_or("");
            let files: Vec<Value> = vars
                .get("files")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|f| json!({"name": f, "uploadUrl": format!("{base}/upload/{run}/{}", f.as_str().unwrap_or(""))}))
                .collect();
            json!({"data": {"createRunFiles": {"runID": format!("id-{run}"), "uploadHeaders": ["Content-Type:application/octet-stream"], "files": files}}})
        }
        other => json!({"errors": [{"message": format!("unknown operation {other:?}")}]}),
    }
}

/// `wandbConfig(keys: ["t"])`: the `t` entry of the `_wandb` config value
/// the SDK stores, as the server derives it.
fn wandb_config(config: &str) -> Value {
    let parsed: Value = serde_json::from_str(config).unwrap_or(Value::Null);
    match parsed.pointer("/_wandb/value/t") {
        Some(t) => json!({"t": t}),
        None => json!({}),
    }
}

fn file_stream(state: &mut State, run: &str, body: &Value) {
    let r = state.runs.entry(run.to_owned()).or_default();
    if let Some(h) = body.pointer("/files/wandb-history.jsonl") {
        let offset = h.get("offset").and_then(Value::as_u64).unwrap_or(0);
        for (i, line) in h.get("content").and_then(Value::as_array).cloned().unwrap_or_default().iter().enumerate() {
            let parsed: Value = serde_json::from_str(line.as_str().unwrap_or("null")).unwrap_or(Value::Null);
            r.history.insert(offset + i as u64, parsed);
            *r.history_receipts.entry(offset + i as u64).or_default() += 1;
        }
    }
    if let Some(s) = body.pointer("/files/wandb-summary.json/content/0").and_then(Value::as_str) {
        r.summary = serde_json::from_str(s).ok();
    }
    if body.get("complete") == Some(&json!(true)) {
        r.exit_code = body.get("exitcode").and_then(Value::as_i64);
    }
}

fn handle(stream: TcpStream, state: Arc<Mutex<State>>, base: String) {
    let mut writer = match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader) {
        let mut st = state.lock().unwrap();
        st.requests.push(req.clone());
        if let Some(code) = st.always {
            drop(st);
            respond(&mut writer, code, &json!({"error": "refused"}));
            continue;
        }
        match st.faults.pop_front() {
            Some(Fault::Drop) => return,
            Some(Fault::Status(code)) => {
                drop(st);
                respond(&mut writer, code, &json!({"error": "injected"}));
                continue;
            }
            Some(Fault::NotJson) => {
                drop(st);
                let page = "<html>sign in to the network</html>";
                let _ = write!(writer, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}", page.len());
                let _ = writer.flush();
                continue;
            }
            Some(Fault::RetryAfter(secs)) => {
                drop(st);
                let text = json!({"error": "slow down"}).to_string();
                let _ = write!(writer, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {secs}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}", text.len());
                let _ = writer.flush();
                continue;
            }
            None => {}
        }
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let body = match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["graphql"]) => graphql(&mut st, &req, &base),
            ("POST", ["files", _entity, _project, run, "file_stream"]) => {
                file_stream(&mut st, run, &req.json());
                if let Some(d) = st.stream_delay {
                    drop(st);
                    std::thread::sleep(d);
                    respond(&mut writer, 200, &json!({"exitcode": null, "limits": {}}));
                    continue;
                }
                json!({"exitcode": null, "limits": {}})
            }
            // The official SDK's own telemetry: accepted and ignored.
            ("POST", ["sdk", ..]) => json!({}),
            ("PUT", ["upload", run, name @ ..]) if !name.is_empty() => {
                st.runs.entry(run.to_string()).or_default().files.insert(name.join("/"), req.body.clone());
                json!({})
            }
            _ => {
                drop(st);
                respond(&mut writer, 404, &json!({"error": "no such endpoint"}));
                continue;
            }
        };
        drop(st);
        respond(&mut writer, 200, &body);
    }
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let (s, base) = (state.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, base) = (s.clone(), base.clone());
                std::thread::spawn(move || handle(stream, s, base));
            }
        });
        Server { url, state }
    }

    pub fn fail_next(&self, faults: &[Fault]) {
        self.state.lock().unwrap().faults.extend(faults.iter().cloned());
    }
}

/// A key of the length W&B issues (40 characters).
pub const KEY: &str = "0123456789abcdef0123456789abcdef01234567";

/// Client settings for a server at `url`: project `proj`, tag `t1`, the
/// reward per sample, every file upload.
pub fn settings(url: &str, entity: Option<&str>) -> runner::track::WandbSettings {
    runner::track::WandbSettings {
        mode: runner::spec::WandbMode::Online,
        base_url: url.to_owned(),
        api_key: Some(runner::track::ApiKey::new(KEY)),
        entity: entity.map(str::to_owned),
        project: "proj".into(),
        tags: vec!["t1".into()],
        group: None,
        name_prefix: None,
        notes: None,
        sample_metrics: vec!["reward".into()],
        run_metrics: None,
        upload_summary: true,
        upload_figures: true,
    }
}
