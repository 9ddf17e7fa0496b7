//! CF calendars: dates of every calendar that model output uses, as day
//! numbers and back, with cftime's rules (the one Rust port of cftime is
//! AGPL-3.0, so the arithmetic is written here; it is small).
//!
//! A date is a day number within its calendar plus a time of day. Day
//! numbers of the Julian and Gregorian calendars share one axis, so that
//! `standard` (Julian before 1582-10-15, Gregorian from then on) is the
//! two joined. Year numbering follows cftime's defaults (CF 1.9):
//! `standard`/`gregorian` and `julian` have no year zero (1 BC is year -1);
//! `proleptic_gregorian` and the idealised calendars have one.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A CF calendar (the `calendar` attribute of a time coordinate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Calendar {
    /// `standard` / `gregorian`: Julian before 1582-10-15, Gregorian
    /// after; the ten days between do not exist.
    Standard,
    /// `proleptic_gregorian`: Gregorian rules at every date (ISO 8601).
    ProlepticGregorian,
    /// `noleap` / `365_day`: no leap years.
    NoLeap,
    /// `all_leap` / `366_day`: every year a leap year.
    AllLeap,
    /// `360_day`: twelve months of 30 days.
    Day360,
    /// `julian`: a leap year every four years.
    Julian,
}

impl Calendar {
    /// The name CF and cftime write.
    pub fn name(self) -> &'static str {
        match self {
            Calendar::Standard => "standard",
            Calendar::ProlepticGregorian => "proleptic_gregorian",
            Calendar::NoLeap => "noleap",
            Calendar::AllLeap => "all_leap",
            Calendar::Day360 => "360_day",
            Calendar::Julian => "julian",
        }
    }

    /// Whether the calendar has a year zero (cftime's `has_year_zero`
    /// defaults): without one, the year before 1 is -1.
    pub fn has_year_zero(self) -> bool {
        !matches!(self, Calendar::Standard | Calendar::Julian)
    }

    /// Days in `month` (1–12) of `year` (as the calendar numbers years).
    pub fn days_in_month(self, year: i64, month: u32) -> u32 {
        const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        let base = DAYS[(month.clamp(1, 12) - 1) as usize];
        match self {
            Calendar::Day360 => 30,
            _ if month != 2 => base,
            Calendar::NoLeap => 28,
            Calendar::AllLeap => 29,
            _ => 28 + u32::from(self.is_leap(year)),
        }
    }

    /// Whether `year` (as the calendar numbers years) is a leap year.
    pub fn is_leap(self, year: i64) -> bool {
        let astronomical = self.astronomical(year);
        let julian = astronomical.rem_euclid(4) == 0;
        let gregorian =
            julian && (astronomical.rem_euclid(100) != 0 || astronomical.rem_euclid(400) == 0);
        match self {
            Calendar::NoLeap | Calendar::Day360 => false,
            Calendar::AllLeap => true,
            Calendar::Julian => julian,
            Calendar::ProlepticGregorian => gregorian,
            Calendar::Standard if year < 1582 => julian,
            Calendar::Standard => gregorian,
        }
    }

    /// Days in every year of an idealised calendar (365 otherwise unused).
    fn fixed_year_days(self) -> i64 {
        match self {
            Calendar::AllLeap => 366,
            Calendar::Day360 => 360,
            _ => 365,
        }
    }

    /// `year` in astronomical numbering (1 BC is 0).
    fn astronomical(self, year: i64) -> i64 {
        if !self.has_year_zero() && year < 0 {
            year + 1
        } else {
            year
        }
    }

    /// `year` in the calendar's own numbering.
    fn own_year(self, year: i64) -> i64 {
        if !self.has_year_zero() && year <= 0 {
            year - 1
        } else {
            year
        }
    }

    /// The day number of a date, checked: a day that the calendar does not
    /// have is an error naming it.
    pub fn day_number(self, year: i64, month: u32, day: u32) -> Result<i64> {
        let bad = |why: String| Error::Invalid {
            operation: format!("{} calendar", self.name()),
            message: format!("{year:04}-{month:02}-{day:02}: {why}"),
        };
        if year.abs() > MAX_YEAR {
            return Err(bad(format!(
                "years beyond ±{MAX_YEAR} are outside what ndchunk's calendars compute"
            )));
        }
        if year == 0 && !self.has_year_zero() {
            return Err(bad(format!(
                "there is no year zero in the {} calendar (1 BC is year -1); a \
                 climatology's year 0 (as Ferret writes it) decodes in \
                 proleptic_gregorian, which has one",
                self.name()
            )));
        }
        if !(1..=12).contains(&month) {
            return Err(bad("the month must be 1 to 12".into()));
        }
        if day < 1 || day > self.days_in_month(year, month) {
            return Err(bad(format!(
                "month {month} has {} days in the {} calendar",
                self.days_in_month(year, month),
                self.name()
            )));
        }
        let y = self.astronomical(year);
        Ok(match self {
            Calendar::ProlepticGregorian => gregorian_days(y, month, day),
            Calendar::Julian => julian_days(y, month, day),
            Calendar::Standard => {
                if (year, month, day) >= (1582, 10, 15) {
                    gregorian_days(y, month, day)
                } else if (year, month, day) <= (1582, 10, 4) {
                    julian_days(y, month, day)
                } else {
                    return Err(bad(
                        "1582-10-05 to 1582-10-14 do not exist in the standard calendar \
                         (the Julian calendar ends on the 4th, the Gregorian starts on the 15th)"
                            .into(),
                    ));
                }
            }
            Calendar::NoLeap | Calendar::AllLeap | Calendar::Day360 => {
                let year_days = self.fixed_year_days();
                let before: u32 = (1..month).map(|m| self.days_in_month(year, m)).sum();
                y * year_days + i64::from(before) + i64::from(day) - 1
            }
        })
    }

    /// The date (year as the calendar numbers it, month, day) of a day
    /// number.
    pub fn date(self, day_number: i64) -> (i64, u32, u32) {
        let (y, m, d) = match self {
            Calendar::ProlepticGregorian => gregorian_date(day_number),
            Calendar::Julian => julian_date(day_number),
            Calendar::Standard if day_number >= GREGORIAN_START => gregorian_date(day_number),
            Calendar::Standard => julian_date(day_number),
            Calendar::NoLeap | Calendar::AllLeap | Calendar::Day360 => {
                let year_days = self.fixed_year_days();
                let year = day_number.div_euclid(year_days);
                let mut rest = day_number.rem_euclid(year_days) as u32;
                let mut month = 1;
                while rest >= self.days_in_month(year, month) {
                    rest -= self.days_in_month(year, month);
                    month += 1;
                }
                (year, month, rest + 1)
            }
        };
        (self.own_year(y), m, d)
    }
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Calendar {
    type Err = Error;

    /// CF's names and aliases, in any case.
    fn from_str(name: &str) -> Result<Calendar> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "standard" | "gregorian" => Calendar::Standard,
            "proleptic_gregorian" => Calendar::ProlepticGregorian,
            "noleap" | "365_day" => Calendar::NoLeap,
            "all_leap" | "366_day" => Calendar::AllLeap,
            "360_day" => Calendar::Day360,
            "julian" => Calendar::Julian,
            _ => {
                return Err(Error::Invalid {
                    operation: "calendar".into(),
                    message: format!(
                        "unknown calendar {name:?}; CF's are standard (gregorian), \
                         proleptic_gregorian, noleap (365_day), all_leap (366_day), 360_day, julian"
                    ),
                })
            }
        })
    }
}

/// Days from 1970-01-01 (proleptic Gregorian) of an astronomical-year
/// Gregorian date: Howard Hinnant's `days_from_civil`, for any year.
fn gregorian_days(year: i64, month: u32, day: u32) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The Gregorian date of a day number from [`gregorian_days`].
fn gregorian_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    civil(era * 400 + yoe, doe - (365 * yoe + yoe / 4 - yoe / 100))
}

/// The day number (on [`gregorian_days`]'s axis) of an astronomical-year
/// Julian date: four-year eras, the leap day last.
fn julian_days(year: i64, month: u32, day: u32) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(4);
    let yoe = y.rem_euclid(4);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    era * 1461 + yoe * 365 + doy + JULIAN_OFFSET
}

/// The Julian date of a day number from [`julian_days`].
fn julian_date(days: i64) -> (i64, u32, u32) {
    let z = days - JULIAN_OFFSET;
    let era = z.div_euclid(1461);
    let doe = z.rem_euclid(1461);
    let yoe = (doe - doe / 1460) / 365;
    civil(era * 4 + yoe, doe - 365 * yoe)
}

/// Year, month and day from a March-based year and its day (0 = March 1).
fn civil(march_year: i64, doy: i64) -> (i64, u32, u32) {
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (march_year + i64::from(month <= 2), month, day)
}

/// The largest year (either way) a date may have: far beyond any model's,
/// and small enough that no day count overflows.
const MAX_YEAR: i64 = 100_000_000_000;

/// The first day of the Gregorian calendar, 1582-10-15, on the common axis.
const GREGORIAN_START: i64 = -141_427;

/// Puts Julian day numbers on the Gregorian axis: Julian 1582-10-05 (the
/// day after the last Julian day of the standard calendar; day 578,043
/// counted from Julian March 1 of year 0) is Gregorian 1582-10-15.
const JULIAN_OFFSET: i64 = GREGORIAN_START - 578_043;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axes_meet_where_the_standard_calendar_switches() {
        assert_eq!(gregorian_days(1970, 1, 1), 0);
        assert_eq!(gregorian_days(1582, 10, 15), GREGORIAN_START);
        assert_eq!(julian_days(1582, 10, 5), GREGORIAN_START);
        assert_eq!(julian_days(1582, 10, 4) + 1, GREGORIAN_START);
        let standard = Calendar::Standard;
        let last_julian = standard.day_number(1582, 10, 4).unwrap();
        assert_eq!(standard.date(last_julian + 1), (1582, 10, 15));
        assert!(standard.day_number(1582, 10, 10).is_err());
    }

    #[test]
    fn every_day_round_trips_in_every_calendar() {
        use Calendar::*;
        for calendar in [
            Standard,
            ProlepticGregorian,
            NoLeap,
            AllLeap,
            Day360,
            Julian,
        ] {
            let start = calendar.day_number(-802, 2, 27).unwrap();
            let mut previous = calendar.date(start - 1);
            for n in start..start + 3 * 146_097 {
                let (y, m, d) = calendar.date(n);
                assert_eq!(
                    calendar.day_number(y, m, d).unwrap(),
                    n,
                    "{calendar} {y}-{m}-{d}"
                );
                // Consecutive day numbers are consecutive dates.
                assert!(
                    (y, m, d) > previous,
                    "{calendar}: {previous:?} then {y}-{m}-{d}"
                );
                let next_day = (y, m) == (previous.0, previous.1) && d == previous.2 + 1;
                let switch = calendar == Standard && (y, m, d) == (1582, 10, 15);
                assert!(
                    next_day || d == 1 || switch,
                    "{calendar}: {previous:?} then {y}-{m}-{d}"
                );
                previous = (y, m, d);
            }
        }
    }
}
