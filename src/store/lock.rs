//! Lock files: one per run, so two processes never write one run, and a
//! short one around the experiment's shared files. A lock file holds its
//! holder's host, pid, a token and a heartbeat time; a holder that is gone
//! (same host and dead pid, or, elsewhere, no heartbeat for the stale limit
//! by both its own clock and the file system's) is taken over. Takeovers
//! are exclusive: a contender holds an advisory `flock` on a sibling
//! `.takeover` file while it re-reads the lock, checks it is still the
//! stale one and replaces it, so two contenders can never both win. A
//! holder re-checks that the lock is still its own before every write of
//! the run's files ([`Lock::check`]); a heartbeat that cannot be written
//! marks the lock lost, which the next check reports.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::StoreError;

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub host: String,
    pub pid: u32,
    /// Unique per acquisition, so a holder never removes someone else's lock.
    pub token: String,
    /// Unix seconds of the holder's last sign of life.
    pub heartbeat: u64,
    /// What is locked (for messages).
    pub purpose: String,
}

impl LockInfo {
    fn describe(&self) -> String {
        format!("{} (pid {} on {}, last heartbeat {} s ago)", self.purpose, self.pid, self.host, now().saturating_sub(self.heartbeat))
    }
}

/// How long a process waits for a short lock (plan.json, the summary)
/// that another live process holds.
pub const SHORT_LOCK_WAIT: Duration = Duration::from_secs(120);

/// How often a holder refreshes its heartbeat, and after how long without
/// one a lock counts as abandoned.
#[derive(Debug, Clone, Copy)]
pub struct LockTiming {
    pub heartbeat: Duration,
    pub stale_after: Duration,
}

impl Default for LockTiming {
    fn default() -> Self {
        LockTiming { heartbeat: Duration::from_secs(10), stale_after: Duration::from_secs(120) }
    }
}

/// Paths and tokens of the locks this process holds, so that a stop by
/// signal (which runs no destructors) can still release them.
static HELD: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// Removes every lock this process holds (the signal path).
pub fn release_all() {
    let held = HELD.lock().map(|mut h| std::mem::take(&mut *h)).unwrap_or_default();
    for (path, token) in held {
        remove_if_ours(&path, &token);
    }
}

fn remove_if_ours(path: &Path, token: &str) {
    if read_info(path).is_some_and(|i| i.token == token) {
        let _ = std::fs::remove_file(path);
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether process `pid` exists on this host.
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The lock file at `path`, if it holds one.
pub fn read_info(path: &Path) -> Option<LockInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn token() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{}-{nanos:x}-{n}", hostname(), std::process::id())
}

/// Why a lock file's holder counts as gone, if it does. On another host
/// both clocks must agree: the heartbeat (the holder's clock against ours)
/// and the file's modification time against a file written now in the
/// same folder (both the file system's clock), so skew between two hosts
/// alone never makes a live holder stale.
fn stale_reason(info: Option<&LockInfo>, path: &Path, timing: LockTiming) -> Option<String> {
    let limit = timing.stale_after.as_secs();
    match info {
        Some(i) if i.host == hostname() && i.pid != std::process::id() && !pid_alive(i.pid) => {
            Some(format!("its holder, pid {} on this host, is gone", i.pid))
        }
        Some(i) if i.host == hostname() && i.pid == std::process::id() => None,
        Some(i) if now().saturating_sub(i.heartbeat) > limit => {
            let age = fs_age(path)?;
            (age > timing.stale_after).then(|| {
                format!("its heartbeat is {} s old (the file unchanged for {} s)", now().saturating_sub(i.heartbeat), age.as_secs())
            })
        }
        Some(_) => None,
        None => {
            // Unreadable: a holder died between create and write, or the
            // file is foreign. Judge by its age.
            let age = fs_age(path)?;
            (age > timing.stale_after).then(|| format!("it is unreadable and {} s old", age.as_secs()))
        }
    }
}

/// How long ago `path` was last modified, by the file system's clock: the
/// modification time of a file created now beside it, minus `path`'s.
fn fs_age(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let probe = path.with_file_name(format!(".clock-{}", token()));
    let written = std::fs::File::create(&probe).and_then(|f| f.metadata()).and_then(|m| m.modified());
    let _ = std::fs::remove_file(&probe);
    written.ok()?.duration_since(modified).ok()
}

/// An exclusive advisory lock on `path`'s `.takeover` sibling, held while
/// the guard lives (released by the kernel if the process dies).
struct TakeoverGuard(std::fs::File);

impl TakeoverGuard {
    fn acquire(path: &Path) -> std::io::Result<TakeoverGuard> {
        let guard = path.with_file_name(format!("{}.takeover", file_name(path)));
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(guard)?;
        // SAFETY: flock on a descriptor this process owns for the call.
        while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(TakeoverGuard(f))
    }
}

impl Drop for TakeoverGuard {
    fn drop(&mut self) {
        // SAFETY: as above; closing the file would release it too.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// A held lock; released on drop.
pub struct Lock {
    path: PathBuf,
    info: Arc<Mutex<LockInfo>>,
    stop: Arc<AtomicBool>,
    /// Set by the heartbeat when the lock is no longer this holder's or
    /// its heartbeat could not be written: why.
    lost: Arc<Mutex<Option<String>>>,
    beat: Option<JoinHandle<()>>,
    /// Set when a stale lock was taken over: why.
    pub took_over: Option<String>,
}

fn write_info(path: &Path, info: &LockInfo, create_new: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if create_new {
        opts.create_new(true);
    } else {
        opts.truncate(true);
    }
    let mut f = opts.open(path)?;
    let text = serde_json::to_string(info).map_err(std::io::Error::other)?;
    f.write_all(text.as_bytes())?;
    f.sync_data()
}

impl Lock {
    /// Takes the lock at `path`, taking over an abandoned one; refuses with
    /// the holder's description while it is alive.
    pub fn acquire(path: &Path, purpose: &str, timing: LockTiming) -> Result<Lock, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        }
        let info = LockInfo { host: hostname(), pid: std::process::id(), token: token(), heartbeat: now(), purpose: purpose.into() };
        for _ in 0..8 {
            match write_info(path, &info, true) {
                Ok(()) => return Ok(Lock::held(path, info, timing, None)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let existing = read_info(path);
                    let Some(_) = stale_reason(existing.as_ref(), path, timing) else {
                        let holder = existing.map_or_else(|| "another process (lock file being written)".to_owned(), |i| i.describe());
                        return Err(StoreError::Locked { path: path.into(), holder });
                    };
                    // One contender at a time: under the guard, the lock
                    // must still be the stale one seen (same content and
                    // still stale) before it is replaced.
                    let _guard = TakeoverGuard::acquire(path).map_err(StoreError::io(path))?;
                    let now_there = read_info(path);
                    if now_there != existing {
                        continue;
                    }
                    let Some(reason) = stale_reason(now_there.as_ref(), path, timing) else { continue };
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StoreError::Io { path: path.into(), source: e }),
                    }
                    match write_info(path, &info, true) {
                        Ok(()) => return Ok(Lock::held(path, info, timing, Some(reason))),
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Err(StoreError::Io { path: path.into(), source: e }),
                    }
                }
                Err(e) => return Err(StoreError::Io { path: path.into(), source: e }),
            }
        }
        Err(StoreError::Locked { path: path.into(), holder: "another process taking over the same stale lock".into() })
    }

    /// Like `acquire`, but waits up to `wait` for a live holder to let go:
    /// for the short locks around shared files (`plan.json`, the summary),
    /// which processes started together contend for.
    pub fn acquire_waiting(path: &Path, purpose: &str, timing: LockTiming, wait: Duration) -> Result<Lock, StoreError> {
        let start = std::time::Instant::now();
        loop {
            match Lock::acquire(path, purpose, timing) {
                Err(StoreError::Locked { .. }) if start.elapsed() < wait => std::thread::sleep(Duration::from_millis(50)),
                other => return other,
            }
        }
    }

    fn held(path: &Path, info: LockInfo, timing: LockTiming, took_over: Option<String>) -> Lock {
        if let Ok(mut h) = HELD.lock() {
            h.push((path.to_path_buf(), info.token.clone()));
        }
        let info = Arc::new(Mutex::new(info));
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(Mutex::new(None));
        let beat = {
            let (path, info, stop, lost) = (path.to_path_buf(), info.clone(), stop.clone(), lost.clone());
            std::thread::Builder::new()
                .name("lock-heartbeat".into())
                .spawn(move || heartbeat(&path, &info, &stop, &lost, timing.heartbeat))
                .ok()
        };
        Lock { path: path.to_path_buf(), info, stop, lost, beat, took_over }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the lock is still this holder's: on disk with its token, and
    /// its heartbeat written. Called before every write of what it guards.
    pub fn check(&self) -> Result<(), StoreError> {
        if let Some(why) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(StoreError::LockLost { path: self.path.clone(), why });
        }
        // Holding `info` keeps the heartbeat from rewriting the file while
        // it is read here.
        let Ok(ours) = self.info.lock() else {
            return Err(StoreError::LockLost { path: self.path.clone(), why: "its heartbeat thread panicked".into() });
        };
        match read_info(&self.path) {
            Some(i) if i.token == ours.token => Ok(()),
            Some(i) => Err(StoreError::LockLost { path: self.path.clone(), why: format!("it is now held by {}", i.describe()) }),
            None => Err(StoreError::LockLost { path: self.path.clone(), why: "the lock file is gone or unreadable".into() }),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("lock").to_owned()
}

fn heartbeat(path: &Path, info: &Mutex<LockInfo>, stop: &AtomicBool, lost: &Mutex<Option<String>>, every: Duration) {
    let tick = Duration::from_millis(100).min(every);
    let mut waited = Duration::ZERO;
    let mark = |why: String| {
        if let Ok(mut l) = lost.lock() {
            l.get_or_insert(why);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        waited += tick;
        if waited < every {
            continue;
        }
        waited = Duration::ZERO;
        let Ok(mut i) = info.lock() else { return };
        match read_info(path) {
            Some(on_disk) if on_disk.token == i.token => {
                i.heartbeat = now();
                if let Err(e) = write_info(path, &i, false) {
                    mark(format!("its heartbeat could not be written: {e}"));
                    return;
                }
            }
            Some(other) => {
                mark(format!("it was taken over by {}", other.describe()));
                return;
            }
            None => {
                mark("the lock file is gone or unreadable".into());
                return;
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(b) = self.beat.take() {
            let _ = b.join();
        }
        let token = self.info.lock().map(|i| i.token.clone()).unwrap_or_default();
        remove_if_ours(&self.path, &token);
        if let Ok(mut h) = HELD.lock() {
            h.retain(|(p, t)| !(p == &self.path && t == &token));
        }
    }
}
