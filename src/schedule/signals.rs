//! Ctrl-C and SIGTERM. The handlers (signal-hook's) only wake a watcher thread, which stops the
//! process at once: it first takes the records' write gate (so no record is
//! half-written), releases every lock this process holds, and exits with
//! 128 + the signal number. Samples in flight are dropped with the process;
//! nothing recorded changes.

use std::sync::Mutex;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Held while a record is written; the signal path takes it before exiting.
pub static WRITE_GATE: Mutex<()> = Mutex::new(());

/// Installs the handlers for SIGINT and SIGTERM and starts the watcher.
pub fn install() -> Result<(), String> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot install the signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _gate = WRITE_GATE.lock();
                crate::store::lock::release_all();
                eprintln!("\nstopped by signal {sig}; recorded samples are kept, run the same command again to resume");
                std::process::exit(128 + sig);
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}
