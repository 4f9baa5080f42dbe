//! Qwen2: Llama blocks with biases on the q, k and v projections, which
//! its `config.json` does not state.

use super::llama::{read_config, LlamaConfig};
use super::Architecture;

pub const ARCHITECTURE: Architecture = Architecture { model_type: "qwen2", config };

fn config(text: &str) -> Result<LlamaConfig, String> {
    let mut config = read_config(text)?;
    config.attention_bias = true;
    Ok(config)
}
