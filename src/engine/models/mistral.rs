//! Mistral: Llama blocks; its `config.json` reads as Llama's.

use super::Architecture;

pub const ARCHITECTURE: Architecture = Architecture { model_type: "mistral", config: super::llama::read_config };
