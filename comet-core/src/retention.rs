//! Retention policies: which snapshots `forget` keeps.
//!
//! The rules are restic's (`forget --keep-*`, restic 0.17 semantics), plus Comet Server's
//! "keep everything newer than X". Snapshots are first split into groups (by host and paths
//! unless told otherwise); then, in each group, newest first:
//!
//! - **counting rules** (`last`, `hourly` … `yearly`, N or [`Count::Unlimited`]) keep a
//!   snapshot when its calendar bucket (the snapshot itself for `last`; its hour, day, ISO 8601
//!   week, month or year otherwise) differs from the bucket of the last snapshot that rule
//!   kept, until N buckets are kept. A rule with buckets left at the end also keeps the oldest
//!   snapshot of the group, so the history stays as long as the rule allows (restic >= 0.17,
//!   reported as "oldest daily snapshot");
//! - **`within`** keeps every snapshot newer than the duration before the group's latest
//!   snapshot (latest in the past: a snapshot dated in the future never moves the window);
//! - **`within_hourly` … `within_yearly`** keep one snapshot per bucket inside such a window;
//! - **`tags`** keep snapshots carrying all tags of any one [`TagList`];
//! - **`newer_than`** (Comet's "keep all backups newer than X") keeps every snapshot newer than
//!   the duration before *now*, and **`after_ns`** (Comet's "newer than a timestamp") every
//!   snapshot taken after an instant.
//!
//! A snapshot is kept when any rule keeps it, with every rule that did as its reasons. An
//! empty policy keeps everything: no rule means nothing to remove, never "remove all".
//!
//! Buckets and month arithmetic use civil time at a fixed UTC offset chosen by the caller
//! (restic uses each snapshot's own zone). Ties in time keep the caller's order: the first
//! given counts as the newer.
//!
//! Comet's retention ranges map onto the same rules: "most recent X jobs" is `last`, "last X
//! backups, one per day / week / month / year" is `daily` … `yearly`, "jobs since X days /
//! weeks / months / years" is `newer_than`, and "newer than a timestamp" is `after_ns`.
//!
//! ```
//! use comet_core::retention::{Candidate, Count, Policy};
//!
//! const HOUR: i64 = 3_600_000_000_000;
//! let snapshots: Vec<Candidate<u32>> =
//!     (0..48).map(|i| Candidate::new(i, i64::from(i) * HOUR, "host")).collect();
//! let policy = Policy::default().keep_last(Count::N(2)).keep_daily(Count::N(2));
//! let decision = policy.apply_group(&snapshots, 48 * HOUR, 0);
//! let kept: Vec<u32> = decision.keep.iter().map(|k| k.snapshot.id).collect();
//! assert_eq!(kept, [47, 46, 23]);
//! assert_eq!(decision.keep[0].reasons[0].to_string(), "last snapshot");
//! assert_eq!(decision.keep[2].reasons[0].to_string(), "daily snapshot");
//! ```

mod calendar;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use calendar::{Duration, Period};

use crate::error::{Error, Result};
use crate::id::SnapshotId;
use crate::snapshot::{Snapshot, format_time};

/// How many buckets a counting rule keeps.
///
/// Serialised as restic's number: `-1` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "i64", try_from = "i64")]
pub enum Count {
    /// At most this many (0: the rule is off).
    N(u32),
    /// Every bucket (restic's `unlimited`, or `-1`).
    Unlimited,
}

impl Default for Count {
    fn default() -> Self {
        Self::N(0)
    }
}

impl Count {
    /// Whether the rule is off.
    pub fn is_zero(self) -> bool {
        self == Self::N(0)
    }

    fn has_left(self) -> bool {
        !self.is_zero()
    }

    fn take_one(&mut self) {
        if let Self::N(n) = self {
            *n = n.saturating_sub(1);
        }
    }
}

impl From<u32> for Count {
    fn from(n: u32) -> Self {
        Self::N(n)
    }
}

impl From<Count> for i64 {
    fn from(count: Count) -> Self {
        match count {
            Count::N(n) => i64::from(n),
            Count::Unlimited => -1,
        }
    }
}

impl TryFrom<i64> for Count {
    type Error = Error;

    fn try_from(n: i64) -> Result<Self> {
        match n {
            -1 => Ok(Self::Unlimited),
            _ => u32::try_from(n).map(Self::N).map_err(|_| {
                Error::InvalidOption(format!("invalid count {n}: give a number of at least 0, or -1 for unlimited"))
            }),
        }
    }
}

impl FromStr for Count {
    type Err = Error;

    /// A number, `unlimited`, or `-1` (restic 0.16's spelling of unlimited).
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        let n: i64 = text
            .parse()
            .map_err(|_| Error::InvalidOption(format!("invalid count {text:?}: give a number or `unlimited`")))?;
        Self::try_from(n)
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::N(n) => write!(f, "{n}"),
            Self::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// Tags that must all be present: `a,b` matches snapshots tagged both `a` and `b`. The empty
/// tag matches snapshots without tags (restic's `--keep-tag ''`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TagList(pub Vec<String>);

impl TagList {
    /// Whether a snapshot with `tags` carries all of these.
    pub fn matches(&self, tags: &[String]) -> bool {
        for tag in &self.0 {
            if tag.is_empty() && tags.is_empty() {
                return true;
            }
            if !tags.contains(tag) {
                return false;
            }
        }
        true
    }
}

impl FromStr for TagList {
    type Err = Error;

    /// Comma-separated tags, trimmed.
    fn from_str(text: &str) -> Result<Self> {
        Ok(Self(text.split(',').map(|t| t.trim().to_owned()).collect()))
    }
}

impl fmt::Display for TagList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// What to keep. Every rule is off by default; an empty policy keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Policy {
    /// Keep the last N snapshots.
    pub last: Count,
    /// Keep the newest snapshot of each of the last N hours that have one.
    pub hourly: Count,
    /// Keep the newest snapshot of each of the last N days that have one.
    pub daily: Count,
    /// Keep the newest snapshot of each of the last N ISO weeks that have one.
    pub weekly: Count,
    /// Keep the newest snapshot of each of the last N months that have one.
    pub monthly: Count,
    /// Keep the newest snapshot of each of the last N years that have one.
    pub yearly: Count,
    /// Keep every snapshot within this duration before the group's latest snapshot.
    pub within: Duration,
    /// Keep hourly snapshots within this duration before the group's latest snapshot.
    pub within_hourly: Duration,
    /// Keep daily snapshots within this duration before the group's latest snapshot.
    pub within_daily: Duration,
    /// Keep weekly snapshots within this duration before the group's latest snapshot.
    pub within_weekly: Duration,
    /// Keep monthly snapshots within this duration before the group's latest snapshot.
    pub within_monthly: Duration,
    /// Keep yearly snapshots within this duration before the group's latest snapshot.
    pub within_yearly: Duration,
    /// Keep snapshots that carry every tag of at least one of these lists.
    pub tags: Vec<TagList>,
    /// Keep every snapshot newer than this duration before now (Comet's "newer than X").
    pub newer_than: Duration,
    /// Keep every snapshot taken after this instant, ns since the epoch (Comet's "newer than
    /// a timestamp").
    pub after_ns: Option<i64>,
}

impl Policy {
    /// Whether no rule is set (such a policy keeps everything).
    pub fn is_empty(&self) -> bool {
        self.counts().iter().all(|(c, _)| c.is_zero())
            && self.within.is_zero()
            && self.within_periods().iter().all(|(d, _)| d.is_zero())
            && self.tags.is_empty()
            && self.newer_than.is_zero()
            && self.after_ns.is_none()
    }

    /// Sets `last`.
    #[must_use]
    pub fn keep_last(mut self, count: impl Into<Count>) -> Self {
        self.last = count.into();
        self
    }

    /// Sets `hourly`.
    #[must_use]
    pub fn keep_hourly(mut self, count: impl Into<Count>) -> Self {
        self.hourly = count.into();
        self
    }

    /// Sets `daily`.
    #[must_use]
    pub fn keep_daily(mut self, count: impl Into<Count>) -> Self {
        self.daily = count.into();
        self
    }

    /// Sets `weekly`.
    #[must_use]
    pub fn keep_weekly(mut self, count: impl Into<Count>) -> Self {
        self.weekly = count.into();
        self
    }

    /// Sets `monthly`.
    #[must_use]
    pub fn keep_monthly(mut self, count: impl Into<Count>) -> Self {
        self.monthly = count.into();
        self
    }

    /// Sets `yearly`.
    #[must_use]
    pub fn keep_yearly(mut self, count: impl Into<Count>) -> Self {
        self.yearly = count.into();
        self
    }

    /// Sets `within`.
    #[must_use]
    pub fn keep_within(mut self, duration: Duration) -> Self {
        self.within = duration;
        self
    }

    /// Sets the `within_*` rule of `period`.
    #[must_use]
    pub fn keep_within_period(mut self, period: Period, duration: Duration) -> Self {
        *match period {
            Period::Hour => &mut self.within_hourly,
            Period::Day => &mut self.within_daily,
            Period::Week => &mut self.within_weekly,
            Period::Month => &mut self.within_monthly,
            Period::Year => &mut self.within_yearly,
        } = duration;
        self
    }

    /// Adds a tag list to `tags`.
    #[must_use]
    pub fn keep_tags(mut self, tags: TagList) -> Self {
        self.tags.push(tags);
        self
    }

    /// Sets `newer_than`.
    #[must_use]
    pub fn keep_newer_than(mut self, duration: Duration) -> Self {
        self.newer_than = duration;
        self
    }

    /// Sets `after_ns`.
    #[must_use]
    pub fn keep_after_ns(mut self, time_ns: i64) -> Self {
        self.after_ns = Some(time_ns);
        self
    }

    /// The counting rules, `last` first, with their period (`None` for `last`).
    fn counts(&self) -> [(Count, Option<Period>); 6] {
        [
            (self.last, None),
            (self.hourly, Some(Period::Hour)),
            (self.daily, Some(Period::Day)),
            (self.weekly, Some(Period::Week)),
            (self.monthly, Some(Period::Month)),
            (self.yearly, Some(Period::Year)),
        ]
    }

    /// The `within_*` rules with their period.
    fn within_periods(&self) -> [(Duration, Period); 5] {
        [
            (self.within_hourly, Period::Hour),
            (self.within_daily, Period::Day),
            (self.within_weekly, Period::Week),
            (self.within_monthly, Period::Month),
            (self.within_yearly, Period::Year),
        ]
    }

    /// Splits `snapshots` into groups by `group_by` and applies the policy to each, evaluated
    /// at `now_ns` with calendar buckets at `utc_offset_secs`. Groups come sorted by key.
    pub fn apply<I: Clone>(
        &self,
        snapshots: &[Candidate<I>],
        group_by: GroupBy,
        now_ns: i64,
        utc_offset_secs: i32,
    ) -> Vec<Decision<I>> {
        let mut groups: BTreeMap<GroupKey, Vec<Candidate<I>>> = BTreeMap::new();
        for snapshot in snapshots {
            groups.entry(group_by.key(snapshot)).or_default().push(snapshot.clone());
        }
        groups
            .into_iter()
            .map(|(key, members)| Decision { key, ..self.apply_group(&members, now_ns, utc_offset_secs) })
            .collect()
    }

    /// Applies the policy to `snapshots` as one group (its key is [`GroupKey::default`]).
    pub fn apply_group<I: Clone>(&self, snapshots: &[Candidate<I>], now_ns: i64, utc_offset_secs: i32) -> Decision<I> {
        let mut order: Vec<&Candidate<I>> = snapshots.iter().collect();
        // Stable: equal times keep the caller's order.
        order.sort_by_key(|s| std::cmp::Reverse(s.time_ns));
        let mut decision = Decision { key: GroupKey::default(), keep: Vec::new(), remove: Vec::new() };
        if self.is_empty() {
            decision.keep =
                order.into_iter().map(|s| Kept { snapshot: s.clone(), reasons: vec![Reason::EmptyPolicy] }).collect();
            return decision;
        }
        // The window of `within*` ends at the newest snapshot not in the future; without one,
        // every snapshot is inside (restic measures from the zero time then).
        let latest = order.iter().map(|s| s.time_ns).filter(|&t| t < now_ns).max();
        let window_start = |d: Duration| latest.map_or(i128::MIN, |l| d.before(l, utc_offset_secs));
        let within = (!self.within.is_zero()).then(|| window_start(self.within));
        let newer_than = (!self.newer_than.is_zero()).then(|| self.newer_than.before(now_ns, utc_offset_secs));
        let mut counters = self.counts().map(|(left, period)| (left, period, None::<i64>));
        let mut windows = self.within_periods().map(|(d, period)| (d, period, window_start(d), None::<i64>));

        for (nr, snapshot) in order.iter().enumerate() {
            let oldest = nr + 1 == order.len();
            let time = i128::from(snapshot.time_ns);
            let mut reasons = Vec::new();
            for list in &self.tags {
                if list.matches(&snapshot.tags) {
                    reasons.push(Reason::Tags(list.clone()));
                }
            }
            if within.is_some_and(|start| time > start) {
                reasons.push(Reason::Within(self.within));
            }
            for (left, period, last) in &mut counters {
                if !left.has_left() {
                    continue;
                }
                let bucket = period.map_or(nr as i64, |p| p.bucket(snapshot.time_ns, utc_offset_secs));
                let same = *last == Some(bucket);
                if !same || oldest {
                    *last = Some(bucket);
                    left.take_one();
                    reasons.push(period.map_or(Reason::Last, |period| Reason::Periodic { period, oldest: same }));
                }
            }
            for (within, period, start, last) in &mut windows {
                if within.is_zero() || time <= *start {
                    continue;
                }
                let bucket = period.bucket(snapshot.time_ns, utc_offset_secs);
                let same = *last == Some(bucket);
                if !same || oldest {
                    *last = Some(bucket);
                    reasons.push(Reason::PeriodicWithin { period: *period, within: *within, oldest: same });
                }
            }
            if newer_than.is_some_and(|start| time > start) {
                reasons.push(Reason::NewerThan(self.newer_than));
            }
            if let Some(after) = self.after_ns
                && snapshot.time_ns > after
            {
                reasons.push(Reason::After(after));
            }
            if reasons.is_empty() {
                decision.remove.push((*snapshot).clone());
            } else {
                decision.keep.push(Kept { snapshot: (*snapshot).clone(), reasons });
            }
        }
        decision
    }
}

impl fmt::Display for Policy {
    /// A summary for people: `keep the last 2 snapshots, 7 daily snapshots, ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("keep everything (no rule given)");
        }
        let mut parts = Vec::new();
        for (count, period) in self.counts() {
            let what = period.map_or("", Period::adjective);
            let space = if what.is_empty() { "" } else { " " };
            match (count, period) {
                (Count::N(0), _) => {}
                (Count::N(1), None) => parts.push("the last snapshot".to_owned()),
                (Count::N(n), None) => parts.push(format!("the last {n} snapshots")),
                (Count::N(1), Some(_)) => parts.push(format!("1 {what} snapshot")),
                (Count::N(n), Some(_)) => parts.push(format!("{n} {what} snapshots")),
                (Count::Unlimited, _) => parts.push(format!("all{space}{what} snapshots")),
            }
        }
        for (duration, period) in self.within_periods() {
            if !duration.is_zero() {
                parts.push(format!("{} snapshots within {duration}", period.adjective()));
            }
        }
        if !self.within.is_zero() {
            parts.push(format!("all snapshots within {} of the newest", self.within));
        }
        for list in &self.tags {
            parts.push(format!("all snapshots tagged {list}"));
        }
        if !self.newer_than.is_zero() {
            parts.push(format!("all snapshots newer than {}", self.newer_than));
        }
        if let Some(after) = self.after_ns {
            parts.push(format!("all snapshots after {} UTC", format_time(after)));
        }
        write!(f, "keep {}", parts.join(", "))
    }
}

/// Which snapshot fields split snapshots into groups (restic's `--group-by`). The default is
/// host and paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupBy {
    /// By host (the device id for managed agents).
    pub host: bool,
    /// By the set of paths backed up.
    pub paths: bool,
    /// By the set of tags.
    pub tags: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        Self { host: true, paths: true, tags: false }
    }
}

impl GroupBy {
    /// One group for everything.
    pub const NONE: Self = Self { host: false, paths: false, tags: false };

    /// The group `snapshot` belongs to.
    pub fn key<I>(self, snapshot: &Candidate<I>) -> GroupKey {
        let set = |items: &[String]| {
            let mut items = items.to_vec();
            items.sort();
            items.dedup();
            items
        };
        GroupKey {
            host: self.host.then(|| snapshot.host.clone()),
            paths: self.paths.then(|| set(&snapshot.paths)),
            tags: self.tags.then(|| set(&snapshot.tags)),
        }
    }
}

impl FromStr for GroupBy {
    type Err = Error;

    /// Comma-separated `host`, `paths`, `tags` (singular forms too); empty for no grouping.
    fn from_str(text: &str) -> Result<Self> {
        let mut out = Self::NONE;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "host" | "hosts" => out.host = true,
                "path" | "paths" => out.paths = true,
                "tag" | "tags" => out.tags = true,
                other => {
                    return Err(Error::InvalidOption(format!(
                        "unknown grouping {other:?}: give host, paths and/or tags, or '' for none"
                    )));
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<&str> = [(self.host, "host"), (self.paths, "paths"), (self.tags, "tags")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// The values that define a group; a field not grouped by is `None`. Paths and tags are
/// sorted sets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    /// Host.
    pub host: Option<String>,
    /// Paths.
    pub paths: Option<Vec<String>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
}

impl fmt::Display for GroupKey {
    /// `host h, paths [/a, /b], tags [x]`, or `all snapshots` without grouping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(host) = &self.host {
            parts.push(format!("host {host}"));
        }
        if let Some(paths) = &self.paths {
            parts.push(format!("paths [{}]", paths.join(", ")));
        }
        if let Some(tags) = &self.tags {
            parts.push(format!("tags [{}]", tags.join(", ")));
        }
        if parts.is_empty() { f.write_str("all snapshots") } else { f.write_str(&parts.join(", ")) }
    }
}

/// What the policy needs to know of a snapshot. `I` identifies it to the caller (a
/// [`SnapshotId`], a job id, an index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate<I> {
    /// The caller's id.
    pub id: I,
    /// When the snapshot was taken, ns since the epoch.
    pub time_ns: i64,
    /// Host for grouping: the device id of managed agents, else the host name.
    pub host: String,
    /// Paths backed up.
    pub paths: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
}

impl<I> Candidate<I> {
    /// A snapshot without paths or tags.
    pub fn new(id: I, time_ns: i64, host: impl Into<String>) -> Self {
        Self { id, time_ns, host: host.into(), paths: Vec::new(), tags: Vec::new() }
    }

    /// Sets the paths.
    #[must_use]
    pub fn with_paths(mut self, paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the tags.
    #[must_use]
    pub fn with_tags(mut self, tags: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

impl Candidate<SnapshotId> {
    /// The candidate for a stored snapshot: its host is its device id when it has one.
    pub fn from_snapshot(id: SnapshotId, snapshot: &Snapshot) -> Self {
        let host = snapshot.device_id.as_deref().filter(|d| !d.is_empty()).unwrap_or(&snapshot.hostname);
        Self {
            id,
            time_ns: snapshot.time_ns,
            host: host.to_owned(),
            paths: snapshot.paths.clone(),
            tags: snapshot.tags.clone(),
        }
    }
}

/// Why a snapshot is kept. Displayed as restic words it (`daily snapshot`, `oldest monthly
/// snapshot`, `within 1y`, `daily within 7d`, `has tags a,b`, `has no tags`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The policy has no rule.
    EmptyPolicy,
    /// `last`.
    Last,
    /// A counting rule; `oldest` when kept only as the oldest snapshot of the group.
    Periodic {
        /// The rule's period.
        period: Period,
        /// Kept as the oldest snapshot while the rule had buckets left.
        oldest: bool,
    },
    /// `within`.
    Within(Duration),
    /// A `within_*` rule.
    PeriodicWithin {
        /// The rule's period.
        period: Period,
        /// The rule's window.
        within: Duration,
        /// Kept as the oldest snapshot of the group.
        oldest: bool,
    },
    /// `tags`: the list matched.
    Tags(TagList),
    /// `newer_than`.
    NewerThan(Duration),
    /// `after_ns`.
    After(i64),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let oldest = |o: bool| if o { "oldest " } else { "" };
        match self {
            Self::EmptyPolicy => f.write_str("policy is empty"),
            Self::Last => f.write_str("last snapshot"),
            Self::Periodic { period, oldest: o } => write!(f, "{}{} snapshot", oldest(*o), period.adjective()),
            Self::Within(d) => write!(f, "within {d}"),
            Self::PeriodicWithin { period, within, oldest: o } => {
                write!(f, "{}{} within {within}", oldest(*o), period.adjective())
            }
            Self::Tags(list) if list.0.iter().all(String::is_empty) => f.write_str("has no tags"),
            Self::Tags(list) => write!(f, "has tags {list}"),
            Self::NewerThan(d) => write!(f, "newer than {d}"),
            Self::After(ns) => write!(f, "after {} UTC", format_time(*ns)),
        }
    }
}

/// A kept snapshot and every rule that kept it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept<I> {
    /// The snapshot.
    pub snapshot: Candidate<I>,
    /// The rules that keep it, in rule order (tags, within, counts, within-counts, newer).
    pub reasons: Vec<Reason>,
}

/// The outcome for one group: both lists newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision<I> {
    /// The group.
    pub key: GroupKey,
    /// Snapshots to keep.
    pub keep: Vec<Kept<I>>,
    /// Snapshots to remove.
    pub remove: Vec<Candidate<I>>,
}

impl<I> Decision<I> {
    /// Whether the group would lose every snapshot (callers refuse such a policy, as restic
    /// does: a group's last snapshot is never removed by a policy).
    pub fn removes_all(&self) -> bool {
        self.keep.is_empty() && !self.remove.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::days_from_civil;

    const HOUR: i64 = 3_600_000_000_000;
    const DAY: i64 = 24 * HOUR;

    /// ns of a UTC date and hour.
    fn at(year: i64, month: u32, day: i64, hour: i64) -> i64 {
        days_from_civil(year, month, day) * DAY + hour * HOUR
    }

    fn kept<I: Clone>(decision: &Decision<I>) -> Vec<I> {
        decision.keep.iter().map(|k| k.snapshot.id.clone()).collect()
    }

    #[test]
    fn counts_parse() {
        assert_eq!("3".parse::<Count>().unwrap(), Count::N(3));
        assert_eq!("unlimited".parse::<Count>().unwrap(), Count::Unlimited);
        assert_eq!("-1".parse::<Count>().unwrap(), Count::Unlimited);
        assert!("-2".parse::<Count>().is_err());
        assert!("x".parse::<Count>().is_err());
        assert_eq!(i64::from(Count::Unlimited), -1);
        assert_eq!(Count::try_from(7_i64).unwrap(), Count::N(7));
    }

    #[test]
    fn empty_policy_keeps_everything() {
        let snaps: Vec<_> = (0..5).map(|i| Candidate::new(i, i64::from(i) * DAY, "h")).collect();
        let policy = Policy::default();
        assert!(policy.is_empty());
        assert!(Policy::default().keep_last(0).is_empty());
        assert!(!Policy::default().keep_last(Count::Unlimited).is_empty());
        assert!(!Policy::default().keep_tags(TagList::default()).is_empty());
        assert!(!Policy::default().keep_after_ns(0).is_empty());
        let decision = policy.apply_group(&snaps, 10 * DAY, 0);
        assert_eq!(kept(&decision), [4, 3, 2, 1, 0]);
        assert!(decision.remove.is_empty());
        assert_eq!(decision.keep[0].reasons, [Reason::EmptyPolicy]);
    }

    #[test]
    fn reasons_accumulate_and_print_like_restic() {
        let snaps: Vec<_> = (0..10).map(|i| Candidate::new(i, at(2024, 5, 1 + i64::from(i), 12), "h")).collect();
        let policy = Policy::default().keep_last(1).keep_daily(2).keep_monthly(Count::Unlimited);
        let decision = policy.apply_group(&snaps, at(2025, 1, 1, 0), 0);
        assert_eq!(kept(&decision), [9, 8, 0]);
        let words = |k: &Kept<i32>| k.reasons.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(words(&decision.keep[0]), ["last snapshot", "daily snapshot", "monthly snapshot"]);
        assert_eq!(words(&decision.keep[1]), ["daily snapshot"]);
        assert_eq!(words(&decision.keep[2]), ["oldest monthly snapshot"]);
        assert_eq!(decision.remove.iter().map(|c| c.id).collect::<Vec<_>>(), [7, 6, 5, 4, 3, 2, 1]);
    }

    #[test]
    fn within_ignores_future_snapshots() {
        let now = at(2024, 6, 1, 0);
        let snaps = vec![
            Candidate::new("future", now + DAY, "h"),
            Candidate::new("recent", now - 2 * DAY, "h"),
            Candidate::new("edge", now - 3 * DAY, "h"),
            Candidate::new("old", now - 10 * DAY, "h"),
        ];
        let decision = Policy::default().keep_within(Duration::new(0, 0, 1, 0)).apply_group(&snaps, now, 0);
        // The window is 1 day before "recent", not before the future snapshot; "edge" sits
        // exactly on its start and is outside (strictly newer only).
        assert_eq!(kept(&decision), ["future", "recent"]);
        // Only future snapshots: every one is inside the window.
        let all_future = Policy::default().keep_within(Duration::new(0, 0, 1, 0)).apply_group(&snaps[..1], now, 0);
        assert_eq!(kept(&all_future), ["future"]);
    }

    #[test]
    fn newer_than_and_after_are_relative_to_now() {
        let now = at(2024, 6, 10, 0);
        let snaps: Vec<_> = (1..=9).map(|d| Candidate::new(d, at(2024, 6, d, 0), "h")).collect();
        let policy = Policy::default().keep_newer_than(Duration::new(0, 0, 3, 0));
        // now - 3 days is June 7, 00:00: June 8 and 9 are newer, June 7 is not.
        assert_eq!(kept(&policy.apply_group(&snaps, now, 0)), [9, 8]);
        // Later, nothing is newer: the caller must refuse to empty the group.
        let decision = policy.apply_group(&snaps, at(2024, 7, 1, 0), 0);
        assert!(decision.removes_all());
        let after = Policy::default().keep_after_ns(at(2024, 6, 6, 0));
        assert_eq!(kept(&after.apply_group(&snaps, now, 0)), [9, 8, 7]);
        assert_eq!(after.apply_group(&snaps, now, 0).keep[0].reasons[0].to_string(), "after 2024-06-06 00:00:00 UTC");
    }

    #[test]
    fn tag_lists() {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let list: TagList = "a, b".parse().unwrap();
        assert_eq!(list.0, ["a", "b"]);
        assert_eq!(list.to_string(), "a,b");
        assert!(list.matches(&strings(&["b", "c", "a"])));
        assert!(!list.matches(&strings(&["a"])));
        let untagged: TagList = "".parse().unwrap();
        assert!(untagged.matches(&[]));
        assert!(!untagged.matches(&strings(&["a"])));
    }

    #[test]
    fn grouping() {
        assert_eq!("host,paths".parse::<GroupBy>().unwrap(), GroupBy::default());
        assert_eq!("".parse::<GroupBy>().unwrap(), GroupBy::NONE);
        assert_eq!("tag, path".parse::<GroupBy>().unwrap(), GroupBy { host: false, paths: true, tags: true });
        assert!("hostname".parse::<GroupBy>().is_err());
        assert_eq!(GroupBy::default().to_string(), "host,paths");

        let snaps = vec![
            Candidate::new(1, 1, "a").with_paths(["/x", "/y"]),
            Candidate::new(2, 2, "a").with_paths(["/y", "/x", "/x"]),
            Candidate::new(3, 3, "b").with_paths(["/x", "/y"]),
            Candidate::new(4, 4, "a").with_paths(["/x"]).with_tags(["t"]),
        ];
        let policy = Policy::default().keep_last(1);
        let groups = policy.apply(&snaps, GroupBy::default(), 10, 0);
        let summary: Vec<(String, Vec<i32>, Vec<i32>)> =
            groups.iter().map(|g| (g.key.to_string(), kept(g), g.remove.iter().map(|c| c.id).collect())).collect();
        assert_eq!(
            summary,
            [
                ("host a, paths [/x]".to_owned(), vec![4], vec![]),
                ("host a, paths [/x, /y]".to_owned(), vec![2], vec![1]),
                ("host b, paths [/x, /y]".to_owned(), vec![3], vec![]),
            ]
        );
        let one = policy.apply(&snaps, GroupBy::NONE, 10, 0);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].key.to_string(), "all snapshots");
        assert_eq!(kept(&one[0]), [4]);
        let by_tags = policy.apply(&snaps, "tags".parse().unwrap(), 10, 0);
        assert_eq!(by_tags.iter().map(|g| g.key.tags.clone().unwrap()).collect::<Vec<_>>(), [vec![], vec!["t"]]);
    }

    #[test]
    fn device_id_is_the_host() {
        let mut snap = Snapshot {
            version: crate::snapshot::SNAPSHOT_VERSION,
            time_ns: 5,
            hostname: "laptop".into(),
            username: "u".into(),
            paths: vec!["/p".into()],
            tags: vec!["t".into()],
            tree: crate::TreeId::default(),
            parent: None,
            device_id: None,
            protected_item: None,
            summary: crate::BackupSummary::default(),
            program: "test".into(),
        };
        let id = SnapshotId::of(b"s");
        assert_eq!(Candidate::from_snapshot(id, &snap).host, "laptop");
        snap.device_id = Some("device-1".into());
        let candidate = Candidate::from_snapshot(id, &snap);
        assert_eq!((candidate.host.as_str(), candidate.time_ns, candidate.tags.len()), ("device-1", 5, 1));
    }

    #[test]
    fn policies_round_trip_through_serde() {
        let policy = Policy::default()
            .keep_last(3)
            .keep_monthly(Count::Unlimited)
            .keep_within(Duration::new(1, 2, 3, 4))
            .keep_tags("a,b".parse().unwrap())
            .keep_newer_than(Duration::new(0, 0, 7, 0))
            .keep_after_ns(-5);
        let decoded: Policy = crate::codec::decode(&crate::codec::encode(&policy)).unwrap();
        assert_eq!(decoded, policy);
        let counts: Vec<Count> = crate::codec::decode(&crate::codec::encode(&vec![-1_i64, 0, 9])).unwrap();
        assert_eq!(counts, [Count::Unlimited, Count::N(0), Count::N(9)]);
        assert!(crate::codec::decode::<Vec<Count>>(&crate::codec::encode(&vec![-2_i64])).is_err());
    }

    #[test]
    fn policy_summary() {
        let policy = Policy::default()
            .keep_last(2)
            .keep_daily(7)
            .keep_yearly(Count::Unlimited)
            .keep_within_period(Period::Week, Duration::new(0, 1, 0, 0))
            .keep_tags("a,b".parse().unwrap());
        assert_eq!(
            policy.to_string(),
            "keep the last 2 snapshots, 7 daily snapshots, all yearly snapshots, weekly snapshots within 1m, \
             all snapshots tagged a,b"
        );
        assert_eq!(Policy::default().to_string(), "keep everything (no rule given)");
        assert_eq!(
            Policy::default().keep_last(1).keep_hourly(1).to_string(),
            "keep the last snapshot, 1 hourly snapshot"
        );
        let comet = Policy::default().keep_newer_than(Duration::new(0, 0, 30, 0)).keep_after_ns(0);
        assert_eq!(comet.to_string(), "keep all snapshots newer than 30d, all snapshots after 1970-01-01 00:00:00 UTC");
    }
}
