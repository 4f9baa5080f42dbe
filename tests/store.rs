//! Integration tests: records and results: appends, resumption, summaries.

mod common;
mod report_fixture;

mod run_resume;
mod store_records;
mod store_rescore;
mod store_summary;
