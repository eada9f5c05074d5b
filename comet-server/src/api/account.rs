//! The signed-in account's own methods, for administrators (`/api/v1/admin/account/...`) and
//! users (`/api/v1/user/web/account/...`): properties, TOTP enrolment (Comet's
//! `AccountRegenerateTotp` / `AccountValidateTotp`), turning TOTP off, and password changes.
//!
//! Enrolment is two steps, so a mistyped secret cannot lock anybody out: `regenerate-totp`
//! records a pending secret and answers it with its QR code; `validate-totp` with a code from it
//! turns it on and answers ten recovery codes (shown once; stored as hashes). Each TOTP code
//! and each recovery code signs in once.

use axum::http::StatusCode;
use comet_protocol::api::ApiResponse;
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, Caller, Fields, Kind, LoginFailure, check_password, field, ok_json};
use crate::auth::PasswordHasher;
use crate::db::TotpState;
use crate::totp;

/// The methods of this module (the part after `account/`).
pub(super) const METHODS: &[&str] = &[
    "account/properties",
    "account/regenerate-totp",
    "account/validate-totp",
    "account/disable-totp",
    "account/change-password",
];

/// `account/properties`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct AccountProperties {
    username: String,
    /// `admin` or `user`.
    kind: &'static str,
    #[serde(rename = "TOTPEnabled")]
    totp_enabled: bool,
    recovery_codes_left: i64,
}

/// `account/regenerate-totp`: a pending enrolment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct TotpEnrolment {
    status: u16,
    message: String,
    #[serde(rename = "TOTPSecret")]
    totp_secret: String,
    #[serde(rename = "TOTPURL")]
    totp_url: String,
    /// A `data:` URI of an SVG QR code of the URL.
    #[serde(rename = "TOTPImage")]
    totp_image: String,
}

/// `account/validate-totp`: TOTP is on; the recovery codes, shown once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct TotpEnabled {
    status: u16,
    message: String,
    recovery_codes: Vec<String>,
}

/// Whether `code` is a valid second factor of the account now: a TOTP code not used before, or
/// one of its unused recovery codes (used up by this call).
pub(crate) async fn second_factor_ok(
    state: &AppState,
    kind: Kind,
    username: &str,
    totp: &TotpState,
    code: &str,
) -> Result<bool, ApiError> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = totp::check(&totp.secret, code, super::now_secs(), totp.last_step) else {
            return Ok(false);
        };
        return Ok(state.db.use_totp_step(kind.as_str(), username, step).await?);
    }
    Ok(state.db.use_recovery_code(kind.as_str(), username, &totp::recovery_code_hash(code)).await?)
}

/// Carries out an `account/...` method of the caller's own account.
pub(super) async fn method(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    method: &str,
    fields: &Fields,
    from: std::net::IpAddr,
) -> ApiResult {
    let name = caller.username.as_str();
    match method {
        "account/properties" => {
            let totp = state.db.totp(kind.as_str(), name).await?;
            ok_json(&AccountProperties {
                username: name.to_owned(),
                kind: kind.as_str(),
                totp_enabled: totp.enabled(),
                recovery_codes_left: totp.recovery_codes_left,
            })
        }
        "account/regenerate-totp" => {
            let secret = totp::new_secret();
            state.db.set_pending_totp(kind.as_str(), name, &caller.organization, &secret).await?;
            let url = totp::otpauth_url("Comet", name, &secret);
            ok_json(&TotpEnrolment {
                status: 200,
                message: "scan the code with an authenticator app, then confirm with a code from it (until then, \
                          sign-in does not change)"
                    .into(),
                totp_image: totp::qr_data_uri(&url),
                totp_url: url,
                totp_secret: secret,
            })
        }
        "account/validate-totp" => {
            let code = field(fields, "TOTPCode")?;
            let current = state.db.totp(kind.as_str(), name).await?;
            if current.pending_secret.is_empty() {
                return Err(ApiError::bad_request("no enrolment is waiting: call account/regenerate-totp first"));
            }
            let Some(step) = totp::check(&current.pending_secret, code, super::now_secs(), 0) else {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "that code does not match the new secret (check the device's clock and try the next code)",
                ));
            };
            let codes = totp::new_recovery_codes();
            let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
            if !state.db.activate_totp(kind.as_str(), name, &current.pending_secret, step, &hashes).await? {
                return Err(ApiError::new(StatusCode::CONFLICT, "another enrolment replaced this one: start again"));
            }
            tracing::info!("{} {name} turned on two-factor sign-in", kind.as_str());
            ok_json(&TotpEnabled {
                status: 200,
                message: "two-factor sign-in is on. Keep the recovery codes somewhere safe: each signs in once \
                          without the app, and they are not shown again."
                    .into(),
                recovery_codes: codes,
            })
        }
        "account/disable-totp" => {
            let totp = state.db.totp(kind.as_str(), name).await?;
            if !totp.enabled() {
                return Err(ApiError::bad_request("two-factor sign-in is not on"));
            }
            if !second_factor_ok(state, kind, name, &totp, field(fields, "TOTPCode")?).await? {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "that code is not valid"));
            }
            state.db.disable_totp(kind.as_str(), name).await?;
            tracing::info!("{} {name} turned off two-factor sign-in", kind.as_str());
            ok_json(&ApiResponse::ok())
        }
        "account/change-password" => change_password(state, caller, kind, fields, from).await,
        _ => Err(ApiError::not_found(format!("no method {method:?}"))),
    }
}

/// `account/change-password`: `OldPassword`, `NewPassword`. For users both are login secrets
/// (the browser derives them; the server never sees a user's password), and the vault secrets
/// stay wrapped under the old password's key, as the answer says.
async fn change_password(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    fields: &Fields,
    from: std::net::IpAddr,
) -> ApiResult {
    let (old, new) = (field(fields, "OldPassword")?, field(fields, "NewPassword")?);
    match check_password(state, kind, &caller.username, old, from).await {
        Ok(_) => {}
        Err(LoginFailure::RateLimited(wait)) => return Err(super::rate_limited(wait)),
        Err(LoginFailure::Denied) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "the current password is not right"));
        }
        Err(LoginFailure::Db(e)) => return Err(e.into()),
    }
    let keep = caller.session.clone().unwrap_or_default();
    match kind {
        Kind::Admin => {
            if new.chars().count() < 8 || new.contains(['\n', '\r']) {
                return Err(ApiError::bad_request("a password has at least 8 characters on one line"));
            }
            let hash = hash_blocking(state, new).await;
            state.db.set_admin_password(&caller.username, &hash, &keep).await?;
            tracing::info!("admin {} changed their password", caller.username);
            ok_json(&ApiResponse { status: 200, message: "password changed; your other sessions ended".into() })
        }
        Kind::User => {
            if new.len() != 64 || !new.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(ApiError::bad_request(
                    "NewPassword must be the login secret derived from the new password (64 lower-case hex \
                     characters), never the password itself",
                ));
            }
            let hash = hash_blocking(state, new).await;
            state.db.set_login_hash_keeping(&caller.username, &caller.organization, &hash, &keep).await?;
            tracing::info!("user {} changed their password from the web interface", caller.username);
            ok_json(&ApiResponse {
                status: 200,
                message: "password changed. Devices that are logged in keep working. Your storage vault secrets \
                          are still wrapped with the key of your old password: a device that logs in with the new \
                          password cannot open them until you run `comet-agent login change-password` on a device \
                          that is still logged in, giving it the new password (it re-wraps them)."
                    .into(),
            })
        }
    }
}

async fn hash_blocking(state: &AppState, secret: &str) -> String {
    let (hasher, secret): (PasswordHasher, String) = (state.hasher.clone(), secret.to_owned());
    tokio::task::spawn_blocking(move || hasher.hash(secret.as_bytes())).await.expect("hashing does not panic")
}
