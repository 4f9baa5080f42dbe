//! A fully resolved run: every default filled in, every sweep value chosen.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::assets::RemoteData;
use crate::spec::{DataFormat, FailureForecast, MethodKind, MethodParams, PromptMode, SerializationSpec, Split, TaskKind};

/// Content hash of a run's identity (16 hex digits of a SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RunId(pub String);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a model comes from, as written in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// A Hugging Face repo id with an optional revision.
    Hf { repo: String, revision: Option<String> },
    /// A local directory or `.gguf` file.
    Path { path: String },
    /// A file in the runner asset cache.
    Asset { asset: String },
}

impl fmt::Display for ModelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSource::Hf { repo, revision: Some(r) } => write!(f, "{repo}@{r}"),
            ModelSource::Hf { repo, revision: None } => f.write_str(repo),
            ModelSource::Path { path } => f.write_str(path),
            ModelSource::Asset { asset } => write!(f, "asset:{asset}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRef {
    /// The spec's short name (a label; not part of the run id).
    pub name: String,
    pub source: ModelSource,
}

/// Where a dataset comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Path {
        path: String,
    },
    Asset {
        asset: String,
    },
    /// Fetched from a URL (see [`RemoteData::Url`]).
    Url {
        url: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<String>,
    },
    /// Fetched from a hub dataset repository (see [`RemoteData::Hf`]).
    Hf {
        repo: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        files: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        root: Option<String>,
    },
}

impl DataSource {
    /// A fetched source and the folder inside it the format reads.
    pub fn remote(&self) -> Option<(RemoteData, Option<&str>)> {
        match self {
            DataSource::Path { .. } | DataSource::Asset { .. } => None,
            DataSource::Url { url, files, members, root } => {
                Some((RemoteData::Url { url: url.clone(), files: files.clone(), members: members.clone() }, root.as_deref()))
            }
            DataSource::Hf { repo, revision, files, root } => {
                Some((RemoteData::Hf { repo: repo.clone(), revision: revision.clone(), files: files.clone() }, root.as_deref()))
            }
        }
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Path { path } => f.write_str(path),
            DataSource::Asset { asset } => write!(f, "asset:{asset}"),
            DataSource::Url { .. } | DataSource::Hf { .. } => match self.remote() {
                Some((r, Some(root))) => write!(f, "{} ({root})", r.key()),
                Some((r, None)) => f.write_str(&r.key()),
                None => Ok(()),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DatasetRef {
    /// The spec's short name (a label; not part of the run id).
    pub name: String,
    pub task: TaskKind,
    pub source: DataSource,
    pub format: DataFormat,
    pub split: Split,
    pub samples: u32,
    pub selection_seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stratify_by: Option<String>,
    pub reward_on_failure: f64,
    /// Forecasting: history values kept in the prompt (the most recent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u32>,
    /// Activity recognition: readings per channel in the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<u32>,
    /// Forecasting: the LLMTime settings that differ from the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialization: Option<SerializationSpec>,
    /// The prompt mode, when the spec sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptMode>,
    /// Constrained decoding, when the spec sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constrain: Option<bool>,
    /// Activity recognition: free reasoning first, when the spec sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    /// Forecasting: the stand-in forecast of a failed parse, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailureForecast>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MethodRef {
    /// The entry's name in `methods:` (a label; not part of the run id).
    pub name: String,
    pub kind: MethodKind,
    pub params: MethodParams,
}

/// One run of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunConfig {
    pub run_id: RunId,
    pub model: ModelRef,
    pub dataset: DatasetRef,
    pub method: MethodRef,
    /// Seed of the search's random stream; absent for deterministic methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// The part of a run that determines its results, in canonical form.
#[derive(Serialize)]
struct Identity<'a> {
    model: &'a ModelSource,
    dataset: DatasetIdentity<'a>,
    method: MethodKind,
    params: &'a MethodParams,
    seed: Option<u64>,
}

#[derive(Serialize)]
struct DatasetIdentity<'a> {
    task: TaskKind,
    source: &'a DataSource,
    format: DataFormat,
    split: Split,
    samples: u32,
    selection_seed: u64,
    stratify_by: &'a Option<String>,
    reward_on_failure: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    readings: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    serialization: &'a Option<SerializationSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<PromptMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constrain: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_failure: Option<FailureForecast>,
}

impl RunConfig {
    /// Builds a run and its id. The id hashes the canonical JSON (keys
    /// sorted, labels excluded) of model source and revision as written,
    /// dataset source, task settings, selection seed and sample count,
    /// method, parameters and seed.
    /// Fails only if a value has no JSON form (a non-finite float).
    pub fn new(model: ModelRef, dataset: DatasetRef, method: MethodRef, seed: Option<u64>) -> Result<RunConfig, serde_json::Error> {
        let identity = Identity {
            model: &model.source,
            dataset: DatasetIdentity {
                task: dataset.task,
                source: &dataset.source,
                format: dataset.format,
                split: dataset.split,
                samples: dataset.samples,
                selection_seed: dataset.selection_seed,
                stratify_by: &dataset.stratify_by,
                reward_on_failure: dataset.reward_on_failure,
                history: dataset.history,
                readings: dataset.readings,
                serialization: &dataset.serialization,
                prompt: dataset.prompt,
                constrain: dataset.constrain,
                reasoning: dataset.reasoning,
                on_failure: dataset.on_failure,
            },
            method: method.kind,
            params: &method.params,
            seed,
        };
        let run_id = RunId(hash_canonical(&identity)?);
        Ok(RunConfig { run_id, model, dataset, method, seed })
    }
}

/// 16 hex digits of the SHA-256 of `value` as canonical JSON. serde_json's
/// maps are ordered by key, so going through `Value` sorts every object.
pub fn hash_canonical<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let canonical = serde_json::to_string(&serde_json::to_value(value)?)?;
    let digest = Sha256::digest(canonical.as_bytes());
    Ok(crate::assets::hex(&digest[..8]))
}
