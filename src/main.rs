use std::process::ExitCode;

use clap::Parser;

/// jemalloc for the whole process: on Linux its `malloc` and `free` replace
/// libc's for every library, so MLX's per-op buffers come from it too.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start: freed pages stay with the process
/// instead of going back to the kernel after 10 s (MLX frees and
/// reallocates each op's output buffer; returning those pages and faulting
/// them in again cost most of the system time of a prefill). `MALLOC_CONF`
/// in the environment still overrides it.
#[cfg(all(target_os = "linux", not(target_env = "msvc")))]
#[allow(non_upper_case_globals)]
#[no_mangle]
pub static malloc_conf: &[u8; 36] = b"dirty_decay_ms:-1,muzzy_decay_ms:-1\0";

fn main() -> ExitCode {
    restart_with_blas_settings();
    let cli = runner::cli::Cli::parse();
    if cli.command.stops_on_closed_pipe() {
        stop_quietly_on_a_closed_pipe();
    }
    match runner::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A command that only prints (`runner list | head`) ends, as other Unix
/// tools do, when its reader goes away: SIGPIPE back to its default action.
/// Commands that write results as they go keep it ignored, so a closed pipe
/// can never stop them between two writes.
fn stop_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any
    // thread is started, touches no memory of this process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// OpenBLAS reads its settings when it loads, before `main`; when some
/// that the runner needs are missing (see
/// `engine::blas::settings_to_restart_with`), the process runs itself again
/// with them set. If that fails, it goes on with what it has.
fn restart_with_blas_settings() {
    #[cfg(unix)]
    {
        let settings = runner::engine::blas::settings_to_restart_with();
        if settings.is_empty() || std::env::var_os(runner::engine::blas::RESTARTED_ENV).is_some() {
            return;
        }
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else { return };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        command.args(args).envs(settings.iter().copied()).env(runner::engine::blas::RESTARTED_ENV, "1");
        let err = command.exec();
        eprintln!("warning: could not restart with the OpenBLAS settings {settings:?}: {err}");
    }
}
