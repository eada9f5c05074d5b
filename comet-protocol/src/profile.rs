//! The user profile: one versioned JSON document per user, as Comet Server keeps it
//! (`UserProfileConfig`), with Comet's field names so tools written for Comet read it.
//!
//! Everything a user's devices need to know lives here: devices, protected items (sources),
//! storage vaults (destinations), schedules and retention. Secrets in it are only ever
//! *wrapped* by a key the server never sees. Edits go through a compare-and-swap on the
//! profile hash ([`profile_hash`]): an edit based on a stale copy is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of the profile document layout.
pub const PROFILE_VERSION: u32 = 1;

/// Longest accepted user name (Comet's `USERNAME_MAX_LENGTH`).
pub const USERNAME_MAX_LENGTH: usize = 255;

/// A user's profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UserProfile {
    /// [`PROFILE_VERSION`].
    pub profile_version: u32,
    /// The user name (immutable).
    pub username: String,
    /// Display name.
    pub account_name: String,
    /// IANA time zone of the user (schedules run in the device's).
    pub local_timezone: String,
    /// Addresses for e-mail reports.
    pub emails: Vec<String>,
    /// When to send e-mail reports.
    pub email_reports: Vec<EmailReportConfig>,
    /// The organization (tenant) the user belongs to.
    #[serde(rename = "OrganizationID")]
    pub organization_id: String,
    /// Registered devices by device id.
    pub devices: BTreeMap<String, DeviceConfig>,
    /// Protected items by id.
    pub sources: BTreeMap<String, SourceConfig>,
    /// Storage vaults by id.
    pub destinations: BTreeMap<String, DestinationConfig>,
    /// Schedules by id: which item goes to which vault, when.
    pub backup_rules: BTreeMap<String, BackupRuleConfig>,
    /// A suspended user cannot log in, back up or restore.
    pub is_suspended: bool,
    /// Creation time, seconds since the epoch.
    pub create_time: i64,
}

/// A device of the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceConfig {
    /// Name shown to people (the host name by default).
    pub friendly_name: String,
    /// Registration time, seconds since the epoch.
    pub registration_time: i64,
    /// Operating system and architecture, as the agent reports them.
    pub platform_version: String,
    /// Agent version.
    pub client_version: String,
    /// IANA time zone of the device: its schedules run in it.
    pub device_timezone: String,
}

/// A protected item: what to back up from which device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SourceConfig {
    /// Name shown to people.
    pub description: String,
    /// `engine1/file` for files and folders.
    pub engine: String,
    /// The device it belongs to.
    pub owner_device: String,
    /// Engine settings. Files and folders: `INCLUDE*` paths, `EXCLUDE*` globs, `REXCLUDE*`
    /// regular expressions (Comet's keys).
    pub engine_props: BTreeMap<String, String>,
    /// Creation time, seconds since the epoch.
    pub create_time: i64,
    /// Last change, seconds since the epoch.
    pub modify_time: i64,
}

/// A storage vault.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DestinationConfig {
    /// Name shown to people.
    pub description: String,
    /// Comet's `DESTINATIONTYPE_*`: 1000 S3, 1002 local path, 1003 Comet server bucket, 1005
    /// Azure.
    pub destination_type: u32,
    /// Where it is: a bucket id on a Comet server, an `s3://` URL, a path.
    pub location: String,
    /// Server URL for bucket vaults.
    pub server_url: String,
    /// The bucket's access key, wrapped by the user's wrapping key (never readable by the
    /// server), base64 or hex as the agent writes it.
    pub wrapped_access_key: String,
    /// The vault password (opens its key slot), wrapped by the user's wrapping key.
    pub wrapped_vault_secret: String,
    /// For a bucket vault: create its bucket append-only (agents add objects; deletes need a
    /// retention grant). Set by administrators; devices cannot change it.
    pub append_only: bool,
    /// Which snapshots retention passes keep.
    pub default_retention: RetentionPolicy,
}

/// Comet's `RetentionPolicy`: keep everything, or delete what no range keeps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RetentionPolicy {
    /// 801: keep everything; 802: delete snapshots no range keeps.
    pub mode: u32,
    /// What to keep (a snapshot any range keeps is kept).
    pub ranges: Vec<RetentionRange>,
}

/// [`RetentionPolicy::mode`]: keep every snapshot.
pub const RETENTION_KEEP_EVERYTHING: u32 = 801;
/// [`RetentionPolicy::mode`]: delete what no range keeps.
pub const RETENTION_DELETE_EXCEPT: u32 = 802;

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { mode: RETENTION_KEEP_EVERYTHING, ranges: Vec::new() }
    }
}

/// One rule of a retention policy, with Comet's `RETENTIONRANGE_*` type codes: 900 the newest
/// `Jobs` snapshots, 901 newer than a time (`Timestamp`), 902 the last `Days`/`Weeks`/`Months`/
/// `Years`, 907/908/909/910 the last `Jobs` days/weeks/months/years with one snapshot each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RetentionRange {
    /// `RETENTIONRANGE_*`.
    #[serde(rename = "Type")]
    pub range_type: u32,
    /// For 901: seconds since the epoch.
    pub timestamp: i64,
    /// For 900, 907 to 910.
    pub jobs: u32,
    /// For 902.
    pub days: u32,
    /// For 902.
    pub weeks: u32,
    /// For 902.
    pub months: u32,
    /// For 902.
    pub years: u32,
}

/// An e-mail report rule of a user (`EmailReportConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EmailReportConfig {
    /// 0: one mail per finished job; 1: a daily summary.
    pub report_type: u32,
    /// For per-job mails: the statuses that send one (Comet codes: 7002 errors, 7001
    /// warnings, 7004 missed, 7007 abandoned, 7005 cancelled, ...); empty: every status.
    pub statuses: Vec<u32>,
    /// For summaries: the hour of the day (UTC, 0..24) it is sent.
    pub summary_hour: u32,
    /// Recipients; empty: the profile's `Emails`.
    pub recipients: Vec<String>,
}

/// [`EmailReportConfig::report_type`]: a mail per finished job.
pub const EMAIL_REPORT_IMMEDIATE: u32 = 0;
/// [`EmailReportConfig::report_type`]: a daily summary.
pub const EMAIL_REPORT_SUMMARY: u32 = 1;

/// `DestinationType` of an S3-compatible vault.
pub const DESTINATION_S3: u32 = 1000;
/// `DestinationType` of a vault in a local (or mounted) directory.
pub const DESTINATION_LOCAL: u32 = 1002;
/// `DestinationType` of a vault in a bucket on a Comet server.
pub const DESTINATION_COMET: u32 = 1003;

impl DestinationConfig {
    /// Whether its secrets are recorded (an agent initialised it).
    pub fn is_initialised(&self) -> bool {
        !self.wrapped_vault_secret.is_empty()
    }
}

/// A schedule binding a protected item to a vault.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BackupRuleConfig {
    /// Name shown to people.
    pub description: String,
    /// Protected item id.
    pub source: String,
    /// Storage vault id.
    pub destination: String,
    /// When it runs (none: only on demand), in the owning device's time zone.
    pub schedules: Vec<crate::schedule::ScheduleConfig>,
    /// When the device starts (the daemon), run at once if the last scheduled time passed
    /// without a job (the device was off).
    pub run_if_missed: bool,
    /// Apply the vault's retention rules after each successful scheduled backup.
    pub retention_after_backup: bool,
}

/// Why a profile or a user name is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError(pub String);

impl std::fmt::Display for ProfileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

/// Checks a user name: 1 to 255 characters from `a-zA-Z0-9_.@-`, case-sensitive (Comet's rule).
pub fn check_username(name: &str) -> Result<(), ProfileError> {
    if name.is_empty() || name.len() > USERNAME_MAX_LENGTH {
        return Err(ProfileError(format!("a user name has 1 to {USERNAME_MAX_LENGTH} characters")));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))) {
        return Err(ProfileError(format!("character {bad:?} is not allowed in a user name (a-z A-Z 0-9 _ . @ -)")));
    }
    if name == "." || name == ".." {
        return Err(ProfileError("`.` and `..` are not user names".into()));
    }
    Ok(())
}

impl UserProfile {
    /// A new profile for `username`.
    pub fn new(username: &str, organization_id: &str, now_secs: i64) -> Self {
        Self {
            profile_version: PROFILE_VERSION,
            username: username.to_owned(),
            account_name: String::new(),
            local_timezone: "Etc/UTC".to_owned(),
            organization_id: organization_id.to_owned(),
            create_time: now_secs,
            ..Self::default()
        }
    }

    /// Parses a profile sent by a client, refusing unknown versions.
    pub fn from_json(text: &str) -> Result<Self, ProfileError> {
        let profile: Self = serde_json::from_str(text).map_err(|e| ProfileError(format!("invalid profile: {e}")))?;
        if profile.profile_version != PROFILE_VERSION {
            return Err(ProfileError(format!(
                "profile version {} is not supported (this server reads {PROFILE_VERSION})",
                profile.profile_version
            )));
        }
        check_username(&profile.username)?;
        Ok(profile)
    }

    /// The canonical JSON text stored and hashed.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a profile always serialises")
    }
}

/// The hash of a profile's canonical JSON: what compare-and-swap edits refer to.
pub fn profile_hash(profile: &UserProfile) -> String {
    blake3::hash(profile.to_json().as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comet_field_names_and_round_trip() {
        let mut p = UserProfile::new("alice", "default", 1_700_000_000);
        p.sources.insert(
            "item1".into(),
            SourceConfig { engine: "engine1/file".into(), description: "Documents".into(), ..Default::default() },
        );
        let json = p.to_json();
        assert!(json.contains("\"Username\":\"alice\"") && json.contains("\"OrganizationID\""), "{json}");
        assert!(json.contains("\"Sources\":{\"item1\":{\"Description\":\"Documents\""), "{json}");
        assert_eq!(UserProfile::from_json(&json).unwrap(), p);
        assert_eq!(profile_hash(&p), profile_hash(&UserProfile::from_json(&json).unwrap()));
        let mut q = p.clone();
        q.account_name = "Alice".into();
        assert_ne!(profile_hash(&p), profile_hash(&q));
    }

    #[test]
    fn bad_profiles_and_names_are_refused() {
        assert!(UserProfile::from_json("{").is_err());
        assert!(UserProfile::from_json(r#"{"ProfileVersion": 9, "Username": "a"}"#).is_err());
        assert!(UserProfile::from_json(r#"{"ProfileVersion": 1, "Username": "../b"}"#).is_err());
        for good in ["a", "alice.smith@example.com", "A-b_c"] {
            assert!(check_username(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "..", "%2e%2e", "ü", &"x".repeat(256)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }
}
