//! `runner plan` (and `--estimate`) and `runner validate`.

use std::io::Write;

use super::{CliError, SpecArgs};
use crate::plan::{resolve, Plan, RunConfig};
use crate::schedule::estimate::{Estimate, EstimateOptions};
use crate::spec::load;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Print JSON: an object with a `runs` array.
    #[arg(long)]
    pub json: bool,
    /// Per run, the tokens to prefill (the real prompt lengths) and to
    /// generate (upper bounds from the budgets), and the time this machine
    /// needs for them, from a short calibration of each model (seconds per
    /// model and dataset); per method and in total. Loads every model and
    /// dataset (nothing is downloaded: a hub model missing from the local
    /// cache is listed as not estimated, a missing dataset is an error).
    #[arg(long)]
    pub estimate: bool,
    /// With --estimate: samples searched at once within a run, as
    /// `runner run --wave` (their searches share forward passes).
    #[arg(long, default_value_t = crate::schedule::sweep::DEFAULT_WAVE, value_parser = crate::schedule::sweep::parse_wave, requires = "estimate")]
    pub wave: usize,
    /// With --estimate: GB of computed prompts each model keeps, as `runner
    /// run --prompt-cache` (runs that share a model, a dataset and an answer
    /// budget then prefill their prompts once; 0: every run prefills).
    #[arg(long, value_name = "GB", default_value_t = crate::schedule::sweep::DEFAULT_PROMPT_CACHE_BYTES as f64 / 1e9, value_parser = super::run::parse_gigabytes, requires = "estimate")]
    pub prompt_cache: f64,
}

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

pub fn plan(args: &PlanArgs) -> Result<(), CliError> {
    let plan = make_plan(&args.spec)?;
    if args.estimate {
        return estimate(args, &plan);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &plan).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        write_table(&mut out, &plan).map_err(io)?;
    }
    out.flush().map_err(io)
}

fn estimate(args: &PlanArgs, plan: &Plan) -> Result<(), CliError> {
    crate::engine::init()?;
    let opts =
        EstimateOptions { wave: args.wave.max(1), prompt_cache_bytes: (args.prompt_cache * 1e9) as u64, ..EstimateOptions::default() };
    let sources = crate::schedule::Sources::cached(&plan.runs, &args.spec.spec)?;
    let e = crate::schedule::estimate(plan, &sources, &opts, &|note| eprintln!("{note}"))?;
    for skipped in &e.not_estimated {
        eprintln!("not estimated: model `{}` ({}), {} runs: {}", skipped.model, skipped.source, skipped.runs.len(), skipped.reason);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &e).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        write_estimate(&mut out, &e).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// `n` with a comma between groups of three digits.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut s = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            s.push(',');
        }
        s.push(c);
    }
    s
}

/// Seconds in the largest unit that keeps the number above 1.
fn duration(seconds: f64) -> String {
    match seconds {
        s if !s.is_finite() => "-".to_owned(),
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3600.0 => format!("{:.1} min", s / 60.0),
        s if s < 86400.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86400.0),
    }
}

/// `low – high` as durations.
fn range(low: f64, high: f64) -> String {
    format!("{} – {}", duration(low), duration(high))
}

/// Columns padded to their widest cell; `right` columns aligned right.
fn aligned(out: &mut impl Write, header: &[&str], rows: &[Vec<String>], right: &[bool]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            }
            s.push_str("  ");
        }
        s.trim_end().to_owned()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn write_estimate(out: &mut impl Write, e: &Estimate) -> std::io::Result<()> {
    writeln!(
        out,
        "Estimate of experiment {}: {} of {} planned runs, on this machine. Tokens are UPPER BOUNDS from the budgets \
         (max_new_tokens, num_rollouts, the longest answer the decoding constraint allows); times are at those bounds, \
         with runs one after another. TIME is a range: low if the {} samples of a run searched at once shared every \
         forward pass (at most {} rows a pass), high if no pass were shared; runs fall between. PREFILL counts the \
         prompt tokens; OF THEM CACHED, those a {} GB prompt cache serves from an earlier run of the same model, dataset \
         and budget (no prefill time).",
        e.experiment,
        e.runs.len(),
        e.planned_runs,
        e.wave,
        e.max_rows,
        e.prompt_cache_bytes as f64 / 1e9
    )?;
    writeln!(
        out,
        "\nCalibration: the dataset's prompt of median length prefilled (after its first half; prefill time is fitted as a·L + b·L²), then tokens decoded after it:"
    )?;
    let rows: Vec<Vec<String>> = e
        .calibration
        .iter()
        .map(|c| {
            let decode = c
                .decode
                .iter()
                .map(|p| format!("{:.1} ({} {})", p.tokens_per_s, p.rows, if p.rows == 1 { "row" } else { "rows" }))
                .collect::<Vec<_>>()
                .join(", ");
            let prefill = c
                .prefill
                .iter()
                .map(|p| format!("{:.1} ({} tokens)", p.tokens as f64 / p.seconds.max(1e-12), p.tokens))
                .collect::<Vec<_>>()
                .join(", ");
            vec![c.model.clone(), c.dataset.clone(), c.prompt_tokens.to_string(), prefill, decode, duration(c.seconds)]
        })
        .collect();
    aligned(
        out,
        &["MODEL", "DATASET", "PROMPT", "PREFILL TOK/S", "DECODE TOK/S", "TOOK"],
        &rows,
        &[false, false, true, false, false, true],
    )?;
    writeln!(out)?;
    let rows: Vec<Vec<String>> = e
        .runs
        .iter()
        .map(|r| {
            vec![
                r.run_id.clone(),
                r.model.clone(),
                r.dataset.clone(),
                r.method.clone(),
                r.seed.map_or("-".into(), |s| s.to_string()),
                r.num_rollouts.map_or("-".into(), |n| n.to_string()),
                r.samples.to_string(),
                count(r.prefill_tokens),
                count(r.cached_prompt_tokens),
                count(r.generated_tokens),
                r.rows.to_string(),
                range(r.seconds_low, r.seconds_high),
            ]
        })
        .collect();
    let header =
        ["RUN ID", "MODEL", "DATASET", "METHOD", "SEED", "ROLLOUTS", "SAMPLES", "PREFILL", "OF THEM CACHED", "GENERATED ≤", "ROWS", "TIME"];
    let right = [false, false, false, false, true, true, true, true, true, true, true, true];
    aligned(out, &header, &rows, &right)?;
    writeln!(out)?;
    let totals_row = |name: &str, t: &crate::schedule::estimate::Totals| {
        vec![
            name.to_owned(),
            t.runs.to_string(),
            t.samples.to_string(),
            count(t.prefill_tokens),
            count(t.cached_prompt_tokens),
            count(t.generated_tokens),
            range(t.seconds_low, t.seconds_high),
        ]
    };
    let mut rows: Vec<Vec<String>> = e.methods.iter().map(|m| totals_row(&m.method, &m.totals)).collect();
    rows.push(totals_row("total", &e.total));
    aligned(
        out,
        &["METHOD", "RUNS", "SAMPLES", "PREFILL", "OF THEM CACHED", "GENERATED ≤", "TIME"],
        &rows,
        &[false, true, true, true, true, true, true],
    )?;
    for s in &e.not_estimated {
        writeln!(out, "\nNOT ESTIMATED: model `{}` ({}), {} runs: {}", s.model, s.source, s.runs.len(), s.reason)?;
    }
    if !e.complete {
        writeln!(out, "The totals cover {} of {} planned runs.", e.runs.len(), e.planned_runs)?;
    }
    Ok(())
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
