//! One module per command. Each computes its result, prints it as text or JSON, and says
//! whether it finished with warnings.

mod backup;
mod cat;
mod check;
mod diff;
mod find;
mod forget;
mod init;
mod key;
mod ls;
mod prune;
mod repair;
mod restore;
mod snapshots;
mod stats;

pub(crate) use self::backup::{options as backup_options, print_backup};
pub(crate) use self::restore::print_restore;
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
        Command::Forget(args) => forget::run(context, args, printer).await,
        Command::Key(args) => key::run(context, args, printer).await,
        Command::Stats(args) => stats::run(context, args, printer).await,
        Command::Find(args) => find::run(context, args, printer).await,
        Command::Prune(args) => prune::run(context, args, printer).await,
        Command::Check(args) => check::run(context, args, printer).await,
        Command::Repair(args) => repair::run(context, args, printer).await,
        Command::Login(args) => crate::managed::login(context, args, printer).await,
        Command::Info(args) => crate::managed::info(args, printer),
        Command::Run => crate::managed::run_daemon(context).await,
    }
}
