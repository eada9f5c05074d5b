//! The storage vaults of a profile: finding protected items and vaults, and initialising a
//! vault exactly once however many jobs, devices and lost replies race for it.
//!
//! A vault is recorded in the profile (its location and its secrets, wrapped by the account's
//! wrapping key) *before* anything is written into it, in one compare-and-swap edit that, for
//! a vault on the server, also creates its bucket ([`InitVault`]). Whoever loses the race, or
//! does not hear the answer, reads the profile again and uses what is recorded. The vault
//! itself is then created by [`Repository::init`], which is idempotent: a job that finds the
//! vault recorded but not created (the previous one died in between) creates it.

use std::sync::Arc;

use comet_core::{InitOptions, KdfParams, Repository};
use comet_protocol::account::{unwrap_with, wrap_with};
use comet_protocol::agent::{GetProfile, InitVault, InitVaultRequest, NewBucket, ProfileUpdated, SetProfileRequest};
use comet_protocol::client::AgentClient;
use comet_protocol::profile::{
    DESTINATION_COMET, DESTINATION_LOCAL, DESTINATION_S3, DestinationConfig, SourceConfig, UserProfile,
};
use comet_storage::{RemoteVault, Vault};
use zeroize::Zeroizing;

use super::home::random_hex;
use crate::error::{Error, Result};

/// How many times initialisation re-reads the profile after a conflict or a lost answer.
const INIT_ATTEMPTS: usize = 5;

/// The profile and its hash, as the server has it now.
pub(crate) async fn fetch_profile(client: &AgentClient) -> Result<(UserProfile, String)> {
    let text = client.call::<GetProfile>(&()).await?;
    let profile = UserProfile::from_json(&text.profile_json)
        .map_err(|e| Error::Managed(format!("the server sent a profile this agent cannot read: {e}")))?;
    Ok((profile, text.profile_hash))
}

/// Finds a protected item by id or by name (its description).
pub(crate) fn find_item<'a>(profile: &'a UserProfile, reference: &str) -> Result<(&'a str, &'a SourceConfig)> {
    if let Some((id, item)) = profile.sources.get_key_value(reference) {
        return Ok((id, item));
    }
    let named: Vec<_> = profile.sources.iter().filter(|(_, s)| s.description == reference).collect();
    match named.as_slice() {
        [(id, item)] => Ok((id.as_str(), item)),
        [] => Err(Error::Managed(format!(
            "no protected item {reference:?} in the profile (items: {})",
            list(profile.sources.iter().map(|(id, s)| (id, &s.description)))
        ))),
        _ => Err(Error::Managed(format!("several protected items are named {reference:?}: give the id"))),
    }
}

/// The vault a job of item `item_id` uses: `reference` (an id or name), else the vault of the
/// item's schedule, else the only vault.
pub(crate) fn find_destination(profile: &UserProfile, item_id: &str, reference: Option<&str>) -> Result<String> {
    if let Some(reference) = reference {
        if profile.destinations.contains_key(reference) {
            return Ok(reference.to_owned());
        }
        let named: Vec<&String> =
            profile.destinations.iter().filter(|(_, d)| d.description == reference).map(|(id, _)| id).collect();
        return match named.as_slice() {
            [id] => Ok((*id).clone()),
            [] => Err(Error::Managed(format!("no storage vault {reference:?} in the profile"))),
            _ => Err(Error::Managed(format!("several storage vaults are named {reference:?}: give the id"))),
        };
    }
    let mut ruled: Vec<&String> = profile
        .backup_rules
        .values()
        .filter(|r| r.source == item_id && profile.destinations.contains_key(&r.destination))
        .map(|r| &r.destination)
        .collect();
    ruled.sort();
    ruled.dedup();
    match (ruled.as_slice(), profile.destinations.len()) {
        ([id], _) => Ok((*id).clone()),
        ([], 1) => Ok(profile.destinations.keys().next().expect("one vault").clone()),
        ([], 0) => Err(Error::Managed("the profile has no storage vault: add one first".into())),
        _ => Err(Error::Managed(format!(
            "this item goes to several storage vaults: choose one with --destination ({})",
            list(profile.destinations.iter().map(|(id, d)| (id, &d.description)))
        ))),
    }
}

fn list<'a>(items: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let shown: Vec<String> = items.map(|(id, name)| format!("{name:?} ({id})")).collect();
    if shown.is_empty() { "none".into() } else { shown.join(", ") }
}

/// Associated data binding a wrapped secret to its vault and role.
pub(crate) fn context(destination_id: &str, field: &str) -> String {
    format!("destination/{destination_id}/{field}")
}

/// An initialised vault: where it is and the secret that opens it.
pub(crate) struct OpenVault {
    /// The storage.
    pub(crate) vault: Arc<dyn Vault>,
    /// The vault password.
    pub(crate) secret: Zeroizing<Vec<u8>>,
    /// Name shown in logs.
    pub(crate) name: String,
}

impl std::fmt::Debug for OpenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenVault").field("name", &self.name).finish_non_exhaustive()
    }
}

impl OpenVault {
    /// Opens the repository, creating it if the vault is recorded but empty.
    pub(crate) async fn repository(&self) -> Result<Repository> {
        // The secret is 32 random bytes: the key slot needs no costly KDF.
        let options = InitOptions::default().kdf(KdfParams::FLOOR);
        let (repo, _) = Repository::init(self.vault.clone(), &self.secret, &options).await?;
        Ok(repo)
    }
}

/// Opens a recorded vault with the wrapping key.
fn open_recorded(
    destination_id: &str,
    d: &DestinationConfig,
    wrapping_key: &[u8; 32],
    server_url: &str,
) -> Result<OpenVault> {
    let unwrap = |field: &str, wrapped: &str| {
        unwrap_with(wrapping_key, &context(destination_id, field), wrapped).map(Zeroizing::new).map_err(|e| {
            Error::Managed(format!(
                "storage vault {:?}: {e}. If an administrator reset the password, log in again with the old \
                 password on a device that still has it, or re-create the vault",
                d.description
            ))
        })
    };
    let secret = unwrap("vault-secret", &d.wrapped_vault_secret)?;
    let vault: Arc<dyn Vault> = match d.destination_type {
        DESTINATION_COMET => {
            let key = unwrap("access-key", &d.wrapped_access_key)?;
            let key = std::str::from_utf8(&key)
                .map_err(|_| Error::Managed(format!("storage vault {:?}: damaged access key", d.description)))?;
            let url = if d.server_url.is_empty() { server_url } else { &d.server_url };
            Arc::new(RemoteVault::new(url, &d.location, key)?)
        }
        DESTINATION_LOCAL | DESTINATION_S3 => comet_storage::open_vault(&d.location)?,
        other => {
            return Err(Error::Managed(format!(
                "storage vault {:?} has type {other}, which this agent does not support (1000 S3, 1002 local, 1003 \
                 Comet server)",
                d.description
            )));
        }
    };
    Ok(OpenVault { vault, secret, name: d.description.clone() })
}

/// The vault `destination_id` of the profile, recorded first if no device did yet.
pub(crate) async fn ensure_vault(
    client: &AgentClient,
    destination_id: &str,
    wrapping_key: &[u8; 32],
) -> Result<OpenVault> {
    let mut last_problem = String::new();
    for _ in 0..INIT_ATTEMPTS {
        let (profile, hash) = fetch_profile(client).await?;
        let Some(d) = profile.destinations.get(destination_id) else {
            return Err(Error::Managed(format!("no storage vault {destination_id} in the profile")));
        };
        if d.is_initialised() {
            return open_recorded(destination_id, d, wrapping_key, client.server_url());
        }
        let mut d = d.clone();
        let secret = random_hex(32);
        d.wrapped_vault_secret = wrap_with(wrapping_key, &context(destination_id, "vault-secret"), secret.as_bytes());
        let bucket = match d.destination_type {
            DESTINATION_COMET => {
                let bucket = NewBucket { id: random_hex(16), key: random_hex(32) };
                d.location.clone_from(&bucket.id);
                if d.server_url.is_empty() {
                    client.server_url().clone_into(&mut d.server_url);
                }
                d.wrapped_access_key =
                    wrap_with(wrapping_key, &context(destination_id, "access-key"), bucket.key.as_bytes());
                Some(bucket)
            }
            DESTINATION_LOCAL | DESTINATION_S3 if !d.location.is_empty() => None,
            DESTINATION_LOCAL | DESTINATION_S3 => {
                return Err(Error::Managed(format!("storage vault {:?} has no location", d.description)));
            }
            other => return Err(Error::Managed(format!("storage vault type {other} is not supported"))),
        };
        let mut edited = profile.clone();
        edited.destinations.insert(destination_id.to_owned(), d);
        let request = InitVaultRequest {
            destination_id: destination_id.to_owned(),
            profile: SetProfileRequest { require_hash: hash, profile_json: edited.to_json() },
            bucket,
        };
        match client.call::<InitVault>(&request).await {
            Ok(ProfileUpdated::Updated { .. }) => {
                tracing::info!("recorded storage vault {destination_id} in the profile");
            }
            // Another job or device changed the profile first: read it again.
            Ok(ProfileUpdated::Conflict) => last_problem = "the profile kept changing".into(),
            // The server may have done it without us hearing: the next read tells.
            Err(e) if e.is_transport() => {
                tracing::warn!("initialising storage vault {destination_id}: {e}; reading the profile again");
                last_problem = e.to_string();
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Managed(format!("could not record storage vault {destination_id}: {last_problem}")))
}
