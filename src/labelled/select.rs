//! Selection by label (`sel`) resolved against an in-memory index into
//! positions, with xarray's (pandas') semantics: exact labels, inclusive
//! label slices in the index's order, lists of labels, `nearest` with a
//! tolerance, and date strings, partial ones (`"2000-07"`) selecting every
//! time they cover. Sorted indexes are searched by bisection.

use std::cmp::Ordering;

use super::cf_time::CfDatetime;
use super::values::Values;
use crate::error::{Error, Result};

/// One label of an index: a number, a date, or a date string (`"2000"`,
/// `"2000-07"`, `"2000-07-16 12:00"`, `T` or a space before the time).
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A date of a CF calendar.
    Time(CfDatetime),
    /// A date string, read in the index's calendar.
    Text(String),
}

impl Label {
    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            Label::Int(v) => Some(*v as f64),
            Label::Float(v) => Some(*v),
            _ => None,
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Int(v) => write!(f, "{v}"),
            Label::Float(v) => write!(f, "{v}"),
            Label::Time(t) => write!(f, "{t}"),
            Label::Text(s) => write!(f, "{s:?}"),
        }
    }
}

macro_rules! label_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Label {
            fn from(v: $t) -> Label {
                Label::$variant(<$as>::from(v))
            }
        }
    )*};
}

label_from!(
    i64 => Int as i64, i32 => Int as i64, i16 => Int as i64, i8 => Int as i64,
    u32 => Int as i64, u16 => Int as i64, u8 => Int as i64,
    f64 => Float as f64, f32 => Float as f64,
    CfDatetime => Time as CfDatetime, String => Text as String, &str => Text as String,
);

/// An integer too large for `i64` is a float label, as an index value of
/// that size is ([`Values::get`]).
///
/// ```
/// use ndchunk::Label;
/// assert_eq!(Label::from(7u64), Label::Int(7));
/// assert_eq!(Label::from(3usize), Label::Int(3));
/// assert_eq!(Label::from(-3isize), Label::Int(-3));
/// assert_eq!(Label::from(u64::MAX), Label::Float(u64::MAX as f64));
/// ```
impl From<u64> for Label {
    fn from(v: u64) -> Label {
        i64::try_from(v).map_or(Label::Float(v as f64), Label::Int)
    }
}

impl From<usize> for Label {
    fn from(v: usize) -> Label {
        Label::from(v as u64)
    }
}

impl From<isize> for Label {
    fn from(v: isize) -> Label {
        Label::Int(v as i64)
    }
}

/// What `sel` picks along one dimension.
#[derive(Debug, Clone, PartialEq)]
pub enum Sel {
    /// One label: the dimension is dropped. A date string (`"2000"`,
    /// `"2000-07"`, down to `"2000-07-16T12:00:00"`) names a period: it
    /// keeps the dimension and picks every time in the period, as
    /// xarray's CFTimeIndex.
    At(Label),
    /// A label slice, both ends included, in the index's order (on a
    /// descending index the start is the larger label); `None` is open.
    Range {
        /// The first label (or the start of a date string's period).
        start: Option<Label>,
        /// The last label (or the end of a date string's period).
        stop: Option<Label>,
    },
    /// Several labels, each exactly: the dimension is kept.
    Labels(Vec<Label>),
    /// The label nearest to the one given (ties go to the larger), within
    /// `tolerance` when set (in the index's units; seconds for times).
    Nearest {
        /// The label looked for.
        label: Label,
        /// The largest distance allowed.
        tolerance: Option<f64>,
    },
}

impl Sel {
    /// The labels from `start` to `stop`, both included.
    pub fn range(start: impl Into<Label>, stop: impl Into<Label>) -> Sel {
        Sel::Range {
            start: Some(start.into()),
            stop: Some(stop.into()),
        }
    }

    /// The label nearest to `label`; [`Nearest::tolerance`] bounds the
    /// distance. A tolerance belongs to `nearest` only: xarray ignores one
    /// given with a single label and refuses it with a list or a slice, so
    /// no other selection takes one (this does not compile):
    ///
    /// ```compile_fail
    /// ndchunk::Sel::range(10.0, 20.0).tolerance(1.0);
    /// ```
    pub fn nearest(label: impl Into<Label>) -> Nearest {
        Nearest {
            label: label.into(),
            tolerance: None,
        }
    }
}

/// A `nearest` selection being built: [`Sel::nearest`], then optionally
/// a tolerance; a [`Sel`] by `into` (every `sel` takes it as it is).
///
/// ```
/// use ndchunk::{Array, Coord, DataArray, Sel, Values};
/// let data = Array::from_ndarray(ndarray::arr1(&[1.0, 2.0, 3.0]).into_dyn(), [3]).unwrap();
/// let lat = Coord::new(&["lat"], Values::float(ndarray::arr1(&[10.0, 20.0, 30.0]).into_dyn()));
/// let t = DataArray::new(data, &["lat"]).unwrap().with_coord("lat", lat.unwrap()).unwrap();
/// let at = t.sel("lat", Sel::nearest(21.0).tolerance(1.5)).unwrap();
/// assert_eq!(at.values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![2.0]);
/// assert!(t.sel("lat", Sel::nearest(25.0).tolerance(1.5)).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    label: Label,
    tolerance: Option<f64>,
}

impl Nearest {
    /// Fails beyond `tolerance` (in the index's units; seconds for times).
    pub fn tolerance(self, tolerance: f64) -> Nearest {
        Nearest {
            tolerance: Some(tolerance),
            ..self
        }
    }
}

impl From<Nearest> for Sel {
    fn from(n: Nearest) -> Sel {
        Sel::Nearest {
            label: n.label,
            tolerance: n.tolerance,
        }
    }
}

impl<L: Into<Label>> From<L> for Sel {
    fn from(label: L) -> Sel {
        Sel::At(label.into())
    }
}

impl<L: Into<Label>> From<Vec<L>> for Sel {
    fn from(labels: Vec<L>) -> Sel {
        Sel::Labels(labels.into_iter().map(Into::into).collect())
    }
}

/// Positions along a dimension, and whether the dimension goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pick {
    pub positions: Vec<u64>,
    pub drop: bool,
}

/// The positions `sel` picks on the 1-D index `index` of `dim`.
pub(crate) fn resolve(index: &Values, dim: &str, sel: &Sel) -> Result<Pick> {
    let searcher = Searcher::new(index, dim);
    match sel {
        // A date string names a period, and picks every time in it (the
        // dimension stays, as xarray's CFTimeIndex): none when the period
        // falls between two times, an error when it is outside them all.
        Sel::At(Label::Text(text)) if matches!(index, Values::Time(_)) => {
            let period = searcher.period(text)?;
            let positions: Vec<u64> = (0..index.len())
                .filter(|&i| searcher.within(i, &period.start, &period.end))
                .map(|i| i as u64)
                .collect();
            if positions.is_empty() && !searcher.overlaps(&period) {
                return Err(searcher.not_found(&Label::Text(text.clone())));
            }
            Ok(Pick {
                positions,
                drop: false,
            })
        }
        // A label held once drops the dimension; held several times (a
        // non-unique index), it keeps it with each place, as pandas.
        Sel::At(label) => {
            let positions = searcher.every(label)?;
            let drop = positions.len() == 1;
            Ok(Pick { positions, drop })
        }
        Sel::Labels(labels) => Ok(Pick {
            positions: labels
                .iter()
                .map(|l| searcher.exact(l))
                .collect::<Result<_>>()?,
            drop: false,
        }),
        Sel::Range { start, stop } => searcher.range(start.as_ref(), stop.as_ref()),
        Sel::Nearest { label, tolerance } => Ok(Pick {
            positions: vec![searcher.nearest(label, *tolerance)?],
            drop: true,
        }),
    }
}

struct Searcher<'a> {
    index: &'a Values,
    dim: &'a str,
    /// `Less` ascending, `Greater` descending, `None` unsorted.
    order: Option<Ordering>,
}

/// The period a date string names: `[start, end)`.
struct Period {
    start: CfDatetime,
    end: CfDatetime,
}

impl<'a> Searcher<'a> {
    fn new(index: &'a Values, dim: &'a str) -> Self {
        Searcher {
            index,
            dim,
            order: index.monotonic(),
        }
    }

    fn error(&self, message: String) -> Error {
        Error::Invalid {
            operation: format!("sel on {:?}", self.dim),
            message,
        }
    }

    fn not_found(&self, label: &Label) -> Error {
        self.error(format!(
            "label {label} not found in the index of {:?}",
            self.dim
        ))
    }

    /// The label a date string starts at, in the index's calendar.
    fn resolve_label(&self, label: &Label) -> Result<Label> {
        match (label, self.index) {
            (Label::Text(text), Values::Time(_)) => Ok(Label::Time(self.period(text)?.start)),
            (Label::Text(_), Values::Text(_)) => Ok(label.clone()),
            (Label::Text(text), _) => Err(self.error(format!(
                "the date string {text:?} labels a time index, and {:?}'s is not one",
                self.dim
            ))),
            (Label::Time(_), Values::Time(_)) | (Label::Int(_) | Label::Float(_), _) => {
                Ok(label.clone())
            }
            (Label::Time(t), _) => Err(self.error(format!(
                "the date {t} labels a time index, and {:?}'s is not one",
                self.dim
            ))),
        }
    }

    /// `index[i]` compared with `label`, an error when they cannot be.
    fn cmp(&self, i: usize, label: &Label) -> Result<Ordering> {
        self.index.compare(i, label).ok_or_else(|| {
            self.error(format!(
                "label {label} cannot be compared with the index ({})",
                self.index.type_name()
            ))
        })
    }

    /// Whether `index[i]` comes before `label` in the index's order.
    fn before(&self, i: usize, label: &Label, descending: bool) -> Result<bool> {
        let c = self.cmp(i, label)?;
        Ok(if descending {
            c == Ordering::Greater
        } else {
            c == Ordering::Less
        })
    }

    /// The first position not before `label` (`strict`: not at it either),
    /// by bisection over a sorted index.
    fn bound(&self, label: &Label, strict: bool) -> Result<usize> {
        let descending = self.order == Some(Ordering::Greater);
        let (mut lo, mut hi) = (0, self.index.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let go_right = if strict {
                self.before(mid, label, descending)? || self.cmp(mid, label)? == Ordering::Equal
            } else {
                self.before(mid, label, descending)?
            };
            if go_right {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// The first position of `label`.
    fn exact(&self, label: &Label) -> Result<u64> {
        Ok(self.every(label)?[0])
    }

    /// Every position of `label` (a non-unique index may hold it several
    /// times), or an error when it is nowhere.
    fn every(&self, label: &Label) -> Result<Vec<u64>> {
        let label = self.resolve_label(label)?;
        let found: Vec<u64> = if self.order.is_some() {
            let (from, to) = (self.bound(&label, false)?, self.bound(&label, true)?);
            (from as u64..to.max(from) as u64).collect()
        } else {
            let mut found = Vec::new();
            // NaN and NaT label nothing (and compare with nothing).
            for i in (0..self.index.len()).filter(|&i| !self.index.is_missing(i)) {
                if self.cmp(i, &label)? == Ordering::Equal {
                    found.push(i as u64);
                }
            }
            found
        };
        if found.is_empty() {
            return Err(self.not_found(&label));
        }
        Ok(found)
    }

    fn sorted(&self, what: &str) -> Result<()> {
        if self.order.is_none() {
            // pandas refuses these too (KeyError, "index must be monotonic").
            let missing = (0..self.index.len()).any(|i| self.index.is_missing(i));
            let why = match (missing, self.index) {
                (true, Values::Time(_)) => " (it holds NaT, which sorts nowhere)",
                (true, _) => " (it holds NaN, which sorts nowhere)",
                (false, _) => "",
            };
            return Err(self.error(format!(
                "{what} needs a sorted index, and the index of {:?} is not monotonic{why}",
                self.dim
            )));
        }
        Ok(())
    }

    fn range(&self, start: Option<&Label>, stop: Option<&Label>) -> Result<Pick> {
        self.sorted("a label slice")?;
        let descending = self.order == Some(Ordering::Greater);
        let first = match start {
            None => 0,
            // A date string's whole period is in: from its start
            // ascending, from its end (exclusive) descending.
            Some(Label::Text(text)) if matches!(self.index, Values::Time(_)) => {
                let period = self.period(text)?;
                match descending {
                    false => self.bound(&Label::Time(period.start), false)?,
                    true => self.bound(&Label::Time(period.end), true)?,
                }
            }
            Some(label) => self.bound(&self.resolve_label(label)?, false)?,
        };
        let end = match stop {
            None => self.index.len(),
            Some(Label::Text(text)) if matches!(self.index, Values::Time(_)) => {
                let period = self.period(text)?;
                match descending {
                    false => self.bound(&Label::Time(period.end), false)?,
                    true => self.bound(&Label::Time(period.start), true)?,
                }
            }
            Some(label) => self.bound(&self.resolve_label(label)?, true)?,
        };
        Ok(Pick {
            positions: (first..end.max(first)).map(|i| i as u64).collect(),
            drop: false,
        })
    }

    fn nearest(&self, label: &Label, tolerance: Option<f64>) -> Result<u64> {
        // NaN and NaT are never nearest: the other values are searched,
        // when they are sorted.
        let present: Vec<usize> = (0..self.index.len())
            .filter(|&i| !self.index.is_missing(i))
            .collect();
        if self.order.is_none() && present.len() < self.index.len() {
            let index = self.index.select(0, &present);
            let within = Searcher::new(&index, self.dim);
            if within.order.is_some() {
                let k = within.nearest(label, tolerance)?;
                return Ok(present[k as usize] as u64);
            }
        }
        self.sorted("method=\"nearest\"")?;
        let label = self.resolve_label(label)?;
        let n = self.index.len();
        if n == 0 {
            return Err(self.not_found(&label));
        }
        let i = self.bound(&label, false)?;
        let distance = |j: usize| {
            self.index
                .distance(j, &label)
                .ok_or_else(|| self.not_found(&label))
        };
        // The candidates either side; ties go to the larger label.
        let best = if i == 0 {
            0
        } else if i == n {
            n - 1
        } else {
            let (left, right) = (distance(i - 1)?, distance(i)?);
            let larger_is_right = self.order == Some(Ordering::Less);
            match left.partial_cmp(&right) {
                Some(Ordering::Less) => i - 1,
                Some(Ordering::Greater) => i,
                _ if larger_is_right => i,
                _ => i - 1,
            }
        };
        if let Some(tolerance) = tolerance {
            let d = distance(best)?;
            if d > tolerance {
                return Err(self.error(format!(
                    "no label within {tolerance} of {label}: the nearest is {d} away"
                )));
            }
        }
        Ok(best as u64)
    }

    /// Whether `period` overlaps the span from the first to the last time.
    fn overlaps(&self, period: &Period) -> bool {
        let Values::Time(a) = self.index else {
            return false;
        };
        let dates = || a.iter().filter(|t| !t.is_nat());
        let (Some(lo), Some(hi)) = (dates().min(), dates().max()) else {
            return false;
        };
        period.start <= *hi && period.end > *lo
    }

    fn within(&self, i: usize, start: &CfDatetime, end: &CfDatetime) -> bool {
        matches!(self.index, Values::Time(a) if a[[i]] >= *start && a[[i]] < *end)
    }

    /// The period a date string names, in the index's calendar.
    fn period(&self, text: &str) -> Result<Period> {
        let calendar = match self.index {
            Values::Time(a) => match a.iter().next() {
                Some(t) => t.calendar,
                None => return Err(self.not_found(&Label::Text(text.into()))),
            },
            _ => {
                return Err(self.error(format!(
                    "the date string {text:?} labels a time index, and {:?}'s is not one",
                    self.dim
                )))
            }
        };
        let bad = || {
            self.error(format!(
                "{text:?} is not a date string (YYYY, YYYY-MM, YYYY-MM-DD, then hh, hh:mm or hh:mm:ss)"
            ))
        };
        if !text.is_ascii() {
            return Err(bad());
        }
        // ISO 8601, extended (2000-07-16T12:30:00) or basic (20000716T1230),
        // each field zero-padded: what cftime and xarray read.
        let (date, time) = match text.split_once(['T', ' ']) {
            Some((d, t)) => (d, Some(t)),
            None => (text, None),
        };
        let digits = |part: &str, len: usize| {
            (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<i64>().ok())
                .flatten()
        };
        let split = |part: &str, sep: char, first: usize| -> Option<Vec<i64>> {
            if part.contains(sep) {
                part.split(sep)
                    .enumerate()
                    .map(|(k, p)| digits(p, if k == 0 { first } else { 2 }))
                    .collect()
            } else {
                // Basic format: a first field, then pairs of digits.
                if part.len() < first || !(part.len() - first).is_multiple_of(2) {
                    return None;
                }
                let mut out = vec![digits(&part[..first], first)?];
                let mut at = first;
                while at < part.len() {
                    out.push(digits(&part[at..at + 2], 2)?);
                    at += 2;
                }
                Some(out)
            }
        };
        let mut fields = split(date, '-', 4).ok_or_else(bad)?;
        if fields.len() > 3 {
            return Err(bad());
        }
        if let Some(time) = time {
            if fields.len() != 3 {
                return Err(bad());
            }
            let clock = split(time, ':', 2).ok_or_else(bad)?;
            if clock.len() > 3 {
                return Err(bad());
            }
            fields.extend(clock);
        }
        let field = |k: usize, default: i64| fields.get(k).copied().unwrap_or(default);
        let small = |v: i64| u32::try_from(v).map_err(|_| bad());
        let not_a_date = |e: Error| {
            self.error(format!(
                "{text:?} is not a date of the {calendar} calendar: {e}"
            ))
        };
        let start = CfDatetime::new(
            field(0, 0),
            small(field(1, 1))?,
            small(field(2, 1))?,
            small(field(3, 0))?,
            small(field(4, 0))?,
            small(field(5, 0))?,
            0,
            calendar,
        )
        .map_err(not_a_date)?;
        let next_month = |year: i64, month: u32| {
            if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            }
        };
        let end = match fields.len() {
            1 => CfDatetime::new(start.year + 1, 1, 1, 0, 0, 0, 0, calendar)?,
            2 => {
                let (y, m) = next_month(start.year, start.month);
                CfDatetime::new(y, m, 1, 0, 0, 0, 0, calendar)?
            }
            n => {
                const SECONDS: [i128; 4] = [86_400, 3_600, 60, 1];
                start.plus_microseconds(SECONDS[n - 3] * 1_000_000)?
            }
        };
        Ok(Period { start, end })
    }
}
