//! Admin methods about devices: install tokens (`AdminCreateInstallToken`) and revocation
//! (`AdminRevokeDevice`).

use axum::http::StatusCode;
use comet_protocol::account::{AccountSecrets, InstallToken};
use comet_protocol::api::{ApiResponse, InstallTokenResponse};
use comet_protocol::profile::UserProfile;

use super::{ApiError, ApiResult, AppState, Caller, Fields, field, now_secs, ok_json, target_user};
use crate::agent_api::is_device_id;
use crate::auth::{PasswordHasher, key_hash};

const SECONDS_PER_DAY: i64 = 24 * 60 * 60;

/// `AdminCreateInstallToken`: a single-use token that lets one device join `TargetUser`'s
/// account without the password.
///
/// The token carries the wrapping key that `TargetPassword` gives, so that the device can open
/// the user's vault secrets. The server derives it (in a blocking thread: it is an Argon2id run
/// of 64 MiB) and checks it against the stored login hash first: a token minted from another
/// password would let a device in that cannot open anything.
pub(super) async fn create_install_token(state: &AppState, caller: &Caller, fields: &Fields) -> ApiResult {
    let org = caller.organization.as_str();
    let name = target_user(fields)?;
    let password = field(fields, "TargetPassword")?;
    let server = fields.get("Server").cloned().unwrap_or_default();
    let (_, login_hash) = state
        .db
        .user_login(name)
        .await?
        .filter(|(user_org, _)| user_org == org)
        .ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
    let (username, password) = (name.to_owned(), password.to_owned());
    let (secrets, matches) = tokio::task::spawn_blocking(move || {
        let secrets = AccountSecrets::derive(&username, password.as_bytes());
        let matches = PasswordHasher::verify(&login_hash, secrets.login_secret.as_bytes());
        (secrets, matches)
    })
    .await
    .expect("key derivation does not panic");
    if !matches {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "TargetPassword is not the password of {name}: an install token carries the key that password \
                 gives, and with another one the device could not open the user's storage vaults"
            ),
        ));
    }
    let token = InstallToken::new(&secrets);
    drop(secrets);
    let now = now_secs();
    let expires = now + i64::from(state.config.security.install_token_days) * SECONDS_PER_DAY;
    state.db.add_install_token(&key_hash(&token.server_part), org, name, now, expires).await?;
    tracing::info!("admin {} created an install token for user {name}, valid until {expires}", caller.username);
    ok_json(&InstallTokenResponse {
        status: 200,
        message: "OK".into(),
        token: token.to_text(),
        username: name.to_owned(),
        server,
        create_time: now,
        expire_time: expires,
    })
}

/// `AdminRevokeDevice`: the device's token stops working at once, and the device leaves the
/// profile with its protected items (and the schedules of those items).
pub(super) async fn revoke_device(state: &AppState, caller: &Caller, fields: &Fields) -> ApiResult {
    let org = caller.organization.as_str();
    let name = target_user(fields)?;
    let device_id = field(fields, "TargetDeviceID")?;
    if !is_device_id(device_id) {
        return Err(ApiError::bad_request("TargetDeviceID is 1 to 64 characters of A-Z a-z 0-9 _ -"));
    }
    let had_row = state.db.revoke_device(name, org, device_id, now_secs()).await?;
    let mut listed = false;
    let profile = state
        .db
        .edit_profile(name, org, |profile| {
            listed = forget_device(profile, device_id);
            listed
        })
        .await?;
    if profile.is_none() || !(had_row || listed) {
        return Err(ApiError::not_found(format!("no device {device_id} for user {name}")));
    }
    tracing::info!("admin {} revoked device {device_id} of user {name}", caller.username);
    ok_json(&ApiResponse::ok())
}

/// Removes a device from a profile, with its protected items and their schedules. Whether
/// anything was removed.
fn forget_device(profile: &mut UserProfile, device_id: &str) -> bool {
    let listed = profile.devices.remove(device_id).is_some();
    let items: Vec<String> =
        profile.sources.iter().filter(|(_, item)| item.owner_device == device_id).map(|(id, _)| id.clone()).collect();
    for id in &items {
        profile.sources.remove(id);
    }
    profile.backup_rules.retain(|_, rule| !items.contains(&rule.source));
    listed || !items.is_empty()
}

#[cfg(test)]
mod tests {
    use comet_protocol::profile::{BackupRuleConfig, DeviceConfig, SourceConfig};

    use super::*;

    #[test]
    fn a_forgotten_device_takes_its_items_and_their_schedules() {
        let mut profile = UserProfile::new("alice", "org", 1);
        profile.devices.insert("d1".into(), DeviceConfig::default());
        profile.devices.insert("d2".into(), DeviceConfig::default());
        for (item, owner) in [("i1", "d1"), ("i2", "d2")] {
            profile.sources.insert(item.into(), SourceConfig { owner_device: owner.into(), ..Default::default() });
            let rule = BackupRuleConfig { source: item.into(), destination: "v".into(), ..Default::default() };
            profile.backup_rules.insert(format!("r{item}"), rule);
        }
        assert!(forget_device(&mut profile, "d1"));
        assert_eq!(profile.devices.keys().collect::<Vec<_>>(), ["d2"]);
        assert_eq!(profile.sources.keys().collect::<Vec<_>>(), ["i2"]);
        assert_eq!(profile.backup_rules.keys().collect::<Vec<_>>(), ["ri2"]);
        assert!(!forget_device(&mut profile, "d1"), "nothing left to forget");
    }
}
