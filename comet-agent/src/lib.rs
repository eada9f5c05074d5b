//! # comet-agent: Comet's command-line agent
//!
//! A restic-like command line over [`comet_core`]: `init`, `backup`, `snapshots`, `ls`,
//! `restore`, `diff` and `cat`, against any vault [`comet_storage::open_vault`] opens (a local
//! directory, `s3://`, `az://`, `gs://`, `memory://`).
//!
//! The binary is a thin shell: it parses a [`Cli`], sets up logging and calls [`run`], which
//! writes results to the writer it is given (text, or JSON with `--json`), progress bars and
//! warnings to standard error, and returns an [`Outcome`] or an [`Error`], each with its exit
//! code.
//!
//! ```text
//! Cli (clap) → run → commands::{init, backup, snapshots, ls, restore, diff, cat}
//!                      → comet_core::Repository / IndexedRepository → Vault
//! ```
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use clap::Parser;
//! use comet_agent::{Cli, Outcome};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let password_file = dir.path().join("password");
//! std::fs::write(&password_file, "correct horse\n").unwrap();
//! let vault = dir.path().join("vault");
//! let vault = vault.to_str().unwrap();
//! let password_file = password_file.to_str().unwrap();
//!
//! let cli = Cli::parse_from(["comet-agent", "--vault", vault, "--password-file", password_file,
//!                            "--no-cache", "--json", "init", "--kdf", "floor"]);
//! let mut out = Vec::new();
//! assert_eq!(comet_agent::run(cli, &mut out).await.unwrap(), Outcome::Success);
//! let answer: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert_eq!(answer["status"], "created");
//! # });
//! ```

pub mod cli;
mod commands;
mod context;
mod error;
mod managed;
mod output;
mod password;
mod progress;

use std::io::Write;

pub use cli::Cli;
pub use error::{Error, Outcome, Result, display_chain};

use crate::context::Context;
use crate::output::Printer;

/// Runs the command `cli` describes, writing its results to `out`.
///
/// Progress bars, informational messages and warnings go to standard error; the password is
/// read as [`Cli`]'s help describes.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome> {
    let Cli { global, command } = cli;
    let context = Context::new(global);
    let mut printer = Printer::new(out, context.json());
    let outcome = commands::run(&context, &command, &mut printer).await?;
    printer.flush()?;
    Ok(outcome)
}
