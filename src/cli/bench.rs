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
        /// Prefill a numeric prompt of exactly this many tokens instead
        /// (3-digit values separated by ", ", as forecasting prompts read).
        #[arg(long, value_name = "N")]
        prompt_tokens: Option<usize>,
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        /// Numbers of concurrent callers for batched decode.
        #[arg(long, value_delimiter = ',', default_value = "1,8,16")]
        rows: Vec<usize>,
    },
    /// Tree search against token-matched best-of-N, a cache-less variant
    /// and one sequence decoding alone (medians over repetitions).
    Search {
        #[arg(long, default_value = "models/SmolLM2-135M-Instruct.Q4_1.gguf")]
        model: String,
        #[arg(long, default_value_t = 20)]
        num_rollouts: u32,
        #[arg(long, default_value_t = 4)]
        expansion_k: u32,
        #[arg(long, default_value_t = 16)]
        max_new_tokens: u32,
        /// MaxEnt-TS and DTS rollouts per batch (B). The first batch of a
        /// top-k tree holds at most `expansion_k` rollouts (the root's
        /// children), so B = 16 runs 20 rollouts as 4 + 16.
        #[arg(long, default_value_t = 16)]
        parallel_rollouts: u32,
        /// Samples searched at once for the wave throughput.
        #[arg(long, default_value_t = 16)]
        wave: usize,
        /// Iterations of the cache-less MaxEnt-TS (compared per token).
        #[arg(long, default_value_t = 1)]
        naive_rollouts: u32,
        /// Most recent history values kept per series.
        #[arg(long, default_value_t = 24)]
        history: usize,
        #[arg(long, default_value_t = 5)]
        reps: usize,
    },
    /// Planning plus the resume scan over a results directory of complete
    /// runs (written first into a temporary directory).
    Store {
        #[arg(long, default_value_t = 1000)]
        runs: usize,
        #[arg(long, default_value_t = 100)]
        samples: usize,
    },
    /// `runner table` over a results directory of this many sample rows
    /// (written first into a temporary directory).
    Report {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
    },
}

pub fn bench(cmd: BenchCommand) -> Result<(), CliError> {
    if let BenchCommand::Store { runs, samples } = cmd {
        let dir = std::env::temp_dir().join(format!("runner-bench-store-{}", std::process::id()));
        let result = crate::bench::store::run(&dir, runs, samples);
        let _ = std::fs::remove_dir_all(&dir);
        println!("{}", serde_json::to_string_pretty(&result?).unwrap_or_default());
        return Ok(());
    }
    if let BenchCommand::Report { rows } = cmd {
        let v = crate::bench::report::bench_table(rows)?;
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    crate::engine::init()?;
    match cmd {
        BenchCommand::Engine { model, prompt, prompt_tokens, tokens, rows } => {
            let prompt = match prompt_tokens {
                Some(n) => crate::bench::engine::BenchPrompt::Tokens(n),
                None => crate::bench::engine::BenchPrompt::Text(prompt),
            };
            let b = crate::bench::engine::run(&model, &prompt, tokens, &rows)?;
            println!("{}", serde_json::to_string(&b).unwrap_or_default());
            Ok(())
        }
        BenchCommand::Search {
            model,
            num_rollouts,
            expansion_k,
            max_new_tokens,
            parallel_rollouts,
            wave,
            naive_rollouts,
            history,
            reps,
        } => {
            let o = crate::bench::search::SearchBenchOptions {
                model,
                num_rollouts,
                expansion_k,
                max_new_tokens,
                parallel_rollouts,
                wave,
                naive_rollouts,
                history,
                reps,
            };
            let b = crate::bench::search::run(&o)?;
            println!("{}", serde_json::to_string_pretty(&b).unwrap_or_default());
            Ok(())
        }
        BenchCommand::Store { .. } | BenchCommand::Report { .. } => Ok(()),
    }
}
