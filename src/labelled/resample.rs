//! `resample`: groups of contiguous time bins, as xarray's (pandas')
//! `resample(time=freq)` with its defaults for the frequencies here: bins
//! closed on the left and labelled by their start, anchored at the start
//! of the first day (`"6h"`, `"1D"`) or at the calendar's period starts
//! (`"MS"`, `"QS-DEC"`, `"YS"`), every bin from the first time's to the
//! last's (an empty one gives NaN). The same one-pass grouped reduction as
//! `groupby`.

use std::sync::Arc;

use super::cf_time::CfDatetime;
use super::data_array::DataArray;
use super::groupby::GroupBy;
use super::values::Values;
use crate::error::{Error, Result};

/// A resampling frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    /// `n` hours from midnight of the first day.
    Hours(u32),
    /// `n` days from the first day.
    Days(u32),
    /// `n` months from the first time's month.
    MonthStart(u32),
    /// Quarters starting in the month `first` (1-12) and every third.
    QuarterStart { first: u32 },
    /// `n` years from the first time's year.
    YearStart(u32),
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

fn parse(freq: &str) -> Option<Freq> {
    let split = freq
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(freq.len());
    let (count, unit) = freq.split_at(split);
    let n: u32 = if count.is_empty() {
        1
    } else {
        count.parse().ok().filter(|&n| n > 0)?
    };
    Some(match unit {
        "h" | "H" => Freq::Hours(n),
        "D" => Freq::Days(n),
        "MS" => Freq::MonthStart(n),
        "YS" | "AS" if n == 1 => Freq::YearStart(1),
        "YS" | "AS" => Freq::YearStart(n),
        "QS" if n == 1 => Freq::QuarterStart { first: 1 },
        _ => match unit.strip_prefix("QS-") {
            Some(month) if n == 1 => Freq::QuarterStart {
                first: MONTHS.iter().position(|m| *m == month)? as u32 + 1,
            },
            _ => return None,
        },
    })
}

impl Freq {
    /// The start of the bin holding `t`'s first instant, in `t`'s calendar.
    fn first_edge(self, t: &CfDatetime) -> Result<CfDatetime> {
        let c = t.calendar;
        Ok(match self {
            Freq::Hours(_) | Freq::Days(_) => {
                CfDatetime::new(t.year, t.month, t.day, 0, 0, 0, 0, c)?
            }
            Freq::MonthStart(_) => CfDatetime::new(t.year, t.month, 1, 0, 0, 0, 0, c)?,
            Freq::YearStart(_) => CfDatetime::new(t.year, 1, 1, 0, 0, 0, 0, c)?,
            Freq::QuarterStart { first } => {
                // The latest quarter start at or before t's month.
                let back = (t.month + 12 - first) % 3;
                let (mut year, mut month) = (t.year, t.month as i64 - back as i64);
                if month < 1 {
                    month += 12;
                    year -= 1;
                }
                CfDatetime::new(year, month as u32, 1, 0, 0, 0, 0, c)?
            }
        })
    }

    /// The start of the bin after the one starting at `edge`.
    fn next(self, edge: &CfDatetime) -> Result<CfDatetime> {
        let months = |n: u32| -> Result<CfDatetime> {
            let total = edge.year * 12 + i64::from(edge.month - 1) + i64::from(n);
            CfDatetime::new(
                total.div_euclid(12),
                (total.rem_euclid(12) + 1) as u32,
                1,
                0,
                0,
                0,
                0,
                edge.calendar,
            )
        };
        match self {
            Freq::Hours(n) => edge.plus_microseconds(i128::from(n) * 3_600_000_000),
            Freq::Days(n) => edge.plus_microseconds(i128::from(n) * 86_400_000_000),
            Freq::MonthStart(n) => months(n),
            Freq::QuarterStart { .. } => months(3),
            Freq::YearStart(n) => months(12 * n),
        }
    }
}

impl DataArray {
    /// Groups `dim`'s times into contiguous bins of `freq` (xarray's
    /// `resample(dim=freq)`): `"<n>h"`, `"<n>D"`, `"<n>MS"`, `"QS-DEC"`
    /// (or another month), `"YS"`; then reduce (`mean`, `sum`, …) as a
    /// [`GroupBy`]. The result keeps the dimension's name, labelled by
    /// each bin's start.
    ///
    /// ```
    /// use ndchunk::{Array, Calendar, Coord, DataArray, TimeUnits, Values};
    /// let units: TimeUnits = "hours since 2001-01-01".parse().unwrap();
    /// let hours: Vec<_> = (0..72).map(|h| units.decode(h as f64, Calendar::NoLeap).unwrap()).collect();
    /// let t = DataArray::new(Array::<f64>::arange(72, [24]).unwrap(), &["time"]).unwrap()
    ///     .with_coord("time", Coord::new(&["time"], Values::Time(ndarray::arr1(&hours).into_dyn())).unwrap()).unwrap();
    /// let daily = t.resample("time", "1D").unwrap().mean().unwrap();
    /// assert_eq!(daily.values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![11.5, 35.5, 59.5]);
    /// ```
    pub fn resample(&self, dim: &str, freq: &str) -> Result<GroupBy> {
        let fails = |message: String| Error::Invalid {
            operation: format!("resample({dim}={freq:?})"),
            message,
        };
        let parsed = parse(freq).ok_or_else(|| {
            fails(format!(
                "unknown frequency {freq:?}: \"<n>h\", \"<n>D\", \"<n>MS\", \"QS\", \"QS-<MON>\", \"<n>YS\""
            ))
        })?;
        let index = super::index_of(&self.coords, dim)?;
        let Values::Time(times) = index else {
            return Err(fails(format!("{dim:?} holds no dates to resample")));
        };
        if times.iter().any(CfDatetime::is_nat) {
            return Err(fails(format!(
                "the times of {dim:?} include NaT (a missing time), which falls in no bin: \
                 select the others first"
            )));
        }
        if index.monotonic() != Some(std::cmp::Ordering::Less) {
            return Err(fails(format!(
                "the times of {dim:?} are not sorted ascending"
            )));
        }
        let times: Vec<CfDatetime> = times.iter().copied().collect();
        let mut edges = Vec::new();
        let mut group_of = Vec::with_capacity(times.len());
        if let Some(first) = times.first() {
            let mut start = parsed.first_edge(first)?;
            let mut end = parsed.next(&start)?;
            edges.push(start);
            for t in &times {
                while *t >= end {
                    start = end;
                    end = parsed.next(&start)?;
                    edges.push(start);
                }
                group_of.push((edges.len() - 1) as u32);
            }
        }
        Ok(GroupBy::new(
            self.clone(),
            dim,
            dim,
            Values::Time(ndarray::Array1::from(edges).into_dyn()),
            Arc::from(group_of),
        )
        .with_label_attrs(self.coords[dim].attrs.clone()))
    }
}
