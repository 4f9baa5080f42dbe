//! Integration tests: the command line (list, completions, manual pages, the README), setup, doctor and fetching with the lock file.

mod common;
mod hub_fake;

mod commands;
mod doctor;
mod fetch_lock;
mod setup;
