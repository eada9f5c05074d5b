//! The one error type of comet-core.

use std::path::PathBuf;

use comet_storage::{ErrorKind as StorageErrorKind, ObjectKey};

/// Result alias used across comet-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine, with the object or path concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage vault failed.
    #[error(transparent)]
    Storage(#[from] comet_storage::Error),

    /// No key slot of the vault opens with the password given.
    #[error("wrong password: no key slot of this vault opens with it")]
    WrongPassword,

    /// The vault has no `config` object (never initialised, or initialisation did not finish).
    #[error("no vault at {location}: run `init` first")]
    NotInitialised {
        /// Where the vault was looked for.
        location: String,
    },

    /// An object failed authentication, its hash does not match its name, or it cannot be
    /// decoded: the vault was damaged or tampered with.
    #[error("{object} is corrupted: {reason}")]
    Corrupted {
        /// The object concerned (`data/ab/ab…`, `snapshots/…`, `blob … in pack …`).
        object: String,
        /// What check failed.
        reason: String,
    },

    /// A format version this build does not know.
    #[error("{object} has format version {found}, this build reads up to {supported}")]
    UnsupportedVersion {
        /// The object concerned.
        object: String,
        /// Version found.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },

    /// A key slot asks for KDF parameters outside the accepted bounds (checked before running
    /// the KDF, so a planted slot cannot exhaust memory or time).
    #[error("key slot {slot} has unacceptable KDF parameters: {reason}")]
    KdfParams {
        /// The key slot.
        slot: String,
        /// Which bound was violated.
        reason: String,
    },

    /// A blob referenced by a tree or snapshot is not in the index.
    #[error("blob {id} is not in the index")]
    MissingBlob {
        /// Hex id of the blob.
        id: String,
    },

    /// A snapshot reference matched nothing, or more than one snapshot.
    #[error("snapshot {reference:?}: {reason}")]
    SnapshotRef {
        /// What the user typed.
        reference: String,
        /// Why it does not resolve.
        reason: String,
    },

    /// A tree holds a name that cannot be restored safely (`..`, `a/b`, empty, NUL, duplicate).
    #[error("invalid node name {name:?} in tree: {reason}")]
    InvalidName {
        /// The name, lossily decoded.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// A local file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A user-supplied option is invalid (pattern, size, path).
    #[error("invalid option: {0}")]
    InvalidOption(String),

    /// A writer's session heartbeat is older than half the expiry: a prune may have treated
    /// it as gone, so it does not commit.
    #[error(
        "this session's last heartbeat is {seconds} s old: a concurrent prune may consider it gone, \
         so nothing was committed; run the command again"
    )]
    SessionExpired {
        /// Age of the last heartbeat.
        seconds: i64,
    },

    /// Another process holds what this operation needs exclusively (another prune).
    #[error("{0}")]
    Busy(String),

    /// The vault lacks data that snapshots need; prune refuses to run until it is repaired.
    #[error("the vault is damaged: {0}")]
    Damaged(String),

    /// The work was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// Shorthand for a corruption error.
    pub(crate) fn corrupted(object: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Corrupted { object: object.into(), reason: reason.into() }
    }

    /// Shorthand for an I/O error on a path.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// Whether the failure is in the storage layer and may go away on retry.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Storage(e) if e.is_retryable())
    }

    /// Whether the error means stored data is lost or damaged (a missing object or blob, a
    /// failed authentication or hash): a restore saves everything else.
    pub fn is_data_loss(&self) -> bool {
        match self {
            Self::Corrupted { .. } | Self::MissingBlob { .. } => true,
            Self::Storage(e) => matches!(e.kind(), StorageErrorKind::NotFound | StorageErrorKind::Invalid),
            _ => false,
        }
    }

    /// Whether the storage reported a full disk or quota.
    pub fn is_no_space(&self) -> bool {
        match self {
            Self::Storage(e) => e.kind() == StorageErrorKind::NoSpace,
            Self::Io { source, .. } => source.raw_os_error() == Some(28),
            _ => false,
        }
    }
}

/// Names an object in error messages.
pub(crate) fn object_name(key: &ObjectKey) -> String {
    key.path()
}
