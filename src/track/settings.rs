//! W&B settings: the spec's `tracking.wandb` section with the environment
//! on top, as the W&B client reads it: `WANDB_MODE` (an unknown mode is an
//! error), `WANDB_BASE_URL`, `WANDB_ENTITY`, `WANDB_PROJECT`, `WANDB_API_KEY`
//! (else `~/.netrc` for the API host), `WANDB_TAGS` (comma-separated, added
//! to the spec's), `WANDB_RUN_GROUP` (default: the experiment name),
//! `WANDB_NAME` (put before each run's display name, as a sweep has many
//! runs) and `WANDB_NOTES`. `WANDB_DIR` does not move anything: each run's
//! outbox lives with its results, where resume and `runner wandb sync`
//! find it.

use std::fmt;

use crate::spec::{WandbMode, WandbSpec};

pub const DEFAULT_BASE_URL: &str = "https://api.wandb.ai";
/// History keys per sample by default: columns of `metrics::registry`.
pub const DEFAULT_SAMPLE_METRICS: &[&str] = &["reward", "smape", "mase", "correct", "nfe", "tokens_generated"];

/// The API key. It is only ever put into the Authorization header: it has
/// no Display, its Debug is redacted and it is never serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WandbSettings {
    pub mode: WandbMode,
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub entity: Option<String>,
    pub project: String,
    pub tags: Vec<String>,
    /// The W&B group of every run.
    pub group: Option<String>,
    /// Put before each run's display name.
    pub name_prefix: Option<String>,
    pub notes: Option<String>,
    pub sample_metrics: Vec<String>,
    /// `None`: every aggregate.
    pub run_metrics: Option<Vec<String>>,
    pub upload_summary: bool,
    pub upload_figures: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The host part of a base URL (`https://api.wandb.ai` -> `api.wandb.ai`).
pub fn host_of(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port.split(':').next().unwrap_or(host_port).to_owned()
}

impl WandbSettings {
    /// `None` when the spec has no `tracking.wandb` section.
    pub fn resolve(spec: Option<&WandbSpec>, experiment: &str) -> Result<Option<WandbSettings>, String> {
        let Some(spec) = spec else { return Ok(None) };
        let mode = match env("WANDB_MODE").as_deref() {
            None => spec.mode.unwrap_or(WandbMode::Online),
            Some("online" | "run") => WandbMode::Online,
            Some("offline" | "dryrun") => WandbMode::Offline,
            Some("disabled") => WandbMode::Disabled,
            Some(other) => return Err(format!("WANDB_MODE={other}: expected online, offline or disabled")),
        };
        let base_url = env("WANDB_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned()).trim_end_matches('/').to_owned();
        let api_key = env("WANDB_API_KEY").or_else(|| {
            let text = std::fs::read_to_string(super::netrc::default_path()?).ok()?;
            super::netrc::password_for(&text, &host_of(&base_url))
        });
        Ok(Some(WandbSettings {
            mode,
            base_url,
            api_key: api_key.map(ApiKey),
            entity: env("WANDB_ENTITY").or_else(|| spec.entity.clone()),
            project: env("WANDB_PROJECT").or_else(|| spec.project.clone()).unwrap_or_else(|| experiment.to_owned()),
            tags: spec
                .tags
                .iter()
                .cloned()
                .chain(
                    env("WANDB_TAGS")
                        .iter()
                        .flat_map(|t| t.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect::<Vec<_>>()),
                )
                .collect(),
            group: env("WANDB_RUN_GROUP"),
            name_prefix: env("WANDB_NAME"),
            notes: env("WANDB_NOTES"),
            sample_metrics: spec.sample_metrics.clone().unwrap_or_else(|| DEFAULT_SAMPLE_METRICS.iter().map(|s| s.to_string()).collect()),
            run_metrics: spec.run_metrics.clone(),
            upload_summary: spec.upload_summary.unwrap_or(true),
            upload_figures: spec.upload_figures.unwrap_or(true),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_history_keys_are_registry_columns() {
        for name in DEFAULT_SAMPLE_METRICS {
            assert!(crate::metrics::column(name).is_some(), "{name}");
        }
    }
}
