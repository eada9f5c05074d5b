//! The `comet-agent` binary: parses the command line, sets up logging, runs the library and
//! turns the result into an exit code (0 success, 1 error, 2 usage, 3 warnings).

use std::process::ExitCode;

use clap::Parser;
use comet_agent::{Cli, display_chain};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    fixed_mmap_threshold();
    let cli = Cli::parse();
    // Logs go to standard error, filtered by RUST_LOG; by default only errors, since warnings
    // (unreadable files, ...) are printed by the commands themselves.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("error")))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(8).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(comet_agent::run(cli, &mut std::io::stdout()));
    match result {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // The reader of our output went away (`| head`): nothing worth saying.
        Err(e) if e.is_broken_pipe() => ExitCode::from(e.exit_code()),
        Err(e) => {
            eprintln!("error: {}", display_chain(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Keeps glibc from holding on to freed memory. By default glibc raises its mmap threshold each
/// time a large block is freed, so later blocks of that size come from the heap and stay
/// mapped after they are freed. Loading a big index frees many large blocks: a prune of a vault
/// of 10 million chunks peaked at 1.19 GB with the default and at 0.62 GB with a fixed
/// threshold (docs/benchmarks.md).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter. It is called first thing in main,
    // before any other thread exists, and with a valid parameter and value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}
