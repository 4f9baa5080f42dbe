//! One run: lock it, load (or share) its model and its data, check that a
//! resumed run sees the inputs it started with, then search its samples in
//! fixed waves (consecutive sample indices, all searches of a wave sharing
//! the engine loop's batches), recording each finished sample durably.
//! A wave that is not completely recorded is recomputed whole; samples it
//! recomputes that were already recorded are compared with their records
//! (timing fields aside) and never rewritten.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::engines::{model_key, Engines, LoadedEngine};
use super::progress::Progress;
use super::signals::WRITE_GATE;
use super::sources::Sources;
use super::{peer, ScheduleError};
use crate::engine::prompt_cache::PromptCacheCounters;
use crate::engine::tokenizer::TextTokenizer;
use crate::evaluate::{evaluate_sample, Identity, SampleJob};
use crate::plan::{DatasetRef, RunConfig, RuntimeIdentity};
use crate::search::SearchConfig;
use crate::store::columns::TIMING_COLUMNS;
use crate::store::jsonl::{self, Appender};
use crate::store::layout::{run_dir, RUN_JSON, RUN_LOCK, SAMPLES_JSONL, SAMPLES_PARQUET};
use crate::store::lock::{Lock, LockTiming};
use crate::store::row::{RunColumns, SampleRow};
use crate::store::{write_samples_parquet, RunFile, RunStatus};
use crate::tasks::constrain::ConstraintFix;
use crate::tasks::{Sample, Selection, Task};

/// What every run of a sweep shares.
pub struct RunEnv<'a> {
    pub commit_dir: &'a Path,
    /// Where models and data are (remote sources verified).
    pub sources: &'a Sources,
    pub engines: &'a Engines,
    pub wave: usize,
    pub lock_timing: LockTiming,
    pub progress: &'a dyn Progress,
    pub all_runs: &'a [RunConfig],
    /// Streams to W&B when the spec asks for it.
    pub tracker: Option<&'a crate::track::Tracker>,
}

/// What a finished run resolved to, for the plan's provenance.
pub struct RunDone {
    pub model_revision: String,
    pub data_sha256: String,
    pub samples: usize,
    pub mismatches: usize,
    /// Mean rows per engine forward pass while the run was active.
    pub mean_batch: f64,
    /// The run's prompt-cache lookups over all its attempts.
    pub prompt_cache: PromptCacheCounters,
}

use crate::store::now_rfc3339;

/// A record as compared across computations: timing fields removed.
fn reproducible(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        for c in TIMING_COLUMNS {
            m.remove(*c);
        }
    }
    v
}

/// Runs `run` to completion (or to its first error), with its lock held.
pub fn execute(env: &RunEnv<'_>, run: &RunConfig) -> Result<RunDone, ScheduleError> {
    let dir = run_dir(env.commit_dir, &run.run_id.0);
    let lock = Lock::acquire(&dir.join(RUN_LOCK), &format!("run {}", run.run_id), env.lock_timing)?;
    let run_json = dir.join(RUN_JSON);
    let previous = RunFile::read(&run_json)?;
    let started = Instant::now();
    let mut file = previous.clone().unwrap_or_else(|| RunFile {
        run: run.clone(),
        status: RunStatus::Running,
        error: None,
        identity: None,
        samples_total: run.dataset.samples as usize,
        samples_done: 0,
        wave: env.wave,
        attempts: 0,
        wall_seconds: 0.0,
        mean_batch: 0.0,
        prompt_cache: PromptCacheCounters::default(),
        determinism_mismatches: Vec::new(),
        started_at: now_rfc3339(),
        finished_at: None,
    });
    file.attempts += 1;
    file.status = RunStatus::Running;
    file.error = None;
    let result = attempt(env, run, &dir, &lock, &mut file);
    file.wall_seconds += started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => {
            file.status = RunStatus::Complete;
            file.finished_at = Some(now_rfc3339());
        }
        Err(e) => {
            file.status = RunStatus::Failed;
            file.error = Some(e.to_string());
        }
    }
    // A lock lost meanwhile belongs to another process now: its run.json
    // is not ours to write.
    lock.check()?;
    file.write(&run_json)?;
    if let (Some(t), Err(e)) = (env.tracker, &result) {
        t.run_finished(&run.run_id.0, serde_json::json!({"status": "failed", "error": e.to_string()}), None, 1);
    }
    result
}

struct Inputs {
    engine: std::sync::Arc<LoadedEngine>,
    task: Task,
    samples: Vec<Sample>,
    identity: RuntimeIdentity,
}

/// The task of `dataset` as its runs see it: the dataset loaded from
/// `path` (the split the spec names), its prompt and score options set from
/// the spec and from what the model's tokenizer does with digits, and the
/// selected samples in selection order.
pub fn dataset_task(dataset: &DatasetRef, path: &Path, tokenizer: &TextTokenizer) -> Result<(Task, Selection, Vec<Sample>), ScheduleError> {
    let task = Task::load(path, dataset.format, dataset.split)?;
    configured_task(dataset, task, tokenizer)
}

/// [`dataset_task`] on a dataset already loaded (with default options).
pub fn configured_task(d: &DatasetRef, loaded: Task, tokenizer: &TextTokenizer) -> Result<(Task, Selection, Vec<Sample>), ScheduleError> {
    let task = loaded.for_dataset(d, crate::evaluate::llmtime_for(tokenizer)?);
    let selection = task.select(d.samples as usize, d.selection_seed, d.stratify_by.as_deref())?;
    let samples: Vec<Sample> = task.dataset.selected(&selection).cloned().collect();
    Ok((task, selection, samples))
}

fn inputs(env: &RunEnv<'_>, run: &RunConfig) -> Result<Inputs, ScheduleError> {
    let engine = env.engines.get(&model_key(run), &env.sources.model_locator(&run.model.source))?;
    let path = env.sources.data_path(&run.dataset.source)?;
    let (task, selection, samples) = dataset_task(&run.dataset, &path, &engine.tokenizer)?;
    check_constraints(run, &path, &task, &samples, &engine.texts)?;
    let identity = RuntimeIdentity {
        model_revision: engine.revision.clone(),
        data_sha256: task.dataset.sha256.clone(),
        sample_ids: selection.ids.clone(),
        compute: engine.compute.clone(),
        runner: crate::store::provenance::runner_build(),
    };
    Ok(Inputs { engine, task, samples, identity })
}

/// Checks before any search that every sample's answer can be constrained
/// as the dataset asks within the method's budget; the error names the
/// data file and the keys that would fix it.
pub fn check_constraints(
    run: &RunConfig,
    path: &Path,
    task: &Task,
    samples: &[Sample],
    texts: &std::sync::Arc<crate::tasks::constrain::TokenTexts>,
) -> Result<(), ScheduleError> {
    let budget = run.method.params.max_new_tokens as usize;
    for sample in samples {
        if let Err(e) = crate::tasks::constrain::answer_constraint(sample, &task.prompt, texts, budget) {
            let (m, d) = (&run.method.name, &run.dataset.name);
            let fix = match e.fix() {
                ConstraintFix::MaxNewTokens => format!("raise `methods.{m}.max_new_tokens`"),
                ConstraintFix::Serialization => format!("change `datasets.{d}.serialization`"),
                ConstraintFix::LabelSet => "change the label set in the data file".to_owned(),
            };
            return Err(ScheduleError::Run(format!(
                "{}: dataset `{d}`: {e}; the answer constraint cannot express it ({fix}, or set `datasets.{d}.constrain: false`)",
                path.display()
            )));
        }
    }
    Ok(())
}

fn attempt(env: &RunEnv<'_>, run: &RunConfig, dir: &Path, lock: &Lock, file: &mut RunFile) -> Result<RunDone, ScheduleError> {
    let inp = inputs(env, run)?;
    match &file.identity {
        Some(recorded) => recorded.check_resume(&inp.identity).map_err(|e| ScheduleError::Run(e.to_string()))?,
        None => file.identity = Some(inp.identity.clone()),
    }
    file.samples_total = inp.samples.len();
    file.run.clone_from(run);
    lock.check()?;
    file.write(&dir.join(RUN_JSON))?;

    let jsonl_path = dir.join(SAMPLES_JSONL);
    let (mut appender, torn) = Appender::open(&jsonl_path)?;
    if torn > 0 {
        env.progress.message(&format!("run {}: discarded a torn last record ({torn} bytes, a write cut short)", run.run_id));
    }
    let in_file_order = jsonl::read(&jsonl_path)?.values;
    let mut recorded: BTreeMap<usize, Value> = BTreeMap::new();
    for v in &in_file_order {
        if let Some(i) = v.get("sample_index").and_then(Value::as_u64) {
            recorded.insert(i as usize, v.clone());
        }
    }
    let budgets = match peer::peer_of(run, env.all_runs)? {
        Some(p) => Some(peer::budgets(env.commit_dir, p)?),
        None => None,
    };
    let identity = Identity {
        run_id: run.run_id.0.clone(),
        model: run.model.source.to_string(),
        model_revision: inp.identity.model_revision.clone(),
        dataset: run.dataset.source.to_string(),
        data_sha256: inp.identity.data_sha256.clone(),
    };
    let config = SearchConfig::from_params(run.method.kind, &run.method.params, inp.engine.tokenizer.stop_ids().to_vec(), 0)?;
    let label = format!("{}/{}/{}", run.model.name, run.dataset.name, run.method.name);
    let n = inp.samples.len();
    env.progress.run_started(&run.run_id.0, &label, recorded.len().min(n), n);
    if let Some(t) = env.tracker {
        t.run_started(run, dir, file.wall_seconds, &in_file_order);
    }
    let stats_before = inp.engine.service.stats()?;
    // The wave size the run started with: recomputed waves keep their
    // original boundaries (and batches) whatever `--wave` says now.
    let wave = file.wave.max(1);
    let mut mismatches = 0;
    for start in (0..n).step_by(wave) {
        let indices: Vec<usize> = (start..(start + wave).min(n)).collect();
        if indices.iter().all(|i| recorded.contains_key(i)) {
            continue;
        }
        let job = WaveJob { inp: &inp, identity: &identity, config: &config, run, budgets: budgets.as_ref() };
        let mut sink = |index: usize, record: Value, reward: f64, tokens: u64| -> Result<(), ScheduleError> {
            match recorded.get(&index) {
                Some(old) => {
                    if reproducible(old.clone()) != reproducible(record) {
                        mismatches += 1;
                        file.determinism_mismatches.push(format!("sample {index}: recomputed record differs from the stored one (kept)"));
                    }
                }
                None => {
                    let _gate = WRITE_GATE.lock();
                    lock.check()?;
                    appender.append(&record)?;
                    env.progress.sample_done(&run.run_id.0, reward, tokens);
                    if let Some(t) = env.tracker {
                        t.sample(&run.run_id.0, recorded.len() as u64, &record);
                    }
                    recorded.insert(index, record);
                }
            }
            Ok(())
        };
        run_wave(&job, &indices, &mut sink, &mut file.prompt_cache)?;
    }
    let stats = inp.engine.service.stats()?;
    let (passes, rows) = (stats.passes - stats_before.passes, stats.rows - stats_before.rows);
    file.mean_batch = if passes == 0 { 0.0 } else { rows as f64 / passes as f64 };
    let columns = RunColumns::of(run);
    let rows: Vec<SampleRow> = recorded.values().map(|v| SampleRow::from_record(v, &columns)).collect();
    lock.check()?;
    write_samples_parquet(&dir.join(SAMPLES_PARQUET), &rows)?;
    file.samples_done = rows.len();
    if let Some(t) = env.tracker {
        t.run_finished(&run.run_id.0, run_summary(&rows, file.mean_batch), Some(&dir.join(SAMPLES_PARQUET)), 0);
    }
    Ok(RunDone {
        model_revision: inp.identity.model_revision,
        data_sha256: inp.identity.data_sha256,
        samples: rows.len(),
        mismatches,
        mean_batch: file.mean_batch,
        prompt_cache: file.prompt_cache,
    })
}

/// The run's summary for W&B: status, sample count and mean batch (the
/// tracker adds every metric's aggregate from the run's `samples.parquet`,
/// as `summary.parquet` has them).
fn run_summary(rows: &[SampleRow], mean_batch: f64) -> Value {
    serde_json::json!({"status": "complete", "samples": rows.len(), "mean_batch": mean_batch})
}

struct WaveJob<'a> {
    inp: &'a Inputs,
    identity: &'a Identity,
    config: &'a SearchConfig,
    run: &'a RunConfig,
    budgets: Option<&'a BTreeMap<usize, u64>>,
}

type Finished = (usize, Result<(Value, f64, u64), ScheduleError>, PromptCacheCounters);

/// Searches the samples at `indices` at once, one engine session each,
/// handing each finished record to `sink` as it arrives. The first error
/// ends the wave (after every search of it has returned).
fn run_wave(
    job: &WaveJob<'_>,
    indices: &[usize],
    sink: &mut dyn FnMut(usize, Value, f64, u64) -> Result<(), ScheduleError>,
    prompts: &mut PromptCacheCounters,
) -> Result<(), ScheduleError> {
    let sessions = job.inp.engine.service.group(indices.len())?;
    let (tx, rx) = std::sync::mpsc::channel::<Finished>();
    std::thread::scope(|scope| {
        for (session, &index) in sessions.into_iter().zip(indices) {
            let tx = tx.clone();
            scope.spawn(move || {
                // A panic (a defect) fails this sample's run with its
                // message instead of taking the sweep down.
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| one_sample(job, &session, index))).unwrap_or_else(|payload| {
                        Err(ScheduleError::Run(format!("sample {index}: internal error: {}", panic_text(payload.as_ref()))))
                    });
                let counters = session.prompt_counters().unwrap_or_default();
                drop(session);
                let _ = tx.send((index, result, counters));
            });
        }
        drop(tx);
        let mut first_error: Option<ScheduleError> = None;
        for (index, result, counters) in rx {
            prompts.add(&counters);
            if first_error.is_some() {
                continue;
            }
            if let Err(e) = result.and_then(|(record, reward, tokens)| sink(index, record, reward, tokens)) {
                first_error = Some(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    })
}

/// The message a panic carried.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// `RUNNER_FAILPOINT=sample-panic:<run id prefix>` makes the sample
/// searches of matching runs panic: how a defect inside a search is
/// rehearsed (it must fail only its run).
fn failpoint_panics(run_id: &str) -> bool {
    std::env::var("RUNNER_FAILPOINT")
        .ok()
        .and_then(|f| f.strip_prefix("sample-panic:").map(str::to_owned))
        .is_some_and(|p| !p.is_empty() && run_id.starts_with(&p))
}

fn one_sample(job: &WaveJob<'_>, session: &crate::engine::service::Session, index: usize) -> Result<(Value, f64, u64), ScheduleError> {
    if failpoint_panics(&job.run.run_id.0) {
        panic!("failpoint sample-panic reached in run {} sample {index}", job.run.run_id);
    }
    let sample = job.inp.samples.get(index).ok_or_else(|| ScheduleError::Run(format!("no sample at index {index}")))?;
    let token_budget = match job.budgets {
        None => None,
        Some(b) => Some(
            *b.get(&index).ok_or_else(|| ScheduleError::Run(format!("token_budget_from: the peer run has no record of sample {index}")))?,
        ),
    };
    let (record, _) = evaluate_sample(
        session,
        SampleJob {
            tokenizer: &job.inp.engine.tokenizer,
            texts: &job.inp.engine.texts,
            context: job.inp.engine.context,
            task: &job.inp.task,
            sample,
            index,
            config: job.config.clone(),
            run_seed: job.run.seed.unwrap_or(0),
            token_budget,
            identity: job.identity,
        },
    )?;
    let (reward, tokens) = (record.reward, record.counters.tokens_generated);
    let value = serde_json::to_value(&record).map_err(|e| ScheduleError::Run(format!("sample {index}: record has no JSON form: {e}")))?;
    Ok((value, reward, tokens))
}
