//! Markdown: provenance in an HTML comment, then a pipe table.

use std::fmt::Write;

use super::{group_label, is_best, mean_pm, p_value, signed, Exporter};
use crate::report::diff::Diff;
use crate::report::history::History;
use crate::report::paper::PaperTable;
use crate::report::provenance::Provenance;
use crate::report::table::Table;
use crate::report::ReportError;

pub struct Markdown;

fn comment(out: &mut String, title: &str, sides: &[(&str, &Provenance)]) {
    let _ = writeln!(out, "<!-- {title}");
    for (label, p) in sides {
        for line in p.lines() {
            let line = line.replace("--", "- -");
            if label.is_empty() {
                let _ = writeln!(out, "{line}");
            } else {
                let _ = writeln!(out, "{label} {line}");
            }
        }
    }
    let _ = writeln!(out, "-->\n");
}

fn row(out: &mut String, cells: &[String]) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn cell_text(s: &str) -> String {
    s.replace('|', "\\|")
}

/// `s` cut to `n` characters, with an ellipsis where cut.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(n - 1).collect();
    cut.push('…');
    cut
}

/// A table cell: mean ± half width, and its own count where it differs
/// from the group's.
fn estimate_cell(e: &crate::report::bootstrap::Estimate, n: usize) -> String {
    let (mean, half) = mean_pm(e);
    let mut s = format!("{mean} ± {half}");
    if e.n != n {
        s.push_str(&format!(" (n={})", e.n));
    }
    s
}

impl Exporter for Markdown {
    fn name(&self) -> &'static str {
        "md"
    }

    fn history(&self, h: &History) -> Result<String, ReportError> {
        let mut out = String::new();
        let _ = writeln!(out, "<!-- runner history");
        let _ = writeln!(out, "experiment: {}", h.experiment.replace("--", "- -"));
        let _ = writeln!(out, "results: {}", h.results.replace("--", "- -"));
        let _ = writeln!(out, "commits: {}", h.entries.len());
        for e in &h.entries {
            let runs = e.table.as_ref().map_or_else(
                || "none complete".to_owned(),
                |t| format!("{} complete, sha256 of sorted run ids {}", t.provenance.run_ids.len(), t.provenance.runs_sha256),
            );
            let _ = writeln!(out, "{}: {} planned runs, {runs}", e.tag.tag, e.tag.planned);
        }
        let _ = writeln!(out, "-->\n");
        let mut head: Vec<String> = vec!["commit".into(), "date".into(), "subject".into()];
        head.extend(h.by.iter().cloned());
        head.push("n".into());
        head.extend(h.metrics.iter().map(|m| format!("{} {}", m.name, m.arrow())));
        row(&mut out, &head);
        let align: Vec<String> = std::iter::repeat_n("---".to_owned(), 3 + h.by.len())
            .chain(std::iter::repeat_n("---:".to_owned(), h.metrics.len() + 1))
            .collect();
        row(&mut out, &align);
        for e in &h.entries {
            let mut tag = cell_text(&e.tag.tag);
            if let Some(from) = &e.tag.rescored_from {
                tag.push_str(&format!(" (rescored from {})", cell_text(from)));
            }
            let date = e.tag.info.as_ref().map_or("-".to_owned(), |i| i.date.chars().take(10).collect());
            let subject = e.tag.info.as_ref().map_or("-".to_owned(), |i| cell_text(&short(&i.subject, 60)));
            let Some(t) = &e.table else {
                let mut cells = vec![tag, date, subject];
                cells.extend(std::iter::repeat_n("-".to_owned(), h.by.len()));
                cells.push("0".into());
                cells.extend(std::iter::repeat_n("-".to_owned(), h.metrics.len()));
                row(&mut out, &cells);
                continue;
            };
            for (i, r) in t.rows.iter().enumerate() {
                // Date and subject once per commit.
                let (date, subject) = if i == 0 { (date.clone(), subject.clone()) } else { (String::new(), String::new()) };
                let mut cells = vec![tag.clone(), date, subject];
                cells.extend(r.key.iter().map(|k| cell_text(&k.to_string())));
                cells.push(r.n.to_string());
                cells.extend(r.cells.iter().map(|c| c.as_ref().map_or("-".to_owned(), |e| estimate_cell(e, r.n))));
                row(&mut out, &cells);
            }
        }
        out.push_str("\nOne row per commit and group, oldest commit first; each commit's complete runs only. Mean ± half the width of its 95% interval, as in `runner table`.\n");
        Ok(out)
    }

    fn table(&self, t: &Table) -> String {
        let mut out = String::new();
        comment(&mut out, "runner table", &[("", &t.provenance)]);
        let mut head: Vec<String> = t.by.clone();
        head.push("n".into());
        head.extend(t.metrics.iter().map(|m| format!("{} {}", m.name, m.arrow())));
        row(&mut out, &head);
        let align: Vec<String> =
            t.by.iter().map(|_| "---".to_owned()).chain(std::iter::repeat_n("---:".to_owned(), t.metrics.len() + 1)).collect();
        row(&mut out, &align);
        for r in &t.rows {
            let mut cells: Vec<String> = r.key.iter().map(|k| cell_text(&k.to_string())).collect();
            cells.push(r.n.to_string());
            for (m, c) in r.cells.iter().enumerate() {
                cells.push(match c {
                    None => "-".into(),
                    Some(e) if is_best(t, m, e) => {
                        let (mean, half) = mean_pm(e);
                        let mut s = format!("**{mean} ± {half}**");
                        if e.n != r.n {
                            s.push_str(&format!(" (n={})", e.n));
                        }
                        s
                    }
                    Some(e) => estimate_cell(e, r.n),
                });
            }
            row(&mut out, &cells);
        }
        out.push_str(
            "\nMean ± half the width of its 95% interval (bootstrap over samples, or normal for large groups); best per column in bold.\n",
        );
        if let Some(names) = super::set_metric_names(t) {
            let _ = writeln!(out, "{names}: the statistic of the group's samples, its interval from resampling them (normal from its influence values for large groups).");
        }
        out
    }

    fn paper(&self, t: &PaperTable) -> Result<String, ReportError> {
        let mut out = String::new();
        comment(&mut out, "runner table --layout paper", &[("", &t.provenance)]);
        for block in &t.blocks {
            let common = super::common_n(block);
            let samples = common.map_or(String::new(), |n| format!(", n = {n} per cell"));
            let _ = writeln!(
                out,
                "**{}** on **{}**: {} {}{samples}\n",
                cell_text(&block.model.to_string()),
                cell_text(&block.dataset.to_string()),
                block.metric.label,
                block.metric.arrow()
            );
            let mut head = vec!["method \\ rollouts".to_owned()];
            head.extend(block.budgets.iter().map(super::budget_label));
            row(&mut out, &head);
            let align: Vec<String> =
                std::iter::once("---".to_owned()).chain(std::iter::repeat_n("---:".to_owned(), block.budgets.len())).collect();
            row(&mut out, &align);
            for r in &block.rows {
                let mut cells = vec![cell_text(&r.label())];
                for (b, c) in r.cells.iter().enumerate() {
                    cells.push(match c {
                        None => "".into(),
                        Some(e) => {
                            let (mean, half) = mean_pm(e);
                            let mut s = format!("{mean} ± {half}");
                            if block.best(b) == Some(e.mean) {
                                s = format!("**{s}**");
                            }
                            if common.is_none() {
                                s.push_str(&format!(" (n={})", e.n));
                            }
                            s
                        }
                    });
                }
                row(&mut out, &cells);
            }
            out.push('\n');
        }
        out.push_str("Mean ± half the width of its 95% interval over the samples of all seeds of a row; columns are `num_rollouts` (`-`: methods without a rollout budget); best per column in bold.\n");
        Ok(out)
    }

    fn diff(&self, d: &Diff) -> Result<String, ReportError> {
        let mut out = String::new();
        comment(&mut out, "runner diff", &[("a", &d.a), ("b", &d.b)]);
        let _ = writeln!(
            out,
            "Runs: {} matched, {} only in a, {} only in b. Samples: {} matched, {} only in a, {} only in b.\n",
            d.runs_matched,
            d.only_a.len(),
            d.only_b.len(),
            d.samples_matched,
            d.samples_only_a,
            d.samples_only_b
        );
        let _ = writeln!(
            out,
            "Differences are b − a over matched samples; a change is significant when its paired bootstrap 95% interval excludes 0 and the sign test gives p < 0.05. For a set statistic (owa, f1) the difference is of the statistic over the matched samples, and the interval alone decides (no sign test).\n"
        );
        row(&mut out, &["group", "metric", "n", "a", "b", "b − a", "95% CI", "better / worse", "sign test p", "change"].map(String::from));
        row(&mut out, &["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"].map(String::from));
        for r in &d.rows {
            let d_dec = super::decimals(r.diff.mean, r.diff.half_width()).max(super::decimals(r.mean_a, 0.0));
            let change = match r.change().as_str() {
                "" => String::new(),
                s => format!("**{s}**"),
            };
            row(
                &mut out,
                &[
                    cell_text(&group_label(&d.by, &r.key)),
                    format!("{} {}", r.metric.name, r.metric.arrow()),
                    r.n.to_string(),
                    super::fixed(r.mean_a, d_dec),
                    super::fixed(r.mean_b, d_dec),
                    signed(r.diff.mean, d_dec),
                    format!("[{}, {}]", signed(r.diff.lo, d_dec), signed(r.diff.hi, d_dec)),
                    r.sign.map_or("-".to_owned(), |s| format!("{} / {}", s.better, s.worse)),
                    r.sign.map_or("-".to_owned(), |s| p_value(s.p)),
                    change,
                ],
            );
        }
        for (label, runs) in [("a", &d.only_a), ("b", &d.only_b)] {
            let list =
                if runs.is_empty() { "none".to_owned() } else { runs.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ") };
            let _ = write!(out, "\nRuns only in {label}: {list}\n");
        }
        Ok(out)
    }
}
