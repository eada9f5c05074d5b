//! The server's configuration: `comet-server.toml` in the data directory.
//!
//! The file is TOML, written with commented defaults on first start ([`load_or_create`]) and never
//! rewritten by the server afterwards, so an administrator's edits and comments survive. Every
//! field has a default: an empty file is a valid configuration (plain HTTP on `127.0.0.1:8060`,
//! an `SQLite` database and buckets in the data directory).
//!
//! Parsing is strict: unknown keys are refused (a typo must not silently fall back to a default),
//! and every error, syntax or validation, names a line and column of the file
//! (`comet-server.toml:12:1: ...`), which is what `--validate-config-only` prints.
//!
//! Relative paths in the file are relative to the data directory; resolve them with
//! [`ServerConfig::database_path`], [`ServerConfig::log_dir`] and [`ServerConfig::bucket_dir`].

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// Name of the configuration file inside the data directory.
pub const CONFIG_FILE_NAME: &str = "comet-server.toml";

/// Port of the default listener, Comet Server's port.
pub const DEFAULT_PORT: u16 = 8060;

/// Argon2 bounds. 8 MiB is the least memory that still costs an attacker something per guess
/// (RFC 9106 recommends 64 MiB or more, OWASP's minimum is 19 MiB); 4 GiB stops a typo from
/// making every login allocate an absurd amount. 16 lanes is beyond any useful parallelism for a
/// login hash that should use one core.
const ARGON2_MIN_MEMORY_KIB: u32 = 8192;
const ARGON2_MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const ARGON2_MAX_PARALLELISM: u32 = 16;

/// Longest validity of an install token: a token is a credential that sits in scripts and
/// e-mails, so it must not live for years.
const INSTALL_TOKEN_MAX_DAYS: u32 = 365;

/// The whole configuration of `comet-server`, as read from `comet-server.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Organization id stamped on every object (users, devices, jobs, buckets).
    pub organization_id: String,
    /// The addresses the HTTP(S) server listens on.
    pub listen: Vec<ListenConfig>,
    /// The database.
    pub database: DatabaseConfig,
    /// Where hosted storage buckets keep their objects.
    pub storage: StorageConfig,
    /// Sessions, login rate limiting and password hashing.
    pub security: SecurityConfig,
    /// Log files and levels.
    pub logging: LoggingConfig,
    /// The web interface.
    pub web: WebConfig,
    /// Live connections, abandoned and missed jobs.
    pub jobs: JobsConfig,
    /// E-mail reports.
    pub smtp: SmtpConfig,
}

/// How the server sends e-mail reports (`[smtp]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SmtpConfig {
    /// Send e-mail at all.
    pub enabled: bool,
    /// The SMTP server.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `plain`, `starttls` or `tls`.
    pub security: SmtpSecurity,
    /// Login, if the server wants one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password of that login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sender, `Name <address>` or an address.
    pub from: String,
    /// Who gets the administrators' daily summary (none: no summary).
    pub admin_recipients: Vec<String>,
    /// The hour of the day (UTC) the administrators' summary is sent.
    pub admin_summary_hour: u32,
    /// How long one delivery may take, in seconds.
    pub timeout_seconds: u32,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// No encryption (a relay on this machine or network).
    Plain,
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: "localhost".into(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: None,
            password: None,
            from: "Comet Backup <comet@localhost>".into(),
            admin_recipients: Vec::new(),
            admin_summary_hour: 7,
            timeout_seconds: 30,
        }
    }
}

impl SmtpConfig {
    fn problem(&self) -> Option<(Place, String)> {
        if !self.enabled {
            return None;
        }
        if self.host.trim().is_empty() {
            return Some((Place::table("smtp", "host"), "smtp host must not be empty".into()));
        }
        if self.port == 0 {
            return Some((Place::table("smtp", "port"), "smtp port must not be 0".into()));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Some((Place::table("smtp", "from"), format!("{:?} is not a mailbox", self.from)));
        }
        if let Some(bad) = self.admin_recipients.iter().find(|r| r.parse::<lettre::message::Mailbox>().is_err()) {
            return Some((Place::table("smtp", "admin_recipients"), format!("{bad:?} is not an address")));
        }
        if self.admin_summary_hour > 23 {
            return Some((Place::table("smtp", "admin_summary_hour"), "admin_summary_hour is 0 to 23".into()));
        }
        if !(1..=600).contains(&self.timeout_seconds) {
            return Some((Place::table("smtp", "timeout_seconds"), "timeout_seconds is 1 to 600".into()));
        }
        if self.username.is_some() != self.password.is_some() {
            return Some((Place::table("smtp", "username"), "give both username and password, or neither".into()));
        }
        None
    }
}

/// Live connections and the jobs the server watches over (`[jobs]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct JobsConfig {
    /// Devices send a heartbeat this often on their live connection, in seconds.
    pub heartbeat_seconds: u32,
    /// A running job with no news (heartbeat, log lines) for this long is marked Abandoned.
    pub abandon_after_seconds: u32,
    /// A scheduled run with no job starting within this long after its time (plus the
    /// schedule's random delay) is recorded as Missed.
    pub missed_after_seconds: u32,
    /// How often the server looks for abandoned and missed jobs, in seconds.
    pub check_interval_seconds: u32,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            heartbeat_seconds: 30,
            abandon_after_seconds: 600,
            missed_after_seconds: 900,
            check_interval_seconds: 60,
        }
    }
}

impl JobsConfig {
    fn problem(&self) -> Option<(Place, String)> {
        let checks = [
            ("heartbeat_seconds", self.heartbeat_seconds, 1, 3600),
            ("abandon_after_seconds", self.abandon_after_seconds, 2, 7 * 86400),
            ("missed_after_seconds", self.missed_after_seconds, 1, 7 * 86400),
            ("check_interval_seconds", self.check_interval_seconds, 1, 3600),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Some((Place::table("jobs", key), format!("{key} = {value} is out of range: {min} to {max}")));
            }
        }
        if self.abandon_after_seconds <= self.heartbeat_seconds {
            let message = format!(
                "abandon_after_seconds = {} must be longer than heartbeat_seconds = {}",
                self.abandon_after_seconds, self.heartbeat_seconds
            );
            return Some((Place::table("jobs", "abandon_after_seconds"), message));
        }
        None
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            organization_id: "default".to_owned(),
            listen: vec![ListenConfig::default()],
            database: DatabaseConfig::default(),
            storage: StorageConfig::default(),
            security: SecurityConfig::default(),
            logging: LoggingConfig::default(),
            web: WebConfig::default(),
            jobs: JobsConfig::default(),
            smtp: SmtpConfig::default(),
        }
    }
}

/// One listening address (`[[listen]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ListenConfig {
    /// IP address and port, `127.0.0.1:8060` or `[::1]:8060`. Host names are not accepted.
    #[serde(deserialize_with = "deserialize_socket_addr")]
    pub address: SocketAddr,
    /// PEM file with the certificate chain for TLS on this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<PathBuf>,
    /// PEM file with the private key of `tls_certificate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_private_key: Option<PathBuf>,
}

impl Default for ListenConfig {
    fn default() -> Self {
        Self {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            tls_certificate: None,
            tls_private_key: None,
        }
    }
}

impl ListenConfig {
    /// The certificate and key paths when this listener uses TLS. Validation guarantees that
    /// both or neither are set, and that a non-loopback address has both.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        Some((self.tls_certificate.as_deref()?, self.tls_private_key.as_deref()?))
    }
}

/// The database (`[database]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct DatabaseConfig {
    /// The `SQLite` file, relative to the data directory unless absolute.
    pub path: PathBuf,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("comet.sqlite3") }
    }
}

/// Where the buckets hosted by the server keep their objects (`[storage]`, chosen by `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum StorageConfig {
    /// A directory on this machine.
    Local {
        /// The directory, relative to the data directory unless absolute.
        #[serde(default = "default_bucket_path")]
        path: PathBuf,
    },
    /// An S3-compatible object store.
    S3 {
        /// Bucket and optional prefix: `s3://bucket/prefix`.
        url: String,
        /// Endpoint of a non-AWS service (`https://s3.example.com`); `None` for AWS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// Region; `None` to take it from the environment or the service's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// Access key id; `None` to take credentials from the environment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        access_key_id: Option<String>,
        /// Secret access key; `None` to take credentials from the environment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_access_key: Option<Secret>,
        /// Allow an `http://` endpoint (testing only: credentials would travel in clear).
        #[serde(default)]
        allow_http: bool,
    },
}

fn default_bucket_path() -> PathBuf {
    PathBuf::from("buckets")
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self::Local { path: default_bucket_path() }
    }
}

/// A secret string from the configuration (an S3 secret key): its `Debug` is redacted so that
/// logging the configuration does not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Sessions, login rate limiting and password hashing (`[security]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SecurityConfig {
    /// How long a session key stays valid, in minutes.
    pub session_timeout_minutes: u32,
    /// Failed logins allowed per account within the window before that account's logins are
    /// refused until the window has passed.
    pub login_failures_per_account: u32,
    /// Failed logins allowed per client address (all accounts together) within the window.
    pub login_failures_per_address: u32,
    /// The window over which failed logins are counted, in seconds.
    pub login_failure_window_seconds: u32,
    /// Argon2id memory for admin and user password hashes, in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id passes.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// How long an unused install token (`AdminCreateInstallToken`) stays valid, in days.
    pub install_token_days: u32,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            session_timeout_minutes: 8 * 60,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            login_failure_window_seconds: 600,
            // OWASP's minimum for Argon2id: m=19 MiB, t=2, p=1.
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            install_token_days: 7,
        }
    }
}

/// Log files and levels (`[logging]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LoggingConfig {
    /// Directory of the daily log files, relative to the data directory unless absolute.
    pub directory: PathBuf,
    /// The least severe level logged.
    pub level: LogLevel,
    /// Log every HTTP request (`--log-accesses` turns it on too).
    pub log_accesses: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self { directory: PathBuf::from("logs"), level: LogLevel::Info, log_accesses: false }
    }
}

/// A log level; its [`as_str`](Self::as_str) is a valid `tracing` level filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Informational messages and above.
    #[default]
    Info,
    /// Debugging messages and above.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The level's name as `tracing` and `EnvFilter` parse it: `error` ... `trace`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The web interface (`[web]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct WebConfig {
    /// Serve the web interface from this directory instead of the embedded one
    /// (`--webroot-dir` overrides it). Relative to the data directory unless absolute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webroot_dir: Option<PathBuf>,
}

/// An error reading or validating the configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The data directory or the file could not be created or read.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done: "create", "read", ...
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not valid TOML, has an unknown key or a wrong type, or fails validation.
    #[error("{CONFIG_FILE_NAME}:{line}:{column}: {message}")]
    Invalid {
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io { action, path: path.to_owned(), source }
    }
}

/// The commented default file, written on first start. Parsing it gives
/// `ServerConfig::default()` (a test checks it).
const DEFAULT_FILE_TEXT: &str = r#"# comet-server configuration.
#
# Written with its defaults on first start; comet-server never rewrites it. Relative paths are
# relative to the data directory (the directory holding this file). Check a change with
# `comet-server --validate-config-only`, then restart the server to apply it.

# Organization id stamped on every object (users, devices, jobs, buckets). Keep "default":
# changing it hides the objects created under the old id.
organization_id = "default"

# One [[listen]] table per listening address. Plain HTTP is only allowed on a loopback address
# (127.0.0.0/8 or ::1); any other address, such as "0.0.0.0:443", needs tls_certificate and
# tls_private_key. Put a reverse proxy in front for anything fancier.
[[listen]]
# IP address and TCP port, "IP:PORT" ("[::1]:8060" for IPv6). Host names are not accepted.
address = "127.0.0.1:8060"
# PEM file with the certificate chain (server certificate first), to serve HTTPS here.
# tls_certificate = "/etc/comet/fullchain.pem"
# PEM file with the private key of that certificate (keep it readable by the server only).
# tls_private_key = "/etc/comet/privkey.pem"

[database]
# SQLite database file, created on first start (its -wal and -shm files sit next to it).
path = "comet.sqlite3"

[storage]
# Where the storage buckets hosted by this server keep their objects: "local" (a directory on
# this machine) or "s3" (an S3-compatible object store).
kind = "local"
# Directory of the buckets (kind = "local" only).
path = "buckets"
# For an S3-compatible store, replace the two lines above with:
#   kind = "s3"
#   url = "s3://my-bucket/comet"         # bucket and optional prefix
#   endpoint = "https://s3.example.com"  # for MinIO, Wasabi, ...; leave out for AWS
#   region = "us-east-1"                 # leave out to use AWS_REGION or the service default
#   access_key_id = "AKIA..."            # leave out both keys to use AWS_ACCESS_KEY_ID
#   secret_access_key = "..."            # and AWS_SECRET_ACCESS_KEY from the environment
#   allow_http = false                   # true allows an http:// endpoint (testing only)

[security]
# How long a session key stays valid, in minutes (480 = 8 hours).
session_timeout_minutes = 480
# Login rate limiting: after this many failed logins for one account within the window below,
# that account's logins are refused until the window has passed.
login_failures_per_account = 5
# The same, counted per client IP address over all accounts.
login_failures_per_address = 20
# Length of the window in which failed logins are counted, in seconds.
login_failure_window_seconds = 600
# Argon2id cost of the admin and user password hashes kept by the server. The defaults are the
# OWASP minimum; raising them slows every login. A change applies to hashes written afterwards.
# Memory per hash, in KiB (8192 to 4194304).
argon2_memory_kib = 19456
# Passes over that memory (at least 1).
argon2_iterations = 2
# Lanes computed in parallel (1 to 16).
argon2_parallelism = 1
# Days an install token stays valid until a device uses it (1 to 365). Each token lets one
# device join its account once, without the password.
install_token_days = 7

[logging]
# Directory of the log files, one per day.
directory = "logs"
# Least severe level logged: "error", "warn", "info", "debug" or "trace".
level = "info"
# Log every HTTP request (true or false); the --log-accesses flag turns it on too.
log_accesses = false

[web]
# Serve the web interface from this directory instead of the built-in one; the --webroot-dir
# flag overrides it.
# webroot_dir = "/srv/comet-webroot"

[jobs]
# Online devices keep a live connection and send a heartbeat this often, in seconds.
heartbeat_seconds = 30
# A running job with no news from its device (heartbeat, log lines) for this many seconds is
# marked Abandoned (7007).
abandon_after_seconds = 600
# A scheduled run that no job started within this many seconds after its time (plus the
# schedule's random delay) is recorded as Missed (7004).
missed_after_seconds = 900
# How often the server looks for abandoned and missed jobs, in seconds.
check_interval_seconds = 60

[smtp]
# E-mail reports (each user's report rules are in their profile, EmailReports). Off until an
# SMTP server is set up here.
enabled = false
host = "localhost"
port = 587
# "plain" (no encryption: a relay on this machine), "starttls" (port 587) or "tls" (port 465).
security = "starttls"
# username = "comet@example.com"
# password = "..."
from = "Comet Backup <comet@localhost>"
# Addresses that get the administrators' daily summary of every job, at this hour (UTC).
admin_recipients = []
admin_summary_hour = 7
# How long one delivery may take, in seconds.
timeout_seconds = 30
"#;

impl ServerConfig {
    /// The commented TOML written as `comet-server.toml` on first start: every key with its
    /// default value (optional keys commented out) and a comment saying what it does.
    pub fn default_file_text() -> &'static str {
        DEFAULT_FILE_TEXT
    }

    /// The `SQLite` database file.
    pub fn database_path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.database.path)
    }

    /// The directory of the daily log files.
    pub fn log_dir(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.logging.directory)
    }

    /// The directory of the buckets when storage is local; `None` for object stores.
    pub fn bucket_dir(&self, data_dir: &Path) -> Option<PathBuf> {
        match &self.storage {
            StorageConfig::Local { path } => Some(data_dir.join(path)),
            StorageConfig::S3 { .. } => None,
        }
    }

    /// The directory the web interface is served from, when not the embedded one.
    pub fn webroot_dir(&self, data_dir: &Path) -> Option<PathBuf> {
        self.web.webroot_dir.as_ref().map(|dir| data_dir.join(dir))
    }

    /// The first validation problem, with where to point at it in the file.
    fn problem(&self) -> Option<(Place, String)> {
        if self.organization_id.trim().is_empty() {
            return Some((Place::top("organization_id"), "organization_id must not be empty".to_owned()));
        }
        if self.listen.is_empty() {
            return Some((Place::top("listen"), "at least one [[listen]] address is needed".to_owned()));
        }
        for (i, listener) in self.listen.iter().enumerate() {
            let address = listener.address;
            let at = |key| Place { table: Some("listen"), index: i, key };
            match (&listener.tls_certificate, &listener.tls_private_key) {
                (Some(_), None) => {
                    return Some((at("tls_certificate"), format!("{address}: tls_certificate needs tls_private_key")));
                }
                (None, Some(_)) => {
                    return Some((at("tls_private_key"), format!("{address}: tls_private_key needs tls_certificate")));
                }
                (None, None) if !address.ip().is_loopback() => {
                    let message = format!(
                        "listening on {address} needs tls_certificate and tls_private_key: \
                         plain HTTP is only allowed on loopback"
                    );
                    return Some((at("address"), message));
                }
                _ => {}
            }
            if self.listen[..i].iter().any(|earlier| earlier.address == address) {
                return Some((at("address"), format!("{address} is listed twice")));
            }
        }
        if self.database.path.as_os_str().is_empty() {
            return Some((Place::table("database", "path"), "database path must not be empty".to_owned()));
        }
        if let Some(problem) = self.storage.problem() {
            return Some(problem);
        }
        if let Some(problem) = self.security.problem() {
            return Some(problem);
        }
        if self.logging.directory.as_os_str().is_empty() {
            return Some((Place::table("logging", "directory"), "log directory must not be empty".to_owned()));
        }
        if let Some(problem) = self.jobs.problem() {
            return Some(problem);
        }
        if let Some(problem) = self.smtp.problem() {
            return Some(problem);
        }
        None
    }
}

impl StorageConfig {
    fn problem(&self) -> Option<(Place, String)> {
        match self {
            Self::Local { path } if path.as_os_str().is_empty() => {
                Some((Place::table("storage", "path"), "storage path must not be empty".to_owned()))
            }
            Self::Local { .. } => None,
            Self::S3 { url, endpoint, access_key_id, secret_access_key, allow_http, .. } => {
                let bucket = url.strip_prefix("s3://").map(|rest| rest.split('/').next().unwrap_or_default());
                if bucket.is_none_or(str::is_empty) {
                    let message = format!("storage url {url:?} is not of the form s3://BUCKET/PREFIX");
                    return Some((Place::table("storage", "url"), message));
                }
                if let Some(endpoint) = endpoint {
                    if endpoint.starts_with("http://") && !allow_http {
                        let message = format!("endpoint {endpoint:?} is plain HTTP: set allow_http = true to allow it");
                        return Some((Place::table("storage", "endpoint"), message));
                    }
                    if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                        let message = format!("endpoint {endpoint:?} must start with https://");
                        return Some((Place::table("storage", "endpoint"), message));
                    }
                }
                match (access_key_id, secret_access_key) {
                    (Some(_), None) => Some((
                        Place::table("storage", "access_key_id"),
                        "access_key_id needs secret_access_key".to_owned(),
                    )),
                    (None, Some(_)) => Some((
                        Place::table("storage", "secret_access_key"),
                        "secret_access_key needs access_key_id".to_owned(),
                    )),
                    _ => None,
                }
            }
        }
    }
}

impl SecurityConfig {
    fn problem(&self) -> Option<(Place, String)> {
        let at_least_one = [
            ("session_timeout_minutes", self.session_timeout_minutes),
            ("login_failures_per_account", self.login_failures_per_account),
            ("login_failures_per_address", self.login_failures_per_address),
            ("login_failure_window_seconds", self.login_failure_window_seconds),
            ("argon2_iterations", self.argon2_iterations),
            ("install_token_days", self.install_token_days),
        ];
        for (key, value) in at_least_one {
            if value == 0 {
                return Some((Place::table("security", key), format!("{key} must be at least 1")));
            }
        }
        if !(ARGON2_MIN_MEMORY_KIB..=ARGON2_MAX_MEMORY_KIB).contains(&self.argon2_memory_kib) {
            let message = format!(
                "argon2_memory_kib = {} is out of range: {ARGON2_MIN_MEMORY_KIB} to {ARGON2_MAX_MEMORY_KIB} KiB",
                self.argon2_memory_kib
            );
            return Some((Place::table("security", "argon2_memory_kib"), message));
        }
        if !(1..=ARGON2_MAX_PARALLELISM).contains(&self.argon2_parallelism) {
            let message = format!(
                "argon2_parallelism = {} is out of range: 1 to {ARGON2_MAX_PARALLELISM}",
                self.argon2_parallelism
            );
            return Some((Place::table("security", "argon2_parallelism"), message));
        }
        if self.install_token_days > INSTALL_TOKEN_MAX_DAYS {
            let message = format!(
                "install_token_days = {} is out of range: 1 to {INSTALL_TOKEN_MAX_DAYS}",
                self.install_token_days
            );
            return Some((Place::table("security", "install_token_days"), message));
        }
        None
    }
}

fn deserialize_socket_addr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "{text:?} is not an IP address and port such as \"127.0.0.1:8060\" or \"[::1]:8060\""
        ))
    })
}

/// Parses and validates the text of `comet-server.toml`.
pub fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    let config: ServerConfig = toml::from_str(text).map_err(|error| {
        let message = error.message().trim_end().to_owned();
        let offset = error.span().map_or(0, |span| refine_span(text, span, &message));
        let (line, column) = line_column(text, offset);
        ConfigError::Invalid { line, column, message }
    })?;
    match config.problem() {
        None => Ok(config),
        Some((place, message)) => {
            let (line, column) = place.locate(text);
            Err(ConfigError::Invalid { line, column, message })
        }
    }
}

/// Reads `comet-server.toml` from `data_dir`, creating the directory (mode 0700) and the file
/// (with [`ServerConfig::default_file_text`], mode 0600) when missing. Returns the configuration
/// and whether the file was created.
///
/// An existing file is never overwritten: the default file is written to a temporary name and
/// hard-linked into place, which fails if the file appeared meanwhile, so the file is never seen
/// half-written either.
pub fn load_or_create(data_dir: &Path) -> Result<(ServerConfig, bool), ConfigError> {
    create_private_dir(data_dir).map_err(|e| ConfigError::io("create the data directory", data_dir, e))?;
    let path = data_dir.join(CONFIG_FILE_NAME);
    let created = if path.exists() {
        false
    } else {
        create_file(data_dir, &path, DEFAULT_FILE_TEXT.as_bytes())
            .map_err(|e| ConfigError::io("create the configuration file", &path, e))?
    };
    let text = fs::read_to_string(&path).map_err(|e| ConfigError::io("read", &path, e))?;
    Ok((parse(&text)?, created))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `path` with `contents`, mode 0600, unless it exists. Returns whether it was created.
fn create_file(dir: &Path, path: &Path, contents: &[u8]) -> io::Result<bool> {
    let temporary = dir.join(format!(".{CONFIG_FILE_NAME}.{}.tmp", std::process::id()));
    match fs::remove_file(&temporary) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| match fs::hard_link(&temporary, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    });
    let removed = fs::remove_file(&temporary);
    let created = linked?;
    removed?;
    #[cfg(unix)]
    if created {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(created)
}

/// Where to point for a `toml` error. Errors raised inside an internally tagged enum
/// (`[storage]`) carry the span of the table's header (or of the inline table): for an unknown
/// field, point at its key in that table instead.
fn refine_span(text: &str, span: std::ops::Range<usize>, message: &str) -> usize {
    let field = message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next());
    let (Some(field), Some(spanned)) = (field, text.get(span.clone())) else { return span.start };
    let region = if spanned.starts_with('[') {
        // The table runs from its header to the next header.
        let body = &text[span.end..];
        let end = body.find("\n[").map_or(body.len(), |at| at + 1);
        &text[span.start..span.end + end]
    } else {
        spanned
    };
    find_key(region, field).map_or(span.start, |at| span.start + at)
}

/// Byte offset of the first `key =` in `text` outside comments, the key starting a line or
/// following whitespace, `.`, `{` or `,` (dotted keys, inline tables).
fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or_default();
        let found = code.char_indices().find(|&(at, _)| {
            let before = code[..at].chars().next_back();
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '.' | '{' | ',')) && key_starts(&code[at..], key)
        });
        if let Some((at, _)) = found {
            return Some(line_start + at);
        }
        line_start += line.len();
    }
    None
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// Where a validation problem sits: a key in a table (`None`: the top level), in the `index`-th
/// occurrence of that table when it is an array of tables.
struct Place {
    table: Option<&'static str>,
    index: usize,
    key: &'static str,
}

impl Place {
    fn top(key: &'static str) -> Self {
        Self { table: None, index: 0, key }
    }

    fn table(table: &'static str, key: &'static str) -> Self {
        Self { table: Some(table), index: 0, key }
    }

    /// Best-effort line and column of the key: `key =` at the start of a line inside the right
    /// table; else the key anywhere (dotted keys, inline tables); else the table's header; else
    /// the start of the file.
    fn locate(&self, text: &str) -> (usize, usize) {
        let mut in_place = self.table.is_none();
        let mut occurrences = 0;
        let mut header = None;
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            let column = line.len() - trimmed.len();
            let column = line[..column].chars().count() + 1;
            if trimmed.starts_with('[') {
                let is_array = trimmed.starts_with("[[");
                let name = trimmed.trim_start_matches('[').split(']').next().unwrap_or_default();
                let name = name.trim().trim_matches('"');
                in_place = Some(name) == self.table && (!is_array || occurrences == self.index);
                if Some(name) == self.table && is_array {
                    occurrences += 1;
                }
                if in_place {
                    header = Some((number + 1, column));
                }
            } else if in_place && key_starts(trimmed, self.key) {
                return (number + 1, column);
            }
        }
        let mut anywhere = std::iter::successors(find_key(text, self.key), |&at| {
            let next = at + self.key.len();
            find_key(&text[next..], self.key).map(|found| next + found)
        });
        let anywhere = anywhere.nth(self.index).map(|at| line_column(text, at));
        anywhere.or(header).unwrap_or((1, 1))
    }
}

/// Whether `text` starts with `key` (bare or quoted) followed by `=`.
fn key_starts(text: &str, key: &str) -> bool {
    let rest = text
        .strip_prefix(key)
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_prefix(key)).and_then(|t| t.strip_prefix('"')));
    rest.is_some_and(|rest| rest.trim_start().starts_with('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> (usize, usize, String) {
        match parse(text) {
            Err(ConfigError::Invalid { line, column, message }) => (line, column, message),
            other => panic!("expected an invalid configuration, got {other:?}"),
        }
    }

    #[test]
    fn default_text_parses_to_the_defaults() {
        assert_eq!(parse(ServerConfig::default_file_text()).unwrap(), ServerConfig::default());
        assert_eq!(parse("").unwrap(), ServerConfig::default());
    }

    /// Every object key in `value`, recursively.
    fn keys(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    out.push(key.clone());
                    keys(value, out);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
            _ => {}
        }
    }

    #[test]
    fn default_text_mentions_every_key() {
        // Every key of the defaults and of a full S3 storage must appear in the file, set or
        // commented out, so the file documents the whole configuration.
        let mut full = ServerConfig::default();
        full.listen[0].tls_certificate = Some("c.pem".into());
        full.listen[0].tls_private_key = Some("k.pem".into());
        full.web.webroot_dir = Some("web".into());
        let s3 = StorageConfig::S3 {
            url: "s3://b".into(),
            endpoint: Some("https://e".into()),
            region: Some("r".into()),
            access_key_id: Some("a".into()),
            secret_access_key: Some(Secret::from("s".to_owned())),
            allow_http: false,
        };
        let mut all = Vec::new();
        keys(&serde_json::to_value(&full).unwrap(), &mut all);
        keys(&serde_json::to_value(&s3).unwrap(), &mut all);
        let text = ServerConfig::default_file_text();
        for key in all {
            let documented = text.lines().any(|line| {
                let line = line.trim_start_matches(['#', ' ']);
                key_starts(line, &key) || line.starts_with(&format!("[{key}]")) || line == format!("[[{key}]]")
            });
            assert!(documented, "{key} is not in the default file");
        }
        // And it reads well in a 100-column terminal.
        assert!(text.lines().all(|line| line.len() <= 100), "a line of the default file is too long");
    }

    #[test]
    fn non_loopback_without_tls_is_refused_at_its_line() {
        let text = "[[listen]]\naddress = \"127.0.0.1:8060\"\n\n[[listen]]\naddress = \"0.0.0.0:8060\"\n";
        let error = parse(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "comet-server.toml:5:1: listening on 0.0.0.0:8060 needs tls_certificate and tls_private_key: \
             plain HTTP is only allowed on loopback"
        );
        let with_tls = format!("{text}tls_certificate = \"c.pem\"\ntls_private_key = \"k.pem\"\n");
        let config = parse(&with_tls).unwrap();
        assert_eq!(config.listen[1].tls(), Some((Path::new("c.pem"), Path::new("k.pem"))));
        assert_eq!(config.listen[0].tls(), None);
        // IPv6 loopback is loopback; IPv6 any is not.
        parse("[[listen]]\naddress = \"[::1]:8060\"\n").unwrap();
        let (line, column, message) = invalid("[[listen]]\n  address = \"[::]:443\"\n");
        assert_eq!((line, column), (2, 3), "{message}");
    }

    #[test]
    fn listener_errors() {
        let (line, column, message) = invalid("[[listen]]\naddress = \"localhost:8060\"\n");
        assert_eq!((line, column), (2, 11), "{message}");
        assert!(message.contains("not an IP address and port"), "{message}");
        let (line, _, message) =
            invalid("[[listen]]\naddress = \"127.0.0.1:1\"\n[[listen]]\n# x\naddress = \"127.0.0.1:1\"\n");
        assert_eq!(line, 5);
        assert_eq!(message, "127.0.0.1:1 is listed twice");
        let (line, _, message) = invalid("[[listen]]\naddress = \"127.0.0.1:1\"\ntls_private_key = \"k\"\n");
        assert_eq!(line, 3);
        assert!(message.contains("needs tls_certificate"), "{message}");
        assert_eq!(invalid("listen = []\n").0, 1);
        // A listener without an address takes the default one: a second one is a duplicate,
        // reported at its [[listen]] header.
        assert_eq!(invalid("[[listen]]\n\n[[listen]]\n").0, 3);
        // Inline tables: the key is found anywhere.
        let (line, column, _) =
            invalid("listen = [\n  { address = \"127.0.0.1:1\" },\n  { address = \"10.0.0.1:1\" },\n]\n");
        assert_eq!((line, column), (3, 5));
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let text = "organization_id = \"x\"\n\n[security]\nsession_timeout_minutes = = 5\n";
        let (line, column, message) = invalid(text);
        assert_eq!((line, column), (4, 27), "{message}");
        let (line, column, _) = invalid("[logging]\nlog_accesses = \"yes\"\n");
        assert_eq!((line, column), (2, 16));
        let error = parse("[database]\npath = 3\n").unwrap_err().to_string();
        assert!(error.starts_with("comet-server.toml:2:8: "), "{error}");
    }

    #[test]
    fn unknown_key_is_refused_at_its_line() {
        let (line, column, message) = invalid("[database]\npath = \"db\"\n  pth = \"x\"\n");
        assert_eq!((line, column), (3, 3), "{message}");
        assert!(message.contains("pth"), "{message}");
        assert_eq!(invalid("organisation_id = \"x\"\n").0, 1);
        let (line, _, message) = invalid("[storage]\nkind = \"local\"\npath = \"b\"\nurl = \"s3://x\"\n");
        assert_eq!(line, 4, "{message}");
        let (line, column, message) = invalid("storage = { kind = \"local\", url = \"x\" }\n");
        assert_eq!((line, column), (1, 29), "{message}");
        let (line, _, message) = invalid("[storage]\nkind = \"local\"\n\n[logging]\nurl = \"x\"\n");
        assert_eq!(line, 5, "{message}");
        let (line, _, message) = invalid("[storage]\nkind = \"ftp\"\n");
        assert_eq!(line, 2, "{message}");
    }

    #[test]
    fn storage_kinds() {
        let config = parse("[storage]\nkind = \"local\"\npath = \"/srv/buckets\"\n").unwrap();
        assert_eq!(config.bucket_dir(Path::new("/data")), Some(PathBuf::from("/srv/buckets")));
        let text = "[storage]\nkind = \"s3\"\nurl = \"s3://bucket/prefix\"\nendpoint = \"http://minio:9000\"\n\
                    access_key_id = \"id\"\nsecret_access_key = \"hunter2\"\nallow_http = true\n";
        let config = parse(text).unwrap();
        assert_eq!(config.bucket_dir(Path::new("/data")), None);
        let StorageConfig::S3 { secret_access_key: Some(secret), .. } = &config.storage else { panic!() };
        assert_eq!(secret.expose(), "hunter2");
        assert!(!format!("{config:?}").contains("hunter2"), "the secret shows in Debug");
        let (line, _, message) = invalid(&text.replace("allow_http = true\n", ""));
        assert_eq!(line, 4);
        assert!(message.contains("allow_http"), "{message}");
        assert_eq!(invalid("[storage]\nkind = \"s3\"\nurl = \"bucket\"\n").0, 3);
        assert_eq!(invalid("[storage]\nkind = \"s3\"\nurl = \"s3://b\"\naccess_key_id = \"a\"\n").0, 4);
    }

    #[test]
    fn smtp_settings_are_checked_at_their_line() {
        let text = "[smtp]\nenabled = true\nhost = \"mail.example.com\"\nport = 465\nsecurity = \"tls\"\n\
                    username = \"comet\"\npassword = \"hunter2\"\nfrom = \"Comet <comet@example.com>\"\n\
                    admin_recipients = [\"ops@example.com\"]\nadmin_summary_hour = 6\ntimeout_seconds = 10\n";
        let config = parse(text).unwrap();
        assert!(config.smtp.enabled);
        assert_eq!((config.smtp.port, config.smtp.security), (465, SmtpSecurity::Tls));
        assert_eq!(config.smtp.password.as_ref().map(Secret::expose), Some("hunter2"));
        assert_eq!(config.smtp.admin_recipients, ["ops@example.com"]);
        assert!(!format!("{config:?}").contains("hunter2"), "the password shows in Debug");
        let cases = [
            ("host = \"mail.example.com\"", "host = \" \"", 3, "host"),
            ("port = 465", "port = 0", 4, "port"),
            ("port = 465", "port = 65536", 4, "65536"),
            ("security = \"tls\"", "security = \"ssl\"", 5, "ssl"),
            ("password = \"hunter2\"\n", "", 6, "username and password"),
            ("from = \"Comet <comet@example.com>\"", "from = \"Comet\"", 8, "mailbox"),
            ("[\"ops@example.com\"]", "[\"ops@example.com\", \"ops\"]", 9, "\"ops\""),
            ("admin_summary_hour = 6", "admin_summary_hour = 24", 10, "admin_summary_hour"),
            ("timeout_seconds = 10", "timeout_seconds = 0", 11, "timeout_seconds"),
            ("timeout_seconds = 10", "timeout = 10", 11, "timeout"),
        ];
        for (from, to, line, word) in cases {
            let (found, _, message) = invalid(&text.replace(from, to));
            assert_eq!(found, line, "{to}: {message}");
            assert!(message.contains(word), "{to}: {message}");
        }
        // Off, the settings are not checked (they may be filled in later); their types still are.
        let config = parse("[smtp]\nhost = \"\"\nfrom = \"?\"\n").unwrap();
        assert!(!config.smtp.enabled);
        assert_eq!(invalid("[smtp]\nsecurity = \"none\"\n").0, 2);
    }

    #[test]
    fn bad_log_level_is_refused_at_its_line() {
        let (line, column, message) = invalid("[logging]\ndirectory = \"l\"\nlevel = \"verbose\"\n");
        assert_eq!((line, column), (3, 9), "{message}");
        assert!(message.contains("verbose"), "{message}");
        for level in ["error", "warn", "info", "debug", "trace"] {
            let config = parse(&format!("[logging]\nlevel = \"{level}\"\n")).unwrap();
            assert_eq!(config.logging.level.as_str(), level);
        }
    }

    #[test]
    fn argon2_bounds_are_refused_at_their_line() {
        let cases = [
            ("argon2_memory_kib = 8191", "argon2_memory_kib"),
            ("argon2_memory_kib = 4194305", "argon2_memory_kib"),
            ("argon2_iterations = 0", "argon2_iterations"),
            ("argon2_parallelism = 0", "argon2_parallelism"),
            ("argon2_parallelism = 17", "argon2_parallelism"),
            ("login_failure_window_seconds = 0", "login_failure_window_seconds"),
            ("install_token_days = 0", "install_token_days"),
            ("install_token_days = 366", "install_token_days"),
        ];
        for (setting, key) in cases {
            let text = format!("[logging]\nlevel = \"info\"\n\n[security]\nsession_timeout_minutes = 3\n{setting}\n");
            let (line, column, message) = invalid(&text);
            assert_eq!((line, column), (6, 1), "{setting}: {message}");
            assert!(message.contains(key), "{message}");
        }
        let config = parse("[security]\nargon2_memory_kib = 8192\nargon2_parallelism = 16\n").unwrap();
        assert_eq!(config.security.argon2_memory_kib, 8192);
        assert_eq!(invalid("[security]\nargon2_iterations = -1\n").0, 2);
    }

    #[test]
    fn paths_are_relative_to_the_data_dir() {
        let config = ServerConfig::default();
        let data = Path::new("/var/lib/comet");
        assert_eq!(config.database_path(data), data.join("comet.sqlite3"));
        assert_eq!(config.log_dir(data), data.join("logs"));
        assert_eq!(config.bucket_dir(data), Some(data.join("buckets")));
        assert_eq!(config.webroot_dir(data), None);
        let config = parse("[database]\npath = \"/db/comet.sqlite3\"\n[web]\nwebroot_dir = \"ui\"\n").unwrap();
        assert_eq!(config.database_path(data), Path::new("/db/comet.sqlite3"));
        assert_eq!(config.webroot_dir(data), Some(data.join("ui")));
    }

    #[test]
    fn load_or_create_writes_once_and_never_overwrites() {
        let temp = tempfile::tempdir().unwrap();
        let data = temp.path().join("comet-data");
        let (config, created) = load_or_create(&data).unwrap();
        assert!(created);
        assert_eq!(config, ServerConfig::default());
        let path = data.join(CONFIG_FILE_NAME);
        assert_eq!(fs::read_to_string(&path).unwrap(), ServerConfig::default_file_text());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
        }
        let changed = ServerConfig::default_file_text().replace("level = \"info\"", "level = \"debug\"");
        fs::write(&path, &changed).unwrap();
        let (config, created) = load_or_create(&data).unwrap();
        assert!(!created);
        assert_eq!(config.logging.level, LogLevel::Debug);
        assert_eq!(fs::read_to_string(&path).unwrap(), changed);
        // Only the configuration file is left behind, no temporary file.
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);
        // A broken file is reported, not replaced.
        fs::write(&path, "[logging\n").unwrap();
        assert!(matches!(load_or_create(&data), Err(ConfigError::Invalid { line: 1, .. })));
        assert_eq!(fs::read_to_string(&path).unwrap(), "[logging\n");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncdé\nf", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé\nf", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé\nf", 7), (2, 4));
        assert_eq!(line_column("ab\ncdé\nf", 6), (2, 3));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
