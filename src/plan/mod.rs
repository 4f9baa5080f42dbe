//! Spec -> `Plan { runs: Vec<RunConfig> }`, once: every default resolved,
//! every sweep rule applied, each run identified by a content hash.

mod applicability;
mod resolve;
mod run_config;
mod runtime_identity;
pub mod sweep;

use serde::Serialize;

/// The resolved parameters of a run, declared with the spec's parameters.
pub use crate::spec::MethodParams;
pub use resolve::resolve;
pub use run_config::{hash_canonical, DataSource, DatasetRef, MethodRef, ModelRef, ModelSource, RunConfig, RunId};
pub use runtime_identity::{IdentityMismatch, RuntimeIdentity};

use crate::spec::Diagnostic;

/// Most runs one plan may hold.
pub const MAX_RUNS: u64 = 100_000;

/// The runs of one experiment, in a fixed order (model, dataset, method
/// entry by name; then sweep order; then seed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub experiment: String,
    pub runs: Vec<RunConfig>,
}

/// Why a spec does not make a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
    #[error("{0}")]
    EmptySweep(Box<Diagnostic>),
}
