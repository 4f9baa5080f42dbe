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
    // SAFETY: dlsym on the global namespace; when found, openblas_get_config
    // takes no arguments and returns a static NUL-terminated string.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, c"openblas_get_config".as_ptr());
        if sym.is_null() {
            return None;
        }
        let f: unsafe extern "C" fn() -> *const libc::c_char = std::mem::transmute(sym);
        let p = f();
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().trim().to_owned())
    }
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
        assert_eq!(
            classify("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"),
            Some(BlasKind::OpenBlas)
        );
        assert_eq!(
            classify("/x/.venv/lib/python3.11/site-packages/mlx_cpu.libs/libblas-bd8a282c.so.3.10.0"),
            Some(BlasKind::Reference)
        );
        assert_eq!(classify("/usr/lib/x86_64-linux-gnu/libmkl_rt.so"), Some(BlasKind::Mkl));
        assert_eq!(classify("/usr/lib/x86_64-linux-gnu/libc.so.6"), None);
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
