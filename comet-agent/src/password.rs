//! Where the vault password comes from: the environment, a file, the terminal or standard
//! input, in that order. The password is held in zeroized memory and never printed.

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Environment variable holding the password itself.
pub(crate) const PASSWORD_ENV: &str = "COMET_PASSWORD";

/// Why the password is asked for: a new vault's password is typed twice on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Opening an existing vault.
    Open,
    /// Creating a vault (or re-running `init`).
    Create,
}

/// A password, wiped from memory when dropped.
pub(crate) type Password = Zeroizing<Vec<u8>>;

/// Gets the password: `COMET_PASSWORD`, else the first line of `file`, else a prompt on the
/// terminal when standard input is one, else the first line of standard input.
pub(crate) fn read_password(file: Option<&Path>, purpose: Purpose) -> Result<Password> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    resolve(std::env::var_os(PASSWORD_ENV), file, interactive, &mut stdin.lock(), purpose, &prompt)
}

fn prompt(text: &str) -> std::io::Result<Password> {
    rpassword::prompt_password(text).map(|p| Zeroizing::new(p.into_bytes()))
}

/// [`read_password`] with its inputs given, for tests.
fn resolve(
    env: Option<OsString>,
    file: Option<&Path>,
    interactive: bool,
    stdin: &mut dyn BufRead,
    purpose: Purpose,
    prompt: &dyn Fn(&str) -> std::io::Result<Password>,
) -> Result<Password> {
    let password = if let Some(value) = env {
        Zeroizing::new(value.into_vec())
    } else if let Some(path) = file {
        let contents = Zeroizing::new(std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?);
        first_line(&contents)
    } else if interactive {
        let prompt_error = |e: std::io::Error| Error::Password(format!("cannot read it from the terminal: {e}"));
        let first = prompt("enter vault password: ").map_err(prompt_error)?;
        if purpose == Purpose::Create {
            let again = prompt("enter the password again: ").map_err(prompt_error)?;
            if *again != *first {
                return Err(Error::Password("the two passwords differ".into()));
            }
        }
        first
    } else {
        let mut line = Zeroizing::new(Vec::new());
        stdin
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::Password(format!("cannot read it from standard input: {e}")))?;
        if line.is_empty() {
            return Err(Error::Password(format!(
                "none given: set {PASSWORD_ENV} or COMET_PASSWORD_FILE, use --password-file, or type it on a terminal"
            )));
        }
        first_line(&line)
    };
    if password.is_empty() {
        return Err(Error::Password("the password is empty".into()));
    }
    Ok(password)
}

/// Environment variable holding a new password (`key add`, `key passwd`).
pub(crate) const NEW_PASSWORD_ENV: &str = "COMET_NEW_PASSWORD";

/// Gets a new password for a key slot: the first line of `file`, else `COMET_NEW_PASSWORD`,
/// else a prompt on the terminal, typed twice. Standard input is not read: it may already have
/// given the current password.
pub(crate) fn read_new_password(file: Option<&Path>) -> Result<Password> {
    resolve_new(file, std::env::var_os(NEW_PASSWORD_ENV), std::io::stdin().is_terminal(), &prompt)
}

/// [`read_new_password`] with its inputs given, for tests.
fn resolve_new(
    file: Option<&Path>,
    env: Option<OsString>,
    interactive: bool,
    prompt: &dyn Fn(&str) -> std::io::Result<Password>,
) -> Result<Password> {
    let password = if let Some(path) = file {
        let contents = Zeroizing::new(std::fs::read(path).map_err(|source| Error::Io { path: path.into(), source })?);
        first_line(&contents)
    } else if let Some(value) = env {
        Zeroizing::new(value.into_vec())
    } else if interactive {
        let prompt_error = |e: std::io::Error| Error::Password(format!("cannot read it from the terminal: {e}"));
        let first = prompt("enter the new password: ").map_err(prompt_error)?;
        let again = prompt("enter the new password again: ").map_err(prompt_error)?;
        if *again != *first {
            return Err(Error::Password("the two new passwords differ".into()));
        }
        first
    } else {
        return Err(Error::Password(format!(
            "no new password given: use --new-password-file, set {NEW_PASSWORD_ENV}, or type it on a terminal"
        )));
    };
    if password.is_empty() {
        return Err(Error::Password("the new password is empty".into()));
    }
    Ok(password)
}

/// The first line of `bytes`, without its line ending (`\n` or `\r\n`).
fn first_line(bytes: &[u8]) -> Password {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    Zeroizing::new(line.strip_suffix(b"\r").unwrap_or(line).to_vec())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn no_prompt(_: &str) -> std::io::Result<Password> {
        panic!("must not prompt")
    }

    fn run(
        env: Option<&str>,
        file: Option<&Path>,
        interactive: bool,
        stdin: &str,
        purpose: Purpose,
    ) -> Result<Vec<u8>> {
        resolve(env.map(OsString::from), file, interactive, &mut stdin.as_bytes(), purpose, &no_prompt)
            .map(|p| p.to_vec())
    }

    #[test]
    fn environment_first_then_file_then_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from file\r\nsecond line\n").unwrap();
        assert_eq!(run(Some("from env"), Some(&file), false, "x\n", Purpose::Open).unwrap(), b"from env");
        assert_eq!(run(None, Some(&file), false, "x\n", Purpose::Open).unwrap(), b"from file");
        assert_eq!(run(None, None, false, "from stdin\nmore\n", Purpose::Open).unwrap(), b"from stdin");
        assert_eq!(run(None, None, false, "no newline", Purpose::Create).unwrap(), b"no newline");
    }

    #[test]
    fn missing_or_empty_passwords_are_refused() {
        assert!(matches!(run(None, None, false, "", Purpose::Open), Err(Error::Password(_))));
        assert!(matches!(run(None, None, false, "\n", Purpose::Open), Err(Error::Password(_))));
        assert!(matches!(run(Some(""), None, false, "", Purpose::Open), Err(Error::Password(_))));
        let missing = Path::new("/nonexistent/comet/password");
        assert!(matches!(run(None, Some(missing), false, "", Purpose::Open), Err(Error::Io { .. })));
    }

    #[test]
    fn new_password_from_file_then_environment_then_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("new");
        std::fs::write(&file, "new from file\nrest\n").unwrap();
        let new = |file: Option<&Path>, env: Option<&str>, interactive: bool| {
            resolve_new(file, env.map(OsString::from), interactive, &no_prompt).map(|p| p.to_vec())
        };
        assert_eq!(new(Some(&file), Some("from env"), true).unwrap(), b"new from file");
        assert_eq!(new(None, Some("from env"), true).unwrap(), b"from env");
        assert!(matches!(new(None, None, false), Err(Error::Password(_))), "standard input is not read");
        assert!(matches!(new(None, Some(""), false), Err(Error::Password(_))));
        let twice = |_: &str| Ok(Zeroizing::new(b"typed".to_vec()));
        assert_eq!(resolve_new(None, None, true, &twice).unwrap().as_slice(), b"typed");
        let asked = Cell::new(0);
        let differ = |_: &str| {
            asked.set(asked.get() + 1);
            Ok(Zeroizing::new(if asked.get() == 1 { b"one".to_vec() } else { b"two".to_vec() }))
        };
        let err = resolve_new(None, None, true, &differ).unwrap_err();
        assert!(err.to_string().contains("differ"), "{err}");
    }

    #[test]
    fn terminal_asks_twice_for_a_new_vault() {
        let asked = Cell::new(0);
        let answers = |answers: [&'static str; 2]| {
            let asked = &asked;
            move |_: &str| {
                let n = asked.get();
                asked.set(n + 1);
                Ok(Zeroizing::new(answers[n % 2].as_bytes().to_vec()))
            }
        };
        let same = answers(["pw", "pw"]);
        let got = resolve(None, None, true, &mut &b""[..], Purpose::Create, &same).unwrap();
        assert_eq!((got.as_slice(), asked.get()), (&b"pw"[..], 2));
        asked.set(0);
        let got = resolve(None, None, true, &mut &b""[..], Purpose::Open, &same).unwrap();
        assert_eq!((got.as_slice(), asked.get()), (&b"pw"[..], 1));
        asked.set(0);
        let differ = answers(["pw", "typo"]);
        let err = resolve(None, None, true, &mut &b""[..], Purpose::Create, &differ).unwrap_err();
        assert!(err.to_string().contains("differ"), "{err}");
    }
}
