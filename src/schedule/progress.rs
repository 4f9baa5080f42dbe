//! Progress of a sweep: a bar for the sweep (runs done of total, ETA) and
//! one per active run (samples, tok/s, mean reward) on a terminal; plain
//! log lines otherwise: one per run event (started, finished) and at most
//! one per [`PLAIN_INTERVAL`] per run for its samples, so a long sweep's log
//! stays readable. `--quiet` keeps only the lines of runs that failed and
//! notices.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Least time between two sample lines of one run off a terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(30);

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a run reports as it goes.
pub trait Progress: Sync {
    fn run_started(&self, run_id: &str, label: &str, done: usize, total: usize);
    /// One more sample recorded (or confirmed on resume).
    fn sample_done(&self, run_id: &str, reward: f64, tokens: u64);
    fn run_finished(&self, run_id: &str, outcome: &str);
    fn message(&self, text: &str);
}

#[derive(Default)]
struct RunState {
    done: usize,
    total: usize,
    reward_sum: f64,
    rewards: usize,
    tokens: u64,
    started: Option<Instant>,
    /// When the run's last sample line was written (plain output).
    last_line: Option<Instant>,
    label: String,
    bar: Option<ProgressBar>,
}

impl RunState {
    fn rate(&self) -> f64 {
        self.started.map_or(0.0, |s| self.tokens as f64 / s.elapsed().as_secs_f64().max(1e-9))
    }
    fn mean_reward(&self) -> f64 {
        if self.rewards == 0 {
            f64::NAN
        } else {
            self.reward_sum / self.rewards as f64
        }
    }
}

/// How much is said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Bars on a terminal; run events and rate-limited sample lines elsewhere.
    Normal,
    /// Only the lines of runs that failed, and notices.
    Quiet,
}

/// Bars on a terminal, lines elsewhere.
pub struct Reporter {
    multi: Option<MultiProgress>,
    sweep: Option<ProgressBar>,
    runs: Mutex<HashMap<String, RunState>>,
    finished: Mutex<usize>,
    total_runs: usize,
    verbosity: Verbosity,
    interval: Duration,
    /// Where plain lines go (standard error unless a test gives a sink).
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Reporter {
    /// `total_runs` to execute now. Bars when standard error is a terminal
    /// and `quiet` is off.
    pub fn new(total_runs: usize, quiet: bool) -> Reporter {
        let verbosity = if quiet { Verbosity::Quiet } else { Verbosity::Normal };
        let tty = std::io::stderr().is_terminal() && !quiet;
        let (multi, sweep) = if tty {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let bar = multi.add(ProgressBar::new(total_runs as u64));
            if let Ok(style) = ProgressStyle::with_template("sweep {bar:30} {pos}/{len} runs  elapsed {elapsed_precise}  eta {eta_precise}")
            {
                bar.set_style(style);
            }
            (Some(multi), Some(bar))
        } else {
            (None, None)
        };
        Reporter {
            multi,
            sweep,
            runs: Mutex::new(HashMap::new()),
            finished: Mutex::new(0),
            total_runs,
            verbosity,
            interval: PLAIN_INTERVAL,
            sink: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    /// Plain lines only, into `sink`, sample lines at most one per
    /// `interval` per run.
    pub fn plain(total_runs: usize, verbosity: Verbosity, interval: Duration, sink: Box<dyn Write + Send>) -> Reporter {
        Reporter {
            multi: None,
            sweep: None,
            runs: Mutex::new(HashMap::new()),
            finished: Mutex::new(0),
            total_runs,
            verbosity,
            interval,
            sink: Mutex::new(sink),
        }
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => self.plain_line(text),
        }
    }

    fn plain_line(&self, text: &str) {
        if let Ok(mut sink) = self.sink.lock() {
            let _ = writeln!(sink, "{text}");
        }
    }

    fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }
}

impl Progress for Reporter {
    fn run_started(&self, run_id: &str, label: &str, done: usize, total: usize) {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(total as u64));
            if let Ok(style) = ProgressStyle::with_template("  {prefix} {bar:20} {pos}/{len} samples  {msg}") {
                b.set_style(style);
            }
            b.set_prefix(label.to_owned());
            b.set_position(done as u64);
            b
        });
        if bar.is_none() && !self.quiet() {
            self.plain_line(&format!("run {run_id} {label}: starting, {done} of {total} samples recorded"));
        }
        if let Ok(mut runs) = self.runs.lock() {
            runs.insert(
                run_id.to_owned(),
                RunState { done, total, started: Some(Instant::now()), label: label.to_owned(), bar, ..RunState::default() },
            );
        }
    }

    fn sample_done(&self, run_id: &str, reward: f64, tokens: u64) {
        let Ok(mut runs) = self.runs.lock() else { return };
        let Some(s) = runs.get_mut(run_id) else { return };
        s.done += 1;
        s.reward_sum += reward;
        s.rewards += 1;
        s.tokens += tokens;
        let msg = format!("{:.1} tok/s  mean reward {:.4}", s.rate(), s.mean_reward());
        match &s.bar {
            Some(b) => {
                b.set_position(s.done as u64);
                b.set_message(msg);
            }
            None => {
                // The last sample is told by the run's finished line.
                let due = s.last_line.is_none_or(|t| t.elapsed() >= self.interval) && s.done < s.total;
                if due && !self.quiet() {
                    s.last_line = Some(Instant::now());
                    let text = format!("run {run_id} {}: {} of {} samples, {msg}", s.label, s.done, s.total);
                    drop(runs);
                    self.plain_line(&text);
                }
            }
        }
    }

    fn run_finished(&self, run_id: &str, outcome: &str) {
        let state = self.runs.lock().ok().and_then(|mut r| r.remove(run_id));
        if let Some(b) = state.as_ref().and_then(|s| s.bar.as_ref()) {
            b.finish_and_clear();
        }
        let n = self.finished.lock().map(|mut f| {
            *f += 1;
            *f
        });
        if let Some(s) = &self.sweep {
            s.inc(1);
        }
        let label = state.map(|s| s.label).unwrap_or_default();
        if !self.quiet() || outcome.to_ascii_lowercase().starts_with("failed") {
            self.line(&format!("run {run_id} {label}: {outcome} ({} of {} runs)", n.unwrap_or(0), self.total_runs));
        }
    }

    /// Notices (a torn record discarded, a lock taken over) are said even
    /// under `--quiet`: they are not progress.
    fn message(&self, text: &str) {
        self.line(text);
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Some(s) = &self.sweep {
            s.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("lines")).into_owned()
        }
    }

    fn sweep(verbosity: Verbosity, interval: Duration) -> String {
        let lines = Lines::default();
        let r = Reporter::plain(2, verbosity, interval, Box::new(lines.clone()));
        for (id, outcome) in [("a", "complete, 100 samples"), ("b", "FAILED: out of memory")] {
            r.run_started(id, id, 0, 100);
            for _ in 0..100 {
                r.sample_done(id, 1.0, 10);
            }
            r.run_finished(id, outcome);
        }
        lines.text()
    }

    #[test]
    fn off_a_terminal_samples_are_rate_limited_and_quiet_keeps_failures() {
        let normal = sweep(Verbosity::Normal, Duration::from_secs(3600));
        let lines: Vec<&str> = normal.lines().collect();
        // Per run: started, its first sample, finished; not one per sample.
        assert_eq!(lines.len(), 6, "{normal}");
        assert!(lines[1].contains("1 of 100 samples"), "{normal}");
        assert!(lines[2].contains("a: complete, 100 samples (1 of 2 runs)"), "{normal}");
        let every = sweep(Verbosity::Normal, Duration::ZERO);
        assert_eq!(every.lines().count(), 2 * (2 + 99), "with no interval every sample but the last has a line");
        let quiet = sweep(Verbosity::Quiet, Duration::ZERO);
        assert_eq!(quiet.lines().collect::<Vec<_>>(), ["run b b: FAILED: out of memory (2 of 2 runs)"]);
    }
}
