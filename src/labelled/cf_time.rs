//! CF time: numbers in `"<unit> since <date>"` decoded to dates of a
//! [`Calendar`] and encoded back, as `cftime.num2date` / `date2num` do
//! (times to the microsecond).

use std::fmt;
use std::str::FromStr;

use super::calendar::Calendar;
use crate::error::{Error, Result};

/// Microseconds in a day.
const DAY_US: i128 = 86_400_000_000;

/// A date and time of a CF calendar, to the microsecond, or a missing
/// time ([`CfDatetime::nat`], numpy's NaT). Dates of one calendar order
/// chronologically; NaT sorts after every date, as numpy sorts it (an
/// index holding NaT is not sorted: see `Values::monotonic`).
///
/// ```
/// use ndchunk::{Calendar, CfDatetime, TimeUnits};
/// let units: TimeUnits = "days since 2000-01-01".parse().unwrap();
/// let t = units.decode(59.5, Calendar::Day360).unwrap();
/// assert_eq!(t, CfDatetime::new(2000, 2, 30, 12, 0, 0, 0, Calendar::Day360).unwrap());
/// assert_eq!(t.to_string(), "2000-02-30 12:00:00");
/// assert_eq!(units.encode(&t).unwrap(), 59.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CfDatetime {
    /// The year, as the calendar numbers it (see [`Calendar::has_year_zero`]).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to the days of the month.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 to 999,999.
    pub microsecond: u32,
    /// The calendar it is a date of.
    pub calendar: Calendar,
}

impl Ord for CfDatetime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // NaT's fields are zero: compared as they are, it would fall
        // between year -1 and year 1.
        let key = |t: &CfDatetime| {
            (
                t.is_nat(),
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second,
                t.microsecond,
                t.calendar,
            )
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for CfDatetime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl CfDatetime {
    /// A date of `calendar`, checked: a day or time the calendar does not
    /// have is an error naming it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        microsecond: u32,
        calendar: Calendar,
    ) -> Result<CfDatetime> {
        calendar.day_number(year, month, day)?;
        if hour > 23 || minute > 59 || second > 59 || microsecond > 999_999 {
            return Err(Error::Invalid {
                operation: format!("{calendar} calendar"),
                message: format!(
                    "{hour:02}:{minute:02}:{second:02}.{microsecond:06} is not a time of day"
                ),
            });
        }
        Ok(CfDatetime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond,
            calendar,
        })
    }

    /// A missing time in `calendar`, as numpy's NaT (what xarray decodes
    /// a masked time to): it is no day of the calendar (month 0), shows as
    /// `NaT`, and has no distance to any date.
    ///
    /// ```
    /// use ndchunk::{Calendar, CfDatetime, TimeUnits};
    /// let nat = CfDatetime::nat(Calendar::NoLeap);
    /// assert!(nat.is_nat());
    /// assert_eq!(nat.to_string(), "NaT");
    /// let units: TimeUnits = "days since 2000-01-01".parse().unwrap();
    /// assert_eq!(units.decode(f64::NAN, Calendar::NoLeap).unwrap(), nat);
    /// assert!(units.encode(&nat).is_err());
    /// ```
    pub fn nat(calendar: Calendar) -> CfDatetime {
        CfDatetime {
            year: 0,
            month: 0,
            day: 0,
            hour: 0,
            minute: 0,
            second: 0,
            microsecond: 0,
            calendar,
        }
    }

    /// Whether this is a missing time ([`CfDatetime::nat`]).
    pub fn is_nat(&self) -> bool {
        self.month == 0
    }

    /// Seconds from `other` to this date (both of one calendar; `None`
    /// across calendars).
    pub(crate) fn seconds_between(&self, other: &CfDatetime) -> Option<f64> {
        if self.calendar != other.calendar {
            return None;
        }
        let us = self.microseconds().ok()? - other.microseconds().ok()?;
        Some(us as f64 / 1e6)
    }

    /// The date `us` microseconds after this one.
    pub(crate) fn plus_microseconds(&self, us: i128) -> Result<CfDatetime> {
        CfDatetime::from_microseconds(self.microseconds()? + us, self.calendar)
    }

    /// Microseconds from the start of day 0 of its calendar (an error for
    /// NaT).
    fn microseconds(&self) -> Result<i128> {
        if self.is_nat() {
            return Err(Error::Invalid {
                operation: format!("{} calendar", self.calendar),
                message: "NaT (a missing time) is no point in time".into(),
            });
        }
        let day = self.calendar.day_number(self.year, self.month, self.day)?;
        let time = ((i128::from(self.hour) * 60 + i128::from(self.minute)) * 60
            + i128::from(self.second))
            * 1_000_000
            + i128::from(self.microsecond);
        Ok(i128::from(day) * DAY_US + time)
    }

    /// The date `us` microseconds from the start of day 0 of `calendar`.
    fn from_microseconds(us: i128, calendar: Calendar) -> Result<CfDatetime> {
        let day = i64::try_from(us.div_euclid(DAY_US)).map_err(|_| Error::Invalid {
            operation: format!("{calendar} calendar"),
            message: "a date beyond any calendar's years".into(),
        })?;
        let time = us.rem_euclid(DAY_US);
        let (year, month, d) = calendar.date(day);
        let second_of_day = (time / 1_000_000) as u32;
        Ok(CfDatetime {
            year,
            month,
            day: d,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            microsecond: (time % 1_000_000) as u32,
            calendar,
        })
    }
}

impl fmt::Display for CfDatetime {
    /// `YYYY-MM-DD hh:mm:ss`, with `.ffffff` when there are microseconds;
    /// `NaT` for a missing time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_nat() {
            return f.write_str("NaT");
        }
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.microsecond != 0 {
            write!(f, ".{:06}", self.microsecond)?;
        }
        Ok(())
    }
}

/// The time encoding a variable's CF attributes give: its `units` when
/// they are `"<unit> since <date>"`, and its `calendar` (CF's default,
/// `standard`, when there is none). `None` for a variable that is not a
/// time; an error for a time whose calendar is unknown.
///
/// ```
/// use ndchunk::{time_encoding, Calendar};
/// let attrs = serde_json::json!({"units": "days since 1850-01-01", "calendar": "noleap"});
/// let (units, calendar) = time_encoding(attrs.as_object().unwrap()).unwrap().unwrap();
/// assert_eq!(calendar, Calendar::NoLeap);
/// assert_eq!(units.decode(365.0, calendar).unwrap().to_string(), "1851-01-01 00:00:00");
/// ```
pub fn time_encoding(
    attributes: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<(TimeUnits, Calendar)>> {
    let Some(units) = attributes.get("units").and_then(|u| u.as_str()) else {
        return Ok(None);
    };
    if !units.to_ascii_lowercase().contains(" since ") {
        return Ok(None);
    }
    let calendar = match attributes.get("calendar").and_then(|c| c.as_str()) {
        Some(name) => name.parse()?,
        None => Calendar::Standard,
    };
    Ok(Some((units.parse()?, calendar)))
}

/// The unit of a CF time axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `microseconds`.
    Microseconds,
    /// `milliseconds`.
    Milliseconds,
    /// `seconds` (`second`, `secs`, `sec`, `s`).
    Seconds,
    /// `minutes` (`minute`, `mins`, `min`).
    Minutes,
    /// `hours` (`hour`, `hrs`, `hr`, `h`).
    Hours,
    /// `days` (`day`, `d`).
    Days,
    /// `months`: 30 days, for the `360_day` calendar only (as cftime).
    Months,
}

impl TimeUnit {
    fn microseconds(self) -> i128 {
        match self {
            TimeUnit::Microseconds => 1,
            TimeUnit::Milliseconds => 1_000,
            TimeUnit::Seconds => 1_000_000,
            TimeUnit::Minutes => 60_000_000,
            TimeUnit::Hours => 3_600_000_000,
            TimeUnit::Days => DAY_US,
            TimeUnit::Months => 30 * DAY_US,
        }
    }
}

/// A CF time axis's `units`: `"<unit> since <date>"`, the reference date
/// read in whatever calendar the axis has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeUnits {
    /// The unit.
    pub unit: TimeUnit,
    /// The reference as written: year, month, day, hour, minute, second,
    /// microsecond (in the zone of `offset_minutes`).
    reference: (i64, u32, u32, u32, u32, u32, u32),
    /// Minutes east of UTC the reference was given in.
    offset_minutes: i64,
    text: String,
}

impl TimeUnits {
    /// The reference date in `calendar`, as written (in the units' own
    /// time zone; [`decode`](Self::decode) works in UTC).
    pub fn reference(&self, calendar: Calendar) -> Result<CfDatetime> {
        let (y, mo, d, h, mi, s, us) = self.reference;
        CfDatetime::new(y, mo, d, h, mi, s, us, calendar).map_err(|e| self.error(&e.to_string()))
    }

    /// The date `value` units after the reference, in `calendar`, to the
    /// nearest microsecond (as cftime); NaN (a masked time) is NaT.
    pub fn decode(&self, value: f64, calendar: Calendar) -> Result<CfDatetime> {
        self.check_unit(calendar)?;
        if value.is_nan() {
            return Ok(CfDatetime::nat(calendar));
        }
        if !value.is_finite() {
            return Err(self.error(&format!("{value} is not a time")));
        }
        let reference = self.reference_microseconds(calendar)?;
        let offset = value * self.unit.microseconds() as f64;
        // Some 30 billion years: beyond it, no calendar arithmetic is asked.
        if offset.abs() > 1e24 {
            return Err(self.error(&format!("{value} is beyond any calendar's years")));
        }
        // Halves to even, as numpy's `around` (which cftime uses).
        CfDatetime::from_microseconds(reference + offset.round_ties_even() as i128, calendar)
    }

    /// The value of `date` in these units (in `date`'s calendar).
    pub fn encode(&self, date: &CfDatetime) -> Result<f64> {
        self.check_unit(date.calendar)?;
        let reference = self.reference_microseconds(date.calendar)?;
        let us = date.microseconds()? - reference;
        let unit = self.unit.microseconds();
        // Whole units exactly; the rest as a fraction.
        Ok((us.div_euclid(unit)) as f64 + us.rem_euclid(unit) as f64 / unit as f64)
    }

    fn reference_microseconds(&self, calendar: Calendar) -> Result<i128> {
        Ok(
            self.reference(calendar)?.microseconds()?
                - i128::from(self.offset_minutes) * 60_000_000,
        )
    }

    fn check_unit(&self, calendar: Calendar) -> Result<()> {
        if self.unit == TimeUnit::Months && calendar != Calendar::Day360 {
            return Err(self.error(&format!(
                "months are a time unit of the 360_day calendar only, not of {calendar}"
            )));
        }
        Ok(())
    }

    fn error(&self, message: &str) -> Error {
        Error::Invalid {
            operation: format!("time units {:?}", self.text),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for TimeUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for TimeUnits {
    type Err = Error;

    /// `"<unit> since <date>"`: a date `Y-M-D` (years of any length, a
    /// leading `-` for years before 1), then optionally a time `h:m:s` (or
    /// `h:m`, `h`; fractions of a second) after a space or `T`, then
    /// optionally a time zone (`Z`, `UTC`, `+h`, `-h:mm`).
    fn from_str(text: &str) -> Result<TimeUnits> {
        let fail = |message: &str| Error::Invalid {
            operation: format!("time units {text:?}"),
            message: message.to_string(),
        };
        let lower = text.trim().to_ascii_lowercase();
        let (unit, date) = lower.split_once(" since ").ok_or_else(|| {
            fail("expected \"<unit> since <date>\", e.g. \"days since 2000-01-01\"")
        })?;
        let unit = match unit.trim() {
            "microseconds" | "microsecond" | "microsecs" | "microsec" | "us" => {
                TimeUnit::Microseconds
            }
            "milliseconds" | "millisecond" | "millisecs" | "millisec" | "msecs" | "msec" | "ms" => {
                TimeUnit::Milliseconds
            }
            "seconds" | "second" | "secs" | "sec" | "s" => TimeUnit::Seconds,
            "minutes" | "minute" | "mins" | "min" => TimeUnit::Minutes,
            "hours" | "hour" | "hrs" | "hr" | "h" => TimeUnit::Hours,
            "days" | "day" | "d" => TimeUnit::Days,
            "months" | "month" => TimeUnit::Months,
            other => {
                return Err(fail(&format!(
                    "unknown time unit {other:?}: microseconds, milliseconds, seconds, minutes, \
                     hours, days (or months, in the 360_day calendar)"
                )))
            }
        };
        let (reference, offset_minutes) = parse_date(date.trim())
            .ok_or_else(|| fail("the reference date is not Y-M-D [h:m:s] [zone]"))?;
        Ok(TimeUnits {
            unit,
            reference,
            offset_minutes,
            text: text.trim().to_string(),
        })
    }
}

type DateParts = (i64, u32, u32, u32, u32, u32, u32);

/// A reference date and its time zone offset in minutes east of UTC.
fn parse_date(text: &str) -> Option<(DateParts, i64)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (date, time) = match rest.find([' ', 'T', 't']) {
        Some(i) => (&rest[..i], rest[i + 1..].trim()),
        None => (rest, ""),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let year = if negative { -year } else { year };
    // The time, then the zone.
    let zone_at = time
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == '+' || c == '-' || c == 'z' || c == ' ' || c == 'u')
        .map_or(time.len(), |(i, _)| i);
    let (clock, zone) = if time.starts_with(['+', '-', 'z', 'u']) {
        ("", time)
    } else {
        (&time[..zone_at], time[zone_at..].trim())
    };
    let mut hms = clock.split(':').filter(|s| !s.is_empty());
    let hour: u32 = hms.next().map_or(Some(0), |s| s.parse().ok())?;
    let minute: u32 = hms.next().map_or(Some(0), |s| s.parse().ok())?;
    let seconds: f64 = hms.next().map_or(Some(0.0), |s| s.parse().ok())?;
    if hms.next().is_some() || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let whole = seconds.trunc() as u32;
    let micro = ((seconds - seconds.trunc()) * 1e6).round() as u32;
    let offset = match zone {
        "" | "z" | "utc" | "gmt" => 0,
        zone => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let zone = zone.trim_start_matches(['+', '-']);
            let (h, m) = match zone.split_once(':') {
                Some((h, m)) => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
                None if zone.len() == 4 => {
                    (zone.get(..2)?.parse().ok()?, zone.get(2..)?.parse().ok()?)
                }
                None => (zone.parse().ok()?, 0),
            };
            sign * (h * 60 + m)
        }
    };
    Some((
        (year, month, day, hour, minute, whole, micro.min(999_999)),
        offset,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse_as_cf_writes_them() {
        let u: TimeUnits = "hours since 1900-01-01 00:00:0.0".parse().unwrap();
        assert_eq!(u.unit, TimeUnit::Hours);
        assert_eq!(u.reference, (1900, 1, 1, 0, 0, 0, 0));
        let u: TimeUnits = "Days since 1-1-1".parse().unwrap();
        assert_eq!(u.reference, (1, 1, 1, 0, 0, 0, 0));
        let u: TimeUnits = "seconds since 2000-01-01T12:30:15.25Z".parse().unwrap();
        assert_eq!(u.reference, (2000, 1, 1, 12, 30, 15, 250_000));
        let u: TimeUnits = "minutes since 2000-01-01 06:00 -6:00".parse().unwrap();
        assert_eq!(u.offset_minutes, -360);
        let u: TimeUnits = "days since -0001-12-31".parse().unwrap();
        assert_eq!(u.reference.0, -1);
        for bad in [
            "days after 2000-01-01",
            "fortnights since 2000-01-01",
            "days since 2000-13",
        ] {
            assert!(bad.parse::<TimeUnits>().is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_years_are_errors_not_overflows() {
        let units: TimeUnits = "days since 9223372036854775807-01-01".parse().unwrap();
        assert!(units.decode(0.0, Calendar::Standard).is_err());
        let units: TimeUnits = "days since 2000-01-01".parse().unwrap();
        assert!(units.decode(9.2e18, Calendar::ProlepticGregorian).is_err());
        assert!(CfDatetime::new(i64::MAX, 1, 1, 0, 0, 0, 0, Calendar::NoLeap).is_err());
    }

    #[test]
    fn a_time_zone_moves_the_reference_to_utc() {
        let local: TimeUnits = "hours since 2000-01-01 00:00 +02:00".parse().unwrap();
        let t = local.decode(0.0, Calendar::Standard).unwrap();
        assert_eq!(t.to_string(), "1999-12-31 22:00:00");
    }
}
