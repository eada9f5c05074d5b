//! The agent's error type, and how errors and outcomes become exit codes.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Result alias of the agent.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a command that did not fail ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was done.
    Success,
    /// The command finished, but some entries were skipped (unreadable files, metadata that
    /// could not be restored): the warnings were printed.
    Warnings,
}

impl Outcome {
    /// The process exit code: 0, or 3 for warnings (as restic does for incomplete backups).
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Warnings => 3,
        }
    }
}

/// Everything that stops a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine failed (wrong password, corrupted vault, I/O on the vault, ...).
    #[error(transparent)]
    Core(#[from] comet_core::Error),

    /// The vault could not be opened (bad location, backend configuration).
    #[error(transparent)]
    Storage(#[from] comet_storage::Error),

    /// The command line is incomplete or contradictory in a way clap cannot see.
    #[error("{0}")]
    Usage(String),

    /// None of the paths given to `backup` exists.
    #[error("nothing to back up: none of {0} exists")]
    NothingToBackUp(String),

    /// No password could be obtained, or it was refused before use.
    #[error("password: {0}")]
    Password(String),

    /// A local file (password file, ...) could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// `check` found damage (the report was printed).
    #[error("{0}")]
    Damaged(String),

    /// The server refused, or could not be reached.
    #[error(transparent)]
    Client(#[from] comet_protocol::client::ClientError),

    /// Managed mode: not logged in, no such item, a vault that cannot be opened, ...
    #[error("{0}")]
    Managed(String),

    /// Writing the results to standard output failed.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// The process exit code: 2 for usage errors (as clap uses), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }

    /// Whether the error is only that the reader of standard output went away (`| head`): the
    /// process should end quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::Output(std::io::Error::other(e))
    }
}

/// `error`'s message followed by each cause on its own line (`  caused by: ...`). A cause whose
/// text the message above already contains is not repeated: many errors include their
/// source's text in their own.
pub fn display_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut shown = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !line.is_empty() && !shown.contains(&line) {
            let _ = write!(text, "\n  caused by: {line}");
            shown.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Hides(#[source] std::io::Error);

    #[test]
    fn chain_shows_each_cause_once() {
        let repeated = Repeats(std::io::Error::other("disk on fire"));
        assert_eq!(display_chain(&repeated), "outer: disk on fire");
        let hidden = Hides(std::io::Error::other("disk on fire"));
        assert_eq!(display_chain(&hidden), "outer\n  caused by: disk on fire");
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Outcome::Success.exit_code(), 0);
        assert_eq!(Outcome::Warnings.exit_code(), 3);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Core(comet_core::Error::WrongPassword).exit_code(), 1);
        assert!(Error::Output(std::io::ErrorKind::BrokenPipe.into()).is_broken_pipe());
    }
}
