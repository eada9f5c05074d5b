//! The typed async client of the agent API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), comet_protocol::client::ClientError> {
//! use comet_protocol::agent::{Hello, HelloRequest};
//! use comet_protocol::client::AgentClient;
//!
//! let client = AgentClient::new("http://127.0.0.1:8060")?;
//! let hello = client.call::<Hello>(&HelloRequest { agent_version: "0.1.0".into() }).await?;
//! println!("server {} speaks protocol {}", hello.server_version, hello.protocol_version);
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::agent::{AgentError, ErrorCode, Method, PREFIX};
use crate::wire::{self, FrameError, MAX_RESPONSE_BYTES};

/// How long an idempotent call is retried after transport failures.
pub const RETRY_BUDGET: Duration = Duration::from_secs(60);

/// What a call can end with besides an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached, or the connection broke: the request may or may not
    /// have been carried out.
    #[error("cannot reach the server at {url}: {reason}")]
    Transport {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server refused the request.
    #[error("the server refused: {0}")]
    Refused(#[from] AgentError),
    /// The answer is not a frame of the expected type (another program answered, or another
    /// version).
    #[error("unexpected answer from {url}: {reason}")]
    BadAnswer {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server URL is unusable.
    #[error("invalid server URL {0:?}: give http://host:port or https://host")]
    Url(String),
}

impl ClientError {
    /// The server's error code, if it refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused(e) => Some(e.code),
            _ => None,
        }
    }

    /// Whether the request may not have reached the server (worth retrying once the network
    /// is back, with an idempotent request).
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport { .. })
    }
}

/// A client of one server, as one device (or not yet registered).
#[derive(Clone)]
pub struct AgentClient {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for AgentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentClient").field("base", &self.base).finish_non_exhaustive()
    }
}

impl AgentClient {
    /// A client of the server at `server_url` (`http://127.0.0.1:8060`, `https://backup.example`).
    pub fn new(server_url: &str) -> Result<Self, ClientError> {
        let base = server_url.trim().trim_end_matches('/').to_owned();
        let rest = base.strip_prefix("http://").or_else(|| base.strip_prefix("https://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(['/', '?', '#', ' '])) {
            return Err(ClientError::Url(server_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| ClientError::Url(format!("{server_url}: {e}")))?;
        Ok(Self { http, base, token: None })
    }

    /// The same client, authenticated as the device owning `device_token`.
    #[must_use]
    pub fn with_token(mut self, device_token: &str) -> Self {
        self.token = Some(device_token.to_owned());
        self
    }

    /// The server URL.
    pub fn server_url(&self) -> &str {
        &self.base
    }

    /// Calls method `M`; an idempotent method ([`Method::IDEMPOTENT`]) is sent again after
    /// transport failures, with exponential backoff, for up to [`RETRY_BUDGET`].
    pub async fn call<M: Method>(&self, request: &M::Request) -> Result<M::Response, ClientError> {
        let started = std::time::Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            match self.call_once::<M>(request).await {
                Err(e) if M::IDEMPOTENT && e.is_transport() && started.elapsed() + delay < RETRY_BUDGET => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                result => return result,
            }
        }
    }

    async fn call_once<M: Method>(&self, request: &M::Request) -> Result<M::Response, ClientError> {
        let url = format!("{}{PREFIX}{}", self.base, M::PATH);
        let mut builder =
            self.http.post(&url).header("Content-Type", "application/x-comet-frame").body(wire::encode(request));
        if M::AUTHENTICATED
            && let Some(token) = &self.token
        {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let transport = |e: reqwest::Error| ClientError::Transport { url: url.clone(), reason: error_chain(&e) };
        let mut response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ClientError::BadAnswer {
                    url,
                    reason: format!("answer over the {MAX_RESPONSE_BYTES}-byte limit"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return wire::decode(&body, MAX_RESPONSE_BYTES).map_err(|e| bad_answer(url, &e, status.as_u16(), &body));
        }
        match wire::decode::<AgentError>(&body, MAX_RESPONSE_BYTES) {
            Ok(e) => Err(ClientError::Refused(e)),
            Err(e) => Err(bad_answer(url, &e, status.as_u16(), &body)),
        }
    }
}

fn bad_answer(url: String, e: &FrameError, status: u16, body: &[u8]) -> ClientError {
    let reason = match e {
        FrameError::NotAFrame => {
            let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
            format!("HTTP {status}, not a Comet agent frame (is this a Comet server?): {text}")
        }
        FrameError::Version { theirs, ours } => format!(
            "the server speaks agent protocol {theirs} and this agent speaks {ours}: install an agent of the \
             server's version"
        ),
        other => format!("HTTP {status}: {other}"),
    };
    ClientError::BadAnswer { url, reason }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        for good in ["http://127.0.0.1:8060", "https://backup.example/", " http://h:1 "] {
            assert!(AgentClient::new(good).is_ok(), "{good}");
        }
        for bad in ["", "127.0.0.1:8060", "ftp://h", "http://", "http://h/path", "http://h?x"] {
            assert!(matches!(AgentClient::new(bad), Err(ClientError::Url(_))), "{bad}");
        }
    }
}
