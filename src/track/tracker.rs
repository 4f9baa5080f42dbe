//! What the sweep calls: a run started, a sample was recorded, a run
//! ended. Each call appends an operation to the run's outbox (on disk) and
//! nudges the upload thread through a bounded queue without waiting; a
//! full queue, a slow server or a refusal never slows or fails the sweep.
//! Errors here are reported once and otherwise ignored.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::client::Client;
use super::outbox::{Op, Outbox, RunMeta};
use super::settings::WandbSettings;
use super::upload::{drain, Backoff, Drained};
use crate::metrics;
use crate::plan::RunConfig;
use crate::spec::WandbMode;
use crate::store::parquet::read_frame;
use crate::store::CommitTag;

/// A history value of a sample: the registry's column named `name` (or the
/// column of the metric named `name`), as the record holds it; any other
/// name is looked up among the record's counters.
fn sample_value(name: &str, record: &Value) -> Option<Value> {
    let column = metrics::column(name).or_else(|| metrics::find(name).and_then(|m| m.column()).and_then(metrics::column));
    match column {
        Some(c) => c.json(record),
        None => record.pointer(&format!("/counters/{name}")).filter(|v| !v.is_null()).cloned(),
    }
}

/// The run's value of every metric (keyed as in `summary.parquet`), those
/// defined.
fn run_aggregates(samples_file: &Path) -> Result<Vec<(String, Value)>, String> {
    let df = read_frame(samples_file).map_err(|e| e.to_string())?;
    let all = metrics::aggregate::all(&df).map_err(|e| format!("{}: {e}", samples_file.display()))?;
    Ok(all.into_iter().filter_map(|(k, v)| Some((k, json!(v.filter(|v| v.is_finite())?)))).collect())
}

/// Length of the nudge queue.
pub const QUEUE: usize = 64;

/// The W&B run name of a run at a results tag: the same run at two commits
/// is two W&B runs.
pub fn wandb_run_name(run_id: &str, tag: &CommitTag) -> String {
    let d = Sha256::digest(format!("{run_id}@{tag}").as_bytes());
    crate::assets::hex(&d[..8])
}

/// The run's configuration in W&B's shape.
pub fn config_of(run: &RunConfig, tag: &CommitTag) -> Value {
    let mut flat = Map::new();
    flat.insert("run_id".into(), json!(run.run_id.0));
    flat.insert("results_tag".into(), json!(tag.to_string()));
    flat.insert("model".into(), json!(run.model.name));
    flat.insert("model_source".into(), json!(run.model.source.to_string()));
    flat.insert("dataset".into(), json!(run.dataset.name));
    flat.insert("method_name".into(), json!(run.method.name));
    flat.insert("method".into(), serde_json::to_value(run.method.kind).unwrap_or(Value::Null));
    flat.insert("seed".into(), json!(run.seed));
    flat.insert("samples".into(), json!(run.dataset.samples));
    if let Ok(Value::Object(params)) = serde_json::to_value(&run.method.params) {
        for (k, v) in params {
            flat.insert(k, v);
        }
    }
    super::protocol::config_of(&flat)
}

struct Live {
    outbox: Outbox,
    started: Instant,
    prior_seconds: f64,
}

pub struct Tracker {
    settings: WandbSettings,
    experiment: String,
    tag: CommitTag,
    live: Mutex<HashMap<String, Live>>,
    nudge: Option<SyncSender<PathBuf>>,
    known: Arc<Mutex<BTreeSet<PathBuf>>>,
    uploader: Mutex<Option<JoinHandle<UploadReport>>>,
    stop: Arc<AtomicBool>,
    warned: AtomicBool,
}

/// What the upload thread achieved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadReport {
    pub runs: usize,
    pub sent: usize,
    /// Runs with operations left in their outbox.
    pub pending: usize,
    pub refused: Vec<String>,
}

/// Drains outboxes as nudges arrive, starting with those left from earlier
/// sweeps; when the sweep ends (the queue closes), one last pass covers
/// every outbox in `known` (a nudge dropped on a full queue loses no run).
fn upload_loop(
    client: Client,
    rx: Receiver<PathBuf>,
    known: Arc<Mutex<BTreeSet<PathBuf>>>,
    stop: Arc<AtomicBool>,
    backoff: Backoff,
) -> UploadReport {
    let mut refused: Vec<String> = Vec::new();
    let mut sent = 0;
    let mut halted = false;
    let mut drain_one = |dir: &Path, halted: &mut bool, refused: &mut Vec<String>| -> bool {
        if *halted {
            return false;
        }
        match drain(&client, dir, &backoff, &stop) {
            Ok(Drained::Done { sent: n }) => {
                sent += n;
                true
            }
            Ok(Drained::Pending { sent: n, .. }) => {
                sent += n;
                false
            }
            Ok(Drained::Refused { status, message }) => {
                if !refused.contains(&message) {
                    eprintln!(
                        "wandb: the server refused ({}); uploads stop, results stay in the outboxes for `runner wandb sync`",
                        super::client::SendError::Refused { status, message: message.clone() }
                    );
                    refused.push(message);
                }
                if matches!(status, 401 | 403) {
                    *halted = true;
                }
                false
            }
            Err(e) => {
                eprintln!("wandb: outbox {}: {e}", dir.display());
                false
            }
        }
    };
    let left_over: Vec<PathBuf> = known.lock().map(|k| k.iter().cloned().collect()).unwrap_or_default();
    for dir in &left_over {
        drain_one(dir, &mut halted, &mut refused);
    }
    for dir in &rx {
        drain_one(&dir, &mut halted, &mut refused);
    }
    // The sweep ended: one last pass over every run.
    let known: Vec<PathBuf> = known.lock().map(|k| k.iter().cloned().collect()).unwrap_or_default();
    let mut pending = 0;
    for dir in &known {
        if !drain_one(dir, &mut halted, &mut refused) {
            pending += 1;
        }
    }
    UploadReport { runs: known.len(), sent, pending, refused }
}

impl Tracker {
    /// `None` when tracking is disabled. `left_over`: outboxes of earlier
    /// sweeps with operations still to send (see `sync::outboxes`); online,
    /// they are sent first.
    pub fn start(settings: WandbSettings, experiment: &str, tag: CommitTag, left_over: Vec<PathBuf>) -> Result<Option<Tracker>, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let known = Arc::new(Mutex::new(left_over.into_iter().collect::<BTreeSet<PathBuf>>()));
        let (nudge, uploader) = match settings.mode {
            WandbMode::Disabled => return Ok(None),
            WandbMode::Offline => (None, None),
            WandbMode::Online => {
                if settings.api_key.is_none() {
                    return Err("wandb: no API key (set WANDB_API_KEY or add the host to ~/.netrc), or set WANDB_MODE=offline".into());
                }
                let client = Client::new(settings.clone())?;
                let (tx, rx) = sync_channel(QUEUE);
                let (s, k) = (stop.clone(), known.clone());
                let handle = std::thread::Builder::new()
                    .name("wandb-upload".into())
                    .spawn(move || upload_loop(client, rx, k, s, Backoff::default()))
                    .map_err(|e| format!("wandb: cannot start the upload thread: {e}"))?;
                (Some(tx), Some(handle))
            }
        };
        Ok(Some(Tracker {
            settings,
            experiment: experiment.to_owned(),
            tag,
            live: Mutex::new(HashMap::new()),
            nudge,
            known,
            uploader: Mutex::new(uploader),
            stop,
            warned: AtomicBool::new(false),
        }))
    }

    fn warn(&self, what: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!("wandb: {what} (tracking continues where it can; the sweep is not affected)");
        }
    }

    fn push(&self, run_id: &str, op: Op) {
        let Ok(mut live) = self.live.lock() else { return };
        let Some(l) = live.get_mut(run_id) else { return };
        if let Err(e) = l.outbox.push(op) {
            drop(live);
            self.warn(&e.to_string());
            return;
        }
        let dir = l.outbox.path().to_path_buf();
        drop(live);
        if let Some(tx) = &self.nudge {
            if let Err(TrySendError::Disconnected(_)) = tx.try_send(dir) {
                self.warn("the upload thread stopped");
            }
        }
    }

    /// A run starts (or resumes): its outbox gets the run's upsert, then a
    /// history line for every sample recorded (`recorded`, in file order)
    /// that the outbox does not hold yet: a process killed between a
    /// sample's record and its outbox line loses no line.
    pub fn run_started(&self, run: &RunConfig, run_dir: &Path, prior_seconds: f64, recorded: &[Value]) {
        let outbox = match Outbox::open(&Outbox::dir_of(run_dir)) {
            Ok(o) => o,
            Err(e) => return self.warn(&e.to_string()),
        };
        if let Ok(mut known) = self.known.lock() {
            known.insert(outbox.path().to_path_buf());
        }
        if let Ok(mut live) = self.live.lock() {
            live.insert(run.run_id.0.clone(), Live { outbox, started: Instant::now(), prior_seconds });
        }
        let meta = RunMeta {
            name: wandb_run_name(&run.run_id.0, &self.tag),
            display_name: format!(
                "{}{}/{}/{}{}",
                self.settings.name_prefix.as_deref().map(|p| format!("{p}/")).unwrap_or_default(),
                run.model.name,
                run.dataset.name,
                run.method.name,
                run.seed.map(|s| format!("/seed{s}")).unwrap_or_default()
            ),
            group: self.settings.group.clone().unwrap_or_else(|| self.experiment.clone()),
            tags: self.settings.tags.clone(),
            notes: self.settings.notes.clone(),
            config: config_of(run, &self.tag),
            commit: (self.tag.commit != crate::store::layout::NOGIT).then(|| self.tag.commit.clone()),
            project: self.settings.project.clone(),
            entity: self.settings.entity.clone(),
        };
        self.push(&run.run_id.0, Op::Upsert { run: meta });
        let held = self.live.lock().ok().and_then(|l| l.get(&run.run_id.0).map(|l| l.outbox.history_lines())).unwrap_or(0);
        for (step, record) in recorded.iter().enumerate().skip(held as usize) {
            self.push(&run.run_id.0, Op::History { line: self.history_line(step as u64, prior_seconds, record) });
        }
    }

    /// A sample was recorded as the run's `step`-th (from 0).
    pub fn sample(&self, run_id: &str, step: u64, record: &Value) {
        let runtime =
            self.live.lock().ok().and_then(|l| l.get(run_id).map(|l| l.prior_seconds + l.started.elapsed().as_secs_f64())).unwrap_or(0.0);
        self.push(run_id, Op::History { line: self.history_line(step, runtime, record) });
    }

    /// One history line: W&B's reserved keys, the sample id and the
    /// configured per-sample metrics.
    fn history_line(&self, step: u64, runtime: f64, record: &Value) -> Value {
        let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let mut line = Map::new();
        line.insert("_step".into(), json!(step));
        line.insert("_runtime".into(), json!(runtime));
        line.insert("_timestamp".into(), json!(timestamp));
        line.insert("sample_id".into(), record.get("sample_id").cloned().unwrap_or(Value::Null));
        for m in &self.settings.sample_metrics {
            if let Some(v) = sample_value(m, record) {
                line.insert(m.clone(), v);
            }
        }
        Value::Object(line)
    }

    /// A run ended: its summary, its sample table, completion. The summary
    /// gets every metric of the registry over the run's samples (read from
    /// `samples_file`): the same values as `summary.parquet`.
    pub fn run_finished(&self, run_id: &str, mut summary: Value, samples_file: Option<&Path>, exit_code: i32) {
        if let (Some(path), Some(map)) = (samples_file, summary.as_object_mut()) {
            match run_aggregates(path) {
                Ok(values) => map.extend(values),
                Err(e) => self.warn(&e),
            }
        }
        if let (Some(keep), Some(map)) = (&self.settings.run_metrics, summary.as_object_mut()) {
            map.retain(|k, _| keep.contains(k) || k == "status" || k == "error");
        }
        self.push(run_id, Op::Summary { summary });
        if let (Some(path), true) = (samples_file, self.settings.upload_summary) {
            let stored = path.parent().map_or_else(|| path.to_path_buf(), |run_dir| super::outbox::file_path(run_dir, path));
            self.push(run_id, Op::File { name: "samples.parquet".into(), path: stored, sha256: None });
        }
        self.push(run_id, Op::Complete { exit_code });
        if let Ok(mut live) = self.live.lock() {
            live.remove(run_id);
        }
    }

    /// Attaches the sweep's files (summary table, figures) to every run of
    /// `commit_dir` with an outbox; they go up with the rest.
    pub fn attach_sweep_files(&self, commit_dir: &Path) {
        let files = super::sweep_files::sweep_files(commit_dir, &self.settings);
        let boxes = super::sync::outboxes(&[commit_dir.to_path_buf()]);
        let attached = match super::sweep_files::attach(&boxes, &files) {
            Ok(a) => a,
            Err(e) => return self.warn(&e.to_string()),
        };
        if !attached.busy.is_empty() {
            self.warn(&format!(
                "{} runs of {} are held by another process; their owner or `runner wandb sync` attaches the sweep's files to them",
                attached.busy.len(),
                commit_dir.display()
            ));
        }
        if let Ok(mut known) = self.known.lock() {
            known.extend(attached.written);
        }
    }

    /// Waits up to `grace` for the uploads of the sweep to finish; what is
    /// left stays in the outboxes.
    pub fn finish(self, grace: Duration) -> Option<UploadReport> {
        let Tracker { nudge, uploader, stop, .. } = self;
        drop(nudge);
        let handle = uploader.lock().ok()?.take()?;
        let t = Instant::now();
        while !handle.is_finished() && t.elapsed() < grace {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        handle.join().ok()
    }
}
