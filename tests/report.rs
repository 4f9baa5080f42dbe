//! Integration tests: tables, paper layouts, figures and diffs.

mod report_fixture;

mod report_diff;
mod report_history;
mod report_paper;
mod report_plot;
mod report_table;
