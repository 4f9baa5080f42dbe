//! Which parameters a method uses, and their defaults, as the planner asks
//! for them: lookups into the declarations of `spec::params`
//! (docs/algorithms.md §0.3).
//!
//! Some parameters only matter under a structural choice: `c_puct` only with
//! PUCT selection, `expansion_k` for DTS only with top-k expansion, λ for
//! best-of-N only when it resamples. Those choices (`selection`, `expansion`,
//! `output`) are fixed first; the rest is swept only where it applies, so a
//! sweep never yields two runs that differ in an unused value.

use serde_json::Value;

use crate::spec::{decl, Fill, MethodKind, Structure};

/// Whether `param` applies to `kind` at all (under some structural choice).
pub fn applies_somewhere(kind: MethodKind, param: &str) -> bool {
    decl(param).is_some_and(|d| d.applies_somewhere(kind))
}

/// The values a structural parameter may take for a method (empty: n/a).
pub fn allowed_values(kind: MethodKind, param: &str) -> Vec<Value> {
    decl(param).map(|d| d.allowed(kind)).unwrap_or_default()
}

/// Whether `param` is used by `kind` under the structural choices `s`.
pub fn applies(kind: MethodKind, param: &str, s: &Structure) -> bool {
    decl(param).is_some_and(|d| (d.applies)(kind, s))
}

/// The default of `param` for `kind`, when it has a value of its own.
pub fn default_value(kind: MethodKind, param: &str) -> Option<Value> {
    match decl(param).map(|d| (d.default)(kind)) {
        Some(Fill::Is(v)) => Some(v),
        _ => None,
    }
}

/// Whether `param` must be given where it applies to `kind`, when the
/// parameters for which `given` holds are given.
pub fn is_required(kind: MethodKind, param: &str, given: impl Fn(&str) -> bool) -> bool {
    match decl(param).map(|d| (d.default)(kind)) {
        Some(Fill::Required) => true,
        Some(Fill::RequiredUnless(other)) => !given(other),
        _ => false,
    }
}

/// The parameter whose value `param` takes when it is left out, if any.
pub fn same_as(kind: MethodKind, param: &str) -> Option<&'static str> {
    match decl(param).map(|d| (d.default)(kind)) {
        Some(Fill::SameAs(other)) => Some(other),
        _ => None,
    }
}

/// The range check of `param` (none for an unknown name).
pub fn check_range(param: &str, value: &Value) -> Result<(), String> {
    decl(param).map_or(Ok(()), |d| d.range.check(value))
}
