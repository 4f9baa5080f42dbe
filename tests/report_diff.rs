//! `runner diff`: paired differences, intervals and sign tests against
//! hand-computed values; a results set against itself; runs and samples on
//! one side only; the regression gate.

use crate::report_fixture;

use report_fixture::{frame, rec, set_metric_recs, source, two_methods, Rec};
use runner::report::bootstrap::sign_test;
use runner::report::diff::Change;
use runner::report::{diff, DiffOptions, Format, ReportError};

fn metrics(names: &[&str]) -> DiffOptions {
    DiffOptions { by: None, metrics: Some(names.iter().map(|s| s.to_string()).collect()), require: Vec::new() }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

const IDS: [&str; 10] = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"];

/// One run of `rewards.len()` samples with the given rewards and sMAPEs.
fn run(rewards: &[f64], smapes: &[f64]) -> Vec<Rec> {
    rewards.iter().zip(smapes).enumerate().map(|(i, (r, s))| rec("r1", IDS[i], "mcts", *r, Some(*s), 10.0, 20.0)).collect()
}

#[test]
fn a_results_set_against_itself_shows_no_change() {
    let df = frame(&two_methods());
    let opts = DiffOptions { by: Some(vec!["method_name".into()]), metrics: None, require: vec!["reward".into()] };
    let d = diff(&df, source("a"), &df, source("a"), &opts).unwrap();
    assert_eq!((d.runs_matched, d.samples_matched, d.samples_only_a, d.samples_only_b), (2, 8, 0, 0));
    assert!(d.only_a.is_empty() && d.only_b.is_empty());
    // Overall and per method, for reward, smape, parsed, nfe, tokens_generated.
    assert_eq!(d.rows.len(), 3 * 5);
    for r in &d.rows {
        assert_eq!((r.diff.mean, r.diff.lo, r.diff.hi), (0.0, 0.0, 0.0), "{r:?}");
        let sign = r.sign.unwrap();
        assert_eq!((sign.better, sign.worse, sign.p, r.significant), (0, 0, 1.0, false));
        assert_eq!(r.change(), Change::Same);
    }
    d.check_regression("reward").unwrap();
    let md = Format::Md.exporter().diff(&d).unwrap();
    assert!(!md.contains("**better**") && !md.contains("**worse**"), "{md}");
    assert!(md.contains("Runs only in a: none") && md.contains("Runs only in b: none"), "{md}");
}

#[test]
fn five_of_five_better_is_not_yet_significant() {
    // Differences 0.1 0.2 0.1 0.3 0.3: mean 0.2; all five positive, sign test p = 2 / 32.
    let a = run(&[0.1, 0.2, 0.3, 0.4, 0.5], &[1.0; 5]);
    let b = run(&[0.2, 0.4, 0.4, 0.7, 0.8], &[1.0; 5]);
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &metrics(&["reward"])).unwrap();
    let r = &d.rows[0];
    assert_eq!(r.n, 5);
    assert!(close(r.diff.mean, 0.2), "{}", r.diff.mean);
    assert!(close(r.mean_a, 0.3) && close(r.mean_b, 0.5));
    let sign = r.sign.unwrap();
    assert!(close(sign.p, 0.0625), "{}", sign.p);
    assert_eq!((sign.better, sign.worse), (5, 0));
    // The bootstrap interval lies within the differences, around the mean, and excludes 0.
    assert!(0.1 - 1e-12 <= r.diff.lo && r.diff.lo < 0.2 && 0.2 < r.diff.hi && r.diff.hi <= 0.3 + 1e-12, "{:?}", r.diff);
    assert!(r.diff.excludes_zero());
    assert!(!r.significant, "p = 0.0625 is above 0.05");
    assert_eq!(r.change(), Change::Same);
}

#[test]
fn ten_of_ten_worse_is_a_regression() {
    // sMAPE (lower is better) rises by 1 on every sample; reward is unchanged.
    let smape_a = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0];
    let smape_b: Vec<f64> = smape_a.iter().map(|s| s + 1.0).collect();
    let a = run(&[0.5; 10], &smape_a);
    let b = run(&[0.5; 10], &smape_b);
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &metrics(&["reward", "smape"])).unwrap();
    let s = d.rows.iter().find(|r| r.metric.name == "smape").unwrap();
    assert!(close(s.diff.mean, 1.0) && close(s.diff.lo, 1.0) && close(s.diff.hi, 1.0));
    // 10 of 10 one way: p = 2 / 1024.
    let sign = s.sign.unwrap();
    assert!(close(sign.p, 2.0 / 1024.0) && close(sign_test(&[1.0; 10]), 2.0 / 1024.0));
    assert_eq!((sign.better, sign.worse), (0, 10));
    assert!(s.significant);
    assert_eq!(s.change(), Change::Worse);

    d.check_regression("reward").unwrap();
    let err = d.check_regression("smape").unwrap_err();
    assert!(matches!(err, ReportError::Regression { .. }) && err.exit_code() == 3);
    let msg = err.to_string();
    assert!(msg.contains("smape") && msg.contains("+1") && msg.contains("lower is better"), "{msg}");

    // The reverse direction is an improvement.
    let back = diff(&frame(&b), source("b"), &frame(&a), source("a"), &metrics(&["smape"])).unwrap();
    assert_eq!(back.rows[0].change(), Change::Better);
    back.check_regression("smape").unwrap();
    let md = Format::Md.exporter().diff(&d).unwrap();
    assert!(md.lines().any(|l| l.starts_with("| all | smape ↓ | 10 |") && l.contains("**worse**")), "{md}");
}

#[test]
fn the_regression_metric_is_compared_even_when_not_listed() {
    let a = run(&[0.5; 10], &[10.0; 10]);
    let b = run(&[0.4; 10], &[10.0; 10]);
    let opts = DiffOptions { by: None, metrics: Some(vec!["smape".into()]), require: vec!["reward".into()] };
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &opts).unwrap();
    assert_eq!(d.metrics.iter().map(|m| m.name).collect::<Vec<_>>(), ["smape", "reward"]);
    assert!(d.check_regression("reward").is_err());
    assert!(matches!(d.check_regression("rewrd"), Err(ReportError::UnknownName { .. })));
}

#[test]
fn runs_and_samples_on_one_side_only_are_listed() {
    let mut a = two_methods();
    a.push(rec("r_gone", "s1", "dts", 0.1, Some(1.0), 1.0, 1.0));
    let mut b = two_methods();
    b.retain(|r| !(r.run == "r_mcts" && r.sample == "s4"));
    b.push(rec("r_new", "s1", "dts", 0.1, Some(1.0), 1.0, 1.0));
    b.push(rec("r_new", "s2", "dts", 0.1, Some(1.0), 1.0, 1.0));
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &metrics(&["reward"])).unwrap();
    assert_eq!(d.only_a, ["r_gone"]);
    assert_eq!(d.only_b, ["r_new"]);
    assert_eq!((d.runs_matched, d.samples_matched, d.samples_only_a, d.samples_only_b), (2, 7, 2, 2));
    assert_eq!(d.rows[0].n, 7);

    let md = Format::Md.exporter().diff(&d).unwrap();
    assert!(md.starts_with("<!-- runner diff\n"), "{md}");
    assert!(md.contains("a commit: a") && md.contains("b commit: b"), "{md}");
    assert!(md.contains("Runs only in a: `r_gone`") && md.contains("Runs only in b: `r_new`"), "{md}");
    let json: serde_json::Value = serde_json::from_str(&Format::Json.exporter().diff(&d).unwrap()).unwrap();
    assert_eq!(json["runs"]["only_a"], serde_json::json!(["r_gone"]));
    assert_eq!(json["samples"]["matched"], 7);
    assert_eq!(json["rows"][0]["change"], "none");
    assert_eq!(json["rows"][0]["diff"]["ci"], "bootstrap");
    assert_eq!(json["b"]["runs"], 3);
}

#[test]
fn per_group_rows_follow_the_overall_ones() {
    let a = two_methods();
    let mut b = two_methods();
    for r in b.iter_mut().filter(|r| r.method == "greedy") {
        r.reward = r.reward.map(|x| x + 0.5);
    }
    let opts = DiffOptions { by: Some(vec!["method_name".into()]), metrics: Some(vec!["reward".into()]), require: Vec::new() };
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &opts).unwrap();
    let labels: Vec<String> = d.rows.iter().map(|r| r.key.iter().map(|k| k.to_string()).collect::<Vec<_>>().join("/")).collect();
    assert_eq!(labels, ["", "greedy", "mcts"]);
    assert!(close(d.rows[0].diff.mean, 0.25) && close(d.rows[1].diff.mean, 0.5) && close(d.rows[2].diff.mean, 0.0));
    assert_eq!(d.rows[1].sign.map(|s| (s.better, s.worse)), Some((4, 0)));
}

#[test]
fn duplicate_samples_and_table_only_formats_are_errors() {
    let mut a = two_methods();
    a.push(a[0].clone());
    let err = diff(&frame(&a), source("a"), &frame(&two_methods()), source("b"), &metrics(&["reward"])).unwrap_err();
    assert!(err.to_string().contains("`s1` of run `r_greedy` appears more than once"), "{err}");
    let df = frame(&two_methods());
    let d = diff(&df, source("a"), &df, source("a"), &metrics(&["reward"])).unwrap();
    let err = Format::Latex.exporter().diff(&d).unwrap_err();
    assert!(err.to_string().contains("--format latex") && err.to_string().contains("md, json"), "{err}");
}

#[test]
fn runner_diff_fails_on_a_regression() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let smape: Vec<f64> = (0..10).map(|i| 10.0 + i as f64).collect();
    report_fixture::write_results(&a, &run(&[0.5; 10], &smape));
    report_fixture::write_results(&b, &run(&[0.4; 10], &smape));
    let diff = |x: &std::path::Path, y: &std::path::Path, extra: &[&str]| {
        let out = report_fixture::runner().arg("diff").arg(x).arg(y).args(extra).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = diff(&a, &a, &["--fail-on-regression", "reward"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("| all | reward ↑ | 10 |"), "{out}");
    let (code, out, err) = diff(&a, &b, &["--fail-on-regression", "smape,reward", "--format", "json"]);
    assert_eq!(code, Some(3), "a regression has its own exit code: {out}");
    assert!(err.contains("regression in reward: mean difference -0.1000 (95% CI [-0.1000, -0.1000]"), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().iter().filter(|r| r["change"] == "worse").count(), 1);
    let (code, _, err) = diff(&a, &dir.path().join("missing"), &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a results directory"), "{err}");
}

/// The forecasts of method A (see `set_metric_recs`), with `shift` added to
/// every sMAPE.
fn method_a(shift: f64) -> Vec<Rec> {
    let mut recs: Vec<Rec> = set_metric_recs().into_iter().filter(|r| r.method == "A").collect();
    for r in &mut recs {
        r.smape = r.smape.map(|s| s + shift);
    }
    recs
}

#[test]
fn owa_is_compared_over_the_paired_samples() {
    // a: OWA 5/6 (sMAPE 10 20 30, MASE 0.5 1 1.5, Naive2 16 24 20 and 1 1.5 2).
    // b: sMAPE +10 each: ½ (30/20 + 1/1.5) = 13/12; b − a = 3/12 = 0.25.
    // On any resample (the same samples on both sides) the difference is
    // ½ · 10 / mean Naive2 sMAPE, so the bounds are 5/24 (sample 2 alone,
    // Naive2 sMAPE 24) and 5/16 (sample 1 alone, 16), each drawn with
    // probability 1/27 > 2.5%.
    let (a, b) = (method_a(0.0), method_a(10.0));
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &metrics(&["owa", "smape"])).unwrap();
    let owa = d.rows.iter().find(|r| r.metric.name == "owa").unwrap();
    assert_eq!(owa.n, 3);
    assert!(close(owa.mean_a, 5.0 / 6.0) && close(owa.mean_b, 13.0 / 12.0), "{owa:?}");
    assert!(close(owa.diff.mean, 0.25) && close(owa.diff.lo, 5.0 / 24.0) && close(owa.diff.hi, 5.0 / 16.0), "{:?}", owa.diff);
    assert!(owa.sign.is_none() && owa.test() == "interval", "no sign test for a set statistic");
    assert!(owa.significant, "the interval excludes 0");
    assert_eq!(owa.change(), Change::Worse, "OWA: lower is better");
    let err = d.check_regression("owa").unwrap_err().to_string();
    assert!(err.contains("regression in owa: difference +0.2500") && err.contains("no sign test"), "{err}");
    // sMAPE: +10 on each of 3 pairs; the sign test (p = 0.25) keeps it from significance.
    let smape = d.rows.iter().find(|r| r.metric.name == "smape").unwrap();
    assert_eq!((smape.test(), smape.significant), ("sign", false));

    let json: serde_json::Value = serde_json::from_str(&Format::Json.exporter().diff(&d).unwrap()).unwrap();
    let row = &json["rows"][0];
    assert_eq!((row["metric"].as_str(), row["test"].as_str(), row["aggregate"].as_str()), (Some("owa"), Some("interval"), Some("set")));
    assert!(row["sign_test_p"].is_null() && row["better"].is_null() && row["worse"].is_null());
    assert!(json["significance"]["tests"]["interval"].as_str().unwrap().contains("no sign test"));
    let md = Format::Md.exporter().diff(&d).unwrap();
    assert!(md.lines().any(|l| l.starts_with("| all | owa ↓ | 3 |") && l.ends_with("| - | - | **worse** |")), "{md}");

    // Only pairs defined on both sides count: a sample unparsed in b drops out of both.
    let mut b2 = method_a(10.0);
    b2[2].smape = None;
    let d = diff(&frame(&a), source("a"), &frame(&b2), source("b"), &metrics(&["owa"])).unwrap();
    // Samples 1 and 2: a ½ (15/20 + 0.75/1.25) = 0.675, b ½ (25/20 + 0.75/1.25) = 0.925.
    assert_eq!(d.rows[0].n, 2);
    assert!(close(d.rows[0].mean_a, 0.675) && close(d.rows[0].mean_b, 0.925), "{:?}", d.rows[0]);
}

#[test]
fn f1_is_compared_over_the_paired_samples() {
    let a: Vec<Rec> = set_metric_recs().into_iter().filter(|r| r.method == "C").collect();
    let mut b = a.clone();
    b[1].answer = Some("a"); // a→b becomes right: a F1 1, b 2/3 (TP 1, FN 1), c 1.
    let opts = DiffOptions { by: Some(vec!["method_name".into()]), metrics: Some(vec!["f1".into()]), require: Vec::new() };
    let d = diff(&frame(&a), source("a"), &frame(&b), source("b"), &opts).unwrap();
    assert_eq!(d.rows.len(), 2, "overall and method C");
    for r in &d.rows {
        assert!(close(r.mean_a, 13.0 / 18.0) && close(r.mean_b, (1.0 + 2.0 / 3.0 + 1.0) / 3.0), "{r:?}");
        assert!(close(r.diff.mean, 48.0 / 54.0 - 39.0 / 54.0) && r.diff.lo <= r.diff.mean && r.diff.mean <= r.diff.hi);
    }
}

#[test]
fn runner_diff_compares_owa_of_two_results_directories() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    report_fixture::write_results(&a, &method_a(0.0));
    report_fixture::write_results(&b, &method_a(10.0));
    let out = report_fixture::runner().arg("diff").arg(&a).arg(&b).args(["--metrics", "owa,parsed", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let owa = &v["rows"][0];
    assert_eq!((owa["metric"].as_str(), owa["n"].as_u64(), owa["test"].as_str()), (Some("owa"), Some(3), Some("interval")));
    assert!(close(owa["diff"]["mean"].as_f64().unwrap(), 0.25) && close(owa["diff"]["ci_low"].as_f64().unwrap(), 5.0 / 24.0));
    assert_eq!(owa["change"], "worse");
    assert_eq!(v["rows"][1]["metric"], "parsed");
    let gate = report_fixture::runner().arg("diff").arg(&a).arg(&b).args(["--fail-on-regression", "owa"]).output().unwrap();
    assert_eq!(gate.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&gate.stderr).contains("regression in owa"), "{}", String::from_utf8_lossy(&gate.stderr));
}
