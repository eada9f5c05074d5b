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
