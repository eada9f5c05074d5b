//! The `comet-server` binary: flags as Comet Server has them, logs to standard error and to
//! daily files in the data directory, then [`comet_server::server::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use comet_server::server::{RunOptions, load_config, run};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer as _};

/// Comet's server: accounts, devices, job history and storage buckets. It never sees plaintext.
#[derive(Debug, Parser)]
#[command(name = "comet-server", version, max_term_width = 100)]
struct Cli {
    /// Data directory: configuration, database, logs, buckets
    #[arg(long, visible_alias = "chdir", value_name = "DIR", default_value = "comet-data")]
    data_dir: PathBuf,

    /// Create the configuration if missing, check it, report errors with line numbers, and exit
    #[arg(long)]
    validate_config_only: bool,

    /// Log every HTTP request
    #[arg(long)]
    log_accesses: bool,

    /// Serve the web interface from this directory instead of the embedded one
    #[arg(long, value_name = "DIR")]
    webroot_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, created) = match load_config(&cli.data_dir) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.validate_config_only {
        let path = cli.data_dir.join(comet_server::config::CONFIG_FILE_NAME);
        println!("{}: {}", path.display(), if created { "created with defaults, valid" } else { "valid" });
        return ExitCode::SUCCESS;
    }
    let log_dir = config.log_dir(&cli.data_dir);
    let file = tracing_appender::rolling::daily(&log_dir, "comet-server.log");
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(config.logging.level.as_str()));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter()))
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(file).with_filter(filter()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = RunOptions { data_dir: cli.data_dir, log_accesses: cli.log_accesses, webroot_dir: cli.webroot_dir };
    match runtime.block_on(run(options, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
