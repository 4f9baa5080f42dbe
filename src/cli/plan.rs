//! `runner plan` and `runner validate`.

use std::io::Write;

use super::{CliError, SpecArgs};
use crate::plan::{resolve, Plan, RunConfig};
use crate::spec::load;

fn make_plan(args: &SpecArgs) -> Result<Plan, CliError> {
    let loaded = load(&args.spec, &args.sets)?;
    Ok(resolve(&loaded)?)
}

fn io(e: std::io::Error) -> CliError {
    CliError::Io { context: "writing to standard output".into(), source: e }
}

pub fn validate(args: &SpecArgs) -> Result<(), CliError> {
    let plan = make_plan(args)?;
    println!("{}: valid, {} runs", args.spec.display(), plan.runs.len());
    Ok(())
}

pub fn plan(args: &SpecArgs, json: bool) -> Result<(), CliError> {
    let plan = make_plan(args)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if json {
        serde_json::to_writer_pretty(&mut out, &plan).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        write_table(&mut out, &plan).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// The parameters of a run as `key=value` pairs, in a fixed order.
fn params_text(run: &RunConfig) -> String {
    let value = serde_json::to_value(&run.method.params).unwrap_or_default();
    let Some(map) = value.as_object() else { return String::new() };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn write_table(out: &mut impl Write, plan: &Plan) -> std::io::Result<()> {
    let rows: Vec<[String; 6]> = plan
        .runs
        .iter()
        .map(|r| {
            [
                r.run_id.to_string(),
                r.model.name.clone(),
                r.dataset.name.clone(),
                r.method.name.clone(),
                r.seed.map_or("-".into(), |s| s.to_string()),
                params_text(r),
            ]
        })
        .collect();
    let header = ["RUN ID", "MODEL", "DATASET", "METHOD", "SEED", "PARAMETERS"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()).take(5) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i < 5 {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            } else {
                s.push_str(c);
            }
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(&header))?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(out, "{}", line(&cells))?;
    }
    writeln!(out, "{} runs in experiment {}", plan.runs.len(), plan.experiment)
}
