//! What a method parameter's declaration says about it: which methods read
//! it (under which structural choices), its default, its valid range, its
//! allowed values when it is a structural choice, and whether it is a
//! results column. `params.rs` declares every parameter once with these;
//! the plan, search, the schema and the results columns read them.

use serde::Serialize;
use serde_json::Value;

use super::params::{Expansion, MethodKind, OutputRule, Selection};

/// What a parameter is when a spec leaves it out (where it applies).
#[derive(Debug, Clone, PartialEq)]
pub enum Fill<T> {
    /// It must be given.
    Required,
    /// It must be given unless the named parameter is; then it is off.
    RequiredUnless(&'static str),
    /// The feature it controls is off.
    Off,
    /// This value.
    Is(T),
    /// The value of another parameter of the same run.
    SameAs(&'static str),
}

impl<T: Serialize> Fill<T> {
    /// The same fill with its value as JSON (every parameter type has one).
    pub fn to_json(self) -> Fill<Value> {
        match self {
            Fill::Required => Fill::Required,
            Fill::RequiredUnless(other) => Fill::RequiredUnless(other),
            Fill::Off => Fill::Off,
            Fill::Is(v) => serde_json::to_value(v).map_or(Fill::Required, Fill::Is),
            Fill::SameAs(other) => Fill::SameAs(other),
        }
    }
}

/// The valid values of a numeric parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// Checked by the parameter's own type (enums, booleans, λ, names).
    Typed,
    /// A count: at least 1, at most `most`.
    Count { most: f64 },
    /// A count where 0 (or leaving it out) switches the feature off.
    CountOrOff { most: f64 },
    /// Finite and >= 0.
    NonNegative,
    /// Finite and > 0.
    Positive,
    /// In (0, 1].
    UnitInterval,
    /// τ of the proposal: finite and >= 0.
    Temperature,
}

impl Range {
    /// Whether the value is valid; the message says what would be.
    pub fn check(self, value: &Value) -> Result<(), String> {
        if self == Range::Typed {
            return Ok(());
        }
        // Non-finite floats (YAML .nan, .inf) do not survive as JSON numbers.
        let Some(x) = value.as_f64() else {
            return Err(format!("must be a finite number, got {value}"));
        };
        if let Some(most) = self.most() {
            if x > most {
                return Err(format!(
                    "must be at most {most} (a larger value could not finish or would overflow the memory estimate), got {value}"
                ));
            }
        }
        let ok = match self {
            Range::Typed => true,
            Range::Count { .. } => x >= 1.0,
            Range::CountOrOff { .. } => x >= 0.0,
            Range::NonNegative | Range::Temperature => x.is_finite() && x >= 0.0,
            Range::Positive => x.is_finite() && x > 0.0,
            Range::UnitInterval => x > 0.0 && x <= 1.0,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{}, got {value}", self.describe()))
        }
    }

    /// The largest valid value, for the count parameters.
    pub fn most(self) -> Option<f64> {
        match self {
            Range::Count { most } | Range::CountOrOff { most } => Some(most),
            _ => None,
        }
    }

    /// The rule in words, as error messages and `runner list` give it.
    pub fn describe(self) -> String {
        match self {
            Range::Typed => "one of its type's values".into(),
            Range::Count { most } => format!("must be at least 1 (at most {most})"),
            Range::CountOrOff { most } => format!("must be >= 0, 0 = off (at most {most})"),
            Range::NonNegative => "must be >= 0".into(),
            Range::Positive => "must be > 0".into(),
            Range::UnitInterval => "must be in (0, 1]".into(),
            Range::Temperature => "must be >= 0 (0 means argmax); it is τ of the proposal, not λ".into(),
        }
    }
}

/// The column type of a parameter in the results tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Int64, nullable.
    Int,
    /// Float64, nullable (λ = ∞ as inf).
    Float,
}

/// The structural choices of one run: the parameters that decide which
/// other parameters apply (declared with `choices`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Structure {
    pub selection: Option<Selection>,
    pub expansion: Option<Expansion>,
    pub output: Option<OutputRule>,
}

impl Structure {
    /// The choice named `name`, as JSON.
    pub fn get(&self, name: &str) -> Option<Value> {
        let value = match name {
            "selection" => serde_json::to_value(self.selection?),
            "expansion" => serde_json::to_value(self.expansion?),
            "output" => serde_json::to_value(self.output?),
            _ => return None,
        };
        value.ok()
    }

    /// Sets the choice named `name`; a value that is not one leaves it unset.
    pub fn set(&mut self, name: &str, value: &Value) {
        fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
            serde_json::from_value(v.clone()).ok()
        }
        match name {
            "selection" => self.selection = parse(value),
            "expansion" => self.expansion = parse(value),
            "output" => self.output = parse(value),
            _ => {}
        }
    }

    /// The choices a run's parameters (as a JSON object) make.
    pub fn of(params: &Value) -> Structure {
        let mut s = Structure::default();
        for name in ["selection", "expansion", "output"] {
            if let Some(v) = params.get(name) {
                s.set(name, v);
            }
        }
        s
    }
}

/// One parameter, as declared in `params.rs`.
pub struct ParamDecl {
    pub name: &'static str,
    /// Its doc comment.
    pub doc: &'static str,
    /// Whether `kind` reads it under the structural choices given.
    pub applies: fn(MethodKind, &Structure) -> bool,
    /// Its value where it applies and is left out.
    pub default: fn(MethodKind) -> Fill<Value>,
    pub range: Range,
    /// For a structural choice, the values a method admits (empty: the
    /// method has no such choice); `None` for every other parameter.
    pub choices: Option<fn(MethodKind) -> Vec<Value>>,
    /// Its type as a results column, when it is one.
    pub column: Option<ColumnType>,
}

impl ParamDecl {
    /// Whether this parameter chooses which other parameters apply.
    pub fn is_structural(&self) -> bool {
        self.choices.is_some()
    }

    /// The values a structural parameter admits for `kind` (empty otherwise).
    pub fn allowed(&self, kind: MethodKind) -> Vec<Value> {
        self.choices.map(|c| c(kind)).unwrap_or_default()
    }

    /// Whether `kind` reads this parameter under some structural choice.
    pub fn applies_somewhere(&self, kind: MethodKind) -> bool {
        structures(kind).iter().any(|s| (self.applies)(kind, s))
    }
}

/// The declaration of `name`.
pub fn decl(name: &str) -> Option<&'static ParamDecl> {
    super::params::PARAMS.iter().find(|d| d.name == name)
}

/// Every structural combination a method admits.
pub fn structures(kind: MethodKind) -> Vec<Structure> {
    let mut out = vec![Structure::default()];
    for d in super::params::PARAMS.iter().filter(|d| d.is_structural()) {
        let choices = d.allowed(kind);
        if choices.is_empty() {
            continue;
        }
        out = out
            .into_iter()
            .flat_map(|s| {
                choices.iter().map(move |c| {
                    let mut s = s.clone();
                    s.set(d.name, c);
                    s
                })
            })
            .collect();
    }
    out
}

/// The names of the structural parameters, in declaration order.
pub fn structural_names() -> impl Iterator<Item = &'static str> {
    super::params::PARAMS.iter().filter(|d| d.is_structural()).map(|d| d.name)
}

/// The results columns of the parameters of one type, in declaration order.
pub fn columns(of: ColumnType) -> Vec<&'static str> {
    super::params::PARAMS.iter().filter(|d| d.column == Some(of)).map(|d| d.name).collect()
}

/// A JSON value as a column cell: numbers as they are, λ = "inf" as ∞.
pub fn column_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == "inf" => Some(f64::INFINITY),
        _ => None,
    }
}

/// Names of values as a list for messages: `a, b, c`.
pub fn names(values: &[Value]) -> String {
    values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect::<Vec<_>>().join(", ")
}

/// A parameter value that is not valid for its method.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{param}` {message}")]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
}

impl super::params::MethodParams {
    fn to_object(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// These parameters with every one that `kind` reads and that is left
    /// out filled with its declared default (structural choices first, then
    /// what they make apply, then the parameters that default to another).
    pub fn with_defaults(&self, kind: MethodKind) -> Result<Self, ParamError> {
        let params = super::params::PARAMS;
        let mut map = self.to_object();
        let fill = |map: &mut serde_json::Map<String, Value>, d: &ParamDecl, s: &Structure| {
            if map.contains_key(d.name) || !(d.applies)(kind, s) {
                return;
            }
            match (d.default)(kind) {
                Fill::Is(v) => {
                    map.insert(d.name.to_owned(), v);
                }
                Fill::SameAs(other) => {
                    if let Some(v) = map.get(other).cloned() {
                        map.insert(d.name.to_owned(), v);
                    }
                }
                Fill::Required | Fill::RequiredUnless(_) | Fill::Off => {}
            }
        };
        for d in params.iter().filter(|d| d.is_structural()) {
            fill(&mut map, d, &Structure::default());
        }
        let s = Structure::of(&Value::Object(map.clone()));
        for d in params.iter().filter(|d| !matches!((d.default)(kind), Fill::SameAs(_))) {
            fill(&mut map, d, &s);
        }
        for d in params.iter().filter(|d| matches!((d.default)(kind), Fill::SameAs(_))) {
            fill(&mut map, d, &s);
        }
        serde_json::from_value(Value::Object(map)).map_err(|e| ParamError { param: "params", message: e.to_string() })
    }

    /// Checks these parameters for `kind` against their declarations: each
    /// value in its range, each structural choice one that `kind` admits, and
    /// every parameter `kind` reads under those choices present, unless it is
    /// off when absent. Values `kind` does not read are not looked at further.
    pub fn check(&self, kind: MethodKind) -> Result<(), ParamError> {
        let map = self.to_object();
        let s = Structure::of(&Value::Object(map.clone()));
        for d in super::params::PARAMS {
            let err = |message: String| ParamError { param: d.name, message };
            match map.get(d.name) {
                Some(v) => {
                    d.range.check(v).map_err(err)?;
                    if d.is_structural() {
                        let allowed = d.allowed(kind);
                        if allowed.is_empty() {
                            return Err(err(format!("does not apply to {}", kind.name())));
                        }
                        if !allowed.contains(v) {
                            return Err(err(format!("{v} is not valid for {}; expected one of: {}", kind.name(), names(&allowed))));
                        }
                    }
                }
                None if (d.applies)(kind, &s) => match (d.default)(kind) {
                    Fill::Off => {}
                    Fill::Required => return Err(err(format!("is required for {}", kind.name()))),
                    Fill::RequiredUnless(other) if !map.contains_key(other) => {
                        return Err(err(format!("is required for {} unless `{other}` is given", kind.name())))
                    }
                    Fill::RequiredUnless(_) => {}
                    Fill::Is(_) | Fill::SameAs(_) => {
                        return Err(err(format!(
                            "is missing for {}; the plan fills every default (MethodParams::with_defaults)",
                            kind.name()
                        )))
                    }
                },
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::spec::{MethodParams, PARAMS};

    /// The required counts, and the structural choices of `s`.
    fn minimal(s: &Structure) -> MethodParams {
        let mut v = json!({ "max_new_tokens": 16, "num_rollouts": 4, "expansion_k": 3 });
        for name in structural_names() {
            if let Some(choice) = s.get(name) {
                v[name] = choice;
            }
        }
        serde_json::from_value(v).expect("params")
    }

    #[test]
    fn every_declaration_is_used_and_its_default_is_valid() {
        for d in PARAMS {
            assert!(MethodKind::ALL.iter().any(|k| d.applies_somewhere(*k)), "{} applies to no method", d.name);
            assert!(!d.doc.trim().is_empty(), "{} has no doc", d.name);
            for kind in MethodKind::ALL {
                match (d.default)(kind) {
                    Fill::Is(v) => {
                        assert!(d.range.check(&v).is_ok(), "{}: default {v} out of its range", d.name);
                        if d.is_structural() && d.applies_somewhere(kind) {
                            assert!(d.allowed(kind).contains(&v), "{}: default {v} is not a choice of {kind:?}", d.name);
                        }
                    }
                    Fill::SameAs(other) | Fill::RequiredUnless(other) => assert!(decl(other).is_some(), "{}: unknown {other}", d.name),
                    Fill::Required | Fill::Off => {}
                }
            }
        }
    }

    #[test]
    fn defaults_fill_every_structure_a_method_admits_and_then_check() {
        for kind in MethodKind::ALL {
            for s in structures(kind) {
                let p = minimal(&s).with_defaults(kind).expect("defaults");
                p.check(kind).unwrap_or_else(|e| panic!("{kind:?} {s:?}: {e}"));
                assert_eq!(p.with_defaults(kind).expect("again"), p, "filling is idempotent");
                // Every parameter that applies is present, or off when absent.
                let v = serde_json::to_value(&p).expect("json");
                for d in PARAMS.iter().filter(|d| (d.applies)(kind, &s)) {
                    let off = matches!((d.default)(kind), Fill::Off | Fill::RequiredUnless(_));
                    assert!(v.get(d.name).is_some() || off, "{kind:?} {s:?}: {} missing", d.name);
                }
            }
        }
    }

    #[test]
    fn check_names_the_parameter_and_the_rule() {
        let kind = MethodKind::Dts;
        let base = minimal(&Structure::default()).with_defaults(kind).expect("defaults");
        let with = |key: &str, value: Value| {
            let mut v = serde_json::to_value(&base).expect("json");
            v[key] = value;
            serde_json::from_value::<MethodParams>(v).expect("params").check(kind)
        };
        let e = with("pw_alpha", json!(1.5)).expect_err("out of range");
        assert_eq!((e.param, e.message.as_str()), ("pw_alpha", "must be in (0, 1], got 1.5"));
        let e = with("output", json!("argmax_descent")).expect_err("not a DTS output");
        assert!(e.to_string().contains("expected one of: sample, sample_then_best"), "{e}");
        let e = with("num_rollouts", json!(0)).expect_err("a count");
        assert!(e.to_string().starts_with("`num_rollouts` must be at least 1"), "{e}");
        let mut v = serde_json::to_value(&base).expect("json");
        v.as_object_mut().expect("object").remove("pw_c");
        let e = serde_json::from_value::<MethodParams>(v).expect("params").check(kind).expect_err("missing default");
        assert_eq!(e.param, "pw_c");
        // Token-matched best-of-N needs no count.
        let bon = serde_json::from_value::<MethodParams>(json!({ "max_new_tokens": 8, "token_budget_from": "dts" })).expect("params");
        let bon = bon.with_defaults(MethodKind::BestOfN).expect("defaults");
        assert!(bon.check(MethodKind::BestOfN).is_ok());
        let mut v = serde_json::to_value(&bon).expect("json");
        v.as_object_mut().expect("object").remove("token_budget_from");
        let e = serde_json::from_value::<MethodParams>(v).expect("params").check(MethodKind::BestOfN).expect_err("no count");
        assert_eq!(e.param, "num_rollouts");
    }

    #[test]
    fn results_columns_keep_their_names_and_order() {
        assert_eq!(columns(ColumnType::Int), ["num_rollouts", "expansion_k", "max_new_tokens", "top_k"]);
        assert_eq!(columns(ColumnType::Float), ["sampling_temperature", "top_p", "lambda", "c_uct", "c_puct"]);
        assert_eq!(column_value(&json!("inf")), Some(f64::INFINITY));
        assert_eq!(column_value(&json!(2)), Some(2.0));
        assert_eq!(column_value(&json!(true)), None);
    }
}
