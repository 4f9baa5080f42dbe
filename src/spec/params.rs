//! The search-method parameters a spec may set or sweep, declared once.
//!
//! Each entry of `method_params!` below gives a parameter's name, type and
//! doc, the methods that read it (under which structural choices), its
//! default, its valid range, its allowed values when it is a structural
//! choice, and its results-column type. From the list the macro derives:
//! - `MethodSpec` (one entry of `methods:`) and `GridSpec` (`sweep.grid:`),
//!   whose fields make the experiment file's JSON Schema;
//! - `MethodParams`, the resolved parameters of one run, handed to search;
//! - `PARAMS`, the declarations the plan (applicability, defaults, ranges),
//!   search (`MethodParams::check`) and the results columns read;
//! - `PARAM_NAMES` and a uniform accessor that turns any axis into JSON.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::param_decl::{ColumnType, Fill, ParamDecl, Range, Structure};
use super::values::{Axis, Lambda};
use MethodKind::*;

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
    pub const ALL: [MethodKind; 6] =
        [MethodKind::Greedy, MethodKind::BestOfN, MethodKind::Mcts, MethodKind::Dts, MethodKind::DtsStar, MethodKind::MaxentTs];

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

/// The field type of a resolved parameter: `Option<T>`, or `T` for a
/// parameter every method reads (`[always]`).
macro_rules! resolved_type {
    ($ty:ty) => { Option<$ty> };
    ($ty:ty, always) => { $ty };
}

/// The allowed values of a structural parameter, as JSON.
macro_rules! choices_of {
    ($ty:ty) => {
        None
    };
    ($ty:ty, $choices:expr) => {
        Some(|kind| {
            let allowed: fn(MethodKind) -> &'static [$ty] = $choices;
            allowed(kind).iter().filter_map(|v| serde_json::to_value(v).ok()).collect()
        })
    };
}

macro_rules! column_of {
    () => {
        None
    };
    ($column:ident) => {
        Some(ColumnType::$column)
    };
}

macro_rules! method_params {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident : $ty:ty $([$always:ident])? {
            applies: $applies:expr,
            default: $default:expr,
            range: $range:expr
            $(, choices: $choices:expr)?
            $(, column: $column:ident)?
            $(,)?
        }
    )*) => {
        /// The parameter names, in declaration order.
        pub const PARAM_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// Every parameter's declaration, in declaration order.
        pub static PARAMS: &[ParamDecl] = &[$(
            ParamDecl {
                name: stringify!($name),
                doc: concat!($($doc, "\n"),*),
                applies: $applies,
                default: |kind| {
                    let fill: fn(MethodKind) -> Fill<$ty> = $default;
                    fill(kind).to_json()
                },
                range: $range,
                choices: choices_of!($ty $(, $choices)?),
                column: column_of!($($column)?),
            },
        )*];

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

        /// The parameters of one run. Exactly the parameters that apply to
        /// the method are present, each with its value or its default; the
        /// rest are absent (not zero).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct MethodParams {
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Absent::is_absent")]
                pub $name: resolved_type!($ty $(, $always)?),
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

/// Whether a resolved parameter's field is left out of its JSON.
trait Absent {
    fn is_absent(&self) -> bool;
}

impl<T> Absent for Option<T> {
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl Absent for u32 {
    fn is_absent(&self) -> bool {
        false
    }
}

fn to_json<T: Serialize + Clone>(axis: &Axis<T>) -> Vec<serde_json::Value> {
    axis.values()
        .iter()
        // Every parameter type serializes to plain JSON (λ = ∞ as "inf").
        .map(|v| serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
        .collect()
}

/// Every method but greedy draws from the proposal.
fn searches(kind: MethodKind, _: &Structure) -> bool {
    kind != Greedy
}

fn soft_tree(kind: MethodKind) -> bool {
    matches!(kind, Dts | DtsStar | MaxentTs)
}

fn widening(kind: MethodKind, s: &Structure) -> bool {
    matches!(kind, Dts | DtsStar) && s.expansion == Some(Expansion::Sampled)
}

method_params! {
    /// Iterations of a tree method, or N for best-of-N (>= 1); in
    /// token-matched best-of-N, the draws decoded per wave.
    num_rollouts: u32 {
        applies: searches,
        default: |kind| if kind == BestOfN { Fill::RequiredUnless("token_budget_from") } else { Fill::Required },
        range: Range::Count { most: 100_000.0 },
        column: Int,
    }
    /// Candidate tokens per expansion: the top-k of the proposal (>= 1).
    expansion_k: u32 {
        applies: |kind, s| matches!(kind, Mcts | MaxentTs) || (matches!(kind, Dts | DtsStar) && s.expansion == Some(Expansion::TopK)),
        default: |_| Fill::Required,
        range: Range::Count { most: 4_096.0 },
        column: Int,
    }
    /// Maximum generated tokens per sequence (>= 1).
    max_new_tokens: u32 [always] {
        applies: |_, _| true,
        default: |_| Fill::Is(256),
        range: Range::Count { most: 32_768.0 },
        column: Int,
    }
    /// τ: temperature of the proposal q = softmax(z/τ) (>= 0; 0 = argmax). Not λ.
    sampling_temperature: f64 {
        applies: searches,
        default: |_| Fill::Is(1.0),
        range: Range::Temperature,
        column: Float,
    }
    /// Keep only the k most likely tokens in the proposal (0 = off).
    top_k: u32 {
        applies: searches,
        default: |_| Fill::Off,
        range: Range::CountOrOff { most: 1e7 },
        column: Int,
    }
    /// Nucleus cut of the proposal, in (0, 1].
    top_p: f64 {
        applies: searches,
        default: |_| Fill::Is(1.0),
        range: Range::UnitInterval,
        column: Float,
    }
    /// λ: inverse temperature of soft backups and Boltzmann selection (>= 0, or inf).
    lambda: Lambda {
        applies: |kind, s| soft_tree(kind) || (kind == BestOfN && s.output == Some(OutputRule::Sample)),
        default: |_| Fill::Is(Lambda::ONE),
        range: Range::Typed,
        column: Float,
    }
    /// UCT exploration constant (MCTS normalised values; DTS* reward units), >= 0.
    c_uct: f64 {
        applies: |kind, s| kind == DtsStar || (kind == Mcts && s.selection == Some(Selection::Uct)),
        default: |_| Fill::Is(1.0),
        range: Range::NonNegative,
        column: Float,
    }
    /// PUCT exploration constant, >= 0.
    c_puct: f64 {
        applies: |kind, s| kind == Mcts && s.selection == Some(Selection::Puct),
        default: |_| Fill::Is(1.0),
        range: Range::NonNegative,
        column: Float,
    }
    /// Progressive-widening constant C in B(s) = C * n^alpha, > 0.
    pw_c: f64 {
        applies: widening,
        default: |_| Fill::Is(2.0),
        range: Range::Positive,
    }
    /// Progressive-widening exponent alpha, in (0, 1].
    pw_alpha: f64 {
        applies: widening,
        default: |_| Fill::Is(0.7),
        range: Range::UnitInterval,
    }
    /// MCTS selection rule: uct or puct.
    selection: Selection {
        applies: |kind, _| kind == Mcts,
        default: |_| Fill::Is(Selection::Uct),
        range: Range::Typed,
        choices: |kind| if kind == Mcts { &[Selection::Uct, Selection::Puct] } else { &[] },
    }
    /// DTS/DTS* expansion mode: sampled (progressive widening) or top_k.
    expansion: Expansion {
        applies: |kind, _| matches!(kind, Dts | DtsStar),
        default: |_| Fill::Is(Expansion::Sampled),
        range: Range::Typed,
        choices: |kind| if matches!(kind, Dts | DtsStar) { &[Expansion::Sampled, Expansion::TopK] } else { &[] },
    }
    /// DTS/DTS* child weights: multiplicity or prior.
    weights: ChildWeights {
        applies: |kind, _| matches!(kind, Dts | DtsStar),
        default: |_| Fill::Is(ChildWeights::Multiplicity),
        range: Range::Typed,
    }
    /// Output rule: best_found, sample, sample_then_best or argmax_descent.
    output: OutputRule {
        applies: |kind, _| matches!(kind, BestOfN | Dts | DtsStar | MaxentTs),
        default: |kind| Fill::Is(if kind == Dts { OutputRule::Sample } else { OutputRule::BestFound }),
        range: Range::Typed,
        choices: |kind| match kind {
            BestOfN | MaxentTs => &[OutputRule::BestFound, OutputRule::Sample],
            Dts => &[OutputRule::Sample, OutputRule::SampleThenBest],
            DtsStar => &[OutputRule::BestFound, OutputRule::ArgmaxDescent],
            Greedy | Mcts => &[],
        },
    }
    /// Number of Algorithm-2 samples for output sample_then_best (>= 1).
    output_samples: u32 {
        applies: |kind, s| kind == Dts && s.output == Some(OutputRule::SampleThenBest),
        default: |_| Fill::Is(1),
        range: Range::Count { most: 100_000.0 },
    }
    /// MCTS: make every rollout token a tree node.
    add_rollout_to_tree: bool {
        applies: |kind, _| kind == Mcts,
        default: |_| Fill::Is(false),
        range: Range::Typed,
    }
    /// MCTS: mark fully explored subtrees exhausted and stop when the root is.
    prune_exhausted: bool {
        applies: |kind, _| kind == Mcts,
        default: |_| Fill::Is(true),
        range: Range::Typed,
    }
    /// MaxEnt-TS: roll out all k new children of an expansion as one batch.
    rollout_all_on_expand: bool {
        applies: |kind, _| kind == MaxentTs,
        default: |_| Fill::Is(false),
        range: Range::Typed,
    }
    /// MaxEnt-TS: top-k of rollouts (default: expansion_k).
    rollout_top_k: u32 {
        applies: |kind, _| kind == MaxentTs,
        default: |_| Fill::SameAs("expansion_k"),
        range: Range::Count { most: 4_096.0 },
    }
    /// Rollouts decoded together as one batch (1 = sequential reference).
    parallel_rollouts: u32 {
        applies: searches,
        default: |_| Fill::Is(1),
        range: Range::Count { most: 4_096.0 },
    }
    /// Optional cap on generated tokens per sample (>= 1).
    max_tokens_generated: u64 {
        applies: searches,
        default: |_| Fill::Off,
        range: Range::Count { most: 1e9 },
    }
    /// Best-of-N token-matched mode: the name of the tree-method entry whose
    /// tokens_generated on the same sample is the budget.
    token_budget_from: String {
        applies: |kind, _| kind == BestOfN,
        default: |_| Fill::Off,
        range: Range::Typed,
    }
}
