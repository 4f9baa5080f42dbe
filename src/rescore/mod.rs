//! `runner rescore`: the recorded outputs of a results directory read and
//! scored again by this build's task code (parsing, metrics, rewards),
//! without a model, into a new results directory
//! `<this tag>-rescore-<their tag>`. A parser or metric fix then costs a
//! rescore, not a run.
//!
//! Each record keeps everything the search produced (its output text and
//! tokens, counters, tree, seed, timing); `reward`, `parse_status`,
//! `answer`, `truth` and `metrics` are recomputed from the output, with the
//! serialization and history the sample's prompt was built with (both in
//! the record). The search itself is not repeated: a method that chose its
//! output by reward (best-of-N, the tree methods) chose it under the old
//! reward, and only a new run shows what it would choose under the new one.
//!
//! The new directory is built under a temporary name and renamed into place
//! whole; the directory read is never written.

mod record;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::plan::{DatasetRef, RunConfig};
use crate::schedule::sources::Sources;
use crate::store::layout::{run_dir, RUN_JSON, SAMPLES_JSONL, SAMPLES_PARQUET};
use crate::store::plan_file::PlanFile;
use crate::store::provenance::{Machine, RescoreOrigin};
use crate::store::row::{RunColumns, SampleRow};
use crate::store::{jsonl, write_samples_parquet, CommitTag, RunFile, RunStatus, StoreError};
use crate::tasks::forecast::llmtime::LlmTimeOptions;
use crate::tasks::{Sample, Task, TaskError};

pub use record::{rescore_record, RecordChange, RecordError};

#[derive(Debug, thiserror::Error)]
pub enum RescoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Fetch(#[from] crate::assets::FetchError),
    #[error("{}: {source}", path.display())]
    Task { path: PathBuf, source: TaskError },
    #[error("{}: no plan.json: not a results directory `runner run` wrote", dir.display())]
    NoPlan { dir: PathBuf },
    #[error("{}: already exists; these records were rescored at this commit before (remove the directory to rescore them again)", dir.display())]
    Exists { dir: PathBuf },
    #[error("{}: dataset `{dataset}`: the data's sha256 is {now}, but the records were made from {recorded}; restore the data they were made from", path.display())]
    DataChanged { path: PathBuf, dataset: String, recorded: String, now: String },
    #[error("{}: line {line}: {message}", path.display())]
    Record { path: PathBuf, line: usize, message: String },
    #[error("{}: line {line}: sample `{sample}` is not in {} (dataset `{dataset}`); restore the data the records were made from", records.display(), data.display())]
    NotInData { records: PathBuf, line: usize, sample: String, data: PathBuf, dataset: String },
}

impl RescoreError {
    /// 2 for what the user can fix (the input), 1 for the machine.
    pub fn exit_code(&self) -> u8 {
        match self {
            RescoreError::NoPlan { .. } | RescoreError::Exists { .. } | RescoreError::DataChanged { .. } => 2,
            RescoreError::NotInData { .. } => 2,
            RescoreError::Fetch(e) => e.exit_code(),
            RescoreError::Store(StoreError::NoResults { .. }) => 2,
            RescoreError::Store(_) | RescoreError::Task { .. } | RescoreError::Record { .. } => 1,
        }
    }
}

/// What rescoring one run changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunRescored {
    pub run_id: String,
    /// `model/dataset/method`.
    pub label: String,
    pub records: usize,
    /// Records whose reward, parse status or metrics changed.
    pub reward_changed: usize,
    pub parse_status_changed: usize,
    pub metrics_changed: usize,
}

/// What `rescore` did.
#[derive(Debug, Clone, Serialize)]
pub struct Rescored {
    pub from: PathBuf,
    pub to: PathBuf,
    pub runs: Vec<RunRescored>,
}

/// The directory name of `tag`'s rescore of the results named `source`
/// (a rescore of a rescore names the results the outputs came from).
pub fn target_name(tag: &CommitTag, source: &str) -> String {
    let origin = source.split_once("-rescore-").map_or(source, |(_, from)| from);
    format!("{tag}-rescore-{origin}")
}

/// Rescores every recorded run of `source` (a results directory) into
/// `target`, with the data sources of `spec` (the experiment file: where
/// relative paths and the lock file are).
pub fn rescore(spec: &Path, source: &Path, target: &Path, tag: &CommitTag) -> Result<Rescored, RescoreError> {
    let plan = PlanFile::read(source)?.ok_or_else(|| RescoreError::NoPlan { dir: source.to_path_buf() })?;
    if target.exists() {
        return Err(RescoreError::Exists { dir: target.to_path_buf() });
    }
    // Only the data of runs that have records is needed.
    let recorded: Vec<RunConfig> = plan.runs.iter().filter(|r| run_dir(source, &r.run_id.0).join(RUN_JSON).is_file()).cloned().collect();
    let sources = Sources::cached(&recorded, spec)?;
    let building = crate::store::tmp_name(target);
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(StoreError::io(&building))?;
    }
    let result = build(&plan, &sources, source, &building, tag);
    match result {
        Ok(runs) => match std::fs::rename(&building, target) {
            Ok(()) => Ok(Rescored { from: source.to_path_buf(), to: target.to_path_buf(), runs }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&building);
                // Another rescore to the same name finished first.
                if target.exists() {
                    return Err(RescoreError::Exists { dir: target.to_path_buf() });
                }
                Err(StoreError::Io { path: target.to_path_buf(), source: e }.into())
            }
        },
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            Err(e)
        }
    }
}

/// Writes the rescored results of `plan` (read from `source`) into `out`.
fn build(plan: &PlanFile, sources: &Sources, source: &Path, out: &Path, tag: &CommitTag) -> Result<Vec<RunRescored>, RescoreError> {
    let mut tasks = Tasks::default();
    let mut done = Vec::new();
    for run in &plan.runs {
        let dir = run_dir(source, &run.run_id.0);
        let Some(file) = RunFile::read(&dir.join(RUN_JSON))? else { continue };
        let samples_path = dir.join(SAMPLES_JSONL);
        let records = jsonl::read(&samples_path)?.values;
        let out_dir = run_dir(out, &run.run_id.0);
        let mut changes = RunRescored {
            run_id: run.run_id.0.clone(),
            label: format!("{}/{}/{}", run.model.name, run.dataset.name, run.method.name),
            records: records.len(),
            ..RunRescored::default()
        };
        let mut lines = Vec::with_capacity(records.len());
        if !records.is_empty() {
            let (task, samples, data) = tasks.get(sources, &run.dataset, &records[0])?;
            for (i, old) in records.iter().enumerate() {
                let line = i + 1;
                let (new, change) = rescore_record(old, task, samples).map_err(|e| match e {
                    RecordError::NotInData(sample) => RescoreError::NotInData {
                        records: samples_path.clone(),
                        line,
                        sample,
                        data: data.to_path_buf(),
                        dataset: run.dataset.name.clone(),
                    },
                    RecordError::Malformed(message) => RescoreError::Record { path: samples_path.clone(), line, message },
                })?;
                changes.reward_changed += usize::from(change.reward);
                changes.parse_status_changed += usize::from(change.parse_status);
                changes.metrics_changed += usize::from(change.metrics);
                lines.push(new);
            }
        }
        jsonl::write_new(&out_dir.join(SAMPLES_JSONL), &lines)?;
        if file.status == RunStatus::Complete && dir.join(SAMPLES_PARQUET).exists() {
            // In sample order, one row per sample, as a run writes it.
            let by_index: BTreeMap<u64, &serde_json::Value> =
                lines.iter().map(|v| (v.get("sample_index").and_then(serde_json::Value::as_u64).unwrap_or(u64::MAX), v)).collect();
            let columns = RunColumns::of(run);
            let rows: Vec<SampleRow> = by_index.values().map(|v| SampleRow::from_record(v, &columns)).collect();
            write_samples_parquet(&out_dir.join(SAMPLES_PARQUET), &rows)?;
        }
        file.write(&out_dir.join(RUN_JSON))?;
        done.push(changes);
    }
    write_plan(plan, out, tag)?;
    crate::store::summary::write_summary(out, &plan.runs, crate::store::lock::LockTiming::default())?;
    Ok(done)
}

/// The source's plan with this build's provenance and where the outputs
/// came from.
fn write_plan(plan: &PlanFile, out: &Path, tag: &CommitTag) -> Result<(), StoreError> {
    let mut next = plan.clone();
    let before = &plan.provenance;
    let origin = before.rescored_from.clone().unwrap_or_else(|| RescoreOrigin {
        tag: before.commit.to_string(),
        commit: before.commit.clone(),
        runner_version: before.runner_version.clone(),
        rescored_at: String::new(),
    });
    next.provenance.rescored_from = Some(RescoreOrigin { rescored_at: crate::store::now_rfc3339(), ..origin });
    next.provenance.commit = tag.clone();
    next.provenance.runner_version = env!("CARGO_PKG_VERSION").into();
    next.provenance.machine = Machine::current();
    next.write(out)
}

/// Each dataset entry's task and its samples by id, loaded once.
#[derive(Default)]
struct Tasks {
    loaded: HashMap<String, Loaded>,
}

struct Loaded {
    task: Task,
    by_id: HashMap<String, Sample>,
    path: PathBuf,
}

impl Tasks {
    /// The task of `d`, its samples by id and its data path; the data must
    /// be the data `first` (a record of the run) was made from.
    fn get(
        &mut self,
        sources: &Sources,
        d: &DatasetRef,
        first: &serde_json::Value,
    ) -> Result<(&Task, &HashMap<String, Sample>, &Path), RescoreError> {
        let key = serde_json::to_string(d).unwrap_or_else(|_| d.name.clone());
        if !self.loaded.contains_key(&key) {
            let path = sources.data_path(&d.source)?;
            let task = Task::load(&path, d.format, d.split)
                .map_err(|source| RescoreError::Task { path: path.clone(), source })?
                .for_dataset(d, LlmTimeOptions::default());
            let by_id = task.dataset.samples.iter().map(|s| (s.id().to_owned(), s.clone())).collect();
            self.loaded.insert(key.clone(), Loaded { task, by_id, path });
        }
        let Loaded { task, by_id, path } = &self.loaded[&key];
        let recorded = first.get("data_sha256").and_then(serde_json::Value::as_str).unwrap_or_default();
        if recorded != task.dataset.sha256 {
            return Err(RescoreError::DataChanged {
                path: path.clone(),
                dataset: d.name.clone(),
                recorded: recorded.to_owned(),
                now: task.dataset.sha256.clone(),
            });
        }
        Ok((task, by_id, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rescore_is_named_after_the_results_its_outputs_came_from() {
        let tag = CommitTag { commit: "c".repeat(40), dirty: None };
        assert_eq!(target_name(&tag, "aaaaaaaaaaaa"), "cccccccccccc-rescore-aaaaaaaaaaaa");
        // A rescore of a rescore: the outputs came from `aaaa…`.
        assert_eq!(target_name(&tag, "bbbbbbbbbbbb-rescore-aaaaaaaaaaaa"), "cccccccccccc-rescore-aaaaaaaaaaaa");
        let dirty = CommitTag { commit: "c".repeat(40), dirty: Some("0123abcd".into()) };
        assert_eq!(target_name(&dirty, "bbbbbbbbbbbb-dirty-99999999"), "cccccccccccc-dirty-0123abcd-rescore-bbbbbbbbbbbb-dirty-99999999");
    }
}
