//! `comet-agent run`: the daemon of a logged-in device. It keeps one live connection to the
//! server (reconnecting with backoff and jitter), sends heartbeats, obeys the server's commands,
//! and runs the schedules of this device's protected items.
//!
//! A job of an item that is still running ends at once as Skipped (7006). Cancelling a job
//! (from the server) stops it within a second. On SIGTERM or SIGINT running jobs are cancelled
//! and reported before the daemon exits.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use comet_core::BackupOptions;
use comet_protocol::live::{
    AgentMessage, Command, CommandResult, FsEntry, LIVE_PATH, MAX_BROWSE_ENTRIES, MAX_LIVE_FRAME, ServerMessage,
    SnapshotInfo,
};
use comet_protocol::profile::UserProfile;
use comet_protocol::schedule::{ScheduleConfig, next_run, runs_between};
use comet_protocol::wire;
use futures::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::home::Home;
use super::job::Canceller;
use super::run::{self, Ended, JobEnv, Kind, RestoreSpec, VERSION, platform};
use super::vault::fetch_profile;
use crate::context::Context;
use crate::error::{Error, Outcome, Result, display_chain};

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The profile is read again at least this often (schedules change).
const PROFILE_REFRESH: Duration = Duration::from_secs(300);
/// How long running jobs get to report their end when the daemon stops.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// The schedule state kept in the agent's home.
const SCHEDULE_STATE_FILE: &str = "schedule-state.json";

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// The device's IANA time zone: `COMET_TIMEZONE`, else the system's, else UTC.
fn local_timezone() -> String {
    if let Ok(tz) = std::env::var("COMET_TIMEZONE")
        && !tz.is_empty()
    {
        return tz;
    }
    jiff::tz::TimeZone::try_system()
        .ok()
        .and_then(|tz| tz.iana_name().map(str::to_owned))
        .unwrap_or_else(|| "UTC".into())
}

/// A uniformly random duration in `0..=max` seconds.
fn random_secs(max: u32) -> u64 {
    if max == 0 {
        return 0;
    }
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).expect("the OS random source works");
    u64::from_le_bytes(bytes) % (u64::from(max) + 1)
}

/// A job the daemon runs.
struct Running {
    item_id: String,
    canceller: Canceller,
}

struct Daemon {
    env: JobEnv,
    timezone: String,
    home: Home,
    /// Running jobs by server id.
    jobs: Mutex<HashMap<String, Running>>,
    /// Items with a backup starting or running: the job id once known.
    busy_items: Mutex<HashMap<String, Option<String>>>,
    profile_changed: Notify,
    tasks: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `comet-agent run`.
pub(crate) async fn run(context: &Context) -> Result<Outcome> {
    let home = Home::locate()?;
    let credentials = home.require_credentials()?;
    let client =
        comet_protocol::client::AgentClient::new(&credentials.server_url)?.with_token(&credentials.device_token);
    let env = JobEnv { client, credentials, cache_root: context.cache_root(), show_progress: false };
    let daemon = Arc::new(Daemon {
        env,
        timezone: local_timezone(),
        home,
        jobs: Mutex::default(),
        busy_items: Mutex::default(),
        profile_changed: Notify::new(),
        tasks: tokio::sync::Mutex::default(),
    });
    eprintln!(
        "comet-agent {VERSION}: device {:?} ({}) of {} on {}, time zone {}",
        daemon.env.credentials.device_name,
        daemon.env.credentials.device_id,
        daemon.env.credentials.username,
        daemon.env.credentials.server_url,
        daemon.timezone
    );
    let connection = tokio::spawn(daemon.clone().connection_loop());
    let scheduler = tokio::spawn(daemon.clone().schedule_loop());
    shutdown_signal().await;
    eprintln!("stopping: cancelling the running jobs");
    connection.abort();
    scheduler.abort();
    for running in lock(&daemon.jobs).values() {
        running.canceller.cancel();
    }
    let mut tasks = daemon.tasks.lock().await;
    let _ = tokio::time::timeout(STOP_GRACE, async { while tasks.join_next().await.is_some() {} }).await;
    Ok(Outcome::Success)
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

impl Daemon {
    /// Starts a backup of `item_id`; its job id (a Skipped job if the item is busy). With
    /// `then_retention`, a successful backup is followed by a retention pass of its vault.
    async fn start_backup(
        self: &Arc<Self>,
        item_id: &str,
        destination: Option<&str>,
        rule_id: &str,
        then_retention: bool,
    ) -> Result<String> {
        let reserved = {
            let mut busy = lock(&self.busy_items);
            if busy.contains_key(item_id) {
                false
            } else {
                busy.insert(item_id.to_owned(), None);
                true
            }
        };
        let prepared = match run::prepare(&self.env, item_id, destination, Kind::Backup, rule_id).await {
            Ok(p) => p,
            Err(e) => {
                if reserved {
                    lock(&self.busy_items).remove(item_id);
                }
                return Err(e);
            }
        };
        if !reserved {
            let running = lock(&self.busy_items).get(item_id).cloned().flatten().unwrap_or_default();
            return run::skip(prepared, &running).await;
        }
        let job_id = prepared.job.id().to_owned();
        lock(&self.busy_items).insert(item_id.to_owned(), Some(job_id.clone()));
        lock(&self.jobs)
            .insert(job_id.clone(), Running { item_id: item_id.to_owned(), canceller: prepared.job.canceller() });
        let daemon = self.clone();
        let id = job_id.clone();
        self.tasks.lock().await.spawn(async move {
            let destination_id = prepared.destination_id.clone();
            match run::run_backup(&daemon.env, prepared, BackupOptions::default()).await {
                Ok(Ended::Done(backup)) => {
                    eprintln!("job {id}: snapshot {} saved", backup.id.short());
                    for warning in &backup.warnings {
                        eprintln!("job {id}: warning: {warning}");
                    }
                    if then_retention {
                        match daemon.start_retention(&destination_id).await {
                            Ok(pass) => eprintln!("job {id}: retention pass {pass} follows"),
                            Err(e) => eprintln!("job {id}: the retention pass did not start: {}", display_chain(&e)),
                        }
                    }
                }
                Ok(Ended::Cancelled) => eprintln!("job {id}: cancelled"),
                Err(e) => eprintln!("job {id} failed: {}", display_chain(&e)),
            }
            let item = lock(&daemon.jobs).remove(&id).map(|r| r.item_id);
            if let Some(item) = item {
                lock(&daemon.busy_items).remove(&item);
            }
        });
        Ok(job_id)
    }

    /// Starts a restore; its job id.
    async fn start_restore(self: &Arc<Self>, item_id: &str, destination: &str, spec: RestoreSpec) -> Result<String> {
        let prepared = run::prepare(&self.env, item_id, Some(destination), Kind::Restore, "").await?;
        let job_id = prepared.job.id().to_owned();
        lock(&self.jobs)
            .insert(job_id.clone(), Running { item_id: item_id.to_owned(), canceller: prepared.job.canceller() });
        let daemon = self.clone();
        let id = job_id.clone();
        self.tasks.lock().await.spawn(async move {
            match run::run_restore(&daemon.env, prepared, &spec).await {
                Ok(Ended::Done((snapshot, restored))) => {
                    eprintln!("job {id}: restored snapshot {} ({} files)", snapshot.short(), restored.files);
                }
                Ok(Ended::Cancelled) => eprintln!("job {id}: cancelled"),
                Err(e) => eprintln!("job {id} failed: {}", display_chain(&e)),
            }
            lock(&daemon.jobs).remove(&id);
        });
        Ok(job_id)
    }

    /// Starts a retention pass of a vault; its job id.
    async fn start_retention(self: &Arc<Self>, destination_id: &str) -> Result<String> {
        let (job, destination_id) = run::prepare_retention(&self.env, destination_id).await?;
        let job_id = job.id().to_owned();
        lock(&self.jobs).insert(job_id.clone(), Running { item_id: String::new(), canceller: job.canceller() });
        let daemon = self.clone();
        let id = job_id.clone();
        // The engine's forget and prune futures are not `Send` for every lifetime: the pass runs
        // on a blocking thread of its own, driven by the runtime's handle.
        let handle = tokio::runtime::Handle::current();
        self.tasks.lock().await.spawn_blocking(move || {
            handle.block_on(async move {
                match run::run_retention(&daemon.env, job, &destination_id).await {
                    Ok(Ended::Done(outcome)) => {
                        eprintln!("job {id}: retention removed {} snapshots, kept {}", outcome.removed, outcome.kept);
                    }
                    Ok(Ended::Cancelled) => eprintln!("job {id}: cancelled"),
                    Err(e) => eprintln!("job {id} failed: {}", display_chain(&e)),
                }
                lock(&daemon.jobs).remove(&id);
            });
        });
        Ok(job_id)
    }

    /// Carries out a command of the server.
    async fn handle(self: &Arc<Self>, command: Command) -> std::result::Result<CommandResult, String> {
        let text = |e: Error| display_chain(&e);
        match command {
            Command::RunBackup { source_id, destination_id } => {
                let job_id = self.start_backup(&source_id, Some(&destination_id), "", false).await.map_err(text)?;
                Ok(CommandResult::Started { job_id })
            }
            Command::RunRestore { source_id, destination_id, snapshot, target, paths } => {
                if !std::path::Path::new(&target).is_absolute() {
                    return Err(format!("the restore target must be an absolute path, not {target:?}"));
                }
                let spec = RestoreSpec {
                    snapshot: Some(snapshot).filter(|s| !s.is_empty()),
                    target: PathBuf::from(target),
                    include: paths.into_iter().map(PathBuf::from).collect(),
                };
                let job_id = self.start_restore(&source_id, &destination_id, spec).await.map_err(text)?;
                Ok(CommandResult::Started { job_id })
            }
            Command::GetSnapshots { destination_id } => {
                let snapshots = run::list_snapshots(&self.env, &destination_id).await.map_err(text)?;
                Ok(CommandResult::Snapshots(
                    snapshots
                        .into_iter()
                        .map(|(id, s)| SnapshotInfo {
                            snapshot_id: id.to_hex(),
                            source_id: s.protected_item.unwrap_or_default(),
                            create_time: s.time_ns.div_euclid(1_000_000_000),
                            device_id: s.device_id.unwrap_or_default(),
                            total_files: s.summary.total_files,
                            total_size: s.summary.total_bytes,
                        })
                        .collect(),
                ))
            }
            Command::Browse { path } => {
                tokio::task::spawn_blocking(move || browse(&path)).await.map_err(|e| e.to_string())?
            }
            Command::CancelJob { job_id } => {
                let canceller = lock(&self.jobs).get(&job_id).map(|r| r.canceller.clone());
                match canceller {
                    Some(c) => {
                        c.cancel();
                        Ok(CommandResult::Done)
                    }
                    None => Err(format!("job {job_id} is not running on this device")),
                }
            }
            Command::BrowseSnapshot { destination_id, snapshot, path } => {
                let (entries, truncated) =
                    run::browse_snapshot(&self.env, &destination_id, &snapshot, &path).await.map_err(text)?;
                Ok(CommandResult::Entries { entries, truncated })
            }
            Command::ApplyRetention { destination_id } => {
                let job_id = self.start_retention(&destination_id).await.map_err(text)?;
                Ok(CommandResult::Started { job_id })
            }
        }
    }

    /// Keeps the live connection up, reconnecting with exponential backoff and jitter.
    async fn connection_loop(self: Arc<Self>) {
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let asked_wait = match self.connect_once().await {
                Ok(wait) => wait,
                Err(e) => {
                    eprintln!("live connection: {e}");
                    Duration::ZERO
                }
            };
            if started.elapsed() > Duration::from_secs(60) {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            let base = Duration::from_secs(1 << failures.min(6)).min(MAX_BACKOFF);
            // ±25% jitter, so that devices cut off together do not come back together.
            let jitter = Duration::from_millis(random_secs(u32::try_from(base.as_millis() / 2).unwrap_or(u32::MAX)));
            let wait = (base * 3 / 4 + jitter).max(asked_wait);
            tokio::time::sleep(wait).await;
        }
    }

    /// One live connection, until it ends; how long the server asked to wait before the next.
    async fn connect_once(self: &Arc<Self>) -> std::result::Result<Duration, String> {
        let base = &self.env.credentials.server_url;
        let url = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}{LIVE_PATH}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}{LIVE_PATH}")
        } else {
            return Err(format!("cannot make a WebSocket URL of {base}"));
        };
        let mut request = url.as_str().into_client_request().map_err(|e| e.to_string())?;
        let bearer = format!("Bearer {}", self.env.credentials.device_token);
        request.headers_mut().insert("Authorization", bearer.parse().map_err(|_| "bad device token".to_owned())?);
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_LIVE_FRAME))
            .max_frame_size(Some(MAX_LIVE_FRAME));
        let (socket, _) = tokio::time::timeout(
            Duration::from_secs(30),
            tokio_tungstenite::connect_async_with_config(request, Some(config), false),
        )
        .await
        .map_err(|_| format!("{url}: no answer within 30 s"))?
        .map_err(|e| format!("{url}: {e}"))?;
        let (mut sink, mut stream) = socket.split();
        let hello = AgentMessage::Hello {
            agent_version: VERSION.into(),
            platform: platform(),
            timezone: self.timezone.clone(),
        };
        sink.send(Message::Binary(wire::encode(&hello).into())).await.map_err(|e| e.to_string())?;
        let heartbeat_secs = loop {
            let message = tokio::time::timeout(Duration::from_secs(30), stream.next())
                .await
                .map_err(|_| "no welcome from the server".to_owned())?
                .ok_or("the server closed the connection")?
                .map_err(|e| e.to_string())?;
            let Message::Binary(bytes) = message else { continue };
            match wire::decode::<ServerMessage>(&bytes, MAX_LIVE_FRAME).map_err(|e| e.to_string())? {
                ServerMessage::Welcome { heartbeat_secs, duplicate, .. } => {
                    if duplicate {
                        eprintln!(
                            "warning: this device is connected to the server twice (a copy of this agent's home runs \
                             elsewhere, or the agent was started twice)"
                        );
                    }
                    break heartbeat_secs.max(1);
                }
                ServerMessage::Goodbye { reason, reconnect_after_secs } => {
                    eprintln!("the server refused the live connection: {reason}");
                    return Ok(Duration::from_secs(u64::from(reconnect_after_secs)));
                }
                _ => {}
            }
        };
        eprintln!("online: live connection to {base}");
        self.profile_changed.notify_one();
        let (replies, mut outgoing) = mpsc::channel::<AgentMessage>(64);
        let mut tick = tokio::time::interval(Duration::from_secs(u64::from(heartbeat_secs)));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let running_jobs: Vec<String> = lock(&self.jobs).keys().cloned().collect();
                    let beat = AgentMessage::Heartbeat { running_jobs };
                    sink.send(Message::Binary(wire::encode(&beat).into())).await.map_err(|e| e.to_string())?;
                }
                reply = outgoing.recv() => {
                    let Some(reply) = reply else { continue };
                    sink.send(Message::Binary(wire::encode(&reply).into())).await.map_err(|e| e.to_string())?;
                }
                incoming = stream.next() => {
                    let message = match incoming {
                        None => return Ok(Duration::ZERO),
                        Some(m) => m.map_err(|e| e.to_string())?,
                    };
                    let bytes = match message {
                        Message::Binary(bytes) => bytes,
                        Message::Close(_) => return Ok(Duration::ZERO),
                        _ => continue,
                    };
                    match wire::decode::<ServerMessage>(&bytes, MAX_LIVE_FRAME).map_err(|e| e.to_string())? {
                        ServerMessage::Command { request_id, command } => {
                            let (daemon, replies) = (self.clone(), replies.clone());
                            tokio::spawn(async move {
                                let result = daemon.handle(command).await;
                                let _ = replies.send(AgentMessage::Reply { request_id, result }).await;
                            });
                        }
                        ServerMessage::ProfileChanged => self.profile_changed.notify_one(),
                        ServerMessage::Goodbye { reason, reconnect_after_secs } => {
                            eprintln!("the server closed the live connection: {reason}");
                            return Ok(Duration::from_secs(u64::from(reconnect_after_secs)));
                        }
                        ServerMessage::Welcome { .. } => {}
                    }
                }
            }
        }
    }

    /// Runs the schedules of this device's items.
    async fn schedule_loop(self: Arc<Self>) {
        let mut state = self.load_schedule_state();
        let mut cursor = now_secs();
        let mut first = true;
        // Fired runs waiting for their random delay: (when to start, rule id).
        let mut pending: Vec<(i64, String)> = Vec::new();
        loop {
            let profile = match fetch_profile(&self.env.client).await {
                Ok((profile, _)) => profile,
                Err(e) => {
                    eprintln!("reading the profile: {}", display_chain(&e));
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(30)) => {}
                        () = self.profile_changed.notified() => {}
                    }
                    continue;
                }
            };
            let now = now_secs();
            let rules = self.my_rules(&profile);
            if first {
                first = false;
                for (rule_id, schedules, run_if_missed) in &rules {
                    let Some(&last) = state.get(rule_id) else { continue };
                    let missed = *run_if_missed
                        && schedules
                            .iter()
                            .any(|s| runs_between(s, &self.timezone, last, now).is_ok_and(|r| !r.is_empty()));
                    if missed {
                        eprintln!("schedule {rule_id}: a run was missed while the agent was stopped; running it now");
                        pending.push((now, rule_id.clone()));
                    }
                }
            }
            for (rule_id, schedules, _) in &rules {
                for schedule in schedules {
                    match runs_between(schedule, &self.timezone, cursor, now) {
                        Ok(runs) => {
                            for _ in runs {
                                let delay = random_secs(schedule.random_delay_secs) as i64;
                                pending.push((now + delay, rule_id.clone()));
                            }
                        }
                        Err(e) => eprintln!("schedule {rule_id}: {e}"),
                    }
                }
            }
            cursor = now;
            let (due, later): (Vec<_>, Vec<_>) = pending.drain(..).partition(|(at, _)| *at <= now);
            pending = later;
            for (_, rule_id) in due {
                let Some(rule) = profile.backup_rules.get(&rule_id) else { continue };
                state.insert(rule_id.clone(), now);
                self.save_schedule_state(&state);
                let then_retention = rule.retention_after_backup;
                match self.start_backup(&rule.source, Some(&rule.destination), &rule_id, then_retention).await {
                    Ok(job) => eprintln!("schedule {rule_id}: job {job}"),
                    Err(e) => eprintln!("schedule {rule_id}: {}", display_chain(&e)),
                }
            }
            // Sleep until the next run, a pending start, a profile change, or the refresh.
            let mut wake = now + PROFILE_REFRESH.as_secs() as i64;
            for (_, schedules, _) in &rules {
                for schedule in schedules {
                    if let Ok(Some(next)) = next_run(schedule, &self.timezone, cursor) {
                        wake = wake.min(next);
                    }
                }
            }
            if let Some(at) = pending.iter().map(|(at, _)| *at).min() {
                wake = wake.min(at);
            }
            let sleep = Duration::from_secs(u64::try_from(wake - now_secs()).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = self.profile_changed.notified() => {}
            }
        }
    }

    /// The schedules of this device's items: (rule id, schedules, run if missed).
    fn my_rules(&self, profile: &UserProfile) -> Vec<(String, Vec<ScheduleConfig>, bool)> {
        profile
            .backup_rules
            .iter()
            .filter(|(_, rule)| {
                profile.sources.get(&rule.source).is_some_and(|s| s.owner_device == self.env.credentials.device_id)
            })
            .filter(|(_, rule)| !rule.schedules.is_empty())
            .map(|(id, rule)| (id.clone(), rule.schedules.clone(), rule.run_if_missed))
            .collect()
    }

    fn load_schedule_state(&self) -> BTreeMap<String, i64> {
        std::fs::read(self.home.dir().join(SCHEDULE_STATE_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save_schedule_state(&self, state: &BTreeMap<String, i64>) {
        let bytes = serde_json::to_vec(state).expect("a map of numbers serialises");
        if let Err(e) = self.home.write_private(SCHEDULE_STATE_FILE, &bytes) {
            eprintln!("saving the schedule state: {}", display_chain(&e));
        }
    }
}

/// Lists a directory of this device (`""`: the root).
fn browse(path: &str) -> std::result::Result<CommandResult, String> {
    let dir = if path.is_empty() { "/" } else { path };
    if !std::path::Path::new(dir).is_absolute() {
        return Err(format!("give an absolute path, not {dir:?}"));
    }
    let mut entries = Vec::new();
    let mut truncated = false;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))? {
        let Ok(entry) = entry else { continue };
        if entries.len() == MAX_BROWSE_ENTRIES {
            truncated = true;
            break;
        }
        let meta = entry.metadata().ok();
        entries.push(FsEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            is_dir: meta.as_ref().is_some_and(std::fs::Metadata::is_dir),
            size: meta.as_ref().map_or(0, std::fs::Metadata::len),
            modify_time: meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(CommandResult::Entries { entries, truncated })
}
