//! Opening a vault from the location a user types: a path, `file://`, `s3://`, `az://`, `gs://`
//! or `memory://`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::memory::InMemory;
use object_store::{ObjectStore, RetryConfig, path::Path};
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::memory::InMemoryVault;
use crate::store::ObjectStoreVault;
use crate::vault::Vault;

/// Where a vault is, parsed from a location string by [`VaultLocation::parse`].
///
/// | location                        | vault                                           |
/// |---------------------------------|-------------------------------------------------|
/// | `memory://`                     | a fresh, empty [`InMemoryVault`]                |
/// | `/srv/backup`, `backup`, `C:\b` | a local directory (relative to the current one) |
/// | `file:///srv/backup`            | a local directory                               |
/// | `s3://bucket/prefix`            | an S3-compatible bucket (AWS, `SeaweedFS`, `MinIO`) |
/// | `az://container/prefix`         | an Azure Blob Storage container                 |
/// | `gs://bucket/prefix`            | a Google Cloud Storage bucket                   |
///
/// Credentials never appear in a location: a URL with a user name or password is refused, so it
/// can be shown in logs and job reports as it is. [`Display`](fmt::Display) gives the canonical
/// form.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VaultLocation {
    /// A vault in memory.
    Memory,
    /// A local directory.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Folder inside the bucket, without leading or trailing slash (may be empty).
        prefix: String,
    },
    /// An Azure Blob Storage container (the account comes from the environment or options).
    Azure {
        /// Container name.
        container: String,
        /// Folder inside the container (may be empty).
        prefix: String,
    },
    /// A Google Cloud Storage bucket.
    Gcs {
        /// Bucket name.
        bucket: String,
        /// Folder inside the bucket (may be empty).
        prefix: String,
    },
}

/// The location forms, for error messages.
const KNOWN_FORMS: &str = "a path, file://, s3://, az://, gs:// or memory://";

impl VaultLocation {
    /// Parses a location. A string without `://` is a local path; an unknown scheme, a URL with
    /// credentials, a port, a query or a fragment, or a bucket URL without bucket is `Invalid`.
    pub fn parse(location: &str) -> Result<Self> {
        if location.is_empty() {
            return Err(Error::new(ErrorKind::Invalid, location).with_message("empty vault location"));
        }
        let Some((scheme, _)) = location.split_once("://") else {
            return Ok(Self::Local(PathBuf::from(location)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "memory" => Ok(Self::Memory),
            "file" => parse_file_url(location),
            "s3" => {
                let (bucket, prefix) = parse_bucket_url(location)?;
                Ok(Self::S3 { bucket, prefix })
            }
            "az" => {
                let (container, prefix) = parse_bucket_url(location)?;
                Ok(Self::Azure { container, prefix })
            }
            "gs" => {
                let (bucket, prefix) = parse_bucket_url(location)?;
                Ok(Self::Gcs { bucket, prefix })
            }
            _ => Err(Error::new(ErrorKind::Invalid, redact(location))
                .with_message(format!("unknown vault scheme {scheme:?} (expected {KNOWN_FORMS})"))),
        }
    }
}

impl FromStr for VaultLocation {
    type Err = Error;

    fn from_str(location: &str) -> Result<Self> {
        Self::parse(location)
    }
}

impl fmt::Display for VaultLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, bucket, prefix) = match self {
            Self::Memory => return f.write_str("memory://"),
            Self::Local(path) => return write!(f, "{}", path.display()),
            Self::S3 { bucket, prefix } => ("s3", bucket, prefix),
            Self::Azure { container, prefix } => ("az", container, prefix),
            Self::Gcs { bucket, prefix } => ("gs", bucket, prefix),
        };
        write!(f, "{scheme}://{bucket}")?;
        if !prefix.is_empty() {
            write!(f, "/{prefix}")?;
        }
        Ok(())
    }
}

/// `location` without the user name and password of a URL, for error messages.
fn redact(location: &str) -> String {
    match Url::parse(location) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            // Both setters only fail for URLs that cannot have credentials at all.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Ok(_) => location.to_owned(),
        Err(_) => location.split_once('@').map_or_else(|| location.to_owned(), |(_, rest)| format!("…@{rest}")),
    }
}

fn parse_url(location: &str) -> Result<Url> {
    let invalid = |message: &str| Error::new(ErrorKind::Invalid, redact(location)).with_message(message.to_owned());
    let url = Url::parse(location).map_err(|source| invalid("not a valid URL").with_source(source))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials do not belong in a vault location: pass them as options or variables"));
    }
    if url.port().is_some() {
        return Err(invalid("a vault location has no port: set the endpoint as an option"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a vault location has no query or fragment"));
    }
    Ok(url)
}

fn parse_file_url(location: &str) -> Result<VaultLocation> {
    let url = parse_url(location)?;
    if url.host_str().is_some_and(|host| !host.is_empty() && host != "localhost") {
        return Err(
            Error::new(ErrorKind::Invalid, location).with_message("file:// URLs of other hosts are not supported")
        );
    }
    let path = url
        .to_file_path()
        .map_err(|()| Error::new(ErrorKind::Invalid, location).with_message("not a local file path"))?;
    Ok(VaultLocation::Local(path))
}

/// The bucket (or container) and prefix of `scheme://bucket/prefix`.
fn parse_bucket_url(location: &str) -> Result<(String, String)> {
    let url = parse_url(location)?;
    let bucket = url.host_str().unwrap_or_default();
    if bucket.is_empty() {
        return Err(Error::new(ErrorKind::Invalid, location).with_message("the URL names no bucket"));
    }
    let prefix = Path::from_url_path(url.path().trim_matches('/')).map_err(|source| {
        Error::new(ErrorKind::Invalid, location).with_message("not a valid prefix").with_source(source)
    })?;
    Ok((bucket.to_owned(), prefix.as_ref().to_owned()))
}

/// Opens the vault at `location` (see [`VaultLocation`] for the forms), configured from the
/// environment.
///
/// Object stores read their usual variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_REGION`, `AWS_ENDPOINT` (or `AWS_ENDPOINT_URL`) and `AWS_ALLOW_HTTP=true` for an
/// S3-compatible server such as `SeaweedFS` or `MinIO` (requests are path-style unless
/// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`); `AZURE_STORAGE_ACCOUNT_NAME`,
/// `AZURE_STORAGE_ACCOUNT_KEY`, ...; `GOOGLE_SERVICE_ACCOUNT`, .... Opening does no I/O: a local
/// directory is created by the first put, a wrong bucket or credentials show on the first call.
pub fn open_vault(location: &str) -> Result<Arc<dyn Vault>> {
    open_vault_with(location, std::iter::empty::<(&str, &str)>())
}

/// Like [`open_vault`], with configuration `options` that take precedence over the environment.
///
/// Keys are the `object_store` configuration keys of the backend, case-insensitive, e.g.
/// `aws_access_key_id`, `aws_secret_access_key`, `aws_region`, `aws_endpoint`,
/// `aws_allow_http`, `azure_storage_account_name`, `google_service_account`, plus two of ours
/// for every object store: `max_retries` (default 10) and `retry_timeout_secs` (default 180),
/// which bound how long a failing request is retried before its error is returned. An unknown
/// key, or any other option for a local or memory vault, is an `Invalid` error naming the key
/// (never the value, which may be a secret). Passing options rather than setting environment
/// variables keeps credentials out of the process environment and lets tests run in parallel.
///
/// ```
/// let vault = comet_storage::open_vault_with(
///     "s3://backups/alice",
///     [
///         ("aws_endpoint", "http://127.0.0.1:8333"),
///         ("aws_allow_http", "true"),
///         ("aws_region", "us-east-1"),
///     ],
/// )?;
/// assert_eq!(vault.location(), "s3://backups/alice");
/// # Ok::<(), comet_storage::Error>(())
/// ```
pub fn open_vault_with<K, V>(location: &str, options: impl IntoIterator<Item = (K, V)>) -> Result<Arc<dyn Vault>>
where
    K: AsRef<str>,
    V: Into<String>,
{
    let location = VaultLocation::parse(location)?;
    if location == VaultLocation::Memory {
        let (options, _) = normalize_options(&location, options)?;
        reject_options(&location, &options)?;
        return Ok(Arc::new(InMemoryVault::new()));
    }
    Ok(Arc::new(ObjectStoreVault::from_location(&location, options)?))
}

impl ObjectStoreVault {
    /// The object-store vault at `location`, configured from the environment and then
    /// `options` (see [`open_vault_with`]). `memory://` gives a vault over `object_store`'s
    /// in-memory store, which is useful to test this adapter; [`open_vault`] uses
    /// [`InMemoryVault`] instead.
    pub fn from_location<K, V>(location: &VaultLocation, options: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        let shown = location.to_string();
        let (options, retry) = normalize_options(location, options)?;
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match location {
            VaultLocation::Memory => {
                reject_options(location, &options)?;
                (Arc::new(InMemory::new()), "")
            }
            VaultLocation::Local(path) => {
                reject_options(location, &options)?;
                return Self::local(path);
            }
            VaultLocation::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::from_env().with_retry(retry);
                for (key, value) in options {
                    builder = builder.with_config(config_key::<AmazonS3ConfigKey>(&shown, &key)?, value);
                }
                let store = builder.with_bucket_name(bucket).build().map_err(|source| build_error(&shown, &source))?;
                (Arc::new(store), prefix)
            }
            VaultLocation::Azure { container, prefix } => {
                let mut builder = MicrosoftAzureBuilder::from_env().with_retry(retry);
                for (key, value) in options {
                    builder = builder.with_config(config_key::<AzureConfigKey>(&shown, &key)?, value);
                }
                let store =
                    builder.with_container_name(container).build().map_err(|source| build_error(&shown, &source))?;
                (Arc::new(store), prefix)
            }
            VaultLocation::Gcs { bucket, prefix } => {
                let mut builder = GoogleCloudStorageBuilder::from_env().with_retry(retry);
                for (key, value) in options {
                    builder = builder.with_config(config_key::<GoogleConfigKey>(&shown, &key)?, value);
                }
                let store = builder.with_bucket_name(bucket).build().map_err(|source| build_error(&shown, &source))?;
                (Arc::new(store), prefix)
            }
        };
        Self::new(store, shown).with_prefix(prefix)
    }
}

/// Our own option keys, which tune `object_store`'s retries of failed requests.
const MAX_RETRIES: &str = "max_retries";
/// See [`MAX_RETRIES`]; the value is in seconds.
const RETRY_TIMEOUT_SECS: &str = "retry_timeout_secs";

/// The options with lower-case keys, without our retry options, and the retry configuration
/// those give.
fn normalize_options<K, V>(
    location: &VaultLocation,
    options: impl IntoIterator<Item = (K, V)>,
) -> Result<(Vec<(String, String)>, RetryConfig)>
where
    K: AsRef<str>,
    V: Into<String>,
{
    let mut options: Vec<(String, String)> =
        options.into_iter().map(|(key, value)| (key.as_ref().to_ascii_lowercase(), value.into())).collect();
    let mut retry = RetryConfig::default();
    let mut result = Ok(());
    options.retain(|(key, value)| {
        let invalid = || {
            Error::new(ErrorKind::Invalid, location.to_string())
                .with_message(format!("option {key:?} needs a whole number"))
        };
        match key.as_str() {
            MAX_RETRIES => match value.parse() {
                Ok(count) => retry.max_retries = count,
                Err(_) => result = Err(invalid()),
            },
            RETRY_TIMEOUT_SECS => match value.parse() {
                Ok(seconds) => retry.retry_timeout = Duration::from_secs(seconds),
                Err(_) => result = Err(invalid()),
            },
            _ => return true,
        }
        false
    });
    result.map(|()| (options, retry))
}

fn config_key<T: FromStr>(location: &str, key: &str) -> Result<T> {
    key.to_ascii_lowercase().parse().map_err(|_| {
        Error::new(ErrorKind::Invalid, location).with_message(format!("unknown option {key:?} for this kind of vault"))
    })
}

fn reject_options(location: &VaultLocation, options: &[(String, String)]) -> Result<()> {
    // Retry options were taken out already and are accepted (and meaningless) here, so one
    // option list can serve every kind of vault; anything else is a mistake worth reporting.
    match options.first() {
        None => Ok(()),
        Some((key, _)) => Err(Error::new(ErrorKind::Invalid, location.to_string())
            .with_message(format!("option {key:?} does not apply to this kind of vault"))),
    }
}

fn build_error(location: &str, source: &object_store::Error) -> Error {
    Error::new(ErrorKind::Invalid, location).with_message(format!("cannot configure the vault: {source}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redact("s3://key:secret@bucket/p"), "s3://bucket/p");
        assert_eq!(redact("s3://bucket/p"), "s3://bucket/p");
        assert!(!redact("s3://ke y:sec ret@bucket/p").contains("sec"));
    }
}
