//! LaTeX: provenance as `%` comments, then a booktabs tabular with the
//! best value of each metric in bold.

use std::fmt::Write;

use super::{is_best, mean_pm, Exporter};
use crate::report::paper::PaperTable;
use crate::report::table::Table;
use crate::report::ReportError;

pub struct Latex;

/// `s` with LaTeX's special characters escaped.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(c),
        }
    }
    out
}

impl Exporter for Latex {
    fn name(&self) -> &'static str {
        "latex"
    }

    fn table(&self, t: &Table) -> String {
        let mut out = String::new();
        out.push_str("% runner table (requires \\usepackage{booktabs})\n");
        for line in t.provenance.lines() {
            let _ = writeln!(out, "% {}", line.replace(['\n', '\r'], " "));
        }
        out.push_str("% mean $\\pm$ half the width of the 95% interval; best per column in bold\n");
        if let Some(names) = super::set_metric_names(t) {
            let _ = writeln!(out, "% {names}: the statistic of the group's samples, its interval from resampling them");
        }
        let spec: String = "l".repeat(t.by.len()) + &"r".repeat(t.metrics.len() + 1);
        let _ = writeln!(out, "\\begin{{tabular}}{{{spec}}}");
        out.push_str("\\toprule\n");
        let mut head: Vec<String> = t.by.iter().map(|b| escape(b)).collect();
        head.push("$n$".into());
        head.extend(t.metrics.iter().map(|m| {
            let arrow = if m.higher_is_better { "$\\uparrow$" } else { "$\\downarrow$" };
            format!("{} {arrow}", escape(m.name))
        }));
        let _ = writeln!(out, "{} \\\\", head.join(" & "));
        out.push_str("\\midrule\n");
        for r in &t.rows {
            let mut cells: Vec<String> = r.key.iter().map(|k| escape(&k.to_string())).collect();
            cells.push(r.n.to_string());
            for (m, c) in r.cells.iter().enumerate() {
                cells.push(match c {
                    None => "--".into(),
                    Some(e) => {
                        let (mean, half) = mean_pm(e);
                        let mut s =
                            if is_best(t, m, e) { format!("$\\mathbf{{{mean} \\pm {half}}}$") } else { format!("${mean} \\pm {half}$") };
                        if e.n != r.n {
                            let _ = write!(s, "\\,{{\\scriptsize ($n{{=}}{}$)}}", e.n);
                        }
                        s
                    }
                });
            }
            let _ = writeln!(out, "{} \\\\", cells.join(" & "));
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n");
        out
    }

    fn paper(&self, t: &PaperTable) -> Result<String, ReportError> {
        let mut out = String::new();
        out.push_str("% runner table --layout paper (requires \\usepackage{booktabs})\n");
        for line in t.provenance.lines() {
            let _ = writeln!(out, "% {}", line.replace(['\n', '\r'], " "));
        }
        out.push_str("% mean $\\pm$ half the width of the 95% interval over the samples of all seeds; columns: num_rollouts; best per column in bold\n");
        for block in &t.blocks {
            let common = super::common_n(block);
            let width = block.budgets.len() + 1;
            let arrow = if block.metric.higher_is_better { "$\\uparrow$" } else { "$\\downarrow$" };
            let samples = common.map_or(String::new(), |n| format!(", $n={n}$"));
            let _ = writeln!(out, "\\begin{{tabular}}{{l{}}}", "r".repeat(block.budgets.len()));
            out.push_str("\\toprule\n");
            let _ = writeln!(
                out,
                "\\multicolumn{{{width}}}{{c}}{{{} on {}: {} {arrow}{samples}}} \\\\",
                escape(&block.model.to_string()),
                escape(&block.dataset.to_string()),
                escape(block.metric.label)
            );
            let _ = writeln!(out, "\\cmidrule(lr){{1-{width}}}");
            let mut head = vec!["method / rollouts".to_owned()];
            head.extend(block.budgets.iter().map(|b| escape(&super::budget_label(b))));
            let _ = writeln!(out, "{} \\\\", head.join(" & "));
            out.push_str("\\midrule\n");
            for r in &block.rows {
                let mut cells = vec![escape(&r.label())];
                for (b, c) in r.cells.iter().enumerate() {
                    cells.push(match c {
                        None => String::new(),
                        Some(e) => {
                            let (mean, half) = mean_pm(e);
                            let mut s = if block.best(b) == Some(e.mean) {
                                format!("$\\mathbf{{{mean} \\pm {half}}}$")
                            } else {
                                format!("${mean} \\pm {half}$")
                            };
                            if common.is_none() {
                                let _ = write!(s, "\\,{{\\scriptsize ($n{{=}}{}$)}}", e.n);
                            }
                            s
                        }
                    });
                }
                let _ = writeln!(out, "{} \\\\", cells.join(" & "));
            }
            out.push_str("\\bottomrule\n\\end{tabular}\n\n");
        }
        Ok(out)
    }
}
