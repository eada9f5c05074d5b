//! `init`: create a vault, finish an interrupted creation, or confirm an existing vault.

use comet_core::{InitOptions, InitOutcome, Repository};
use serde::Serialize;

use crate::cli::InitArgs;
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::Printer;
use crate::password::Purpose;

#[derive(Serialize)]
struct InitReport {
    /// `created`, `completed` or `already_initialised`.
    status: &'static str,
    vault_id: String,
    location: String,
}

pub(super) async fn run(context: &Context, args: &InitArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let vault = context.vault()?;
    let location = vault.location();
    let password = context.password(Purpose::Create)?;
    let options = InitOptions::default().kdf(args.kdf.params());
    let (repo, outcome) = Repository::init(vault, &password, &options).await?;
    let vault_id = repo.config().id_hex();
    let (status, text) = match outcome {
        InitOutcome::Created => ("created", format!("created vault {vault_id} at {location}")),
        InitOutcome::Completed => {
            ("completed", format!("completed the interrupted creation of vault {vault_id} at {location}"))
        }
        InitOutcome::AlreadyInitialised => {
            ("already_initialised", format!("vault {vault_id} at {location} is already initialised: nothing changed"))
        }
    };
    if printer.json {
        printer.json(&InitReport { status, vault_id, location })?;
    } else {
        printer.line(text)?;
        if outcome != InitOutcome::AlreadyInitialised && context.chatty() {
            eprintln!("Keep the password safe: without it, nobody can restore anything from this vault.");
        }
    }
    Ok(Outcome::Success)
}
