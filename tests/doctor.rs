//! `runner doctor` reports MLX, the BLAS actually loaded (with a measured
//! sgemm figure) and the installed assets.

use crate::common;

use common::{runner, stderr, stdout};

#[test]
fn doctor_reports_mlx_openblas_sgemm_and_assets() {
    let out = runner().args(["doctor", "--json"]).output().expect("runner runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["mlx"]["version"], "0.32.2");
    assert_eq!(report["mlx"]["backend"], "cpu");
    assert_eq!(report["blas"]["kind"], "open_blas", "{}", report["blas"]);
    let libs = report["blas"]["libraries"].as_array().expect("mapped libraries");
    assert!(libs.iter().any(|l| l.as_str().is_some_and(|p| p.contains("openblas"))), "{libs:?}");
    assert!(!libs.iter().any(|l| l.as_str().is_some_and(|p| p.contains("mlx_cpu.libs/libblas"))));
    let gflops = report["sgemm"]["gflops"].as_f64().expect("sgemm figure");
    assert!(gflops.is_finite() && gflops > 0.0);
    assert!(report["sgemm"]["repetitions"].as_u64().unwrap_or(0) >= 3);
    let assets = report["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 6);
    for a in assets {
        assert_eq!(a["status"]["state"], "present", "{a} (run `make setup`)");
    }
}

#[test]
fn doctor_notices_a_missing_asset_cache() {
    let dir = tempfile::tempdir().unwrap();
    let out = runner().args(["doctor", "--no-bench"]).env("RUNNER_ASSETS_DIR", dir.path()).output().expect("runner runs");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains(&dir.path().display().to_string()));
    assert_eq!(text.matches("MISSING").count(), 6, "{text}");
    assert!(text.contains("BLAS           OpenBLAS"), "{text}");
}

/// The BLAS is read from what is mapped, not from what setup intended: with
/// the wheel's reference BLAS preloaded, doctor says so.
#[test]
fn doctor_sees_the_reference_blas_when_it_is_loaded() {
    let libs = std::path::Path::new(env!("RUNNER_MLX_LIBDIR")).join("../../mlx_cpu.libs");
    let reference = std::fs::read_dir(&libs)
        .expect("the MLX wheel's library folder")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("libblas-") && p.to_string_lossy().ends_with(".reference"))
        .expect("setup keeps the reference BLAS beside its link");
    let out = runner().args(["doctor", "--json"]).env("LD_PRELOAD", &reference).output().expect("runner runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    assert_eq!(report["blas"]["kind"], "reference", "{}", report["blas"]);
}
