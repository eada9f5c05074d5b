//! The `comet-agent` binary: parses the command line, sets up logging, runs the library and
//! turns the result into an exit code (0 success, 1 error, 2 usage, 3 warnings).

use std::process::ExitCode;

use clap::Parser;
use comet_agent::{Cli, display_chain};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
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
