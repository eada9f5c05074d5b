//! What every command needs: the vault, the password, the cache, and whether to draw
//! progress bars.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use comet_core::{IndexedRepository, Repository};
use comet_storage::{Vault, VaultLocation};

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};
use crate::password::{self, Password, Purpose};

/// The global options, resolved lazily as commands need them.
#[derive(Debug)]
pub(crate) struct Context {
    global: GlobalArgs,
}

impl Context {
    pub(crate) fn new(global: GlobalArgs) -> Self {
        Self { global }
    }

    /// Whether results are printed as JSON.
    pub(crate) fn json(&self) -> bool {
        self.global.json
    }

    /// Whether to draw progress bars: on a terminal, unless `--json` or `--quiet`.
    pub(crate) fn show_progress(&self) -> bool {
        !self.global.json && !self.global.quiet && std::io::stderr().is_terminal()
    }

    /// Whether to print informational messages on standard error.
    pub(crate) fn chatty(&self) -> bool {
        !self.global.json && !self.global.quiet
    }

    fn location(&self) -> Result<&str> {
        self.global
            .vault
            .as_deref()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| Error::Usage("no vault given: use --vault LOCATION or set COMET_VAULT".into()))
    }

    /// The vault, opened from `--vault` / `COMET_VAULT`.
    pub(crate) fn vault(&self) -> Result<Arc<dyn Vault>> {
        Ok(comet_storage::open_vault(self.location()?)?)
    }

    /// The password, from wherever it is given.
    pub(crate) fn password(&self, purpose: Purpose) -> Result<Password> {
        password::read_password(self.global.password_file.as_deref(), purpose)
    }

    /// The cache root: `--cache-dir` / `COMET_CACHE_DIR`, else `$XDG_CACHE_HOME/comet`, else
    /// `$HOME/.cache/comet`; none with `--no-cache`, for an in-memory vault, or without a home.
    pub(crate) fn cache_dir(&self) -> Result<Option<PathBuf>> {
        if VaultLocation::parse(self.location()?)? == VaultLocation::Memory {
            return Ok(None);
        }
        Ok(self.cache_root())
    }

    /// The cache root whatever the vault: `--cache-dir`, else the XDG or home default; none
    /// with `--no-cache` or without a home.
    pub(crate) fn cache_root(&self) -> Option<PathBuf> {
        if self.global.no_cache {
            return None;
        }
        if let Some(dir) = &self.global.cache_dir {
            return Some(dir.clone());
        }
        let absolute_env = |name: &str| std::env::var_os(name).map(PathBuf::from).filter(|p| p.is_absolute());
        absolute_env("XDG_CACHE_HOME")
            .map(|xdg| xdg.join("comet"))
            .or_else(|| absolute_env("HOME").map(|home| home.join(".cache").join("comet")))
    }

    /// Opens the repository with the password, and its cache.
    pub(crate) async fn open(&self) -> Result<Repository> {
        let vault = self.vault()?;
        let cache = self.cache_dir()?;
        let password = self.password(Purpose::Open)?;
        let repo = Repository::open(vault, &password).await?;
        Ok(match cache {
            Some(dir) => repo.with_cache(&dir),
            None => repo,
        })
    }

    /// Opens the repository and loads its index.
    pub(crate) async fn open_indexed(&self) -> Result<IndexedRepository> {
        Ok(self.open().await?.load_index().await?)
    }
}
