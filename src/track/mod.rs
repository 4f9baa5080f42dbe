//! Weights & Biases over HTTP, without the Python SDK: runs, history,
//! summary, files and completion, through an on-disk outbox per run so
//! that a crash, an outage or offline mode loses nothing (`runner wandb
//! sync` replays it). Tracking never blocks or fails a sweep, and the API
//! key never leaves the Authorization header.

pub mod client;
pub mod netrc;
pub mod outbox;
pub mod protocol;
pub mod settings;
pub mod sweep_files;
pub mod sync;
pub mod tracker;
pub mod upload;

pub use settings::{ApiKey, WandbSettings};
pub use tracker::{Tracker, UploadReport};
