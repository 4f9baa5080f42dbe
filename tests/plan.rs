//! Integration tests: the spec and the plan: layering, sweep rules, run ids, errors, the schema and the estimate.

mod common;

mod errors;
mod layering;
mod plan_estimate;
mod run_ids;
mod schema;
mod sweep_rules;
