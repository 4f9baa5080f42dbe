//! `runner bench engine`: engine throughput as JSON (one repetition; the
//! script scripts/bench/engine_vs_mlx_lm.py interleaves repetitions with the
//! mlx-lm peer and reports medians and ratios).

use super::CliError;

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Prefill, decode, batched decode, memory bandwidth.
    Engine {
        #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
        model: String,
        #[arg(long, default_value = "Write a long story about a dragon and a knight who")]
        prompt: String,
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        /// Numbers of concurrent callers for batched decode.
        #[arg(long, value_delimiter = ',', default_value = "1,8,16")]
        rows: Vec<usize>,
    },
}

pub fn bench(cmd: BenchCommand) -> Result<(), CliError> {
    crate::engine::init()?;
    match cmd {
        BenchCommand::Engine { model, prompt, tokens, rows } => {
            let b = crate::engine::bench::run(&model, &prompt, tokens, &rows)?;
            println!("{}", serde_json::to_string(&b).unwrap_or_default());
            Ok(())
        }
    }
}
