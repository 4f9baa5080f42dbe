//! Integration tests: setup, doctor and fetching with the lock file.

mod common;
mod hub_fake;

mod doctor;
mod fetch_lock;
mod setup;
