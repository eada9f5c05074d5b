//! `init`: create a vault, finish an interrupted creation, or confirm an existing vault.

use comet_core::{InitOptions, InitOutcome, KdfParams, Repository};
use serde::Serialize;

use crate::cli::{InitArgs, KdfPreset};
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

/// The Argon2id cost of the new key slot: the preset, with any explicit field overriding it.
fn kdf_params(args: &InitArgs) -> KdfParams {
    let mut kdf = match args.kdf {
        KdfPreset::Default => KdfParams::DEFAULT,
        KdfPreset::Floor => KdfParams::FLOOR,
    };
    kdf.memory_kib = args.kdf_memory_kib.unwrap_or(kdf.memory_kib);
    kdf.iterations = args.kdf_iterations.unwrap_or(kdf.iterations);
    kdf.parallelism = args.kdf_parallelism.unwrap_or(kdf.parallelism);
    kdf
}

pub(super) async fn run(context: &Context, args: &InitArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let vault = context.vault()?;
    let location = vault.location();
    let password = context.password(Purpose::Create)?;
    let options = InitOptions::default().kdf(kdf_params(args));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_kdf_fields_override_the_preset() {
        let args =
            InitArgs { kdf: KdfPreset::Floor, kdf_memory_kib: None, kdf_iterations: Some(5), kdf_parallelism: None };
        assert_eq!(kdf_params(&args), KdfParams { iterations: 5, ..KdfParams::FLOOR });
        let args =
            InitArgs { kdf: KdfPreset::Default, kdf_memory_kib: None, kdf_iterations: None, kdf_parallelism: None };
        assert_eq!(kdf_params(&args), KdfParams::DEFAULT);
    }
}
