//! The pieces a `DataArray` and a `Dataset` are made of: a lazy
//! [`Variable`] (dimension names over a `DynArray`) and an in-memory
//! [`Coord`], each with its attributes and encoding, and how a selection
//! or a reduction applies to each.

use super::calendar::Calendar;
use super::cf_time::TimeUnits;
use super::select::Pick;
use super::values::Values;
use super::Attrs;
use crate::array::kernel::Kernel;
use crate::array::{DynArray, Reduction};
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::Index;

/// A lazy variable: dimension names over a chunked array.
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub dims: Vec<String>,
    pub data: DynArray,
    pub attrs: Attrs,
    pub encoding: Attrs,
    /// Set for a time variable: `data` are numbers in these units, its
    /// values the dates they count (NaN, and int64's smallest, are NaT).
    pub time: Option<TimeEncoding>,
}

/// How a time variable's numbers count dates: `"<unit> since <date>"` in
/// a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeEncoding {
    pub units: TimeUnits,
    pub calendar: Calendar,
}

impl TimeEncoding {
    /// "days since 2000-01-01, noleap".
    pub(crate) fn describe(&self) -> String {
        format!("{}, {}", self.units, self.calendar)
    }

    /// The error for `operation` on the time variable `name`.
    pub(crate) fn refuse(&self, name: &str, operation: &str) -> Error {
        Error::Invalid {
            operation: format!("{operation} of {name:?}"),
            message: format!(
                "{name:?} is a time variable (dates in {}): {operation} is not defined on \
                 dates; ndchunk computes selections, where, min, max and mean of times \
                 (open with decode_times(false) to work on the numbers)",
                self.describe()
            ),
        }
    }
}

/// A coordinate: dimension names over values held in memory (an index
/// when it is 1-D along a dimension of its own name), with its attributes
/// and encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Coord {
    pub(crate) dims: Vec<String>,
    pub(crate) values: Values,
    pub(crate) attrs: Attrs,
    pub(crate) encoding: Attrs,
}

impl Coord {
    /// A coordinate of `values` along `dims` (one name per axis).
    pub fn new(dims: &[&str], values: Values) -> Result<Coord> {
        if dims.len() != values.shape().len() {
            return Err(Error::Invalid {
                operation: "Coord::new".into(),
                message: format!(
                    "{} dimension names for {}-dimensional values",
                    dims.len(),
                    values.shape().len()
                ),
            });
        }
        Ok(Coord {
            dims: dims.iter().map(|d| d.to_string()).collect(),
            values,
            attrs: Attrs::new(),
            encoding: Attrs::new(),
        })
    }

    /// This coordinate with `attrs`.
    pub fn with_attrs(mut self, attrs: Attrs) -> Coord {
        self.attrs = attrs;
        self
    }

    /// The dimension names.
    pub fn dims(&self) -> &[String] {
        &self.dims
    }

    /// The values.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// The attributes.
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }

    /// How the values were stored (`units`, `calendar`, `dtype`,
    /// `_FillValue`, …): what [`to_zarr`](super::Dataset::to_zarr) writes
    /// them back with.
    pub fn encoding(&self) -> &Attrs {
        &self.encoding
    }

    pub(crate) fn isel(&self, dim: &str, pick: &Pick) -> Coord {
        let Some(axis) = self.dims.iter().position(|d| d == dim) else {
            return self.clone();
        };
        let positions: Vec<usize> = pick.positions.iter().map(|&p| p as usize).collect();
        let mut values = self.values.select(axis, &positions);
        let mut dims = self.dims.clone();
        if pick.drop {
            values = values.remove_axis(axis);
            dims.remove(axis);
        }
        Coord {
            dims,
            values,
            attrs: self.attrs.clone(),
            encoding: self.encoding.clone(),
        }
    }
}

impl Variable {
    /// Values along `dims`, without attributes or encoding (a new array).
    pub(crate) fn new(dims: Vec<String>, data: DynArray) -> Variable {
        Variable {
            dims,
            data,
            attrs: Attrs::new(),
            encoding: Attrs::new(),
            time: None,
        }
    }

    /// `data` along `dims` computed from this variable: its attributes
    /// kept, its encoding not (see [`super::attrs`]). Computed from a time
    /// variable's numbers by an operation that knows nothing of dates, the
    /// data would be meaningless: they are an error when computed instead
    /// (operations that can say no up front do; this is the net under
    /// those that cannot).
    pub(crate) fn derived(&self, dims: Vec<String>, data: DynArray) -> Variable {
        let data = match &self.time {
            None => data,
            Some(time) => refused(&data, time),
        };
        Variable {
            dims,
            data,
            attrs: super::attrs::kept(&self.attrs),
            encoding: super::Attrs::new(),
            time: None,
        }
    }

    /// `data` along `dims` computed from this variable's dates by an
    /// operation defined on them (min, max, mean, where): still dates, in
    /// the same encoding; attributes as [`Variable::derived`].
    pub(crate) fn derived_time(&self, dims: Vec<String>, data: DynArray) -> Variable {
        Variable {
            dims,
            data,
            attrs: super::attrs::kept(&self.attrs),
            encoding: super::Attrs::new(),
            time: self.time.clone(),
        }
    }

    /// The dates of a time variable, computed (`None` for another).
    pub(crate) fn times(&self, name: &str) -> Result<Option<ndarray::ArrayD<super::CfDatetime>>> {
        let Some(time) = &self.time else {
            return Ok(None);
        };
        let numbers = Values::load(&self.data)?;
        super::decode::dates(name, &numbers, &time.units, time.calendar).map(Some)
    }

    /// The dtype's name, or `datetime (<calendar>)` for a time variable
    /// (as a time coordinate shows).
    pub(crate) fn type_name(&self) -> String {
        match &self.time {
            Some(time) => format!("datetime ({})", time.calendar),
            None => self.data.dtype().name().to_string(),
        }
    }

    pub(crate) fn axis(&self, dim: &str) -> Option<usize> {
        self.dims.iter().position(|d| d == dim)
    }

    /// The variable at `pick`'s positions along `dim` (itself without it).
    pub(crate) fn isel(&self, dim: &str, pick: &Pick) -> Variable {
        let Some(axis) = self.axis(dim) else {
            return self.clone();
        };
        let mut out = self.clone();
        out.data = pick_positions(&self.data, axis, pick);
        if pick.drop {
            out.dims.remove(axis);
        }
        out
    }

    /// `reduction` over `dims` (those this variable has); attributes are
    /// kept, as xarray's `keep_attrs` default. A time variable's minimum,
    /// maximum and mean are dates (the mean of the numbers counts the
    /// mean date).
    pub(crate) fn reduce(&self, reduction: Reduction, dims: &[String], skipna: bool) -> Variable {
        let axes: Vec<usize> = dims.iter().filter_map(|d| self.axis(d)).collect();
        let kept = self.dims.iter().filter(|d| !dims.contains(d)).cloned();
        if on_dates(reduction) {
            // NaT stored as int64's smallest (numpy's, as xarray writes it
            // without a fill value) is NaN to the reduction, so skipped.
            let numbers = match self.data.dtype() {
                DType::Int64 if self.time.is_some() => Kernel::NatAsNan.apply(&[&self.data]),
                _ => self.data.clone(),
            };
            let data = numbers.reduce(reduction, &axes, skipna);
            return self.derived_time(kept.collect(), data);
        }
        let data = self.data.reduce(reduction, &axes, skipna);
        self.derived(kept.collect(), data)
    }

    /// `reduction` over no axis, as xarray's `Dataset` reductions apply
    /// it to a variable without the reduced dimensions: the variable
    /// itself for a sum, mean, minimum or maximum (its dtype too; its
    /// attributes but not its encoding, as every computed result), and for
    /// a variance or standard deviation zeros (NaN where it is NaN, or
    /// everywhere when `ddof` > 0), `float32` kept, else `float64`.
    pub(crate) fn reduce_over_no_axis(&self, reduction: Reduction) -> Variable {
        match reduction {
            Reduction::Var { ddof } | Reduction::Std { ddof } => {
                self.derived(self.dims.clone(), spread_of_one(&self.data, ddof))
            }
            Reduction::Sum if self.time.is_some() => {
                self.derived(self.dims.clone(), self.data.clone())
            }
            Reduction::Sum | Reduction::Mean | Reduction::Min | Reduction::Max => {
                self.derived_time(self.dims.clone(), self.data.clone())
            }
        }
    }
}

/// Whether `reduction` is defined on dates (and gives dates).
pub(crate) fn on_dates(reduction: Reduction) -> bool {
    matches!(reduction, Reduction::Min | Reduction::Max | Reduction::Mean)
}

/// `data`, computed from a time variable's numbers by an operation not
/// defined on dates, as an array that is an error when computed.
fn refused(data: &DynArray, time: &TimeEncoding) -> DynArray {
    let operation = data.node().name().to_string();
    let message = format!(
        "{operation} of a time variable (dates in {}) is not defined on dates; ndchunk \
         computes selections, where, min, max and mean of times",
        time.describe()
    );
    crate::with_dtype!(data.dtype(), T => DynArray::from(
        crate::ops::elementwise::invalid::<T>(&operation, data.grid().clone(), message)
    ))
}

/// numpy's variance (and standard deviation) of each element alone: 0,
/// or NaN where it is NaN or `ddof` leaves no degrees of freedom.
fn spread_of_one(data: &DynArray, ddof: u64) -> DynArray {
    Kernel::SpreadOfOne { ddof }.apply(&[data])
}

/// `data` at `pick`'s positions along `axis`: a slice when they are
/// evenly spaced (so push-down and chunk reuse apply), a take otherwise.
fn pick_positions(data: &DynArray, axis: usize, pick: &Pick) -> DynArray {
    let mut indices = vec![Index::ALL; axis + 1];
    let p = &pick.positions;
    if pick.drop {
        indices[axis] = Index::At(p[0] as i64);
        return data.slice(&indices);
    }
    let step = if p.len() >= 2 {
        p[1] as i64 - p[0] as i64
    } else {
        1
    };
    let even = step != 0 && p.windows(2).all(|w| w[1] as i64 - w[0] as i64 == step);
    if p.is_empty() || even {
        let start = p.first().map_or(0, |&s| s as i64);
        let stop = start + step * p.len() as i64;
        // A descending run down to position 0 stops before the start,
        // which Python's slices spell as no stop.
        let stop = (stop >= 0).then_some(stop);
        indices[axis] = Index::range(start, stop, step);
        return data.slice(&indices);
    }
    let table: Vec<i64> = p.iter().map(|&i| i as i64).collect();
    data.take(&table, axis)
}
