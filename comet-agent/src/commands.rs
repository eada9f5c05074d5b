//! One module per command. Each computes its result, prints it as text or JSON, and says
//! whether it finished with warnings.

mod backup;
mod cat;
mod diff;
mod init;
mod ls;
mod restore;
mod snapshots;

use crate::cli::Command;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::Printer;

/// Runs `command`.
pub(crate) async fn run(context: &Context, command: &Command, printer: &mut Printer<'_>) -> Result<Outcome> {
    match command {
        Command::Init(args) => init::run(context, args, printer).await,
        Command::Backup(args) => backup::run(context, args, printer).await,
        Command::Snapshots(args) => snapshots::run(context, args, printer).await,
        Command::Ls(args) => ls::run(context, args, printer).await,
        Command::Restore(args) => restore::run(context, args, printer).await,
        Command::Diff(args) => diff::run(context, args, printer).await,
        Command::Cat(args) => cat::run(context, args, printer).await,
    }
}
