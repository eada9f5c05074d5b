//! [`RemoteVault`]: a vault in a bucket hosted by a Comet server (its Storage Role), over HTTP.
//!
//! The server stores the objects as they come (they are encrypted by the engine before they
//! leave the device) and enforces the vault contract: create-only puts, strict object paths,
//! append-only buckets. See `comet-server/src/storage.rs` for the routes.

use std::ops::Range;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Method, StatusCode};

use crate::error::{Error, ErrorKind, Result};
use crate::key::{ObjectKey, ObjectKind};
use crate::vault::{ObjectMeta, Vault};

/// How long a request is retried after transient failures.
const RETRY_BUDGET: Duration = Duration::from_secs(120);

/// A bucket on a Comet server.
#[derive(Clone)]
pub struct RemoteVault {
    client: reqwest::Client,
    base: String,
    bucket: String,
    authorization: String,
}

impl std::fmt::Debug for RemoteVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("RemoteVault").field("base", &self.base).field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

/// One object of a listing, as the server sends it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listed {
    path: String,
    size: u64,
    modified: Option<u64>,
}

impl RemoteVault {
    /// The bucket `bucket` on the server at `server_url` (`http://127.0.0.1:8060`, `https://...`),
    /// opened with its access `key`.
    pub fn new(server_url: &str, bucket: &str, key: &str) -> Result<Self> {
        let base = server_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::new(ErrorKind::Invalid, server_url).with_message("the server URL must be http(s)://"));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| Error::new(ErrorKind::Permanent, &base).with_source(e))?;
        Ok(Self { client, base, bucket: bucket.to_owned(), authorization: format!("Bearer {key}") })
    }

    fn url(&self, key: &ObjectKey) -> String {
        format!("{}/storage/v1/{}/{}", self.base, self.bucket, key.path())
    }

    /// Sends a request, again after transient failures (the server restarting, a network cut)
    /// for up to [`RETRY_BUDGET`], with exponential backoff.
    async fn send(
        &self,
        method: Method,
        url: &str,
        target: &str,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            match self.send_once(method.clone(), url, target, &build).await {
                Err(e) if e.is_retryable() && started.elapsed() + delay < RETRY_BUDGET => {
                    tracing::debug!("{target}: {e}; retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                result => return result,
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        url: &str,
        target: &str,
        build: &impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let request = build(self.client.request(method, url).header("Authorization", &self.authorization));
        let response = request.send().await.map_err(|e| {
            let kind = if e.is_builder() { ErrorKind::Invalid } else { ErrorKind::Transient };
            Error::new(kind, target).with_source(e)
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let message = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&message)
            .ok()
            .and_then(|v| v["Message"].as_str().map(str::to_owned))
            .unwrap_or(message);
        let kind = match status {
            StatusCode::NOT_FOUND => ErrorKind::NotFound,
            StatusCode::CONFLICT => ErrorKind::AlreadyExists,
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => ErrorKind::Forbidden,
            StatusCode::INSUFFICIENT_STORAGE => ErrorKind::NoSpace,
            StatusCode::BAD_REQUEST | StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::PAYLOAD_TOO_LARGE => {
                ErrorKind::Invalid
            }
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT => {
                ErrorKind::Transient
            }
            _ => ErrorKind::Permanent,
        };
        Err(Error::new(kind, target).with_message(format!("server answered {status}: {message}")))
    }

    async fn body(response: reqwest::Response, target: &str) -> Result<Bytes> {
        response.bytes().await.map_err(|e| Error::new(ErrorKind::Transient, target).with_source(e))
    }
}

#[async_trait]
impl Vault for RemoteVault {
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        let url = self.url(key);
        let first = self.send_once(Method::PUT, &url, &key.path(), &|r| r.body(data.clone())).await;
        match first {
            Err(e) if e.is_retryable() => {}
            result => return result.map(|_| ()),
        }
        // The first try may have stored the object without us hearing it: after a retry, an
        // object that exists with exactly our bytes is ours.
        match self.send(Method::PUT, &url, &key.path(), |r| r.body(data.clone())).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_already_exists() => match self.get(key).await {
                Ok(stored) if stored == data => Ok(()),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        let response = self.send(Method::GET, &self.url(key), &key.path(), |r| r).await?;
        Self::body(response, &key.path()).await
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            // HTTP has no empty range: check the bounds with a HEAD instead.
            let size = self.head(key).await?.size;
            if range.start > size || range.start > range.end {
                return Err(Error::new(ErrorKind::Invalid, key.path())
                    .with_message(format!("range {range:?} is outside the object ({size} bytes)")));
            }
            return Ok(Bytes::new());
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        let response = self.send(Method::GET, &self.url(key), &key.path(), |r| r.header("Range", &header)).await?;
        let bytes = Self::body(response, &key.path()).await?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(Error::new(ErrorKind::Invalid, key.path())
                .with_message(format!("range {range:?} answered with {} bytes", bytes.len())));
        }
        Ok(bytes)
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let response = self.send(Method::HEAD, &self.url(key), &key.path(), |r| r).await?;
        let number =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let size = number("x-comet-size")
            .ok_or_else(|| Error::new(ErrorKind::Permanent, key.path()).with_message("no size in the answer"))?;
        let last_modified = number("x-comet-modified").map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        Ok(ObjectMeta { key: *key, size, last_modified })
    }

    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
        let url = format!("{}/storage/v1/{}?list={}", self.base, self.bucket, kind.prefix());
        let response = self.send(Method::GET, &url, kind.prefix(), |r| r).await?;
        let bytes = Self::body(response, kind.prefix()).await?;
        let listed: Vec<Listed> = serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(ErrorKind::Permanent, kind.prefix()).with_message(format!("bad listing: {e}")))?;
        Ok(listed
            .into_iter()
            // Whatever the server sends, only well-formed keys of the asked kind are believed.
            .filter_map(|l| {
                let key = ObjectKey::parse(&l.path).ok().filter(|k| k.kind() == kind)?;
                Some(ObjectMeta {
                    key,
                    size: l.size,
                    last_modified: l.modified.map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
                })
            })
            .collect())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.send(Method::DELETE, &self.url(key), &key.path(), |r| r).await.map(|_| ())
    }

    fn location(&self) -> String {
        format!("{}/storage/v1/{}", self.base, self.bucket)
    }
}
