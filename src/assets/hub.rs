//! The Hugging Face hub over HTTP, for models and dataset repositories: a
//! revision's commit and files (`/api/<kind>/<repo>/revision/<rev>`), and
//! files of that commit (`[datasets/]<repo>/resolve/<commit>/<file>`)
//! downloaded into the standard cache layout that huggingface_hub reads
//! too: `blobs/<sha256>`, `snapshots/<commit>/<file>` linking to its blob,
//! `refs/<revision>` naming the commit. Every request has connect and read
//! timeouts and a download resumes where it broke ([`super::http`]), so a
//! stalled hub never hangs a sweep. `HF_TOKEN`, or the token file under
//! `$HF_HOME`, goes to the hub's own host only.

use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use sha2::Digest;

use super::{hf_cache_dir, hub_endpoint, FetchError};

/// Models or dataset repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl RepoKind {
    fn plural(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }

    /// The path prefix of a file URL (`datasets/` for datasets).
    fn url_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "",
            RepoKind::Dataset => "datasets/",
        }
    }
}

/// The cache folder of `repo`: `models--ORG--NAME` or `datasets--ORG--NAME`.
pub fn cache_folder(kind: RepoKind, repo: &str) -> PathBuf {
    hf_cache_dir().join(format!("{}--{}", kind.plural(), repo.replace('/', "--")))
}

/// Why a hub request failed.
#[derive(Debug)]
pub enum HubError {
    /// The hub answered with an HTTP status (404: no such repository,
    /// revision or file; 401/403: gated or private).
    Status { url: String, code: u16 },
    /// The hub could not be reached (after retries and timeouts).
    Unreachable(String),
    /// An answer or a cache entry that cannot be used.
    Bad(String),
}

impl std::fmt::Display for HubError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HubError::Status { url, code } => {
                let hint = match code {
                    401 | 403 => " (a gated or private repository needs HF_TOKEN)",
                    404 => " (no such repository, revision or file)",
                    _ => "",
                };
                write!(f, "{url}: HTTP {code}{hint}")
            }
            HubError::Unreachable(why) | HubError::Bad(why) => f.write_str(why),
        }
    }
}

impl From<FetchError> for HubError {
    fn from(e: FetchError) -> HubError {
        match e {
            FetchError::Status { url, code, .. } => HubError::Status { url, code },
            FetchError::Http { .. } => HubError::Unreachable(e.to_string()),
            other => HubError::Bad(other.to_string()),
        }
    }
}

/// What the hub says about a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionInfo {
    pub commit: String,
    /// Every file of the commit, `/`-separated.
    pub files: Vec<String>,
}

#[derive(Deserialize)]
struct InfoBody {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(Deserialize)]
struct Sibling {
    rfilename: String,
}

/// The token sent to the hub: `HF_TOKEN`, else the token file
/// (`$HF_HOME/token`, `~/.cache/huggingface/token`).
fn token() -> Option<String> {
    if let Some(t) = std::env::var("HF_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        return Some(t.trim().to_owned());
    }
    let home = std::env::var_os("HF_HOME").map_or_else(|| super::cache_home().join("huggingface"), PathBuf::from);
    std::fs::read_to_string(home.join("token")).ok().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

fn auth() -> Vec<(&'static str, String)> {
    token().map(|t| vec![("Authorization", format!("Bearer {t}"))]).unwrap_or_default()
}

/// `s` with the characters that cannot stand in a URL path escaped (`/`
/// kept when `keep_slash`).
fn escape(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Whether `s` is a 40-hex commit id.
pub fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether a file name from the hub stays inside its snapshot folder.
fn inside(name: &str) -> bool {
    !name.is_empty() && Path::new(name).components().all(|c| matches!(c, Component::Normal(_)))
}

/// Attempts at the revision info before the hub counts as unreachable.
const INFO_ATTEMPTS: u32 = 3;

/// The commit and files of `repo` at `revision`.
pub fn revision_info(kind: RepoKind, repo: &str, revision: &str) -> Result<RevisionInfo, HubError> {
    let mut last = None;
    for attempt in 0..INFO_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(500 << (attempt - 1)));
        }
        match revision_info_once(kind, repo, revision) {
            Err(HubError::Unreachable(why)) => last = Some(why),
            other => return other,
        }
    }
    Err(HubError::Unreachable(last.unwrap_or_default()))
}

fn revision_info_once(kind: RepoKind, repo: &str, revision: &str) -> Result<RevisionInfo, HubError> {
    let url = format!("{}/api/{}/{repo}/revision/{}", hub_endpoint().trim_end_matches('/'), kind.plural(), escape(revision, false));
    let mut request = super::http::agent().get(&url);
    for (name, value) in auth() {
        request = request.set(name, &value);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, _)) if code == 429 || code >= 500 => {
            return Err(HubError::Unreachable(format!("{url}: HTTP {code}")));
        }
        Err(ureq::Error::Status(code, _)) => return Err(HubError::Status { url, code }),
        Err(ureq::Error::Transport(t)) => return Err(HubError::Unreachable(format!("{url}: {t}"))),
    };
    let text = response.into_string().map_err(|e| HubError::Unreachable(format!("{url}: {e}")))?;
    let body: InfoBody = serde_json::from_str(&text).map_err(|e| HubError::Bad(format!("{url}: not the hub's revision info: {e}")))?;
    if !is_commit(&body.sha) {
        return Err(HubError::Bad(format!("{url}: the hub named `{}` as the commit, not a 40-hex sha", body.sha.escape_debug())));
    }
    let files: Vec<String> = body.siblings.into_iter().map(|s| s.rfilename).filter(|f| f != ".gitattributes").collect();
    if let Some(bad) = files.iter().find(|f| !inside(f)) {
        return Err(HubError::Bad(format!("{url}: file `{}` would lie outside the snapshot folder", bad.escape_debug())));
    }
    Ok(RevisionInfo { commit: body.sha.to_lowercase(), files })
}

/// The file `name` of `repo` at `commit` in the cache, downloaded when the
/// cache lacks it.
pub fn fetch_file(kind: RepoKind, repo: &str, commit: &str, name: &str) -> Result<PathBuf, HubError> {
    if !is_commit(commit) || !inside(name) {
        return Err(HubError::Bad(format!("{repo}: `{}` at `{}` is not a file of a commit", name.escape_debug(), commit.escape_debug())));
    }
    let folder = cache_folder(kind, repo);
    let snap = folder.join("snapshots").join(commit).join(name);
    if snap.is_file() {
        return Ok(snap);
    }
    let blobs = folder.join("blobs");
    std::fs::create_dir_all(&blobs).map_err(|e| HubError::Bad(format!("{}: {e}", blobs.display())))?;
    let url = format!("{}/{}{repo}/resolve/{commit}/{}", hub_endpoint().trim_end_matches('/'), kind.url_prefix(), escape(name, true));
    let incoming = blobs.join(format!("incoming-{}", &super::hex(&sha2::Sha256::digest(format!("{commit}/{name}").as_bytes()))[..16]));
    super::http::download_with(&url, &incoming, &auth())?;
    let sha = super::sha256_file(&incoming).map_err(|e| HubError::Bad(format!("{}: {e}", incoming.display())))?;
    let blob = blobs.join(&sha);
    std::fs::rename(&incoming, &blob).map_err(|e| HubError::Bad(format!("{}: {e}", blob.display())))?;
    link(&blob, &snap, name).map_err(|e| HubError::Bad(format!("{}: {e}", snap.display())))?;
    Ok(snap)
}

/// Makes `snap` (the file `name` of a snapshot) point at `blob`: a
/// relative symbolic link as huggingface_hub makes, or a copy where links
/// are not available.
fn link(blob: &Path, snap: &Path, name: &str) -> std::io::Result<()> {
    if let Some(parent) = snap.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = snap.with_file_name(format!(".{}.tmp{}", snap.file_name().and_then(|n| n.to_str()).unwrap_or("file"), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    #[cfg(unix)]
    {
        // snapshots/<commit>/<dirs...>/<file> -> ../../<dirs as ..>/blobs/<sha>
        let depth = Path::new(name).components().count() + 1;
        let mut target = PathBuf::new();
        for _ in 0..depth {
            target.push("..");
        }
        target.push("blobs");
        target.push(blob.file_name().unwrap_or_default());
        std::os::unix::fs::symlink(&target, &tmp)?;
    }
    #[cfg(not(unix))]
    {
        let _ = name;
        std::fs::copy(blob, &tmp)?;
    }
    std::fs::rename(&tmp, snap)
}

/// Points `refs/<revision>` of `repo` at `commit` (written whole, then
/// renamed).
pub fn write_ref(kind: RepoKind, repo: &str, revision: &str, commit: &str) -> Result<(), HubError> {
    let path = cache_folder(kind, repo).join("refs").join(revision);
    let io = |e: std::io::Error| HubError::Bad(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, commit).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// The commit `refs/<revision>` names in the cache (a commit is itself).
pub fn cached_commit(kind: RepoKind, repo: &str, revision: &str) -> Option<String> {
    if is_commit(revision) {
        return Some(revision.to_lowercase());
    }
    let text = std::fs::read_to_string(cache_folder(kind, repo).join("refs").join(revision)).ok()?;
    Some(text.trim().to_owned()).filter(|c| is_commit(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_kept_inside() {
        assert_eq!(escape("refs/pr/1", false), "refs%2Fpr%2F1");
        assert_eq!(escape("Train/a b.csv", true), "Train/a%20b.csv");
        assert!(inside("a/b.json") && !inside("../x") && !inside("/etc/passwd") && !inside(""));
        assert!(is_commit(&"a".repeat(40)) && !is_commit("main"));
    }
}
