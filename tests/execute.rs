//! Integration tests: executors: local submission and Slurm.

mod common;

mod slurm_cluster;
mod slurm_script;
mod submit_local;
