//! `key list|add|remove|passwd`: the passwords that open the vault, one key slot each.

use comet_core::snapshot::format_time;
use comet_core::{KdfParams, KeyInfo};
use serde::Serialize;

use crate::cli::{KeyArgs, KeyCommand, NewKeyArgs};
use crate::context::Context;
use crate::error::{Outcome, Result};
use crate::output::{Printer, rfc3339};
use crate::password::read_new_password;

/// A key slot as JSON output shows it.
#[derive(Serialize)]
struct KeyJson<'a> {
    id: String,
    short_id: String,
    /// Whether the password given opened this slot.
    current: bool,
    username: &'a str,
    hostname: &'a str,
    created: String,
    created_ns: i64,
    kdf: KdfParams,
}

impl<'a> KeyJson<'a> {
    fn new(key: &'a KeyInfo) -> Self {
        Self {
            id: key.id.to_hex(),
            short_id: key.id.short(),
            current: key.current,
            username: &key.username,
            hostname: &key.hostname,
            created: rfc3339(key.created_ns),
            created_ns: key.created_ns,
            kdf: key.kdf,
        }
    }
}

/// What `key add`, `key remove` and `key passwd` did, as JSON.
#[derive(Serialize)]
struct KeyChangeJson {
    /// The slot added, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    added: Option<String>,
    /// The slot removed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    removed: Option<String>,
}

/// The rows of `key list`: the one in use is marked with `*` before its id.
fn rows(keys: &[KeyInfo]) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| {
            vec![
                format!("{}{}", if k.current { '*' } else { ' ' }, k.id.short()),
                format!("{}@{}", k.username, k.hostname),
                format_time(k.created_ns),
                format!("m={} KiB, t={}, p={}", k.kdf.memory_kib, k.kdf.iterations, k.kdf.parallelism),
            ]
        })
        .collect()
}

pub(super) async fn run(context: &Context, args: &KeyArgs, printer: &mut Printer<'_>) -> Result<Outcome> {
    let mut repo = context.open().await?;
    let (text, change) = match &args.command {
        KeyCommand::List => {
            let keys = repo.list_keys().await?;
            if printer.json {
                printer.json(&keys.iter().map(KeyJson::new).collect::<Vec<_>>())?;
            } else {
                printer.table(&[" ID", "User@Host", "Created (UTC)", "Argon2id"], &rows(&keys))?;
            }
            return Ok(Outcome::Success);
        }
        KeyCommand::Add(NewKeyArgs { new_password_file, kdf }) => {
            let password = read_new_password(new_password_file.as_deref())?;
            let id = repo.add_key(&password, kdf.params()).await?;
            (format!("added key {}", id.short()), KeyChangeJson { added: Some(id.to_hex()), removed: None })
        }
        KeyCommand::Remove { id } => {
            let id = repo.remove_key(id).await?;
            (format!("removed key {}", id.short()), KeyChangeJson { added: None, removed: Some(id.to_hex()) })
        }
        KeyCommand::Passwd(NewKeyArgs { new_password_file, kdf }) => {
            let password = read_new_password(new_password_file.as_deref())?;
            let old = repo.key_id();
            let new = repo.change_password(&password, kdf.params()).await?;
            (
                format!("changed the password: key {} replaces key {}", new.short(), old.short()),
                KeyChangeJson { added: Some(new.to_hex()), removed: Some(old.to_hex()) },
            )
        }
    };
    if printer.json {
        printer.json(&change)?;
    } else {
        printer.line(text)?;
    }
    Ok(Outcome::Success)
}
