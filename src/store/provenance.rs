//! Where results came from: the commit and working-tree state, the
//! program and library versions, and the machine. Written into `plan.json`
//! and carried into every table and figure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layout::CommitTag;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub os: String,
    pub arch: String,
    pub host: String,
    /// CPU model name, where the system says.
    pub cpu: Option<String>,
    pub cpu_cores: usize,
    pub total_memory_bytes: Option<u64>,
}

impl Machine {
    pub fn current() -> Machine {
        Machine {
            os: os_name(),
            arch: std::env::consts::ARCH.into(),
            host: super::lock::hostname(),
            cpu: cpu_name(),
            cpu_cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            total_memory_bytes: total_memory(),
        }
    }
}

fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_owned())));
    pretty.unwrap_or_else(|| std::env::consts::OS.to_owned())
}

fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
}

/// Physical memory in bytes.
pub fn total_memory() -> Option<u64> {
    // SAFETY: sysconf has no preconditions.
    let (pages, size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    (pages > 0 && size > 0).then(|| pages as u64 * size as u64)
}

/// The MLX runtime and BLAS in use, as the engine reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Libraries {
    pub mlx_version: String,
    pub mlx_backend: String,
    pub mlx_device: String,
    pub blas: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Full commit sha (or `nogit`) and the dirty diff hash.
    pub commit: CommitTag,
    pub runner_version: String,
    pub libraries: Libraries,
    pub machine: Machine,
    /// Model label -> resolved revision (hub commit or weights sha256),
    /// filled in as models load.
    #[serde(default)]
    pub model_revisions: BTreeMap<String, String>,
    /// Dataset label -> sha256 of its files, filled in as datasets load.
    #[serde(default)]
    pub data_sha256: BTreeMap<String, String>,
}

impl Provenance {
    pub fn new(commit: CommitTag, libraries: Libraries) -> Provenance {
        Provenance {
            commit,
            runner_version: env!("CARGO_PKG_VERSION").into(),
            libraries,
            machine: Machine::current(),
            model_revisions: BTreeMap::new(),
            data_sha256: BTreeMap::new(),
        }
    }
}

/// This runner's build: its version and the first 16 hex digits of the
/// sha256 of its executable (computed once per process).
pub fn runner_build() -> String {
    static BUILD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILD
        .get_or_init(|| {
            let exe = std::env::current_exe().ok().and_then(|p| crate::assets::sha256_file(&p).ok());
            let digest = exe.as_deref().map_or("unknown", |d| &d[..16.min(d.len())]).to_owned();
            format!("{} {digest}", env!("CARGO_PKG_VERSION"))
        })
        .clone()
}
