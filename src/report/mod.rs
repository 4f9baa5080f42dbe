//! Reports over results: aggregate tables (markdown, LaTeX, CSV, JSON),
//! figures, and paired comparisons of two results sets. Every function
//! takes samples as a DataFrame with the columns of `store::columns` (as
//! `store::load_samples` gives them), so none reads files itself except to
//! write figures.

pub mod bootstrap;
pub mod diff;
mod error;
pub mod font;
pub mod format;
pub mod frame;
pub mod group;
pub mod history;
pub mod metric;
pub mod paper;
pub mod plot;
pub mod provenance;
pub mod table;

pub use diff::{diff, Diff, DiffOptions};
pub use error::ReportError;
pub use format::{Exporter, Format};
pub use provenance::{Provenance, Source};
pub use table::{Table, TableOptions};

use polars::prelude::DataFrame;

/// The paper layout of `df` ([`paper`]) rendered in `format`.
pub fn render_paper(df: &DataFrame, source: Source, metrics: Option<&[String]>, format: Format) -> Result<String, ReportError> {
    format.exporter().paper(&paper::build(df, source, metrics)?)
}

/// The table of `df` rendered in `format`.
pub fn render_table(df: &DataFrame, source: Source, opts: &TableOptions, format: Format) -> Result<String, ReportError> {
    Ok(format.exporter().table(&table::build(df, source, opts)?))
}
