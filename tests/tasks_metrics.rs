//! Metric functions against hand-computed values.
use runner::spec::FailureForecast;
use runner::tasks::activity::metrics::classification;
use runner::tasks::forecast::metrics::{mase, mase_scale, owa, smape, ForecastMetrics};
use runner::tasks::forecast::naive2::{acf, is_seasonal, naive2, seasonal_indices};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn smape_by_hand() {
    // 200/2 · (10/210 + 20/380)
    let v = smape(&[100.0, 200.0], &[110.0, 180.0]).unwrap();
    assert!(close(v, 10.025062656641603), "{v}");
    assert_eq!(smape(&[5.0], &[5.0]), Some(0.0));
    assert_eq!(smape(&[0.0, 1.0], &[0.0, -1.0]), Some(100.0), "0/0 counts 0; opposite signs count 1");
    assert_eq!(smape(&[1.0], &[1.0, 2.0]), None);
    assert_eq!(smape(&[], &[]), None);
}

#[test]
fn mase_by_hand() {
    // In-sample naive errors 1, 2, 3 (mean 2); forecast errors 1, 2 (mean 1.5).
    let v = mase(&[1.0, 2.0, 4.0, 7.0], &[10.0, 12.0], &[11.0, 10.0], 1).unwrap();
    assert!(close(v, 0.75), "{v}");
    // Seasonal scale, m = 2: |3−1|, |6−2|, |5−3|, |10−6| → mean 3; errors 3, 0 → 1.5 / 3.
    let v = mase(&[1.0, 2.0, 3.0, 6.0, 5.0, 10.0], &[7.0, 12.0], &[4.0, 12.0], 2).unwrap();
    assert!(close(v, 0.5), "{v}");
    // n ≤ m: falls back to m = 1, and says so.
    assert_eq!(mase_scale(&[1.0, 3.0, 4.0], 12), Some((1.5, 1)));
    // A constant history has no scale.
    assert_eq!(mase(&[2.0, 2.0, 2.0], &[2.0], &[3.0], 1), None);
    assert_eq!(mase_scale(&[2.0], 1), None);
}

fn periodic(n: usize) -> Vec<f64> {
    let s = [1.2, 0.8, 1.1, 0.9];
    (0..n).map(|i| 10.0 * s[i % 4]).collect()
}

#[test]
fn acf_by_hand() {
    let x = periodic(32);
    // Deviations 2, −2, 1, −1 repeated; Σ dev² = 80; lag 4: 28 products summing to 70.
    assert!(close(acf(&x, 4), 70.0 / 80.0));
    assert!(close(acf(&x, 2), (30.0 * 2.0) / 80.0));
    assert_eq!(acf(&[3.0, 3.0, 3.0], 1), 0.0);
}

#[test]
fn naive2_on_a_seasonal_series() {
    let x = periodic(32);
    assert!(is_seasonal(&x, 4));
    let s = seasonal_indices(&x, 4).unwrap();
    for (a, b) in s.iter().zip([1.2, 0.8, 1.1, 0.9]) {
        assert!(close(*a, b), "{s:?}");
    }
    // Last value 9 at index 0.9 → level 10, re-seasonalised from position 32 ≡ 0.
    let f = naive2(&x, 6, 4);
    assert!(f.seasonal);
    for (a, b) in f.forecast.iter().zip([12.0, 8.0, 11.0, 9.0, 12.0, 8.0]) {
        assert!(close(*a, b), "{:?}", f.forecast);
    }
}

#[test]
fn naive2_on_a_trending_seasonal_series() {
    let s = [1.2, 0.8, 1.1, 0.9];
    let x: Vec<f64> = (0..32).map(|i| (10.0 + i as f64) * s[i % 4]).collect();
    let f = naive2(&x, 4, 4);
    assert!(f.seasonal);
    // Values from an independent computation of the 2×4 moving-average decomposition.
    let want = [49.30820325672193, 32.870527387013375, 45.09725660384459, 36.9];
    for (a, b) in f.forecast.iter().zip(want) {
        assert!((a - b).abs() < 1e-9, "{:?}", f.forecast);
    }
}

#[test]
fn naive2_on_non_seasonal_series() {
    // Too short for the test (n < 3m is not seasonal) though periodic.
    let short = periodic(11);
    assert!(!is_seasonal(&short, 4));
    // Long enough, but |acf_4| = 0.375 is under the limit 0.5206.
    let y = [3.0, 5.0, 4.0, 6.0, 5.0, 4.0, 6.0, 7.0, 5.0, 6.0, 8.0, 7.0, 6.0, 7.0, 9.0, 8.0];
    assert!(close(acf(&y, 4), 0.375));
    assert!(!is_seasonal(&y, 4));
    let f = naive2(&y, 3, 4);
    assert_eq!((f.forecast, f.seasonal), (vec![8.0; 3], false));
    // Period 1: plain naive.
    assert_eq!(naive2(&periodic(32), 2, 1).forecast, vec![9.0, 9.0]);
    // Zeros in a seasonal-looking series make the indices unusable: plain naive.
    let z: Vec<f64> = (0..24).map(|i| if i % 4 == 0 { 10.0 } else { 0.0 }).collect();
    let f = naive2(&z, 2, 4);
    assert_eq!(f.forecast, vec![0.0, 0.0]);
}

fn fm(smape: Option<f64>, mase: Option<f64>, smape_naive2: f64, mase_naive2: f64) -> ForecastMetrics {
    ForecastMetrics {
        smape,
        mase,
        smape_naive2: Some(smape_naive2),
        mase_naive2: Some(mase_naive2),
        mase_period: Some(1),
        naive2_seasonal: false,
        values_found: 1,
        fallback: None,
    }
}

#[test]
fn owa_from_averages_over_the_set() {
    let set = [fm(Some(10.0), Some(1.0), 20.0, 2.0), fm(Some(30.0), Some(3.0), 20.0, 2.0)];
    let o = owa(&set);
    // ½ · (20/20 + 2/2) = 1.0, while the per-series OWAs would be 0.5 and 1.5.
    assert_eq!((o.series, o.failed, o.undefined), (2, 0, 0));
    assert!(close(o.owa.unwrap(), 1.0));
    let set = [fm(Some(10.0), Some(1.0), 40.0, 4.0), fm(Some(10.0), Some(3.0), 10.0, 4.0)];
    // ½ · (10/25 + 2/4) = 0.45
    assert!(close(owa(&set).owa.unwrap(), 0.45));
    // A failed parse counts with sMAPE 200 and its stand-in's MASE; a series
    // whose MASE is undefined is left out of all four averages:
    // ½ · ((10 + 200)/2 / 20 + (1 + 2)/2 / 2) = ½ · (5.25 + 0.75) = 3.
    let failed = ForecastMetrics { fallback: Some(FailureForecast::Naive2), ..fm(Some(200.0), Some(2.0), 20.0, 2.0) };
    let mixed = [fm(Some(10.0), Some(1.0), 20.0, 2.0), failed, fm(Some(5.0), None, 20.0, 2.0)];
    let o = owa(&mixed);
    assert_eq!((o.series, o.failed, o.undefined), (2, 1, 1));
    assert!(close(o.owa.unwrap(), 3.0));
    assert_eq!(owa(&[]).owa, None);
    assert_eq!(owa(&[fm(Some(0.0), Some(0.0), 0.0, 0.0)]).owa, None);
}

#[test]
fn forecast_metrics_of_a_sample() {
    let history = [1.0, 2.0, 4.0, 7.0];
    let m = ForecastMetrics::compute(&history, &[10.0, 12.0], 1, Some(&[11.0, 10.0]), 2, FailureForecast::Naive2);
    assert!(close(m.mase.unwrap(), 0.75));
    // Naive2 = 7, 7: MASE (3 + 5)/2/2 = 2; sMAPE 100·(3/17 + 5/19).
    assert!(close(m.mase_naive2.unwrap(), 2.0));
    assert!(close(m.smape_naive2.unwrap(), 100.0 * (3.0 / 17.0 + 5.0 / 19.0)));
    assert_eq!(m.fallback, None);
    // A failed parse is scored: sMAPE 200, MASE of the stand-in forecast.
    let failed = ForecastMetrics::compute(&history, &[10.0, 12.0], 1, None, 0, FailureForecast::Naive2);
    assert_eq!((failed.smape, failed.mase, failed.fallback), (Some(200.0), Some(2.0), Some(FailureForecast::Naive2)));
    // Naive1 repeats the last value, 7: errors 3 and 5 over a scale of 2.
    let naive1 = ForecastMetrics::compute(&[9.0, 8.0, 6.0, 7.0], &[10.0, 12.0], 1, None, 0, FailureForecast::Naive1);
    // Scale: (1 + 2 + 1)/3; MAE 4 → MASE 3.
    assert!(close(naive1.mase.unwrap(), 3.0));
}

#[test]
fn accuracy_and_macro_f1_by_hand() {
    let pairs = [("a", Some("a")), ("a", Some("b")), ("b", Some("b")), ("b", None), ("c", Some("c"))];
    let c = classification(&pairs);
    // a: tp 1, fp 0, fn 1 → 2/3; b: tp 1, fp 1, fn 1 → 1/2; c: 1.
    assert_eq!((c.n, c.correct, c.failed), (5, 3, 1));
    assert!(close(c.accuracy.unwrap(), 0.6));
    assert!(close(c.macro_f1.unwrap(), (2.0 / 3.0 + 0.5 + 1.0) / 3.0));
    assert_eq!(c.per_label.iter().map(|l| l.label.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);

    // A predicted label absent from the truth counts in the macro average.
    let c = classification(&[("a".to_string(), Some("z".to_string())), ("a".to_string(), Some("a".to_string()))]);
    assert!(close(c.macro_f1.unwrap(), (2.0 / 3.0 + 0.0) / 2.0));
    let none: [(&str, Option<&str>); 0] = [];
    let c = classification(&none);
    assert_eq!((c.accuracy, c.macro_f1), (None, None));
    let all_failed = classification(&[("a", None::<&str>)]);
    assert_eq!((all_failed.accuracy, all_failed.macro_f1), (Some(0.0), Some(0.0)));
}
