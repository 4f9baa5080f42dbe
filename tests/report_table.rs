//! `runner table`: means and intervals against hand-computed values,
//! defaults, bad names, every format, and byte-for-byte determinism.

mod report_fixture;

use report_fixture::{frame, source, two_methods};
use runner::report::bootstrap::{mean_ci_with, CiMethod};
use runner::report::frame::Level;
use runner::report::{render_table, table, Format, ReportError, TableOptions};

fn opts(by: &[&str], metrics: &[&str]) -> TableOptions {
    TableOptions {
        by: Some(by.iter().map(|s| s.to_string()).collect()),
        metrics: Some(metrics.iter().map(|s| s.to_string()).collect()),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn means_counts_and_intervals_match_hand_computed_values() {
    let t = table::build(&frame(&two_methods()), source("a"), &opts(&["method_name"], &["reward", "smape", "nfe", "tokens_generated"])).unwrap();
    assert_eq!(t.rows.len(), 2);
    let (greedy, mcts) = (&t.rows[0], &t.rows[1]);
    assert_eq!(greedy.key, vec![Level::Str("greedy".into())]);
    assert_eq!(mcts.key, vec![Level::Str("mcts".into())]);
    assert_eq!((greedy.n, mcts.n), (4, 4));

    let cell = |row: &table::Row, m: usize| row.cells[m].unwrap();
    // Means: (0.1+0.2+0.3+0.4)/4, (0.5+0.5+0.7+0.7)/4, (10+20+30+40)/4, (5+5+15)/3.
    assert!(close(cell(greedy, 0).mean, 0.25));
    assert!(close(cell(mcts, 0).mean, 0.6));
    assert!(close(cell(greedy, 1).mean, 25.0));
    assert!(close(cell(mcts, 1).mean, 25.0 / 3.0));
    assert_eq!(cell(mcts, 1).n, 3, "the null sMAPE is left out");
    assert!(close(cell(mcts, 2).mean, 35.0));
    assert!(close(cell(mcts, 3).mean, 250.0));

    // Bootstrap intervals bracket the mean and stay within the values.
    for (row, m, min, max) in [(greedy, 0, 0.1, 0.4), (mcts, 0, 0.5, 0.7), (greedy, 1, 10.0, 40.0), (mcts, 2, 20.0, 50.0)] {
        let e = cell(row, m);
        assert_eq!(e.method, CiMethod::Bootstrap);
        assert!(min <= e.lo && e.lo < e.mean && e.mean < e.hi && e.hi <= max, "{e:?}");
    }
    // A constant column: the interval is the value itself.
    for m in [2, 3] {
        let e = cell(greedy, m);
        assert_eq!((e.lo, e.mean, e.hi), ([5.0, 10.0][m - 2], [5.0, 10.0][m - 2], [5.0, 10.0][m - 2]));
    }
}

#[test]
fn normal_interval_matches_the_formula() {
    // 1 2 3 4: mean 2.5, sample sd sqrt(5/3), half width 1.959964 * sd / 2.
    let e = mean_ci_with(&[1.0, 2.0, 3.0, 4.0], CiMethod::Normal).unwrap();
    let half = 1.959_963_984_540_054 * (5.0f64 / 3.0).sqrt() / 2.0;
    assert!(close(e.mean, 2.5));
    assert!(close(e.lo, 2.5 - half) && close(e.hi, 2.5 + half), "{e:?}");
}

#[test]
fn defaults_follow_the_data() {
    let mut recs = two_methods();
    let t = table::build(&frame(&recs), source("a"), &TableOptions::default()).unwrap();
    assert_eq!(t.by, vec!["method_name"]);
    let names: Vec<&str> = t.metrics.iter().map(|m| m.name).collect();
    assert_eq!(names, ["reward", "smape", "nfe", "tokens_generated"], "accuracy is all null here");

    recs[0].dataset = "m4";
    let t = table::build(&frame(&recs), source("a"), &TableOptions::default()).unwrap();
    assert_eq!(t.by, vec!["dataset", "method_name"]);
    assert_eq!(t.rows.len(), 3);
    // Groups sort column by column: m3/greedy, m3/mcts, m4/greedy.
    assert_eq!(t.rows[2].key, vec![Level::Str("m4".into()), Level::Str("greedy".into())]);
    assert_eq!(t.rows[2].n, 1);
}

#[test]
fn numeric_groups_sort_by_value_with_nulls_last() {
    let mut recs = two_methods();
    for (r, b) in recs.iter_mut().zip([None, None, None, None, Some(10), Some(10), Some(5), Some(5)]) {
        r.budget = b;
    }
    let t = table::build(&frame(&recs), source("a"), &opts(&["num_rollouts"], &["reward"])).unwrap();
    let keys: Vec<Level> = t.rows.iter().map(|r| r.key[0].clone()).collect();
    assert_eq!(keys, [Level::Int(5), Level::Int(10), Level::Null]);
    assert!(close(t.rows[0].cells[0].unwrap().mean, 0.7));
}

#[test]
fn unknown_names_are_clear_errors() {
    let df = frame(&two_methods());
    let err = table::build(&df, source("a"), &opts(&["methd"], &["reward"])).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReportError::UnknownName { .. }) && err.exit_code() == 2);
    assert!(msg.contains("--by") && msg.contains("`methd`") && msg.contains("method_name") && msg.contains("num_rollouts"), "{msg}");
    let msg = table::build(&df, source("a"), &opts(&["method_name"], &["rewrd"])).unwrap_err().to_string();
    assert!(msg.contains("--metrics") && msg.contains("`rewrd`") && msg.contains("reward, smape"), "{msg}");
    // Metric names map to their columns.
    let t = table::build(&df, source("a"), &opts(&[], &["time", "accuracy"])).unwrap();
    assert_eq!(t.metrics.iter().map(|m| m.column).collect::<Vec<_>>(), ["wall_seconds", "correct"]);
    assert!(t.rows[0].cells[1].is_none(), "no accuracy values");
}

#[test]
fn formats_carry_provenance_and_the_numbers() {
    let df = frame(&two_methods());
    let o = opts(&["method_name"], &["reward", "smape", "nfe"]);
    let md = render_table(&df, source("abc123"), &o, Format::Md).unwrap();
    assert!(md.starts_with("<!-- runner table\n"), "{md}");
    for needle in ["results: results/fixture/abc123", "commit: abc123", "spec: experiments/fixture.yaml", "runs: 2 (sha256 of sorted run ids: "] {
        assert!(md.contains(needle), "{needle} missing from\n{md}");
    }
    assert!(md.contains("| method_name | n | reward ↑ | smape ↓ | nfe ↓ |"), "{md}");
    assert!(md.contains("| greedy | 4 |") && md.contains("(n=3)"), "{md}");

    let tex = render_table(&df, source("abc123"), &o, Format::Latex).unwrap();
    for needle in ["% commit: abc123", "\\begin{tabular}{lrrrr}", "\\toprule", "\\midrule", "\\bottomrule", "method\\_name & $n$ & reward $\\uparrow$"] {
        assert!(tex.contains(needle), "{needle} missing from\n{tex}");
    }
    // Best per column: reward and sMAPE by mcts, NFE by greedy (5, constant).
    let greedy = tex.lines().find(|l| l.starts_with("greedy")).unwrap();
    let mcts = tex.lines().find(|l| l.starts_with("mcts")).unwrap();
    assert!(greedy.ends_with("& $\\mathbf{5 \\pm 0}$ \\\\"), "{greedy}");
    assert!(mcts.contains("& $\\mathbf{0.6") && mcts.matches("\\mathbf").count() == 2, "{mcts}");

    let csv = render_table(&df, source("abc123"), &o, Format::Csv).unwrap();
    let lines: Vec<&str> = csv.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines[0], "method_name,n,reward_mean,reward_ci_low,reward_ci_high,reward_n,reward_ci,smape_mean,smape_ci_low,smape_ci_high,smape_n,smape_ci,nfe_mean,nfe_ci_low,nfe_ci_high,nfe_n,nfe_ci");
    let greedy: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(greedy[..2], ["greedy", "4"]);
    assert!(close(greedy[2].parse().unwrap(), 0.25));
    assert!(lines[1].ends_with(",5,5,5,4,bootstrap"), "{}", lines[1]);

    let json: serde_json::Value = serde_json::from_str(&render_table(&df, source("abc123"), &o, Format::Json).unwrap()).unwrap();
    assert_eq!(json["provenance"]["runs"], 2);
    assert_eq!(json["provenance"]["run_ids"], serde_json::json!(["r_greedy", "r_mcts"]));
    assert_eq!(json["rows"][1]["key"]["method_name"], "mcts");
    assert_eq!(json["rows"][1]["metrics"]["smape"]["n"], 3);
    assert_eq!(json["rows"][0]["metrics"]["reward"]["ci"], "bootstrap");
}

#[test]
fn the_same_results_give_the_same_bytes() {
    let recs = two_methods();
    let mut shuffled = recs.clone();
    shuffled.reverse();
    shuffled.swap(1, 5);
    for format in [Format::Md, Format::Latex, Format::Csv, Format::Json] {
        let first = render_table(&frame(&recs), source("a"), &TableOptions::default(), format).unwrap();
        let again = render_table(&frame(&recs), source("a"), &TableOptions::default(), format).unwrap();
        let reordered = render_table(&frame(&shuffled), source("a"), &TableOptions::default(), format).unwrap();
        assert_eq!(first, again, "{format:?}");
        assert_eq!(first, reordered, "{format:?}: row order changed the output");
    }
}

#[test]
fn no_samples_is_an_error() {
    let err = table::build(&frame(&[]), source("a"), &TableOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no samples"), "{err}");
}

#[test]
fn tables_read_what_the_store_writes() {
    use runner::store::row::RunColumns;
    use runner::store::{load_samples, write_samples_parquet, SampleRow};
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    for (i, r) in [0.1, 0.2, 0.3, 0.4].iter().enumerate() {
        rows.push(SampleRow {
            run: RunColumns {
                run_id: "0123456789abcdef".into(),
                model: "smollm2".into(),
                dataset: "m3".into(),
                method_name: "greedy".into(),
                method: "greedy".into(),
                seed: None,
                int_params: vec![None, None, Some(64), None],
                float_params: vec![Some(1.0), Some(1.0), None, None, None],
            },
            sample_id: format!("N{i}"),
            sample_index: i as i64,
            metrics: vec![Some(*r), Some(10.0 * (i + 1) as f64), None, None, Some(1.0), Some(5.0), Some(10.0), Some(12.0), Some(1.0), Some(0.5)],
            output: "1, 2, 3".into(),
            parse_status: "ok".into(),
        });
    }
    let run_dir = dir.path().join("runs").join("0123456789abcdef");
    std::fs::create_dir_all(&run_dir).unwrap();
    write_samples_parquet(&run_dir.join("samples.parquet"), &rows).unwrap();
    let df = load_samples(dir.path()).unwrap();
    let t = table::build(&df, source("store"), &TableOptions::default()).unwrap();
    assert_eq!(t.by, vec!["method_name"]);
    assert_eq!(t.metrics.iter().map(|m| m.name).collect::<Vec<_>>(), ["reward", "smape", "nfe", "tokens_generated"]);
    assert!(close(t.rows[0].cells[0].unwrap().mean, 0.25));
    assert!(close(t.rows[0].cells[1].unwrap().mean, 25.0));
}

#[test]
fn bench_reports_seconds() {
    let v = runner::report::bench::bench_table(12_000).unwrap();
    assert_eq!(v["rows"], 12_000);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(v["default"]["groups"], 6);
}

#[test]
fn runner_table_reads_a_results_directory() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("0123456789ab");
    report_fixture::write_results(&results, &two_methods());
    let run = |extra: &[&str]| {
        let out = report_fixture::runner()
            .arg("table")
            .arg(report_fixture::spec_file())
            .arg("--commit")
            .arg(&results)
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, md, err) = run(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(md.contains("commit: 0123456789ab") && md.contains("quickstart.yaml") && md.contains("| greedy | 4 |"), "{md}");
    assert_eq!(run(&[]).1, md, "the same results give the same bytes");
    let (code, json, _) = run(&["--format", "json", "--by", "method_name,num_rollouts", "--metrics", "reward,time"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["by"], serde_json::json!(["method_name", "num_rollouts"]));
    assert_eq!(v["rows"][0]["metrics"]["time"]["mean"], 0.5);
    let (code, _, err) = run(&["--by", "methods"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--by: unknown column `methods`; valid: model, dataset, method_name"), "{err}");
}
