//! The agent's home: its device id and the credentials of the account it is logged in to.
//!
//! `$COMET_AGENT_HOME`, else `$XDG_CONFIG_HOME/comet-agent`, else `~/.config/comet-agent`.
//! Files are written whole (temporary file, fsync, rename) with mode 0600 in a 0700 directory:
//! the credentials hold the account's wrapping key, which opens the user's vault secrets.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Environment variable naming the agent's home directory.
pub(crate) const HOME_ENV: &str = "COMET_AGENT_HOME";

const CREDENTIALS_FILE: &str = "credentials.json";
const DEVICE_ID_FILE: &str = "device-id";

/// What a logged-in device keeps.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Credentials {
    /// The server, as given at login.
    pub(crate) server_url: String,
    /// The account.
    pub(crate) username: String,
    /// Its organization.
    pub(crate) organization_id: String,
    /// This device.
    pub(crate) device_id: String,
    /// Its name.
    pub(crate) device_name: String,
    /// Authenticates this device to the server.
    pub(crate) device_token: String,
    /// Opens the vault secrets of the profile (hex); never sent anywhere.
    pub(crate) wrapping_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("server_url", &self.server_url)
            .field("username", &self.username)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The wrapping key as bytes.
    pub(crate) fn wrapping_key(&self) -> Result<Zeroizing<[u8; 32]>> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(&self.wrapping_key, &mut *key)
            .map_err(|_| Error::Managed("the saved credentials are damaged: log in again".into()))?;
        Ok(key)
    }
}

/// The agent's home directory.
#[derive(Clone, Debug)]
pub(crate) struct Home {
    dir: PathBuf,
}

impl Home {
    /// The home the environment names.
    pub(crate) fn locate() -> Result<Self> {
        let absolute_env = |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
        let dir = absolute_env(HOME_ENV)
            .or_else(|| absolute_env("XDG_CONFIG_HOME").map(|d| d.join("comet-agent")))
            .or_else(|| absolute_env("HOME").map(|h| h.join(".config").join("comet-agent")))
            .ok_or_else(|| {
                Error::Usage(format!("no home for the agent: set {HOME_ENV} (or HOME) to an absolute path"))
            })?;
        Ok(Self { dir })
    }

    /// A home at `dir`.
    #[cfg(test)]
    pub(crate) fn at(dir: &Path) -> Self {
        Self { dir: dir.to_owned() }
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }

    fn ensure_dir(&self) -> Result<()> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&self.dir).map_err(|e| Self::io(&self.dir, e))
    }

    /// Writes `bytes` to `name` atomically, mode 0600.
    pub(crate) fn write_private(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.ensure_dir()?;
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut file =
                std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Self::io(&path, e)
        })
    }

    /// This device's id: random, made on first use and kept in the home (another home is
    /// another device; a copied home is the same device, which the server will notice).
    pub(crate) fn device_id(&self) -> Result<String> {
        let path = self.dir.join(DEVICE_ID_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let id = text.trim();
                if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Ok(id.to_owned());
                }
                Err(Error::Managed(format!("{} is damaged (not a device id)", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = random_hex(16);
                // Create-only: two agents starting at once agree on the first id written.
                self.ensure_dir()?;
                let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
                match created {
                    Ok(mut file) => {
                        file.write_all(format!("{id}\n").as_bytes())
                            .and_then(|()| file.sync_all())
                            .map_err(|e| Self::io(&path, e))?;
                        Ok(id)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.device_id(),
                    Err(e) => Err(Self::io(&path, e)),
                }
            }
            Err(e) => Err(Self::io(&path, e)),
        }
    }

    /// The saved credentials, if logged in.
    pub(crate) fn credentials(&self) -> Result<Option<Credentials>> {
        let path = self.dir.join(CREDENTIALS_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Managed(format!("{} is damaged ({e}): log in again", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Self::io(&path, e)),
        }
    }

    /// The saved credentials, or an error telling how to log in.
    pub(crate) fn require_credentials(&self) -> Result<Credentials> {
        self.credentials()?.ok_or_else(|| {
            Error::Managed(format!(
                "this device is not logged in to a server ({}): run `comet-agent login prompt`",
                self.dir.display()
            ))
        })
    }

    /// Saves credentials (0600).
    pub(crate) fn save_credentials(&self, credentials: &Credentials) -> Result<()> {
        let text = Zeroizing::new(serde_json::to_vec_pretty(credentials).expect("credentials serialise"));
        self.write_private(CREDENTIALS_FILE, &text)
    }

    /// Removes the credentials; false if there were none.
    pub(crate) fn remove_credentials(&self) -> Result<bool> {
        let path = self.dir.join(CREDENTIALS_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Self::io(&path, e)),
        }
    }
}

/// `bytes` random bytes as lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS random source works");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn device_id_is_stable_and_credentials_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(&dir.path().join("home"));
        let id = home.device_id().unwrap();
        assert_eq!(home.device_id().unwrap(), id);
        assert_ne!(Home::at(&dir.path().join("other")).device_id().unwrap(), id);
        assert!(home.credentials().unwrap().is_none());
        let c = Credentials {
            server_url: "http://127.0.0.1:1".into(),
            username: "alice".into(),
            organization_id: "default".into(),
            device_id: id,
            device_name: "box".into(),
            device_token: "tok".into(),
            wrapping_key: "00".repeat(32),
        };
        home.save_credentials(&c).unwrap();
        let mode = std::fs::metadata(home.dir().join(CREDENTIALS_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(home.dir()).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        assert_eq!(home.credentials().unwrap().unwrap().device_token, "tok");
        assert!(!format!("{c:?}").contains("tok"));
        assert!(home.remove_credentials().unwrap());
        assert!(!home.remove_credentials().unwrap());
        std::fs::write(home.dir().join(CREDENTIALS_FILE), "{").unwrap();
        assert!(home.credentials().is_err());
    }
}
