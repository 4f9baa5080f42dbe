//! What a plan costs before it runs (`runner plan --estimate`): per run,
//! the tokens to prefill and to generate, and the wall time this machine
//! needs for them, from a short calibration of each model's engine.
//!
//! **Prefill tokens** are the real prompt lengths: each dataset is loaded
//! once and its samples selected and prompted as a run does
//! ([`super::run_one::dataset_task`], [`crate::evaluate::fit_prompt`] with
//! the model's tokenizer and context). A search prefills its sample's
//! prompt once, on the sequence its tree's root keeps pinned; every rollout
//! forks that sequence and shares the prompt's KV cache
//! (`search::context::Ctx::start` and `fork_for`: a fork starts from the
//! nearest live ancestor, and the root is never evicted). A run therefore
//! prefills the sum of its samples' prompt lengths.
//!
//! **Generated tokens** are upper bounds from the budgets. Per sample, one
//! rollout generates at most `a = min(max_new_tokens, L)` tokens, where `L`
//! is the longest answer the decoding constraint allows (forecasting: `h`
//! values of at most `max_digits` digits with their separators,
//! `ValuesGrammar::max_tokens`; activity without reasoning: the marker, the
//! longest label and the stop token), or `max_new_tokens` when decoding is
//! not constrained. A tree rollout continues a sequence of the tree, so its
//! new tokens are at most `a` too. Per sample:
//!
//! | method | bound |
//! |---|---|
//! | greedy | `a` |
//! | best_of_n | `N·a` |
//! | best_of_n with `max_tokens_generated` `c` | `min(N·a, c − 1 + a)` |
//! | token-matched best_of_n (`token_budget_from`), budget `g` = the peer's bound (at most `c`) | `g − 1 + a` (0 when `g` is 0) |
//! | MCTS, DTS, DTS*, MaxEnt-TS with R rollouts | `R·r·a`, and with `c`: `min(R·r·a, c − 1 + B·r·a)` |
//!
//! where `r` is `expansion_k` for a top-k tree with `rollout_all_on_expand`
//! (an iteration rolls out every new child) and 1 otherwise, and `B` is
//! `parallel_rollouts` (a batch started under the cap finishes). Token
//! counts are those of the records' `tokens_generated`: the rows of a
//! token-matched wave that are discarded, and the KV rebuilds of evicted
//! tree nodes, are compute not counted here.
//!
//! **Time** assumes the runs one after another (`runner run --jobs 1`).
//! Calibration, per model and dataset: the first half of the prompt of
//! median length and then the whole of it are prefilled (a prompt of `L`
//! tokens takes `α·L + β·L²`, through the two measurements, attention being
//! quadratic), then a few dozen tokens are decoded after it by 1 row and by
//! the widest pass the dataset's runs use (at most
//! [`MAX_CALIBRATION_ROWS`]); the seconds per pass are taken linear in the
//! rows between (and beyond) the two widths. A run's time is
//! `Σ prefill(L) + generated × seconds per pass / rows` at the token bound,
//! given as a range over how much the `wave` samples of a run share passes:
//! low with every pass holding `min(wave, samples) × rows per search` rows
//! (at most `max_rows`: the wave's searches in lock-step throughout), high
//! with passes of one search's rows alone (rows per search: 1 for greedy,
//! `N` for best-of-N, `parallel_rollouts` (× `r`) for the trees). Real runs
//! fall between: searches of a wave end at different times and tree
//! searches have single-row phases, so passes narrow as a wave goes on.

//! **Prompt cache.** With a prompt cache (`--prompt-cache`, as `runner
//! run`), runs of one model that ask the same prompts (one dataset, one
//! answer budget) compute them once: the runs are taken in the order they
//! start ([`super::sweep::execution_order`]) and each model's cache is
//! followed as a least-recently-used store of whole prompt sets, each
//! costing its tokens times the keys and values one prompt token holds
//! (measured in the calibration) plus its logits. A run whose set is held
//! has its prompts in `cached_prompt_tokens` and no prefill time.
//!
//! A model that cannot be loaded without downloading (a hub model not in
//! the local cache) or at all is not estimated: its runs are listed with
//! the reason and the totals cover the others (a prompt cannot be counted
//! without the model's tokenizer). A dataset whose files are missing is an
//! error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::engines::{model_key, Engines, LoadedEngine};
use super::run_one::{check_constraints, configured_task};
use super::sources::Sources;
use super::{peer, ScheduleError};
use crate::engine::locator::ModelLocator;
use crate::engine::service::{EngineOptions, SeqId, Session};
use crate::engine::EngineError;
use crate::evaluate::fit_prompt;
use crate::plan::{DataSource, DatasetRef, ModelSource, Plan, RunConfig};
use crate::sampling::argmax;
use crate::search::{MethodConfig, SearchConfig};
use crate::spec::{DataFormat, MethodKind, Split};
use crate::tasks::constrain::answer_token_bound;
use crate::tasks::Task;

/// Widest pass the calibration decodes (wider passes are extrapolated).
pub const MAX_CALIBRATION_ROWS: usize = 64;
/// Most tokens decoded per calibration width (after two untimed steps).
pub const CALIBRATION_TOKENS: usize = 24;
/// Seconds after which a calibration width stops decoding (once it has
/// timed [`MIN_CALIBRATION_STEPS`] passes).
pub const CALIBRATION_SECONDS: f64 = 5.0;
const MIN_CALIBRATION_STEPS: usize = 3;
/// Rows per wave of token-matched best-of-N without `num_rollouts` or
/// `parallel_rollouts` (as `search::methods::best_of_n` decodes it).
const BON_DEFAULT_WAVE: usize = 16;

#[derive(Debug, Clone)]
pub struct EstimateOptions {
    /// Samples searched at once within a run (`runner run --wave`).
    pub wave: usize,
    /// Most rows per engine forward pass.
    pub max_rows: usize,
    /// Most tokens decoded per calibration width.
    pub calibration_tokens: usize,
    /// Seconds after which a calibration width stops decoding.
    pub calibration_seconds: f64,
    /// Bytes of computed prompts each model keeps (`runner run
    /// --prompt-cache`); 0: every run computes its prompts.
    pub prompt_cache_bytes: u64,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        let sweep = super::SweepOptions::default();
        EstimateOptions {
            wave: sweep.wave,
            max_rows: sweep.max_rows,
            calibration_tokens: CALIBRATION_TOKENS,
            calibration_seconds: CALIBRATION_SECONDS,
            prompt_cache_bytes: sweep.prompt_cache_bytes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    /// Datasets whose files are not there: key, path, and how the path was
    /// found.
    #[error("{}", missing_text(.0))]
    MissingData(Vec<(String, PathBuf, String)>),
    #[error("dataset `{dataset}` ({}): {source}", path.display())]
    Data {
        dataset: String,
        path: PathBuf,
        #[source]
        source: ScheduleError,
    },
    #[error("model `{model}`, dataset `{dataset}`: {message}")]
    Prompt { model: String, dataset: String, message: String },
    #[error("run {run} ({method}): {message}")]
    Run { run: String, method: String, message: String },
    #[error("model `{model}`: calibration failed: {source}")]
    Calibration {
        model: String,
        #[source]
        source: EngineError,
    },
}

fn missing_text(missing: &[(String, PathBuf, String)]) -> String {
    let line = |(d, p, how): &(String, PathBuf, String)| match p.as_os_str().is_empty() {
        true => format!("dataset `{d}`: {how}"),
        false => format!("dataset `{d}`: {} does not exist ({how})", p.display()),
    };
    missing.iter().map(line).collect::<Vec<_>>().join("\n")
}

impl EstimateError {
    /// 2 for anything wrong with the input, 1 for failures of the machine.
    pub fn exit_code(&self) -> u8 {
        match self {
            EstimateError::Calibration { .. } => 1,
            _ => 2,
        }
    }
}

/// One calibration width: seconds per forward pass of `rows` rows.
#[derive(Debug, Clone, Serialize)]
pub struct DecodePoint {
    pub rows: usize,
    pub seconds_per_pass: f64,
    /// Generated tokens per second over all rows.
    pub tokens_per_s: f64,
}

/// One prefill measurement.
#[derive(Debug, Clone, Serialize)]
pub struct PrefillPoint {
    pub tokens: usize,
    pub seconds: f64,
}

/// The rates measured for one model on one dataset's median prompt.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub model: String,
    pub dataset: String,
    pub prompt_tokens: usize,
    /// Prefill rate of the median prompt.
    pub prefill_tokens_per_s: f64,
    /// The first half of the median prompt, then the whole of it.
    pub prefill: Vec<PrefillPoint>,
    /// Width 1, then the widest pass measured (when wider than 1).
    pub decode: Vec<DecodePoint>,
    /// Bytes of keys and values one prompt token holds.
    pub kv_bytes_per_token: f64,
    /// Seconds the calibration took.
    pub seconds: f64,
}

impl Calibration {
    /// Seconds to prefill a prompt of `tokens` tokens: `α·L + β·L²` through
    /// the two measurements (attention makes long prompts slower per token),
    /// with `α, β ≥ 0`; linear at the median's rate from one measurement.
    pub fn prefill_seconds(&self, tokens: usize) -> f64 {
        let l = tokens as f64;
        let Some(whole) = self.prefill.last() else { return l / self.prefill_tokens_per_s };
        let (l2, t2) = (whole.tokens as f64, whole.seconds);
        let linear = |l: f64| l * t2 / l2.max(1.0);
        let Some(half) = self.prefill.first().filter(|p| p.tokens < whole.tokens && p.tokens > 0) else { return linear(l) };
        let (l1, t1) = (half.tokens as f64, half.seconds);
        let beta = (t2 / l2 - t1 / l1) / (l2 - l1);
        let alpha = t1 / l1 - beta * l1;
        if beta <= 0.0 {
            linear(l)
        } else if alpha < 0.0 {
            l * l * t2 / (l2 * l2)
        } else {
            alpha * l + beta * l * l
        }
    }

    /// Seconds per forward pass of `rows` rows: linear through the
    /// measured widths (never decreasing with the rows).
    pub fn seconds_per_pass(&self, rows: usize) -> f64 {
        let Some(first) = self.decode.first() else { return f64::NAN };
        let t1 = first.seconds_per_pass;
        match self.decode.last().filter(|p| p.rows > first.rows) {
            None => t1 * rows.max(1) as f64,
            Some(wide) => {
                let slope = ((wide.seconds_per_pass - t1) / (wide.rows - first.rows) as f64).max(0.0);
                t1 + slope * (rows.max(1) - first.rows) as f64
            }
        }
    }

    /// Seconds per generated token when passes hold `rows` rows.
    pub fn seconds_per_token(&self, rows: usize) -> f64 {
        self.seconds_per_pass(rows) / rows.max(1) as f64
    }
}

/// The estimate of one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunEstimate {
    pub run_id: String,
    pub model: String,
    pub dataset: String,
    pub method: String,
    pub kind: MethodKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_rollouts: Option<u32>,
    pub max_new_tokens: u32,
    pub samples: usize,
    /// Sum of the samples' prompt lengths (each prefilled once).
    pub prefill_tokens: u64,
    /// Of `prefill_tokens`, those the prompt cache serves (computed by an
    /// earlier run of the sweep); their prefill takes no time.
    pub cached_prompt_tokens: u64,
    /// Sum over the samples of the most tokens one rollout generates
    /// (`min(max_new_tokens, longest constrained answer)`).
    pub answer_tokens: u64,
    /// Upper bound on the tokens generated (see the module docs).
    pub generated_tokens: u64,
    /// Rows per forward pass when the wave's searches decode in
    /// lock-step throughout.
    pub rows: usize,
    /// Rows per forward pass of one search alone.
    pub rows_alone: usize,
    pub prefill_seconds: f64,
    /// Time at the token bound with every pass `rows` wide: the wave's
    /// searches never out of step (optimistic: searches end at different
    /// times, and tree searches have single-row phases).
    pub seconds_low: f64,
    /// Time at the token bound with every pass `rows_alone` wide: no gain
    /// from searching samples at once (pessimistic).
    pub seconds_high: f64,
}

/// Sums over runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub runs: usize,
    pub samples: usize,
    pub prefill_tokens: u64,
    pub cached_prompt_tokens: u64,
    pub generated_tokens: u64,
    pub seconds_low: f64,
    pub seconds_high: f64,
}

impl Totals {
    fn add(&mut self, r: &RunEstimate) {
        self.runs += 1;
        self.samples += r.samples;
        self.prefill_tokens += r.prefill_tokens;
        self.cached_prompt_tokens += r.cached_prompt_tokens;
        self.generated_tokens += r.generated_tokens;
        self.seconds_low += r.seconds_low;
        self.seconds_high += r.seconds_high;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodTotals {
    pub method: String,
    #[serde(flatten)]
    pub totals: Totals,
}

/// A model whose runs could not be estimated, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotEstimated {
    pub model: String,
    pub source: String,
    pub reason: String,
    pub runs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    pub experiment: String,
    pub planned_runs: usize,
    /// Every planned run is estimated.
    pub complete: bool,
    pub wave: usize,
    pub max_rows: usize,
    /// The prompt cache each model was taken to have (bytes; 0: none).
    pub prompt_cache_bytes: u64,
    pub calibration: Vec<Calibration>,
    pub runs: Vec<RunEstimate>,
    /// Per method entry, in the order of first appearance.
    pub methods: Vec<MethodTotals>,
    pub total: Totals,
    pub not_estimated: Vec<NotEstimated>,
}

/// Where a dataset's files are, or (key, path, how the path was found).
fn dataset_path(d: &DatasetRef, sources: &Sources) -> Result<PathBuf, (String, PathBuf, String)> {
    let path = match sources.data_path(&d.source) {
        Ok(p) => p,
        Err(e) => return Err((d.name.clone(), PathBuf::new(), format!("{e}; `runner fetch` downloads it"))),
    };
    if path.exists() {
        return Ok(path);
    }
    let how = match &d.source {
        DataSource::Path { path: p } => {
            format!("`datasets.{}.path` is {p:?}, relative to the experiment file's directory {}", d.name, sources.spec_dir().display())
        }
        DataSource::Asset { asset } => {
            format!("asset `{asset}` in the asset cache {} is missing; `make setup` fills it", crate::assets::assets_dir().display())
        }
        DataSource::Url { .. } | DataSource::Hf { .. } => {
            format!("`datasets.{}.root` names a folder the fetched files do not have", d.name)
        }
    };
    Err((d.name.clone(), path, how))
}

/// The reference the engine loads for `source` without downloading, or
/// why there is none.
fn local_reference(source: &ModelSource, sources: &Sources) -> Result<ModelLocator, String> {
    let locator = sources.model_locator(source);
    match locator.files(false) {
        Ok((path, _)) if path.exists() => Ok(ModelLocator::Local(path)),
        Ok((path, _)) => Err(format!("{} does not exist", path.display())),
        Err(e) => {
            Err(format!("{e}; the estimate loads the model's tokenizer and weights but does not download them (`runner fetch` does)"))
        }
    }
}

/// The prompts of one dataset for one model and answer budget.
struct Prompts {
    prompt_tokens: Vec<usize>,
    /// Per sample: the most tokens one rollout generates.
    answer: Vec<u64>,
    /// The prompt of median length.
    median: Vec<u32>,
}

fn prompts(
    engine: &LoadedEngine,
    run: &RunConfig,
    task: &Task,
    samples: &[crate::tasks::Sample],
    path: &Path,
) -> Result<Prompts, EstimateError> {
    let max_new = run.method.params.max_new_tokens as usize;
    let err = |message: String| EstimateError::Prompt { model: run.model.name.clone(), dataset: run.dataset.name.clone(), message };
    check_constraints(run, path, task, samples, &engine.texts).map_err(|e| err(e.to_string()))?;
    let mut out = Prompts { prompt_tokens: Vec::new(), answer: Vec::new(), median: Vec::new() };
    let mut tokens = Vec::new();
    for sample in samples {
        let fitted = fit_prompt(&engine.tokenizer, sample, &task.prompt, engine.context, max_new).map_err(|e| err(e.to_string()))?;
        let bound = answer_token_bound(sample, &fitted.options, &engine.texts, max_new).map_err(|e| err(e.to_string()))?;
        out.prompt_tokens.push(fitted.rendered.tokens.len());
        out.answer.push(bound.map_or(max_new, |b| b.min(max_new)) as u64);
        tokens.push(fitted.rendered.tokens);
    }
    let mut order: Vec<usize> = (0..tokens.len()).collect();
    order.sort_by_key(|&i| (tokens[i].len(), i));
    if let Some(&m) = order.get(order.len().saturating_sub(1) / 2) {
        out.median = tokens.swap_remove(m);
    }
    Ok(out)
}

/// Rows one search of `cfg` decodes at once.
fn rows_per_search(cfg: &SearchConfig) -> usize {
    let p = cfg.parallel_rollouts.max(1);
    match &cfg.method {
        MethodConfig::Greedy => 1,
        MethodConfig::BestOfN(b) => b.n.unwrap_or(if p > 1 { p } else { BON_DEFAULT_WAVE }),
        MethodConfig::Mcts(_) | MethodConfig::Dts(_) => p,
        MethodConfig::TopK(t) => p * if t.rollout_all_on_expand { t.expansion_k } else { 1 },
    }
}

/// The per-sample upper bound on generated tokens (module docs), given the
/// per-rollout bound `a` and, for token-matched best-of-N, the peer's bound.
pub fn generated_bound(cfg: &SearchConfig, a: u64, peer: Option<u64>) -> u64 {
    let cap = cfg.max_tokens_generated;
    let capped = |uncapped: u64, batch: u64| match cap {
        Some(c) => uncapped.min((c + batch).saturating_sub(1)),
        None => uncapped,
    };
    match &cfg.method {
        MethodConfig::Greedy => a,
        MethodConfig::BestOfN(b) => match (&b.token_budget_from, peer) {
            (Some(_), Some(g)) => {
                let g = cap.map_or(g, |c| g.min(c));
                if g == 0 {
                    0
                } else {
                    g - 1 + a
                }
            }
            _ => capped(b.n.unwrap_or(1) as u64 * a, a),
        },
        MethodConfig::Mcts(m) => capped(m.num_simulations * a, cfg.parallel_rollouts as u64 * a),
        MethodConfig::Dts(d) => capped(d.num_rollouts * a, cfg.parallel_rollouts as u64 * a),
        MethodConfig::TopK(t) => {
            let r = if t.rollout_all_on_expand { t.expansion_k as u64 } else { 1 };
            capped(t.num_rollouts * r * a, cfg.parallel_rollouts as u64 * r * a)
        }
    }
}

/// How long a calibration decodes per width.
#[derive(Debug, Clone, Copy)]
struct DecodeLimits {
    tokens: usize,
    seconds: f64,
}

/// Prefill measurements (half of `prompt`, then all of it) and decode
/// passes after `prompt` at each width.
/// `cache_bytes` reads the engine's bytes of keys and values in use; the
/// third result is the bytes one prompt token adds.
fn calibrate(
    session: &Session,
    cache_bytes: &dyn Fn() -> Result<u64, EngineError>,
    prompt: &[u32],
    widths: &[usize],
    limits: DecodeLimits,
) -> Result<(Vec<PrefillPoint>, Vec<DecodePoint>, f64), EngineError> {
    if prompt.is_empty() {
        return Err(EngineError::BadInput("an empty prompt cannot be calibrated on".into()));
    }
    // Untimed: the first passes of a process pay for allocations.
    let warm = session.new_seq(None)?;
    let lp = session.forward(warm, &prompt[..prompt.len().min(16)])?;
    session.forward(warm, &[argmax(&lp)])?;
    session.release(warm);

    let mut prefill = Vec::new();
    let half = prompt.len() / 2;
    if half >= 16 {
        let seq = session.new_seq(None)?;
        let start = Instant::now();
        session.forward(seq, &prompt[..half])?;
        prefill.push(PrefillPoint { tokens: half, seconds: start.elapsed().as_secs_f64() });
        session.release(seq);
    }
    let root = session.new_seq(None)?;
    let before = cache_bytes()?;
    let start = Instant::now();
    let lp = session.forward(root, prompt)?;
    prefill.push(PrefillPoint { tokens: prompt.len(), seconds: start.elapsed().as_secs_f64() });
    let per_token = cache_bytes()?.saturating_sub(before) as f64 / prompt.len() as f64;
    let first = argmax(&lp);
    let mut points = Vec::new();
    for &w in widths {
        let mut seqs: Vec<SeqId> = Vec::with_capacity(w);
        for _ in 0..w {
            seqs.push(session.new_seq(Some(root))?);
        }
        let mut next = vec![first; w];
        let step = |next: &mut Vec<u32>| -> Result<(), EngineError> {
            let rows = seqs.iter().zip(next.iter()).map(|(&s, &t)| (s, vec![t])).collect();
            let out = session.forward_rows(rows)?;
            for (n, lp) in next.iter_mut().zip(&out) {
                *n = argmax(lp);
            }
            Ok(())
        };
        step(&mut next)?;
        step(&mut next)?;
        let start = Instant::now();
        let mut steps = 0;
        while steps < limits.tokens.max(1) && (steps < MIN_CALIBRATION_STEPS || start.elapsed().as_secs_f64() < limits.seconds) {
            step(&mut next)?;
            steps += 1;
        }
        let per_pass = start.elapsed().as_secs_f64() / steps as f64;
        for s in seqs {
            session.release(s);
        }
        points.push(DecodePoint { rows: w, seconds_per_pass: per_pass, tokens_per_s: w as f64 / per_pass.max(1e-12) });
    }
    session.release(root);
    Ok((prefill, points, per_token))
}

/// The identity of a dataset's loaded files.
type FileKey = (PathBuf, DataFormat, Split);

/// Estimates every run of `plan`; `note` hears what is being done (the
/// calibration takes seconds per model and dataset).
pub fn estimate(plan: &Plan, sources: &Sources, opts: &EstimateOptions, note: &dyn Fn(&str)) -> Result<Estimate, EstimateError> {
    // Every dataset must be there before any model is loaded.
    let mut paths: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut missing = Vec::new();
    for run in &plan.runs {
        if !paths.contains_key(&run.dataset.name) && !missing.iter().any(|m: &(String, PathBuf, String)| m.0 == run.dataset.name) {
            match dataset_path(&run.dataset, sources) {
                Ok(p) => {
                    paths.insert(run.dataset.name.clone(), p);
                }
                Err(m) => missing.push(m),
            }
        }
    }
    if !missing.is_empty() {
        return Err(EstimateError::MissingData(missing));
    }
    let mut by_model: Vec<(String, Vec<&RunConfig>)> = Vec::new();
    for run in &plan.runs {
        let key = model_key(run);
        match by_model.iter_mut().find(|(k, _)| *k == key) {
            Some((_, runs)) => runs.push(run),
            None => by_model.push((key, vec![run])),
        }
    }
    // No prompt cache: the calibration times the same prompt repeatedly.
    let engines = Engines::new(EngineOptions { max_rows: opts.max_rows, prompt_cache_bytes: 0 });
    let mut files: BTreeMap<FileKey, Task> = BTreeMap::new();
    let mut out = Estimate {
        experiment: plan.experiment.clone(),
        planned_runs: plan.runs.len(),
        complete: true,
        wave: opts.wave,
        max_rows: opts.max_rows,
        prompt_cache_bytes: opts.prompt_cache_bytes,
        calibration: Vec::new(),
        runs: Vec::new(),
        methods: Vec::new(),
        total: Totals::default(),
        not_estimated: Vec::new(),
    };
    let mut estimated: BTreeMap<String, RunEstimate> = BTreeMap::new();
    // Per run: its prompt set (dataset and answer budget) and that set's bytes.
    let mut prompt_sets: BTreeMap<String, (String, u64)> = BTreeMap::new();
    for (key, runs) in &by_model {
        let first = runs[0];
        let skip = |reason: String| NotEstimated {
            model: first.model.name.clone(),
            source: first.model.source.to_string(),
            reason,
            runs: runs.iter().map(|r| r.run_id.0.clone()).collect(),
        };
        let reference = match local_reference(&first.model.source, sources) {
            Ok(r) => r,
            Err(reason) => {
                out.not_estimated.push(skip(reason));
                continue;
            }
        };
        note(&format!("loading model `{}` ({reference})", first.model.name));
        let engine = match engines.get(key, &reference) {
            Ok(e) => e,
            Err(e) => {
                out.not_estimated.push(skip(e.to_string()));
                continue;
            }
        };
        model_runs(&engine, runs, &plan.runs, &paths, &mut files, opts, note, &mut out.calibration, &mut estimated, &mut prompt_sets)?;
        drop(engine);
        engines.release(key);
    }
    follow_prompt_caches(plan, opts.prompt_cache_bytes, &prompt_sets, &mut estimated);
    for run in &plan.runs {
        let Some(r) = estimated.remove(&run.run_id.0) else { continue };
        match out.methods.iter_mut().find(|m| m.method == r.method) {
            Some(m) => m.totals.add(&r),
            None => {
                let mut totals = Totals::default();
                totals.add(&r);
                out.methods.push(MethodTotals { method: r.method.clone(), totals });
            }
        }
        out.total.add(&r);
        out.runs.push(r);
    }
    out.complete = out.not_estimated.is_empty();
    Ok(out)
}

/// Marks the runs whose prompts each model's prompt cache (of `budget`
/// bytes) still holds when they start: the runs in the order they start,
/// each model's cache a least-recently-used store of prompt sets.
fn follow_prompt_caches(plan: &Plan, budget: u64, sets: &BTreeMap<String, (String, u64)>, estimated: &mut BTreeMap<String, RunEstimate>) {
    if budget == 0 {
        return;
    }
    let mut order: Vec<&RunConfig> = plan.runs.iter().collect();
    order.sort_by_key(|r| super::sweep::execution_order(r));
    // Per model: (prompt set, bytes, last use).
    let mut caches: BTreeMap<String, Vec<(String, u64, usize)>> = BTreeMap::new();
    for (clock, run) in order.into_iter().enumerate() {
        let (Some((set, bytes)), Some(r)) = (sets.get(&run.run_id.0), estimated.get_mut(&run.run_id.0)) else { continue };
        let cache = caches.entry(model_key(run)).or_default();
        if let Some(entry) = cache.iter_mut().find(|e| e.0 == *set) {
            entry.2 = clock;
            r.cached_prompt_tokens = r.prefill_tokens;
            r.seconds_low -= r.prefill_seconds;
            r.seconds_high -= r.prefill_seconds;
            r.prefill_seconds = 0.0;
            continue;
        }
        if *bytes > budget {
            continue;
        }
        while cache.iter().map(|e| e.1).sum::<u64>() + bytes > budget {
            let Some(oldest) = cache.iter().enumerate().min_by_key(|(_, e)| e.2).map(|(i, _)| i) else { break };
            cache.remove(oldest);
        }
        cache.push((set.clone(), *bytes, clock));
    }
}

/// The datasets, prompts, calibrations and run estimates of one model.
#[allow(clippy::too_many_arguments)]
fn model_runs(
    engine: &Arc<LoadedEngine>,
    runs: &[&RunConfig],
    all: &[RunConfig],
    paths: &BTreeMap<String, PathBuf>,
    files: &mut BTreeMap<FileKey, Task>,
    opts: &EstimateOptions,
    note: &dyn Fn(&str),
    calibrations: &mut Vec<Calibration>,
    estimated: &mut BTreeMap<String, RunEstimate>,
    prompt_sets: &mut BTreeMap<String, (String, u64)>,
) -> Result<(), EstimateError> {
    let stop = engine.tokenizer.stop_ids().to_vec();
    // Datasets in order of first use, each with its runs.
    let mut datasets: Vec<(&DatasetRef, Vec<&RunConfig>)> = Vec::new();
    for &run in runs {
        match datasets.iter_mut().find(|(d, _)| **d == run.dataset) {
            Some((_, rs)) => rs.push(run),
            None => datasets.push((&run.dataset, vec![run])),
        }
    }
    for (d, druns) in datasets {
        let path = paths.get(&d.name).cloned().unwrap_or_else(|| PathBuf::from(&d.name));
        let data_err = |source: ScheduleError| EstimateError::Data { dataset: d.name.clone(), path: path.clone(), source };
        let file_key = (path.clone(), d.format, d.split);
        if !files.contains_key(&file_key) {
            note(&format!("loading dataset `{}` ({})", d.name, path.display()));
            let task = Task::load(&path, d.format, d.split).map_err(|e| data_err(e.into()))?;
            files.insert(file_key.clone(), task);
        }
        let loaded = files.get(&file_key).cloned().ok_or_else(|| data_err(ScheduleError::Run("dataset cache lost".into())))?;
        let (task, _, samples) = configured_task(d, loaded, &engine.tokenizer).map_err(data_err)?;
        // Prompts per answer budget (a history cut to fit depends on it).
        let mut by_budget: BTreeMap<u32, Prompts> = BTreeMap::new();
        let mut configs = Vec::new();
        for &run in &druns {
            let budget = run.method.params.max_new_tokens;
            if !by_budget.contains_key(&budget) {
                by_budget.insert(budget, prompts(engine, run, &task, &samples, &path)?);
            }
            let cfg = SearchConfig::from_params(run.method.kind, &run.method.params, stop.clone(), 0).map_err(|e| EstimateError::Run {
                run: run.run_id.0.clone(),
                method: run.method.name.clone(),
                message: e.to_string(),
            })?;
            let alone = rows_per_search(&cfg).clamp(1, opts.max_rows.max(1));
            let rows = (opts.wave.max(1).min(samples.len().max(1)) * rows_per_search(&cfg)).clamp(1, opts.max_rows.max(1));
            configs.push((run, cfg, rows, alone));
        }
        let widest = configs.iter().map(|c| c.2).max().unwrap_or(1);
        let median = by_budget.values().next().map(|p| p.median.clone()).unwrap_or_default();
        let widths: Vec<usize> = if widest > 1 { vec![1, widest.min(MAX_CALIBRATION_ROWS)] } else { vec![1] };
        note(&format!(
            "calibrating `{}` on `{}`: prefilling a prompt of {} tokens (and its first half), then decoding by {} rows",
            druns[0].model.name,
            d.name,
            median.len(),
            widths.iter().map(usize::to_string).collect::<Vec<_>>().join(" and ")
        ));
        let started = Instant::now();
        let cal_err = |source: EngineError| EstimateError::Calibration { model: druns[0].model.name.clone(), source };
        let session =
            engine.service.group(1).map_err(cal_err)?.pop().ok_or_else(|| cal_err(EngineError::Mlx("no engine session".into())))?;
        let limits = DecodeLimits { tokens: opts.calibration_tokens, seconds: opts.calibration_seconds };
        let cache_bytes = || engine.service.stats().map(|s| s.cache_bytes);
        let (prefill, decode, kv_bytes_per_token) = calibrate(&session, &cache_bytes, &median, &widths, limits).map_err(cal_err)?;
        drop(session);
        let whole = prefill.last().map_or(f64::NAN, |p| p.tokens as f64 / p.seconds.max(1e-12));
        let cal = Calibration {
            model: druns[0].model.name.clone(),
            dataset: d.name.clone(),
            prompt_tokens: median.len(),
            prefill_tokens_per_s: whole,
            prefill,
            decode,
            kv_bytes_per_token,
            seconds: started.elapsed().as_secs_f64(),
        };
        let vocab = engine.tokenizer.vocab_size() as u64;
        // Runs without a token-budget peer first: a matched run needs its
        // peer's per-sample bounds.
        let mut per_sample: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        configs.sort_by_key(|(run, _, _, _)| run.method.params.token_budget_from.is_some());
        for (run, cfg, rows, alone) in configs {
            let run_err = |message: String| EstimateError::Run { run: run.run_id.0.clone(), method: run.method.name.clone(), message };
            let p = by_budget.get(&run.method.params.max_new_tokens).ok_or_else(|| run_err("no prompts for its budget".into()))?;
            let peer_bounds = match peer::peer_of(run, all).map_err(|e| run_err(e.to_string()))? {
                Some(peer) => Some(
                    per_sample
                        .get(&peer.run_id.0)
                        .ok_or_else(|| run_err(format!("its token-budget peer {} has no estimate", peer.run_id)))?
                        .clone(),
                ),
                None => None,
            };
            let bounds: Vec<u64> = p
                .answer
                .iter()
                .enumerate()
                .map(|(i, &a)| generated_bound(&cfg, a, peer_bounds.as_ref().and_then(|b| b.get(i).copied())))
                .collect();
            let prefill_tokens: u64 = p.prompt_tokens.iter().map(|&n| n as u64).sum();
            let generated: u64 = bounds.iter().sum();
            let prefill_seconds: f64 = p.prompt_tokens.iter().map(|&n| cal.prefill_seconds(n)).sum();
            let decode_low = generated as f64 * cal.seconds_per_token(rows);
            let decode_high = generated as f64 * cal.seconds_per_token(alone);
            per_sample.insert(run.run_id.0.clone(), bounds);
            let bytes = (prefill_tokens as f64 * kv_bytes_per_token) as u64 + p.prompt_tokens.len() as u64 * 4 * vocab;
            prompt_sets.insert(run.run_id.0.clone(), (format!("{}\u{0}{}", d.name, run.method.params.max_new_tokens), bytes));
            estimated.insert(
                run.run_id.0.clone(),
                RunEstimate {
                    run_id: run.run_id.0.clone(),
                    model: run.model.name.clone(),
                    dataset: run.dataset.name.clone(),
                    method: run.method.name.clone(),
                    kind: run.method.kind,
                    seed: run.seed,
                    num_rollouts: run.method.params.num_rollouts,
                    max_new_tokens: run.method.params.max_new_tokens,
                    samples: p.prompt_tokens.len(),
                    prefill_tokens,
                    cached_prompt_tokens: 0,
                    answer_tokens: p.answer.iter().sum(),
                    generated_tokens: generated,
                    rows,
                    rows_alone: alone,
                    prefill_seconds,
                    seconds_low: prefill_seconds + decode_low,
                    seconds_high: prefill_seconds + decode_high,
                },
            );
        }
        calibrations.push(cal);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MethodParams;

    fn params(num_rollouts: Option<u32>) -> MethodParams {
        serde_json::from_value(serde_json::json!({"max_new_tokens": 50, "num_rollouts": num_rollouts, "expansion_k": 3})).unwrap()
    }

    fn cfg(kind: MethodKind, edit: impl FnOnce(&mut MethodParams)) -> SearchConfig {
        let mut p = params(Some(4));
        edit(&mut p);
        SearchConfig::from_params(kind, &p.with_defaults(kind).unwrap(), vec![0], 0).unwrap()
    }

    #[test]
    fn bounds_follow_the_budgets() {
        let a = 10;
        assert_eq!(generated_bound(&cfg(MethodKind::Greedy, |_| ()), a, None), 10);
        assert_eq!(generated_bound(&cfg(MethodKind::BestOfN, |_| ()), a, None), 40);
        assert_eq!(generated_bound(&cfg(MethodKind::BestOfN, |p| p.max_tokens_generated = Some(25)), a, None), 34);
        assert_eq!(generated_bound(&cfg(MethodKind::BestOfN, |p| p.max_tokens_generated = Some(500)), a, None), 40);
        let matched = cfg(MethodKind::BestOfN, |p| p.token_budget_from = Some("dts".into()));
        assert_eq!(generated_bound(&matched, a, Some(40)), 49);
        assert_eq!(generated_bound(&matched, a, Some(0)), 0);
        for kind in [MethodKind::Mcts, MethodKind::Dts, MethodKind::DtsStar, MethodKind::MaxentTs] {
            assert_eq!(generated_bound(&cfg(kind, |_| ()), a, None), 40, "{kind:?}");
            let capped = cfg(kind, |p| {
                p.max_tokens_generated = Some(15);
                p.parallel_rollouts = Some(2);
            });
            assert_eq!(generated_bound(&capped, a, None), 34, "{kind:?}: 14 then a batch of 2");
        }
        let all_on_expand = cfg(MethodKind::MaxentTs, |p| p.rollout_all_on_expand = Some(true));
        assert_eq!(generated_bound(&all_on_expand, a, None), 120);
    }

    #[test]
    fn passes_are_linear_in_the_rows_between_the_widths() {
        let point = |rows: usize, s: f64| DecodePoint { rows, seconds_per_pass: s, tokens_per_s: rows as f64 / s };
        let cal = Calibration {
            model: "m".into(),
            dataset: "d".into(),
            prompt_tokens: 10,
            prefill_tokens_per_s: 100.0,
            prefill: vec![PrefillPoint { tokens: 100, seconds: 1.0 }, PrefillPoint { tokens: 200, seconds: 3.0 }],
            decode: vec![point(1, 0.1), point(11, 0.2)],
            kv_bytes_per_token: 0.0,
            seconds: 1.0,
        };
        // 0.005 L + 5e-5 L² through both measurements.
        for (l, t) in [(100, 1.0), (200, 3.0), (400, 10.0)] {
            assert!((cal.prefill_seconds(l) - t).abs() < 1e-9, "{l}: {}", cal.prefill_seconds(l));
        }
        let flat = Calibration {
            prefill: vec![PrefillPoint { tokens: 100, seconds: 1.0 }, PrefillPoint { tokens: 200, seconds: 1.8 }],
            ..cal.clone()
        };
        assert!((flat.prefill_seconds(400) - 3.6).abs() < 1e-9, "faster per token when longer: linear at the whole prompt's rate");
        assert!((cal.seconds_per_pass(1) - 0.1).abs() < 1e-12);
        assert!((cal.seconds_per_pass(6) - 0.15).abs() < 1e-12);
        assert!((cal.seconds_per_pass(21) - 0.3).abs() < 1e-12);
        assert!((cal.seconds_per_token(11) - 0.2 / 11.0).abs() < 1e-12);
        let single = Calibration { decode: vec![point(1, 0.1)], ..cal };
        assert!(single.seconds_per_pass(1) > 0.0);
        assert!((single.seconds_per_token(4) - 0.1).abs() < 1e-12);
    }
}
