//! One file per architecture. An architecture of the Llama family (the
//! same blocks, different config conventions) is a file that says how its
//! `config.json` reads into [`LlamaConfig`], plus its line in
//! [`ARCHITECTURES`]; [`Model`] is the seam for a family with other blocks.

pub mod llama;
pub mod mistral;
pub mod qwen2;

use mlx_rs::Array;

use self::llama::{Llama, LlamaConfig, RowsOutput};
use super::batch_cache::BatchCache;
use super::kv_cache::SeqCache;
use super::EngineError;

/// An architecture the engine runs, named by its `model_type`.
pub struct Architecture {
    /// `model_type` in `config.json`, `general.architecture` in GGUF.
    pub model_type: &'static str,
    /// Reads a `config.json` text into the Llama-family configuration.
    pub config: fn(&str) -> Result<LlamaConfig, String>,
}

/// Every architecture the engine runs.
pub static ARCHITECTURES: &[Architecture] = &[llama::ARCHITECTURE, mistral::ARCHITECTURE, qwen2::ARCHITECTURE];

/// The architecture of `model_type`, or why not: a message listing those
/// supported, for the caller to say where the name came from.
pub fn architecture(model_type: &str) -> Result<&'static Architecture, String> {
    ARCHITECTURES.iter().find(|a| a.model_type == model_type).ok_or_else(|| {
        let names: Vec<&str> = ARCHITECTURES.iter().map(|a| a.model_type).collect();
        format!("model_type `{model_type}` (supported: {})", names.join(", "))
    })
}

/// A loaded model of any architecture.
pub enum Model {
    /// Llama, Mistral, Qwen2: one forward pass, their configs apart.
    Llama(Llama),
}

impl Model {
    /// The Llama-family model of `config` from its named weights.
    pub fn from_weights(
        config: LlamaConfig,
        weights: std::collections::HashMap<String, Array>,
        group_size: i32,
    ) -> Result<Model, EngineError> {
        Ok(Model::Llama(Llama::from_weights(config, weights, group_size)?))
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &LlamaConfig {
        match self {
            Model::Llama(m) => &m.config,
        }
    }

    pub fn num_layers(&self) -> usize {
        match self {
            Model::Llama(m) => m.num_layers(),
        }
    }

    pub fn parameter_count(&self) -> usize {
        match self {
            Model::Llama(m) => m.parameter_count(),
        }
    }

    pub fn is_quantized(&self) -> bool {
        match self {
            Model::Llama(m) => m.is_quantized(),
        }
    }

    /// Logits of `tokens` (`[rows, len]`) after the positions in `cache`.
    pub fn forward(&self, tokens: &Array, cache: &mut SeqCache) -> Result<Array, EngineError> {
        match self {
            Model::Llama(m) => m.forward(tokens, cache),
        }
    }

    /// An empty batch cache shaped for this model.
    pub fn batch_cache(&self) -> BatchCache {
        match self {
            Model::Llama(m) => m.batch_cache(),
        }
    }

    /// One pass over rows of different sequences (see `Llama::forward_rows`).
    pub fn forward_rows(&self, rows: &mut [(&[u32], &mut SeqCache)], batch: &mut BatchCache, pass: u64) -> Result<RowsOutput, EngineError> {
        match self {
            Model::Llama(m) => m.forward_rows(rows, batch, pass),
        }
    }
}
