//! The one error type of comet-storage, classified so that callers (retry layers, the wire
//! protocol, the CLI) decide what to do without matching on strings.

use std::fmt;

/// A boxed error from the backend, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across comet-storage.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The class of a storage failure.
///
/// The class, not the message, is what callers act on: `Transient` may be retried,
/// `NoSpace` gets its own exit path and protocol code, `AlreadyExists` is the normal answer of a
/// create-only put racing another writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object does not exist.
    NotFound,
    /// A create-only put found an object under the key already.
    AlreadyExists,
    /// The backend refused the operation (credentials, permissions, append-only).
    Forbidden,
    /// The backend is out of space or quota.
    NoSpace,
    /// A failure that may go away on retry (network, throttling, timeouts).
    Transient,
    /// A failure that will not go away on retry.
    Permanent,
    /// The key or URL given is not valid for this vault.
    Invalid,
}

impl ErrorKind {
    /// Short stable name of the kind, used in messages and protocol codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::AlreadyExists => "already exists",
            Self::Forbidden => "forbidden",
            Self::NoSpace => "no space left",
            Self::Transient => "transient failure",
            Self::Permanent => "permanent failure",
            Self::Invalid => "invalid",
        }
    }

    /// The class of an operating-system I/O failure.
    ///
    /// Disk full and quota exceeded (`ENOSPC`, `EDQUOT`) are [`NoSpace`](Self::NoSpace), so a
    /// full local disk is reported like a full bucket; permission and read-only file-system
    /// errors are [`Forbidden`](Self::Forbidden); interrupted or reset connections and timeouts
    /// are [`Transient`](Self::Transient). Everything else is [`Permanent`](Self::Permanent).
    pub fn from_io(error: &std::io::Error) -> Self {
        use std::io::ErrorKind as Io;

        /// `ENOSPC` on Linux, the BSDs and macOS, checked by number too because some wrappers
        /// (FUSE, network file systems) hand it over without the `StorageFull` kind.
        const ENOSPC: i32 = 28;
        if error.raw_os_error() == Some(ENOSPC) {
            return Self::NoSpace;
        }
        match error.kind() {
            Io::StorageFull | Io::QuotaExceeded => Self::NoSpace,
            Io::NotFound => Self::NotFound,
            Io::AlreadyExists => Self::AlreadyExists,
            Io::PermissionDenied | Io::ReadOnlyFilesystem => Self::Forbidden,
            Io::InvalidInput => Self::Invalid,
            Io::Interrupted
            | Io::WouldBlock
            | Io::TimedOut
            | Io::ConnectionRefused
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::NotConnected
            | Io::BrokenPipe
            | Io::UnexpectedEof
            | Io::ResourceBusy
            | Io::StaleNetworkFileHandle
            | Io::NetworkDown
            | Io::NetworkUnreachable
            | Io::HostUnreachable => Self::Transient,
            _ => Self::Permanent,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A storage error: its [`ErrorKind`], the object key (or URL) concerned, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{kind} at {target}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
pub struct Error {
    kind: ErrorKind,
    target: String,
    message: Option<String>,
    #[source]
    source: Option<BoxError>,
}

impl Error {
    /// An error of `kind` concerning `target` (an object key, a path or a URL).
    pub fn new(kind: ErrorKind, target: impl Into<String>) -> Self {
        Self { kind, target: target.into(), message: None, source: None }
    }

    /// Adds a human-readable explanation.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        if self.message.is_none() {
            self.message = Some(source.to_string());
        }
        self.source = Some(source);
        self
    }

    /// The class of this failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable explanation, if any (the cause's message when none was given).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The object key, path or URL the failure concerns.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Whether the object was missing.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// Whether a create-only put found an existing object.
    pub fn is_already_exists(&self) -> bool {
        self.kind == ErrorKind::AlreadyExists
    }

    /// Whether the backend is out of space or quota.
    pub fn is_no_space(&self) -> bool {
        self.kind == ErrorKind::NoSpace
    }
}
