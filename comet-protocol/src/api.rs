//! Answers of the admin and user web API (`POST /api/v1/admin/...`, `/api/v1/user/web/...`),
//! with Comet Server's JSON field names. Requests are form-encoded: the authentication fields
//! `Username`, `AuthType` (`Password` or `SessionKey`), `Password` or `SessionKey`, then the
//! method's own fields (structured ones, like `ProfileData`, as JSON text).

use serde::{Deserialize, Serialize};

use crate::profile::UserProfile;

/// The answer of a method that returns nothing else, and of every error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiResponse {
    /// An HTTP status: 200 on success.
    pub status: u16,
    /// What happened, for people.
    pub message: String,
}

impl ApiResponse {
    /// Success.
    pub fn ok() -> Self {
        Self { status: 200, message: "OK".into() }
    }
}

/// `AdminAccountSessionStart`, `UserWebSessionStart`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionKeyResponse {
    /// 200.
    pub status: u16,
    /// "OK".
    pub message: String,
    /// Use as `AuthType=SessionKey`, `SessionKey=...` until it expires or is revoked.
    pub session_key: String,
}

/// `AdminGetUserProfileAndHash`, `UserWebGetUserProfileAndHash`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProfileAndHash {
    /// The profile.
    pub profile: UserProfile,
    /// Give it back as `RequireHash` to change the profile.
    pub profile_hash: String,
}

/// `AdminMetaVersion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerMetaVersion {
    /// Server version.
    pub version: String,
    /// Agent protocol version.
    pub protocol_version: u32,
    /// When the server started, seconds since the epoch.
    pub server_start_time: i64,
    /// The server hosts storage buckets.
    pub storage_role: bool,
    /// The server authenticates users and devices.
    pub auth_role: bool,
}

/// A job, as `AdminGetJobProperties`, `AdminGetJobsForUser`, ... give it (Comet's
/// `BackupJobDetail`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BackupJobDetail {
    /// Job id.
    #[serde(rename = "GUID")]
    pub guid: String,
    /// The user.
    pub username: String,
    /// The organization.
    #[serde(rename = "OrganizationID")]
    pub organization_id: String,
    /// 4001 backup, 4002 restore, 4003 retention.
    pub classification: u32,
    /// [`crate::JobStatus`] code.
    pub status: u32,
    /// Start, seconds since the epoch.
    pub start_time: i64,
    /// End, seconds since the epoch; 0 while running.
    pub end_time: i64,
    /// Protected item id.
    #[serde(rename = "SourceGUID")]
    pub source_guid: String,
    /// Storage vault id.
    #[serde(rename = "DestinationGUID")]
    pub destination_guid: String,
    /// Schedule id.
    #[serde(rename = "BackupRuleGUID")]
    pub backup_rule_guid: String,
    /// Device id.
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    /// Snapshot written or read.
    #[serde(rename = "SnapshotID")]
    pub snapshot_id: String,
    /// Agent version.
    pub client_version: String,
    /// Directories.
    pub total_directories: u64,
    /// Files.
    pub total_files: u64,
    /// Bytes of the files.
    pub total_size: u64,
    /// Bytes sent to the vault.
    pub upload_size: u64,
    /// Bytes read from the vault.
    pub download_size: u64,
    /// Give to `AdminJobCancel` while the job runs; empty once it ended.
    #[serde(rename = "CancellationID")]
    pub cancellation_id: String,
}

/// One log line of a job (`AdminGetJobLogEntries`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobEntry {
    /// Seconds since the epoch.
    pub time: i64,
    /// `D`, `I`, `W` or `E`.
    pub severity: String,
    /// The text.
    pub message: String,
}

/// `AdminCreateInstallToken`: the token (shown once) and its terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstallTokenResponse {
    /// 200.
    pub status: u16,
    /// "OK".
    pub message: String,
    /// The token: `comet-agent login --token TOKEN --server URL`.
    pub token: String,
    /// The account it joins.
    pub username: String,
    /// The server it is for.
    pub server: String,
    /// Seconds since the epoch.
    pub create_time: i64,
    /// Seconds since the epoch.
    pub expire_time: i64,
}
