//! `runner model info` and `runner model generate`.

use super::CliError;
use crate::engine::generate::generate;
use crate::engine::model::{load, ComputeDtype};
use crate::engine::tokenizer::Message;
use crate::sampling::SamplingParams;

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Architecture, size, format and tokenizer of a model.
    Info {
        /// A `.gguf` file, a model directory, an asset (e.g.
        /// models/SmolLM2-135M-Instruct.Q4_1.gguf) or a repo id in the hub cache.
        model: String,
        /// Compute dtype: auto, f32, f16, bf16 or quantized.
        #[arg(long, default_value = "auto")]
        dtype: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a model as an mlx-community style directory (optionally quantized).
    Convert {
        /// A `.gguf` file, a safetensors model directory (config.json,
        /// weights, tokenizer files), or an asset.
        src: String,
        /// The directory to create.
        dst: std::path::PathBuf,
        /// Quantize linear and embedding weights to 4 or 8 bits.
        #[arg(long)]
        quantize: Option<i32>,
        #[arg(long, default_value_t = 64)]
        group_size: i32,
    },
    /// Generate text (greedy unless a sampling temperature is given).
    Generate {
        model: String,
        #[arg(long)]
        prompt: String,
        /// Compute dtype: auto, f32, f16, bf16 or quantized.
        #[arg(long, default_value = "auto")]
        dtype: String,
        /// Wrap the prompt as a user message in the model's chat template
        /// (the default when the model has one; an error when it has none).
        #[arg(long, conflicts_with = "ignore_chat_template")]
        chat: bool,
        /// Give the prompt as it is, even to a chat model (as mlx-lm's flag).
        #[arg(long)]
        ignore_chat_template: bool,
        #[arg(long, default_value_t = 64)]
        max_tokens: usize,
        /// τ of the sampling distribution (0: greedy); `--temp` as in mlx-lm.
        #[arg(long, visible_alias = "temp", default_value_t = 0.0)]
        sampling_temperature: f64,
        #[arg(long)]
        top_k: Option<usize>,
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
}

fn compute_dtype(name: &str) -> Result<ComputeDtype, CliError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| crate::engine::EngineError::BadInput(format!("--dtype {name}: expected auto, f32, f16, bf16 or quantized")).into())
}

pub fn model(cmd: ModelCommand) -> Result<(), CliError> {
    crate::engine::init()?;
    match cmd {
        ModelCommand::Info { model, dtype, json } => {
            let m = load(&model, compute_dtype(&dtype)?)?;
            let c = m.model.config();
            let info = serde_json::json!({
                "path": m.path,
                "architecture": c.model_type,
                "parameters": m.model.parameter_count(),
                "format": m.format,
                "compute_dtype": m.compute,
                "layers": c.num_hidden_layers,
                "hidden_size": c.hidden_size,
                "heads": c.num_attention_heads,
                "kv_heads": c.kv_heads(),
                "vocab_size": m.tokenizer.vocab_size(),
                "context": c.max_position_embeddings,
                "chat_template": m.tokenizer.has_chat_template(),
                "stop_ids": m.tokenizer.stop_ids(),
                "revision": m.revision,
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&info).unwrap_or_default());
            } else if let Some(map) = info.as_object() {
                for (k, v) in map {
                    println!("{k:<16} {v}");
                }
            }
            Ok(())
        }
        ModelCommand::Convert { src, dst, quantize, group_size } => {
            let path = match crate::engine::locator::ModelLocator::parse(&src) {
                Ok(crate::engine::locator::ModelLocator::Local(path)) => path,
                _ => src.clone().into(),
            };
            let q = quantize.map(|bits| crate::engine::convert::Quantization { bits, group_size });
            crate::engine::convert::convert(&path, &dst, q)?;
            println!("wrote {}", dst.display());
            Ok(())
        }
        ModelCommand::Generate {
            model,
            prompt,
            dtype,
            chat,
            ignore_chat_template,
            max_tokens,
            sampling_temperature,
            top_k,
            top_p,
            seed,
            json,
        } => {
            let valid = sampling_temperature >= 0.0 && sampling_temperature.is_finite() && top_p > 0.0 && top_p <= 1.0;
            if !valid {
                return Err(crate::engine::EngineError::BadInput("--sampling-temperature must be >= 0 and --top-p in (0, 1]".into()).into());
            }
            let m = load(&model, compute_dtype(&dtype)?)?;
            if chat && !m.tokenizer.has_chat_template() {
                return Err(crate::engine::EngineError::BadInput(format!("--chat: {model} has no chat template")).into());
            }
            let templated = !ignore_chat_template && m.tokenizer.has_chat_template();
            let text = if templated { m.tokenizer.apply_chat_template(&[Message::new("user", &prompt)], true)? } else { prompt };
            let ids = m.tokenizer.encode(&text)?;
            let params = SamplingParams { temperature: sampling_temperature, top_k, top_p };
            let g = generate(&m, &ids, max_tokens, &params, seed)?;
            if json {
                let mut v = serde_json::to_value(&g).unwrap_or_default();
                v["chat_template"] = serde_json::json!(templated);
                println!("{v}");
            } else {
                println!("{}", g.text);
                eprintln!(
                    "prefill {:.1} tok/s, decode {:.1} tok/s, peak memory {:.1} MiB",
                    g.timings.prefill_tokens_per_s,
                    g.timings.decode_tokens_per_s,
                    g.timings.peak_memory_bytes as f64 / (1 << 20) as f64
                );
            }
            Ok(())
        }
    }
}
