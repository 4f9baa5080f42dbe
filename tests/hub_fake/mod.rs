//! A local Hugging Face hub for the tests: it serves model repositories from
//! directories on disk through the two endpoints a download uses, as the hub
//! defines them:
//! - `GET /api/models/<org>/<name>/revision/<rev>`: `{"sha", "siblings":
//!   [{"rfilename"}]}` of the commit `rev` names;
//! - `GET /<org>/<name>/resolve/<rev>/<file>`: the file, honouring `Range:
//!   bytes=a-[b]` (206 with `Content-Range`), with `X-Repo-Commit` and the
//!   file's sha256 as `ETag` (as the hub does for LFS files).
//!
//! Dataset repositories are served the same way under `/api/datasets/` and
//! `/datasets/<org>/<name>/resolve/`. Plain files are served from
//! directories under `/files/<mount>/` (see [`Hub::serve_files`]), and a
//! response can be cut short once to exercise resuming.
//!
//! Every request path is recorded (with its `Range` header), so tests can
//! count what was fetched.
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
    /// Dataset repositories, as `repos`.
    pub datasets: BTreeMap<String, BTreeMap<String, Commit>>,
    /// `/files/<mount>/...` -> directory.
    pub mounts: BTreeMap<String, PathBuf>,
    /// Paths whose next full answer sends half the body, then closes.
    pub cut_once: Vec<String>,
    /// Paths whose next full answer sends half the body, then stalls
    /// (the connection stays open and silent for a minute).
    pub stall_once: Vec<String>,
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

    /// Publishes `dir` as dataset repository `repo`, as [`Hub::publish`].
    pub fn publish_dataset(&self, repo: &str, sha: &str, dir: PathBuf, names: &[&str]) {
        let mut st = self.state.lock().unwrap();
        let revs = st.datasets.entry(repo.to_owned()).or_default();
        let commit = Commit { sha: sha.to_owned(), dir };
        for n in names.iter().copied().chain([sha]) {
            revs.insert(n.to_owned(), commit.clone());
        }
    }

    /// Serves the files under `dir` at `<url>/files/<mount>/`.
    pub fn serve_files(&self, mount: &str, dir: PathBuf) -> String {
        self.state.lock().unwrap().mounts.insert(mount.to_owned(), dir);
        format!("{}/files/{mount}/", self.url)
    }

    /// The next full answer for `path` sends half its body and closes.
    pub fn cut_next(&self, path: &str) {
        self.state.lock().unwrap().cut_once.push(path.to_owned());
    }

    /// The next full answer for `path` sends half its body and stalls.
    pub fn stall_next(&self, path: &str) {
        self.state.lock().unwrap().stall_once.push(path.to_owned());
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
    let logged = match &range {
        Some(r) => format!("{path} [{r}]"),
        None => path.clone(),
    };
    state.lock().unwrap().requests.push(logged);
    let mut out = stream;
    let (status, headers, mut body) = answer(state, &path, range.as_deref());
    let length = body.len();
    let mut stall = false;
    {
        let mut st = state.lock().unwrap();
        if let Some(i) = st.cut_once.iter().position(|p| *p == path).filter(|_| status == 200) {
            st.cut_once.remove(i);
            body.truncate(length / 2);
        }
        if let Some(i) = st.stall_once.iter().position(|p| *p == path).filter(|_| status == 200) {
            st.stall_once.remove(i);
            body.truncate(length / 2);
            stall = true;
        }
    }
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        _ => "Not Found",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
    let _ = out.flush();
    if stall {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn not_found(what: &str) -> Answer {
    (404, vec![("Content-Type".into(), "application/json".into())], format!("{{\"error\": \"{what} not found\"}}").into_bytes())
}

fn answer(state: &Mutex<State>, path: &str, range: Option<&str>) -> Answer {
    let st = state.lock().unwrap();
    if let Some(rest) = path.strip_prefix("/files/") {
        let Some((mount, file)) = rest.split_once('/') else { return not_found("route") };
        let Some(dir) = st.mounts.get(mount) else { return not_found("mount") };
        let Ok(bytes) = std::fs::read(dir.join(decode(file))) else { return not_found("file") };
        return ranged(bytes, Vec::new(), range);
    }
    let (api, repos, path) = match path.strip_prefix("/api/datasets/").or_else(|| path.strip_prefix("/datasets/")) {
        Some(rest) => (path.starts_with("/api/"), &st.datasets, format!("/{rest}")),
        None => (path.starts_with("/api/models/"), &st.repos, path.strip_prefix("/api/models").unwrap_or(path).to_owned()),
    };
    if api {
        let rest = path.trim_start_matches('/');
        let Some((repo, rev)) = rest.split_once("/revision/") else { return not_found("route") };
        let Some(commit) = repos.get(repo).and_then(|r| r.get(rev)) else { return not_found("repository") };
        let mut files = Vec::new();
        list_files(&commit.dir, &commit.dir, &mut files);
        files.sort();
        let siblings: Vec<serde_json::Value> = files.iter().map(|f| serde_json::json!({ "rfilename": f })).collect();
        let body = serde_json::json!({ "id": repo, "sha": commit.sha, "siblings": siblings }).to_string();
        return (200, vec![("Content-Type".into(), "application/json".into())], body.into_bytes());
    }
    let Some((repo, after)) = path.trim_start_matches('/').split_once("/resolve/") else { return not_found("route") };
    let Some((rev, file)) = after.split_once('/') else { return not_found("route") };
    let Some(commit) = repos.get(repo).and_then(|r| r.get(rev)) else { return not_found("revision") };
    let Ok(bytes) = std::fs::read(commit.dir.join(decode(file))) else { return not_found("file") };
    let etag = format!("\"{}\"", hex(&Sha256::digest(&bytes)));
    let headers = vec![("X-Repo-Commit".to_owned(), commit.sha.clone()), ("ETag".to_owned(), etag)];
    ranged(bytes, headers, range)
}

/// The files under `dir`, `/`-separated and relative to `root`.
fn list_files(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            list_files(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/"));
        }
    }
}

/// `%XX` escapes decoded.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A 200 with the whole body, or a 206 with the part `range` asks for.
fn ranged(bytes: Vec<u8>, mut headers: Vec<(String, String)>, range: Option<&str>) -> Answer {
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
