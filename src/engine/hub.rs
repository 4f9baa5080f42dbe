//! Hugging Face hub references (`org/name`, optionally `@revision`),
//! resolved through the standard cache layout (`$HF_HUB_CACHE`,
//! `$HF_HOME/hub`, `~/.cache/huggingface/hub`):
//! `models--ORG--NAME/refs/<revision>` holds the commit, and
//! `models--ORG--NAME/snapshots/<commit>/` the files. The commit is what runs
//! record.
//!
//! Online (the default), the hub API at `$HF_ENDPOINT` (default
//! `https://huggingface.co`) names the revision's commit and files, and the
//! files a model directory needs are downloaded into that cache
//! ([`crate::assets::hub`]: timeouts, resumed downloads). With
//! `HF_HUB_OFFLINE=1` nothing touches the network; a repository that
//! cannot be reached falls back to what the cache holds.

use std::path::{Path, PathBuf};

use crate::assets::hub::{self as remote, HubError, RepoKind};

use super::EngineError;

/// Files of a model directory fetched besides the weights, when the
/// repository has them.
const SIDE_FILES: [&str; 6] =
    ["config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "chat_template.jinja"];
const INDEX: &str = "model.safetensors.index.json";

/// A repo resolved to a snapshot directory and its commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub dir: PathBuf,
    pub commit: String,
}

/// Whether `s` has the shape of a repo id (`org/name`). A name ending in a
/// weight file's extension (`models/x.gguf`) is a missing file, not a repo.
pub fn is_repo_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    let file_like = [".gguf", ".safetensors", ".json"].iter().any(|ext| s.to_ascii_lowercase().ends_with(ext));
    parts.len() == 2
        && !file_like
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

/// Whether `s` can name a revision: a branch or tag (letters, digits and
/// `- _ . /`, no `..`, not starting with `/`, `.` or `-`, at most 128
/// characters) or a commit. Revisions are joined into cache paths
/// (`refs/<revision>`), so nothing else may pass.
pub fn is_revision(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(['/', '.', '-'])
        && !s.ends_with('/')
        && !s.contains("..")
        && !s.contains("//")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn check_revision(repo: &str, revision: &str) -> Result<(), EngineError> {
    if is_revision(revision) {
        Ok(())
    } else {
        Err(EngineError::BadInput(format!(
            "{repo}@{}: not a branch, tag or commit name (letters, digits, '-', '_', '.', '/'; no '..')",
            revision.escape_debug()
        )))
    }
}

/// Resolves `repo` at `revision` (default `main`): from the cache alone when
/// `HF_HUB_OFFLINE` is set, else through the hub, downloading what the
/// cache lacks.
pub fn resolve(repo: &str, revision: Option<&str>) -> Result<Snapshot, EngineError> {
    check_revision(repo, revision.unwrap_or("main"))?;
    if crate::assets::hf_offline() {
        return resolve_cached(repo, revision);
    }
    let revision = revision.unwrap_or("main");
    match download(repo, revision) {
        Ok(s) => Ok(s),
        // The hub cannot be reached: what the cache holds still serves.
        Err(Online::Unreachable(why)) => resolve_cached(repo, Some(revision)).map_err(|cached| {
            let cached = match cached {
                EngineError::ModelNotFound(m) => m,
                other => other.to_string(),
            };
            EngineError::ModelNotFound(format!("{cached}; the hub at {} could not be reached: {why}", endpoint()))
        }),
        Err(Online::Refused(e)) => Err(e),
    }
}

fn endpoint() -> String {
    crate::assets::hub_endpoint()
}

/// Why an online resolution failed: no connection (the cache may serve),
/// or an answer that rules the reference out.
enum Online {
    Unreachable(String),
    Refused(EngineError),
}

/// Classifies a hub failure: no connection leaves the cache to answer; an
/// HTTP status (404: no such repo or revision, 401/403: gated) does not.
fn classify(repo: &str, revision: &str, what: &str, e: HubError) -> Online {
    match e {
        HubError::Unreachable(why) => Online::Unreachable(why),
        other => Online::Refused(EngineError::ModelNotFound(format!(
            "{repo}@{revision}: fetching {what} from the hub at {} into {} failed: {other}",
            endpoint(),
            crate::assets::hf_cache_dir().display()
        ))),
    }
}

/// Downloads the files of `repo` at `revision` that the cache lacks, all
/// from the one commit the hub names for it.
fn download(repo: &str, revision: &str) -> Result<Snapshot, Online> {
    let info = remote::revision_info(RepoKind::Model, repo, revision).map_err(|e| classify(repo, revision, "the repository info", e))?;
    let commit = info.commit;
    let files = info.files;
    let folder = repo_folder(repo);
    let dir = folder.join("snapshots").join(&commit);
    let fetch = |name: &str| -> Result<PathBuf, Online> {
        remote::fetch_file(RepoKind::Model, repo, &commit, name).map_err(|e| match e {
            // The hub answered the revision: a file it cannot serve now is
            // not a reason to fall back to another cached commit.
            HubError::Unreachable(why) => Online::Refused(EngineError::ModelNotFound(format!("{repo}@{revision}: {name}: {why}"))),
            other => classify(repo, revision, name, other),
        })
    };
    for name in weight_files(repo, &files, |index| fetch(index))? {
        fetch(&name)?;
    }
    for name in SIDE_FILES.iter().filter(|n| files.iter().any(|f| f == *n)) {
        fetch(name)?;
    }
    if revision != commit {
        remote::write_ref(RepoKind::Model, repo, revision, &commit)
            .map_err(|e| Online::Refused(EngineError::ModelNotFound(e.to_string())))?;
    }
    Ok(Snapshot { dir, commit })
}

/// The weight files of a model directory listed in `files`: the shards an
/// index names, or `model.safetensors`. `fetch_index` downloads the index.
fn weight_files(repo: &str, files: &[String], fetch_index: impl Fn(&str) -> Result<PathBuf, Online>) -> Result<Vec<String>, Online> {
    let refused = |m: String| Online::Refused(EngineError::Unsupported(m));
    if !files.iter().any(|f| f == "config.json") {
        let ggufs: Vec<&str> = files.iter().map(String::as_str).filter(|f| f.ends_with(".gguf")).collect();
        return Err(refused(match ggufs.is_empty() {
            true => format!("{repo} has no config.json: not a model directory"),
            false => format!("{repo} holds GGUF files ({}), not a model directory; download one and pass its path", ggufs.join(", ")),
        }));
    }
    if files.iter().any(|f| f == INDEX) {
        let index = fetch_index(INDEX)?;
        let mut shards = shard_names(&index).map_err(Online::Refused)?;
        shards.insert(0, INDEX.to_owned());
        return Ok(shards);
    }
    if files.iter().any(|f| f == "model.safetensors") {
        return Ok(vec!["model.safetensors".to_owned()]);
    }
    Err(refused(format!("{repo} has neither model.safetensors nor {INDEX}")))
}

/// The distinct shard files named by a safetensors index, in order.
fn shard_names(index: &Path) -> Result<Vec<String>, EngineError> {
    let bad = |m: String| EngineError::BadModel(format!("{}: {m}", index.display()));
    let text = std::fs::read_to_string(index).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let map = v["weight_map"].as_object().ok_or_else(|| bad("no `weight_map` object".into()))?;
    let mut names: Vec<String> = Vec::new();
    for file in map.values() {
        let f = file.as_str().ok_or_else(|| bad("a `weight_map` value is not a file name".into()))?;
        if f.contains("..") || f.starts_with('/') {
            return Err(bad(format!("shard `{f}` is outside the repository")));
        }
        if !names.iter().any(|n| n == f) {
            names.push(f.to_owned());
        }
    }
    Ok(names)
}

/// The cache folder of a model repo: `models--ORG--NAME`.
fn repo_folder(repo: &str) -> PathBuf {
    remote::cache_folder(RepoKind::Model, repo)
}

/// Finds `repo` at `revision` (default `main`; a 40-hex commit is taken as is)
/// in the local hub cache.
pub fn resolve_cached(repo: &str, revision: Option<&str>) -> Result<Snapshot, EngineError> {
    let folder = repo_folder(repo);
    let revision = revision.unwrap_or("main");
    check_revision(repo, revision)?;
    let missing = |what: &str| {
        EngineError::ModelNotFound(format!(
            "{repo}@{revision} is not in the Hugging Face cache at {} ({what}); download it first \
             (e.g. `huggingface-cli download {repo} --revision {revision}`)",
            folder.display()
        ))
    };
    let commit = remote::cached_commit(RepoKind::Model, repo, revision).ok_or_else(|| missing("no ref"))?;
    let dir = folder.join("snapshots").join(&commit);
    if !dir.join("config.json").is_file() {
        return Err(missing("no snapshot with a config.json"));
    }
    Ok(Snapshot { dir, commit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_have_one_slash() {
        assert!(is_repo_id("mlx-community/Llama-3.2-1B-Instruct-4bit"));
        assert!(!is_repo_id("models/x/y"));
        assert!(!is_repo_id("/abs/path"));
        assert!(!is_repo_id("name"));
        assert!(is_repo_id("Qwen/Qwen2.5-0.5B-Instruct"));
        assert!(!is_repo_id("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    }
}
