//! The agent API: what a device asks its server, over HTTP(S).
//!
//! Each method is `POST /api/v1/agent/<path>` with a [`wire`](crate::wire) frame of its request
//! as the body; the answer is `200` with a frame of its response, or an error status with a
//! frame of [`AgentError`]. Devices authenticate with `Authorization: Bearer <device token>`
//! (issued by [`Register`]); [`Hello`] and [`Register`] need no token.
//!
//! Every method is a type implementing [`Method`], so client and server cannot disagree on a
//! path or on what a method takes and gives.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Path prefix of the agent API.
pub const PREFIX: &str = "/api/v1/agent/";

/// Longest log message kept (longer ones are cut, with a mark).
pub const MAX_LOG_MESSAGE: usize = 4096;

/// Most log entries in one [`JobLog`] request.
pub const MAX_LOG_ENTRIES: usize = 1000;

/// One method of the agent API.
pub trait Method {
    /// Its path after [`PREFIX`].
    const PATH: &'static str;
    /// Whether the device token is required.
    const AUTHENTICATED: bool = true;
    /// Whether sending it twice does no harm: the client retries it after transport failures
    /// (a server restarting, a network cut).
    const IDEMPOTENT: bool = false;
    /// What it takes.
    type Request: Serialize + DeserializeOwned + Send + Sync;
    /// What it gives.
    type Response: Serialize + DeserializeOwned + Send;
}

/// Stable error codes of the agent API. DO NOT renumber: agents of other versions read them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u16", from = "u16")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: the body is not a valid frame of the method's request.
    BadFrame,
    /// 2: the frame is of another protocol version.
    IncompatibleVersion,
    /// 3: the frame is over the size limit.
    TooLarge,
    /// 4: wrong user name, password, token or device token.
    Unauthorized,
    /// 5: too many failed logins; wait.
    RateLimited,
    /// 6: no such method, job, item or vault (of this user).
    NotFound,
    /// 7: the profile changed since it was read.
    Conflict,
    /// 8: this device was revoked by an administrator.
    Revoked,
    /// 9: the install token was already used, or expired.
    TokenUsed,
    /// 10: the server failed (logged there).
    Internal,
    /// 11: the request is understood and refused (suspended user, ...).
    Forbidden,
    /// 12: a field is invalid.
    Invalid,
    /// 13: the account has two-factor sign-in: log in again with a code
    /// ([`Credentials::PasswordTotp`]).
    TotpRequired,
    /// A code this version does not know.
    Unknown(u16),
}

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> u16 {
        match code {
            ErrorCode::BadFrame => 1,
            ErrorCode::IncompatibleVersion => 2,
            ErrorCode::TooLarge => 3,
            ErrorCode::Unauthorized => 4,
            ErrorCode::RateLimited => 5,
            ErrorCode::NotFound => 6,
            ErrorCode::Conflict => 7,
            ErrorCode::Revoked => 8,
            ErrorCode::TokenUsed => 9,
            ErrorCode::Internal => 10,
            ErrorCode::Forbidden => 11,
            ErrorCode::Invalid => 12,
            ErrorCode::TotpRequired => 13,
            ErrorCode::Unknown(n) => n,
        }
    }
}

impl From<u16> for ErrorCode {
    fn from(n: u16) -> Self {
        match n {
            1 => Self::BadFrame,
            2 => Self::IncompatibleVersion,
            3 => Self::TooLarge,
            4 => Self::Unauthorized,
            5 => Self::RateLimited,
            6 => Self::NotFound,
            7 => Self::Conflict,
            8 => Self::Revoked,
            9 => Self::TokenUsed,
            10 => Self::Internal,
            11 => Self::Forbidden,
            12 => Self::Invalid,
            13 => Self::TotpRequired,
            n => Self::Unknown(n),
        }
    }
}

impl ErrorCode {
    /// The HTTP status the server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::BadFrame | Self::IncompatibleVersion | Self::Invalid | Self::Unknown(_) => 400,
            Self::TooLarge => 413,
            Self::Unauthorized | Self::TotpRequired => 401,
            Self::RateLimited => 429,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::Revoked | Self::TokenUsed | Self::Forbidden => 403,
            Self::Internal => 500,
        }
    }
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AgentError {
    /// What kind of error.
    pub code: ErrorCode,
    /// What happened, for people.
    pub message: String,
}

impl AgentError {
    /// An error of `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// `hello`: versions and the server's clock. No token needed.
#[derive(Debug)]
pub struct Hello;

/// The agent introduces itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloRequest {
    /// The agent's version.
    pub agent_version: String,
}

/// The server's answer to [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloReply {
    /// The server's version.
    pub server_version: String,
    /// [`crate::PROTOCOL_VERSION`] of the server.
    pub protocol_version: u32,
    /// The server's clock, seconds since the epoch (devices sharing a vault agree on time).
    pub server_time: i64,
}

impl Method for Hello {
    const IDEMPOTENT: bool = true;
    const PATH: &'static str = "hello";
    const AUTHENTICATED: bool = false;
    type Request = HelloRequest;
    type Response = HelloReply;
}

/// How a device proves it may join an account.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Credentials {
    /// The user name and the login secret derived from the password
    /// ([`crate::account::AccountSecrets`]); the password itself is never sent.
    Password {
        /// User name.
        username: String,
        /// Login secret (hex).
        login_secret: String,
    },
    /// A single-use install token made by an administrator.
    InstallToken {
        /// The token's server part ([`crate::account::InstallToken::server_part`]).
        token: String,
    },
    /// [`Credentials::Password`] with a second factor, for an account with two-factor sign-in:
    /// a code of its authenticator app, or one of its recovery codes. (Last, so that the
    /// variants before it keep their encoding.)
    PasswordTotp {
        /// User name.
        username: String,
        /// Login secret (hex).
        login_secret: String,
        /// The code.
        totp: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password { username, .. } => write!(f, "Password({username}, <redacted>)"),
            Self::PasswordTotp { username, .. } => write!(f, "PasswordTotp({username}, <redacted>)"),
            Self::InstallToken { .. } => f.write_str("InstallToken(<redacted>)"),
        }
    }
}

/// What a device says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Name shown to people (the host name by default).
    pub friendly_name: String,
    /// Operating system and architecture.
    pub platform: String,
    /// Agent version.
    pub client_version: String,
}

/// `register`: log a device in to an account. No token needed.
#[derive(Debug)]
pub struct Register;

/// A device asks to join an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Proof.
    pub credentials: Credentials,
    /// The device's id (random, kept in the agent's home).
    pub device_id: String,
    /// About the device.
    pub device: DeviceInfo,
}

/// The server's answer to [`Register`].
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registered {
    /// The account.
    pub username: String,
    /// Its organization.
    pub organization_id: String,
    /// The device's token for every later request (the server keeps only its hash).
    pub device_token: String,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered").field("username", &self.username).finish_non_exhaustive()
    }
}

impl Method for Register {
    const PATH: &'static str = "register";
    const AUTHENTICATED: bool = false;
    type Request = RegisterRequest;
    type Response = Registered;
}

/// `get-profile`: the account's profile.
#[derive(Debug)]
pub struct GetProfile;

/// A profile as JSON text (the document that is hashed), with its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileText {
    /// [`crate::profile::UserProfile`] as JSON.
    pub profile_json: String,
    /// [`crate::profile::profile_hash`] of it.
    pub profile_hash: String,
}

impl Method for GetProfile {
    const IDEMPOTENT: bool = true;
    const PATH: &'static str = "get-profile";
    type Request = ();
    type Response = ProfileText;
}

/// The outcome of a compare-and-swap profile edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProfileUpdated {
    /// Stored; the new hash.
    Updated {
        /// The new hash.
        profile_hash: String,
    },
    /// The profile changed since `require_hash`; nothing was stored.
    Conflict,
}

/// `set-profile`: replace the profile if it is unchanged since it was read. The server keeps
/// what only it or administrators may change (user name, organization, devices, suspension,
/// the append-only flag of existing vaults).
#[derive(Debug)]
pub struct SetProfile;

/// A compare-and-swap edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetProfileRequest {
    /// The hash of the profile the edit is based on.
    pub require_hash: String,
    /// The new profile, as JSON.
    pub profile_json: String,
}

impl Method for SetProfile {
    const PATH: &'static str = "set-profile";
    type Request = SetProfileRequest;
    type Response = ProfileUpdated;
}

/// `init-vault`: record a storage vault's wrapped secrets in the profile and, for a vault on
/// this server, create its bucket: both in one transaction, so either both happen or neither.
/// Sent again after a lost reply it finds the profile changed ([`ProfileUpdated::Conflict`]),
/// and the agent reads the recorded vault instead of making a second one.
#[derive(Debug)]
pub struct InitVault;

/// A new bucket, its id and key chosen by the agent (the server keeps a hash of the key).
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewBucket {
    /// 32 lower-case hex characters.
    pub id: String,
    /// Access key.
    pub key: String,
}

impl std::fmt::Debug for NewBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewBucket").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A vault initialisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitVaultRequest {
    /// The vault (`Destinations` key).
    pub destination_id: String,
    /// The edit: the profile with the vault's location and wrapped secrets filled in.
    pub profile: SetProfileRequest,
    /// The bucket to create, for a vault on this server.
    pub bucket: Option<NewBucket>,
}

impl Method for InitVault {
    const PATH: &'static str = "init-vault";
    type Request = InitVaultRequest;
    type Response = ProfileUpdated;
}

/// Comet's job classifications.
pub mod classification {
    /// 4001.
    pub const BACKUP: u32 = 4001;
    /// 4002.
    pub const RESTORE: u32 = 4002;
    /// 4003.
    pub const RETENTION: u32 = 4003;
}

/// `job-start`: a job begins on the device; the server records it as running (6001).
#[derive(Debug)]
pub struct JobStart;

/// A job that begins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStartRequest {
    /// [`classification`].
    pub classification: u32,
    /// Protected item id.
    pub source_id: String,
    /// Storage vault id.
    pub destination_id: String,
    /// Schedule id, when a schedule started it.
    pub backup_rule_id: String,
    /// Agent version.
    pub client_version: String,
}

/// The new job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStarted {
    /// Its id (32 hex characters).
    pub job_id: String,
}

impl Method for JobStart {
    const PATH: &'static str = "job-start";
    type Request = JobStartRequest;
    type Response = JobStarted;
}

/// Log severities, as Comet writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// `D`.
    Debug,
    /// `I`.
    Info,
    /// `W`.
    Warning,
    /// `E`.
    Error,
}

impl Severity {
    /// Comet's letter.
    pub fn letter(self) -> &'static str {
        match self {
            Self::Debug => "D",
            Self::Info => "I",
            Self::Warning => "W",
            Self::Error => "E",
        }
    }

    /// The severity of a letter.
    pub fn from_letter(letter: &str) -> Option<Self> {
        Some(match letter {
            "D" => Self::Debug,
            "I" => Self::Info,
            "W" => Self::Warning,
            "E" => Self::Error,
            _ => return None,
        })
    }
}

/// One log line of a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Seconds since the epoch.
    pub time: i64,
    /// How bad.
    pub severity: Severity,
    /// What happened.
    pub message: String,
}

/// Counters of a running job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Bytes processed.
    pub bytes_done: u64,
    /// Entries processed.
    pub items_done: u64,
}

/// `job-log`: log lines (and progress) of a running job, sent while it runs.
#[derive(Debug)]
pub struct JobLogMethod;

/// A batch of log lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLog {
    /// The job.
    pub job_id: String,
    /// New lines, oldest first (at most [`MAX_LOG_ENTRIES`]).
    pub entries: Vec<LogEntry>,
    /// Counters so far.
    pub progress: Option<JobProgress>,
}

/// The server's answer to a log batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLogReply {
    /// An administrator or the user asked to cancel the job.
    pub cancel_requested: bool,
}

impl Method for JobLogMethod {
    const PATH: &'static str = "job-log";
    type Request = JobLog;
    type Response = JobLogReply;
}

/// Sizes and counts of a finished job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTotals {
    /// Directories in the snapshot.
    pub directories: u64,
    /// Files in the snapshot.
    pub files: u64,
    /// Bytes of the files.
    pub size: u64,
    /// Bytes sent to the vault.
    pub upload_size: u64,
    /// Bytes read from the vault.
    pub download_size: u64,
}

/// `job-end`: a job finished.
#[derive(Debug)]
pub struct JobEnd;

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEndRequest {
    /// The job.
    pub job_id: String,
    /// [`crate::JobStatus`] code (5000, 7001, 7002, 7005, ...).
    pub status: u32,
    /// Sizes and counts.
    pub totals: JobTotals,
    /// The snapshot written (backups), or read (restores).
    pub snapshot_id: String,
    /// Last log lines, written before the status.
    pub entries: Vec<LogEntry>,
}

impl Method for JobEnd {
    const IDEMPOTENT: bool = true;
    const PATH: &'static str = "job-end";
    type Request = JobEndRequest;
    type Response = ();
}

/// `change-password`: set the account's password and re-wrap the vault secrets of the
/// profile with the new wrapping key, in one transaction (a compare-and-swap on the profile).
/// Only a logged-in device can do it: it alone holds the old wrapping key. After an
/// administrator reset the password, this is how the vault secrets are saved.
#[derive(Debug)]
pub struct ChangePassword;

/// A password change.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangePasswordRequest {
    /// The login secret of the new password.
    pub new_login_secret: String,
    /// The profile with every vault secret wrapped by the new wrapping key.
    pub profile: SetProfileRequest,
}

impl std::fmt::Debug for ChangePasswordRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangePasswordRequest").finish_non_exhaustive()
    }
}

impl Method for ChangePassword {
    const PATH: &'static str = "change-password";
    type Request = ChangePasswordRequest;
    type Response = ProfileUpdated;
}

/// `delete-grant`: a retention pass asks to delete objects of an append-only bucket. The server
/// allows deletes in the bucket of the job's vault while the job runs (at most an hour), logs
/// the grant and writes it into the job's log.
#[derive(Debug)]
pub struct DeleteGrant;

/// The retention job asking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteGrantRequest {
    /// A running retention job (4003) of this device.
    pub job_id: String,
}

/// The grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteGranted {
    /// Deletes are allowed until then (seconds since the epoch), or until the job ends.
    pub until: i64,
}

impl Method for DeleteGrant {
    const IDEMPOTENT: bool = true;
    const PATH: &'static str = "delete-grant";
    type Request = DeleteGrantRequest;
    type Response = DeleteGranted;
}

/// `disconnect`: the device logs out; its token stops working.
#[derive(Debug)]
pub struct Disconnect;

impl Method for Disconnect {
    const IDEMPOTENT: bool = true;
    const PATH: &'static str = "disconnect";
    type Request = ();
    type Response = ();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_stable() {
        let codes: Vec<u16> = [
            ErrorCode::BadFrame,
            ErrorCode::IncompatibleVersion,
            ErrorCode::TooLarge,
            ErrorCode::Unauthorized,
            ErrorCode::RateLimited,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::Revoked,
            ErrorCode::TokenUsed,
            ErrorCode::Internal,
            ErrorCode::Forbidden,
            ErrorCode::Invalid,
            ErrorCode::TotpRequired,
        ]
        .into_iter()
        .map(u16::from)
        .collect();
        assert_eq!(codes, (1..=13).collect::<Vec<u16>>());
        assert_eq!(ErrorCode::from(99), ErrorCode::Unknown(99));
        let e = AgentError::new(ErrorCode::Revoked, "revoked");
        let frame = crate::wire::encode(&e);
        assert_eq!(crate::wire::decode::<AgentError>(&frame, 1000).unwrap(), e);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let c = Credentials::Password { username: "alice".into(), login_secret: "s3cr3t".into() };
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let r = Registered { username: "a".into(), organization_id: "o".into(), device_token: "t0k".into() };
        assert!(!format!("{r:?}").contains("t0k"));
    }
}
