//! Snapshots: the root of one backup.
//!
//! Stored under `snapshots/<id>` as `seal(Snapshot, 0, encode(Snapshot))`; the id is the BLAKE3
//! hash of the stored bytes. A snapshot is written last, after its packs and index, so a listed
//! snapshot is always complete.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::crypto::{Cipher, NO_ID, Purpose};
use crate::id::{SnapshotId, TreeId};

/// Format version of snapshots.
pub const SNAPSHOT_VERSION: u32 = 1;

/// What a backup did, recorded in its snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSummary {
    /// Files not in the parent snapshot.
    pub files_new: u64,
    /// Files whose metadata changed since the parent, read again.
    pub files_changed: u64,
    /// Files unchanged since the parent, not read.
    pub files_unmodified: u64,
    /// Directories.
    pub dirs: u64,
    /// Entries of other kinds (symlinks, devices, ...).
    pub others: u64,
    /// Data blobs stored by this backup.
    pub data_blobs_added: u64,
    /// Tree blobs stored by this backup.
    pub tree_blobs_added: u64,
    /// Plaintext bytes of the blobs stored.
    pub bytes_added: u64,
    /// Bytes those blobs take in packs (compressed, sealed).
    pub bytes_added_stored: u64,
    /// Packs uploaded.
    pub packs_added: u64,
    /// Files in the snapshot.
    pub total_files: u64,
    /// Bytes of the files in the snapshot.
    pub total_bytes: u64,
    /// Problems that did not stop the backup (unreadable files, ...).
    pub warnings: u64,
    /// Start, ns since the epoch.
    pub start_ns: i64,
    /// End, ns since the epoch.
    pub end_ns: i64,
}

/// One backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// When the backup started, ns since the epoch.
    pub time_ns: i64,
    /// Host name.
    pub hostname: String,
    /// User name.
    pub username: String,
    /// The paths backed up, as given.
    pub paths: Vec<String>,
    /// User tags.
    pub tags: Vec<String>,
    /// Root tree: one node per top-level path component.
    pub tree: TreeId,
    /// The snapshot used to skip unchanged files.
    #[serde(with = "crate::id::object_id_serde::option")]
    pub parent: Option<SnapshotId>,
    /// Device that made it (managed agents).
    pub device_id: Option<String>,
    /// Protected item it belongs to (managed agents).
    pub protected_item: Option<String>,
    /// What the backup did.
    pub summary: BackupSummary,
    /// Program and version that wrote it.
    pub program: String,
}

impl Snapshot {
    /// Stored bytes.
    pub fn seal(&self, cipher: &Cipher) -> Vec<u8> {
        cipher.seal(Purpose::Snapshot, &NO_ID, &codec::encode(self))
    }

    /// Opens stored bytes.
    pub fn open(cipher: &Cipher, stored: &[u8]) -> Result<Self, String> {
        let plain = cipher.open(Purpose::Snapshot, &NO_ID, stored).ok_or("authentication failed")?;
        let snap: Self = codec::decode(&plain)?;
        if snap.version != SNAPSHOT_VERSION {
            return Err(format!("unsupported snapshot version {}", snap.version));
        }
        Ok(snap)
    }
}

/// Now, in ns since the Unix epoch.
pub fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// This machine's host name.
pub fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into())
}

/// The user running this process.
pub fn username() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| nix::unistd::getuid().to_string(), |u| u.name)
}

/// Formats ns since the epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The proleptic Gregorian date `(year, month 1-12, day 1-31)` of a day counted from
/// 1970-01-01 (Howard Hinnant's `civil_from_days`: exact for every `i64` day that fits a year).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month as u32, day as u32)
}

/// The day counted from 1970-01-01 of the proleptic Gregorian date `year-month-01`, plus
/// `day - 1` (Hinnant's `days_from_civil`). `day` may lie outside the month: the result moves
/// linearly, as Go's `time.Date` normalises `Feb 31` to `Mar 3`. `month` must be 1-12.
pub(crate) fn days_from_civil(year: i64, month: u32, day: i64) -> i64 {
    let month = i64::from(month);
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_795_305_600_000_000_000), "2026-11-22 00:00:00");
        assert_eq!(format_time(951_782_400_000_000_000), "2000-02-29 00:00:00");
        assert_eq!(format_time(-1_000_000_000), "1969-12-31 23:59:59");
    }

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2015, 2, 31), days_from_civil(2015, 3, 3), "days overflow into the next month");
        assert_eq!(days_from_civil(2016, 3, 0), days_from_civil(2016, 2, 29));
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, i64::from(d)), days, "{y}-{m}-{d}");
        }
    }
}
