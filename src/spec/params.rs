//! The search-method parameters a spec may set or sweep, declared once.
//!
//! `method_params!` expands the list below into two structs with the same
//! fields: `MethodSpec` (one entry of `methods:`, with its method kind and zip
//! groups) and `GridSpec` (`sweep.grid:`, applied to every method the
//! parameter applies to), plus `PARAM_NAMES` and a uniform accessor that turns
//! any axis into JSON values for the planner.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::values::{Axis, Lambda};

/// The search methods of docs/algorithms.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// Per-step argmax decoding.
    Greedy,
    /// N i.i.d. samples from the proposal; the best (or a λ-resampled) one.
    BestOfN,
    /// Token-level MCTS (UCT or PUCT).
    Mcts,
    /// Diffusion Tree Sampling on tokens.
    Dts,
    /// DTS* (UCT-style selection on soft values).
    DtsStar,
    /// Maximum-entropy tree search with top-k expansion.
    MaxentTs,
}

impl MethodKind {
    pub const ALL: [MethodKind; 6] = [
        MethodKind::Greedy,
        MethodKind::BestOfN,
        MethodKind::Mcts,
        MethodKind::Dts,
        MethodKind::DtsStar,
        MethodKind::MaxentTs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Greedy => "greedy",
            MethodKind::BestOfN => "best_of_n",
            MethodKind::Mcts => "mcts",
            MethodKind::Dts => "dts",
            MethodKind::DtsStar => "dts_star",
            MethodKind::MaxentTs => "maxent_ts",
        }
    }

    pub fn from_name(name: &str) -> Option<MethodKind> {
        MethodKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the method draws random numbers (and so is swept over seeds).
    pub fn is_stochastic(self) -> bool {
        self != MethodKind::Greedy
    }
}

/// MCTS selection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    Uct,
    Puct,
}

/// DTS / DTS* expansion mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expansion {
    /// Progressive widening with draws from the proposal (the paper's mode).
    Sampled,
    /// The top `expansion_k` tokens, as in MaxEnt-TS.
    TopK,
}

/// Child weights of DTS / DTS* in selection, backup and descent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChildWeights {
    Multiplicity,
    Prior,
}

/// What a method returns (docs/algorithms.md §1.2, output rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputRule {
    /// The highest-reward evaluated sequence (ties: earliest).
    BestFound,
    /// A draw from the tree's (or the samples') tilted distribution.
    Sample,
    /// The best of several Algorithm-2 samples (DTS).
    SampleThenBest,
    /// Argmax-value descent (DTS* Algorithm 2).
    ArgmaxDescent,
}

macro_rules! method_params {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty, )*) => {
        /// The parameter names, in declaration order.
        pub const PARAM_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// One entry of `methods:`. Any parameter may be one value or a list;
        /// lists are swept as a grid unless grouped by `zip`.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct MethodSpec {
            /// The method; defaults to the entry's name when that is a method name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub method: Option<MethodKind>,
            /// Groups of parameters whose lists vary together (equal lengths).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub zip: Vec<Vec<String>>,
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<Axis<$ty>>,
            )*
        }

        /// `sweep.grid:` parameter lists applied to every method they apply to.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct GridSpec {
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<Axis<$ty>>,
            )*
        }

        /// Uniform, typed-erased access to the parameter axes of a spec part.
        pub trait ParamAxes {
            /// `(name, values as JSON)` for every parameter that is set.
            fn axes(&self) -> Vec<(&'static str, Vec<serde_json::Value>)>;
        }

        impl ParamAxes for MethodSpec {
            fn axes(&self) -> Vec<(&'static str, Vec<serde_json::Value>)> {
                let mut out = Vec::new();
                $( if let Some(axis) = &self.$name { out.push((stringify!($name), to_json(axis))); } )*
                out
            }
        }

        impl ParamAxes for GridSpec {
            fn axes(&self) -> Vec<(&'static str, Vec<serde_json::Value>)> {
                let mut out = Vec::new();
                $( if let Some(axis) = &self.$name { out.push((stringify!($name), to_json(axis))); } )*
                out
            }
        }
    };
}

fn to_json<T: Serialize + Clone>(axis: &Axis<T>) -> Vec<serde_json::Value> {
    axis.values()
        .iter()
        // Every parameter type serializes to plain JSON (λ = ∞ as "inf").
        .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
        .collect()
}

method_params! {
    /// Iterations of a tree method, or N for best-of-N (>= 1).
    num_rollouts: u32,
    /// Candidate tokens per expansion: the top-k of the proposal (>= 1).
    expansion_k: u32,
    /// τ: temperature of the proposal q = softmax(z/τ) (>= 0; 0 = argmax). Not λ.
    sampling_temperature: f64,
    /// Keep only the k most likely tokens in the proposal (0 = off).
    top_k: u32,
    /// Nucleus cut of the proposal, in (0, 1].
    top_p: f64,
    /// λ: inverse temperature of soft backups and Boltzmann selection (>= 0, or inf).
    lambda: Lambda,
    /// UCT exploration constant (MCTS normalised values; DTS* reward units), >= 0.
    c_uct: f64,
    /// PUCT exploration constant, >= 0.
    c_puct: f64,
    /// Progressive-widening constant C in B(s) = C * n^alpha, > 0.
    pw_c: f64,
    /// Progressive-widening exponent alpha, in (0, 1].
    pw_alpha: f64,
    /// Maximum generated tokens per sequence (>= 1).
    max_new_tokens: u32,
    /// MCTS selection rule: uct or puct.
    selection: Selection,
    /// DTS/DTS* expansion mode: sampled (progressive widening) or top_k.
    expansion: Expansion,
    /// DTS/DTS* child weights: multiplicity or prior.
    weights: ChildWeights,
    /// Output rule: best_found, sample, sample_then_best or argmax_descent.
    output: OutputRule,
    /// Number of Algorithm-2 samples for output sample_then_best (>= 1).
    output_samples: u32,
    /// MCTS: make every rollout token a tree node.
    add_rollout_to_tree: bool,
    /// MCTS: mark fully explored subtrees exhausted and stop when the root is.
    prune_exhausted: bool,
    /// MaxEnt-TS: roll out all k new children of an expansion as one batch.
    rollout_all_on_expand: bool,
    /// MaxEnt-TS: top-k of rollouts (default: expansion_k).
    rollout_top_k: u32,
    /// Rollouts decoded together as one batch (1 = sequential reference).
    parallel_rollouts: u32,
    /// Optional cap on generated tokens per sample (>= 1).
    max_tokens_generated: u64,
    /// Best-of-N token-matched mode: the name of the tree-method entry whose
    /// tokens_generated on the same sample is the budget.
    token_budget_from: String,
}
