//! Progress of a sweep: a bar for the sweep (runs done of total, ETA) and
//! one per active run (samples, tok/s, mean reward) on a terminal; plain
//! log lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

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

/// Bars on a terminal, lines elsewhere.
pub struct Reporter {
    multi: Option<MultiProgress>,
    sweep: Option<ProgressBar>,
    runs: Mutex<HashMap<String, RunState>>,
    finished: Mutex<usize>,
    total_runs: usize,
}

impl Reporter {
    /// `total_runs` to execute now. Bars when standard error is a terminal
    /// and `quiet` is off.
    pub fn new(total_runs: usize, quiet: bool) -> Reporter {
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
        Reporter { multi, sweep, runs: Mutex::new(HashMap::new()), finished: Mutex::new(0), total_runs }
    }

    fn line(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
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
        if bar.is_none() {
            eprintln!("run {run_id} {label}: starting, {done} of {total} samples recorded");
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
            None => eprintln!("run {run_id} {}: {} of {} samples, {msg}", s.label, s.done, s.total),
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
        self.line(&format!("run {run_id} {label}: {outcome} ({} of {} runs)", n.unwrap_or(0), self.total_runs));
    }

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
