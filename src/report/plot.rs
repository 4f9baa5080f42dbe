//! Figures (PNG and SVG, with plotters): each quality metric of the
//! registry (reward, sMAPE, OWA, accuracy, F1, those the samples have)
//! against compute (NFE, generated tokens), one line per method through
//! its budgets, and against `num_rollouts`; every point a group mean (or
//! the group's set statistic) with its 95% interval drawn as a band. A footer and `figures.json` record what
//! the figures were made from.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use polars::prelude::DataFrame;

use super::bootstrap::Estimate;
use super::frame::Level;
use super::group::{self, Grouping};
use super::metric::{self, Metric};
use super::provenance::{Provenance, Source};
use super::table::estimates;
use super::{font, ReportError};
use crate::metrics::Role;

const SIZE: (u32, u32) = (900, 600);
const FOOTER: u32 = 30;
/// The budget parameter of the scaling figures (a column of `store::columns::INT_PARAMS`).
const BUDGET: &str = "num_rollouts";

/// One curve: a method's points, ordered along x.
#[derive(Debug, Clone)]
pub struct Curve {
    pub name: String,
    /// Palette index, the same for a series in every figure.
    pub color: usize,
    pub points: Vec<(f64, Estimate)>,
}

/// One figure's content.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name without extension.
    pub stem: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub curves: Vec<Curve>,
}

/// An axis title: the metric, what a point is (a group's mean, or its
/// set statistic) and which way is better.
fn label(m: Metric) -> String {
    let what = if m.is_set() { m.label.to_owned() } else { format!("mean {}", m.label) };
    format!("{what} ({} is better)", if m.higher_is_better { "higher" } else { "lower" })
}

/// The registry's metrics of figure role `role` that the samples have values of.
fn plotted(df: &DataFrame, role: Role) -> Vec<Metric> {
    let has_values = |col: &str| df.column(col).is_ok_and(|c| c.null_count() < c.len());
    crate::metrics::ALL.iter().filter(|m| m.figure == role && metric::applies(m, has_values)).collect()
}

/// The figures of `df`: quality against compute and against budget.
pub fn figures(df: &DataFrame) -> Result<Vec<Figure>, ReportError> {
    let series_by = group::default_by(df)?;
    let has_budget = super::frame::has(df, BUDGET);
    let mut by = series_by.clone();
    if has_budget {
        by.push(BUDGET.to_owned());
    }
    let quality = plotted(df, Role::Quality);
    let compute = plotted(df, Role::Compute);
    let all: Vec<Metric> = quality.iter().chain(&compute).copied().collect();
    let grouping = Grouping::of(df, &by)?;
    let cells = estimates(df, &grouping, &all)?;
    let name_of = |key: &[Level]| key[..series_by.len()].iter().map(ToString::to_string).collect::<Vec<_>>().join(" / ");
    let mut names: Vec<String> = grouping.keys.iter().map(|k| name_of(k)).collect();
    names.dedup();

    let curves = |x_of: &dyn Fn(usize) -> Option<f64>, y: usize| -> Vec<Curve> {
        let mut out: Vec<Curve> = Vec::new();
        for (g, key) in grouping.keys.iter().enumerate() {
            let (Some(x), Some(e)) = (x_of(g), cells[g][y]) else { continue };
            let name = name_of(key);
            match out.iter_mut().find(|c| c.name == name) {
                Some(c) => c.points.push((x, e)),
                None => {
                    let color = names.iter().position(|n| *n == name).unwrap_or(0);
                    out.push(Curve { name, color, points: vec![(x, e)] })
                }
            }
        }
        for c in &mut out {
            c.points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        out
    };

    let mut figs = Vec::new();
    for (yi, y) in quality.iter().enumerate() {
        for (ci, x) in compute.iter().enumerate() {
            let xi = quality.len() + ci;
            figs.push(Figure {
                stem: format!("{}_vs_{}", y.name, x.name),
                title: format!("{} against {}", y.label, x.label),
                x_label: label(x),
                y_label: label(y),
                curves: curves(&|g| cells[g][xi].map(|e| e.mean), yi),
            });
        }
        if has_budget {
            let budget = grouping.by.len() - 1;
            let scaling = curves(&|g| grouping.keys[g][budget].as_f64(), yi);
            if !scaling.is_empty() {
                figs.push(Figure {
                    stem: format!("{}_vs_num_rollouts", y.name),
                    title: format!("{} against num_rollouts", y.label),
                    x_label: "num_rollouts".into(),
                    y_label: label(y),
                    curves: scaling,
                });
            }
        }
    }
    Ok(figs)
}

fn span(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let pad = if hi > lo { (hi - lo) * 0.06 } else { lo.abs().max(1.0) * 0.1 };
    (lo - pad)..(hi + pad)
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure, footer: &str) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (main, foot) = root.split_vertically(SIZE.1 - FOOTER);
    foot.draw_text(footer, &("sans-serif", 12).into_font().color(&BLACK.mix(0.7)), (10, 8)).map_err(e)?;
    let points = fig.curves.iter().flat_map(|c| &c.points);
    let (x0, x1) = points.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1.lo), b.max(p.1.hi)));
    if !(x0.is_finite() && y0.is_finite()) {
        main.draw_text("no data", &("sans-serif", 20).into_font().color(&BLACK), (40, 40)).map_err(e)?;
        return root.present().map_err(e);
    }
    let mut chart = ChartBuilder::on(&main)
        .caption(&fig.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(span(x0, x1), span(y0, y1))
        .map_err(e)?;
    chart.configure_mesh().x_desc(&fig.x_label).y_desc(&fig.y_label).light_line_style(BLACK.mix(0.05)).draw().map_err(e)?;
    for c in &fig.curves {
        let color = Palette99::pick(c.color).to_rgba();
        let band: Vec<(f64, f64)> =
            c.points.iter().map(|(x, e)| (*x, e.lo)).chain(c.points.iter().rev().map(|(x, e)| (*x, e.hi))).collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.18).filled()))).map_err(e)?;
        if c.points.len() == 1 {
            let (x, est) = c.points[0];
            chart.draw_series(std::iter::once(PathElement::new(vec![(x, est.lo), (x, est.hi)], color.stroke_width(2)))).map_err(e)?;
        }
        chart
            .draw_series(LineSeries::new(c.points.iter().map(|(x, e)| (*x, e.mean)), color.stroke_width(2)))
            .map_err(e)?
            .label(&c.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(c.points.iter().map(|(x, e)| Circle::new((*x, e.mean), 3, color.filled()))).map_err(e)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// Writes every figure of `df` as PNG and SVG into `out`, and
/// `figures.json` (provenance and file names); the files written.
pub fn plot(df: &DataFrame, source: Source, out: &Path) -> Result<Vec<PathBuf>, ReportError> {
    if df.height() == 0 {
        return Err(ReportError::Empty(format!("{}: no samples to plot (no complete runs?)", source.results_dir)));
    }
    font::ensure()?;
    let provenance = Provenance::of(df, source)?;
    std::fs::create_dir_all(out).map_err(|e| ReportError::Io { path: out.into(), source: e })?;
    let footer = provenance.short();
    let mut written = Vec::new();
    let figs = figures(df)?;
    for fig in &figs {
        let png = out.join(format!("{}.png", fig.stem));
        draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), fig, &footer)
            .map_err(|message| ReportError::Plot { path: png.clone(), message })?;
        let svg = out.join(format!("{}.svg", fig.stem));
        draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), fig, &footer)
            .map_err(|message| ReportError::Plot { path: svg.clone(), message })?;
        written.extend([png, svg]);
    }
    let manifest = out.join("figures.json");
    let files: Vec<String> = written.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    let json = serde_json::json!({ "provenance": provenance.to_json(), "files": files });
    let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
    std::fs::write(&manifest, text).map_err(|e| ReportError::Io { path: manifest.clone(), source: e })?;
    written.push(manifest);
    Ok(written)
}
