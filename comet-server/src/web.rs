//! The web interface: static files (HTML, CSS, JavaScript) that talk to the server only through
//! the public admin and user API. They are embedded in the binary (`build.rs` collects `web/`),
//! or read from `--webroot-dir` / `[web] webroot_dir`, which replaces them entirely, as Comet
//! Server allows.
//!
//! Every answer carries a strict Content-Security-Policy (no inline script or style, no other
//! origin), `nosniff`, no referrer and no framing; files are revalidated with a BLAKE3 `ETag`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The policy of every page: scripts, styles, images and API calls from this server only;
/// WebAssembly (the browser-side Argon2id of a user login) may be compiled.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'none'";

/// Where the files come from.
#[derive(Clone, Debug)]
enum Source {
    /// The files built into the binary.
    Embedded,
    /// A directory that replaces them.
    Dir(PathBuf),
}

/// The routes of the web interface: a fallback for every `GET` that no API route takes.
pub fn router(webroot: Option<PathBuf>) -> Router {
    let source = Arc::new(webroot.map_or(Source::Embedded, Source::Dir));
    Router::new().fallback(move |method: axum::http::Method, uri: Uri, headers: HeaderMap| {
        let source = source.clone();
        async move {
            if method != axum::http::Method::GET && method != axum::http::Method::HEAD {
                return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD reach the web interface");
            }
            serve(&source, uri.path(), &headers).await
        }
    })
}

/// The embedded files by URL path, with their ETags.
fn embedded() -> &'static HashMap<&'static str, (&'static [u8], String)> {
    static MAP: OnceLock<HashMap<&'static str, (&'static [u8], String)>> = OnceLock::new();
    MAP.get_or_init(|| ASSETS.iter().map(|(path, bytes)| (*path, (*bytes, etag_of(bytes)))).collect())
}

fn etag_of(bytes: &[u8]) -> String {
    format!("\"{}\"", &blake3::hash(bytes).to_hex()[..32])
}

/// Whether `path` is a plain file path: segments of letters, digits, `.`, `_` and `-`, none
/// empty or starting with a dot (so no `..`, no hidden files, no encoded tricks).
fn is_clean(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else { return false };
    !rest.is_empty()
        && rest.len() <= 200
        && rest.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The media type of a file by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn serve(source: &Source, path: &str, headers: &HeaderMap) -> Response {
    // The interface is one page; its views are fragments (`/#/jobs`), so `/` is the page.
    let path = if path == "/" { "/index.html" } else { path };
    if !is_clean(path) {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let (bytes, etag): (std::borrow::Cow<'static, [u8]>, String) = match source {
        Source::Embedded => match embedded().get(path) {
            Some((bytes, etag)) => ((*bytes).into(), etag.clone()),
            None => return plain(StatusCode::NOT_FOUND, "not found"),
        },
        Source::Dir(dir) => match read_under(dir, path).await {
            Some(bytes) => {
                let etag = etag_of(&bytes);
                (bytes.into(), etag)
            }
            None => return plain(StatusCode::NOT_FOUND, "not found"),
        },
    };
    let not_modified = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == etag);
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type(path))], bytes).into_response()
    };
    let h = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, etag);
    }
    // Revalidate every time: a new server version must not run with yesterday's script.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    response
}

/// Reads `dir` + `path` (already checked clean), refusing anything that resolves outside `dir`
/// (a symbolic link out of the webroot).
async fn read_under(dir: &Path, path: &str) -> Option<Vec<u8>> {
    let root = tokio::fs::canonicalize(dir).await.ok()?;
    let file = tokio::fs::canonicalize(root.join(&path[1..])).await.ok()?;
    if !file.starts_with(&root) || !tokio::fs::metadata(&file).await.ok()?.is_file() {
        return None;
    }
    tokio::fs::read(file).await.ok()
}

/// The security headers of every web answer.
fn secure(h: &mut HeaderMap) {
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response();
    secure(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_are_served() {
        for good in ["/index.html", "/js/app.js", "/vendor/hash-wasm/argon2.umd.min.js"] {
            assert!(is_clean(good), "{good}");
        }
        for bad in
            ["", "/", "index.html", "/../etc/passwd", "/a/../b", "/.git/config", "/a//b", "/%2e%2e/x", "/a b", "/a\\b"]
        {
            assert!(!is_clean(bad), "{bad}");
        }
    }

    #[test]
    fn the_interface_is_embedded() {
        let assets = embedded();
        assert!(assets.contains_key("/index.html"), "web/index.html is built in");
        assert!(assets.keys().all(|p| is_clean(p)), "every embedded path is servable");
    }
}
