//! `runner doctor`: what this machine runs on, and what is installed.

use std::time::Duration;

use serde_json::json;

use super::CliError;
use crate::assets::{self, AssetStatus};
use crate::engine::{self, BlasKind};

pub fn doctor(as_json: bool, bench: bool) -> Result<(), CliError> {
    let mlx = engine::mlx_info()?;
    let blas = engine::detect_blas();
    let sgemm = if bench { Some(engine::measure_sgemm(1024, Duration::from_millis(700))?) } else { None };
    let asset_rows: Vec<(assets::AssetEntry, AssetStatus)> = assets::manifest()
        .into_iter()
        .map(|e| {
            let s = assets::check(&e);
            (e, s)
        })
        .collect();

    if as_json {
        let report = json!({
            "runner_version": env!("CARGO_PKG_VERSION"),
            "checked_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "mlx": mlx,
            "mlx_library_dir": env!("RUNNER_MLX_LIBDIR"),
            "blas": blas,
            "sgemm": sgemm,
            "assets_dir": assets::assets_dir(),
            "assets": asset_rows.iter().map(|(e, s)| json!({"asset": e.reference(), "package": format!("{}=={}", e.package, e.version), "status": s})).collect::<Vec<_>>(),
            "hf_cache": assets::hf_cache_dir(),
            "hf_offline": assets::hf_offline(),
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    println!("runner {} (checked {})", env!("CARGO_PKG_VERSION"), chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"));
    println!(
        "MLX            {} (built against {}), backend {}, default device {}",
        mlx.version,
        mlx.build_version,
        serde_json::to_value(mlx.backend).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        mlx.default_device
    );
    println!("libmlx         {}", env!("RUNNER_MLX_LIBDIR"));
    let kind = match blas.kind {
        BlasKind::OpenBlas => "OpenBLAS",
        BlasKind::Reference => "reference BLAS (netlib) -- slow; run `make setup`",
        BlasKind::Mkl => "Intel MKL",
        BlasKind::Blis => "BLIS",
        BlasKind::Accelerate => "Apple Accelerate",
        BlasKind::Unknown => "unknown",
    };
    println!("BLAS           {kind}");
    if let Some(c) = &blas.config {
        println!("               {c}");
    }
    if blas.kind == BlasKind::OpenBlas {
        use crate::engine::blas::{CORETYPE_ENV, RESTARTED_ENV, THREAD_TIMEOUT_ENV};
        let set = |name: &str| std::env::var(name).map_or_else(|_| "unset".to_owned(), |v| v);
        let by = if std::env::var_os(RESTARTED_ENV).is_some() { " (set by runner where they were unset)" } else { "" };
        println!("               {CORETYPE_ENV}={} {THREAD_TIMEOUT_ENV}={}{by}", set(CORETYPE_ENV), set(THREAD_TIMEOUT_ENV));
    }
    for lib in &blas.libraries {
        println!("               mapped: {}", lib.display());
    }
    if let Some(s) = &sgemm {
        println!("sgemm          {:.1} GFLOP/s (f32 {n}x{n}x{n}, {} runs in {:.2} s)", s.gflops, s.repetitions, s.seconds, n = s.n);
    }
    println!("assets         {}", assets::assets_dir().display());
    for (e, s) in &asset_rows {
        let state = match s {
            AssetStatus::Present => "present".to_owned(),
            AssetStatus::Missing => "MISSING (run `make setup`)".to_owned(),
            AssetStatus::Corrupt { sha256 } => format!("CORRUPT (sha256 {sha256}; run `make setup`)"),
        };
        println!("  {:<44} {:<20} {state}", e.reference(), format!("{}=={}", e.package, e.version));
    }
    println!("HF cache       {}{}", assets::hf_cache_dir().display(), if assets::hf_offline() { " (HF_HUB_OFFLINE)" } else { "" });
    Ok(())
}
