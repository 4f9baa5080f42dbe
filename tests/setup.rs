//! `make setup` is idempotent and never leaves a half-written asset.

use crate::common;

use std::process::Command;

use common::{root, stderr, stdout};

#[test]
fn a_second_setup_changes_nothing() {
    let out = Command::new("bash").arg(root().join("scripts/setup.sh")).output().expect("bash runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "only the final line, nothing installed or fetched:\n{text}");
    assert!(lines[0].starts_with("setup: ready (MLX 0.32.2"), "{text}");
}

#[test]
fn a_failed_download_leaves_no_file_behind() {
    let assets = tempfile::tempdir().unwrap();
    // Point pip at a port where nothing listens: the download fails at once.
    let out = Command::new("bash")
        .arg(root().join("scripts/setup.sh"))
        .env("RUNNER_ASSETS_DIR", assets.path())
        .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
        .env("PIP_RETRIES", "0")
        .env("PIP_TIMEOUT", "2")
        .env("PIP_NO_INPUT", "1")
        .output()
        .expect("bash runs");
    assert!(!out.status.success(), "setup must fail when PyPI cannot be reached");
    assert!(stderr(&out).contains("could not download"), "{}", stderr(&out));
    let leftovers: Vec<_> = common::files_under(assets.path());
    assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
}
