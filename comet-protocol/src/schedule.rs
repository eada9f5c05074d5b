//! Schedules: when a protected item runs, in the device's local time zone.
//!
//! One pure function, [`next_run`], decides when a schedule fires; the agent uses it to start
//! jobs and the server uses it (through [`runs_between`]) to notice jobs that did not happen
//! (Missed, 7004). Both must agree to the second, across daylight-saving changes, so the time
//! zone rules come from the IANA database bundled in the binary (jiff), never from the host.
//!
//! Daylight-saving rules (RFC 5545's and ECMAScript Temporal's "compatible" resolution):
//! - a local time that does not exist (the hour skipped in spring) fires as if the clocks had
//!   not changed yet: 02:30 on a day that jumps from 02:00 to 03:00 fires at 03:30;
//! - a local time that exists twice (the hour repeated in autumn) fires once, at the first
//!   occurrence;
//! - [`Frequency::Hourly`] fires every real hour whose local minute and second match: 23 times
//!   on a spring-forward day, 25 times on a fall-back day;
//! - [`Frequency::Periodic`] counts real elapsed time and ignores local time entirely;
//! - a [`TimeWindow`] is judged on the local time of day at which a run fires (a 02:30 moved to
//!   03:30 by the gap is judged at 03:30).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};

/// A schedule of a backup rule (`BackupRuleConfig.Schedules`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ScheduleConfig {
    /// When it fires.
    pub frequency: Frequency,
    /// Each run waits a random 0..=this many seconds after its time (spreads the load of many
    /// devices on one server). The delay is drawn by the agent; the server allows for it.
    pub random_delay_secs: u32,
    /// Fire only inside this daily window (local time); other times are skipped.
    pub window: Option<TimeWindow>,
}

/// How often a schedule fires. Times of day are seconds after local midnight (0..86400).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum Frequency {
    /// Once, at a Unix time (seconds).
    Once {
        /// When.
        #[serde(rename = "At")]
        at: i64,
    },
    /// Every hour, this many seconds past the hour (0..3600).
    Hourly {
        /// Seconds past the hour.
        #[serde(rename = "SecondsPast")]
        seconds_past: u32,
    },
    /// Every day at each of these times of day.
    Daily {
        /// Seconds after local midnight, each 0..86400.
        #[serde(rename = "Times")]
        times: Vec<u32>,
    },
    /// On these days of the week (0 Sunday .. 6 Saturday), at one time of day.
    Weekly {
        /// Days, each 0..=6.
        #[serde(rename = "Days")]
        days: Vec<u8>,
        /// Seconds after local midnight.
        #[serde(rename = "SecondsPast")]
        seconds_past: u32,
    },
    /// On one day of the month (1..=31; a month without that day is skipped, as Comet does), at
    /// one time of day.
    Monthly {
        /// Day of the month.
        #[serde(rename = "Day")]
        day: u8,
        /// Seconds after local midnight.
        #[serde(rename = "SecondsPast")]
        seconds_past: u32,
    },
    /// Every `every_secs` seconds of real time (at least 60), at Unix times `offset_secs` modulo
    /// `every_secs` ("every 4 hours at 00:30 UTC" is every 14400 with offset 1800).
    Periodic {
        /// The period.
        #[serde(rename = "EverySecs")]
        every_secs: u32,
        /// Where in the period (`0..every_secs`).
        #[serde(rename = "OffsetSecs")]
        offset_secs: u32,
    },
}

impl Default for Frequency {
    fn default() -> Self {
        Self::Daily { times: vec![0] }
    }
}

/// A daily window of local time: `[start, end)` in seconds after midnight. A window whose end
/// is before its start spans midnight (22:00–06:00).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TimeWindow {
    /// Start, seconds after local midnight.
    pub start_secs: u32,
    /// End (exclusive), seconds after local midnight.
    pub end_secs: u32,
}

/// Why a schedule cannot be evaluated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The time zone is not in the IANA database.
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    /// A field is out of range.
    #[error("invalid schedule: {0}")]
    Invalid(String),
}

/// Most firing times [`runs_between`] returns.
pub const MAX_RUNS: usize = 10_000;

/// How many days of local candidates a search looks at before giving up (a window that no
/// time of the schedule can hit).
const SEARCH_DAYS: i32 = 400;

const DAY: u32 = 86_400;

impl ScheduleConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        let bad = |what: String| Err(ScheduleError::Invalid(what));
        let time_of_day = |t: u32| t < DAY;
        match &self.frequency {
            Frequency::Hourly { seconds_past } if *seconds_past >= 3600 => {
                return bad(format!("hourly SecondsPast {seconds_past} is not below 3600"));
            }
            Frequency::Once { .. } | Frequency::Hourly { .. } => {}
            Frequency::Daily { times } => {
                if times.is_empty() || !times.iter().all(|t| time_of_day(*t)) {
                    return bad(format!("daily Times {times:?}: give one or more, each below 86400"));
                }
            }
            Frequency::Weekly { days, seconds_past } => {
                if days.is_empty() || days.iter().any(|d| *d > 6) || !time_of_day(*seconds_past) {
                    return bad(format!("weekly Days {days:?} (0 Sunday to 6 Saturday) at {seconds_past}"));
                }
            }
            Frequency::Monthly { day, seconds_past } => {
                if !(1..=31).contains(day) || !time_of_day(*seconds_past) {
                    return bad(format!("monthly Day {day} (1 to 31) at {seconds_past}"));
                }
            }
            Frequency::Periodic { every_secs, offset_secs } => {
                if *every_secs < 60 || offset_secs >= every_secs {
                    return bad(format!("periodic every {every_secs} s (at least 60) with offset {offset_secs}"));
                }
            }
        }
        if let Some(w) = self.window
            && (!time_of_day(w.start_secs) || !time_of_day(w.end_secs) || w.start_secs == w.end_secs)
        {
            return bad(format!("window {}..{}: each below 86400, and not empty", w.start_secs, w.end_secs));
        }
        if self.random_delay_secs > DAY {
            return bad(format!("random delay {} s is over a day", self.random_delay_secs));
        }
        Ok(())
    }
}

impl TimeWindow {
    /// Whether a local time of day (seconds after midnight) is inside.
    pub fn contains(self, second_of_day: u32) -> bool {
        if self.start_secs < self.end_secs {
            (self.start_secs..self.end_secs).contains(&second_of_day)
        } else {
            second_of_day >= self.start_secs || second_of_day < self.end_secs
        }
    }
}

/// The zone of an IANA name from the bundled database; the empty name is UTC.
fn zone(name: &str) -> Result<TimeZone, ScheduleError> {
    if name.is_empty() {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| ScheduleError::TimeZone(name.to_owned()))
}

/// The local date and time of a Unix time (`None` outside jiff's years -9999..=9999).
fn local(tz: &TimeZone, t: i64) -> Option<DateTime> {
    Timestamp::from_second(t).ok().map(|ts| tz.to_datetime(ts))
}

fn second_of_day(dt: DateTime) -> u32 {
    u32::from(dt.hour().unsigned_abs()) * 3600
        + u32::from(dt.minute().unsigned_abs()) * 60
        + u32::from(dt.second().unsigned_abs())
}

/// The instants at which a local-time frequency (Hourly, Daily, Weekly, Monthly) fires on one
/// local `date`, in no particular order. Times of day resolve compatibly (one instant each; a
/// skipped time late by the length of the gap); Hourly takes every instant whose clock shows its
/// minute and second: none in a gap, both in a fold.
fn runs_on(frequency: &Frequency, tz: &TimeZone, date: Date) -> Vec<i64> {
    let at = |second: u32| date.at((second / 3600) as i8, (second / 60 % 60) as i8, (second % 60) as i8, 0);
    let compatible = |second: u32| tz.to_timestamp(at(second)).ok().map(Timestamp::as_second);
    match frequency {
        Frequency::Hourly { seconds_past } => (0..24)
            .map(|hour| at(hour * 3600 + seconds_past))
            .flat_map(|dt| {
                let offsets = match tz.to_ambiguous_timestamp(dt).offset() {
                    AmbiguousOffset::Unambiguous { offset } => vec![offset],
                    AmbiguousOffset::Gap { .. } => vec![],
                    AmbiguousOffset::Fold { before, after } => vec![before, after],
                };
                offsets.into_iter().filter_map(move |offset| offset.to_timestamp(dt).ok())
            })
            .map(Timestamp::as_second)
            .collect(),
        Frequency::Daily { times } => times.iter().filter_map(|t| compatible(*t)).collect(),
        Frequency::Weekly { days, seconds_past } if days.contains(&(date.weekday().to_sunday_zero_offset() as u8)) => {
            compatible(*seconds_past).into_iter().collect()
        }
        Frequency::Monthly { day, seconds_past } if date.day() == *day as i8 => {
            compatible(*seconds_past).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// [`next_run`] of a valid schedule in a known zone.
fn next_in(schedule: &ScheduleConfig, tz: &TimeZone, after: i64) -> Option<i64> {
    let in_window =
        |t: i64| schedule.window.is_none_or(|w| local(tz, t).is_some_and(|dt| w.contains(second_of_day(dt))));
    if let Frequency::Once { at } = schedule.frequency {
        return (at > after && in_window(at)).then_some(at);
    }
    // The other frequencies fire within jiff's years -9999..=9999, which keeps the sums small.
    if after >= Timestamp::MAX.as_second() {
        return None;
    }
    let after = after.max(Timestamp::MIN.as_second());
    match &schedule.frequency {
        Frequency::Periodic { every_secs, offset_secs } => {
            let (every, offset) = (i64::from(*every_secs), i64::from(*offset_secs));
            let first = after + 1 + (offset - after - 1).rem_euclid(every);
            let tries = i64::from(SEARCH_DAYS) * i64::from(DAY) / every;
            (0..=tries).map(|i| first + i * every).find(|t| in_window(*t))
        }
        local_frequency => {
            // Start a day early and, once a run is found, look one day further: a skipped time
            // fires late, and where the clocks skip over midnight that can be after the next
            // day's first run.
            let mut date = local(tz, after)?.date().yesterday().ok()?;
            let mut found: Option<i64> = None;
            for _ in 0..SEARCH_DAYS {
                let day = runs_on(local_frequency, tz, date).into_iter().filter(|t| *t > after && in_window(*t)).min();
                if let Some(t) = found {
                    return Some(day.map_or(t, |d| d.min(t)));
                }
                found = day;
                date = date.tomorrow().ok()?;
            }
            found
        }
    }
}

/// When `schedule` fires next, strictly after `after` (Unix seconds), in `time_zone` (an IANA
/// name such as `Europe/Berlin`; empty: UTC); `None` if it never fires again.
///
/// - Hourly, Daily, Weekly and Monthly follow the local clock (see the module doc for
///   daylight saving). Hourly fires at every instant whose local minute and second match, so
///   in a repeated hour it fires twice (01:30 EDT and 01:30 EST): it runs once per real hour.
///   Daily, Weekly and Monthly times fire once a day, in a repeated hour at the first
///   occurrence, in a skipped hour as if the clocks had not changed yet.
/// - Periodic counts real seconds from the Unix epoch; Once fires at its time if still ahead.
/// - A [`TimeWindow`] keeps the runs whose local time of day, at the instant they fire, is in
///   the window (so a 02:30 moved to 03:30 by the spring gap is judged at 03:30); it applies to
///   every frequency, Once included.
/// - The search looks at most 400 days ahead, so a window that no run can hit gives `None`.
pub fn next_run(schedule: &ScheduleConfig, time_zone: &str, after: i64) -> Result<Option<i64>, ScheduleError> {
    schedule.validate()?;
    Ok(next_in(schedule, &zone(time_zone)?, after))
}

/// Every time `schedule` fires in `(from, to]`, in order, as [`next_run`] gives them one after
/// the other; at most the first [`MAX_RUNS`] (a caller that gets that many continues from the
/// last one).
pub fn runs_between(schedule: &ScheduleConfig, time_zone: &str, from: i64, to: i64) -> Result<Vec<i64>, ScheduleError> {
    schedule.validate()?;
    let tz = zone(time_zone)?;
    Ok(std::iter::successors(next_in(schedule, &tz, from), |t| next_in(schedule, &tz, *t))
        .take_while(|t| *t <= to)
        .take(MAX_RUNS)
        .collect())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const BERLIN: &str = "Europe/Berlin";
    const NEW_YORK: &str = "America/New_York";

    /// Unix seconds of a local time such as `2026-03-29T02:30` in `tz` (compatible resolution).
    fn local_at(tz: &str, local: &str) -> i64 {
        let dt: DateTime = local.parse().unwrap();
        zone(tz).unwrap().to_timestamp(dt).unwrap().as_second()
    }

    /// Unix seconds of an RFC 3339 instant such as `2026-10-25T02:30:00+01:00`.
    fn instant(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_second()
    }

    fn instants(rfc3339: &[&str]) -> Vec<i64> {
        rfc3339.iter().map(|s| instant(s)).collect()
    }

    /// Seconds after midnight of `HH:MM`.
    fn hm(time: &str) -> u32 {
        let time: jiff::civil::Time = time.parse().unwrap();
        second_of_day(jiff::civil::date(2000, 1, 1).to_datetime(time))
    }

    fn every(frequency: Frequency) -> ScheduleConfig {
        ScheduleConfig { frequency, ..ScheduleConfig::default() }
    }

    fn daily(times: &[&str]) -> ScheduleConfig {
        every(Frequency::Daily { times: times.iter().map(|t| hm(t)).collect() })
    }

    fn hourly(minute: u32) -> ScheduleConfig {
        every(Frequency::Hourly { seconds_past: minute * 60 })
    }

    fn weekly(days: &[u8], time: &str) -> ScheduleConfig {
        every(Frequency::Weekly { days: days.to_vec(), seconds_past: hm(time) })
    }

    fn monthly(day: u8, time: &str) -> ScheduleConfig {
        every(Frequency::Monthly { day, seconds_past: hm(time) })
    }

    fn periodic(every_secs: u32, offset_secs: u32) -> ScheduleConfig {
        every(Frequency::Periodic { every_secs, offset_secs })
    }

    fn within(schedule: ScheduleConfig, start: &str, end: &str) -> ScheduleConfig {
        ScheduleConfig { window: Some(TimeWindow { start_secs: hm(start), end_secs: hm(end) }), ..schedule }
    }

    const HOURS_48: i64 = 48 * 3600;

    #[test]
    fn daily_across_daylight_saving_changes() {
        // (zone, times, from (local), runs in the next 48 hours)
        let table: &[(&str, &[&str], &str, &[&str])] = &[
            // Berlin skips 02:00-03:00 on 2026-03-29: 02:30 fires at 03:30 CEST, as if not changed.
            (BERLIN, &["02:30"], "2026-03-28T12:00", &["2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"]),
            // Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 fires once, the first time (CEST).
            (BERLIN, &["02:30"], "2026-10-24T12:00", &["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
            // New York skips 02:00-03:00 on 2026-03-08.
            (NEW_YORK, &["02:30"], "2026-03-07T12:00", &["2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"]),
            // New York repeats 01:00-02:00 on 2026-11-01: 01:30 once, in EDT; 02:30 is not repeated.
            (NEW_YORK, &["01:30"], "2026-10-31T12:00", &["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
            (NEW_YORK, &["02:30"], "2026-10-31T12:00", &["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]),
            // Given unsorted, fired in order of the instants: the moved 02:30 comes after 03:15.
            (
                BERLIN,
                &["03:15", "02:30"],
                "2026-03-29T00:00",
                &[
                    "2026-03-29T03:15:00+02:00",
                    "2026-03-29T03:30:00+02:00",
                    "2026-03-30T02:30:00+02:00",
                    "2026-03-30T03:15:00+02:00",
                ],
            ),
            (
                NEW_YORK,
                &["18:00", "06:00"],
                "2026-06-01T00:00",
                &[
                    "2026-06-01T06:00:00-04:00",
                    "2026-06-01T18:00:00-04:00",
                    "2026-06-02T06:00:00-04:00",
                    "2026-06-02T18:00:00-04:00",
                ],
            ),
        ];
        for (tz, times, from, expected) in table {
            let from = local_at(tz, from);
            let runs = runs_between(&daily(times), tz, from, from + HOURS_48).unwrap();
            assert_eq!(runs, instants(expected), "{tz} daily at {times:?}");
        }
    }

    #[test]
    fn hourly_fires_every_real_hour() {
        // (zone, local day, runs at :30 that day, consecutive runs around the change)
        let table: &[(&str, &str, usize, &[&str])] = &[
            (BERLIN, "2026-03-29", 23, &["2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00"]),
            (
                BERLIN,
                "2026-10-25",
                25,
                &[
                    "2026-10-25T01:30:00+02:00",
                    "2026-10-25T02:30:00+02:00",
                    "2026-10-25T02:30:00+01:00",
                    "2026-10-25T03:30:00+01:00",
                ],
            ),
            (NEW_YORK, "2026-03-08", 23, &["2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"]),
            (
                NEW_YORK,
                "2026-11-01",
                25,
                &[
                    "2026-11-01T00:30:00-04:00",
                    "2026-11-01T01:30:00-04:00",
                    "2026-11-01T01:30:00-05:00",
                    "2026-11-01T02:30:00-05:00",
                ],
            ),
            (BERLIN, "2026-06-01", 24, &["2026-06-01T02:30:00+02:00", "2026-06-01T03:30:00+02:00"]),
        ];
        for (tz, day, count, around) in table {
            let runs = runs_between(
                &hourly(30),
                tz,
                local_at(tz, &format!("{day}T00:00")),
                local_at(tz, &format!("{day}T23:59")),
            )
            .unwrap();
            assert_eq!(runs.len(), *count, "{tz} {day}");
            assert!(runs.windows(2).all(|w| w[1] - w[0] == 3600), "{tz} {day}: one real hour apart");
            assert!(runs.windows(around.len()).any(|w| w == instants(around)), "{tz} {day}: {around:?}");
        }
    }

    #[test]
    fn weekly_across_daylight_saving_changes() {
        // (schedule, zone, from, to (local), runs)
        let table = [
            (
                weekly(&[0], "10:00"),
                BERLIN,
                "2026-03-21T00:00",
                "2026-04-06T00:00",
                instants(&["2026-03-22T10:00:00+01:00", "2026-03-29T10:00:00+02:00", "2026-04-05T10:00:00+02:00"]),
            ),
            (
                weekly(&[0], "02:30"),
                BERLIN,
                "2026-03-21T00:00",
                "2026-04-06T00:00",
                instants(&["2026-03-22T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-04-05T02:30:00+02:00"]),
            ),
            (
                weekly(&[0], "01:30"),
                NEW_YORK,
                "2026-10-24T00:00",
                "2026-11-09T00:00",
                instants(&["2026-10-25T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-08T01:30:00-05:00"]),
            ),
            // Days given in any order: Saturday and Monday.
            (
                weekly(&[6, 1], "09:00"),
                NEW_YORK,
                "2026-03-06T00:00",
                "2026-03-10T00:00",
                instants(&["2026-03-07T09:00:00-05:00", "2026-03-09T09:00:00-04:00"]),
            ),
        ];
        for (schedule, tz, from, to, expected) in table {
            let runs = runs_between(&schedule, tz, local_at(tz, from), local_at(tz, to)).unwrap();
            assert_eq!(runs, expected, "{tz} {schedule:?}");
        }
    }

    #[test]
    fn monthly_skips_months_without_the_day() {
        let year: Vec<String> = runs_between(
            &monthly(31, "02:30"),
            BERLIN,
            local_at(BERLIN, "2026-01-01T00:00"),
            local_at(BERLIN, "2027-01-01T00:00"),
        )
        .unwrap()
        .into_iter()
        .map(|t| local(&zone(BERLIN).unwrap(), t).unwrap().to_string())
        .collect();
        let expected = ["01-31", "03-31", "05-31", "07-31", "08-31", "10-31", "12-31"];
        let expected: Vec<String> = expected.iter().map(|d| format!("2026-{d}T02:30:00")).collect();
        assert_eq!(year, expected);

        // (day, after (local), next run (local))
        let table = [
            (29, "2027-02-01T00:00", "2027-03-29T00:00"),
            (29, "2028-02-01T00:00", "2028-02-29T00:00"),
            (31, "2026-04-01T00:00", "2026-05-31T00:00"),
            (30, "2026-01-30T00:00", "2026-03-30T00:00"),
        ];
        for (day, after, expected) in table {
            let next = next_run(&monthly(day, "00:00"), NEW_YORK, local_at(NEW_YORK, after)).unwrap();
            assert_eq!(next, Some(local_at(NEW_YORK, expected)), "day {day} after {after}");
        }
    }

    #[test]
    fn periodic_counts_real_time() {
        // Every 4 hours at 00:30 UTC: 12 runs in any 48 hours, whatever the clocks do.
        let every_4h = periodic(4 * 3600, 1800);
        for (tz, from) in [(BERLIN, "2026-10-24T00:00"), (NEW_YORK, "2026-03-07T00:00"), ("", "2026-06-01T00:00")] {
            let from = local_at(tz, from);
            let runs = runs_between(&every_4h, tz, from, from + HOURS_48).unwrap();
            assert_eq!(runs.len(), 12, "{tz}");
            assert!(runs.iter().all(|t| t.rem_euclid(4 * 3600) == 1800), "{tz}");
        }
        // In a window 22:00-06:00 Berlin time, across the autumn change.
        let from = local_at(BERLIN, "2026-10-24T00:00");
        let runs = runs_between(&within(every_4h, "22:00", "06:00"), BERLIN, from, from + HOURS_48).unwrap();
        let expected = [
            "2026-10-24T02:30:00+02:00",
            "2026-10-24T22:30:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-10-25T05:30:00+01:00",
        ];
        assert_eq!(runs, instants(&expected));
    }

    #[test]
    fn once_fires_if_ahead() {
        let at = instant("2026-05-01T12:00:00Z");
        let once = every(Frequency::Once { at });
        // (after, next run)
        for (after, expected) in [(at - 86_400, Some(at)), (at - 1, Some(at)), (at, None), (at + 1, None)] {
            assert_eq!(next_run(&once, BERLIN, after).unwrap(), expected, "after {after}");
        }
        // Outside its window it never fires (12:00 UTC is 14:00 in Berlin).
        assert_eq!(next_run(&within(once, "00:00", "13:00"), BERLIN, at - 1).unwrap(), None);
    }

    #[test]
    fn windows_filter_by_local_time() {
        // (schedule, zone, from (local), runs in the next 48 hours (local))
        let table: &[(ScheduleConfig, &str, &str, &[&str])] = &[
            // A window over midnight.
            (
                within(daily(&["12:00", "23:30", "01:00"]), "22:00", "06:00"),
                BERLIN,
                "2026-06-01T00:00",
                &["2026-06-01T01:00", "2026-06-01T23:30", "2026-06-02T01:00", "2026-06-02T23:30"],
            ),
            // End exclusive.
            (
                within(hourly(0), "09:00", "11:00"),
                NEW_YORK,
                "2026-06-01T00:00",
                &["2026-06-01T09:00", "2026-06-01T10:00", "2026-06-02T09:00", "2026-06-02T10:00"],
            ),
            // Judged at the time of firing: the spring 02:30 fires at 03:30, outside 02:00-03:00.
            (within(daily(&["02:30"]), "02:00", "03:00"), BERLIN, "2026-03-28T12:00", &["2026-03-30T02:30"]),
        ];
        for (schedule, tz, from, expected) in table {
            let from = local_at(tz, from);
            let expected: Vec<i64> = expected.iter().map(|e| local_at(tz, e)).collect();
            assert_eq!(runs_between(schedule, tz, from, from + HOURS_48).unwrap(), expected, "{schedule:?}");
        }
        // A window no run can hit ends the search instead of looping.
        for never in [
            within(daily(&["12:00"]), "09:00", "10:00"),
            within(weekly(&[3], "12:00"), "13:00", "11:00"),
            within(hourly(30), "10:00", "10:20"),
            within(periodic(3600, 0), "10:15", "10:45"),
        ] {
            assert_eq!(next_run(&never, "", 0).unwrap(), None, "{never:?}");
            assert!(runs_between(&never, "", 0, i64::MAX).unwrap().is_empty(), "{never:?}");
        }
    }

    #[test]
    fn bad_zones_and_fields_are_errors() {
        assert_eq!(
            next_run(&daily(&["00:00"]), "Mars/Olympus", 0),
            Err(ScheduleError::TimeZone("Mars/Olympus".into()))
        );
        assert_eq!(runs_between(&daily(&["00:00"]), "Europe/Nowhere", 0, 1).unwrap_err().to_string(), {
            "unknown time zone \"Europe/Nowhere\""
        });
        let window = |start_secs, end_secs| ScheduleConfig {
            window: Some(TimeWindow { start_secs, end_secs }),
            ..ScheduleConfig::default()
        };
        for bad in [
            daily(&[]),
            every(Frequency::Daily { times: vec![0, DAY] }),
            every(Frequency::Hourly { seconds_past: 3600 }),
            every(Frequency::Weekly { days: vec![7], seconds_past: 0 }),
            every(Frequency::Weekly { days: vec![], seconds_past: 0 }),
            every(Frequency::Weekly { days: vec![0], seconds_past: DAY }),
            every(Frequency::Monthly { day: 0, seconds_past: 0 }),
            every(Frequency::Monthly { day: 32, seconds_past: 0 }),
            every(Frequency::Monthly { day: 1, seconds_past: DAY }),
            periodic(59, 0),
            periodic(60, 60),
            window(5, 5),
            window(DAY, 5),
            window(5, DAY),
            ScheduleConfig { random_delay_secs: DAY + 1, ..ScheduleConfig::default() },
        ] {
            assert!(matches!(bad.validate(), Err(ScheduleError::Invalid(_))), "{bad:?}");
            assert!(matches!(next_run(&bad, "", 0), Err(ScheduleError::Invalid(_))), "{bad:?}");
            assert!(matches!(runs_between(&bad, "", 0, 1), Err(ScheduleError::Invalid(_))), "{bad:?}");
        }
        for good in [
            ScheduleConfig::default(),
            every(Frequency::Once { at: -5 }),
            every(Frequency::Hourly { seconds_past: 3599 }),
            every(Frequency::Daily { times: vec![DAY - 1, 0] }),
            monthly(31, "23:59"),
            periodic(60, 59),
            ScheduleConfig { random_delay_secs: DAY, ..window(DAY - 1, 0) },
        ] {
            assert_eq!(good.validate(), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn extreme_times_end_the_search() {
        let window = |s: ScheduleConfig| within(s, "00:00", "02:00");
        let once = every(Frequency::Once { at: i64::MAX });
        for schedule in [hourly(0), daily(&["00:00"]), weekly(&[1], "00:00"), monthly(1, "00:00"), periodic(60, 0)] {
            for s in [schedule.clone(), window(schedule)] {
                assert_eq!(next_run(&s, BERLIN, i64::MAX).unwrap(), None, "{s:?}");
                assert!(next_run(&s, BERLIN, i64::MIN).unwrap().is_some(), "{s:?}");
                assert!(runs_between(&s, BERLIN, i64::MAX - 10, i64::MAX).unwrap().is_empty(), "{s:?}");
            }
        }
        assert_eq!(next_run(&once, "", i64::MIN).unwrap(), Some(i64::MAX));
        assert_eq!(runs_between(&once, "", i64::MAX - 1, i64::MAX).unwrap(), [i64::MAX]);
    }

    #[test]
    fn empty_zone_is_utc() {
        let from = instant("2026-03-01T00:00:00Z");
        for schedule in [daily(&["05:00", "02:30"]), hourly(30), weekly(&[0, 3], "12:00"), monthly(31, "00:00")] {
            let utc = runs_between(&schedule, "", from, from + 40 * i64::from(DAY)).unwrap();
            assert_eq!(utc, runs_between(&schedule, "Etc/UTC", from, from + 40 * i64::from(DAY)).unwrap());
            assert_eq!(utc, runs_between(&schedule, "UTC", from, from + 40 * i64::from(DAY)).unwrap());
            assert!(!utc.is_empty());
        }
        let daily_5 = daily(&["05:00"]);
        assert_eq!(next_run(&daily_5, "", from).unwrap(), Some(instant("2026-03-01T05:00:00Z")));
    }

    fn any_schedule() -> impl Strategy<Value = ScheduleConfig> {
        let frequency = prop_oneof![
            (0i64..2_000_000_000).prop_map(|at| Frequency::Once { at }),
            (0u32..3600).prop_map(|seconds_past| Frequency::Hourly { seconds_past }),
            proptest::collection::vec(0u32..DAY, 1..4).prop_map(|times| Frequency::Daily { times }),
            (proptest::collection::vec(0u8..7, 1..4), 0u32..DAY)
                .prop_map(|(days, seconds_past)| Frequency::Weekly { days, seconds_past }),
            (1u8..32, 0u32..DAY).prop_map(|(day, seconds_past)| Frequency::Monthly { day, seconds_past }),
            (60u32..200_000)
                .prop_flat_map(|every_secs| (Just(every_secs), 0..every_secs))
                .prop_map(|(every_secs, offset_secs)| Frequency::Periodic { every_secs, offset_secs }),
        ];
        let window = proptest::option::of(
            (0u32..DAY, 1u32..DAY)
                .prop_map(|(start_secs, len)| TimeWindow { start_secs, end_secs: (start_secs + len) % DAY }),
        );
        (frequency, window).prop_map(|(frequency, window)| ScheduleConfig { frequency, window, random_delay_secs: 0 })
    }

    /// Any time in 2023-2030, or one within days of a 2026 change of the clocks.
    fn any_after() -> impl Strategy<Value = i64> {
        let changes = ["2026-03-08T07:00:00Z", "2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z", "2026-11-01T06:00:00Z"];
        prop_oneof![
            1_700_000_000i64..1_900_000_000,
            (proptest::sample::select(changes.to_vec()), -3 * 86_400i64..86_400).prop_map(|(c, d)| instant(c) + d),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn next_run_agrees_with_runs_between(
            schedule in any_schedule(),
            tz in prop_oneof![Just(BERLIN), Just(NEW_YORK)],
            after in any_after(),
            probe in 0i64..3 * 86_400,
        ) {
            let next = next_run(&schedule, tz, after).unwrap();
            if let Some(next) = next {
                prop_assert!(next > after);
                prop_assert_eq!(runs_between(&schedule, tz, after, next).unwrap(), [next]);
            }
            let to = after + 3 * 86_400;
            let runs = runs_between(&schedule, tz, after, to).unwrap();
            prop_assert_eq!(runs.first().copied(), next.filter(|t| *t <= to));
            prop_assert!(runs.windows(2).all(|w| w[0] < w[1]));
            for t in &runs {
                prop_assert_eq!(next_run(&schedule, tz, t - 1).unwrap(), Some(*t));
            }
            // From any time in between, the next run is the next one of the list.
            let probe = after + probe;
            let expected = runs.iter().copied().find(|t| *t > probe);
            let got = next_run(&schedule, tz, probe).unwrap();
            match expected {
                Some(t) => prop_assert_eq!(got, Some(t)),
                None => prop_assert!(got.is_none_or(|t| t > to)),
            }
        }
    }
}
