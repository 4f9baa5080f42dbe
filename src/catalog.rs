//! What an experiment file can name, read from the declarations: the
//! search methods, their parameters (who reads them, defaults, ranges,
//! choices), the tasks and dataset formats, and the metrics. `runner list`
//! prints it.

use serde::Serialize;
use serde_json::{json, Value};

use crate::metrics;
use crate::spec::{names, structural_names, structures, DataFormat, Fill, MethodKind, ParamDecl, Structure, TaskKind, PARAMS};

/// Everything `runner list` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    pub methods: Vec<&'static str>,
    pub parameters: Vec<ParamEntry>,
    pub tasks: Vec<TaskEntry>,
    pub metrics: Vec<MetricEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamEntry {
    pub name: &'static str,
    pub doc: String,
    /// Per method that reads it: its default (`"required"`, `"off"`,
    /// `"= other"`, or the value) and, for a structural choice, its values.
    pub methods: Vec<ParamUse>,
    pub range: String,
    /// `int` or `float` when it is a results column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamUse {
    pub method: &'static str,
    /// The structural choices under which the method reads it, when not
    /// under all of them (`expansion: top_k`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub default: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskEntry {
    pub task: &'static str,
    pub formats: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricEntry {
    pub name: &'static str,
    pub label: &'static str,
    pub better: &'static str,
    /// `mean of <column>`, or a set statistic.
    pub aggregate: String,
}

fn fill_text(fill: Fill<Value>) -> Value {
    match fill {
        Fill::Required => json!("required"),
        Fill::RequiredUnless(other) => json!(format!("required unless {other}")),
        Fill::Off => json!("off"),
        Fill::SameAs(other) => json!(format!("= {other}")),
        Fill::Is(v) => v,
    }
}

fn task_name(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Forecasting => "forecasting",
        TaskKind::ActivityRecognition => "activity_recognition",
    }
}

/// The structural choices under which `kind` reads `d`, when it does not
/// under every choice the method admits.
fn when(d: &ParamDecl, kind: MethodKind) -> Option<String> {
    let all = structures(kind);
    let yes: Vec<&Structure> = all.iter().filter(|s| (d.applies)(kind, s)).collect();
    if yes.len() == all.len() {
        return None;
    }
    let mut parts = Vec::new();
    for name in structural_names() {
        let mut values: Vec<Value> = Vec::new();
        for s in &yes {
            if let Some(v) = s.get(name) {
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
        let every = all.iter().filter_map(|s| s.get(name).map(|v| v.to_string())).collect::<std::collections::BTreeSet<_>>().len();
        if !values.is_empty() && values.len() < every {
            parts.push(format!("{name}: {}", names(&values)));
        }
    }
    Some(parts.join(", "))
}

/// The catalogue of this build.
pub fn catalog() -> Catalog {
    let parameters = PARAMS
        .iter()
        .map(|d| ParamEntry {
            name: d.name,
            doc: d.doc.lines().map(str::trim).collect::<Vec<_>>().join(" ").trim().to_owned(),
            methods: MethodKind::ALL
                .iter()
                .filter(|k| d.applies_somewhere(**k))
                .map(|k| ParamUse { method: k.name(), when: when(d, *k), default: fill_text((d.default)(*k)), choices: d.allowed(*k) })
                .collect(),
            range: d.range.describe(),
            column: d.column.map(|c| match c {
                crate::spec::ColumnType::Int => "int",
                crate::spec::ColumnType::Float => "float",
            }),
        })
        .collect();
    let tasks = [TaskKind::Forecasting, TaskKind::ActivityRecognition]
        .into_iter()
        .map(|t| TaskEntry { task: task_name(t), formats: DataFormat::ALL.iter().filter(|f| f.task() == t).map(|f| f.name()).collect() })
        .collect();
    let metrics = metrics::ALL
        .iter()
        .map(|m| MetricEntry {
            name: m.name,
            label: m.label,
            better: if m.higher_is_better { "higher" } else { "lower" },
            aggregate: match m.column() {
                Some(c) => format!("mean of {c}"),
                None => "set statistic".into(),
            },
        })
        .collect();
    Catalog { methods: MethodKind::ALL.iter().map(|k| k.name()).collect(), parameters, tasks, metrics }
}
