//! `runner plot`: figures from a fixture, as PNG and SVG files.

use crate::report_fixture;

use report_fixture::{frame, source, two_methods};
use runner::report::plot::{figures, plot};

#[test]
fn figures_are_written_as_png_and_svg() {
    let mut recs = two_methods();
    for (r, b) in recs.iter_mut().zip([None, None, None, None, Some(5), Some(5), Some(10), Some(10)]) {
        r.budget = b;
    }
    let df = frame(&recs);
    let figs = figures(&df).unwrap();
    let stems: Vec<&str> = figs.iter().map(|f| f.stem.as_str()).collect();
    assert_eq!(
        stems,
        [
            "reward_vs_nfe",
            "reward_vs_tokens_generated",
            "reward_vs_num_rollouts",
            "smape_vs_nfe",
            "smape_vs_tokens_generated",
            "smape_vs_num_rollouts"
        ]
    );
    // mcts has two budgets, hence two points; greedy has no budget.
    let scaling = &figs[2];
    assert_eq!(scaling.curves.len(), 1);
    assert_eq!(scaling.curves[0].points.iter().map(|p| p.0).collect::<Vec<_>>(), [5.0, 10.0]);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("figures");
    let files = plot(&df, source("abc123"), &out).unwrap();
    assert_eq!(files.len(), 2 * figs.len() + 1);
    for stem in stems {
        let png = std::fs::read(out.join(format!("{stem}.png"))).unwrap();
        assert!(png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "{stem}.png");
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("<svg") && svg.contains("commit abc123"), "{stem}.svg");
    }
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("figures.json")).unwrap()).unwrap();
    assert_eq!(manifest["provenance"]["commit"], "abc123");
    assert_eq!(manifest["files"].as_array().unwrap().len(), 2 * figs.len());
}
