//! Deterministic, stratified sample selection.
use std::collections::BTreeMap;

use runner::tasks::forecast::Series;
use runner::tasks::select::select;
use runner::tasks::{Sample, TaskError};

/// `counts[g]` series in group `g`, groups interleaved in the order given.
fn samples(groups: &[(&str, usize)]) -> Vec<Sample> {
    let mut out = Vec::new();
    let max = groups.iter().map(|g| g.1).max().unwrap_or(0);
    for k in 0..max {
        for (name, count) in groups {
            if k < *count {
                out.push(Sample::Forecast(Series {
                    id: format!("{name}{k}"),
                    history: vec![1.0, 2.0],
                    future: vec![3.0],
                    period: 1,
                    frequency: name.to_string(),
                    category: (k % 2 == 0).then(|| "even".to_string()),
                }));
            }
        }
    }
    out
}

fn per_group(samples: &[Sample], indices: &[usize]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for &i in indices {
        *m.entry(samples[i].group("frequency").unwrap().to_string()).or_insert(0) += 1;
    }
    m
}

#[test]
fn same_seed_same_selection_in_dataset_order() {
    let s = samples(&[("yearly", 30), ("monthly", 30)]);
    let a = select(&s, 10, 7, None).unwrap();
    let b = select(&s, 10, 7, None).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.indices.len(), 10);
    assert!(a.indices.windows(2).all(|w| w[0] < w[1]), "ascending: {:?}", a.indices);
    let ids: Vec<String> = a.indices.iter().map(|&i| s[i].id().to_string()).collect();
    assert_eq!(a.ids, ids);
    let other = select(&s, 10, 8, None).unwrap();
    assert_ne!(a.indices, other.indices);
    // All samples: every index once.
    assert_eq!(select(&s, 60, 3, None).unwrap().indices, (0..60).collect::<Vec<_>>());
}

#[test]
fn selection_is_pinned() {
    // Guards the documented algorithm (ChaCha20, seed_from_u64, partial
    // Fisher–Yates with rejection sampling) against silent changes.
    let s = samples(&[("a", 20)]);
    let sel = select(&s, 5, 0, None).unwrap();
    assert_eq!(sel.ids, PINNED);
}

const PINNED: [&str; 5] = ["a6", "a12", "a13", "a14", "a18"];

#[test]
fn stratified_evenly_with_remainder_in_group_order() {
    // Groups in first-appearance order: yearly, quarterly, monthly.
    let s = samples(&[("yearly", 20), ("quarterly", 20), ("monthly", 20)]);
    let sel = select(&s, 8, 1, Some("frequency")).unwrap();
    let g = per_group(&s, &sel.indices);
    assert_eq!((g["yearly"], g["quarterly"], g["monthly"]), (3, 3, 2));
    // `period` is the same key.
    assert_eq!(select(&s, 8, 1, Some("period")).unwrap(), sel);
    let again = select(&s, 8, 1, Some("Frequency")).unwrap();
    assert_eq!(again, sel);
}

#[test]
fn small_groups_give_their_shortfall_to_the_others() {
    let s = samples(&[("a", 1), ("b", 10), ("c", 10)]);
    let sel = select(&s, 9, 5, Some("frequency")).unwrap();
    let g = per_group(&s, &sel.indices);
    // Quotas 3, 3, 3; a has 1, so its 2 extra go to b then c.
    assert_eq!((g["a"], g["b"], g["c"]), (1, 4, 4));
    let sel = select(&s, 21, 5, Some("frequency")).unwrap();
    assert_eq!(sel.indices.len(), 21);
}

#[test]
fn stratify_by_category() {
    let s = samples(&[("a", 10)]);
    let sel = select(&s, 4, 2, Some("category"));
    // Half of the series have no category.
    let err = sel.unwrap_err();
    assert!(matches!(err, TaskError::Selection(_)), "{err}");
    assert!(err.to_string().contains("valid keys"), "{err}");
}

#[test]
fn selection_errors() {
    let s = samples(&[("a", 3)]);
    let err = select(&s, 4, 0, None).unwrap_err();
    assert!(err.to_string().contains("4 samples asked but the dataset holds 3"), "{err}");
    assert!(select(&s, 0, 0, None).is_err());
    let err = select(&s, 2, 0, Some("label")).unwrap_err();
    assert!(err.to_string().contains("no `label`"), "{err}");
}
