//! Integration tests: the engine: MLX, the SmolLM2 forward pass and its caches, the engine loop, and mlx-lm as the reference.

mod common;
mod hub_fake;

mod engine_service;
mod engine_smollm2;
mod mlx_smoke;
mod reference_mlx_lm;
