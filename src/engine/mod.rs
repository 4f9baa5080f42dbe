//! The MLX side of the runner. This part: what MLX and BLAS the
//! process runs on. Models, tokenizers and the KV cache come next.

pub mod blas;
pub mod runtime;

use std::path::PathBuf;

pub use blas::{detect as detect_blas, ensure_fast_blas, measure_sgemm, BlasInfo, BlasKind, SgemmFigure};
pub use runtime::{mlx_info, Backend, MlxInfo};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("MLX error: {0}")]
    Mlx(String),
    #[error(
        "the reference BLAS ({}) is loaded; it is about 50x slower than OpenBLAS. \
         Run `make setup` to link OpenBLAS in its place, or set {}=1 to run anyway",
        .0.display(),
        blas::ALLOW_REFERENCE_BLAS
    )]
    ReferenceBlas(PathBuf),
}

/// Checks that this process may compute: MLX answers and the BLAS is fast.
pub fn init() -> Result<(MlxInfo, BlasInfo), EngineError> {
    let info = mlx_info()?;
    let blas = detect_blas();
    ensure_fast_blas(&blas)?;
    Ok((info, blas))
}
