//! Civil-calendar arithmetic of retention rules, at a fixed UTC offset: durations subtracted
//! as Go's `AddDate` does, and the buckets (hour, day, ISO 8601 week, month, year) of counting
//! rules, numbered as restic numbers them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::snapshot::{civil_from_days, days_from_civil};

const NS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A calendar duration in restic's syntax: `1y2m3d4h` (years, months, days, hours; any
/// subset, each unit at most once). Subtracted in civil time, as Go's `AddDate`: one month
/// before March 31 is "February 31", which is March 3 (or 2 in a leap year).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Duration {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
}

impl Duration {
    /// No time at all: the rule using it is off.
    pub const ZERO: Self = Self::new(0, 0, 0, 0);

    /// `years`y`months`m`days`d`hours`h.
    pub const fn new(years: u32, months: u32, days: u32, hours: u32) -> Self {
        Self { years, months, days, hours }
    }

    /// Whether every part is zero.
    pub fn is_zero(self) -> bool {
        self == Self::ZERO
    }

    /// The instant this long before `time_ns`, in ns since the epoch, computed on the civil
    /// calendar at `utc_offset_secs`. An `i128`: a long duration reaches past `i64`'s years.
    pub fn before(self, time_ns: i64, utc_offset_secs: i32) -> i128 {
        let local = Local::of(time_ns, utc_offset_secs);
        let (year, month, day) = civil_from_days(local.days);
        let months = year * 12 + i64::from(month) - 1 - i64::from(self.months);
        let (year, month) = (months.div_euclid(12) - i64::from(self.years), months.rem_euclid(12) as u32 + 1);
        let days = days_from_civil(year, month, i64::from(day) - i64::from(self.days));
        let secs = i128::from(days) * i128::from(SECS_PER_DAY) + i128::from(local.second_of_day)
            - i128::from(utc_offset_secs)
            - i128::from(self.hours) * 3600;
        secs * i128::from(NS_PER_SEC) + i128::from(time_ns.rem_euclid(NS_PER_SEC))
    }
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = |why: &str| Error::InvalidOption(format!("invalid duration {text:?}: {why} (e.g. 1y2m7d12h)"));
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(invalid("it is empty"));
        }
        let mut out = Self::ZERO;
        let mut seen = [false; 4];
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid("expected a number"));
            }
            let number: u32 = rest[..digits].parse().map_err(|_| invalid("number too large"))?;
            let (slot, field) = match rest.as_bytes().get(digits) {
                Some(b'y') => (0, &mut out.years),
                Some(b'm') => (1, &mut out.months),
                Some(b'd') => (2, &mut out.days),
                Some(b'h') => (3, &mut out.hours),
                Some(_) => return Err(invalid("units are y, m, d and h")),
                None => return Err(invalid("a number needs a unit (y, m, d or h)")),
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(invalid("a unit is given twice"));
            }
            *field = number;
            rest = &rest[digits + 1..];
        }
        Ok(out)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0h");
        }
        for (n, unit) in [(self.years, 'y'), (self.months, 'm'), (self.days, 'd'), (self.hours, 'h')] {
            if n != 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

impl From<Duration> for String {
    fn from(d: Duration) -> Self {
        d.to_string()
    }
}

impl TryFrom<String> for Duration {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        text.parse()
    }
}

/// A calendar period: the bucket of a counting rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    /// A clock hour, `:00` to `:59`.
    Hour,
    /// A day, 00:00 to 23:59.
    Day,
    /// An ISO 8601 week: Monday to Sunday, numbered within its ISO year.
    Week,
    /// A calendar month.
    Month,
    /// A calendar year.
    Year,
}

impl Period {
    /// `hourly`, `daily`, ...
    pub fn adjective(self) -> &'static str {
        match self {
            Self::Hour => "hourly",
            Self::Day => "daily",
            Self::Week => "weekly",
            Self::Month => "monthly",
            Self::Year => "yearly",
        }
    }

    /// The bucket of `time_ns` at `utc_offset_secs`, as restic numbers them: `YYYYMMDDHH`,
    /// `YYYYMMDD`, `YYYYWW` (ISO year and week), `YYYYMM`, `YYYY`.
    pub fn bucket(self, time_ns: i64, utc_offset_secs: i32) -> i64 {
        let local = Local::of(time_ns, utc_offset_secs);
        let (year, month, day) = civil_from_days(local.days);
        let (month, day) = (i64::from(month), i64::from(day));
        match self {
            Self::Hour => year * 1_000_000 + month * 10_000 + day * 100 + local.second_of_day / 3600,
            Self::Day => year * 10_000 + month * 100 + day,
            Self::Week => {
                let (iso_year, week) = iso_week(local.days);
                iso_year * 100 + week
            }
            Self::Month => year * 100 + month,
            Self::Year => year,
        }
    }
}

/// The ISO 8601 year and week of a day counted from 1970-01-01: the week belongs to the year of
/// its Thursday.
fn iso_week(days: i64) -> (i64, i64) {
    // 1970-01-01 was a Thursday; Monday is 0.
    let weekday = (days + 3).rem_euclid(7);
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    (year, (thursday - days_from_civil(year, 1, 1)) / 7 + 1)
}

/// Time at a fixed UTC offset, split into day and second of that day.
struct Local {
    days: i64,
    second_of_day: i64,
}

impl Local {
    fn of(time_ns: i64, utc_offset_secs: i32) -> Self {
        let secs = time_ns.div_euclid(NS_PER_SEC) + i64::from(utc_offset_secs);
        Self { days: secs.div_euclid(SECS_PER_DAY), second_of_day: secs.rem_euclid(SECS_PER_DAY) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600 * NS_PER_SEC;
    const DAY: i64 = 24 * HOUR;

    /// ns of a UTC date and hour.
    fn at(year: i64, month: u32, day: i64, hour: i64) -> i64 {
        days_from_civil(year, month, day) * DAY + hour * HOUR
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!("1y2m3d4h".parse::<Duration>().unwrap(), Duration::new(1, 2, 3, 4));
        assert_eq!("4h1y".parse::<Duration>().unwrap(), Duration::new(1, 0, 0, 4));
        assert_eq!(" 7d ".parse::<Duration>().unwrap(), Duration::new(0, 0, 7, 0));
        assert_eq!(Duration::new(1, 0, 14, 0).to_string(), "1y14d");
        assert_eq!(Duration::ZERO.to_string(), "0h");
        for bad in ["", "d", "1", "1w", "1d2d", "-1d", "1.5d", "99999999999y", "1d 2h"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(String::from(Duration::new(0, 1, 0, 2)), "1m2h");
        assert_eq!(Duration::try_from("2y".to_owned()).unwrap(), Duration::new(2, 0, 0, 0));
    }

    #[test]
    fn month_arithmetic_follows_go_add_date() {
        // One month before March 31 is "February 31": March 3 (2015) or March 2 (2016).
        assert_eq!(Duration::new(0, 1, 0, 0).before(at(2015, 3, 31, 0), 0), i128::from(at(2015, 3, 3, 0)));
        assert_eq!(Duration::new(0, 1, 0, 0).before(at(2016, 3, 31, 0), 0), i128::from(at(2016, 3, 2, 0)));
        // Years, months, days and hours together; across a year boundary.
        assert_eq!(Duration::new(1, 2, 3, 4).before(at(2016, 1, 18, 12), 0), i128::from(at(2014, 11, 15, 8)));
        // A huge duration does not overflow.
        assert!(Duration::new(9999, 0, 0, 0).before(at(2016, 1, 1, 0), 0) < i128::from(i64::MIN));
        // In a zone east of UTC, local midnight of March 31 minus one month is local March 3.
        let offset = 2 * 3600;
        let local_midnight = at(2015, 3, 31, 0) - i64::from(offset) * NS_PER_SEC;
        assert_eq!(
            Duration::new(0, 1, 0, 0).before(local_midnight, offset),
            i128::from(at(2015, 3, 3, 0) - i64::from(offset) * NS_PER_SEC)
        );
    }

    #[test]
    fn buckets_and_iso_weeks() {
        let t = at(2016, 1, 4, 10) + 23 * 60 * NS_PER_SEC;
        assert_eq!(Period::Hour.bucket(t, 0), 2_016_010_410);
        assert_eq!(Period::Day.bucket(t, 0), 20_160_104);
        assert_eq!(Period::Month.bucket(t, 0), 201_601);
        assert_eq!(Period::Year.bucket(t, 0), 2016);
        // ISO weeks: 2016-01-03 (a Sunday) is in 2015's week 53; 2016-01-04 starts week 1.
        assert_eq!(Period::Week.bucket(at(2016, 1, 3, 12), 0), 201_553);
        assert_eq!(Period::Week.bucket(at(2016, 1, 4, 0), 0), 201_601);
        // 2014-12-29 (a Monday) is week 1 of 2015; 2021-01-01 (a Friday) week 53 of 2020.
        assert_eq!(Period::Week.bucket(at(2014, 12, 29, 0), 0), 201_501);
        assert_eq!(Period::Week.bucket(at(2021, 1, 1, 0), 0), 202_053);
        assert_eq!(Period::Week.bucket(at(2018, 12, 31, 0), 0), 201_901);
        // Before the epoch.
        assert_eq!(Period::Day.bucket(-1, 0), 19_691_231);
        assert_eq!(Period::Week.bucket(at(1969, 12, 29, 0), 0), 197_001);
        // The offset moves the bucket: 23:30 UTC is the next day at UTC+1.
        let late = at(2016, 1, 4, 23) + 30 * 60 * NS_PER_SEC;
        assert_eq!(Period::Day.bucket(late, 0), 20_160_104);
        assert_eq!(Period::Day.bucket(late, 3600), 20_160_105);
        assert_eq!(Period::Day.bucket(at(2016, 1, 4, 0), -3600), 20_160_103);
    }
}
