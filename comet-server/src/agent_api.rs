//! The agent API: `POST /api/v1/agent/<method>` with a [`wire`] frame of the method's request
//! (`comet_protocol::agent`); the answer is 200 with a frame of its response, or the status of
//! an [`ErrorCode`] with a frame of [`AgentError`]. Every answer, even to a body that is not a
//! frame at all, is a frame, so that agents always get a stable code and a readable message.
//!
//! `hello` and `register` need no token; every other method carries `Authorization: Bearer
//! <device token>`, is refused with `Unauthorized` for an unknown token and `Revoked` for a
//! revoked device, and acts for that device's user only.
//!
//! Bodies are read up to [`BODY_LIMIT`] and never buffered beyond it: a larger body is read on
//! and thrown away (up to [`DRAIN_LIMIT`], so that the client, still sending, receives the
//! `TooLarge` answer rather than a reset connection).

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use comet_protocol::JobStatus;
use comet_protocol::agent::{
    AgentError, ChangePassword, ChangePasswordRequest, Credentials, DeleteGrant, DeleteGranted, Disconnect, ErrorCode,
    GetProfile, Hello, HelloReply, InitVault, InitVaultRequest, JobEnd, JobEndRequest, JobLog, JobLogMethod,
    JobLogReply, JobStart, JobStartRequest, JobStarted, LogEntry, MAX_LOG_ENTRIES, MAX_LOG_MESSAGE, Method,
    ProfileText, ProfileUpdated, Register, RegisterRequest, Registered, SetProfile, SetProfileRequest,
};
use comet_protocol::profile::{DESTINATION_COMET, DeviceConfig, USERNAME_MAX_LENGTH, UserProfile};
use comet_protocol::wire::{self, FrameError};
use serde::Serialize;

use crate::api::{AppState, Kind, LoginFailure, check_password, now_secs};
use crate::auth::{key_hash, random_hex};
use crate::db::{
    BucketRecord, DbError, DeviceRecord, JobOutcome, JobOwner, LogAppend, NewDevice, NewJob, TokenUse, VaultInit,
};
use crate::storage::is_bucket_id;

/// Largest body read: a request frame of [`wire::MAX_REQUEST_BYTES`] and a margin. Bodies
/// between the two are read and refused by the frame decoder, which says by how much.
pub const BODY_LIMIT: usize = wire::MAX_REQUEST_BYTES + (64 << 10);

/// How much of an oversized body is read and discarded before answering `TooLarge`; beyond it
/// the connection is simply closed after the answer.
pub const DRAIN_LIMIT: usize = 16 << 20;

/// Longest device id.
const DEVICE_ID_MAX: usize = 64;
/// Longest friendly name, platform or agent version of a device (characters).
const DEVICE_TEXT_MAX: usize = 255;
/// Longest protected item, vault or schedule id of a job.
const JOB_REF_MAX: usize = 64;
/// Longest snapshot id of a job.
const SNAPSHOT_ID_MAX: usize = 128;
/// Shortest and longest bucket access key chosen by an agent (it becomes a bearer token).
const BUCKET_KEY_LEN: std::ops::RangeInclusive<usize> = 32..=256;

/// Content type of agent frames.
pub const FRAME_CONTENT_TYPE: &str = "application/x-comet-frame";

/// Whether `id` is a device id: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
pub fn is_device_id(id: &str) -> bool {
    (1..=DEVICE_ID_MAX).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The agent API route.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(comet_protocol::live::LIVE_PATH, axum::routing::get(crate::live::upgrade))
        .route("/api/v1/agent/{*method}", post(agent))
        .with_state(state)
}

/// A refusal, answered as a frame of [`AgentError`] with the status of its code.
#[derive(Debug)]
pub(crate) struct Refusal(AgentError);

pub(crate) fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal(AgentError::new(code, message))
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Self {
        tracing::error!("{e}");
        refuse(ErrorCode::Internal, "internal error (logged on the server)")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        frame(status, wire::encode(&self.0))
    }
}

fn frame(status: StatusCode, bytes: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, FRAME_CONTENT_TYPE)], bytes).into_response()
}

type AgentResult = Result<Response, Refusal>;

// Every arm of `dispatch` returns `AgentResult`; wrapping here keeps them the same shape.
#[allow(clippy::unnecessary_wraps)]
fn answer<T: Serialize>(value: &T) -> AgentResult {
    Ok(frame(StatusCode::OK, wire::encode(value)))
}

/// The request of method `M` in `body`.
fn request<M: Method>(body: &[u8]) -> Result<M::Request, Refusal> {
    wire::decode::<M::Request>(body, wire::MAX_REQUEST_BYTES).map_err(|e| match e {
        FrameError::NotAFrame => refuse(ErrorCode::BadFrame, "the body is not a Comet agent-protocol frame"),
        FrameError::Version { theirs, ours } => refuse(
            ErrorCode::IncompatibleVersion,
            format!(
                "this server (comet-server {}) speaks agent protocol version {ours}; the request is of version \
                 {theirs}: use an agent that speaks version {ours}",
                env!("CARGO_PKG_VERSION")
            ),
        ),
        FrameError::TooLarge { size, limit } => {
            refuse(ErrorCode::TooLarge, format!("a request of {size} bytes is over the {limit}-byte limit"))
        }
        FrameError::Malformed(why) => refuse(ErrorCode::BadFrame, format!("malformed {} request: {why}", M::PATH)),
    })
}

/// Reads a body of at most [`BODY_LIMIT`] bytes; `Err` (with the bytes seen) when it is larger.
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Vec<u8>, usize> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return Err(declared.unwrap_or_default());
    }
    let (mut seen, mut over) = (0usize, declared.is_some_and(|n| n > BODY_LIMIT));
    let mut buffer = Vec::with_capacity(if over { 0 } else { declared.unwrap_or(0) });
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        // A broken body ends the request like an empty one: the decoder refuses it.
        let Ok(chunk) = chunk else { break };
        let Ok(data) = chunk.into_data() else { continue };
        seen = seen.saturating_add(data.len());
        if !over && seen > BODY_LIMIT {
            over = true;
            buffer = Vec::new();
        }
        if over {
            if seen > DRAIN_LIMIT {
                break;
            }
            continue;
        }
        buffer.extend_from_slice(&data);
    }
    if over { Err(seen) } else { Ok(buffer) }
}

async fn agent(
    State(state): State<Arc<AppState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(size) => {
            return refuse(
                ErrorCode::TooLarge,
                format!("a request of {size} bytes or more is over the {}-byte limit", wire::MAX_REQUEST_BYTES),
            )
            .into_response();
        }
    };
    dispatch(&state, from.ip(), &method, &headers, &body).await.unwrap_or_else(IntoResponse::into_response)
}

async fn dispatch(state: &AppState, from: IpAddr, method: &str, headers: &HeaderMap, body: &[u8]) -> AgentResult {
    match method {
        Hello::PATH => {
            request::<Hello>(body)?;
            answer(&HelloReply {
                server_version: env!("CARGO_PKG_VERSION").to_owned(),
                protocol_version: comet_protocol::PROTOCOL_VERSION,
                server_time: now_secs(),
            })
        }
        Register::PATH => answer(&register(state, from, request::<Register>(body)?).await?),
        GetProfile::PATH => {
            request::<GetProfile>(body)?;
            let device = authenticate(state, headers).await?;
            let (profile, profile_hash) = stored_profile(state, &device).await?;
            answer(&ProfileText { profile_json: profile.to_json(), profile_hash })
        }
        SetProfile::PATH => {
            let edit = request::<SetProfile>(body)?;
            let device = authenticate(state, headers).await?;
            answer(&set_profile(state, &device, &edit).await?)
        }
        InitVault::PATH => {
            let init = request::<InitVault>(body)?;
            let device = authenticate(state, headers).await?;
            answer(&init_vault(state, &device, &init).await?)
        }
        JobStart::PATH => {
            let start = request::<JobStart>(body)?;
            let device = authenticate(state, headers).await?;
            answer(&job_start(state, &device, start).await?)
        }
        JobLogMethod::PATH => {
            let log = request::<JobLogMethod>(body)?;
            let device = authenticate(state, headers).await?;
            answer(&job_log(state, &device, log).await?)
        }
        JobEnd::PATH => {
            let end = request::<JobEnd>(body)?;
            let device = authenticate(state, headers).await?;
            job_end(state, &device, end).await?;
            answer(&())
        }
        DeleteGrant::PATH => {
            let request = request::<DeleteGrant>(body)?;
            let device = authenticate(state, headers).await?;
            answer(&delete_grant(state, &device, &request.job_id).await?)
        }
        ChangePassword::PATH => {
            let change = request::<ChangePassword>(body)?;
            let device = authenticate(state, headers).await?;
            answer(&change_password(state, &device, change).await?)
        }
        Disconnect::PATH => {
            request::<Disconnect>(body)?;
            let device = authenticate(state, headers).await?;
            state.db.disconnect_device(&device.username, &device.device_id).await?;
            tracing::info!("device {} of user {} logged out", device.device_id, device.username);
            answer(&())
        }
        _ => Err(refuse(ErrorCode::NotFound, format!("no agent method {method:?}"))),
    }
}

/// The device whose token the request carries, if it may act.
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<DeviceRecord, Refusal> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refuse(ErrorCode::Unauthorized, "this method needs Authorization: Bearer <device token>"))?;
    let device = state
        .db
        .device_by_token(&key_hash(token))
        .await?
        .ok_or_else(|| refuse(ErrorCode::Unauthorized, "unknown device token: log in again"))?;
    if device.revoked_at.is_some() {
        return Err(refuse(ErrorCode::Revoked, "this device was revoked by an administrator: log in again"));
    }
    state.db.touch_device(&device.username, &device.device_id, now_secs()).await?;
    Ok(device)
}

/// Refuses `text` longer than `max` characters.
fn check_length(name: &str, text: &str, max: usize) -> Result<(), Refusal> {
    if text.chars().count() > max {
        return Err(refuse(ErrorCode::Invalid, format!("{name} is longer than {max} characters")));
    }
    Ok(())
}

/// Checks a device's password login (rate-limited), and its second factor when the account has
/// two-factor sign-in; the account's organization.
async fn password_login(
    state: &AppState,
    from: IpAddr,
    username: &str,
    login_secret: &str,
    totp: Option<&str>,
) -> Result<String, Refusal> {
    let wrong = || refuse(ErrorCode::Unauthorized, "wrong user name or password");
    if username.len() > USERNAME_MAX_LENGTH {
        return Err(wrong());
    }
    let org = match check_password(state, Kind::User, username, login_secret, from).await {
        Ok(org) => org,
        Err(LoginFailure::RateLimited(wait)) => {
            return Err(refuse(
                ErrorCode::RateLimited,
                format!("too many failed logins: try again in {} s", wait.as_secs().max(1)),
            ));
        }
        Err(LoginFailure::Denied) => return Err(wrong()),
        Err(LoginFailure::Db(e)) => return Err(e.into()),
    };
    let factor = state.db.totp(Kind::User.as_str(), username).await?;
    if factor.enabled() {
        let Some(code) = totp else {
            return Err(refuse(
                ErrorCode::TotpRequired,
                "this account has two-factor sign-in: give a code from its authenticator app (or a recovery code)",
            ));
        };
        let ok = crate::api::second_factor_ok(state, Kind::User, username, &factor, code)
            .await
            .map_err(|_| refuse(ErrorCode::Internal, "checking the code failed"))?;
        if !ok {
            state.limiter.failed(username, from);
            tracing::warn!("wrong second factor for device registration of {username:?} from {from}");
            return Err(refuse(ErrorCode::Unauthorized, "wrong user name, password or code"));
        }
    }
    Ok(org)
}

async fn register(state: &AppState, from: IpAddr, request: RegisterRequest) -> Result<Registered, Refusal> {
    let RegisterRequest { credentials, device_id, device } = request;
    if !is_device_id(&device_id) {
        return Err(refuse(ErrorCode::Invalid, "a device id is 1 to 64 characters of A-Z a-z 0-9 _ -"));
    }
    check_length("friendly_name", &device.friendly_name, DEVICE_TEXT_MAX)?;
    check_length("platform", &device.platform, DEVICE_TEXT_MAX)?;
    check_length("client_version", &device.client_version, DEVICE_TEXT_MAX)?;
    let wrong = || refuse(ErrorCode::Unauthorized, "wrong user name or password");
    let now = now_secs();
    let (username, org, install_token, how) = match credentials {
        Credentials::Password { username, login_secret } => {
            let org = password_login(state, from, &username, &login_secret, None).await?;
            (username, org, None, "the password")
        }
        Credentials::PasswordTotp { username, login_secret, totp } => {
            let org = password_login(state, from, &username, &login_secret, Some(&totp)).await?;
            (username, org, None, "the password and a second factor")
        }
        Credentials::InstallToken { token } => {
            let hash = key_hash(&token.trim().to_ascii_lowercase());
            let record = state
                .db
                .install_token(&hash)
                .await?
                .ok_or_else(|| refuse(ErrorCode::Unauthorized, "unknown install token"))?;
            if record.used_at.is_some() || record.expires_at <= now {
                return Err(token_used());
            }
            (record.username, record.organization_id, Some(hash), "an install token")
        }
    };
    let (profile, _) = state.db.profile(&username, &org).await?.ok_or_else(wrong)?;
    if profile.is_suspended {
        return Err(refuse(ErrorCode::Forbidden, format!("the account {username} is suspended")));
    }
    let device_token = random_hex(32);
    let record = NewDevice {
        organization_id: org.clone(),
        username: username.clone(),
        device_id: device_id.clone(),
        friendly_name: device.friendly_name.clone(),
        platform: device.platform.clone(),
        client_version: device.client_version.clone(),
        now,
        token_hash: key_hash(&device_token),
    };
    if state.db.register_device(&record, install_token.as_deref()).await? == TokenUse::Taken {
        return Err(token_used());
    }
    state
        .db
        .edit_profile(&username, &org, |profile| {
            let listed = profile.devices.get(&device_id);
            let config = DeviceConfig {
                friendly_name: device.friendly_name.clone(),
                registration_time: listed.map_or(now, |d| d.registration_time),
                platform_version: device.platform.clone(),
                client_version: device.client_version.clone(),
                // Reported on the live connection; kept across registrations.
                device_timezone: listed.map(|d| d.device_timezone.clone()).unwrap_or_default(),
            };
            if listed == Some(&config) {
                return false;
            }
            profile.devices.insert(device_id.clone(), config);
            true
        })
        .await?
        .ok_or_else(wrong)?;
    tracing::info!("device {device_id} ({:?}) of user {username} registered with {how}", device.friendly_name);
    Ok(Registered { username, organization_id: org, device_token })
}

fn token_used() -> Refusal {
    refuse(ErrorCode::TokenUsed, "this install token was used already, or it expired: ask for a new one")
}

async fn stored_profile(state: &AppState, device: &DeviceRecord) -> Result<(UserProfile, String), Refusal> {
    state
        .db
        .profile(&device.username, &device.organization_id)
        .await?
        .ok_or_else(|| refuse(ErrorCode::NotFound, format!("no user {}", device.username)))
}

/// The profile a device sends, with what only the server and administrators may change taken
/// from the stored one: devices, suspension, creation time, and the append-only flag of the
/// vaults that exist already.
async fn merged_profile(state: &AppState, device: &DeviceRecord, json: &str) -> Result<UserProfile, Refusal> {
    let mut profile = UserProfile::from_json(json).map_err(|e| refuse(ErrorCode::Invalid, e.to_string()))?;
    if profile.username != device.username {
        return Err(refuse(ErrorCode::Invalid, format!("the profile's Username must stay {}", device.username)));
    }
    if profile.organization_id != device.organization_id {
        return Err(refuse(ErrorCode::Invalid, "the profile's OrganizationID cannot change"));
    }
    let (stored, _) = stored_profile(state, device).await?;
    profile.devices = stored.devices;
    profile.is_suspended = stored.is_suspended;
    profile.create_time = stored.create_time;
    for (id, vault) in &mut profile.destinations {
        if let Some(old) = stored.destinations.get(id) {
            vault.append_only = old.append_only;
        }
    }
    Ok(profile)
}

async fn set_profile(
    state: &AppState,
    device: &DeviceRecord,
    edit: &SetProfileRequest,
) -> Result<ProfileUpdated, Refusal> {
    let profile = merged_profile(state, device, &edit.profile_json).await?;
    init_outcome(state.db.set_profile_with_bucket(&profile, &device.organization_id, &edit.require_hash, None).await?)
}

/// How long a retention pass may delete in an append-only bucket (or until it ends).
const DELETE_GRANT_SECS: i64 = 3600;

/// A retention pass of the device asks to delete in its vault's append-only bucket.
async fn delete_grant(state: &AppState, device: &DeviceRecord, job_id: &str) -> Result<DeleteGranted, Refusal> {
    let job = state
        .db
        .job(job_id, &device.organization_id)
        .await?
        .filter(|j| j.username == device.username && j.device_id == device.device_id)
        .ok_or_else(|| no_job(job_id))?;
    if !job.is_running() || job.classification != comet_protocol::agent::classification::RETENTION {
        return Err(refuse(ErrorCode::Invalid, "only a running retention job may ask to delete"));
    }
    let (profile, _) = stored_profile(state, device).await?;
    let bucket = profile
        .destinations
        .get(&job.destination_id)
        .filter(|d| d.destination_type == DESTINATION_COMET && is_bucket_id(&d.location))
        .map(|d| d.location.clone())
        .ok_or_else(|| refuse(ErrorCode::Invalid, "the job's vault is not a bucket on this server"))?;
    let record = state.db.bucket(&bucket).await?;
    if record
        .is_none_or(|b| b.organization_id != device.organization_id || b.owner.as_deref() != Some(&device.username))
    {
        return Err(refuse(ErrorCode::NotFound, "no such bucket of this user"));
    }
    let until = now_secs() + DELETE_GRANT_SECS;
    state.db.grant_deletes(&bucket, job_id, &device.organization_id, until).await?;
    tracing::info!(
        "granted deletes in append-only bucket {bucket} to retention job {job_id} of device {} (user {}) until {until}",
        device.device_id,
        device.username
    );
    let note = LogEntry {
        time: now_secs(),
        severity: comet_protocol::agent::Severity::Info,
        message: format!("The server allows this retention pass to delete in the vault's bucket until {until}"),
    };
    state.db.note_job(job_id, &device.organization_id, &[note]).await?;
    Ok(DeleteGranted { until })
}

/// A device changes the account's password, with the vault secrets re-wrapped by it.
async fn change_password(
    state: &AppState,
    device: &DeviceRecord,
    change: ChangePasswordRequest,
) -> Result<ProfileUpdated, Refusal> {
    let secret = &change.new_login_secret;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse(ErrorCode::Invalid, "a login secret is 64 hex characters"));
    }
    let profile = merged_profile(state, device, &change.profile.profile_json).await?;
    let login_hash = {
        let (hasher, secret) = (state.hasher.clone(), secret.clone());
        tokio::task::spawn_blocking(move || hasher.hash(secret.as_bytes())).await.expect("hashing does not panic")
    };
    let outcome = state
        .db
        .set_profile_and_login_hash(&profile, &device.organization_id, &change.profile.require_hash, &login_hash)
        .await?;
    if matches!(outcome, VaultInit::Updated(_)) {
        tracing::info!("device {} of user {} changed the account's password", device.device_id, device.username);
    }
    init_outcome(outcome)
}

fn init_outcome(outcome: VaultInit) -> Result<ProfileUpdated, Refusal> {
    match outcome {
        VaultInit::Updated(profile_hash) => Ok(ProfileUpdated::Updated { profile_hash }),
        VaultInit::Conflict | VaultInit::BucketExists => Ok(ProfileUpdated::Conflict),
        VaultInit::NoSuchUser => Err(refuse(ErrorCode::NotFound, "no such user")),
    }
}

async fn init_vault(
    state: &AppState,
    device: &DeviceRecord,
    init: &InitVaultRequest,
) -> Result<ProfileUpdated, Refusal> {
    let profile = merged_profile(state, device, &init.profile.profile_json).await?;
    let vault_id = &init.destination_id;
    let vault = profile
        .destinations
        .get(vault_id)
        .ok_or_else(|| refuse(ErrorCode::Invalid, format!("the profile has no storage vault {vault_id:?}")))?;
    let bucket = match &init.bucket {
        None => None,
        Some(bucket) => {
            if !is_bucket_id(&bucket.id) {
                return Err(refuse(ErrorCode::Invalid, "a bucket id is 32 lower-case hexadecimal characters"));
            }
            if !BUCKET_KEY_LEN.contains(&bucket.key.len()) || !bucket.key.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(refuse(ErrorCode::Invalid, "a bucket key is 32 to 256 printable ASCII characters"));
            }
            if vault.destination_type != DESTINATION_COMET || vault.location != bucket.id {
                return Err(refuse(
                    ErrorCode::Invalid,
                    format!(
                        "storage vault {vault_id:?} must be of type {DESTINATION_COMET} (this server) with the \
                         bucket id as its location"
                    ),
                ));
            }
            Some(BucketRecord {
                id: bucket.id.clone(),
                organization_id: device.organization_id.clone(),
                key_hash: key_hash(&bucket.key),
                owner: Some(device.username.clone()),
                append_only: vault.append_only,
                create_time: now_secs(),
            })
        }
    };
    let outcome = state
        .db
        .set_profile_with_bucket(&profile, &device.organization_id, &init.profile.require_hash, bucket.as_ref())
        .await?;
    if matches!(outcome, VaultInit::Updated(_)) {
        let bucket_id = bucket.as_ref().map_or("no bucket", |b| b.id.as_str());
        tracing::info!(
            "device {} of user {} initialised vault {vault_id} (bucket {bucket_id})",
            device.device_id,
            device.username
        );
    }
    init_outcome(outcome)
}

async fn job_start(state: &AppState, device: &DeviceRecord, start: JobStartRequest) -> Result<JobStarted, Refusal> {
    check_length("source_id", &start.source_id, JOB_REF_MAX)?;
    check_length("destination_id", &start.destination_id, JOB_REF_MAX)?;
    check_length("backup_rule_id", &start.backup_rule_id, JOB_REF_MAX)?;
    check_length("client_version", &start.client_version, DEVICE_TEXT_MAX)?;
    let (profile, _) = stored_profile(state, device).await?;
    if profile.is_suspended {
        return Err(refuse(ErrorCode::Forbidden, format!("the account {} is suspended", device.username)));
    }
    let job = NewJob {
        id: random_hex(16),
        organization_id: device.organization_id.clone(),
        username: device.username.clone(),
        device_id: device.device_id.clone(),
        classification: start.classification,
        source_id: start.source_id,
        destination_id: start.destination_id,
        backup_rule_id: start.backup_rule_id,
        client_version: start.client_version,
        start_time: now_secs(),
    };
    state.db.start_job(&job).await?;
    tracing::debug!(
        "job {} ({}) of device {} of user {} started",
        job.id,
        job.classification,
        job.device_id,
        job.username
    );
    Ok(JobStarted { job_id: job.id })
}

fn owner(device: &DeviceRecord) -> JobOwner<'_> {
    JobOwner { organization_id: &device.organization_id, username: &device.username, device_id: &device.device_id }
}

fn no_job(id: &str) -> Refusal {
    refuse(ErrorCode::NotFound, format!("no job {id:?} of this device"))
}

/// Checks the number of entries and cuts messages over [`MAX_LOG_MESSAGE`] bytes (marked "…").
fn bounded_entries(mut entries: Vec<LogEntry>) -> Result<Vec<LogEntry>, Refusal> {
    if entries.len() > MAX_LOG_ENTRIES {
        return Err(refuse(ErrorCode::Invalid, format!("at most {MAX_LOG_ENTRIES} log entries per request")));
    }
    for entry in &mut entries {
        cut_message(&mut entry.message);
    }
    Ok(entries)
}

/// Cuts `message` to at most [`MAX_LOG_MESSAGE`] bytes, the last of them "…", on a character
/// boundary.
fn cut_message(message: &mut String) {
    if message.len() <= MAX_LOG_MESSAGE {
        return;
    }
    let mut end = MAX_LOG_MESSAGE - '…'.len_utf8();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push('…');
}

async fn job_log(state: &AppState, device: &DeviceRecord, log: JobLog) -> Result<JobLogReply, Refusal> {
    let entries = bounded_entries(log.entries)?;
    match state.db.append_job_log(&log.job_id, owner(device), &entries, now_secs()).await? {
        LogAppend::Appended { cancel_requested } => Ok(JobLogReply { cancel_requested }),
        LogAppend::Finished => {
            Err(refuse(ErrorCode::Invalid, format!("job {} has ended: it takes no more log entries", log.job_id)))
        }
        LogAppend::NotFound => Err(no_job(&log.job_id)),
    }
}

async fn job_end(state: &AppState, device: &DeviceRecord, end: JobEndRequest) -> Result<(), Refusal> {
    let status = JobStatus::from_code(end.status).filter(|s| !s.is_running()).ok_or_else(|| {
        refuse(ErrorCode::Invalid, format!("{} is not the status of an ended job (5000, 7000 to 7007)", end.status))
    })?;
    check_length("snapshot_id", &end.snapshot_id, SNAPSHOT_ID_MAX)?;
    let entries = bounded_entries(end.entries)?;
    let outcome = JobOutcome { status: status.code(), totals: end.totals, snapshot_id: &end.snapshot_id };
    match state.db.end_job(&end.job_id, owner(device), &outcome, &entries, now_secs()).await? {
        crate::db::JobEnd::Ended => {
            tracing::info!(
                "job {} of device {} of user {} ended: {status}",
                end.job_id,
                device.device_id,
                device.username
            );
            if let Some(mailer) = &state.mailer {
                let (db, org, id) = (state.db.clone(), device.organization_id.clone(), end.job_id.clone());
                tokio::spawn(crate::email::job_finished(db, mailer.clone(), org, id));
            }
            Ok(())
        }
        crate::db::JobEnd::AlreadyEnded => Ok(()),
        crate::db::JobEnd::EndedOtherwise(other) => {
            Err(refuse(ErrorCode::Invalid, format!("job {} ended already, with status {other}", end.job_id)))
        }
        crate::db::JobEnd::NotFound => Err(no_job(&end.job_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids() {
        for good in ["a", "device-1_X", &"x".repeat(64)] {
            assert!(is_device_id(good), "{good}");
        }
        for bad in ["", "..", "a/b", "a b", "%2e", "é", &"x".repeat(65)] {
            assert!(!is_device_id(bad), "{bad}");
        }
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let mut short = "x".repeat(MAX_LOG_MESSAGE);
        cut_message(&mut short);
        assert_eq!(short.len(), MAX_LOG_MESSAGE, "at the limit: kept whole");
        let mut long = "é".repeat(MAX_LOG_MESSAGE);
        cut_message(&mut long);
        assert!(long.len() <= MAX_LOG_MESSAGE && long.ends_with('…'), "{}", long.len());
        assert!(long.trim_end_matches('…').chars().all(|c| c == 'é'));
    }
}
