//! Unpacking zip archives, whole or a selection of their members.
//!
//! A selector names a file (`UCI HAR Dataset/activity_labels.txt`) or,
//! ending in `/`, a folder and everything below it. Members whose names
//! would land outside the target (absolute, `..`) are refused, and macOS's
//! `__MACOSX/` resource forks are skipped.

use std::fs::File;
use std::io::BufReader;
use std::path::{Component, Path};

use super::FetchError;

/// Whether `name` is selected by `members` (every name when it is empty).
pub fn selected(name: &str, members: &[String]) -> bool {
    members.is_empty() || members.iter().any(|m| if m.ends_with('/') { name.starts_with(m.as_str()) } else { name == m })
}

/// Extracts the selected files of `archive` under `target` and returns
/// their paths relative to it (`/`-separated), in archive order.
pub fn unzip(archive: &Path, target: &Path, members: &[String]) -> Result<Vec<String>, FetchError> {
    let bad = |why: String| FetchError::Archive { archive: archive.to_path_buf(), why };
    let file = File::open(archive).map_err(|e| FetchError::io(archive, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(format!("not a readable zip archive: {e}")))?;
    let mut out = Vec::new();
    let mut used = vec![false; members.len()];
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(format!("member {i}: {e}")))?;
        let name = entry.name().map_err(|e| bad(format!("member {i}: {e}")))?.into_owned();
        if entry.is_dir() || name.starts_with("__MACOSX/") || !selected(&name, members) {
            continue;
        }
        for (u, m) in used.iter_mut().zip(members) {
            *u |= selected(&name, std::slice::from_ref(m));
        }
        let rel = Path::new(&name);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(bad(format!("member `{name}` would be written outside the target folder")));
        }
        let dest = target.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FetchError::io(parent, e))?;
        }
        let mut f = File::create(&dest).map_err(|e| FetchError::io(&dest, e))?;
        std::io::copy(&mut entry, &mut f).map_err(|e| bad(format!("member `{name}`: {e}")))?;
        f.sync_all().map_err(|e| FetchError::io(&dest, e))?;
        out.push(name);
    }
    if let Some(m) = members.iter().zip(&used).find_map(|(m, u)| (!u).then_some(m)) {
        let names: Vec<String> =
            (0..zip.len().min(8)).filter_map(|i| zip.name_for_index(i).and_then(|n| n.ok()).map(|n| n.into_owned())).collect();
        return Err(bad(format!("no member matches `{m}` (a folder ends in `/`); the archive begins with: {}", names.join(", "))));
    }
    if out.is_empty() {
        return Err(bad("holds no files".to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_name_files_or_folders() {
        let m = vec!["a/b.txt".to_owned(), "c/".to_owned()];
        assert!(selected("a/b.txt", &m));
        assert!(!selected("a/b.txt.bak", &m));
        assert!(selected("c/d/e", &m));
        assert!(!selected("cc/d", &m));
        assert!(selected("anything", &[]));
    }
}
