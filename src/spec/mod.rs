//! The experiment file: typed, schema-generating spec types and their
//! layered loading (file < `RUNNER_*` env < `--set`). Reads nothing but the
//! spec file itself.

mod diagnostic;
mod load;
mod param_decl;
mod params;
mod source_map;
mod types;
mod values;

use std::path::PathBuf;

pub use diagnostic::{did_you_mean, Diagnostic, Origin};
pub use load::{load, load_text, LoadedSpec, MAX_FILE_BYTES, TOP_LEVEL_KEYS};
pub use param_decl::{
    column_value, columns, decl, names, structural_names, structures, ColumnType, Fill, ParamDecl, ParamError, Range, Structure,
};
pub use params::{
    ChildWeights, Expansion, GridSpec, MethodKind, MethodParams, MethodSpec, OutputRule, ParamAxes, Selection, PARAMS, PARAM_NAMES,
};
pub use source_map::{Location, SourceMap, MAX_DEPTH, MAX_EXPANDED_NODES};
pub use types::{
    DataFormat, DatasetSpec, ExecutorSpec, FailureForecast, ModelSpec, PromptMode, SerializationSpec, SlurmSpec, Spec, Split, SweepSpec,
    TaskKind, TrackingSpec, WandbMode, WandbSpec,
};
pub use values::{Axis, JsonValue, Lambda};

/// Why an experiment file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{}: cannot read the experiment file: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{}: the file is {size} bytes; experiment files are limited to {limit} bytes", file.display())]
    TooLarge { file: PathBuf, size: u64, limit: u64 },
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

/// The JSON Schema of the experiment file, as checked in under `schemas/`.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Spec);
    schema.to_value()
}
