//! Job statuses, with Comet Server's numeric codes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The status of a job (backup, restore, retention pass, ...).
///
/// Codes are Comet Server's: `5xxx` success, `6xxx` running, `7xxx` finished unsuccessfully.
/// DO NOT renumber: the codes are stored in job history and shown to administrators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "u32", try_from = "u32")]
#[non_exhaustive]
pub enum JobStatus {
    /// 5000: finished, no problem.
    Success,
    /// 6001: running.
    Running,
    /// 7000: stopped because it ran longer than allowed.
    Timeout,
    /// 7001: finished, with warnings (some files could not be read, ...).
    Warning,
    /// 7002: failed.
    Error,
    /// 7003: stopped because the storage quota is exhausted.
    QuotaExceeded,
    /// 7004: did not start when scheduled (device off or offline).
    Missed,
    /// 7005: cancelled by a user or an administrator.
    Cancelled,
    /// 7006: not started because the same job was already running.
    AlreadyRunning,
    /// 7007: the device stopped reporting while the job ran.
    Abandoned,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [Self; 10] = [
        Self::Success,
        Self::Running,
        Self::Timeout,
        Self::Warning,
        Self::Error,
        Self::QuotaExceeded,
        Self::Missed,
        Self::Cancelled,
        Self::AlreadyRunning,
        Self::Abandoned,
    ];

    /// Comet's numeric code.
    pub const fn code(self) -> u32 {
        match self {
            Self::Success => 5000,
            Self::Running => 6001,
            Self::Timeout => 7000,
            Self::Warning => 7001,
            Self::Error => 7002,
            Self::QuotaExceeded => 7003,
            Self::Missed => 7004,
            Self::Cancelled => 7005,
            Self::AlreadyRunning => 7006,
            Self::Abandoned => 7007,
        }
    }

    /// The status of `code`, if it is one.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the job is still going.
    pub const fn is_running(self) -> bool {
        matches!(self, Self::Running)
    }

    /// Whether the job finished and its result can be used (success, or success with warnings).
    pub const fn is_usable(self) -> bool {
        matches!(self, Self::Success | Self::Warning)
    }

    /// Human name, as shown in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::Running => "Running",
            Self::Timeout => "Timeout",
            Self::Warning => "Warning",
            Self::Error => "Error",
            Self::QuotaExceeded => "Quota exceeded",
            Self::Missed => "Missed",
            Self::Cancelled => "Cancelled",
            Self::AlreadyRunning => "Skipped (already running)",
            Self::Abandoned => "Abandoned",
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<JobStatus> for u32 {
    fn from(status: JobStatus) -> u32 {
        status.code()
    }
}

impl TryFrom<u32> for JobStatus {
    type Error = String;

    fn try_from(code: u32) -> Result<Self, String> {
        Self::from_code(code).ok_or_else(|| format!("unknown job status code {code}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_comets_and_round_trip() {
        let codes: Vec<u32> = JobStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [5000, 6001, 7000, 7001, 7002, 7003, 7004, 7005, 7006, 7007]);
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(JobStatus::from_code(4999), None);
        assert!(JobStatus::Warning.is_usable() && !JobStatus::Error.is_usable());
    }
}
