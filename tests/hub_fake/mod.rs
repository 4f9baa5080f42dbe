//! A local Hugging Face hub for the tests: it serves model repositories from
//! directories on disk through the two endpoints a download uses, as the hub
//! defines them:
//! - `GET /api/models/<org>/<name>/revision/<rev>`: `{"sha", "siblings":
//!   [{"rfilename"}]}` of the commit `rev` names;
//! - `GET /<org>/<name>/resolve/<rev>/<file>`: the file, honouring `Range:
//!   bytes=a-[b]` (206 with `Content-Range`), with `X-Repo-Commit` and the
//!   file's sha256 as `ETag` (as the hub does for LFS files).
//!
//! Every request path is recorded, so tests can count what was fetched.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// One commit of a repository: its sha and the directory holding its files.
#[derive(Clone)]
pub struct Commit {
    pub sha: String,
    pub dir: PathBuf,
}

#[derive(Default)]
pub struct State {
    /// repo id -> revision name or sha -> commit.
    pub repos: BTreeMap<String, BTreeMap<String, Commit>>,
    pub requests: Vec<String>,
}

pub struct Hub {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Hub {
    /// Publishes `dir` as `repo` at commit `sha`, reachable by `names`
    /// (branches or tags) and by the sha itself.
    pub fn publish(&self, repo: &str, sha: &str, dir: PathBuf, names: &[&str]) {
        let mut st = self.state.lock().unwrap();
        let revs = st.repos.entry(repo.to_owned()).or_default();
        let commit = Commit { sha: sha.to_owned(), dir };
        for n in names.iter().copied().chain([sha]) {
            revs.insert(n.to_owned(), commit.clone());
        }
    }

    /// Paths requested so far whose path contains `part`.
    pub fn requests_with(&self, part: &str) -> Vec<String> {
        self.state.lock().unwrap().requests.iter().filter(|r| r.contains(part)).cloned().collect()
    }

    pub fn request_count(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }
}

pub fn start() -> Hub {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(State::default()));
    let shared = state.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let st = shared.clone();
            std::thread::spawn(move || serve(stream, &st));
        }
    });
    Hub { url, state }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_owned());
            }
        }
    }
    state.lock().unwrap().requests.push(path.clone());
    let mut out = stream;
    let (status, headers, body) = answer(state, &path, range.as_deref());
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        _ => "Not Found",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
    let _ = out.flush();
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn not_found(what: &str) -> Answer {
    (404, vec![("Content-Type".into(), "application/json".into())], format!("{{\"error\": \"{what} not found\"}}").into_bytes())
}

fn answer(state: &Mutex<State>, path: &str, range: Option<&str>) -> Answer {
    let st = state.lock().unwrap();
    if let Some(rest) = path.strip_prefix("/api/models/") {
        let Some((repo, rev)) = rest.split_once("/revision/") else { return not_found("route") };
        let Some(commit) = st.repos.get(repo).and_then(|r| r.get(rev)) else { return not_found("repository") };
        let mut files: Vec<String> = std::fs::read_dir(&commit.dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let siblings: Vec<serde_json::Value> = files.iter().map(|f| serde_json::json!({ "rfilename": f })).collect();
        let body = serde_json::json!({ "id": repo, "sha": commit.sha, "siblings": siblings }).to_string();
        return (200, vec![("Content-Type".into(), "application/json".into())], body.into_bytes());
    }
    let Some((repo, after)) = path.trim_start_matches('/').split_once("/resolve/") else { return not_found("route") };
    let Some((rev, file)) = after.split_once('/') else { return not_found("route") };
    let Some(commit) = st.repos.get(repo).and_then(|r| r.get(rev)) else { return not_found("revision") };
    let Ok(bytes) = std::fs::read(commit.dir.join(file)) else { return not_found("file") };
    let etag = format!("\"{}\"", hex(&Sha256::digest(&bytes)));
    let mut headers = vec![("X-Repo-Commit".to_owned(), commit.sha.clone()), ("ETag".to_owned(), etag)];
    let size = bytes.len();
    let Some(spec) = range.and_then(|r| r.strip_prefix("bytes=")) else { return (200, headers, bytes) };
    let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
    let start: usize = a.parse().unwrap_or(0).min(size);
    let end: usize = b.parse().map(|e: usize| e + 1).unwrap_or(size).min(size);
    headers.push(("Content-Range".into(), format!("bytes {start}-{}/{size}", end.max(1) - 1)));
    (206, headers, bytes[start..end.max(start)].to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
