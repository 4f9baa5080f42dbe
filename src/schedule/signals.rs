//! Ctrl-C and SIGTERM. A handler (whichever thread the signal lands on)
//! only writes the signal number to a pipe; a watcher thread reads it and
//! stops the process at once: it first takes the records' write gate (so
//! no record is half-written), releases every lock this process holds, and
//! exits with 128 + the signal number. Samples in flight are dropped with
//! the process; nothing recorded changes.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

/// Held while a record is written; the signal path takes it before exiting.
pub static WRITE_GATE: Mutex<()> = Mutex::new(());

/// Write end of the signal pipe (-1 until installed).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one local byte.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
}

/// Installs the handlers for SIGINT and SIGTERM and starts the watcher.
pub fn install() -> Result<(), String> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) returns.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("cannot create the signal pipe: {}", std::io::Error::last_os_error()));
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    PIPE_WRITE.store(write_fd, Ordering::Relaxed);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut byte = 0u8;
            loop {
                // SAFETY: reading one byte into a local from our own pipe.
                let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
                if n == 1 {
                    break;
                }
                if n == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                    return;
                }
            }
            let _gate = WRITE_GATE.lock();
            crate::store::lock::release_all();
            eprintln!("\nstopped by signal {byte}; recorded samples are kept, run the same command again to resume");
            std::process::exit(128 + i32::from(byte));
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a plain handler and an empty mask
        // is valid; the handler only calls write(2).
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(format!("cannot install the handler of signal {sig}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}
