//! `coarsen`: block reductions over windows of whole positions along one
//! or more dimensions, as xarray's `coarsen(lat=2, lon=2, boundary=…)`,
//! each window folded by the engine's grouped reduction (positions
//! `k*w .. (k+1)*w` form group `k`), so chunks need not line up with the
//! windows. Coordinates along a coarsened dimension become their windows'
//! means (xarray's `coord_func="mean"`); others along it are dropped.

use std::sync::Arc;

use ndarray::{ArrayD, Axis};

use super::cf_time::CfDatetime;
use super::data_array::DataArray;
use super::values::Values;
use crate::array::DynArray;
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::GroupStat;

/// What to do with a dimension's length that is not a multiple of its
/// window (xarray's `boundary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoarsenBoundary {
    /// An error.
    #[default]
    Exact,
    /// The last, partial window is left out.
    Trim,
    /// The last window is partial (as if padded with NaN, which reductions
    /// skip).
    Pad,
}

/// A [`DataArray`] in windows (see [`DataArray::coarsen`]).
#[derive(Debug, Clone)]
pub struct Coarsen {
    array: DataArray,
    /// (axis, window, windows) per coarsened dimension.
    windows: Vec<(usize, u64, u64)>,
}

impl DataArray {
    /// Windows of `size` positions along each named dimension
    /// (`&[("lat", 2), ("lon", 2)]`); reduce them with [`Coarsen::mean`],
    /// `sum`, `min`, `max`.
    ///
    /// ```
    /// use ndchunk::{Array, CoarsenBoundary, DataArray};
    /// let a = DataArray::new(Array::<f64>::arange(6, [4]).unwrap(), &["x"]).unwrap();
    /// let pairs = a.coarsen(&[("x", 2)], CoarsenBoundary::Exact).unwrap().mean().unwrap();
    /// assert_eq!(pairs.values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![0.5, 2.5, 4.5]);
    /// ```
    pub fn coarsen(&self, size: &[(&str, u64)], boundary: CoarsenBoundary) -> Result<Coarsen> {
        self.refuse_time("coarsen")?;
        let mut windows = Vec::new();
        for &(dim, w) in size {
            let fails = |message: String| Error::Invalid {
                operation: format!("coarsen({dim}={w})"),
                message,
            };
            let axis = self
                .variable
                .axis(dim)
                .ok_or_else(|| super::unknown("dimension", dim, self.dims().iter()))?;
            let n = self.shape()[axis];
            if w == 0 || w > n {
                return Err(fails(format!("a window of {w} on a dimension of {n}")));
            }
            let count = match boundary {
                CoarsenBoundary::Exact if !n.is_multiple_of(w) => {
                    return Err(fails(format!(
                        "{n} is not a multiple of {w}: use CoarsenBoundary::Trim or CoarsenBoundary::Pad"
                    )))
                }
                CoarsenBoundary::Exact | CoarsenBoundary::Trim => n / w,
                CoarsenBoundary::Pad => n.div_ceil(w),
            };
            windows.push((axis, w, count));
        }
        Ok(Coarsen {
            array: self.clone(),
            windows,
        })
    }
}

impl Coarsen {
    /// The mean of each window (NaNs skipped).
    pub fn mean(&self) -> Result<DataArray> {
        let sum = self.fold(GroupStat::Sum, GroupStat::Sum);
        let count = self.fold(GroupStat::Count, GroupStat::Sum);
        let mean = &sum / count;
        self.finish(mean, GroupStat::Mean)
    }

    /// The sum of each window (NaNs skipped).
    pub fn sum(&self) -> Result<DataArray> {
        self.finish(self.fold(GroupStat::Sum, GroupStat::Sum), GroupStat::Sum)
    }

    /// The minimum of each window (NaNs skipped).
    pub fn min(&self) -> Result<DataArray> {
        self.finish(self.fold(GroupStat::Min, GroupStat::Min), GroupStat::Min)
    }

    /// The maximum of each window (NaNs skipped).
    pub fn max(&self) -> Result<DataArray> {
        self.finish(self.fold(GroupStat::Max, GroupStat::Max), GroupStat::Max)
    }

    /// `first` over the windows of the first dimension, then `then` over
    /// those of the others (a sum of sums, a maximum of maxima).
    fn fold(&self, first: GroupStat, then: GroupStat) -> crate::Array<f64> {
        let skipna = self.array.dtype().is_float();
        let windows = |axis: usize, n: u64, w: u64, count: u64| -> (usize, Arc<[u32]>, usize) {
            let group_of = (0..n)
                .map(|p| match p / w {
                    g if g < count => g as u32,
                    _ => u32::MAX,
                })
                .collect();
            (axis, group_of, count as usize)
        };
        let (first_axis, w, count) = self.windows[0];
        let n = self.array.shape()[first_axis];
        let (axis, group_of, groups) = windows(first_axis, n, w, count);
        let mut data = self
            .array
            .variable
            .data
            .grouped(axis, group_of, groups, first, skipna);
        for &(axis, w, count) in &self.windows[1..] {
            let n = data.shape()[axis];
            let (axis, group_of, groups) = windows(axis, n, w, count);
            data = DynArray::from(data).grouped(axis, group_of, groups, then, skipna);
        }
        data
    }

    fn finish(&self, data: crate::Array<f64>, stat: GroupStat) -> Result<DataArray> {
        let dtype = self.array.dtype();
        let out = match (stat, dtype) {
            (GroupStat::Min | GroupStat::Max, d) => d,
            (GroupStat::Sum, d) if !d.is_float() => DType::Int64,
            (_, DType::Float32) => DType::Float32,
            _ => DType::Float64,
        };
        let wide = DynArray::from(data);
        let data = crate::with_dtype!(out, T => DynArray::from(wide.astype::<T>()));
        let mut out = self.array.clone();
        out.variable = self
            .array
            .variable
            .derived(self.array.variable.dims.clone(), data);
        // Coordinates: along one coarsened dimension, their windows' means.
        let names: Vec<String> = out.coords.keys().cloned().collect();
        for name in names {
            let coord = out.coords[&name].clone();
            let along: Vec<&(usize, u64, u64)> = self
                .windows
                .iter()
                .filter(|(axis, _, _)| coord.dims.contains(&self.array.dims()[*axis]))
                .collect();
            match along.as_slice() {
                [] => {}
                [(_, w, count)] if coord.dims.len() == 1 => {
                    match window_means(&coord.values, *w, *count) {
                        Some(values) => out.coords[&name].values = values,
                        None => {
                            out.coords.shift_remove(&name);
                        }
                    }
                }
                _ => {
                    out.coords.shift_remove(&name);
                }
            }
        }
        Ok(out)
    }
}

/// The mean of each window of `w` values of a 1-D coordinate (dates by
/// their mean instant).
fn window_means(values: &Values, w: u64, count: u64) -> Option<Values> {
    let w = w as usize;
    let n = values.len();
    let window = |k: usize| k * w..((k + 1) * w).min(n);
    Some(match values {
        Values::Time(dates) => {
            let means: Option<Vec<_>> = (0..count as usize)
                .map(|k| {
                    // NaT skipped, as xarray's mean; a window of NaT is NaT.
                    let range = window(k);
                    let present: Vec<CfDatetime> = range
                        .clone()
                        .map(|i| dates[[i]])
                        .filter(|d| !d.is_nat())
                        .collect();
                    let Some(first) = present.first() else {
                        return Some(CfDatetime::nat(dates[[range.start]].calendar));
                    };
                    let seconds: f64 = present
                        .iter()
                        .map(|d| d.seconds_between(first).unwrap_or(0.0))
                        .sum::<f64>()
                        / present.len() as f64;
                    first
                        .plus_microseconds((seconds * 1e6).round() as i128)
                        .ok()
                })
                .collect();
            Values::Time(ArrayD::from_shape_vec(vec![count as usize], means?).ok()?)
        }
        other => {
            let data = other.to_f64()?;
            let single = other.dtype()? == DType::Float32;
            let means: Vec<f64> = (0..count as usize)
                .map(|k| {
                    let range = window(k);
                    let len = range.len() as f64;
                    let mean = data.slice_axis(Axis(0), range.into()).sum() / len;
                    if single {
                        f64::from(mean as f32)
                    } else {
                        mean
                    }
                })
                .collect();
            let dtype = if single {
                DType::Float32
            } else {
                DType::Float64
            };
            Values::Float {
                data: ArrayD::from_shape_vec(vec![count as usize], means).ok()?,
                dtype,
            }
        }
    })
}
