//! runner: declarative, reproducible evaluations of LLM inference-time
//! search on time-series tasks, on MLX.
//!
//! Data flows one way: `spec` (the YAML file, layered with env and `--set`)
//! -> `plan` (runs with content-hash ids) -> execution (later modules).
//! `engine` owns MLX; `search` runs the search methods on one token tree
//! through a small language-model trait; `tasks` loads datasets, builds prompts and scores
//! answers; `evaluate` runs one sample through all three; `assets` knows where offline models and data live.

pub mod assets;
pub mod bench;
pub mod catalog;
pub mod cli;
pub mod engine;
pub mod evaluate;
pub mod execute;
pub mod metrics;
pub mod plan;
pub mod report;
pub mod rescore;
pub mod sampling;
pub mod schedule;
pub mod search;
pub mod spec;
pub mod store;
pub mod tasks;
pub mod track;
