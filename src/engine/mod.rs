//! The MLX side of the runner: what MLX and BLAS the process runs on,
//! model loading (GGUF), the Llama-family forward pass with an explicit KV
//! cache, tokenizers and chat templates, sampling and generation.

pub mod batch_cache;
pub mod blas;
pub mod convert;
pub mod cpu_math;
pub mod generate;
pub mod gguf;
mod gguf_header;
pub mod hub;
pub mod kv_cache;
pub mod locator;
pub mod model;
pub mod models;
pub mod prompt_cache;
pub mod runtime;
pub mod safetensors_header;
pub mod service;
pub mod tokenizer;

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
    #[error("model not found: {0}")]
    ModelNotFound(String),
    #[error("bad model file: {0}")]
    BadModel(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("the weights lack tensor `{0}`")]
    MissingTensor(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    BadInput(String),
}

impl From<mlx_rs::error::Exception> for EngineError {
    fn from(e: mlx_rs::error::Exception) -> Self {
        EngineError::Mlx(e.to_string())
    }
}

/// Checks that this process may compute: MLX answers and the BLAS is fast.
pub fn init() -> Result<(MlxInfo, BlasInfo), EngineError> {
    let info = mlx_info()?;
    let blas = detect_blas();
    ensure_fast_blas(&blas)?;
    Ok((info, blas))
}
