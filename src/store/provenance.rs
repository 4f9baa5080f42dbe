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
    /// The GPUs MLX can use: on Apple silicon the chip's own (named after
    /// the chip), on Linux the NVIDIA GPUs the driver lists (CUDA backend);
    /// empty where there is none.
    #[serde(default)]
    pub gpus: Vec<String>,
}

impl Machine {
    /// This machine, as `sysinfo` reads it on each system (on macOS the CPU
    /// is the chip's name, such as `Apple M3 Max`, whose GPU MLX uses).
    pub fn current() -> Machine {
        use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
        let sys = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()).with_memory(MemoryRefreshKind::nothing().with_ram()),
        );
        let cpu = sys.cpus().first().map(|c| c.brand().trim().to_owned()).filter(|b| !b.is_empty());
        let gpus = gpus(cpu.as_deref());
        Machine {
            os: System::long_os_version().unwrap_or_else(|| std::env::consts::OS.to_owned()),
            arch: std::env::consts::ARCH.into(),
            host: super::lock::hostname(),
            cpu,
            cpu_cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            total_memory_bytes: Some(sys.total_memory()).filter(|m| *m > 0),
            gpus,
        }
    }
}

/// The GPUs of this machine (see [`Machine::gpus`]).
fn gpus(cpu: Option<&str>) -> Vec<String> {
    if cfg!(all(target_os = "macos", target_arch = "aarch64")) {
        return cpu.map(|c| format!("{c} (integrated GPU)")).into_iter().collect();
    }
    let mut found: Vec<String> = std::fs::read_dir("/proc/driver/nvidia/gpus")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("information")).ok())
        .filter_map(|text| nvidia_model(&text))
        .collect();
    found.sort();
    found
}

/// The `Model:` line of an NVIDIA driver's `information` file.
fn nvidia_model(information: &str) -> Option<String> {
    information.lines().find_map(|l| l.strip_prefix("Model:")).map(|m| m.trim().to_owned()).filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_gpus_are_named_from_the_driver_information() {
        let info = "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 35\nGPU UUID: \t GPU-0\nBus Type: \t PCIe\n";
        assert_eq!(nvidia_model(info).as_deref(), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(nvidia_model("IRQ: 35\n"), None);
        // This machine: the driver's list, or none without one.
        let m = Machine::current();
        let listed = std::fs::read_dir("/proc/driver/nvidia/gpus").map(|rd| rd.count()).unwrap_or(0);
        if !cfg!(target_os = "macos") {
            assert_eq!(m.gpus.len(), listed, "{m:?}");
        }
    }

    #[test]
    fn the_machine_names_its_cpu_and_memory() {
        let m = Machine::current();
        assert!(m.cpu.as_deref().is_some_and(|c| !c.is_empty()), "{m:?}");
        assert!(m.total_memory_bytes.is_some_and(|b| b > (256 << 20)), "{m:?}");
        assert!(!m.os.is_empty() && m.cpu_cores >= 1, "{m:?}");
        #[cfg(target_os = "linux")]
        {
            let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let named =
                info.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()));
            if let Some(named) = named {
                assert_eq!(m.cpu.as_deref(), Some(named.as_str()), "the model name /proc/cpuinfo gives");
            }
        }
    }
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
    /// Set when these results are another directory's records scored again
    /// by this build (`runner rescore`): the outputs come from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescored_from: Option<RescoreOrigin>,
}

/// The results a rescored directory took its outputs from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoreOrigin {
    /// The name of the results directory read (its commit tag).
    pub tag: String,
    /// The commit its outputs were generated at.
    pub commit: CommitTag,
    /// The runner version that generated them.
    pub runner_version: String,
    /// When the records were scored again (RFC 3339).
    pub rescored_at: String,
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
            rescored_from: None,
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
