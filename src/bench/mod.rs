//! Benchmarks, one per part (`runner bench <part>`): timings only;
//! correctness is the tests' job.
//! - `engine`: prefill, decode and batched decode against the machine's
//!   memory bandwidth, per prompt length;
//! - `search`: tree search on the engine against peers in the same process;
//! - `report`: `runner table` over a large generated results set;
//! - `store`: planning and the resume scan over many complete runs.

pub mod engine;
pub mod report;
pub mod search;
pub mod store;
