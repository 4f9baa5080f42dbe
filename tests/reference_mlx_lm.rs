//! The engine against an independent implementation: mlx-lm 0.32.2 (in the
//! project venv, same libmlx) computes logits for the same token ids from the
//! same weights. f32 logits of the last position agree within 1e-4.
//!
//! SmolLM2 is compared through `runner model convert`; architectures and
//! formats without a real file here are compared on tiny random-weight models
//! written by scripts/peer/reference.py.

use crate::common;
use crate::hub_fake;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use mlx_rs::Dtype;
use runner::engine::convert::{convert, convert_gguf, Quantization};
use runner::engine::gguf::Gguf;
use runner::engine::model::{load, ComputeDtype, LoadedModel};
use runner::engine::tokenizer::TextTokenizer;

const TOL: f32 = 1e-4;

/// MLX work in this binary runs one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn smollm2() -> PathBuf {
    runner::assets::resolve("models/SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn python() -> PathBuf {
    let p = common::root().join(".venv/bin/python");
    assert!(p.exists(), "{} is missing: run `make setup`", p.display());
    p
}

fn script() -> PathBuf {
    common::root().join("scripts/peer/reference.py")
}

fn run_py(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(python())
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "reference.py {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Logits from mlx-lm; `flags` among `--float32` (compute in f32) and
/// `--dequantize` (expand quantized weights first, as the engine does on CPU).
fn reference_logits(dir: &Path, prompts: &[Vec<u32>], flags: &[&str]) -> Vec<Vec<f32>> {
    let input = serde_json::json!({ "prompts": prompts }).to_string();
    let mut args = vec!["logits", dir.to_str().unwrap()];
    args.extend_from_slice(flags);
    let out: serde_json::Value = serde_json::from_str(&run_py(&args, Some(&input))).unwrap();
    out["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect()
}

fn our_logits(m: &LoadedModel, prompts: &[Vec<u32>]) -> Vec<Vec<f32>> {
    prompts.iter().map(|p| common::fresh_last_logits(m, p)).collect()
}

fn assert_close(ours: &[Vec<f32>], theirs: &[Vec<f32>], what: &str) {
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert_eq!(a.len(), b.len(), "{what}: vocab sizes");
        let d = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(d <= TOL, "{what}, prompt {i}: max |Δlogit| = {d:e} > {TOL:e}");
    }
}

/// Tokenizer files of SmolLM2 (from its GGUF) plus the vocabulary size, as
/// the tiny models' tokenizer.
fn tokenizer_dir(dir: &Path) -> PathBuf {
    let out = dir.join("tokenizer");
    std::fs::create_dir_all(&out).unwrap();
    let gguf = Gguf::open(&smollm2()).unwrap();
    let tok = TextTokenizer::from_gguf(&gguf).unwrap();
    tok.save_dir(&out, Some(2048)).unwrap();
    std::fs::write(out.join("config.json"), format!("{{\"vocab_size\": {}}}", tok.vocab_size())).unwrap();
    out
}

fn prompts(tok: &TextTokenizer) -> Vec<Vec<u32>> {
    ["The capital of France is", "Series: 112, 118, 132, 129, 121, 135,", "<|im_start|>user\nHi<|im_end|>\n"]
        .iter()
        .map(|t| tok.encode(t).unwrap())
        .collect()
}

#[test]
fn smollm2_converted_matches_mlx_lm() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("smollm2");
    convert_gguf(&smollm2(), &dir, None).expect("convert");
    let ours = load(dir.to_str().unwrap(), Dtype::Float32).unwrap();
    let from_gguf = load(smollm2().to_str().unwrap(), Dtype::Float32).unwrap();
    let ps = prompts(&ours.tokenizer);
    assert_eq!(ps, prompts(&from_gguf.tokenizer), "the converted tokenizer encodes alike");
    let theirs = reference_logits(&dir, &ps, &[]);
    assert_close(&our_logits(&ours, &ps), &theirs, "converted directory");
    assert_close(&our_logits(&from_gguf, &ps), &theirs, "GGUF loaded directly");
}

fn tiny_case(arch: &str, extra: &[&str], reference_flags: &[&str]) {
    tiny_case_as(arch, extra, reference_flags, ComputeDtype::F32)
}

fn tiny_case_as(arch: &str, extra: &[&str], reference_flags: &[&str], compute: ComputeDtype) {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let tok = tokenizer_dir(tmp.path());
    let dir = tmp.path().join("tiny");
    let mut args = vec!["tiny", dir.to_str().unwrap(), "--arch", arch, "--tokenizer-from", tok.to_str().unwrap()];
    args.extend_from_slice(extra);
    run_py(&args, None);
    let ours = load(dir.to_str().unwrap(), compute).unwrap_or_else(|e| panic!("{arch} {extra:?}: {e}"));
    let ps = prompts(&ours.tokenizer);
    let theirs = reference_logits(&dir, &ps, reference_flags);
    assert_close(&our_logits(&ours, &ps), &theirs, &format!("{arch} {extra:?}"));
}

#[test]
fn tiny_llama_matches() {
    tiny_case("llama", &[], &[]);
}

#[test]
fn tiny_mistral_matches() {
    tiny_case("mistral", &[], &[]);
}

#[test]
fn tiny_qwen2_with_qkv_bias_matches() {
    tiny_case("qwen2", &[], &[]);
}

#[test]
fn tiny_llama3_rope_scaling_matches() {
    tiny_case("llama3", &[], &[]);
}

#[test]
fn tiny_bf16_weights_match() {
    tiny_case("llama", &["--dtype", "bfloat16"], &["--float32"]);
}

#[test]
fn tiny_mlx_4bit_matches() {
    tiny_case("llama", &["--quantize", "4"], &["--dequantize"]);
}

/// Kept quantized, the engine runs MLX's quantized matmul as mlx-lm does.
#[test]
fn tiny_mlx_4bit_kept_quantized_matches() {
    tiny_case_as("llama", &["--quantize", "4"], &[], ComputeDtype::Quantized);
}

#[test]
fn tiny_mlx_8bit_matches() {
    tiny_case("qwen2", &["--quantize", "8"], &["--dequantize"]);
}

fn tiny_gguf_case(qtype: &str) {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let tok = tokenizer_dir(tmp.path());
    let gguf = tmp.path().join("tiny.gguf");
    let refdir = tmp.path().join("reference");
    run_py(
        &[
            "tiny-gguf",
            gguf.to_str().unwrap(),
            refdir.to_str().unwrap(),
            "--qtype",
            qtype,
            "--tokenizer-gguf",
            smollm2().to_str().unwrap(),
            "--tokenizer-from",
            tok.to_str().unwrap(),
        ],
        None,
    );
    let ours = load(gguf.to_str().unwrap(), Dtype::Float32).unwrap_or_else(|e| panic!("{qtype}: {e}"));
    let ps = prompts(&ours.tokenizer);
    let theirs = reference_logits(&refdir, &ps, &[]);
    assert_close(&our_logits(&ours, &ps), &theirs, &format!("GGUF {qtype}"));
}

#[test]
fn tiny_gguf_q8_0_matches() {
    tiny_gguf_case("Q8_0");
}

#[test]
fn tiny_gguf_q4_0_matches() {
    tiny_gguf_case("Q4_0");
}

#[test]
fn tiny_gguf_f16_matches() {
    tiny_gguf_case("F16");
}

#[test]
fn converted_4bit_model_loads_and_runs() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("q4");
    convert_gguf(&smollm2(), &dir, Some(Quantization { bits: 4, group_size: 64 })).unwrap();
    let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["quantization"]["bits"], 4);
    let ours = load(dir.to_str().unwrap(), Dtype::Float32).unwrap();
    assert!(ours.format.contains("4-bit"));
    let ps = prompts(&ours.tokenizer);
    assert_close(&our_logits(&ours, &ps), &reference_logits(&dir, &ps, &["--dequantize"]), "converted 4-bit");
}

/// The tensors of a model directory's `model.safetensors`, by name.
fn tensors(dir: &Path) -> std::collections::HashMap<String, mlx_rs::Array> {
    mlx_rs::Array::load_safetensors(dir.join("model.safetensors")).unwrap()
}

/// Asserts that two model directories hold the same tensor names, shapes,
/// dtypes and bits; returns the names.
fn assert_same_tensors(ours: &Path, theirs: &Path, what: &str) -> Vec<String> {
    let (a, b) = (tensors(ours), tensors(theirs));
    let mut names: Vec<String> = a.keys().cloned().collect();
    names.sort();
    let mut other: Vec<String> = b.keys().cloned().collect();
    other.sort();
    assert_eq!(names, other, "{what}: tensor names");
    for n in &names {
        assert_eq!((a[n].shape(), a[n].dtype()), (b[n].shape(), b[n].dtype()), "{what}: {n}");
        assert!(a[n].eq_values(&b[n]).unwrap(), "{what}: {n} differs");
    }
    names
}

/// A model directory's `config.json`.
fn config_of(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

/// `runner model convert SRC DST FLAGS...`, which must succeed.
fn convert_with_cli(src: &Path, dst: &Path, flags: &[&str]) {
    let out = common::runner().args(["model", "convert"]).arg(src).arg(dst).args(flags).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
}

/// `reference.py tiny` of the qwen2 test model (seed 0) in bf16 into `dir`,
/// with `extra` flags.
fn tiny_bf16_qwen2(dir: &Path, tok: &Path, extra: &[&str]) {
    let mut args = vec!["tiny", dir.to_str().unwrap(), "--arch", "qwen2", "--tokenizer-from", tok.to_str().unwrap(), "--dtype", "bfloat16"];
    args.extend_from_slice(extra);
    run_py(&args, None);
}

/// A safetensors directory converts as its GGUF does: SmolLM2's GGUF
/// written dense, then that directory quantized, gives bit for bit the
/// tensors of the GGUF quantized directly.
#[test]
fn a_safetensors_directory_quantizes_to_the_tensors_of_its_gguf() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let q = Some(Quantization { bits: 4, group_size: 64 });
    let (dense, from_dir, from_gguf) = (tmp.path().join("dense"), tmp.path().join("q_dir"), tmp.path().join("q_gguf"));
    convert_gguf(&smollm2(), &dense, None).unwrap();
    convert(&dense, &from_dir, q).unwrap();
    convert(&smollm2(), &from_gguf, q).unwrap();
    let names = assert_same_tensors(&from_dir, &from_gguf, "directory against GGUF");
    assert!(names.iter().any(|n| n.ends_with(".scales")), "quantized");
    assert_eq!(config_of(&from_dir)["quantization"], serde_json::json!({"group_size": 64, "bits": 4}));
    for f in ["tokenizer.json", "tokenizer_config.json"] {
        assert_eq!(std::fs::read(dense.join(f)).unwrap(), std::fs::read(from_dir.join(f)).unwrap(), "{f} copied");
    }
    // A quantized directory is not quantized again, and nothing is overwritten.
    let err = convert(&from_dir, &tmp.path().join("again"), q).unwrap_err().to_string();
    assert!(err.contains("already quantized") && err.contains("`quantization`"), "{err}");
    assert!(!tmp.path().join("again").exists());
    let err = convert(&dense, &from_gguf, q).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
}

/// A Hugging Face style directory (qwen2 with qkv biases, bf16 weights in
/// two shards) converted to 8 bits runs as mlx-lm runs the same directory.
#[test]
fn a_sharded_bf16_qwen2_directory_converts_to_8_bits_as_mlx_lm_reads_it() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let tok = tokenizer_dir(tmp.path());
    let src = tmp.path().join("hf");
    tiny_bf16_qwen2(&src, &tok, &["--shards", "2"]);
    assert!(src.join("model.safetensors.index.json").is_file());
    let dst = tmp.path().join("q8");
    convert_with_cli(&src, &dst, &["--quantize", "8"]);
    let config = config_of(&dst);
    assert_eq!((config["model_type"].as_str(), config["quantization"]["bits"].as_i64()), (Some("qwen2"), Some(8)));
    let ours = load(dst.to_str().unwrap(), Dtype::Float32).unwrap();
    assert!(ours.format.contains("8-bit"), "{}", ours.format);
    let ps = prompts(&ours.tokenizer);
    assert_close(&our_logits(&ours, &ps), &reference_logits(&dst, &ps, &["--dequantize"]), "converted qwen2 8-bit");
    // The quantization is the one the reference writes for the same bf16
    // weights (same rule, groups of 32): tensor for tensor, bit for bit.
    let grouped = tmp.path().join("q8g32");
    convert_with_cli(&src, &grouped, &["--quantize", "8", "--group-size", "32"]);
    let theirs = tmp.path().join("theirs");
    tiny_bf16_qwen2(&theirs, &tok, &["--quantize", "8"]);
    assert_same_tensors(&grouped, &theirs, "against the reference's quantization");
}

/// A repo id resolves through the local hub cache layout to its snapshot,
/// and the commit becomes the recorded revision; a missing one names the
/// repo and the cache path.
#[test]
fn hub_cache_references_resolve_offline() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let tok = tokenizer_dir(tmp.path());
    let cache = tmp.path().join("hub");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    let repo_dir = cache.join("models--tiny-org--tiny-llama");
    std::fs::create_dir_all(repo_dir.join("refs")).unwrap();
    std::fs::create_dir_all(repo_dir.join("snapshots")).unwrap();
    std::fs::write(repo_dir.join("refs/main"), commit).unwrap();
    let snap = repo_dir.join("snapshots").join(commit);
    run_py(&["tiny", snap.to_str().unwrap(), "--arch", "llama", "--tokenizer-from", tok.to_str().unwrap()], None);

    let info = json_of(&hub_runner(&["info", "tiny-org/tiny-llama", "--json"], None, &cache, true));
    assert_eq!(info["revision"], commit);
    assert_eq!(info["layers"], 2);

    let out = hub_runner(&["info", "tiny-org/absent"], None, &cache, true);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("tiny-org/absent") && err.contains(&cache.display().to_string()), "{err}");
}

/// `runner model <args>` with the hub at `endpoint` (None: the default
/// one) and the cache at `cache`; offline sets HF_HUB_OFFLINE=1.
fn hub_runner(args: &[&str], endpoint: Option<&str>, cache: &Path, offline: bool) -> std::process::Output {
    let mut cmd = common::runner();
    cmd.args(["model"]).args(args).env("HF_HUB_CACHE", cache).env_remove("HF_TOKEN");
    match endpoint {
        Some(e) => cmd.env("HF_ENDPOINT", e),
        None => cmd.env_remove("HF_ENDPOINT"),
    };
    if offline {
        cmd.env("HF_HUB_OFFLINE", "1");
    } else {
        cmd.env_remove("HF_HUB_OFFLINE");
    }
    cmd.output().unwrap()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", common::stderr(out));
    serde_json::from_str(&common::stdout(out)).unwrap()
}

/// Online resolution through a hub endpoint (a local server speaking the
/// hub's API and resolve protocol): a sharded repository is downloaded into
/// the standard cache layout, which huggingface_hub itself then finds; the
/// model equals the published directory; later calls fetch nothing; a tag
/// names the same commit; offline and unreachable-hub calls use the cache;
/// a missing repository is a clear error.
#[test]
fn hub_downloads_into_the_standard_cache() {
    let _g = serial();
    let tmp = tempfile::tempdir().unwrap();
    let tok = tokenizer_dir(tmp.path());
    let published = tmp.path().join("published");
    run_py(&["tiny", published.to_str().unwrap(), "--arch", "llama", "--tokenizer-from", tok.to_str().unwrap(), "--shards", "2"], None);
    let hub = hub_fake::start();
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    hub.publish("tiny-org/sharded", sha, published.clone(), &["main", "v1"]);
    let cache = tmp.path().join("hub");
    let repo_dir = cache.join("models--tiny-org--sharded");

    let info = json_of(&hub_runner(&["info", "tiny-org/sharded", "--json"], Some(&hub.url), &cache, false));
    assert_eq!(info["revision"], sha);
    assert_eq!(info["layers"], 2);
    assert_eq!(std::fs::read_to_string(repo_dir.join("refs/main")).unwrap().trim(), sha);
    let snap = repo_dir.join("snapshots").join(sha);
    for name in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ] {
        let ours = std::fs::read(snap.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours, std::fs::read(published.join(name)).unwrap(), "{name} differs from the published file");
    }
    let blobs = std::fs::read_dir(repo_dir.join("blobs")).unwrap().count();
    assert!(blobs >= 6, "{blobs} blobs");

    // huggingface_hub, offline, finds the same snapshot in that cache.
    let py = Command::new(python())
        .args(["-c", "import sys; from huggingface_hub import snapshot_download as s; print(s(sys.argv[1], cache_dir=sys.argv[2], local_files_only=True))", "tiny-org/sharded", cache.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    assert_eq!(PathBuf::from(String::from_utf8_lossy(&py.stdout).trim()), snap);

    // The downloaded model is the published one.
    let gen = |model: &str, offline: bool| {
        let out =
            hub_runner(&["generate", model, "--prompt", "Hello there", "--max-tokens", "4", "--json"], Some(&hub.url), &cache, offline);
        let v = json_of(&out);
        (v["generated_ids"].clone(), v["logprobs"].clone(), v["top10"].clone())
    };
    assert_eq!(gen("tiny-org/sharded", false), gen(published.to_str().unwrap(), true));

    // Again online: the API is asked for the commit, no file is fetched.
    let fetched = hub.requests_with("/resolve/").len();
    json_of(&hub_runner(&["info", "tiny-org/sharded", "--json"], Some(&hub.url), &cache, false));
    assert_eq!(hub.requests_with("/resolve/").len(), fetched);
    // A tag of the same commit: its ref is written, nothing fetched.
    let tagged = json_of(&hub_runner(&["info", "tiny-org/sharded@v1", "--json"], Some(&hub.url), &cache, false));
    assert_eq!(tagged["revision"], sha);
    assert_eq!(std::fs::read_to_string(repo_dir.join("refs/v1")).unwrap().trim(), sha);
    assert_eq!(hub.requests_with("/resolve/").len(), fetched);

    // Offline: no request at all.
    let before = hub.request_count();
    assert_eq!(json_of(&hub_runner(&["info", "tiny-org/sharded", "--json"], Some(&hub.url), &cache, true))["revision"], sha);
    assert_eq!(hub.request_count(), before);

    // A repository the hub does not have: the error names it, the status and the endpoint.
    let out = hub_runner(&["info", "tiny-org/absent"], Some(&hub.url), &cache, false);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("tiny-org/absent") && err.contains("404") && err.contains(&hub.url), "{err}");

    // An unreachable hub: the cache still serves; a repo it lacks names the cache.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    assert_eq!(json_of(&hub_runner(&["info", "tiny-org/sharded", "--json"], Some(&closed), &cache, false))["revision"], sha);
    let out = hub_runner(&["info", "tiny-org/absent"], Some(&closed), &cache, false);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("tiny-org/absent") && err.contains(&cache.display().to_string()) && err.contains("could not be reached"), "{err}");
}
