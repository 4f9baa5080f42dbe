//! JSON: provenance, grouping and metrics, and per group each metric's
//! mean, interval, count and interval method (`bootstrap` or `normal`).

use serde_json::{json, Map, Value};

use super::{group_label, Exporter};
use crate::report::bootstrap::{self, Estimate};
use crate::report::diff::Diff;
use crate::report::history::History;
use crate::report::metric::Metric;
use crate::report::table::Table;
use crate::report::ReportError;

pub struct Json;

fn estimate(e: &Estimate) -> Value {
    json!({ "mean": e.mean, "ci_low": e.lo, "ci_high": e.hi, "n": e.n, "ci": e.method.as_str() })
}

fn key(by: &[String], key: &[crate::report::frame::Level]) -> Value {
    Value::Object(by.iter().zip(key).map(|(b, k)| (b.clone(), k.to_json())).collect::<Map<_, _>>())
}

fn interval_note() -> Value {
    json!({ "level": 0.95, "bootstrap_resamples": bootstrap::RESAMPLES, "bootstrap_seed": bootstrap::SEED,
            "normal_above_draws": bootstrap::CELL_DRAWS, "total_bootstrap_draws": bootstrap::TOTAL_DRAWS,
            "set_statistics": "bootstrap resamples the group's samples; normal from the statistic's influence values (delta method)" })
}

/// A metric's description: name, direction, and what it aggregates.
fn metric(m: Metric) -> Value {
    let columns: Vec<&str> = m.columns().iter().map(|c| c.name).collect();
    json!({ "name": m.name, "column": m.column(), "columns": columns, "aggregate": if m.is_set() { "set" } else { "mean" },
            "higher_is_better": m.higher_is_better })
}

/// A table's rows: key, sample count and each metric's estimate.
fn rows(t: &Table) -> Vec<Value> {
    t.rows
        .iter()
        .map(|r| {
            let metrics: Map<String, Value> =
                t.metrics.iter().zip(&r.cells).map(|(m, c)| (m.name.to_owned(), c.as_ref().map_or(Value::Null, estimate))).collect();
            json!({ "key": key(&t.by, &r.key), "n": r.n, "metrics": metrics })
        })
        .collect()
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

impl Exporter for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn table(&self, t: &Table) -> String {
        let rows = rows(t);
        let metrics: Vec<Value> = t.metrics.iter().map(|m| metric(m)).collect();
        pretty(&json!({
            "provenance": t.provenance.to_json(),
            "by": t.by,
            "metrics": metrics,
            "intervals": interval_note(),
            "rows": rows,
        }))
    }

    fn history(&self, h: &History) -> Result<String, ReportError> {
        let commits: Vec<Value> = h
            .entries
            .iter()
            .map(|e| {
                let t = &e.tag;
                json!({
                    "tag": t.tag,
                    "results_dir": t.dir.display().to_string(),
                    "commit": t.commit.commit,
                    "dirty": t.commit.dirty,
                    "date": t.info.as_ref().map(|i| &i.date),
                    "subject": t.info.as_ref().map(|i| &i.subject),
                    "rescored_from": t.rescored_from,
                    "planned_runs": t.planned,
                    "complete_runs": e.table.as_ref().map_or(0, |t| t.provenance.run_ids.len()),
                    "samples": e.table.as_ref().map_or(0, |t| t.provenance.samples),
                    "runs_sha256": e.table.as_ref().map(|t| t.provenance.runs_sha256.clone()),
                    "rows": e.table.as_ref().map(rows).unwrap_or_default(),
                })
            })
            .collect();
        let metrics: Vec<Value> = h.metrics.iter().map(|m| metric(m)).collect();
        Ok(pretty(&json!({
            "experiment": h.experiment,
            "results": h.results,
            "by": h.by,
            "metrics": metrics,
            "intervals": interval_note(),
            "commits": commits,
        })))
    }

    fn diff(&self, d: &Diff) -> Result<String, ReportError> {
        let rows: Vec<Value> = d
            .rows
            .iter()
            .map(|r| {
                json!({
                    "group": key(&d.by, &r.key),
                    "label": group_label(&d.by, &r.key),
                    "metric": r.metric.name,
                    "aggregate": if r.metric.is_set() { "set" } else { "mean" },
                    "higher_is_better": r.metric.higher_is_better,
                    "n": r.n,
                    "mean_a": r.mean_a,
                    "mean_b": r.mean_b,
                    "diff": estimate(&r.diff),
                    "test": r.test(),
                    "better": r.sign.map(|s| s.better),
                    "worse": r.sign.map(|s| s.worse),
                    "sign_test_p": r.sign.map(|s| s.p),
                    "significant": r.significant,
                    "change": match r.change().as_str() { "" => "none", s => s },
                })
            })
            .collect();
        Ok(pretty(&json!({
            "a": d.a.to_json(),
            "b": d.b.to_json(),
            "by": d.by,
            "runs": { "matched": d.runs_matched, "only_a": d.only_a, "only_b": d.only_b },
            "samples": { "matched": d.samples_matched, "only_a": d.samples_only_a, "only_b": d.samples_only_b },
            "intervals": interval_note(),
            "significance": {
                "ci_excludes_zero": true,
                "sign_test_alpha": crate::report::diff::ALPHA,
                "tests": {
                    "sign": "a mean: the paired bootstrap interval of the mean difference excludes 0 and the sign test of the per-sample differences gives p < alpha",
                    "interval": "a set statistic (owa, f1): the paired bootstrap interval of the difference of the statistic excludes 0; no per-sample differences, so no sign test and no p (better, worse and sign_test_p are null)",
                },
            },
            "rows": rows,
        })))
    }
}
