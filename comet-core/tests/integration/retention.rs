//! Retention policies reproduce restic's `forget`: a table of cases, each a set of snapshots,
//! a policy in `forget`'s flag syntax, when `forget` runs, the UTC offset of the calendar, and
//! the ids kept, newest first (for some also why). Ids are positions in the set.
//!
//! Where the cases come from:
//! - "restic golden #N": restic's own policy test (`TestApplyPolicy`, restic 0.17/0.18): its
//!   103 snapshot times and its 40 policies, with the kept sets (and, where given, reasons) of
//!   its golden files `testdata/policy_keep_snapshots_N`, re-created here as data. Case #0
//!   differs on purpose: restic's engine keeps nothing for an empty policy (its command
//!   refuses to run); ours keeps everything.
//! - "restic docs" / "restic forum": the worked examples of restic's `forget` documentation
//!   (a backup every Sunday for 12 weeks) and of the restic forum thread "Keep vs
//!   keep-within" (`--keep-daily 4` against `--keep-within-daily 4d`).
//! - The rest pin down the corners restic's rules imply (ISO 8601 weeks at a new year, Go's
//!   `AddDate` at the end of a month, snapshots dated in the future, `--keep-tag ''`, equal
//!   times), Comet's additions (the calendar's UTC offset, "newer than X" relative to now, "newer
//!   than a timestamp", Comet's ranges as counting rules). Their expected ids were worked out
//!   by hand with restic's rules, and cross-checked with an independent re-implementation of
//!   restic's algorithm that reproduces its golden files; none comes from the code under test.

use comet_core::retention::{Candidate, Count, Duration, Period, Policy, TagList};

/// One row of the table.
struct Case {
    name: &'static str,
    set: Set,
    /// `forget`'s flags: `--keep-last N`, `--keep-daily unlimited`, `--keep-within 1y2m`,
    /// `--keep-within-weekly 1m`, `--keep-tag a,b` (`''` for the empty tag),
    /// `--keep-newer-than 7d`, `--keep-after 2024-01-30T22:00:00`.
    policy: &'static str,
    /// When `forget` runs (UTC).
    now: &'static str,
    utc_offset_secs: i32,
    /// Ids kept, newest first.
    keep: &'static [usize],
    /// For some kept ids, their reasons joined with ", ".
    reasons: &'static [(usize, &'static str)],
}

/// When restic's golden cases run: after its newest snapshot.
const RESTIC_NOW: &str = "2016-01-20 00:00:00";

const BASE: Case =
    Case { name: "", set: Set::Restic, policy: "", now: RESTIC_NOW, utc_offset_secs: 0, keep: &[], reasons: &[] };

/// The snapshot sets. Lines are `YYYY-MM-DD HH:MM:SS[.fraction][|tag,tag]` in UTC.
#[derive(Clone, Copy, Debug)]
enum Set {
    /// restic's 103 test snapshots (2014-08-08 .. 2016-01-18), some tagged `foo` / `bar`.
    Restic,
    /// One backup every Sunday at 11:00 for 12 weeks from 2019-09-01 (restic's docs).
    Sundays,
    /// The forum example: May 1 8:00, May 2 8:00 and 11:00, May 4 9:00, May 5 10:00.
    Forum,
    /// Around the new year 2020/2021, whose first days belong to ISO week 2020-W53.
    NewYear,
    /// Around the new year 2014/2015: January 1 is a Thursday, so 2014-12-29 opens 2015-W01.
    NewYear2015,
    /// Around 2015-03-03, one month before 2015-03-31 by Go's `AddDate`.
    MonthEnd,
    /// Around 2016-03-02, one month before 2016-03-31 in a leap year.
    LeapMonthEnd,
    /// One snapshot after `now` (2024-06-01).
    Future,
    /// Untagged and tagged snapshots.
    Tagged,
    /// Three snapshots at the same instant, tagged in their order.
    Ties,
    /// Every 6 hours from 2024-01-29 00:30 UTC, 32 snapshots (to 2024-02-05 18:30).
    SixHourly,
    /// Every day at 22:00 UTC from 2023-01-01, 400 snapshots (to 2024-02-04).
    Daily,
}

impl Set {
    fn snapshots(self) -> Vec<Candidate<usize>> {
        match self {
            Self::Restic => from_lines(RESTIC),
            Self::Sundays => every("2019-09-01 11:00:00", 7 * DAY, 12),
            Self::Forum => from_lines(FORUM),
            Self::NewYear => from_lines(NEW_YEAR),
            Self::NewYear2015 => from_lines(NEW_YEAR_2015),
            Self::MonthEnd => from_lines(MONTH_END),
            Self::LeapMonthEnd => from_lines(LEAP_MONTH_END),
            Self::Future => from_lines(FUTURE),
            Self::Tagged => from_lines(TAGGED),
            Self::Ties => from_lines(TIES),
            Self::SixHourly => every("2024-01-29 00:30:00", 6 * HOUR, 32),
            Self::Daily => every("2023-01-01 22:00:00", DAY, 400),
        }
    }
}

const HOUR: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * HOUR;

fn from_lines(lines: &[&str]) -> Vec<Candidate<usize>> {
    lines
        .iter()
        .enumerate()
        .map(|(id, line)| {
            let mut fields = line.split('|');
            let time = time_ns(fields.next().unwrap());
            let tags: Vec<&str> = fields.next().map(|t| t.split(',').collect()).unwrap_or_default();
            Candidate::new(id, time, "host").with_tags(tags)
        })
        .collect()
}

fn every(start: &str, step: i64, count: usize) -> Vec<Candidate<usize>> {
    let start = time_ns(start);
    (0..count).map(|id| Candidate::new(id, start + step * id as i64, "host")).collect()
}

/// `YYYY-MM-DD HH:MM:SS[.fraction]` (or with `T`) in UTC, as ns since the epoch. Days are
/// counted year by year and month by month: deliberately not the engine's algorithm.
fn time_ns(text: &str) -> i64 {
    let number = |s: &str| s.parse::<i64>().unwrap_or_else(|_| panic!("bad time {text:?}"));
    let (date, clock) = text.split_once([' ', 'T']).unwrap();
    let date: Vec<i64> = date.split('-').map(number).collect();
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let clock: Vec<i64> = clock.split(':').map(number).collect();
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut days = 0;
    for year in 1970..date[0] {
        days += if leap(year) { 366 } else { 365 };
    }
    let month_days = [31, if leap(date[0]) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    days += month_days[..(date[1] - 1) as usize].iter().sum::<i64>() + date[2] - 1;
    let secs = days * 86_400 + clock[0] * 3600 + clock[1] * 60 + clock[2];
    let nanos = if fraction.is_empty() { 0 } else { number(&format!("{fraction:0<9}")[..9]) };
    secs * 1_000_000_000 + nanos
}

fn parse_policy(text: &str) -> Policy {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut policy = Policy::default();
    for pair in tokens.chunks(2) {
        let (flag, value) = (pair[0], pair[1]);
        let count = || value.parse::<Count>().unwrap();
        let duration = || value.parse::<Duration>().unwrap();
        policy = match flag {
            "--keep-last" => policy.keep_last(count()),
            "--keep-hourly" => policy.keep_hourly(count()),
            "--keep-daily" => policy.keep_daily(count()),
            "--keep-weekly" => policy.keep_weekly(count()),
            "--keep-monthly" => policy.keep_monthly(count()),
            "--keep-yearly" => policy.keep_yearly(count()),
            "--keep-within" => policy.keep_within(duration()),
            "--keep-within-hourly" => policy.keep_within_period(Period::Hour, duration()),
            "--keep-within-daily" => policy.keep_within_period(Period::Day, duration()),
            "--keep-within-weekly" => policy.keep_within_period(Period::Week, duration()),
            "--keep-within-monthly" => policy.keep_within_period(Period::Month, duration()),
            "--keep-within-yearly" => policy.keep_within_period(Period::Year, duration()),
            "--keep-tag" => policy.keep_tags(value.trim_matches('\'').parse::<TagList>().unwrap()),
            "--keep-newer-than" => policy.keep_newer_than(duration()),
            "--keep-after" => policy.keep_after_ns(time_ns(value)),
            other => panic!("unknown flag {other}"),
        };
    }
    policy
}

#[test]
fn policies_keep_what_restic_keeps() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for case in CASES {
        let snapshots = case.set.snapshots();
        let policy = parse_policy(case.policy);
        assert_eq!(policy.is_empty(), case.policy.is_empty(), "{}", case.name);
        let decision = policy.apply_group(&snapshots, time_ns(case.now), case.utc_offset_secs);
        let kept: Vec<usize> = decision.keep.iter().map(|k| k.snapshot.id).collect();
        let mut all: Vec<usize> = kept.iter().copied().chain(decision.remove.iter().map(|c| c.id)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..snapshots.len()).collect::<Vec<_>>(), "{}: not a partition", case.name);
        if kept != case.keep {
            failures.push(format!("{}\n  expected {:?}\n  got      {kept:?}", case.name, case.keep));
            continue;
        }
        for (id, expected) in case.reasons {
            let kept = decision.keep.iter().find(|k| k.snapshot.id == *id).unwrap();
            let got = kept.reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            if got != *expected {
                failures.push(format!("{}: reasons of {id}\n  expected {expected}\n  got      {got}", case.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}

#[test]
fn the_reference_calendar_agrees_with_known_instants() {
    // The test's own date arithmetic, checked against instants known from elsewhere.
    assert_eq!(time_ns("1970-01-01 00:00:00"), 0);
    assert_eq!(time_ns("2000-02-29 00:00:00"), 951_782_400_000_000_000);
    assert_eq!(time_ns("2026-11-22 00:00:00"), 1_795_305_600_000_000_000);
    assert_eq!(time_ns("2014-08-13 10:20:30.1"), 1_407_925_230_100_000_000);
}

const CASES: &[Case] = &[
    Case {
        name: "restic golden #0: no rule",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23,
            22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #1: --keep-last 10",
        policy: "--keep-last 10",
        keep: &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93],
        ..BASE
    },
    Case {
        name: "restic golden #2: --keep-last 15",
        policy: "--keep-last 15",
        keep: &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88],
        ..BASE
    },
    Case {
        name: "restic golden #3: --keep-last 99",
        policy: "--keep-last 99",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23,
            22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #4: --keep-last 200",
        policy: "--keep-last 200",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23,
            22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #5: --keep-hourly 20",
        policy: "--keep-hourly 20",
        keep: &[102, 101, 99, 98, 97, 96, 95, 94, 93, 89, 88, 87, 86, 85, 83, 82, 81, 80, 79, 78],
        ..BASE
    },
    Case { name: "restic golden #6: --keep-daily 3", policy: "--keep-daily 3", keep: &[102, 101, 99], ..BASE },
    Case {
        name: "restic golden #7: --keep-daily 10",
        policy: "--keep-daily 10",
        keep: &[102, 101, 99, 98, 97, 96, 95, 94, 87, 86],
        ..BASE
    },
    Case {
        name: "restic golden #8: --keep-daily 30",
        policy: "--keep-daily 30",
        keep: &[
            102, 101, 99, 98, 97, 96, 95, 94, 87, 86, 83, 82, 81, 80, 79, 78, 76, 75, 74, 69, 68, 67, 66, 65, 64, 63,
            62, 61, 60, 49,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #9: --keep-last 5 --keep-daily 5",
        policy: "--keep-last 5 --keep-daily 5",
        keep: &[102, 101, 100, 99, 98, 97],
        ..BASE
    },
    Case {
        name: "restic golden #10: --keep-last 2 --keep-daily 10",
        policy: "--keep-last 2 --keep-daily 10",
        keep: &[102, 101, 99, 98, 97, 96, 95, 94, 87, 86],
        ..BASE
    },
    Case { name: "restic golden #11: --keep-weekly 2", policy: "--keep-weekly 2", keep: &[102, 101], ..BASE },
    Case { name: "restic golden #12: --keep-weekly 4", policy: "--keep-weekly 4", keep: &[102, 101, 99, 87], ..BASE },
    Case {
        name: "restic golden #13: --keep-daily 3 --keep-weekly 4",
        policy: "--keep-daily 3 --keep-weekly 4",
        keep: &[102, 101, 99, 87],
        ..BASE
    },
    Case {
        name: "restic golden #14: --keep-monthly 6",
        policy: "--keep-monthly 6",
        keep: &[102, 83, 69, 49, 59, 39],
        ..BASE
    },
    Case {
        name: "restic golden #15: --keep-daily 2 --keep-weekly 2 --keep-monthly 6",
        policy: "--keep-daily 2 --keep-weekly 2 --keep-monthly 6",
        keep: &[102, 101, 83, 69, 49, 59, 39],
        reasons: &[
            (102, "daily snapshot, weekly snapshot, monthly snapshot"),
            (101, "daily snapshot, weekly snapshot"),
            (83, "monthly snapshot"),
            (69, "monthly snapshot"),
            (49, "monthly snapshot"),
            (59, "monthly snapshot"),
            (39, "monthly snapshot"),
        ],
        ..BASE
    },
    Case {
        name: "restic golden #16: --keep-yearly 10",
        policy: "--keep-yearly 10",
        keep: &[102, 83, 39, 10],
        reasons: &[
            (102, "yearly snapshot"),
            (83, "yearly snapshot"),
            (39, "yearly snapshot"),
            (10, "oldest yearly snapshot"),
        ],
        ..BASE
    },
    Case {
        name: "restic golden #17: --keep-daily 7 --keep-weekly 2 --keep-monthly 3 --keep-yearly 10",
        policy: "--keep-daily 7 --keep-weekly 2 --keep-monthly 3 --keep-yearly 10",
        keep: &[102, 101, 99, 98, 97, 96, 95, 83, 69, 39, 10],
        ..BASE
    },
    Case {
        name: "restic golden #18: --keep-tag foo",
        policy: "--keep-tag foo",
        keep: &[71, 72, 73, 35, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20],
        ..BASE
    },
    Case {
        name: "restic golden #19: --keep-tag foo,bar",
        policy: "--keep-tag foo,bar",
        keep: &[71, 72, 73, 35],
        ..BASE
    },
    Case {
        name: "restic golden #20: --keep-tag foo --keep-tag bar",
        policy: "--keep-tag foo --keep-tag bar",
        keep: &[71, 72, 73, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20],
        ..BASE
    },
    Case { name: "restic golden #21: --keep-within 1d", policy: "--keep-within 1d", keep: &[102], ..BASE },
    Case { name: "restic golden #22: --keep-within 2d", policy: "--keep-within 2d", keep: &[102], ..BASE },
    Case { name: "restic golden #23: --keep-within 7d", policy: "--keep-within 7d", keep: &[102, 101, 100], ..BASE },
    Case {
        name: "restic golden #24: --keep-within 1m",
        policy: "--keep-within 1m",
        keep: &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84],
        ..BASE
    },
    Case {
        name: "restic golden #25: --keep-within 1m14d",
        policy: "--keep-within 1m14d",
        keep: &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84],
        ..BASE
    },
    Case {
        name: "restic golden #26: --keep-within 1y1d1m",
        policy: "--keep-within 1y1d1m",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #27: --keep-within 13d23h",
        policy: "--keep-within 13d23h",
        keep: &[102, 101, 100, 99, 98, 97, 96, 95, 94],
        ..BASE
    },
    Case {
        name: "restic golden #28: --keep-within 2m2h",
        policy: "--keep-within 2m2h",
        keep: &[102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80],
        ..BASE
    },
    Case {
        name: "restic golden #29: --keep-within 1y2m3d3h",
        policy: "--keep-within 1y2m3d3h",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #30: --keep-within-hourly 1y2m3d3h",
        policy: "--keep-within-hourly 1y2m3d3h",
        keep: &[
            102, 101, 99, 98, 97, 96, 95, 94, 93, 89, 88, 87, 86, 85, 83, 82, 81, 80, 79, 78, 76, 75, 74, 69, 68, 67,
            66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 59, 58, 57, 56, 55, 54, 52, 51, 50, 39,
            38, 37, 36, 35,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #31: --keep-within-daily 1y2m3d3h",
        policy: "--keep-within-daily 1y2m3d3h",
        keep: &[
            102, 101, 99, 98, 97, 96, 95, 94, 87, 86, 83, 82, 81, 80, 79, 78, 76, 75, 74, 69, 68, 67, 66, 65, 64, 63,
            62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 59, 58, 57, 56, 55, 54, 52, 51, 50, 39, 38, 37, 36, 35,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #32: --keep-within-weekly 1y2m3d3h",
        policy: "--keep-within-weekly 1y2m3d3h",
        keep: &[102, 101, 99, 87, 83, 79, 74, 69, 67, 61, 49, 48, 47, 43, 59, 55, 50, 39, 35],
        ..BASE
    },
    Case {
        name: "restic golden #33: --keep-within-monthly 1y2m3d3h",
        policy: "--keep-within-monthly 1y2m3d3h",
        keep: &[102, 83, 69, 49, 59, 39],
        ..BASE
    },
    Case {
        name: "restic golden #34: --keep-within-yearly 1y2m3d3h",
        policy: "--keep-within-yearly 1y2m3d3h",
        keep: &[102, 83, 39],
        ..BASE
    },
    Case {
        name: concat!(
            "restic golden #35: --keep-within 1h --keep-within-hourly 1d --keep-within-daily 7d ",
            "--keep-within-weekly 1m --keep-within-monthly 1y --keep-within-yearly 9999y"
        ),
        policy: concat!(
            "--keep-within 1h --keep-within-hourly 1d --keep-within-daily 7d --keep-within-weekly 1m ",
            "--keep-within-monthly 1y --keep-within-yearly 9999y"
        ),
        keep: &[102, 101, 99, 87, 83, 69, 49, 59, 39, 10],
        reasons: &[
            (
                102,
                concat!(
                    "within 1h, hourly within 1d, daily within 7d, weekly within 1m, monthly within 1y, yearly ",
                    "within 9999y"
                ),
            ),
            (101, "daily within 7d, weekly within 1m"),
            (99, "weekly within 1m"),
            (87, "weekly within 1m"),
            (83, "monthly within 1y, yearly within 9999y"),
            (69, "monthly within 1y"),
            (49, "monthly within 1y"),
            (59, "monthly within 1y"),
            (39, "yearly within 9999y"),
            (10, "oldest yearly within 9999y"),
        ],
        ..BASE
    },
    Case {
        name: "restic golden #36: --keep-last unlimited",
        policy: "--keep-last unlimited",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23,
            22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #37: --keep-last unlimited --keep-hourly unlimited",
        policy: "--keep-last unlimited --keep-hourly unlimited",
        keep: &[
            102, 101, 100, 99, 98, 97, 96, 95, 94, 93, 92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81, 80, 79, 78, 77,
            76, 75, 74, 69, 70, 71, 72, 73, 68, 67, 66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
            59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23,
            22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10,
        ],
        ..BASE
    },
    Case {
        name: "restic golden #38: --keep-hourly unlimited",
        policy: "--keep-hourly unlimited",
        keep: &[
            102, 101, 99, 98, 97, 96, 95, 94, 93, 89, 88, 87, 86, 85, 83, 82, 81, 80, 79, 78, 76, 75, 74, 69, 68, 67,
            66, 65, 64, 63, 62, 61, 60, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 59, 58, 57, 56, 55, 54, 52, 51, 50, 39,
            38, 37, 36, 35, 34, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 19,
            18, 17, 16, 15, 14, 12, 11, 10,
        ],
        ..BASE
    },
    Case {
        name: concat!(
            "restic golden #39: --keep-daily 3 --keep-weekly 2 --keep-monthly unlimited --keep-yearly ",
            "unlimited"
        ),
        policy: "--keep-daily 3 --keep-weekly 2 --keep-monthly unlimited --keep-yearly unlimited",
        keep: &[102, 101, 99, 83, 69, 49, 59, 39, 29, 9, 19, 10],
        reasons: &[
            (102, "daily snapshot, weekly snapshot, monthly snapshot, yearly snapshot"),
            (101, "daily snapshot, weekly snapshot"),
            (99, "daily snapshot"),
            (83, "monthly snapshot, yearly snapshot"),
            (69, "monthly snapshot"),
            (49, "monthly snapshot"),
            (59, "monthly snapshot"),
            (39, "monthly snapshot, yearly snapshot"),
            (29, "monthly snapshot"),
            (9, "monthly snapshot"),
            (19, "monthly snapshot"),
            (10, "oldest monthly snapshot, oldest yearly snapshot"),
        ],
        ..BASE
    },
    Case {
        name: "restic docs: a backup every Sunday, --keep-daily 4",
        set: Set::Sundays,
        policy: "--keep-daily 4",
        now: "2019-11-18 00:00:00",
        keep: &[11, 10, 9, 8],
        reasons: &[(11, "daily snapshot"), (10, "daily snapshot"), (9, "daily snapshot"), (8, "daily snapshot")],
        ..BASE
    },
    Case {
        name: "restic docs: a backup every Sunday, --keep-weekly 2 --keep-monthly 2",
        set: Set::Sundays,
        policy: "--keep-weekly 2 --keep-monthly 2",
        now: "2019-11-18 00:00:00",
        keep: &[11, 10, 8],
        ..BASE
    },
    Case {
        name: "restic forum: --keep-daily 4 counts days that have snapshots",
        set: Set::Forum,
        policy: "--keep-daily 4",
        now: "2023-05-05 12:00:00",
        keep: &[4, 3, 2, 0],
        ..BASE
    },
    Case {
        name: "restic forum: --keep-within-daily 4d stops at the window",
        set: Set::Forum,
        policy: "--keep-within-daily 4d",
        now: "2023-05-05 12:00:00",
        keep: &[4, 3, 2],
        reasons: &[(4, "daily within 4d"), (3, "daily within 4d"), (2, "daily within 4d")],
        ..BASE
    },
    Case {
        name: "ISO weeks: 2021-01-01..03 belong to 2020-W53",
        set: Set::NewYear,
        policy: "--keep-weekly unlimited",
        now: "2021-02-01 00:00:00",
        keep: &[7, 6, 4, 0],
        reasons: &[(7, "weekly snapshot"), (6, "weekly snapshot"), (4, "weekly snapshot"), (0, "weekly snapshot")],
        ..BASE
    },
    Case {
        name: "ISO weeks: --keep-weekly 2 across the new year",
        set: Set::NewYear,
        policy: "--keep-weekly 2",
        now: "2021-02-01 00:00:00",
        keep: &[7, 6],
        ..BASE
    },
    Case {
        name: "ISO weeks: 2014-12-29 starts 2015-W01 (January 1 is a Thursday)",
        set: Set::NewYear2015,
        policy: "--keep-weekly unlimited",
        now: "2015-02-01 00:00:00",
        keep: &[4, 3, 0],
        reasons: &[(4, "weekly snapshot"), (3, "weekly snapshot"), (0, "weekly snapshot")],
        ..BASE
    },
    Case {
        name: "ISO weeks vs calendar years: --keep-yearly 2",
        set: Set::NewYear,
        policy: "--keep-yearly 2",
        now: "2021-02-01 00:00:00",
        keep: &[7, 2],
        ..BASE
    },
    Case {
        name: "Go AddDate: 1 month before 2015-03-31 is 2015-03-03",
        set: Set::MonthEnd,
        policy: "--keep-within 1m",
        now: "2015-04-01 00:00:00",
        keep: &[6, 5, 4],
        ..BASE
    },
    Case {
        name: "Go AddDate: 1 month before 2016-03-31 is 2016-03-02 (leap year)",
        set: Set::LeapMonthEnd,
        policy: "--keep-within 1m",
        now: "2016-04-01 00:00:00",
        keep: &[4, 3, 2],
        ..BASE
    },
    Case {
        name: "within 1m1d: day after the month",
        set: Set::MonthEnd,
        policy: "--keep-within 1m1d",
        now: "2015-04-01 00:00:00",
        keep: &[6, 5, 4, 3, 2],
        ..BASE
    },
    Case {
        name: "future snapshots do not move the window",
        set: Set::Future,
        policy: "--keep-within 7d",
        now: "2024-06-01 00:00:00",
        keep: &[3, 2],
        reasons: &[(3, "within 7d"), (2, "within 7d")],
        ..BASE
    },
    Case {
        name: "future snapshots count for --keep-last",
        set: Set::Future,
        policy: "--keep-last 2",
        now: "2024-06-01 00:00:00",
        keep: &[3, 2],
        ..BASE
    },
    Case {
        name: "--keep-tag '' keeps untagged snapshots",
        set: Set::Tagged,
        policy: "--keep-tag ''",
        now: "2024-02-01 00:00:00",
        keep: &[4, 0],
        ..BASE
    },
    Case {
        name: "--keep-tag a,b needs both tags",
        set: Set::Tagged,
        policy: "--keep-tag a,b",
        now: "2024-02-01 00:00:00",
        keep: &[5, 2],
        reasons: &[(5, "has tags a,b"), (2, "has tags a,b")],
        ..BASE
    },
    Case {
        name: "--keep-tag a --keep-tag '' with --keep-last 1",
        set: Set::Tagged,
        policy: "--keep-tag a --keep-tag '' --keep-last 1",
        now: "2024-02-01 00:00:00",
        keep: &[5, 4, 2, 1, 0],
        reasons: &[
            (5, "has tags a, last snapshot"),
            (4, "has no tags"),
            (2, "has tags a"),
            (1, "has tags a"),
            (0, "has no tags"),
        ],
        ..BASE
    },
    Case {
        name: "equal times keep the given order",
        set: Set::Ties,
        policy: "--keep-daily 2",
        now: "2024-04-01 00:00:00",
        keep: &[4, 1],
        ..BASE
    },
    Case {
        name: "equal times: --keep-last 3",
        set: Set::Ties,
        policy: "--keep-last 3",
        now: "2024-04-01 00:00:00",
        keep: &[4, 1, 2],
        ..BASE
    },
    Case {
        name: "UTC: --keep-daily 3 every 6 hours",
        set: Set::SixHourly,
        policy: "--keep-daily 3",
        now: "2024-03-01 00:00:00",
        keep: &[31, 27, 23],
        ..BASE
    },
    Case {
        name: "UTC+7: --keep-daily 3 every 6 hours",
        set: Set::SixHourly,
        policy: "--keep-daily 3",
        now: "2024-03-01 00:00:00",
        utc_offset_secs: 25200,
        keep: &[31, 30, 26],
        ..BASE
    },
    Case {
        name: "UTC-5: --keep-daily 3 every 6 hours",
        set: Set::SixHourly,
        policy: "--keep-daily 3",
        now: "2024-03-01 00:00:00",
        utc_offset_secs: -18000,
        keep: &[31, 28, 24],
        ..BASE
    },
    Case {
        name: "UTC: --keep-monthly 2 at a month boundary",
        set: Set::SixHourly,
        policy: "--keep-monthly 2",
        now: "2024-03-01 00:00:00",
        keep: &[31, 11],
        ..BASE
    },
    Case {
        name: "UTC-5: --keep-monthly 2 at a month boundary",
        set: Set::SixHourly,
        policy: "--keep-monthly 2",
        now: "2024-03-01 00:00:00",
        utc_offset_secs: -18000,
        keep: &[31, 12],
        ..BASE
    },
    Case {
        name: "UTC+7: --keep-hourly 3 --keep-weekly 2",
        set: Set::SixHourly,
        policy: "--keep-hourly 3 --keep-weekly 2",
        now: "2024-03-01 00:00:00",
        utc_offset_secs: 25200,
        keep: &[31, 30, 29, 26],
        ..BASE
    },
    Case {
        name: "UTC+5:30: --keep-within-daily 2d",
        set: Set::SixHourly,
        policy: "--keep-within-daily 2d",
        now: "2024-03-01 00:00:00",
        utc_offset_secs: 19800,
        keep: &[31, 30, 26],
        ..BASE
    },
    Case {
        name: "Comet: keep all backups newer than 10 days",
        set: Set::Daily,
        policy: "--keep-newer-than 10d",
        now: "2024-02-05 12:00:00",
        keep: &[399, 398, 397, 396, 395, 394, 393, 392, 391, 390],
        reasons: &[
            (399, "newer than 10d"),
            (398, "newer than 10d"),
            (397, "newer than 10d"),
            (396, "newer than 10d"),
            (395, "newer than 10d"),
            (394, "newer than 10d"),
            (393, "newer than 10d"),
            (392, "newer than 10d"),
            (391, "newer than 10d"),
            (390, "newer than 10d"),
        ],
        ..BASE
    },
    Case {
        name: "Comet: newer than 1 month, relative to now not to the latest",
        set: Set::Daily,
        policy: "--keep-newer-than 1m",
        now: "2024-03-20 00:00:00",
        keep: &[],
        ..BASE
    },
    Case {
        name: "Comet: newer than a timestamp",
        set: Set::Daily,
        policy: "--keep-after 2024-01-30T22:00:00",
        now: "2024-03-20 00:00:00",
        keep: &[399, 398, 397, 396, 395],
        ..BASE
    },
    Case {
        name: "Comet: last 3 jobs, one per day for 5, per week for 3, per month for 4, per year for 2",
        set: Set::Daily,
        policy: "--keep-last 3 --keep-daily 5 --keep-weekly 3 --keep-monthly 4 --keep-yearly 2",
        now: "2024-02-05 12:00:00",
        keep: &[399, 398, 397, 396, 395, 392, 385, 364, 333],
        reasons: &[
            (399, "last snapshot, daily snapshot, weekly snapshot, monthly snapshot, yearly snapshot"),
            (398, "last snapshot, daily snapshot"),
            (397, "last snapshot, daily snapshot"),
            (396, "daily snapshot"),
            (395, "daily snapshot, monthly snapshot"),
            (392, "weekly snapshot"),
            (385, "weekly snapshot"),
            (364, "monthly snapshot, yearly snapshot"),
            (333, "monthly snapshot"),
        ],
        ..BASE
    },
    Case {
        name: "Comet: newer than 7 days plus one per month for 6",
        set: Set::Daily,
        policy: "--keep-newer-than 7d --keep-monthly 6",
        now: "2024-02-05 12:00:00",
        keep: &[399, 398, 397, 396, 395, 394, 393, 364, 333, 303, 272],
        ..BASE
    },
    Case {
        name: "restic docs: daily for a week, weekly for a month, monthly for a year (within)",
        set: Set::Daily,
        policy: concat!(
            "--keep-within-daily 7d --keep-within-weekly 1m --keep-within-monthly 1y ",
            "--keep-within-yearly 75y"
        ),
        now: "2024-02-05 12:00:00",
        keep: &[
            399, 398, 397, 396, 395, 394, 393, 392, 385, 378, 371, 364, 333, 303, 272, 242, 211, 180, 150, 119, 89, 58,
            0,
        ],
        ..BASE
    },
    Case {
        name: "--keep-monthly unlimited keeps the oldest too",
        set: Set::Daily,
        policy: "--keep-monthly unlimited",
        now: "2024-02-05 12:00:00",
        keep: &[399, 395, 364, 333, 303, 272, 242, 211, 180, 150, 119, 89, 58, 30, 0],
        reasons: &[
            (399, "monthly snapshot"),
            (395, "monthly snapshot"),
            (364, "monthly snapshot"),
            (333, "monthly snapshot"),
            (303, "monthly snapshot"),
            (272, "monthly snapshot"),
            (242, "monthly snapshot"),
            (211, "monthly snapshot"),
            (180, "monthly snapshot"),
            (150, "monthly snapshot"),
            (119, "monthly snapshot"),
            (89, "monthly snapshot"),
            (58, "monthly snapshot"),
            (30, "monthly snapshot"),
            (0, "oldest monthly snapshot"),
        ],
        ..BASE
    },
];

const RESTIC: &[&str] = &[
    "2014-09-01 10:20:30",
    "2014-09-02 10:20:30",
    "2014-09-05 10:20:30",
    "2014-09-06 10:20:30",
    "2014-09-08 10:20:30",
    "2014-09-09 10:20:30",
    "2014-09-10 10:20:30",
    "2014-09-11 10:20:30",
    "2014-09-20 10:20:30",
    "2014-09-22 10:20:30",
    "2014-08-08 10:20:30",
    "2014-08-10 10:20:30",
    "2014-08-12 10:20:30",
    "2014-08-13 10:20:30",
    "2014-08-13 10:20:30.1",
    "2014-08-15 10:20:30",
    "2014-08-18 10:20:30",
    "2014-08-20 10:20:30",
    "2014-08-21 10:20:30",
    "2014-08-22 10:20:30",
    "2014-10-01 10:20:30|foo",
    "2014-10-02 10:20:30|foo",
    "2014-10-05 10:20:30|foo",
    "2014-10-06 10:20:30|foo",
    "2014-10-08 10:20:30|foo",
    "2014-10-09 10:20:30|foo",
    "2014-10-10 10:20:30|foo",
    "2014-10-11 10:20:30|foo",
    "2014-10-20 10:20:30|foo",
    "2014-10-22 10:20:30|foo",
    "2014-11-08 10:20:30|foo",
    "2014-11-10 10:20:30|foo",
    "2014-11-12 10:20:30|foo",
    "2014-11-13 10:20:30|foo",
    "2014-11-13 10:20:30.1|bar",
    "2014-11-15 10:20:30|foo,bar",
    "2014-11-18 10:20:30",
    "2014-11-20 10:20:30",
    "2014-11-21 10:20:30",
    "2014-11-22 10:20:30",
    "2015-09-01 10:20:30",
    "2015-09-02 10:20:30",
    "2015-09-05 10:20:30",
    "2015-09-06 10:20:30",
    "2015-09-08 10:20:30",
    "2015-09-09 10:20:30",
    "2015-09-10 10:20:30",
    "2015-09-11 10:20:30",
    "2015-09-20 10:20:30",
    "2015-09-22 10:20:30",
    "2015-08-08 10:20:30",
    "2015-08-10 10:20:30",
    "2015-08-12 10:20:30",
    "2015-08-13 10:20:30",
    "2015-08-13 10:20:30.1",
    "2015-08-15 10:20:30",
    "2015-08-18 10:20:30",
    "2015-08-20 10:20:30",
    "2015-08-21 10:20:30",
    "2015-08-22 10:20:30",
    "2015-10-01 10:20:30",
    "2015-10-02 10:20:30",
    "2015-10-05 10:20:30",
    "2015-10-06 10:20:30",
    "2015-10-08 10:20:30",
    "2015-10-09 10:20:30",
    "2015-10-10 10:20:30",
    "2015-10-11 10:20:30",
    "2015-10-20 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30",
    "2015-10-22 10:20:30|foo,bar",
    "2015-10-22 10:20:30|foo,bar",
    "2015-10-22 10:20:30|foo,bar|path1,path2",
    "2015-11-08 10:20:30",
    "2015-11-10 10:20:30",
    "2015-11-12 10:20:30",
    "2015-11-13 10:20:30",
    "2015-11-13 10:20:30.1",
    "2015-11-15 10:20:30",
    "2015-11-18 10:20:30",
    "2015-11-20 10:20:30",
    "2015-11-21 10:20:30",
    "2015-11-22 10:20:30",
    "2016-01-01 01:02:03",
    "2016-01-01 01:03:03",
    "2016-01-01 07:08:03",
    "2016-01-03 07:02:03",
    "2016-01-04 10:23:03",
    "2016-01-04 11:23:03",
    "2016-01-04 12:23:03",
    "2016-01-04 12:24:03",
    "2016-01-04 12:28:03",
    "2016-01-04 12:30:03",
    "2016-01-04 16:23:03",
    "2016-01-05 09:02:03",
    "2016-01-06 08:02:03",
    "2016-01-07 10:02:03",
    "2016-01-08 20:02:03",
    "2016-01-09 21:02:03",
    "2016-01-12 21:02:03",
    "2016-01-12 21:08:03",
    "2016-01-18 12:02:03",
];

const FORUM: &[&str] = &[
    "2023-05-01 08:00:00",
    "2023-05-02 08:00:00",
    "2023-05-02 11:00:00",
    "2023-05-04 09:00:00",
    "2023-05-05 10:00:00",
];

const NEW_YEAR: &[&str] = &[
    "2020-12-27 12:00:00",
    "2020-12-28 12:00:00",
    "2020-12-31 12:00:00",
    "2021-01-01 12:00:00",
    "2021-01-03 12:00:00",
    "2021-01-04 12:00:00",
    "2021-01-10 12:00:00",
    "2021-01-11 12:00:00",
];

const NEW_YEAR_2015: &[&str] = &[
    "2014-12-28 12:00:00",
    "2014-12-29 12:00:00",
    "2015-01-01 12:00:00",
    "2015-01-04 12:00:00",
    "2015-01-05 12:00:00",
];

const MONTH_END: &[&str] = &[
    "2015-02-28 12:00:00",
    "2015-03-02 12:00:00",
    "2015-03-03 11:59:59",
    "2015-03-03 12:00:00",
    "2015-03-03 12:00:01",
    "2015-03-20 12:00:00",
    "2015-03-31 12:00:00",
];

const LEAP_MONTH_END: &[&str] = &[
    "2016-03-01 12:00:00",
    "2016-03-02 12:00:00",
    "2016-03-02 12:00:01",
    "2016-03-03 12:00:00",
    "2016-03-31 12:00:00",
];

const FUTURE: &[&str] = &["2024-04-01 00:00:00", "2024-05-20 00:00:00", "2024-05-31 00:00:00", "2024-06-05 00:00:00"];

const TAGGED: &[&str] = &[
    "2024-01-01 00:00:00",
    "2024-01-02 00:00:00|a",
    "2024-01-03 00:00:00|a,b",
    "2024-01-04 00:00:00|b",
    "2024-01-05 00:00:00",
    "2024-01-06 00:00:00|b,a,c",
];

const TIES: &[&str] = &[
    "2024-03-01 10:00:00",
    "2024-03-02 10:00:00|first",
    "2024-03-02 10:00:00|second",
    "2024-03-02 10:00:00|third",
    "2024-03-03 09:00:00",
];
