//! Integration tests: weights & Biases tracking.

mod common;
mod wandb_fake;

mod wandb_sdk;
mod wandb_sweep;
mod wandb_upload;
