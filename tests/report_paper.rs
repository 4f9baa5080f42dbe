//! `runner table --layout paper`: methods by rollout budgets per model and
//! dataset, each cell the block's primary metric, equal to the long
//! table's value of the same group; other swept parameters never pooled.

use crate::report_fixture;

use polars::prelude::Column;
use report_fixture::{activity, forecast, frame, source, Rec};
use runner::report::frame::Level;
use runner::report::{paper, render_paper, table, Format, TableOptions};

/// Forecasts (OWA applies) on `m3` and labels on `har`, for greedy (no
/// budget), best_of_n at 4 and mcts at 4 and 16.
fn recs() -> Vec<Rec> {
    let f = |run, sample, method, budget: Option<i64>, s: f64| Rec {
        budget,
        ..forecast(run, sample, method, [Some(s), Some(s / 10.0), Some(20.0), Some(2.0)])
    };
    let a = |run, sample, method, budget: Option<i64>, truth, answer| Rec { budget, ..activity(run, sample, method, truth, answer) };
    vec![
        f("g", "s1", "greedy", None, 30.0),
        f("g", "s2", "greedy", None, 10.0),
        f("b4", "s1", "best_of_n", Some(4), 20.0),
        f("b4", "s2", "best_of_n", Some(4), 12.0),
        f("m4", "s1", "mcts", Some(4), 16.0),
        f("m4", "s2", "mcts", Some(4), 14.0),
        f("m16", "s1", "mcts", Some(16), 8.0),
        f("m16", "s2", "mcts", Some(16), 10.0),
        a("hg", "a1", "greedy", None, "walk", Some("walk")),
        a("hg", "a2", "greedy", None, "sit", Some("walk")),
        a("hm", "a1", "mcts", Some(4), "walk", Some("walk")),
        a("hm", "a2", "mcts", Some(4), "sit", Some("sit")),
    ]
}

#[test]
fn cells_are_the_long_tables_values_of_the_same_groups() {
    let df = frame(&recs());
    let p = paper::build(&df, source("a"), None).unwrap();
    assert_eq!(p.blocks.len(), 2);
    let long = |metric: &str| {
        let by = ["model", "dataset", "method_name", "num_rollouts"].map(String::from).to_vec();
        table::build(&df, source("a"), &TableOptions { by: Some(by), metrics: Some(vec![metric.to_owned()]) }).unwrap()
    };
    for (block, metric) in p.blocks.iter().zip(["accuracy", "owa"]) {
        // Blocks in dataset order: har (accuracy), then m3 (OWA).
        assert_eq!(block.metric.name, metric);
        let t = long(metric);
        let mut seen = 0;
        for row in t.rows.iter().filter(|r| r.key[1] == block.dataset) {
            let r = block.rows.iter().find(|x| x.method == row.key[2]).unwrap();
            let b = block.budgets.iter().position(|x| *x == row.key[3]).unwrap();
            assert_eq!(r.cells[b].map(|e| (e.mean, e.lo, e.hi, e.n)), row.cells[0].map(|e| (e.mean, e.lo, e.hi, e.n)));
            seen += 1;
        }
        let filled: usize = block.rows.iter().map(|r| r.cells.iter().flatten().count()).sum();
        assert_eq!(filled, seen, "every cell is a group of the long table");
    }
    let m3 = &p.blocks[1];
    assert_eq!(m3.dataset, Level::Str("m3".into()));
    assert_eq!(m3.budgets, [Level::Null, Level::Int(4), Level::Int(16)]);
    let methods: Vec<String> = m3.rows.iter().map(|r| r.method.to_string()).collect();
    assert_eq!(methods, ["best_of_n", "greedy", "mcts"]);
    // greedy has only the no-budget cell; best_of_n only 4.
    assert!(m3.rows[1].cells[0].is_some() && m3.rows[1].cells[1].is_none() && m3.rows[1].cells[2].is_none());
    assert!(m3.rows[0].cells[0].is_none() && m3.rows[0].cells[1].is_some());
    // The har block has accuracy 0.5 for greedy and 1 for mcts at 4.
    let har = &p.blocks[0];
    assert_eq!(har.budgets, [Level::Null, Level::Int(4)]);
    assert_eq!(har.rows[0].cells[0].unwrap().mean, 0.5);
    assert_eq!(har.rows[1].cells[1].unwrap().mean, 1.0);
}

#[test]
fn markdown_and_latex_show_blocks_budgets_and_the_best_per_column() {
    let df = frame(&recs());
    let md = render_paper(&df, source("abc"), None, Format::Md).unwrap();
    assert!(md.starts_with("<!-- runner table --layout paper\n") && md.contains("commit: abc"), "{md}");
    assert!(md.contains("**smollm2** on **m3**: OWA ↓, n = 2 per cell"), "{md}");
    assert!(md.contains("**smollm2** on **har**: accuracy ↑, n = 2 per cell"), "{md}");
    assert!(md.contains("| method \\ rollouts | - | 4 | 16 |"), "{md}");
    // At budget 4 on m3 mcts (mean sMAPE 15) beats best_of_n (16): bold;
    // at 16 mcts has no competitor: not bold.
    let mcts = md.lines().find(|l| l.starts_with("| mcts |") && l.matches('|').count() == 5).unwrap();
    assert_eq!(mcts.matches("**").count(), 2, "{mcts}");
    let tex = render_paper(&df, source("abc"), Some(&["reward".to_owned()]), Format::Latex).unwrap();
    for needle in
        ["\\begin{tabular}{lrrr}", "\\multicolumn{4}{c}{smollm2 on m3: reward $\\uparrow$, $n=2$}", "method / rollouts & - & 4 & 16 \\\\"]
    {
        assert!(tex.contains(needle), "{needle} missing from\n{tex}");
    }
    let e = render_paper(&df, source("abc"), None, Format::Csv).unwrap_err();
    assert!(e.to_string().contains("--format csv") && e.to_string().contains("md, latex"), "{e}");
    let e = render_paper(&df, source("abc"), Some(&["owa".to_owned(), "smape".to_owned()]), Format::Md).unwrap_err();
    assert!(e.to_string().contains("one metric"), "{e}");
}

#[test]
fn runs_differing_in_another_parameter_get_their_own_rows() {
    let mut df = frame(&recs());
    // mcts at 4 on m3: sample s1 with λ 1, s2 with λ inf.
    let lambda: Vec<Option<f64>> = (0..df.height()).map(|i| Some(if i == 4 { 1.0 } else { f64::INFINITY })).collect();
    df.with_column(Column::new("lambda".into(), lambda)).unwrap();
    let p = paper::build(&df, source("a"), Some(&["smape".to_owned()])).unwrap();
    let m3 = &p.blocks[1];
    let labels: Vec<String> = m3.rows.iter().map(|r| r.label()).collect();
    // Only mcts has two λ values; the other entries keep their plain names.
    assert_eq!(labels, ["best_of_n", "greedy", "mcts (lambda=1)", "mcts (lambda=inf)"]);
    let one = &m3.rows[2];
    assert_eq!(one.cells[1].map(|e| (e.mean, e.n)), Some((16.0, 1)));
    let inf = &m3.rows[3];
    assert_eq!(inf.cells[1].map(|e| (e.mean, e.n)), Some((14.0, 1)));
    assert_eq!(inf.cells[2].map(|e| (e.mean, e.n)), Some((9.0, 2)), "budget 16 has λ inf only");
    let md = render_paper(&df, source("a"), Some(&["smape".to_owned()]), Format::Md).unwrap();
    assert!(md.contains("| mcts (lambda=1) |"), "{md}");
}
