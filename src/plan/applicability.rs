//! Which parameters a method uses, and their defaults (docs/algorithms.md §0.3).
//!
//! Some parameters only matter under a structural choice: `c_puct` only with
//! PUCT selection, `expansion_k` for DTS only with top-k expansion, λ for
//! best-of-N only when it resamples. Those choices (`selection`, `expansion`,
//! `output`) are fixed first; the rest is swept only where it applies, so a
//! sweep never yields two runs that differ in an unused value.

use serde_json::{json, Value};

use crate::spec::MethodKind::{self, *};

/// Parameters that decide which other parameters apply.
pub const STRUCTURAL: &[&str] = &["selection", "expansion", "output"];

/// The structural choices of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Structure {
    pub selection: Option<String>,
    pub expansion: Option<String>,
    pub output: Option<String>,
}

impl Structure {
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "selection" => self.selection.as_deref(),
            "expansion" => self.expansion.as_deref(),
            "output" => self.output.as_deref(),
            _ => None,
        }
    }

    pub fn set(&mut self, name: &str, value: &Value) {
        let v = value.as_str().map(str::to_owned);
        match name {
            "selection" => self.selection = v,
            "expansion" => self.expansion = v,
            "output" => self.output = v,
            _ => {}
        }
    }
}

/// Whether `param` applies to `kind` at all (under some structural choice).
pub fn applies_somewhere(kind: MethodKind, param: &str) -> bool {
    structures(kind).iter().any(|s| applies(kind, param, s))
}

/// Every structural combination a method admits (for `applies_somewhere`).
fn structures(kind: MethodKind) -> Vec<Structure> {
    let mut out = vec![Structure::default()];
    for name in STRUCTURAL {
        let choices = allowed_values(kind, name);
        if choices.is_empty() {
            continue;
        }
        out = out
            .into_iter()
            .flat_map(|s| {
                choices.iter().map(move |c| {
                    let mut s = s.clone();
                    s.set(name, &json!(c));
                    s
                })
            })
            .collect();
    }
    out
}

/// The values a structural parameter may take for a method (empty: n/a).
pub fn allowed_values(kind: MethodKind, param: &str) -> &'static [&'static str] {
    match (param, kind) {
        ("selection", Mcts) => &["uct", "puct"],
        ("expansion", Dts | DtsStar) => &["sampled", "top_k"],
        ("output", BestOfN) => &["best_found", "sample"],
        ("output", Dts) => &["sample", "sample_then_best"],
        ("output", DtsStar) => &["best_found", "argmax_descent"],
        ("output", MaxentTs) => &["best_found", "sample"],
        _ => &[],
    }
}

/// Whether `param` is used by `kind` under the structural choices `s`.
pub fn applies(kind: MethodKind, param: &str, s: &Structure) -> bool {
    let searches = kind != Greedy;
    let tree_soft = matches!(kind, Dts | DtsStar | MaxentTs);
    match param {
        "max_new_tokens" => true,
        "num_rollouts" | "sampling_temperature" | "top_k" | "top_p" | "parallel_rollouts"
        | "max_tokens_generated" => searches,
        "expansion_k" => matches!(kind, Mcts | MaxentTs) || (matches!(kind, Dts | DtsStar) && s.expansion.as_deref() == Some("top_k")),
        "lambda" => tree_soft || (kind == BestOfN && s.output.as_deref() == Some("sample")),
        "c_uct" => kind == DtsStar || (kind == Mcts && s.selection.as_deref() == Some("uct")),
        "c_puct" => kind == Mcts && s.selection.as_deref() == Some("puct"),
        "pw_c" | "pw_alpha" => matches!(kind, Dts | DtsStar) && s.expansion.as_deref() == Some("sampled"),
        "selection" | "add_rollout_to_tree" | "prune_exhausted" => kind == Mcts,
        "expansion" | "weights" => matches!(kind, Dts | DtsStar),
        "output" => !allowed_values(kind, "output").is_empty(),
        "output_samples" => kind == Dts && s.output.as_deref() == Some("sample_then_best"),
        "rollout_all_on_expand" | "rollout_top_k" => kind == MaxentTs,
        "token_budget_from" => kind == BestOfN,
        _ => false,
    }
}

/// The default of `param` for `kind`, or None when the value must be given
/// (or is off when absent, as `top_k` and `max_tokens_generated`).
pub fn default_value(kind: MethodKind, param: &str) -> Option<Value> {
    Some(match param {
        "max_new_tokens" => json!(256),
        "sampling_temperature" => json!(1.0),
        "top_p" => json!(1.0),
        "lambda" => json!(1.0),
        "c_uct" => json!(1.0),
        "c_puct" => json!(1.0),
        "pw_c" => json!(2.0),
        "pw_alpha" => json!(0.7),
        "selection" => json!("uct"),
        "expansion" => json!("sampled"),
        "weights" => json!("multiplicity"),
        "output" => json!(if kind == Dts { "sample" } else { "best_found" }),
        "output_samples" => json!(1),
        "add_rollout_to_tree" => json!(false),
        "prune_exhausted" => json!(true),
        "rollout_all_on_expand" => json!(false),
        "parallel_rollouts" => json!(1),
        _ => return None,
    })
}

/// Parameters that have no default and must be given where they apply.
pub fn is_required(param: &str) -> bool {
    matches!(param, "num_rollouts" | "expansion_k")
}
