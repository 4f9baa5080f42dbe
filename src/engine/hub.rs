//! Hugging Face hub references resolved through the standard cache layout
//! (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`):
//! `models--ORG--NAME/refs/<revision>` holds the commit, and
//! `models--ORG--NAME/snapshots/<commit>/` the files. The commit is what runs
//! record. Nothing here touches the network.

use std::path::PathBuf;

use super::EngineError;

/// A repo resolved to a snapshot directory and its commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub dir: PathBuf,
    pub commit: String,
}

/// Whether `s` has the shape of a repo id (`org/name`).
pub fn is_repo_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

/// Finds `repo` at `revision` (default `main`; a 40-hex commit is taken as is)
/// in the local hub cache.
pub fn resolve_cached(repo: &str, revision: Option<&str>) -> Result<Snapshot, EngineError> {
    let cache = crate::assets::hf_cache_dir();
    let folder = cache.join(format!("models--{}", repo.replace('/', "--")));
    let revision = revision.unwrap_or("main");
    let missing = |what: &str| {
        EngineError::ModelNotFound(format!(
            "{repo}@{revision} is not in the Hugging Face cache at {} ({what}); download it first \
             (e.g. `huggingface-cli download {repo} --revision {revision}`)",
            folder.display()
        ))
    };
    let commit = if revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit()) {
        revision.to_owned()
    } else {
        let refs = folder.join("refs").join(revision);
        std::fs::read_to_string(&refs).map(|s| s.trim().to_owned()).map_err(|_| missing("no ref"))?
    };
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
    }
}
