//! Integration tests: datasets, prompts, parsing, rewards and metrics.

mod tasks_activity;
mod tasks_assets;
mod tasks_forecast;
mod tasks_metrics;
mod tasks_select;
