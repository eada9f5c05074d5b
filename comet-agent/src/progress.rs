//! Progress bars on standard error, fed by the engine's live counters. Shown only when
//! standard error is a terminal and neither `--json` nor `--quiet` was given.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use comet_core::{BackupProgress, RestoreProgress};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::output::human_bytes;

/// How often the bars are redrawn.
const TICK: Duration = Duration::from_millis(100);

/// A progress display updated by a tokio task until [`Ticker::finish`].
#[derive(Debug)]
pub(crate) struct Ticker {
    bar: ProgressBar,
    task: JoinHandle<()>,
}

impl Ticker {
    /// Stops updating and erases the bar.
    pub(crate) fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

/// Stops `ticker` if there is one.
pub(crate) fn finish(ticker: Option<Ticker>) {
    if let Some(t) = ticker {
        t.finish();
    }
}

/// A spinner with entries walked, bytes read, new bytes and packs stored (the total is not
/// known in advance: the walk and the reading go together).
pub(crate) fn backup(progress: &Arc<BackupProgress>) -> Ticker {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let progress = progress.clone();
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            shown.set_message(format!(
                "{} entries, {} read, {} new, {} stored in {} packs",
                progress.entries.load(Ordering::Relaxed),
                human_bytes(progress.bytes_processed.load(Ordering::Relaxed)),
                human_bytes(progress.bytes_new.load(Ordering::Relaxed)),
                human_bytes(progress.bytes_uploaded()),
                progress.packs_uploaded(),
            ));
            shown.tick();
        }
    });
    Ticker { bar, task }
}

/// A bar of bytes restored over bytes to restore.
pub(crate) fn restore(progress: &Arc<RestoreProgress>) -> Ticker {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "[{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = progress.clone();
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        loop {
            interval.tick().await;
            shown.set_length(progress.bytes_total.load(Ordering::Relaxed));
            shown.set_position(progress.bytes_done.load(Ordering::Relaxed));
        }
    });
    Ticker { bar, task }
}
