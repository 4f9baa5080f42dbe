//! `runner list`: the methods, parameters, tasks, dataset formats and
//! metrics an experiment file can name.

use super::CliError;
use crate::catalog::catalog;

fn value_text(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

pub fn list(as_json: bool) -> Result<(), CliError> {
    let c = catalog();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
        return Ok(());
    }
    println!("methods: {}", c.methods.join(", "));
    println!();
    println!("parameters (per method that reads it: its default, and its choices where it chooses):");
    for p in &c.parameters {
        println!("  {}: {}", p.name, p.doc);
        let uses: Vec<String> = p
            .methods
            .iter()
            .map(|u| {
                let choices = if u.choices.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", u.choices.iter().map(value_text).collect::<Vec<_>>().join("|"))
                };
                let when = u.when.as_deref().map(|w| format!(" ({w})")).unwrap_or_default();
                format!("{}{when} {}{choices}", u.method, value_text(&u.default))
            })
            .collect();
        println!("    {}", uses.join("; "));
        println!("    {}{}", p.range, p.column.map(|k| format!("; results column ({k})")).unwrap_or_default());
    }
    println!();
    println!("tasks and their dataset formats:");
    for t in &c.tasks {
        println!("  {}: {}", t.task, t.formats.join(", "));
    }
    println!();
    println!("metrics (--metrics, tables, diffs):");
    for m in &c.metrics {
        println!("  {:<18} {} is better, {}", m.name, m.better, m.aggregate);
    }
    Ok(())
}
