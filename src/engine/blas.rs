//! Which BLAS the process really uses, read from the libraries mapped into
//! it, and how fast it multiplies matrices (a measured sgemm figure).
//!
//! The MLX CPU wheel ships the netlib reference BLAS, about 50x slower than
//! OpenBLAS on sgemm; setup links OpenBLAS in its place. Compute commands call
//! `ensure_fast_blas` so that nobody runs on the reference BLAS by accident.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mlx_rs::{random, Array};

use super::EngineError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlasKind {
    OpenBlas,
    /// The netlib reference BLAS bundled with the MLX CPU wheel.
    Reference,
    Mkl,
    Blis,
    Accelerate,
    Unknown,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BlasInfo {
    pub kind: BlasKind,
    /// BLAS/LAPACK files mapped into this process.
    pub libraries: Vec<PathBuf>,
    /// OpenBLAS's own description (version, core, threads), when loaded.
    pub config: Option<String>,
}

/// Classifies one mapped library path.
pub fn classify(path: &str) -> Option<BlasKind> {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    if lower.contains("openblas") {
        Some(BlasKind::OpenBlas)
    } else if lower.contains("mkl") {
        Some(BlasKind::Mkl)
    } else if lower.contains("blis") {
        Some(BlasKind::Blis)
    } else if lower.contains("accelerate.framework") {
        Some(BlasKind::Accelerate)
    } else if lower.contains("mlx_cpu.libs/libblas") {
        Some(BlasKind::Reference)
    } else if name.starts_with("libblas") || name.starts_with("libcblas") {
        Some(BlasKind::Unknown)
    } else {
        None
    }
}

/// Reads the BLAS in use from the process's memory map.
pub fn detect() -> BlasInfo {
    let config = openblas_config();
    if cfg!(target_os = "macos") {
        // libmlx on macOS links Accelerate; there is no /proc to read.
        return BlasInfo { kind: BlasKind::Accelerate, libraries: Vec::new(), config };
    }
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut libraries: Vec<PathBuf> = Vec::new();
    let mut kinds: Vec<BlasKind> = Vec::new();
    for line in maps.lines() {
        let Some(path) = line.split_whitespace().nth(5) else { continue };
        let lower = path.to_ascii_lowercase();
        let is_blas_like = classify(path).is_some() || lower.contains("lapack");
        if is_blas_like && !libraries.iter().any(|p| p.as_os_str() == path) {
            libraries.push(PathBuf::from(path));
            if let Some(k) = classify(path) {
                kinds.push(k);
            }
        }
    }
    // The reference BLAS wins the verdict if it is mapped at all.
    let kind = [BlasKind::Reference, BlasKind::OpenBlas, BlasKind::Mkl, BlasKind::Blis, BlasKind::Unknown]
        .into_iter()
        .find(|k| kinds.contains(k))
        .unwrap_or(if config.is_some() { BlasKind::OpenBlas } else { BlasKind::Unknown });
    BlasInfo { kind, libraries, config }
}

fn openblas_config() -> Option<String> {
    openblas_text(c"openblas_get_config")
}

/// The text an OpenBLAS query function returns, when OpenBLAS is loaded.
fn openblas_text(symbol: &std::ffi::CStr) -> Option<String> {
    // SAFETY: dlsym on the global namespace; when found, OpenBLAS's
    // `openblas_get_config` and `openblas_get_corename` take no arguments
    // and return a static NUL-terminated string.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, symbol.as_ptr());
        if sym.is_null() {
            return None;
        }
        let f: unsafe extern "C" fn() -> *const libc::c_char = std::mem::transmute(sym);
        let p = f();
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().trim().to_owned())
    }
}

/// OpenBLAS's environment variable naming the kernel family to use.
pub const CORETYPE_ENV: &str = "OPENBLAS_CORETYPE";

/// Set (to 1) in a process that restarted itself to set OpenBLAS's variables.
pub const RESTARTED_ENV: &str = "RUNNER_OPENBLAS_CORETYPE_SET";

/// The kernel family OpenBLAS picked when it loaded, when it is loaded.
pub fn openblas_core() -> Option<String> {
    openblas_text(c"openblas_get_corename")
}

/// What the CPU can run, as far as OpenBLAS's kernel families go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuVector {
    pub avx2_fma: bool,
    /// AVX-512 F, BW, DQ and VL (what SkylakeX kernels use).
    pub avx512: bool,
}

impl CpuVector {
    pub fn detect() -> CpuVector {
        #[cfg(target_arch = "x86_64")]
        {
            CpuVector {
                avx2_fma: std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
                avx512: std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            CpuVector { avx2_fma: false, avx512: false }
        }
    }
}

/// The kernel family OpenBLAS should use instead of `picked`, when it
/// picked a pre-AVX2 family on a CPU with AVX2 or AVX-512. A DYNAMIC_ARCH
/// OpenBLAS older than the CPU does not recognise it and falls back to
/// Prescott (SSE3): on a Xeon of family 6 model 207 with OpenBLAS 0.3.21,
/// sgemm ran at 32 GFLOP/s with Prescott kernels and 223 with SkylakeX.
pub fn better_core(picked: &str, cpu: CpuVector) -> Option<&'static str> {
    const PRE_AVX2: [&str; 9] = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood"];
    if !PRE_AVX2.contains(&picked.to_ascii_lowercase().as_str()) {
        return None;
    }
    if cpu.avx512 {
        Some("SkylakeX")
    } else if cpu.avx2_fma {
        Some("Haswell")
    } else {
        None
    }
}

/// OpenBLAS's environment variable for how long (2^n cycles) an idle
/// worker thread spins (calling `sched_yield`) before it sleeps.
pub const THREAD_TIMEOUT_ENV: &str = "OPENBLAS_THREAD_TIMEOUT";

/// The shortest spin OpenBLAS accepts. Decoding runs many small products,
/// each followed by MLX work on other threads; with the default spin
/// (2^28 cycles) the idle BLAS worker kept yielding through that work: on
/// the quickstart's MCTS run over M3 (2 cores) 24.6 s of system time in
/// 52.0 s wall, against 5.0 s in 47.5 s with this value.
pub const THREAD_TIMEOUT: &str = "4";

/// The OpenBLAS settings to restart this process with. OpenBLAS reads its
/// environment only when it loads (before `main`), so a process whose
/// OpenBLAS lacks them restarts itself once with them set: the kernel
/// family when OpenBLAS picked a weak one for this CPU, and the short
/// worker spin. A variable already set is the user's choice and stands.
/// Empty when OpenBLAS is not loaded or nothing is missing.
pub fn settings_to_restart_with() -> Vec<(&'static str, &'static str)> {
    let Some(core) = openblas_core() else { return Vec::new() };
    let mut out = Vec::new();
    if std::env::var_os(CORETYPE_ENV).is_none() {
        if let Some(better) = better_core(&core, CpuVector::detect()) {
            out.push((CORETYPE_ENV, better));
        }
    }
    if std::env::var_os(THREAD_TIMEOUT_ENV).is_none() {
        out.push((THREAD_TIMEOUT_ENV, THREAD_TIMEOUT));
    }
    out
}

/// Environment variable that allows running on the reference BLAS anyway.
pub const ALLOW_REFERENCE_BLAS: &str = "RUNNER_ALLOW_REFERENCE_BLAS";

/// Refuses the reference BLAS unless explicitly allowed.
pub fn ensure_fast_blas(info: &BlasInfo) -> Result<(), EngineError> {
    let allowed = std::env::var(ALLOW_REFERENCE_BLAS).is_ok_and(|v| v == "1");
    if info.kind == BlasKind::Reference && !allowed {
        let path = info.libraries.iter().find(|p| classify(&p.to_string_lossy()) == Some(BlasKind::Reference));
        return Err(EngineError::ReferenceBlas(path.cloned().unwrap_or_default()));
    }
    Ok(())
}

/// A measured single-precision matrix multiply.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SgemmFigure {
    pub n: i32,
    pub repetitions: u32,
    pub seconds: f64,
    pub gflops: f64,
}

/// Times `n`x`n` f32 matmuls on the default device until `budget` has
/// passed (at least 3), after one warm-up.
pub fn measure_sgemm(n: i32, budget: Duration) -> Result<SgemmFigure, EngineError> {
    let mlx = |e: mlx_rs::error::Exception| EngineError::Mlx(e.to_string());
    let key = random::key(0).map_err(mlx)?;
    let a: Array = random::normal::<f32>(&[n, n][..], None, None, &key).map_err(mlx)?;
    let b: Array = random::normal::<f32>(&[n, n][..], None, None, &key).map_err(mlx)?;
    a.eval().map_err(mlx)?;
    b.eval().map_err(mlx)?;
    a.matmul(&b).and_then(|c| c.eval()).map_err(mlx)?;
    let start = Instant::now();
    let mut repetitions = 0u32;
    while repetitions < 3 || start.elapsed() < budget {
        a.matmul(&b).and_then(|c| c.eval()).map_err(mlx)?;
        repetitions += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let flops = 2.0 * f64::from(n).powi(3) * f64::from(repetitions);
    Ok(SgemmFigure { n, repetitions, seconds, gflops: flops / seconds / 1e9 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_libraries_setup_can_leave_mapped() {
        assert_eq!(classify("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"), Some(BlasKind::OpenBlas));
        assert_eq!(classify("/x/.venv/lib/python3.11/site-packages/mlx_cpu.libs/libblas-bd8a282c.so.3.10.0"), Some(BlasKind::Reference));
        assert_eq!(classify("/usr/lib/x86_64-linux-gnu/libmkl_rt.so"), Some(BlasKind::Mkl));
        assert_eq!(classify("/usr/lib/x86_64-linux-gnu/libc.so.6"), None);
    }

    #[test]
    fn pre_avx2_kernels_on_an_avx_cpu_are_replaced_and_others_kept() {
        let avx512 = CpuVector { avx2_fma: true, avx512: true };
        let avx2 = CpuVector { avx2_fma: true, avx512: false };
        let sse = CpuVector { avx2_fma: false, avx512: false };
        assert_eq!(better_core("Prescott", avx512), Some("SkylakeX"));
        assert_eq!(better_core("Prescott", avx2), Some("Haswell"));
        assert_eq!(better_core("Nehalem", avx2), Some("Haswell"));
        assert_eq!(better_core("Prescott", sse), None);
        assert_eq!(better_core("Haswell", avx512), None);
        assert_eq!(better_core("SkylakeX", avx512), None);
        assert_eq!(better_core("Zen", avx2), None);
    }

    #[test]
    fn the_reference_blas_is_refused() {
        let info = BlasInfo {
            kind: BlasKind::Reference,
            libraries: vec![PathBuf::from("/v/mlx_cpu.libs/libblas-bd8a282c.so.3.10.0")],
            config: None,
        };
        if std::env::var(ALLOW_REFERENCE_BLAS).is_err() {
            assert!(matches!(ensure_fast_blas(&info), Err(EngineError::ReferenceBlas(_))));
        }
        let fast = BlasInfo { kind: BlasKind::OpenBlas, libraries: vec![], config: None };
        assert!(ensure_fast_blas(&fast).is_ok());
    }
}
