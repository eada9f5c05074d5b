//! Live connections: one WebSocket per online device (`GET /api/v1/agent/live`), through which
//! the server commands devices and knows they are alive. The protocol is
//! `comet_protocol::live`; this module keeps the registry of connected devices and routes
//! commands and their replies.
//!
//! A device connected twice (a cloned machine, the agent started twice) keeps both connections,
//! each listed with `Duplicate: true`, and a warning is logged: nothing is merged silently.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use comet_protocol::live::{AgentMessage, Command, CommandResult, MAX_LIVE_FRAME, ServerMessage};
use comet_protocol::wire;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::agent_api::authenticate;
use crate::api::{AppState, now_secs};
use crate::db::DeviceRecord;

/// How long a device has to say hello after connecting.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Read buffer of a live connection (it grows for a larger message, up to the frame limit).
const LIVE_BUFFER: usize = 4096;

/// Messages waiting to be sent to one device.
const OUTBOX: usize = 64;

/// What the device said about itself.
#[derive(Clone, Debug, Default)]
struct Reported {
    version: String,
    platform: String,
    timezone: String,
}

/// One live connection.
#[derive(Debug)]
pub struct Connection {
    id: u64,
    organization_id: String,
    username: String,
    device_id: String,
    address: IpAddr,
    since: i64,
    reported: Reported,
    outbox: mpsc::Sender<ServerMessage>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<CommandResult, String>>>>,
    running_jobs: Mutex<Vec<String>>,
}

/// A live connection as `AdminDispatcherListActive` lists it (Comet's `LiveUserConnection`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LiveUserConnection {
    /// The user.
    pub username: String,
    /// The device.
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    /// Agent version.
    pub reported_version: String,
    /// Operating system and architecture.
    pub reported_platform: String,
    /// The device's time zone.
    pub device_time_zone: String,
    /// Where it connects from.
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// When it connected, seconds since the epoch.
    pub connection_time: i64,
    /// Another connection of the same device is open.
    pub duplicate: bool,
    /// Jobs running on the device, by server id.
    pub running_jobs: Vec<String>,
}

/// Why a command did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// No such live connection (of this organization, or user).
    #[error("the device is not connected")]
    Offline,
    /// The device did not answer in time.
    #[error("the device did not answer within {0} s")]
    Timeout(u64),
    /// The device answered with an error.
    #[error("{0}")]
    Failed(String),
}

/// The registry of live connections.
#[derive(Debug, Default)]
pub struct Live {
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
    next_connection: AtomicU64,
    next_request: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Live {
    fn describe(&self, c: &Connection) -> LiveUserConnection {
        LiveUserConnection {
            username: c.username.clone(),
            device_id: c.device_id.clone(),
            reported_version: c.reported.version.clone(),
            reported_platform: c.reported.platform.clone(),
            device_time_zone: c.reported.timezone.clone(),
            ip_address: c.address.to_string(),
            connection_time: c.since,
            duplicate: self.copies(&c.organization_id, &c.username, &c.device_id) > 1,
            running_jobs: lock(&c.running_jobs).clone(),
        }
    }

    fn copies(&self, org: &str, username: &str, device_id: &str) -> usize {
        lock(&self.connections)
            .values()
            .filter(|c| c.organization_id == org && c.username == username && c.device_id == device_id)
            .count()
    }

    /// The live connections of an organization (of one user, when given), by connection id.
    pub fn list(&self, org: &str, username: Option<&str>) -> std::collections::BTreeMap<String, LiveUserConnection> {
        let connections: Vec<Arc<Connection>> = lock(&self.connections)
            .values()
            .filter(|c| c.organization_id == org && username.is_none_or(|u| u == c.username))
            .cloned()
            .collect();
        connections.iter().map(|c| (c.id.to_string(), self.describe(c))).collect()
    }

    /// Number of live connections.
    pub fn count(&self) -> usize {
        lock(&self.connections).len()
    }

    /// The connection `id` of an organization (of one user, when given).
    fn connection(&self, org: &str, username: Option<&str>, id: &str) -> Option<Arc<Connection>> {
        let id: u64 = id.parse().ok()?;
        lock(&self.connections)
            .get(&id)
            .filter(|c| c.organization_id == org && username.is_none_or(|u| u == c.username))
            .cloned()
    }

    /// The user and device of connection `id`.
    pub fn device_of(&self, org: &str, username: Option<&str>, id: &str) -> Option<(String, String)> {
        self.connection(org, username, id).map(|c| (c.username.clone(), c.device_id.clone()))
    }

    /// Sends `command` to connection `id` and waits (at most `timeout`) for the answer.
    pub async fn command(
        &self,
        org: &str,
        username: Option<&str>,
        id: &str,
        command: Command,
        timeout: Duration,
    ) -> Result<CommandResult, DispatchError> {
        let connection = self.connection(org, username, id).ok_or(DispatchError::Offline)?;
        let request_id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&connection.pending).insert(request_id, tx);
        if connection.outbox.send(ServerMessage::Command { request_id, command }).await.is_err() {
            lock(&connection.pending).remove(&request_id);
            return Err(DispatchError::Offline);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(message))) => Err(DispatchError::Failed(message)),
            Ok(Err(_)) => Err(DispatchError::Offline),
            Err(_) => {
                lock(&connection.pending).remove(&request_id);
                Err(DispatchError::Timeout(timeout.as_secs()))
            }
        }
    }

    /// Sends `message` to every connection of a user (every device, or one).
    pub fn notify(&self, org: &str, username: &str, device_id: Option<&str>, message: &ServerMessage) -> usize {
        let targets: Vec<Arc<Connection>> = lock(&self.connections)
            .values()
            .filter(|c| {
                c.organization_id == org && c.username == username && device_id.is_none_or(|d| d == c.device_id)
            })
            .cloned()
            .collect();
        targets.iter().filter(|c| c.outbox.try_send(message.clone()).is_ok()).count()
    }

    /// Sends `command` to every connection of a device without waiting for answers.
    pub fn push(&self, org: &str, username: &str, device_id: &str, command: Command) -> usize {
        let request_id = self.next_request.fetch_add(1, Ordering::Relaxed);
        self.notify(org, username, Some(device_id), &ServerMessage::Command { request_id, command })
    }

    /// Closes connection `id` with a goodbye.
    pub fn drop_connection(&self, org: &str, username: Option<&str>, id: &str, reason: &str) -> bool {
        let Some(c) = self.connection(org, username, id) else { return false };
        let goodbye = ServerMessage::Goodbye { reason: reason.to_owned(), reconnect_after_secs: 0 };
        c.outbox.try_send(goodbye).is_ok()
    }

    /// Says goodbye to every device (the server stops).
    pub fn shutdown(&self) {
        let all: Vec<Arc<Connection>> = lock(&self.connections).values().cloned().collect();
        for c in all {
            let _ = c.outbox.try_send(ServerMessage::Goodbye {
                reason: "the server is restarting".into(),
                reconnect_after_secs: 0,
            });
        }
    }
}

/// `GET /api/v1/agent/live`: the device's token is checked before the upgrade.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let device = match authenticate(&state, &headers).await {
        Ok(d) => d,
        Err(refusal) => return refusal.into_response(),
    };
    // Small buffers: live frames are small, and hundreds of devices stay connected. The
    // defaults (128 KiB each way) cost ~235 KiB per device; see docs/benchmarks.md.
    ws.max_message_size(MAX_LIVE_FRAME)
        .max_frame_size(MAX_LIVE_FRAME)
        .read_buffer_size(LIVE_BUFFER)
        .write_buffer_size(0)
        .on_upgrade(move |socket| serve(state, device, from.ip(), socket))
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> bool {
    socket.send(Message::Binary(wire::encode(message).into())).await.is_ok()
}

/// The first message: the device's hello.
async fn hello(socket: &mut WebSocket) -> Option<Reported> {
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.next()).await.ok()??.ok()?;
    let Message::Binary(bytes) = first else { return None };
    match wire::decode::<AgentMessage>(&bytes, MAX_LIVE_FRAME).ok()? {
        AgentMessage::Hello { agent_version, platform, timezone } => {
            let cut = |s: String| s.chars().take(255).collect::<String>();
            Some(Reported { version: cut(agent_version), platform: cut(platform), timezone: cut(timezone) })
        }
        _ => None,
    }
}

async fn serve(state: Arc<AppState>, device: DeviceRecord, address: IpAddr, mut socket: WebSocket) {
    let Some(reported) = hello(&mut socket).await else {
        let _ = send(
            &mut socket,
            &ServerMessage::Goodbye { reason: "the first message must be a hello".into(), reconnect_after_secs: 60 },
        )
        .await;
        return;
    };
    // Schedules run in the device's time zone: the server needs it to notice missed runs.
    let timezone = reported.timezone.clone();
    let recorded = state
        .db
        .edit_profile(&device.username, &device.organization_id, |p| match p.devices.get_mut(&device.device_id) {
            Some(d) if d.device_timezone != timezone => {
                d.device_timezone.clone_from(&timezone);
                true
            }
            _ => false,
        })
        .await;
    if let Err(e) = recorded {
        tracing::warn!("recording the time zone of device {}: {e}", device.device_id);
    }
    let live = &state.live;
    let (outbox, mut inbox) = mpsc::channel(OUTBOX);
    let connection = Arc::new(Connection {
        id: live.next_connection.fetch_add(1, Ordering::Relaxed) + 1,
        organization_id: device.organization_id.clone(),
        username: device.username.clone(),
        device_id: device.device_id.clone(),
        address,
        since: now_secs(),
        reported,
        outbox,
        pending: Mutex::default(),
        running_jobs: Mutex::default(),
    });
    lock(&live.connections).insert(connection.id, connection.clone());
    let copies = live.copies(&device.organization_id, &device.username, &device.device_id);
    if copies > 1 {
        tracing::warn!(
            "device {} of user {} is connected {copies} times (now also from {address}): a cloned machine, or the \
             agent started twice",
            device.device_id,
            device.username
        );
    } else {
        tracing::info!("device {} of user {} is online from {address}", device.device_id, device.username);
    }
    let heartbeat = state.config.jobs.heartbeat_seconds;
    let welcome = ServerMessage::Welcome { heartbeat_secs: heartbeat, server_time: now_secs(), duplicate: copies > 1 };
    if send(&mut socket, &welcome).await {
        run(&state, &connection, &mut socket, &mut inbox, Duration::from_secs(u64::from(heartbeat) * 3)).await;
    }
    lock(&live.connections).remove(&connection.id);
    lock(&connection.pending).clear();
    let _ = socket.close().await;
    tracing::info!("device {} of user {} went offline ({address})", device.device_id, device.username);
}

/// Serves one connection until it ends, is silent for `silence`, or is told goodbye.
async fn run(
    state: &AppState,
    c: &Connection,
    socket: &mut WebSocket,
    inbox: &mut mpsc::Receiver<ServerMessage>,
    silence: Duration,
) {
    loop {
        tokio::select! {
            incoming = tokio::time::timeout(silence, socket.next()) => {
                let message = match incoming {
                    Ok(Some(Ok(m))) => m,
                    Ok(Some(Err(_)) | None) => return,
                    Err(_) => {
                        tracing::info!("device {} of user {}: no heartbeat for {} s", c.device_id, c.username, silence.as_secs());
                        return;
                    }
                };
                let bytes = match message {
                    Message::Binary(bytes) => bytes,
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Close(_) => return,
                    Message::Text(_) => {
                        let _ = send(socket, &goodbye("text messages are not part of the protocol")).await;
                        return;
                    }
                };
                match wire::decode::<AgentMessage>(&bytes, MAX_LIVE_FRAME) {
                    Ok(AgentMessage::Heartbeat { running_jobs }) => heartbeat(state, c, running_jobs).await,
                    Ok(AgentMessage::Reply { request_id, result }) => {
                        if let Some(waiting) = lock(&c.pending).remove(&request_id) {
                            let _ = waiting.send(result);
                        }
                    }
                    Ok(AgentMessage::Hello { .. }) => {}
                    Err(e) => {
                        tracing::warn!("device {} of user {}: {e}", c.device_id, c.username);
                        let _ = send(socket, &goodbye(&e.to_string())).await;
                        return;
                    }
                }
            }
            outgoing = inbox.recv() => {
                let Some(message) = outgoing else { return };
                let last = matches!(message, ServerMessage::Goodbye { .. });
                if !send(socket, &message).await || last {
                    return;
                }
            }
        }
    }
}

fn goodbye(reason: &str) -> ServerMessage {
    ServerMessage::Goodbye { reason: reason.to_owned(), reconnect_after_secs: 60 }
}

async fn heartbeat(state: &AppState, c: &Connection, mut running_jobs: Vec<String>) {
    running_jobs.truncate(100);
    running_jobs.retain(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    let now = now_secs();
    if let Err(e) = state.db.touch_device(&c.username, &c.device_id, now).await {
        tracing::warn!("recording a heartbeat: {e}");
    }
    if let Err(e) = state.db.touch_jobs(&c.organization_id, &c.username, &c.device_id, &running_jobs, now).await {
        tracing::warn!("recording a heartbeat: {e}");
    }
    *lock(&c.running_jobs) = running_jobs;
}
