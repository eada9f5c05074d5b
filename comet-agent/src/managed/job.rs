//! A job as the server sees it: started, log lines streamed while it runs, ended with a
//! status. Lines are buffered and sent every [`FLUSH_INTERVAL`] by a background task, whose
//! answers also carry cancellation requests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use comet_protocol::JobStatus;
use comet_protocol::agent::{
    JobEnd, JobEndRequest, JobLog, JobLogMethod, JobProgress, JobStart, JobStartRequest, JobTotals, LogEntry,
    MAX_LOG_ENTRIES, MAX_LOG_MESSAGE, Severity,
};
use comet_protocol::client::AgentClient;
use tokio::sync::Notify;

use crate::error::Result;

/// How often buffered log lines are sent.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Lines kept while the server cannot be reached; older ones give way.
const MAX_BUFFERED: usize = 20_000;

/// Where a job's counters come from.
pub(crate) type ProgressSource = Arc<dyn Fn() -> JobProgress + Send + Sync>;

struct Shared {
    client: AgentClient,
    job_id: String,
    buffer: Mutex<Vec<LogEntry>>,
    dropped: Mutex<u64>,
    progress: Mutex<Option<ProgressSource>>,
    cancelled: AtomicBool,
    cancel_notify: Notify,
}

/// A running job.
pub(crate) struct Job {
    shared: Arc<Shared>,
    flusher: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("id", &self.shared.job_id).finish_non_exhaustive()
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

impl Job {
    /// Records a new job on the server.
    pub(crate) async fn start(client: &AgentClient, request: JobStartRequest) -> Result<Self> {
        let started = client.call::<JobStart>(&request).await?;
        let shared = Arc::new(Shared {
            client: client.clone(),
            job_id: started.job_id,
            buffer: Mutex::default(),
            dropped: Mutex::default(),
            progress: Mutex::default(),
            cancelled: AtomicBool::new(false),
            cancel_notify: Notify::new(),
        });
        let flusher = tokio::spawn({
            let shared = shared.clone();
            async move {
                let mut tick = tokio::time::interval(FLUSH_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    flush(&shared).await;
                }
            }
        });
        Ok(Self { shared, flusher })
    }

    /// The job's id on the server.
    pub(crate) fn id(&self) -> &str {
        &self.shared.job_id
    }

    /// Sends the counters `source` gives with every batch.
    pub(crate) fn set_progress(&self, source: ProgressSource) {
        *lock(&self.shared.progress) = Some(source);
    }

    /// Adds a log line (sent with the next batch).
    pub(crate) fn log(&self, severity: Severity, message: impl Into<String>) {
        let mut message: String = message.into();
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE - 3;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        tracing::debug!(job = %self.shared.job_id, "{} {message}", severity.letter());
        let mut buffer = lock(&self.shared.buffer);
        if buffer.len() >= MAX_BUFFERED {
            buffer.remove(0);
            *lock(&self.shared.dropped) += 1;
        }
        buffer.push(LogEntry { time: now_secs(), severity, message });
    }

    /// A handle that cancels the job from elsewhere (the daemon's `CancelJob` command).
    pub(crate) fn canceller(&self) -> Canceller {
        Canceller(self.shared.clone())
    }

    /// Resolves once the server asked to cancel the job.
    pub(crate) async fn cancelled(&self) {
        loop {
            let notified = self.shared.cancel_notify.notified();
            if self.shared.cancelled.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Ends the job with `status`: the last lines, then the status, sizes and snapshot. Tried
    /// a few times if the server cannot be reached (the server accepts the same end twice).
    pub(crate) async fn end(self, status: JobStatus, totals: JobTotals, snapshot_id: &str) -> Result<()> {
        self.flusher.abort();
        let _ = self.flusher.await;
        let mut entries = std::mem::take(&mut *lock(&self.shared.buffer));
        let dropped = std::mem::take(&mut *lock(&self.shared.dropped));
        if dropped > 0 {
            entries.insert(
                0,
                LogEntry {
                    time: now_secs(),
                    severity: Severity::Warning,
                    message: format!("{dropped} log lines were lost while the server could not be reached"),
                },
            );
        }
        // The end carries at most one batch; earlier lines go first as ordinary batches.
        while entries.len() > MAX_LOG_ENTRIES {
            let rest = entries.split_off(MAX_LOG_ENTRIES);
            let batch = JobLog { job_id: self.shared.job_id.clone(), entries, progress: None };
            self.shared.client.call::<JobLogMethod>(&batch).await?;
            entries = rest;
        }
        let request = JobEndRequest {
            job_id: self.shared.job_id.clone(),
            status: status.code(),
            totals,
            snapshot_id: snapshot_id.to_owned(),
            entries,
        };
        let mut attempt = 0;
        loop {
            match self.shared.client.call::<JobEnd>(&request).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transport() && attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Cancels a running job (see [`Job::canceller`]).
#[derive(Clone)]
pub(crate) struct Canceller(Arc<Shared>);

impl std::fmt::Debug for Canceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Canceller").field(&self.0.job_id).finish()
    }
}

impl Canceller {
    /// Asks the job to stop; it ends as Cancelled.
    pub(crate) fn cancel(&self) {
        if !self.0.cancelled.swap(true, Ordering::AcqRel) {
            self.0.cancel_notify.notify_waiters();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends the buffered lines; on failure they stay buffered for the next try.
async fn flush(shared: &Shared) {
    let mut entries = std::mem::take(&mut *lock(&shared.buffer));
    let rest = if entries.len() > MAX_LOG_ENTRIES { entries.split_off(MAX_LOG_ENTRIES) } else { Vec::new() };
    let progress = lock(&shared.progress).as_ref().map(|p| p());
    let batch = JobLog { job_id: shared.job_id.clone(), entries, progress };
    match shared.client.call::<JobLogMethod>(&batch).await {
        Ok(reply) => {
            lock(&shared.buffer).splice(0..0, rest);
            if reply.cancel_requested && !shared.cancelled.swap(true, Ordering::AcqRel) {
                shared.cancel_notify.notify_waiters();
            }
        }
        Err(e) => {
            tracing::warn!("sending the job log: {e}");
            let mut buffer = lock(&shared.buffer);
            let newer = std::mem::take(&mut *buffer);
            *buffer = batch.entries;
            buffer.extend(rest);
            buffer.extend(newer);
        }
    }
}
