//! Time as the engine sees it: a [`Clock`] passed to the repository, so tests can move time
//! (grace periods, session expiry) without waiting.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time, in nanoseconds since the Unix epoch (UTC).
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now_ns(&self) -> i64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        crate::snapshot::now_ns()
    }
}

/// A clock that moves only when told to (tests).
///
/// ```
/// use comet_core::clock::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(std::time::Duration::from_secs(1));
/// assert_eq!(clock.now_ns(), 1_000_001_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock showing `now_ns`.
    pub fn new(now_ns: i64) -> Self {
        Self { now: AtomicI64::new(now_ns) }
    }

    /// A clock starting at the current system time.
    pub fn starting_now() -> Arc<Self> {
        Arc::new(Self::new(crate::snapshot::now_ns()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.now.fetch_add(duration_ns(by), Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, now_ns: i64) {
        self.now.store(now_ns, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ns(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A duration in nanoseconds, saturating at `i64::MAX`.
pub fn duration_ns(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
