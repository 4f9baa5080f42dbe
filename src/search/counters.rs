//! Budget counters (docs/algorithms.md §1.6) and tree statistics.

use serde::{Deserialize, Serialize};

/// What one search spent. Counts only this search's own requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Times generation reached a terminal (already-seen sequences included;
    /// terminal revisits inside the tree are not generation).
    pub rollouts: u64,
    /// Actual evaluator calls (the rest were served by the cache).
    pub reward_calls: u64,
    /// Tokens newly produced for some row.
    pub tokens_generated: u64,
    /// Positions pushed through the model: prefill, decode, KV rebuilds.
    pub tokens_forwarded: u64,
    /// Forward calls (one per batch, however many rows).
    pub nfe: u64,
    /// Rows summed over forward calls.
    pub forward_rows: u64,
    /// Search-loop iterations.
    pub iterations: u64,
}

/// Shape of the final tree, for the per-sample record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TreeStats {
    /// All nodes, the root included.
    pub nodes: u64,
    /// Largest depth (generated tokens) of any node.
    pub max_depth: u32,
    /// Children per non-terminal node that has at least one child.
    pub mean_branching: f64,
}
