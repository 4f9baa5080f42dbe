//! `sbatch` options: the spec's `executor.slurm` section with the
//! command-line flags on top, validated once. Values go into `#SBATCH`
//! lines, which Slurm reads without a shell: each must be one token of
//! characters Slurm's own syntax uses, so nothing can be injected.

use crate::spec::SlurmSpec;

use super::super::ExecuteError;

pub const DEFAULT_GROUP_SIZE: u32 = 4;

/// Seconds before the time limit at which Slurm signals the job script to
/// requeue its task (`--signal=B:USR1@120`).
pub const DEFAULT_REQUEUE_SIGNAL_SECONDS: u32 = 120;

/// How much earlier than asked Slurm may send the signal (its event
/// resolution, per the sbatch manual).
const SIGNAL_SLACK_SECONDS: u64 = 60;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub array_parallelism: Option<u32>,
    pub time: Option<String>,
    pub mem: Option<String>,
    pub cpus_per_task: Option<u32>,
    pub gres: Option<String>,
    pub account: Option<String>,
    pub extra_sbatch: Vec<String>,
    pub group_size: u32,
    pub requeue: bool,
    /// `--gpus`: a count or `TYPE:COUNT`.
    pub gpus: Option<String>,
    /// Shell lines run before the worker: the spec's, then the flags'.
    pub setup: Vec<String>,
    /// Seconds before the time limit for the requeue signal.
    pub requeue_signal_seconds: u32,
}

fn bad(key: &str, message: String) -> ExecuteError {
    ExecuteError::Option { key: key.to_owned(), message }
}

/// One `#SBATCH` token: letters, digits and `_ - . : , = / @ % + [ ]`.
fn token(key: &str, value: &str) -> Result<String, ExecuteError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_-.:,=/@%+[]".contains(c);
    if value.is_empty() || !value.chars().all(ok) {
        return Err(bad(
            key,
            format!("`{value}` is not a valid value: use letters, digits and _ - . : , = / @ % + [ ] only (no spaces or quotes)"),
        ));
    }
    Ok(value.to_owned())
}

fn time(value: &str) -> Result<String, ExecuteError> {
    // Slurm: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
    let (days, rest) = value.split_once('-').map_or((None, value), |(d, r)| (Some(d), r));
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = rest.split(':').collect();
    let ok = days.is_none_or(digits) && parts.len() <= 3 && parts.iter().all(|p| digits(p));
    if !ok || value == "0" {
        return Err(bad("time", format!("`{value}` is not a Slurm time limit (MINUTES, HH:MM:SS, D-HH:MM:SS, or UNLIMITED)")));
    }
    Ok(value.to_owned())
}

/// A time limit in seconds (`value` already checked by [`time`]);
/// `None` for `UNLIMITED`.
fn time_seconds(value: &str) -> Option<u64> {
    let (days, rest) = value.split_once('-').map_or((None, value), |(d, r)| (Some(d), r));
    let days: u64 = days.map_or(Some(0), |d| d.parse().ok())?;
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    let (h, m, s) = match (value.contains('-'), parts.as_slice()) {
        // D-HH, D-HH:MM, D-HH:MM:SS
        (true, [h]) => (*h, 0, 0),
        (true, [h, m]) => (*h, *m, 0),
        // MINUTES, MM:SS
        (false, [m]) => (0, *m, 0),
        (false, [m, s]) => (0, *m, *s),
        (_, [h, m, s]) => (*h, *m, *s),
        _ => return None,
    };
    Some(((days * 24 + h) * 60 + m) * 60 + s)
}

/// A setup line goes into the script verbatim: one line, no NUL.
fn setup_line(key: String, line: &str) -> Result<String, ExecuteError> {
    if line.contains(['\n', '\r', '\0']) {
        return Err(ExecuteError::Option {
            key,
            message: format!("{line:?} holds a line break or NUL: give each shell line as its own item (or its own --setup)"),
        });
    }
    Ok(line.to_owned())
}

fn gpus(value: &str) -> Result<String, ExecuteError> {
    let v = token("gpus", value)?;
    // A bare count, or the count after the last `:` of TYPE:COUNT.
    let count = v.rsplit(':').next().unwrap_or("");
    if count.chars().all(|c| c.is_ascii_digit()) && count.parse::<u64>().map_or(true, |n| n == 0) {
        return Err(bad("gpus", format!("`{value}` asks for no GPUs: give a count of at least 1 (`1`) or `TYPE:COUNT` (`a100:1`)")));
    }
    Ok(v)
}

fn mem(value: &str) -> Result<String, ExecuteError> {
    let number = value.trim_end_matches(['K', 'M', 'G', 'T']);
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) || value.len() - number.len() > 1 {
        return Err(bad("mem", format!("`{value}` is not a Slurm memory size (a number with an optional K, M, G or T suffix, e.g. 16G)")));
    }
    Ok(value.to_owned())
}

/// sbatch options an experiment file may carry in `executor.slurm.extra_sbatch`.
/// A spec travels between people, so it may only choose where and how big
/// a job runs: nothing that sets the environment (`--export`, whose
/// `BASH_ENV` runs code), moves output (`--output`, `--error`, `--chdir`),
/// or changes identity or dependencies. Any other option only from the
/// command line (`runner submit --extra-sbatch`). Setup lines
/// (`executor.slurm.setup`) are another matter: shell code by design, so a
/// spec that has them is trusted like a Makefile.
pub const SPEC_SBATCH_OPTIONS: &[&str] = &[
    "--qos",
    "--constraint",
    "--exclude",
    "--nodelist",
    "--reservation",
    "--nodes",
    "--ntasks",
    "--ntasks-per-node",
    "--gpus",
    "--gpus-per-node",
    "--gpus-per-task",
    "--cpus-per-gpu",
    "--mem-per-cpu",
    "--mem-per-gpu",
    "--exclusive",
    "--mail-type",
    "--mail-user",
    "--licenses",
    "--tmp",
    "--hint",
    "--time-min",
    "--nice",
    "--priority",
    "--comment",
    "--begin",
    "--deadline",
    "--signal",
    "--switches",
    "--distribution",
    "--clusters",
    "-q",
    "-C",
    "-x",
    "-w",
    "-N",
    "-n",
    "-G",
    "-L",
];

/// The option name of an sbatch argument: `--name` of `--name=value`, or
/// the two characters of a short option.
fn option_name(value: &str) -> &str {
    match value.strip_prefix("--") {
        Some(rest) => &value[..2 + rest.find('=').unwrap_or(rest.len())],
        None => value.get(..2).unwrap_or(value),
    }
}

fn extra(value: &str, from_spec: bool) -> Result<String, ExecuteError> {
    if !value.starts_with('-') {
        return Err(bad("extra_sbatch", format!("`{value}` is not an sbatch option (it must start with `-`, e.g. `--qos=high`)")));
    }
    if from_spec && !SPEC_SBATCH_OPTIONS.contains(&option_name(value)) {
        return Err(bad(
            "extra_sbatch",
            format!(
                "`{}` may not come from an experiment file (it could run code or move output on the cluster); give it on the command line with `runner submit --extra-sbatch`, or use one of {}",
                option_name(value),
                SPEC_SBATCH_OPTIONS.join(", ")
            ),
        ));
    }
    token("extra_sbatch", value)
}

impl SlurmOptions {
    /// `flags` (from the command line) win over `file` (the spec's section).
    pub fn resolve(file: Option<&SlurmSpec>, flags: &SlurmSpec) -> Result<SlurmOptions, ExecuteError> {
        let empty = SlurmSpec::default();
        let file = file.unwrap_or(&empty);
        let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
        let opt = |key: &str, v: Option<String>| v.map(|v| token(key, &v)).transpose();
        let group_size = flags.group_size.or(file.group_size).unwrap_or(DEFAULT_GROUP_SIZE);
        if group_size == 0 {
            return Err(bad("group_size", "must be at least 1".into()));
        }
        let array_parallelism = flags.array_parallelism.or(file.array_parallelism);
        if array_parallelism == Some(0) {
            return Err(bad("array_parallelism", "must be at least 1".into()));
        }
        let cpus_per_task = flags.cpus_per_task.or(file.cpus_per_task);
        if cpus_per_task == Some(0) {
            return Err(bad("cpus_per_task", "must be at least 1".into()));
        }
        let (extras, from_spec) = if flags.extra_sbatch.is_empty() { (&file.extra_sbatch, true) } else { (&flags.extra_sbatch, false) };
        let mut setup = Vec::new();
        for (i, line) in file.setup.iter().enumerate() {
            setup.push(setup_line(format!("executor.slurm.setup[{i}]"), line)?);
        }
        for (i, line) in flags.setup.iter().enumerate() {
            setup.push(setup_line(format!("--setup (#{})", i + 1), line)?);
        }
        let requeue_signal_seconds = flags.requeue_signal_seconds.or(file.requeue_signal_seconds).unwrap_or(DEFAULT_REQUEUE_SIGNAL_SECONDS);
        if !(1..=65535).contains(&requeue_signal_seconds) {
            return Err(bad("requeue_signal_seconds", format!("{requeue_signal_seconds} is out of range: Slurm takes 1 to 65535 seconds")));
        }
        let options = SlurmOptions {
            partition: opt("partition", pick(&flags.partition, &file.partition))?,
            array_parallelism,
            time: pick(&flags.time, &file.time).map(|t| if t == "UNLIMITED" { Ok(t) } else { time(&t) }).transpose()?,
            mem: pick(&flags.mem, &file.mem).map(|m| mem(&m)).transpose()?,
            cpus_per_task,
            gres: opt("gres", pick(&flags.gres, &file.gres))?,
            account: opt("account", pick(&flags.account, &file.account))?,
            extra_sbatch: extras.iter().map(|e| extra(e, from_spec)).collect::<Result<_, _>>()?,
            group_size,
            requeue: flags.requeue.or(file.requeue).unwrap_or(true),
            gpus: pick(&flags.gpus, &file.gpus).map(|g| gpus(&g)).transpose()?,
            setup,
            requeue_signal_seconds,
        };
        if let Some(seconds) = options.requeue_signal() {
            if let Some(e) = options.extra_sbatch.iter().find(|e| option_name(e) == "--signal") {
                return Err(bad(
                    "extra_sbatch",
                    format!("`{e}` would replace the requeue signal the job script traps (`--signal=B:USR1@{seconds}`); drop it, or submit with --no-requeue"),
                ));
            }
            let limit = options.time.as_deref().and_then(time_seconds).unwrap_or(u64::MAX);
            if u64::from(seconds) + SIGNAL_SLACK_SECONDS >= limit {
                return Err(bad(
                    "requeue_signal_seconds",
                    format!(
                        "{seconds} s (plus up to {SIGNAL_SLACK_SECONDS} s Slurm may add) is not less than the time limit ({limit} s): the task would requeue itself before doing any work; lower executor.slurm.requeue_signal_seconds, raise --time, or submit with --no-requeue"
                    ),
                ));
            }
        }
        Ok(options)
    }

    /// Seconds before the time limit at which the job script is signalled to
    /// requeue its task: with requeue on and a time limit only.
    pub fn requeue_signal(&self) -> Option<u32> {
        let limited = self.time.as_deref().is_some_and(|t| t != "UNLIMITED");
        (self.requeue && limited).then_some(self.requeue_signal_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: impl FnOnce(&mut SlurmSpec)) -> SlurmSpec {
        let mut s = SlurmSpec::default();
        f(&mut s);
        s
    }

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let file = flags(|s| {
            s.partition = Some("gpu".into());
            s.time = Some("01:00:00".into());
            s.group_size = Some(8);
        });
        let o = SlurmOptions::resolve(Some(&file), &flags(|s| s.partition = Some("cpu".into()))).unwrap();
        assert_eq!(o.partition.as_deref(), Some("cpu"));
        assert_eq!(o.time.as_deref(), Some("01:00:00"));
        assert_eq!((o.group_size, o.requeue), (8, true));
    }

    #[test]
    fn unsafe_or_malformed_values_are_refused_with_the_key() {
        for (f, key) in [
            (flags(|s| s.partition = Some("a b".into())), "partition"),
            (flags(|s| s.account = Some("x\n#SBATCH --wrap=rm".into())), "account"),
            (flags(|s| s.time = Some("1h".into())), "time"),
            (flags(|s| s.mem = Some("16GB".into())), "mem"),
            (flags(|s| s.extra_sbatch = vec!["qos=high".into()]), "extra_sbatch"),
            (flags(|s| s.extra_sbatch = vec!["--comment='$(id)'".into()]), "extra_sbatch"),
            (flags(|s| s.group_size = Some(0)), "group_size"),
        ] {
            match SlurmOptions::resolve(None, &f) {
                Err(ExecuteError::Option { key: k, .. }) => assert_eq!(k, key),
                other => panic!("{key}: {other:?}"),
            }
        }
        for t in ["30", "10:00", "2:00:00", "1-00", "1-12:30:00", "UNLIMITED"] {
            assert!(SlurmOptions::resolve(None, &flags(|s| s.time = Some(t.into()))).is_ok(), "{t}");
        }
    }

    #[test]
    fn gpus_setup_lines_and_the_requeue_signal() {
        let file = flags(|s| {
            s.gpus = Some("a100:1".into());
            s.setup = vec!["module load cuda/12".into()];
            s.time = Some("1-00".into());
        });
        let o = SlurmOptions::resolve(Some(&file), &flags(|s| s.setup = vec!["source ~/venvs/mlx/bin/activate".into()])).unwrap();
        assert_eq!(o.gpus.as_deref(), Some("a100:1"));
        assert_eq!(o.setup, ["module load cuda/12", "source ~/venvs/mlx/bin/activate"], "the flags' lines come after the spec's");
        assert_eq!(o.requeue_signal(), Some(DEFAULT_REQUEUE_SIGNAL_SECONDS));
        let o = SlurmOptions::resolve(Some(&file), &flags(|s| s.gpus = Some("2".into()))).unwrap();
        assert_eq!(o.gpus.as_deref(), Some("2"), "the flag wins");
        // No trap without a time limit, or with requeue off.
        assert_eq!(SlurmOptions::resolve(None, &SlurmSpec::default()).unwrap().requeue_signal(), None);
        assert_eq!(SlurmOptions::resolve(None, &flags(|s| s.time = Some("UNLIMITED".into()))).unwrap().requeue_signal(), None);
        let off = flags(|s| {
            s.time = Some("10".into());
            s.requeue = Some(false);
        });
        assert_eq!(SlurmOptions::resolve(None, &off).unwrap().requeue_signal(), None);
        let custom = flags(|s| {
            s.time = Some("10".into());
            s.requeue_signal_seconds = Some(300);
        });
        assert_eq!(SlurmOptions::resolve(Some(&custom), &SlurmSpec::default()).unwrap().requeue_signal(), Some(300));
    }

    #[test]
    fn bad_setup_lines_gpus_and_signals_are_refused_with_the_key() {
        let file = flags(|s| s.setup = vec!["module load x".into(), "echo a\nrm -rf ~".into()]);
        match SlurmOptions::resolve(Some(&file), &SlurmSpec::default()) {
            Err(ExecuteError::Option { key, message }) => {
                assert_eq!(key, "executor.slurm.setup[1]");
                assert!(message.contains("line break"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match SlurmOptions::resolve(None, &flags(|s| s.setup = vec!["a\0b".into()])) {
            Err(ExecuteError::Option { key, .. }) => assert!(key.starts_with("--setup"), "{key}"),
            other => panic!("{other:?}"),
        }
        for (f, key) in [
            (flags(|s| s.gpus = Some("0".into())), "gpus"),
            (flags(|s| s.gpus = Some("a100:0".into())), "gpus"),
            (flags(|s| s.gpus = Some("1 --wrap=id".into())), "gpus"),
            (flags(|s| s.requeue_signal_seconds = Some(0)), "requeue_signal_seconds"),
            // The signal would come before any work: 120 s + 60 s slack >= 3 minutes.
            (flags(|s| s.time = Some("3".into())), "requeue_signal_seconds"),
            (flags(|s| (s.time, s.requeue_signal_seconds) = (Some("01:00:00".into()), Some(3600))), "requeue_signal_seconds"),
            (flags(|s| (s.time, s.extra_sbatch) = (Some("60".into()), vec!["--signal=B:TERM@60".into()])), "extra_sbatch"),
        ] {
            match SlurmOptions::resolve(None, &f) {
                Err(ExecuteError::Option { key: k, .. }) => assert_eq!(k, key, "{f:?}"),
                other => panic!("{key}: {other:?}"),
            }
        }
        // Without the trap, --signal is the user's own.
        let own = flags(|s| (s.time, s.requeue, s.extra_sbatch) = (Some("60".into()), Some(false), vec!["--signal=B:TERM@60".into()]));
        assert!(SlurmOptions::resolve(None, &own).is_ok());
        assert!(SlurmOptions::resolve(None, &flags(|s| s.time = Some("4".into()))).is_ok());
    }

    #[test]
    fn time_limits_in_seconds() {
        for (t, s) in [("30", 1800), ("10:30", 630), ("2:00:00", 7200), ("1-00", 86400), ("1-12:30", 131400), ("1-12:30:05", 131405)] {
            assert_eq!(time_seconds(t), Some(s), "{t}");
        }
        assert_eq!(time_seconds("UNLIMITED"), None);
    }

    #[test]
    fn a_spec_may_carry_only_allowlisted_sbatch_options() {
        let spec = |extra: &str| flags(|s| s.extra_sbatch = vec![extra.into()]);
        for hostile in [
            "--export=ALL,BASH_ENV=/tmp/x.sh",
            "--output=/home/other/x",
            "--error=/tmp/e",
            "--chdir=/",
            "-D/tmp",
            "--wrap=id",
            "--uid=0",
            "--get-user-env",
        ] {
            match SlurmOptions::resolve(Some(&spec(hostile)), &SlurmSpec::default()) {
                Err(ExecuteError::Option { key, message }) => {
                    assert_eq!(key, "extra_sbatch");
                    assert!(message.contains("command line") && message.contains(option_name(hostile)), "{message}");
                }
                other => panic!("{hostile}: {other:?}"),
            }
            // The same option typed on the command line is the user's own choice.
            let typed = SlurmOptions::resolve(Some(&SlurmSpec::default()), &spec(hostile));
            assert!(typed.is_ok() || hostile.contains(' '), "{hostile}: {typed:?}");
        }
        for fine in ["--qos=high", "--constraint=a100", "--exclusive", "-qhigh", "--gpus-per-node=1"] {
            let o = SlurmOptions::resolve(Some(&spec(fine)), &SlurmSpec::default()).unwrap();
            assert_eq!(o.extra_sbatch, [fine]);
        }
    }
}
