//! Integration tests: setup, doctor and fetching with the lock file.

mod common;
mod hub_fake;

mod doctor;
mod setup;
mod fetch_lock;
