//! Downloads over HTTP(S) that survive interruption: bytes go to
//! `<dest>.part`, a retry asks for the rest with `Range`, and the file is
//! renamed into place only when complete. Reads time out instead of
//! hanging, and a progress bar shows on a terminal.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::FetchError;

/// Attempts per file before giving up.
const ATTEMPTS: u32 = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection that delivers no byte for this long is dropped and retried
/// (`RUNNER_HTTP_READ_TIMEOUT`, seconds, changes it).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

fn read_timeout() -> Duration {
    std::env::var("RUNNER_HTTP_READ_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map_or(READ_TIMEOUT, Duration::from_secs_f64)
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(read_timeout())
        .try_proxy_from_env(true)
        .redirects(8)
        .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The `.part` file a download of `dest` writes to.
pub fn partial(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    dest.with_file_name(name)
}

/// Downloads `url` to `dest` (its parent must exist), resuming a `.part`
/// left by an earlier attempt. Returns the bytes written in all.
pub fn download(url: &str, dest: &Path) -> Result<u64, FetchError> {
    download_with(url, dest, &[])
}

/// [`download`] with extra request headers (`name`, `value`); ureq drops
/// them on a redirect to another host, so a token never leaves the host it
/// is meant for.
pub fn download_with(url: &str, dest: &Path, headers: &[(&str, String)]) -> Result<u64, FetchError> {
    let part = partial(dest);
    let agent = agent();
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 << attempt));
        }
        match attempt_once(&agent, url, &part, headers) {
            Ok(Step::Done(total)) => {
                std::fs::rename(&part, dest).map_err(|e| FetchError::io(dest, e))?;
                return Ok(total);
            }
            Ok(Step::Retry(why)) => last = why,
            Err(e) => return Err(e),
        }
    }
    Err(FetchError::Http { url: url.to_owned(), why: format!("gave up after {ATTEMPTS} attempts: {last}") })
}

enum Step {
    Done(u64),
    /// A transient failure; what is in `.part` stays for the next attempt.
    Retry(String),
}

fn attempt_once(agent: &ureq::Agent, url: &str, part: &Path, headers: &[(&str, String)]) -> Result<Step, FetchError> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    if have > 0 {
        request = request.set("Range", &format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(r) => r,
        // The part already holds the whole file.
        Err(ureq::Error::Status(416, _)) if have > 0 => return Ok(Step::Done(have)),
        Err(ureq::Error::Status(code, r)) if code == 429 || code >= 500 => {
            return Ok(Step::Retry(format!("HTTP {code} {}", r.status_text())))
        }
        Err(ureq::Error::Status(code, r)) => {
            return Err(FetchError::Status { url: url.to_owned(), code, reason: r.status_text().to_owned() })
        }
        Err(ureq::Error::Transport(t)) => return Ok(Step::Retry(t.to_string())),
    };
    let resumed = response.status() == 206 && have > 0;
    let length: Option<u64> = response.header("Content-Length").and_then(|v| v.parse().ok());
    let total = length.map(|l| if resumed { l + have } else { l });
    let mut file = if resumed {
        OpenOptions::new().append(true).open(part).map_err(|e| FetchError::io(part, e))?
    } else {
        File::create(part).map_err(|e| FetchError::io(part, e))?
    };
    let start = if resumed { have } else { 0 };
    let bar = progress_bar(url, total, start);
    let mut reader = response.into_reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut written = start;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                bar.abandon();
                file.sync_all().map_err(|e| FetchError::io(part, e))?;
                return Ok(Step::Retry(format!("the connection broke after {written} bytes: {e}")));
            }
        };
        file.write_all(&buf[..n]).map_err(|e| FetchError::io(part, e))?;
        written += n as u64;
        bar.set_position(written);
    }
    file.sync_all().map_err(|e| FetchError::io(part, e))?;
    bar.finish_and_clear();
    if let Some(t) = total {
        if written < t {
            return Ok(Step::Retry(format!("the connection closed after {written} of {t} bytes")));
        }
    }
    Ok(Step::Done(written))
}

fn progress_bar(url: &str, total: Option<u64>, start: u64) -> ProgressBar {
    let name = url.rsplit('/').find(|s| !s.is_empty()).unwrap_or(url).to_owned();
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::no_length(),
    };
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        eprintln!("fetching {url}{}", if start > 0 { format!(" (resuming at {start} bytes)") } else { String::new() });
    }
    bar.set_message(name);
    bar.set_position(start);
    bar
}
