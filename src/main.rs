use std::process::ExitCode;

use clap::Parser;

/// jemalloc for the whole process: on Linux its `malloc` and `free` replace
/// libc's for every library, so MLX's per-op buffers come from it too.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = runner::cli::Cli::parse();
    match runner::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
