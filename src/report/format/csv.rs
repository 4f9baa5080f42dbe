//! CSV: provenance as `#` comment lines, then one row per group with each
//! metric's mean, interval bounds, count and interval method.

use std::fmt::Write;

use super::Exporter;
use crate::report::table::Table;

pub struct Csv;

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl Exporter for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn table(&self, t: &Table) -> String {
        let mut out = String::new();
        for line in t.provenance.lines() {
            let _ = writeln!(out, "# {}", line.replace(['\n', '\r'], " "));
        }
        let mut head: Vec<String> = t.by.iter().map(|b| field(b)).collect();
        head.push("n".into());
        for m in &t.metrics {
            for suffix in ["mean", "ci_low", "ci_high", "n", "ci"] {
                head.push(format!("{}_{suffix}", m.name));
            }
        }
        let _ = writeln!(out, "{}", head.join(","));
        for r in &t.rows {
            let mut cells: Vec<String> = r.key.iter().map(|k| field(&k.to_string())).collect();
            cells.push(r.n.to_string());
            for c in &r.cells {
                match c {
                    Some(e) => cells.extend([
                        e.mean.to_string(),
                        e.lo.to_string(),
                        e.hi.to_string(),
                        e.n.to_string(),
                        e.method.as_str().to_owned(),
                    ]),
                    None => cells.extend(std::iter::repeat_n(String::new(), 4).chain(["".to_owned()])),
                }
            }
            let _ = writeln!(out, "{}", cells.join(","));
        }
        out
    }
}
