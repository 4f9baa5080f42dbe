//! Integration tests: the search methods: on the toy of docs/algorithms.md §6 and on SmolLM2.

mod common;
mod toy;

mod constrained_smollm2;
mod search_constrained;
mod search_invariants;
mod search_methods;
mod search_selection;
mod search_smollm2;
mod search_statistical;
