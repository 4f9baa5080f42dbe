//! Activity loaders (.ts, UCI HAR, HAR chain-of-thought CSV), prompts,
//! answer parsing and scoring, on small files written here.
use std::fs;
use std::path::{Path, PathBuf};

use runner::spec::{DataFormat, Split, TaskKind};
use runner::tasks::activity::parse::{normalize, parse_label};
use runner::tasks::activity::prompt::{format_reading, kept_indices, ActivityPromptOptions, Downsample};
use runner::tasks::activity::ActivityCase;
use runner::tasks::{load, Answer, ParseStatus, PromptOptions, Sample, ScoreOptions, TaskError};

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&p, text).unwrap();
    p
}

fn case(s: &Sample) -> &ActivityCase {
    match s {
        Sample::Activity(c) => c,
        Sample::Forecast(_) => panic!("expected an activity case"),
    }
}

fn assert_at(err: &TaskError, file: &str, line: usize) {
    let msg = err.to_string();
    assert_eq!(err.line(), Some(line), "{msg}");
    assert!(msg.contains(file), "{msg}");
    assert!(msg.contains(&format!(":{line}:")), "{msg}");
}

// ---------------------------------------------------------------- .ts

const TS: &str = "#A tiny problem\n\
@problemName Tiny\n\
@timeStamps false\n\
@missing false\n\
@univariate false\n\
@dimensions 2\n\
@equalLength true\n\
@seriesLength 3\n\
@classLabel true Up Down\n\
@data\n\
1,2,3:4,5,6:Up\n\
\n\
-1.5,0,2E-1:7,8,9:Down\n";

#[test]
fn ts_file_loads_cases_channels_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "Tiny_TEST.ts", TS);
    let ds = load(&p, DataFormat::Ts, Split::Test).unwrap();
    assert_eq!(ds.task, TaskKind::ActivityRecognition);
    assert_eq!(ds.labels, ["Up", "Down"]);
    assert_eq!(ds.samples.len(), 2);
    let c = case(&ds.samples[1]);
    assert_eq!((c.id.as_str(), c.label.as_str()), ("test-0002", "Down"));
    assert_eq!(c.channels.len(), 2);
    assert_eq!(c.channels[0].name, "dim_1");
    assert_eq!(c.channels[0].values, vec![-1.5, 0.0, 0.2]);
    assert_eq!(c.channels[1].values, vec![7.0, 8.0, 9.0]);
    assert_eq!(ds.sha256, runner::tasks::digest::sha256_hex(TS.as_bytes()));

    // A directory resolves the split's file; a file of the other split is refused.
    write(dir.path(), "Tiny_TRAIN.ts", TS);
    let train = load(dir.path(), DataFormat::Ts, Split::Train).unwrap();
    assert_eq!(train.files, ["Tiny_TRAIN.ts"]);
    assert_eq!(case(&train.samples[0]).id, "train-0001");
    let err = load(&p, DataFormat::Ts, Split::Train).unwrap_err();
    assert!(err.to_string().contains("holds the test split but the train split was asked"), "{err}");
    let err = load(&p, DataFormat::Ts, Split::Validation).unwrap_err();
    assert!(matches!(err, TaskError::UnsupportedSplit { .. }), "{err}");
}

#[test]
fn ts_malformed_lines_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (TS.replace("-1.5,0,2E-1", "-1.5,zero,2E-1"), 13, "`zero` is not a finite number"),
        (TS.replace(":Down", ":Sideways"), 13, "label `Sideways` is not declared"),
        (TS.replace("1,2,3:4,5,6:Up", "1,2,3:Up"), 11, "1 dimensions, expected 2"),
        (TS.replace("1,2,3:4,5,6:Up", "1,2,3:4,5:Up"), 11, "differ in length"),
        (TS.replace("1,2,3:4,5,6:Up", "1,?,3:4,5,6:Up"), 11, "missing values"),
        (TS.replace("@classLabel true Up Down", "@classLabel false"), 9, "no labels"),
        (TS.replace("@problemName Tiny", "problemName Tiny"), 2, "header line"),
    ];
    for (k, (text, line, what)) in cases.iter().enumerate() {
        let p = write(dir.path(), &format!("bad{k}_TEST.ts"), text);
        let err = load(&p, DataFormat::Ts, Split::Test).unwrap_err();
        assert_at(&err, &format!("bad{k}_TEST.ts"), *line);
        assert!(err.to_string().contains(what), "{err}");
    }
    let p = write(dir.path(), "nodata_TEST.ts", "@classLabel true A B\n");
    let err = load(&p, DataFormat::Ts, Split::Test).unwrap_err();
    assert!(err.to_string().contains("no `@data` line"), "{err}");
}

// ---------------------------------------------------------------- UCI HAR

fn har_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "activity_labels.txt", "1 WALKING\n2 WALKING_UPSTAIRS\n3 WALKING_DOWNSTAIRS\n4 SITTING\n5 STANDING\n6 LAYING\n");
    for split in ["train", "test"] {
        write(root, &format!("{split}/y_{split}.txt"), "5\n2\n");
        write(root, &format!("{split}/subject_{split}.txt"), "1\n1\n");
        for (k, sig) in runner::tasks::activity::uci_har::SIGNALS.iter().enumerate() {
            let text = format!("  {k}.0000000e+00  1.0138560e-02 -2.5e-01  1.0e+00\n  2.0000000e-01  {k}.5e+00  3.0e+00  4.0e+00\n");
            write(root, &format!("{split}/Inertial Signals/{sig}_{split}.txt"), &text);
        }
    }
    dir
}

#[test]
fn uci_har_directory_loads_nine_channels() {
    let dir = har_dir();
    let ds = load(dir.path(), DataFormat::UciHar, Split::Test).unwrap();
    assert_eq!(ds.labels.len(), 6);
    assert_eq!(ds.samples.len(), 2);
    let c = case(&ds.samples[1]);
    assert_eq!((c.id.as_str(), c.label.as_str()), ("test-0002", "WALKING_UPSTAIRS"));
    assert_eq!(c.channels.len(), 9);
    assert_eq!(c.channels[3].name, "body_gyro_x");
    assert_eq!(c.channels[3].values, vec![0.2, 3.5, 3.0, 4.0]);
    assert_eq!(case(&ds.samples[0]).channels[0].values, vec![0.0, 0.01013856, -0.25, 1.0]);
    assert_eq!(c.sample_rate_hz, Some(50.0));
    // The hash covers the 11 files read (not the train split or subjects).
    assert_eq!(ds.files.len(), 11);
    assert!(ds.files.contains(&"test/Inertial Signals/total_acc_z_test.txt".to_string()));
    let err = load(dir.path(), DataFormat::UciHar, Split::Validation).unwrap_err();
    assert!(err.to_string().contains("valid: train, test"), "{err}");
}

#[test]
fn uci_har_errors_name_file_and_line() {
    let dir = har_dir();
    write(dir.path(), "train/y_train.txt", "5\n9\n");
    let err = load(dir.path(), DataFormat::UciHar, Split::Train).unwrap_err();
    assert_at(&err, "y_train.txt", 2);
    assert!(err.to_string().contains("valid: 1, 2, 3, 4, 5, 6"), "{err}");

    let dir = har_dir();
    write(dir.path(), "test/Inertial Signals/body_acc_y_test.txt", "  1.0  2.0\n  1.0  two\n");
    let err = load(dir.path(), DataFormat::UciHar, Split::Test).unwrap_err();
    assert_at(&err, "body_acc_y_test.txt", 2);

    let dir = har_dir();
    write(dir.path(), "test/Inertial Signals/body_acc_y_test.txt", "  1.0  2.0\n");
    let err = load(dir.path(), DataFormat::UciHar, Split::Test).unwrap_err();
    assert!(err.to_string().contains("1 windows, but the label file has 2 cases"), "{err}");

    let dir = har_dir();
    fs::remove_file(dir.path().join("test/Inertial Signals/total_acc_x_test.txt")).unwrap();
    let err = load(dir.path(), DataFormat::UciHar, Split::Test).unwrap_err();
    assert!(matches!(err, TaskError::Io { .. }) && err.to_string().contains("total_acc_x_test.txt"), "{err}");
}

// ---------------------------------------------------------------- HAR CoT CSV

const COT: &str = "x_axis,y_axis,z_axis,label,rationale\n\
\"[0.0123, -0.0456, 1.0]\",\"[0.1, 0.2, 0.3]\",\"[1, 2, 3]\",walking_up,\"Steady rise.\nAnswer: walking_up\"\n\
\"[0.5]\",\"[0.6]\",\"[0.7]\",lying,Flat. Answer: lying\n";

#[test]
fn har_cot_csv_loads_lists_labels_and_rationales() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "har_cot_val_cot.csv", COT);
    let ds = load(dir.path(), DataFormat::HarCotCsv, Split::Validation).unwrap();
    assert_eq!(ds.samples.len(), 2);
    assert_eq!(ds.labels.len(), 8);
    let c = case(&ds.samples[0]);
    assert_eq!((c.id.as_str(), c.label.as_str()), ("validation-0001", "walking_up"));
    assert_eq!(c.channels[0].values, vec![0.0123, -0.0456, 1.0]);
    assert_eq!(c.channels[2].name, "z_axis");
    assert_eq!(c.rationale.as_deref(), Some("Steady rise.\nAnswer: walking_up"));
    assert_eq!(case(&ds.samples[1]).label, "lying");

    let file = dir.path().join("har_cot_val_cot.csv");
    let err = load(&file, DataFormat::HarCotCsv, Split::Test).unwrap_err();
    assert!(err.to_string().contains("holds the validation split but the test split was asked"), "{err}");
    let err = load(dir.path(), DataFormat::HarCotCsv, Split::Train).unwrap_err();
    assert!(err.to_string().contains("har_cot_train_cot.csv"), "{err}");
}

#[test]
fn har_cot_csv_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // The second record starts on line 4 (the first spans lines 2-3).
    let p = write(dir.path(), "bad_list.csv", &COT.replace("\"[0.5]\"", "\"[0.5, x]\""));
    let err = load(&p, DataFormat::HarCotCsv, Split::Test).unwrap_err();
    assert_at(&err, "bad_list.csv", 4);
    assert!(err.to_string().contains("`x_axis`: item 2"), "{err}");

    let p = write(dir.path(), "bad_label.csv", &COT.replace(",lying,", ",jumping,"));
    let err = load(&p, DataFormat::HarCotCsv, Split::Test).unwrap_err();
    assert_at(&err, "bad_label.csv", 4);
    assert!(err.to_string().contains("not one of biking"), "{err}");

    let p = write(dir.path(), "no_brackets.csv", &COT.replace("\"[0.1, 0.2, 0.3]\"", "\"0.1 0.2\""));
    let err = load(&p, DataFormat::HarCotCsv, Split::Test).unwrap_err();
    assert_at(&err, "no_brackets.csv", 2);

    let p = write(dir.path(), "no_col.csv", "x_axis,y_axis,label\n\"[1]\",\"[1]\",lying\n");
    let err = load(&p, DataFormat::HarCotCsv, Split::Test).unwrap_err();
    assert_at(&err, "no_col.csv", 1);
    assert!(err.to_string().contains("missing column `z_axis`"), "{err}");
}

// ---------------------------------------------------------------- prompt

#[test]
fn downsampling_and_rounding() {
    assert_eq!(kept_indices(10, Downsample::Factor(3)), vec![0, 3, 6, 9]);
    assert_eq!(kept_indices(10, Downsample::TargetLength(4)), vec![0, 2, 5, 7]);
    assert_eq!(kept_indices(3, Downsample::TargetLength(4)), vec![0, 1, 2]);
    assert_eq!(kept_indices(3, Downsample::None), vec![0, 1, 2]);
    assert_eq!(kept_indices(3, Downsample::Factor(0)), vec![0, 1, 2]);
    assert_eq!(format_reading(0.12345, 2), "0.12");
    assert_eq!(format_reading(-0.001, 2), "0.00");
    assert_eq!(format_reading(-1.005, 1), "-1.0");
    assert_eq!(format_reading(2.6, 0), "3");
}

#[test]
fn activity_prompt_lists_channels_labels_and_answer_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "Tiny_TEST.ts", TS);
    let ds = load(&p, DataFormat::Ts, Split::Test).unwrap();
    let opts =
        PromptOptions { activity: ActivityPromptOptions { downsample: Downsample::Factor(2), decimals: 1 }, ..PromptOptions::default() };
    let prompt = ds.samples[1].prompt(&opts);
    let user = &prompt.messages[1].content;
    assert!(user.contains("dim_1: -1.5, 0.2\n"), "{user}");
    assert!(user.contains("dim_2: 7.0, 9.0\n"), "{user}");
    assert!(user.contains("2 channels, 2 readings each"), "{user}");
    assert!(user.contains("Possible activities: Up, Down."), "{user}");
    assert!(user.contains("`Answer: <activity>`"), "{user}");
    assert!(prompt.text.contains(user.as_str()) && prompt.text.starts_with(&prompt.messages[0].content));
}

// ---------------------------------------------------------------- answers

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_last_answer_wins_case_insensitively() {
    let l = labels(&["Standing", "Running", "Walking", "Badminton"]);
    let r = parse_label("Answer: Running? No wait.\nFINAL ANSWER: walking.", &l);
    assert_eq!((r.label.as_deref(), r.status), (Some("Walking"), ParseStatus::Ok));
    let r = parse_label("The motion is strong.\n**Answer:** *BADMINTON*", &l);
    assert_eq!(r.label.as_deref(), Some("Badminton"));
    let r = parse_label("answer:\n\n  `standing`  \n", &l);
    assert_eq!(r.label.as_deref(), Some("Standing"));
    let r = parse_label("Answer: Running, because the readings swing widely.", &l);
    assert_eq!(r.label.as_deref(), Some("Running"));
}

#[test]
fn unknown_and_missing_answers() {
    let l = labels(&["Standing", "Running"]);
    let r = parse_label("Answer: Swimming", &l);
    assert_eq!((r.label, r.status, r.raw.as_deref()), (None, ParseStatus::UnknownLabel, Some("Swimming")));
    let r = parse_label("I think it is Running.", &l);
    assert_eq!((r.label, r.status), (None, ParseStatus::NoAnswer));
    let r = parse_label("Answer:   \n", &l);
    assert_eq!(r.status, ParseStatus::NoAnswer);
    // The last marker decides even when an earlier one named a label.
    let r = parse_label("Answer: Running\nAnswer: Runner", &l);
    assert_eq!(r.status, ParseStatus::UnknownLabel);
    // "Runningly" is not "Running" followed by a word boundary.
    assert_eq!(parse_label("Answer: Runningly", &l).status, ParseStatus::UnknownLabel);
}

#[test]
fn underscores_hyphens_and_spaces_are_one_separator() {
    assert_eq!(normalize("  Walking_Up-stairs  now "), "walking up stairs now");
    let l = labels(&["walking", "walking_down", "walking_up"]);
    assert_eq!(parse_label("Answer: Walking Down", &l).label.as_deref(), Some("walking_down"));
    assert_eq!(parse_label("Answer: walking-up", &l).label.as_deref(), Some("walking_up"));
    assert_eq!(parse_label("Answer: walking down the stairs", &l).label.as_deref(), Some("walking_down"));
    assert_eq!(parse_label("Answer: walking", &l).label.as_deref(), Some("walking"));
    let uci = labels(&["WALKING", "WALKING_UPSTAIRS", "LAYING"]);
    assert_eq!(parse_label("answer: walking upstairs", &uci).label.as_deref(), Some("WALKING_UPSTAIRS"));
}

#[test]
fn activity_rewards_are_one_zero_or_the_failure_reward() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "Tiny_TEST.ts", TS);
    let ds = load(&p, DataFormat::Ts, Split::Test).unwrap();
    let s = &ds.samples[0];
    let (po, so) = (PromptOptions::default(), ScoreOptions::default());
    let right = s.score("Rising values.\nAnswer: up", &po, &so);
    assert_eq!((right.reward, right.status), (1.0, ParseStatus::Ok));
    assert_eq!((right.answer.clone(), right.truth.clone()), (Some(Answer::Label("Up".into())), Answer::Label("Up".into())));
    let wrong = s.score("Answer: Down", &po, &so);
    assert_eq!(wrong.reward, 0.0);
    let failed = s.score("Answer: sideways", &po, &ScoreOptions { reward_on_failure: -0.25, ..ScoreOptions::default() });
    assert_eq!((failed.reward, failed.status), (-0.25, ParseStatus::UnknownLabel));
    let json = serde_json::to_value(&right).unwrap();
    assert_eq!(json["answer"], "Up");
    assert_eq!(json["metrics"]["correct"], true);
    assert_eq!(json["status"], "ok");
}
