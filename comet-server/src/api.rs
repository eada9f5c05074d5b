//! The admin and user web API, in the style of Comet Server's: `POST /api/v1/admin/<method>`
//! and `POST /api/v1/user/web/<method>`, form-encoded, authenticated by the fields `Username`,
//! `AuthType` (`Password` or `SessionKey`) and `Password` or `SessionKey`; answers are JSON, and
//! errors are `{"Status": <http code>, "Message": "..."}` with that HTTP status.
//!
//! Every method acts within the caller's organization: an id from another organization is
//! answered exactly like one that does not exist.
//!
//! Device methods (install tokens, revocation) are in `api/devices.rs`, job history methods in
//! `api/jobs.rs`; the agent API has its own module, [`crate::agent_api`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use comet_protocol::account::AccountSecrets;
use comet_protocol::api::{ApiResponse, ProfileAndHash, ServerMetaVersion, SessionKeyResponse};
use comet_protocol::profile::{UserProfile, check_username};
use serde::Serialize;

use crate::auth::{LoginLimiter, PasswordHasher, key_hash, random_hex};
use crate::config::ServerConfig;
use crate::db::{Db, DbError, ProfileUpdate};

mod account;
mod devices;

pub(crate) use account::second_factor_ok;
mod dispatcher;
mod jobs;
mod meta;

/// `YYYY-MM-DD HH:MM:SS UTC` of a time in seconds since the epoch.
pub(crate) fn utc_time(secs: i64) -> String {
    format!("{} UTC", jobs::utc_text(secs))
}

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration.
    pub config: ServerConfig,
    /// Password hashing with the configured cost.
    pub hasher: PasswordHasher,
    /// Failed-login counters.
    pub limiter: LoginLimiter,
    /// When the server started, seconds since the epoch.
    pub started: i64,
    /// The hosted storage buckets.
    pub buckets: crate::storage::Buckets,
    /// The devices online now.
    pub live: crate::live::Live,
    /// E-mail reports, when `[smtp]` is enabled.
    pub mailer: Option<Arc<crate::email::Mailer>>,
    /// The data directory (configuration file, logs).
    pub data_dir: std::path::PathBuf,
}

/// The API routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/v1/admin/{*method}", post(admin))
        .route("/api/v1/user/web/{*method}", post(user_web))
        .with_state(state.clone())
        .merge(crate::agent_api::router(state.clone()))
        .merge(crate::storage::router(state))
}

/// Seconds since the epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// An API error: its HTTP status and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    fn denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "Invalid username or password")
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        tracing::error!("{e}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error (logged on the server)")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ApiResponse { status: self.status.as_u16(), message: self.message })).into_response()
    }
}

type Fields = HashMap<String, String>;
type ApiResult = Result<Response, ApiError>;

// Handlers return `ApiResult` throughout; wrapping here keeps every arm the same shape.
#[allow(clippy::unnecessary_wraps)]
fn ok_json(value: &impl Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

fn field<'a>(fields: &'a Fields, name: &str) -> Result<&'a str, ApiError> {
    fields.get(name).map(String::as_str).ok_or_else(|| ApiError::bad_request(format!("missing field {name}")))
}

/// Who is calling.
#[derive(Debug)]
struct Caller {
    username: String,
    organization: String,
    /// The hash of the session key it came with (none: a password sign-in).
    session: Option<String>,
}

/// Which kind of account logs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An administrator.
    Admin,
    /// A user (with the login secret derived from their password).
    User,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

/// A hash for unknown accounts, so that a login to a missing account costs as much as one to an
/// existing account (no user enumeration by timing).
fn decoy_hash(state: &AppState) -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| state.hasher.hash(b"decoy password"))
}

/// Why a password login failed.
#[derive(Debug)]
pub(crate) enum LoginFailure {
    /// Too many failed logins for the account or from the address: try again after this long.
    RateLimited(Duration),
    /// Wrong user name or password.
    Denied,
    /// The database failed.
    Db(DbError),
}

/// Checks a password login of `kind` from `from`, counting failures per account and per address
/// and refusing before any hash is computed once either is over its limit. An unknown account
/// costs the same Argon2id run as a known one. Gives the account's organization.
pub(crate) async fn check_password(
    state: &AppState,
    kind: Kind,
    username: &str,
    password: &str,
    from: IpAddr,
) -> Result<String, LoginFailure> {
    state.limiter.check(username, from).map_err(LoginFailure::RateLimited)?;
    let stored = match kind {
        Kind::Admin => state.db.admin(username).await,
        Kind::User => state.db.user_login(username).await,
    }
    .map_err(LoginFailure::Db)?;
    let (organization, hash) = match stored {
        Some((org, hash)) => (Some(org), hash),
        None => (None, decoy_hash(state).to_owned()),
    };
    let password = password.to_owned();
    let matches =
        tokio::task::spawn_blocking(move || PasswordHasher::verify(&hash, password.as_bytes())).await.unwrap_or(false);
    match organization {
        Some(organization) if matches => Ok(organization),
        _ => {
            state.limiter.failed(username, from);
            tracing::warn!("failed {} login for {username:?} from {from}", kind.as_str());
            Err(LoginFailure::Denied)
        }
    }
}

async fn authenticate(state: &AppState, fields: &Fields, from: SocketAddr, kind: Kind) -> Result<Caller, ApiError> {
    let username = field(fields, "Username")?.to_owned();
    let caller = match fields.get("AuthType").map_or("Password", String::as_str) {
        auth @ ("Password" | "PasswordTOTP") => {
            let organization = match check_password(state, kind, &username, field(fields, "Password")?, from.ip()).await
            {
                Ok(organization) => organization,
                Err(LoginFailure::RateLimited(wait)) => return Err(rate_limited(wait)),
                Err(LoginFailure::Denied) => return Err(ApiError::denied()),
                Err(LoginFailure::Db(e)) => return Err(e.into()),
            };
            let totp = state.db.totp(kind.as_str(), &username).await?;
            if totp.enabled() {
                // Only now, after the password matched, may the caller learn that a code is due.
                let Some(code) = fields.get("TOTP").filter(|_| auth == "PasswordTOTP") else {
                    return Err(ApiError::new(StatusCode::FORBIDDEN, TOTP_REQUIRED));
                };
                if !account::second_factor_ok(state, kind, &username, &totp, code).await? {
                    state.limiter.failed(&username, from.ip());
                    tracing::warn!("wrong second factor for {} {username:?} from {}", kind.as_str(), from.ip());
                    return Err(ApiError::new(StatusCode::FORBIDDEN, "Invalid username, password or code"));
                }
            }
            Caller { username, organization, session: None }
        }
        "SessionKey" => {
            let key = key_hash(field(fields, "SessionKey")?);
            match state.db.session(&key, kind.as_str(), &username, now_secs()).await? {
                Some(organization) => Caller { username, organization, session: Some(key) },
                None if kind == Kind::Admin
                    && state.db.session(&key, "user", &username, now_secs()).await?.is_some() =>
                {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "not allowed: this is a user's session, and this method is for administrators",
                    ));
                }
                None => return Err(ApiError::new(StatusCode::FORBIDDEN, "Invalid or expired session key")),
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown AuthType {other:?} (Password, PasswordTOTP or SessionKey)"
            )));
        }
    };
    if kind == Kind::User
        && let Some((profile, _)) = state.db.profile(&caller.username, &caller.organization).await?
        && profile.is_suspended
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "this account is suspended: ask your administrator"));
    }
    Ok(caller)
}

/// The answer to a password sign-in of an account with TOTP on, without `AuthType=PasswordTOTP`
/// and a code (Comet's magic message).
pub(crate) const TOTP_REQUIRED: &str = "ERR_TOTP_REQUIRED";

fn rate_limited(wait: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many failed logins: try again in {} s", wait.as_secs().max(1)),
    )
}

async fn start_session(state: &AppState, caller: &Caller, kind: Kind) -> ApiResult {
    let key = random_hex(32);
    let expires = now_secs() + i64::from(state.config.security.session_timeout_minutes) * 60;
    state.db.add_session(&key_hash(&key), kind.as_str(), &caller.username, &caller.organization, expires).await?;
    ok_json(&SessionKeyResponse { status: 200, message: "OK".into(), session_key: key })
}

async fn revoke_session(state: &AppState, fields: &Fields) -> ApiResult {
    if let Some(key) = fields.get("SessionKey") {
        state.db.revoke_session(&key_hash(key)).await?;
    }
    ok_json(&ApiResponse::ok())
}

/// The user a method targets, checked like any user name (no `..`, `/`, `%2e`).
fn target_user(fields: &Fields) -> Result<&str, ApiError> {
    let name = field(fields, "TargetUser")?;
    check_username(name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(name)
}

async fn admin(
    State(state): State<Arc<AppState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    admin_method(&state, from, &method, &fields).await.unwrap_or_else(IntoResponse::into_response)
}

async fn admin_method(state: &AppState, from: SocketAddr, method: &str, fields: &Fields) -> ApiResult {
    let caller = authenticate(state, fields, from, Kind::Admin).await?;
    let org = caller.organization.as_str();
    match method {
        m if account::METHODS.contains(&m) => account::method(state, &caller, Kind::Admin, m, fields, from.ip()).await,
        m if meta::METHODS.contains(&m) => meta::method(state, &caller, m, fields).await,
        "disable-user-totp" => {
            let name = target_user(fields)?;
            if state.db.profile(name, org).await?.is_none() {
                return Err(ApiError::not_found(format!("no user {name}")));
            }
            if !state.db.disable_totp(Kind::User.as_str(), name).await? {
                return Err(ApiError::bad_request(format!("user {name} has no two-factor sign-in")));
            }
            tracing::info!("admin {} turned off two-factor sign-in of user {name}", caller.username);
            ok_json(&ApiResponse::ok())
        }
        "meta/version" => ok_json(&ServerMetaVersion {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol_version: comet_protocol::PROTOCOL_VERSION,
            server_start_time: state.started,
            storage_role: true,
            auth_role: true,
        }),
        "account/session-start" => start_session(state, &caller, Kind::Admin).await,
        "account/session-revoke" => revoke_session(state, fields).await,
        "list-users" => ok_json(&state.db.list_users(org).await?),
        "list-users-full" => {
            let profiles: std::collections::BTreeMap<String, UserProfile> =
                state.db.list_profiles(org).await?.into_iter().map(|p| (p.username.clone(), p)).collect();
            ok_json(&profiles)
        }
        "add-user" => {
            let name = target_user(fields)?;
            let password = field(fields, "TargetPassword")?;
            if password.chars().count() < 8 || password.contains(['\n', '\r']) {
                return Err(ApiError::bad_request("a password has at least 8 characters on one line"));
            }
            if let Some(target_org) = fields.get("TargetOrganization")
                && target_org != org
            {
                return Err(ApiError::new(StatusCode::FORBIDDEN, "you cannot create users in another organization"));
            }
            let login_hash = login_hash_of(state, name, password).await;
            let profile = UserProfile::new(name, org, now_secs());
            if !state.db.add_user(&profile, &login_hash, now_secs()).await? {
                return Err(ApiError::new(StatusCode::CONFLICT, format!("user {name} already exists")));
            }
            tracing::info!("admin {} added user {name}", caller.username);
            ok_json(&ApiResponse::ok())
        }
        "delete-user" => {
            let name = target_user(fields)?;
            if !state.db.delete_user(name, org).await? {
                return Err(ApiError::not_found(format!("no user {name}")));
            }
            tracing::info!("admin {} deleted user {name}", caller.username);
            ok_json(&ApiResponse::ok())
        }
        "get-user-profile" => {
            let name = target_user(fields)?;
            let (profile, _) =
                state.db.profile(name, org).await?.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
            ok_json(&profile)
        }
        "get-user-profile-and-hash" => {
            let name = target_user(fields)?;
            let (profile, profile_hash) =
                state.db.profile(name, org).await?.ok_or_else(|| ApiError::not_found(format!("no user {name}")))?;
            ok_json(&ProfileAndHash { profile, profile_hash })
        }
        "set-user-profile-hash" => {
            let name = target_user(fields)?;
            let profile = UserProfile::from_json(field(fields, "ProfileData")?)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            if profile.username != name {
                return Err(ApiError::bad_request(
                    "ProfileData.Username must be TargetUser (user names cannot change)",
                ));
            }
            if profile.organization_id != org {
                return Err(ApiError::bad_request("ProfileData.OrganizationID cannot change"));
            }
            match state.db.set_profile(&profile, org, field(fields, "RequireHash")?).await? {
                ProfileUpdate::Updated(_) => {
                    state.live.notify(org, name, None, &comet_protocol::live::ServerMessage::ProfileChanged);
                    ok_json(&ApiResponse::ok())
                }
                ProfileUpdate::Conflict => Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "the profile changed since it was read (RequireHash is stale): read it again and retry",
                )),
                ProfileUpdate::NoSuchUser => Err(ApiError::not_found(format!("no user {name}"))),
            }
        }
        "reset-user-password" => {
            let name = target_user(fields)?;
            let password = field(fields, "NewPassword")?;
            if password.chars().count() < 8 {
                return Err(ApiError::bad_request("a password has at least 8 characters"));
            }
            let login_hash = login_hash_of(state, name, password).await;
            if !state.db.set_login_hash(name, org, &login_hash).await? {
                return Err(ApiError::not_found(format!("no user {name}")));
            }
            tracing::info!("admin {} reset the password of {name}", caller.username);
            ok_json(&ApiResponse {
                status: 200,
                message: "password reset. The storage vault secrets in this user's profile are wrapped by a key \
                          derived from the old password, which the server never had: they cannot be opened with the \
                          new one unless the user re-wraps them from a device still logged in."
                    .into(),
            })
        }
        "storage/register-bucket" => {
            let id = match fields.get("SetBucketValue") {
                Some(id) if crate::storage::is_bucket_id(id) => id.clone(),
                Some(_) => return Err(ApiError::bad_request("SetBucketValue must be 32 lower-case hex characters")),
                None => random_hex(16),
            };
            let owner = match fields.get("TargetUser") {
                Some(user) => {
                    check_username(user).map_err(|e| ApiError::bad_request(e.to_string()))?;
                    if state.db.profile(user, org).await?.is_none() {
                        return Err(ApiError::not_found(format!("no user {user}")));
                    }
                    Some(user.clone())
                }
                None => None,
            };
            let key = random_hex(32);
            let record = crate::db::BucketRecord {
                id: id.clone(),
                organization_id: org.to_owned(),
                key_hash: key_hash(&key),
                owner,
                append_only: fields.get("AppendOnly").is_some_and(|v| v == "true" || v == "1"),
                create_time: now_secs(),
            };
            if state.db.bucket(&id).await?.is_some() {
                return Err(ApiError::new(StatusCode::CONFLICT, format!("bucket {id} already exists")));
            }
            state.db.add_bucket(&record).await?;
            tracing::info!("admin {} registered bucket {id}", caller.username);
            ok_json(&BucketRegistered { status: 200, message: "OK".into(), bucket_value: id, secret_key: key })
        }
        "storage/list-buckets" => {
            let mut buckets = std::collections::BTreeMap::new();
            for record in state.db.list_buckets(org).await? {
                let usage = state.buckets.usage(&record.id).await;
                buckets.insert(record.id.clone(), ListedBucket { record, usage });
            }
            ok_json(&buckets)
        }
        "storage/delete-bucket" => {
            let id = field(fields, "BucketID")?;
            if !crate::storage::is_bucket_id(id) || !state.db.delete_bucket(id, org).await? {
                return Err(ApiError::not_found(format!("no bucket {id}")));
            }
            state.buckets.forget(id);
            tracing::info!(
                "admin {} deleted bucket {id} (its objects stay in the store until removed)",
                caller.username
            );
            ok_json(&ApiResponse::ok())
        }
        m if dispatcher::METHODS.contains(&m) => dispatcher::method(state, &caller, None, m, fields).await,
        "meta/send-test-email" => {
            let recipient = field(fields, "Recipient")?;
            let Some(mailer) = &state.mailer else {
                return Err(ApiError::bad_request("e-mail is not enabled ([smtp] in the configuration)"));
            };
            match crate::email::send_test(mailer, recipient).await {
                Ok(()) => ok_json(&ApiResponse::ok()),
                Err(e) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("sending failed: {e}"))),
            }
        }
        "create-install-token" => devices::create_install_token(state, &caller, fields).await,
        "revoke-device" => devices::revoke_device(state, &caller, fields).await,
        "get-jobs-all"
        | "get-jobs-recent"
        | "get-jobs-for-user"
        | "get-jobs-for-date-range"
        | "get-job-properties"
        | "get-job-log"
        | "get-job-log-entries"
        | "job/cancel" => jobs::admin_method(state, &caller, method, fields).await,
        _ => Err(ApiError::not_found(format!("no admin method {method:?}"))),
    }
}

/// A bucket as `AdminStorageListBuckets` answers it: its record, its size and object count.
#[derive(Debug, Serialize)]
struct ListedBucket {
    #[serde(flatten)]
    record: crate::db::BucketRecord,
    #[serde(flatten)]
    usage: crate::storage::Usage,
}

/// `AdminStorageRegisterBucket`: the new bucket and its key (shown once; only a hash is kept).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct BucketRegistered {
    status: u16,
    message: String,
    bucket_value: String,
    secret_key: String,
}

/// The stored hash of the login secret that `password` gives `username`.
async fn login_hash_of(state: &AppState, username: &str, password: &str) -> String {
    let (hasher, username, password) = (state.hasher.clone(), username.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        let secrets = AccountSecrets::derive(&username, password.as_bytes());
        hasher.hash(secrets.login_secret.as_bytes())
    })
    .await
    .expect("hashing does not panic")
}

async fn user_web(
    State(state): State<Arc<AppState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    user_method(&state, from, &method, &fields).await.unwrap_or_else(IntoResponse::into_response)
}

async fn user_method(state: &AppState, from: SocketAddr, method: &str, fields: &Fields) -> ApiResult {
    let caller = authenticate(state, fields, from, Kind::User).await?;
    match method {
        "session/start" => start_session(state, &caller, Kind::User).await,
        "session/revoke" => revoke_session(state, fields).await,
        "get-user-profile-and-hash" => {
            let (profile, profile_hash) = state
                .db
                .profile(&caller.username, &caller.organization)
                .await?
                .ok_or_else(|| ApiError::not_found("no such user"))?;
            ok_json(&ProfileAndHash { profile, profile_hash })
        }
        "get-jobs" | "get-job-properties" | "get-job-log" | "get-job-log-entries" | "job/cancel" => {
            jobs::user_method(state, &caller, method, fields).await
        }
        m if account::METHODS.contains(&m) => account::method(state, &caller, Kind::User, m, fields, from.ip()).await,
        "set-user-profile-hash" => set_own_profile(state, &caller, fields).await,
        // The user's own devices; retention passes are for administrators (as in Comet).
        m if dispatcher::METHODS.contains(&m) && m != "dispatcher/apply-retention-rules" => {
            let user = caller.username.clone();
            dispatcher::method(state, &caller, Some(&user), m, fields).await
        }
        _ => Err(ApiError::not_found(format!("no user method {method:?}"))),
    }
}

/// `UserWebSetUserProfileHash`: a user edits their own profile (items, vaults, schedules,
/// reports) by compare-and-swap, like a device does. What only the server and administrators
/// may change is taken from the stored profile: devices, suspension, creation time; and of the
/// vaults that exist, the append-only flag and everything a device recorded when it initialised
/// the vault (location, wrapped secrets), which a browser could only damage.
async fn set_own_profile(state: &AppState, caller: &Caller, fields: &Fields) -> ApiResult {
    let mut profile =
        UserProfile::from_json(field(fields, "ProfileData")?).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if profile.username != caller.username || profile.organization_id != caller.organization {
        return Err(ApiError::bad_request("ProfileData.Username and ProfileData.OrganizationID cannot change"));
    }
    let (stored, _) = state
        .db
        .profile(&caller.username, &caller.organization)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    profile.devices = stored.devices;
    profile.is_suspended = stored.is_suspended;
    profile.create_time = stored.create_time;
    for (id, vault) in &mut profile.destinations {
        match stored.destinations.get(id) {
            Some(old) => {
                vault.append_only = old.append_only;
                if old.is_initialised() {
                    vault.location.clone_from(&old.location);
                    vault.server_url.clone_from(&old.server_url);
                }
                vault.wrapped_access_key.clone_from(&old.wrapped_access_key);
                vault.wrapped_vault_secret.clone_from(&old.wrapped_vault_secret);
            }
            None if vault.is_initialised() || !vault.wrapped_access_key.is_empty() => {
                return Err(ApiError::bad_request(
                    "a new storage vault cannot carry secrets: a device records them when it first uses the vault",
                ));
            }
            None => {}
        }
    }
    match state.db.set_profile(&profile, &caller.organization, field(fields, "RequireHash")?).await? {
        ProfileUpdate::Updated(_) => {
            state.live.notify(
                &caller.organization,
                &caller.username,
                None,
                &comet_protocol::live::ServerMessage::ProfileChanged,
            );
            ok_json(&ApiResponse::ok())
        }
        ProfileUpdate::Conflict => Err(ApiError::new(
            StatusCode::CONFLICT,
            "the profile changed since it was read (RequireHash is stale): read it again and retry",
        )),
        ProfileUpdate::NoSuchUser => Err(ApiError::not_found("no such user")),
    }
}
