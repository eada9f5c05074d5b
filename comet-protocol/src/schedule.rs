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
//! - [`Frequency::Periodic`] counts real elapsed time and ignores local time entirely.

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

fn zone(name: &str) -> Result<jiff::tz::TimeZone, ScheduleError> {
    if name.is_empty() {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    jiff::tz::TimeZone::get(name).map_err(|_| ScheduleError::TimeZone(name.to_owned()))
}

fn second_of_day(dt: jiff::civil::DateTime) -> u32 {
    (i32::from(dt.hour()) * 3600 + i32::from(dt.minute()) * 60 + i32::from(dt.second())) as u32
}

fn local(tz: &jiff::tz::TimeZone, t: i64) -> Option<jiff::civil::DateTime> {
    jiff::Timestamp::from_second(t).ok().map(|ts| tz.to_datetime(ts))
}

/// The instant of local `date` at `second_of_day` (compatible resolution).
fn instant(tz: &jiff::tz::TimeZone, date: jiff::civil::Date, second_of_day: u32) -> Option<i64> {
    let (h, m, s) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
    let dt = date.at(h as i8, m as i8, s as i8, 0);
    tz.to_zoned(dt).ok().map(|z| z.timestamp().as_second())
}

/// When `schedule` fires next, strictly after `after` (Unix seconds), in `time_zone` (IANA name;
/// empty: UTC); `None` if it never fires again.
pub fn next_run(schedule: &ScheduleConfig, time_zone: &str, after: i64) -> Result<Option<i64>, ScheduleError> {
    schedule.validate()?;
    let tz = zone(time_zone)?;
    let in_window =
        |t: i64| schedule.window.is_none_or(|w| local(&tz, t).is_some_and(|dt| w.contains(second_of_day(dt))));
    let found = match &schedule.frequency {
        Frequency::Once { at } => (*at > after && in_window(*at)).then_some(*at),
        Frequency::Periodic { every_secs, offset_secs } => {
            let (every, offset) = (i64::from(*every_secs), i64::from(*offset_secs));
            let first = after + 1 + (offset - (after + 1)).rem_euclid(every);
            let steps = i64::from(SEARCH_DAYS) * i64::from(DAY) / every + 1;
            (0..steps).map(|i| first + i * every).find(|t| in_window(*t))
        }
        Frequency::Hourly { seconds_past } => {
            let mut t = after + 1;
            let limit = after + i64::from(SEARCH_DAYS) * i64::from(DAY);
            loop {
                if t > limit {
                    break None;
                }
                let Some(dt) = local(&tz, t) else { break None };
                let past = second_of_day(dt) % 3600;
                if past == *seconds_past {
                    if in_window(t) {
                        break Some(t);
                    }
                    t += 1;
                    continue;
                }
                // Jump to where the minute and second would match if the offset stays.
                t += i64::from((*seconds_past + 3600 - past) % 3600);
            }
        }
        Frequency::Daily { .. } | Frequency::Weekly { .. } | Frequency::Monthly { .. } => {
            let Some(start) = local(&tz, after) else { return Ok(None) };
            let mut date = start.date().yesterday().unwrap_or(start.date());
            let mut found = None;
            for _ in 0..SEARCH_DAYS + 2 {
                let mut times: Vec<u32> = match &schedule.frequency {
                    Frequency::Daily { times } => times.clone(),
                    Frequency::Weekly { days, seconds_past } => {
                        let weekday = date.weekday().to_sunday_zero_offset() as u8;
                        if days.contains(&weekday) { vec![*seconds_past] } else { vec![] }
                    }
                    Frequency::Monthly { day, seconds_past } => {
                        if date.day() == *day as i8 {
                            vec![*seconds_past]
                        } else {
                            vec![]
                        }
                    }
                    _ => unreachable!("local frequencies only"),
                };
                times.sort_unstable();
                found = times.into_iter().filter_map(|t| instant(&tz, date, t)).find(|t| *t > after && in_window(*t));
                if found.is_some() {
                    break;
                }
                match date.tomorrow() {
                    Ok(next) => date = next,
                    Err(_) => break,
                }
            }
            found
        }
    };
    Ok(found)
}

/// Every time `schedule` fires in `(from, to]`, in order; at most [`MAX_RUNS`].
pub fn runs_between(schedule: &ScheduleConfig, time_zone: &str, from: i64, to: i64) -> Result<Vec<i64>, ScheduleError> {
    let mut runs = Vec::new();
    let mut t = from;
    while runs.len() < MAX_RUNS {
        match next_run(schedule, time_zone, t)? {
            Some(next) if next <= to => {
                runs.push(next);
                t = next;
            }
            _ => break,
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Unix seconds of a local time `2026-03-29T03:30` in `tz` (compatible resolution).
    fn at(tz: &str, local: &str) -> i64 {
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        zone(tz).unwrap().to_zoned(dt).unwrap().timestamp().as_second()
    }

    /// Unix seconds of an RFC 3339 instant.
    fn instant_of(rfc3339: &str) -> i64 {
        rfc3339.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn schedule(frequency: Frequency) -> ScheduleConfig {
        ScheduleConfig { frequency, ..ScheduleConfig::default() }
    }

    fn daily(times: &[u32]) -> ScheduleConfig {
        schedule(Frequency::Daily { times: times.to_vec() })
    }

    const H: u32 = 3600;

    #[test]
    fn daily_across_daylight_saving_changes() {
        // (zone, schedule time, search from (local), expected instants)
        let table: &[(&str, u32, &str, &[&str])] = &[
            // Berlin skips 02:00-03:00 on 2026-03-29: 02:30 fires at 03:30 CEST.
            ("Europe/Berlin", 2 * H + 1800, "2026-03-28T12:00", &["2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]),
            // Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 fires once, at the first (CEST).
            ("Europe/Berlin", 2 * H + 1800, "2026-10-24T12:00", &["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
            // New York skips 02:00-03:00 on 2026-03-08.
            ("America/New_York", 2 * H + 1800, "2026-03-07T12:00", &["2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"]),
            // New York repeats 01:00-02:00 on 2026-11-01: 01:30 once, at EDT.
            ("America/New_York", H + 1800, "2026-10-31T12:00", &["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
            // A time outside the changes keeps its local time.
            ("Europe/Berlin", 8 * H, "2026-03-28T12:00", &["2026-03-29T06:00:00Z", "2026-03-30T06:00:00Z"]),
        ];
        for (tz, time, from, expected) in table {
            let from = at(tz, from);
            let expected: Vec<i64> = expected.iter().map(|e| instant_of(e)).collect();
            let runs = runs_between(&daily(&[*time]), tz, from, from + 2 * i64::from(DAY)).unwrap();
            assert_eq!(runs, expected, "{tz} daily at {time}");
        }
    }

    #[test]
    fn hourly_fires_every_real_hour() {
        let hourly = schedule(Frequency::Hourly { seconds_past: 1800 });
        for (tz, day, count) in [
            ("Europe/Berlin", "2026-03-29", 23),
            ("Europe/Berlin", "2026-10-25", 25),
            ("America/New_York", "2026-03-08", 23),
            ("America/New_York", "2026-11-01", 25),
            ("Europe/Berlin", "2026-06-01", 24),
        ] {
            let start = at(tz, &format!("{day}T00:00"));
            let end = at(tz, &format!("{day}T23:59:59"));
            let runs = runs_between(&hourly, tz, start, end).unwrap();
            assert_eq!(runs.len(), count, "{tz} {day}");
            assert!(runs.windows(2).all(|w| w[1] - w[0] == 3600), "one real hour apart");
        }
    }

    #[test]
    fn weekly_monthly_periodic_once_and_windows() {
        // Sundays at 10:00 in Berlin, across the spring change.
        let weekly = schedule(Frequency::Weekly { days: vec![0], seconds_past: 10 * H });
        let runs = runs_between(
            &weekly,
            "Europe/Berlin",
            at("Europe/Berlin", "2026-03-21T00:00"),
            at("Europe/Berlin", "2026-04-06T00:00"),
        )
        .unwrap();
        assert_eq!(
            runs,
            [
                instant_of("2026-03-22T09:00:00Z"),
                instant_of("2026-03-29T08:00:00Z"),
                instant_of("2026-04-05T08:00:00Z")
            ]
        );
        // Day 31 skips the months without one.
        let monthly = schedule(Frequency::Monthly { day: 31, seconds_past: 0 });
        let runs =
            runs_between(&monthly, "", instant_of("2026-01-01T00:00:00Z"), instant_of("2026-12-31T23:00:00Z")).unwrap();
        let months: Vec<String> =
            runs.iter().map(|t| jiff::Timestamp::from_second(*t).unwrap().to_string()[..7].to_owned()).collect();
        assert_eq!(months, ["2026-01", "2026-03", "2026-05", "2026-07", "2026-08", "2026-10", "2026-12"]);
        // Day 29: not in February 2027, in February 2028.
        let feb29 = schedule(Frequency::Monthly { day: 29, seconds_past: 0 });
        assert_eq!(
            next_run(&feb29, "", instant_of("2027-02-01T00:00:00Z")).unwrap(),
            Some(instant_of("2027-03-29T00:00:00Z"))
        );
        assert_eq!(
            next_run(&feb29, "", instant_of("2028-02-01T00:00:00Z")).unwrap(),
            Some(instant_of("2028-02-29T00:00:00Z"))
        );
        // Every 4 h at :30, in real time: 12 runs in 48 h whatever the clocks do.
        let periodic = schedule(Frequency::Periodic { every_secs: 4 * H, offset_secs: 1800 });
        let from = at("Europe/Berlin", "2026-10-24T00:00");
        let runs = runs_between(&periodic, "Europe/Berlin", from, from + 48 * 3600).unwrap();
        assert_eq!(runs.len(), 12);
        assert!(runs.iter().all(|t| t.rem_euclid(4 * 3600) == 1800));
        // With a window 22:00-06:00 (Berlin): only the night runs.
        let night = ScheduleConfig { window: Some(TimeWindow { start_secs: 22 * H, end_secs: 6 * H }), ..periodic };
        let runs = runs_between(&night, "Europe/Berlin", from, from + 48 * 3600).unwrap();
        assert!(!runs.is_empty());
        for t in &runs {
            let hour = local(&zone("Europe/Berlin").unwrap(), *t).unwrap().hour();
            assert!(!(6..22).contains(&hour), "{t} at {hour}h");
        }
        // Once.
        let once = schedule(Frequency::Once { at: 1_000 });
        assert_eq!(next_run(&once, "", 999).unwrap(), Some(1_000));
        assert_eq!(next_run(&once, "", 1_000).unwrap(), None);
        // Several daily times, given unsorted.
        let runs = runs_between(&daily(&[18 * H, 6 * H]), "", 0, i64::from(DAY)).unwrap();
        assert_eq!(runs, [6 * 3600, 18 * 3600]);
        // A window no time can hit ends the search.
        let never =
            ScheduleConfig { window: Some(TimeWindow { start_secs: 9 * H, end_secs: 10 * H }), ..daily(&[12 * H]) };
        assert_eq!(next_run(&never, "Europe/Berlin", 0).unwrap(), None);
    }

    #[test]
    fn errors_and_utc() {
        assert_eq!(next_run(&daily(&[0]), "Mars/Olympus", 0), Err(ScheduleError::TimeZone("Mars/Olympus".into())));
        for bad in [
            daily(&[]),
            daily(&[DAY]),
            schedule(Frequency::Hourly { seconds_past: 3600 }),
            schedule(Frequency::Weekly { days: vec![7], seconds_past: 0 }),
            schedule(Frequency::Weekly { days: vec![], seconds_past: 0 }),
            schedule(Frequency::Monthly { day: 0, seconds_past: 0 }),
            schedule(Frequency::Periodic { every_secs: 59, offset_secs: 0 }),
            schedule(Frequency::Periodic { every_secs: 60, offset_secs: 60 }),
            ScheduleConfig { window: Some(TimeWindow { start_secs: 5, end_secs: 5 }), ..daily(&[0]) },
            ScheduleConfig { random_delay_secs: DAY + 1, ..daily(&[0]) },
        ] {
            assert!(matches!(next_run(&bad, "", 0), Err(ScheduleError::Invalid(_))), "{bad:?}");
        }
        let s = daily(&[5 * H]);
        for t in [0, 1_700_000_000, 1_800_000_000] {
            assert_eq!(next_run(&s, "", t).unwrap(), next_run(&s, "Etc/UTC", t).unwrap());
        }
    }

    fn any_schedule() -> impl Strategy<Value = ScheduleConfig> {
        prop_oneof![
            (0u32..3600).prop_map(|s| schedule(Frequency::Hourly { seconds_past: s })),
            proptest::collection::vec(0u32..DAY, 1..4).prop_map(|t| daily(&t)),
            (proptest::collection::vec(0u8..7, 1..4), 0u32..DAY)
                .prop_map(|(days, s)| schedule(Frequency::Weekly { days, seconds_past: s })),
            (1u8..32, 0u32..DAY).prop_map(|(day, s)| schedule(Frequency::Monthly { day, seconds_past: s })),
            (60u32..200_000)
                .prop_flat_map(|every| (Just(every), 0..every))
                .prop_map(|(every, offset)| schedule(Frequency::Periodic { every_secs: every, offset_secs: offset })),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn next_run_is_later_and_consistent_with_runs_between(
            s in any_schedule(),
            tz in prop_oneof![Just("Europe/Berlin"), Just("America/New_York")],
            after in 1_700_000_000i64..1_900_000_000,
        ) {
            if let Some(next) = next_run(&s, tz, after).unwrap() {
                prop_assert!(next > after);
                let runs = runs_between(&s, tz, after, next).unwrap();
                prop_assert_eq!(runs.last().copied(), Some(next));
                prop_assert_eq!(runs.len(), 1, "nothing fires between after and next");
                prop_assert_eq!(next_run(&s, tz, next - 1).unwrap(), Some(next));
            }
        }
    }
}
