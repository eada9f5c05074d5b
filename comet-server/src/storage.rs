//! The Storage Role: buckets of vault objects hosted by this server, reached over HTTP.
//!
//! ```text
//! PUT    /storage/v1/<bucket>/<object path>   create-only (409 if it exists)
//! GET    /storage/v1/<bucket>/<object path>   whole object, or a `Range: bytes=a-b` of it
//! HEAD   /storage/v1/<bucket>/<object path>   size (Content-Length) and time (Last-Modified)
//! DELETE /storage/v1/<bucket>/<object path>   refused (403) in an append-only bucket
//! GET    /storage/v1/<bucket>?list=<kind>     JSON [{"Path", "Size", "Modified"}] of one kind
//! ```
//!
//! Requests carry `Authorization: Bearer <bucket key>`; the server keeps only the key's BLAKE3
//! hash. Object paths are vault object paths (`config`, `keys/<id>`, `data/<hh>/<id>`, ...),
//! parsed strictly: anything else (`..`, other folders, encoded separators) is refused before
//! any storage is touched. The objects are opaque to the server: encrypted by the agent, they
//! are stored as they come. Each bucket is a [`Vault`] over the configured object store (a
//! directory per bucket, or a prefix per bucket in S3), so the vault contract (create-only,
//! atomic, durable) holds for buckets too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use comet_protocol::api::ApiResponse;
use comet_storage::{ErrorKind, ObjectKey, ObjectKind, ObjectStoreVault, Vault};

use crate::api::AppState;
use crate::auth::key_hash;
use crate::config::StorageConfig;

/// Largest object accepted in one PUT (packs are at most 128 MiB plus their header).
pub const MAX_OBJECT_BYTES: usize = 160 << 20;

/// Opens the vault of each bucket (cached).
#[derive(Debug)]
pub struct Buckets {
    config: StorageConfig,
    bucket_dir: Option<PathBuf>,
    open: Mutex<HashMap<String, Arc<dyn Vault>>>,
}

/// The contents of a bucket, as `AdminStorageListBuckets` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Usage {
    /// Bytes stored (`null` when the store could not be listed).
    pub size: Option<u64>,
    /// Objects stored.
    pub objects: Option<u64>,
}

/// Whether `id` is a bucket id: 32 lower-case hex characters.
pub fn is_bucket_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Buckets {
    /// Buckets stored as `config` says (`bucket_dir`: the resolved local directory).
    pub fn new(config: StorageConfig, bucket_dir: Option<PathBuf>) -> Self {
        Self { config, bucket_dir, open: Mutex::default() }
    }

    /// The vault of bucket `id` (a valid id).
    pub fn vault(&self, id: &str) -> comet_storage::Result<Arc<dyn Vault>> {
        debug_assert!(is_bucket_id(id));
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = open.get(id) {
            return Ok(v.clone());
        }
        let vault: Arc<dyn Vault> = match (&self.config, &self.bucket_dir) {
            (StorageConfig::Local { .. }, Some(dir)) => {
                let dir = dir.join(id);
                std::fs::create_dir_all(&dir).map_err(|e| {
                    comet_storage::Error::new(ErrorKind::Permanent, dir.display().to_string()).with_source(e)
                })?;
                Arc::new(ObjectStoreVault::local(&dir)?)
            }
            (StorageConfig::S3 { url, endpoint, region, access_key_id, secret_access_key, allow_http }, _) => {
                let mut options: Vec<(&str, String)> = Vec::new();
                if let Some(e) = endpoint {
                    options.push(("aws_endpoint", e.clone()));
                }
                if let Some(r) = region {
                    options.push(("aws_region", r.clone()));
                }
                if let Some(k) = access_key_id {
                    options.push(("aws_access_key_id", k.clone()));
                }
                if let Some(s) = secret_access_key {
                    options.push(("aws_secret_access_key", s.expose().to_owned()));
                }
                if *allow_http {
                    options.push(("aws_allow_http", "true".into()));
                }
                comet_storage::open_vault_with(&format!("{}/{id}", url.trim_end_matches('/')), options)?
            }
            _ => return Err(comet_storage::Error::new(ErrorKind::Permanent, "buckets").with_message("no bucket store")),
        };
        open.insert(id.to_owned(), vault.clone());
        Ok(vault)
    }

    /// What a bucket holds: bytes and objects, counted by listing it (so the numbers are the
    /// store's, not a counter that could drift). A store that fails to list gives `None`s.
    pub async fn usage(&self, id: &str) -> Usage {
        let Ok(vault) = self.vault(id) else { return Usage::default() };
        let (mut size, mut objects) = (0u64, 0u64);
        for kind in ObjectKind::ALL {
            match vault.list(kind).await {
                Ok(listed) => {
                    objects += listed.len() as u64;
                    size += listed.iter().map(|m| m.size).sum::<u64>();
                }
                Err(e) => {
                    tracing::warn!("listing bucket {id}: {e}");
                    return Usage::default();
                }
            }
        }
        Usage { size: Some(size), objects: Some(objects) }
    }

    /// Forgets an open bucket (it was deleted).
    pub fn forget(&self, id: &str) {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }
}

/// The storage routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/storage/v1/{bucket}", get(list))
        .route("/storage/v1/{bucket}/{*path}", get(get_object).head(head_object).put(put_object).delete(delete_object))
        .layer(DefaultBodyLimit::max(MAX_OBJECT_BYTES))
        .with_state(state)
}

/// A refused request: its status and message, answered as `{"Status", "Message"}`.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, Json(ApiResponse { status: self.status.as_u16(), message: self.message })).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal { status, message: message.into() }
}

fn storage_error(e: &comet_storage::Error) -> Refusal {
    let status = match e.kind() {
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists => StatusCode::CONFLICT,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NoSpace => StatusCode::INSUFFICIENT_STORAGE,
        ErrorKind::Transient => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Invalid => StatusCode::RANGE_NOT_SATISFIABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!("bucket storage: {e}");
    }
    error(status, e.to_string())
}

/// A bucket the request may use, with its record.
async fn authorize(
    state: &AppState,
    bucket: &str,
    headers: &HeaderMap,
) -> Result<(crate::db::BucketRecord, Arc<dyn Vault>), Refusal> {
    let denied = || error(StatusCode::FORBIDDEN, "unknown bucket or wrong key");
    if !is_bucket_id(bucket) {
        return Err(error(StatusCode::BAD_REQUEST, "not a bucket id"));
    }
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(denied)?;
    let record = state.db.bucket(bucket).await.map_err(|e| {
        tracing::error!("{e}");
        error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })?;
    let record = record.filter(|r| r.key_hash == key_hash(key)).ok_or_else(denied)?;
    let vault = state.buckets.vault(bucket).map_err(|e| storage_error(&e))?;
    Ok((record, vault))
}

/// The bucket, its vault and the object a request names, once the key is checked.
async fn target(
    state: &AppState,
    bucket: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<(crate::db::BucketRecord, Arc<dyn Vault>, ObjectKey), Refusal> {
    let (record, vault) = authorize(state, bucket, headers).await?;
    let key = ObjectKey::parse(path).map_err(|_| error(StatusCode::BAD_REQUEST, "not a vault object path"))?;
    Ok((record, vault, key))
}

async fn put_object(
    State(state): State<Arc<AppState>>,
    Path((bucket, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, vault, key) = match target(&state, &bucket, &path, &headers).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    match vault.put(&key, body).await {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => storage_error(&e).into_response(),
    }
}

/// Parses `bytes=a-b` (inclusive, as HTTP has it) into `a..b+1`.
fn parse_range(value: &str) -> Option<std::ops::Range<u64>> {
    let (start, end) = value.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    (start <= end).then(|| start..end.saturating_add(1))
}

async fn get_object(
    State(state): State<Arc<AppState>>,
    Path((bucket, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (_, vault, key) = match target(&state, &bucket, &path, &headers).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    match headers.get(header::RANGE).map(|v| v.to_str().ok().and_then(parse_range)) {
        None => match vault.get(&key).await {
            Ok(bytes) => bytes.into_response(),
            Err(e) => storage_error(&e).into_response(),
        },
        Some(None) => error(StatusCode::RANGE_NOT_SATISFIABLE, "give one range: bytes=START-END").into_response(),
        Some(Some(range)) => match vault.get_range(&key, range).await {
            Ok(bytes) => (StatusCode::PARTIAL_CONTENT, bytes).into_response(),
            Err(e) => storage_error(&e).into_response(),
        },
    }
}

async fn head_object(
    State(state): State<Arc<AppState>>,
    Path((bucket, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (_, vault, key) = match target(&state, &bucket, &path, &headers).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    match vault.head(&key).await {
        Ok(meta) => {
            let mut response = StatusCode::OK.into_response();
            let h = response.headers_mut();
            h.insert("x-comet-size", HeaderValue::from(meta.size));
            if let Some(t) = meta.last_modified.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()) {
                h.insert("x-comet-modified", HeaderValue::from(t.as_secs()));
            }
            response
        }
        Err(e) => storage_error(&e).into_response(),
    }
}

async fn delete_object(
    State(state): State<Arc<AppState>>,
    Path((bucket, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (record, vault, key) = match target(&state, &bucket, &path, &headers).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    // Sessions come and go even in an append-only bucket: they are markers, not data.
    if record.append_only && key.kind() != ObjectKind::Session {
        match state.db.deletes_granted(&bucket, crate::api::now_secs()).await {
            Ok(true) => {}
            Ok(false) => {
                return error(StatusCode::FORBIDDEN, "this bucket is append-only: deletes need a retention grant")
                    .into_response();
            }
            Err(e) => {
                tracing::error!("{e}");
                return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            }
        }
    }
    match vault.delete(&key).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => storage_error(&e).into_response(),
    }
}

/// One listed object.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedObject {
    /// Its path.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Last modification, seconds since the epoch.
    pub modified: Option<u64>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    Path(bucket): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (_, vault) = match authorize(&state, &bucket, &headers).await {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let kind = match query.get("list").map(String::as_str) {
        Some("config") => ObjectKind::Config,
        Some("keys") => ObjectKind::Key,
        Some("data") => ObjectKind::Pack,
        Some("index") => ObjectKind::Index,
        Some("snapshots") => ObjectKind::Snapshot,
        Some("sessions") => ObjectKind::Session,
        _ => {
            return error(StatusCode::BAD_REQUEST, "give ?list=config|keys|data|index|snapshots|sessions")
                .into_response();
        }
    };
    match vault.list(kind).await {
        Ok(listed) => Json(
            listed
                .into_iter()
                .map(|m| ListedObject {
                    path: m.key.path(),
                    size: m.size,
                    modified: m
                        .last_modified
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs()),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => storage_error(&e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ranges() {
        assert!(is_bucket_id("0123456789abcdef0123456789abcdef"));
        for bad in ["", "..", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcde/", "%2e%2e"] {
            assert!(!is_bucket_id(bad), "{bad}");
        }
        assert_eq!(parse_range("bytes=0-9"), Some(0..10));
        assert_eq!(parse_range("bytes=5-5"), Some(5..6));
        for bad in ["bytes=9-0", "bytes=-5", "bytes=0-", "items=0-1", "bytes=0-1,4-5"] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
