//! Translation of `object_store` errors into our [`ErrorKind`]s.
//!
//! The class decides what callers do (retry, stop with "disk full", report a conflict), so it is
//! worked out from the error's structure, never from the operation's context alone:
//!
//! | `object_store` error                      | our kind                   |
//! |-------------------------------------------|----------------------------|
//! | `NotFound`                                | `NotFound`                 |
//! | `AlreadyExists`, `Precondition` on a put  | `AlreadyExists`            |
//! | `PermissionDenied`, `Unauthenticated`     | `Forbidden`                |
//! | `InvalidPath`                             | `Invalid`                  |
//! | an I/O error in the source chain          | [`ErrorKind::from_io`]     |
//! | HTTP transport error (connect, timeout)   | `Transient`                |
//! | HTTP 5xx, 408, 429                        | `Transient`                |
//! | HTTP 507                                  | `NoSpace`                  |
//! | anything else                             | `Permanent`                |
//!
//! [`ErrorKind::from_io`] makes `ENOSPC` and `EDQUOT` `NoSpace`, `EACCES` and `EROFS`
//! `Forbidden`, resets and timeouts `Transient`.

use std::error::Error as StdError;

use object_store::client::HttpError;

use crate::error::{Error, ErrorKind};

/// What the failed call was doing: a precondition failure means "already exists" only for a
/// create-only put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Operation {
    /// A create-only put.
    Put,
    /// Anything else.
    Other,
}

/// Our error for `error`, which happened on `target` during `operation`.
pub(super) fn to_vault_error(error: object_store::Error, target: &str, operation: Operation) -> Error {
    let kind = classify(&error, operation);
    Error::new(kind, target).with_source(error)
}

/// The [`ErrorKind`] of an `object_store` error.
pub(super) fn classify(error: &object_store::Error, operation: Operation) -> ErrorKind {
    use object_store::Error as Store;
    match error {
        Store::NotFound { .. } => ErrorKind::NotFound,
        Store::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        Store::Precondition { .. } if operation == Operation::Put => ErrorKind::AlreadyExists,
        Store::PermissionDenied { .. } | Store::Unauthenticated { .. } => ErrorKind::Forbidden,
        Store::InvalidPath { .. } | Store::UnknownConfigurationKey { .. } => ErrorKind::Invalid,
        _ => classify_chain(error),
    }
}

/// Looks through the sources of a generic error for something that tells its class.
fn classify_chain(error: &object_store::Error) -> ErrorKind {
    let mut cause: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(current) = cause {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            let kind = ErrorKind::from_io(io);
            if kind != ErrorKind::Permanent {
                return kind;
            }
            // An `Other` I/O error often wraps the real cause (object_store turns stream errors
            // into I/O errors); `io::Error::source` skips the wrapped error itself, so step in.
            if let Some(inner) = io.get_ref() {
                cause = Some(inner);
                continue;
            }
        }
        if current.downcast_ref::<HttpError>().is_some() {
            // The request never got an answer: connection refused or reset, timeout, a body cut
            // short. object_store already retried what it safely could; the next attempt may work.
            return ErrorKind::Transient;
        }
        if let Some(status) = http_status(current) {
            return classify_status(status);
        }
        cause = current.source();
    }
    ErrorKind::Permanent
}

/// The class of an HTTP status the server answered with, when `object_store` did not give it a
/// variant of its own.
fn classify_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        416 => ErrorKind::Invalid,
        // Insufficient Storage (WebDAV, also sent by some S3 gateways on a full disk).
        507 => ErrorKind::NoSpace,
        408 | 429 | 500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

/// The HTTP status of a failed request, read from the error's message.
///
/// `object_store` 0.14 keeps the status in `RetryError`, whose type is not public, so the number
/// can only be recovered from its rendering: `Server returned non-2xx status code: 503 Service
/// Unavailable: <body>`. If a later version changes the wording, this returns `None` and the
/// error falls back to `Permanent`, which is the safe side (no retry storm).
fn http_status(error: &(dyn StdError + 'static)) -> Option<u16> {
    const MARKER: &str = "status code: ";
    let message = error.to_string();
    let start = message.find(MARKER)? + MARKER.len();
    let digits = message.get(start..start + 3)?;
    let status: u16 = digits.parse().ok()?;
    (100..=599).contains(&status).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl StdError + Send + Sync + 'static) -> object_store::Error {
        object_store::Error::Generic { store: "test", source: Box::new(source) }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("Error performing PUT http://h/b/k in 1s - Server returned non-2xx status code: {0}: x")]
    struct FakeStatus(&'static str);

    #[derive(Debug, thiserror::Error)]
    #[error("wrapper")]
    struct Wrapper(#[source] std::io::Error);

    #[test]
    fn disk_full_is_no_space_even_when_wrapped() {
        let full = std::io::Error::from_raw_os_error(28);
        assert_eq!(classify(&generic(Wrapper(full)), Operation::Put), ErrorKind::NoSpace);
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(classify(&generic(full), Operation::Other), ErrorKind::NoSpace);
    }

    #[test]
    fn precondition_means_already_exists_only_for_puts() {
        let precondition = || object_store::Error::Precondition { path: "k".into(), source: "412".into() };
        assert_eq!(classify(&precondition(), Operation::Put), ErrorKind::AlreadyExists);
        assert_eq!(classify(&precondition(), Operation::Other), ErrorKind::Permanent);
    }

    #[test]
    fn credentials_problems_are_forbidden() {
        let denied = object_store::Error::PermissionDenied { path: "k".into(), source: "403".into() };
        let unauthenticated = object_store::Error::Unauthenticated { path: "k".into(), source: "401".into() };
        assert_eq!(classify(&denied, Operation::Other), ErrorKind::Forbidden);
        assert_eq!(classify(&unauthenticated, Operation::Other), ErrorKind::Forbidden);
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(classify(&generic(io), Operation::Put), ErrorKind::Forbidden);
    }

    #[test]
    fn http_statuses_are_classified() {
        assert_eq!(classify(&generic(FakeStatus("503 Service Unavailable")), Operation::Other), ErrorKind::Transient);
        assert_eq!(classify(&generic(FakeStatus("429 Too Many Requests")), Operation::Other), ErrorKind::Transient);
        assert_eq!(classify(&generic(FakeStatus("507 Insufficient Storage")), Operation::Put), ErrorKind::NoSpace);
        assert_eq!(classify(&generic(FakeStatus("416 Range Not Satisfiable")), Operation::Other), ErrorKind::Invalid);
        assert_eq!(classify(&generic(FakeStatus("400 Bad Request")), Operation::Other), ErrorKind::Permanent);
    }

    #[test]
    fn transport_errors_are_transient() {
        let timeout = HttpError::new(object_store::client::HttpErrorKind::Timeout, std::io::Error::other("slow"));
        assert_eq!(classify(&generic(timeout), Operation::Other), ErrorKind::Transient);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(classify(&generic(reset), Operation::Other), ErrorKind::Transient);
    }

    #[test]
    fn unknown_generic_errors_are_permanent() {
        assert_eq!(classify(&generic(std::fmt::Error), Operation::Other), ErrorKind::Permanent);
    }

    #[test]
    fn vault_error_keeps_target_and_cause() {
        let error = to_vault_error(
            object_store::Error::NotFound { path: "p".into(), source: "gone".into() },
            "config",
            Operation::Other,
        );
        assert!(error.is_not_found());
        assert_eq!(error.target(), "config");
        assert!(StdError::source(&error).is_some());
    }
}
