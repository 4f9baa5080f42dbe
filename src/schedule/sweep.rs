//! The sweep: every run of the plan that is not complete, on `jobs` worker
//! threads, admitted by estimated memory, runs that name a token-budget
//! peer after that peer. A failed run is recorded and the sweep goes on
//! (unless `fail_fast`); a run locked by another live process stops the
//! sweep with the holder named.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Condvar, Mutex};

use super::engines::{model_key, Engines};
use super::memory::{kv_bytes, model_bytes, Budget};
use super::progress::Progress;
use super::run_one::{execute, RunEnv};
use super::sources::Sources;
use super::{peer, RunFilter, ScheduleError};
use crate::engine::service::EngineOptions;
use crate::plan::{Plan, RunConfig};
use crate::store::lock::LockTiming;
use crate::store::scan::scan;
use crate::store::StoreError;

/// Samples searched at once within a run, unless `--wave` says otherwise.
pub const DEFAULT_WAVE: usize = 16;
/// Bytes of computed prompts each engine keeps, unless `--prompt-cache`
/// says otherwise: about 45 prompts of 1,000 tokens of SmolLM2-135M.
pub const DEFAULT_PROMPT_CACHE_BYTES: u64 = 1_000_000_000;
/// Most samples searched at once within a run.
pub const MAX_WAVE: usize = 1024;

/// Parses `--wave`: 1 to [`MAX_WAVE`].
pub fn parse_wave(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_WAVE).contains(&n) => Ok(n),
        _ => Err(format!("`{s}` is not a wave size: give a whole number from 1 to {MAX_WAVE}")),
    }
}

#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Runs executed at once (at least 1).
    pub jobs: usize,
    /// Memory budget in bytes; `None`: no limit beyond `jobs`.
    pub max_memory: Option<u64>,
    pub only: Option<RunFilter>,
    pub fail_fast: bool,
    /// Samples searched at once within a run.
    pub wave: usize,
    /// Most rows per engine forward pass.
    pub max_rows: usize,
    /// Bytes of computed prompts each model's engine keeps for reuse.
    pub prompt_cache_bytes: u64,
    pub lock_timing: LockTiming,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            jobs: 1,
            max_memory: None,
            only: None,
            fail_fast: false,
            wave: DEFAULT_WAVE,
            max_rows: 256,
            prompt_cache_bytes: DEFAULT_PROMPT_CACHE_BYTES,
            lock_timing: LockTiming::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SweepReport {
    pub planned: usize,
    pub selected: usize,
    pub already_complete: usize,
    pub completed: Vec<String>,
    /// Run id and error.
    pub failed: Vec<(String, String)>,
    /// Runs not started (fail-fast, or a lock held elsewhere).
    pub not_started: usize,
    /// Samples recomputed on resume that differed from their records.
    pub determinism_mismatches: usize,
    pub model_revisions: BTreeMap<String, String>,
    pub data_sha256: BTreeMap<String, String>,
}

struct State {
    queue: Vec<usize>,
    running: usize,
    budget: Budget,
    done: HashSet<String>,
    failed: HashSet<String>,
    /// Runs still to finish per model key (their engine is released at 0).
    remaining: BTreeMap<String, usize>,
    stop: Option<ScheduleError>,
    report: SweepReport,
}

struct Shared<'a> {
    runs: Vec<&'a RunConfig>,
    estimates: Vec<(String, u64, u64)>,
    state: Mutex<State>,
    wake: Condvar,
}

enum Next {
    Run(usize),
    Wait,
    Done,
}

fn pick(shared: &Shared<'_>, st: &mut State, all: &[RunConfig]) -> Next {
    if st.stop.is_some() || st.queue.is_empty() {
        return if st.running == 0 || st.queue.is_empty() { Next::Done } else { Next::Wait };
    }
    let mut blocked_on_peer = false;
    let mut i = 0;
    while i < st.queue.len() {
        let r = st.queue[i];
        let run = shared.runs[r];
        if let Ok(Some(p)) = peer::peer_of(run, all) {
            if st.failed.contains(&p.run_id.0) {
                st.queue.remove(i);
                let msg = format!("token_budget_from: its peer run {} failed", p.run_id);
                st.report.failed.push((run.run_id.0.clone(), msg));
                st.failed.insert(run.run_id.0.clone());
                continue;
            }
            if !st.done.contains(&p.run_id.0) {
                blocked_on_peer = true;
                i += 1;
                continue;
            }
        }
        let (model, w, kv) = &shared.estimates[r];
        if st.budget.fits(model, *w, *kv) {
            st.queue.remove(i);
            st.budget.take(model, *w, *kv);
            st.running += 1;
            return Next::Run(r);
        }
        i += 1;
    }
    if st.running == 0 && blocked_on_peer {
        // Peers outside this selection that are not complete: the waiting
        // runs cannot start.
        for r in std::mem::take(&mut st.queue) {
            let run = shared.runs[r];
            st.report.failed.push((run.run_id.0.clone(), "token_budget_from: its peer run is neither complete nor selected to run".into()));
        }
        return Next::Done;
    }
    Next::Wait
}

fn worker(shared: &Shared<'_>, env: &RunEnv<'_>, engines: &Engines, fail_fast: bool) {
    loop {
        let next = {
            let Ok(mut st) = shared.state.lock() else { return };
            loop {
                match pick(shared, &mut st, env.all_runs) {
                    Next::Wait => match shared.wake.wait(st) {
                        Ok(g) => st = g,
                        Err(_) => return,
                    },
                    other => break other,
                }
            }
        };
        let Next::Run(r) = next else {
            shared.wake.notify_all();
            return;
        };
        let run = shared.runs[r];
        let result = execute(env, run);
        let Ok(mut st) = shared.state.lock() else { return };
        let (model, _, kv) = &shared.estimates[r];
        st.budget.give(model, *kv);
        st.running -= 1;
        if let Some(n) = st.remaining.get_mut(model) {
            *n -= 1;
            if *n == 0 {
                engines.release(model);
            }
        }
        let id = run.run_id.0.clone();
        match result {
            Ok(done) => {
                let p = done.prompt_cache;
                let prompts =
                    if p.lookups == 0 { String::new() } else { format!(", {} of {} prompts from the prompt cache", p.hits, p.lookups) };
                env.progress
                    .run_finished(&id, &format!("complete, {} samples, mean batch {:.1} rows{prompts}", done.samples, done.mean_batch));
                st.report.model_revisions.insert(run.model.name.clone(), done.model_revision);
                st.report.data_sha256.insert(run.dataset.name.clone(), done.data_sha256);
                st.report.determinism_mismatches += done.mismatches;
                st.report.completed.push(id.clone());
                st.done.insert(id);
            }
            Err(ScheduleError::Store(e @ StoreError::Locked { .. })) => {
                env.progress.run_finished(&id, "not started: locked by another process");
                st.stop = Some(ScheduleError::Store(e));
            }
            Err(e) => {
                env.progress.run_finished(&id, &format!("FAILED: {e}"));
                st.report.failed.push((id.clone(), e.to_string()));
                st.failed.insert(id);
                if fail_fast {
                    st.stop = Some(ScheduleError::Run(format!("stopped after the first failure (--fail-fast): run {}: {e}", run.run_id)));
                }
            }
        }
        drop(st);
        shared.wake.notify_all();
    }
}

/// Executes every selected, incomplete run of `plan` into `commit_dir`.
pub fn execute_sweep(
    plan: &Plan,
    commit_dir: &Path,
    sources: &Sources,
    options: &SweepOptions,
    progress: &dyn Progress,
    tracker: Option<&crate::track::Tracker>,
) -> Result<SweepReport, ScheduleError> {
    let states = scan(commit_dir, &plan.runs)?;
    let mut report = SweepReport { planned: plan.runs.len(), ..SweepReport::default() };
    let mut selected: Vec<&RunConfig> = Vec::new();
    for (run, state) in plan.runs.iter().zip(&states) {
        if options.only.as_ref().is_some_and(|f| !f.matches(run)) {
            continue;
        }
        report.selected += 1;
        if state.is_complete() {
            report.already_complete += 1;
        } else {
            selected.push(run);
        }
    }
    selected.sort_by_key(|r| execution_order(r));
    let done: HashSet<String> = plan.runs.iter().zip(&states).filter(|(_, s)| s.is_complete()).map(|(r, _)| r.run_id.0.clone()).collect();
    let mut weights_cache: BTreeMap<String, u64> = BTreeMap::new();
    let mut estimates: Vec<(String, u64, u64)> = Vec::with_capacity(selected.len());
    for r in &selected {
        let key = model_key(r);
        // The weights and the prompt cache, once per model. Under a memory
        // budget every model is sized, a hub model downloaded first if it
        // must be; without one the sizes decide nothing.
        let w = match weights_cache.get(&key) {
            Some(w) => *w,
            None => {
                let bytes = match options.max_memory {
                    // A model that cannot be sized fails its own runs when
                    // they load it; the other models' runs go on.
                    Some(_) => model_bytes(&r.model.source, sources, true).unwrap_or_else(|e| {
                        progress.message(&format!("--max-memory: cannot size model {key} ({e}); its runs count no weights"));
                        0
                    }),
                    None => 0,
                };
                let w = bytes.saturating_add(options.prompt_cache_bytes);
                weights_cache.insert(key.clone(), w);
                w
            }
        };
        estimates.push((key, w, kv_bytes(r, options.wave)));
    }
    let mut remaining = BTreeMap::new();
    for (k, _, _) in &estimates {
        *remaining.entry(k.clone()).or_insert(0) += 1;
    }
    let engines = Engines::new(EngineOptions {
        max_rows: options.max_rows,
        prompt_cache_bytes: usize::try_from(options.prompt_cache_bytes).unwrap_or(usize::MAX),
    });
    let shared = Shared {
        estimates,
        state: Mutex::new(State {
            queue: (0..selected.len()).collect(),
            running: 0,
            budget: Budget::new(options.max_memory),
            done,
            failed: HashSet::new(),
            remaining,
            stop: None,
            report,
        }),
        runs: selected,
        wake: Condvar::new(),
    };
    let env = RunEnv {
        commit_dir,
        sources,
        engines: &engines,
        wave: options.wave.max(1),
        lock_timing: options.lock_timing,
        progress,
        all_runs: &plan.runs,
        tracker,
    };
    std::thread::scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|| worker(&shared, &env, &engines, options.fail_fast));
        }
    });
    let mut st = shared.state.into_inner().map_err(|_| ScheduleError::Run("a worker panicked".into()))?;
    st.report.not_started = st.queue.len();
    match st.stop.take() {
        Some(e @ ScheduleError::Store(_)) => Err(e),
        Some(e) => {
            progress.message(&e.to_string());
            Ok(st.report)
        }
        None => Ok(st.report),
    }
}

/// Where a run comes in the order runs start. Peers first: a run that
/// names a token budget waits for its peer. Then runs that share prompts
/// (one model, one dataset) next to each other, so that the engine's prompt
/// cache still holds their prompts. (`sort_by_key` is stable: plan order
/// within each.)
pub(crate) fn execution_order(r: &RunConfig) -> (bool, String, String) {
    (r.method.params.token_budget_from.is_some(), model_key(r), r.dataset.name.clone())
}
