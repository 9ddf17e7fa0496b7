//! `rolling` window sums, means and standard deviations along a
//! dimension, as xarray's `rolling(dim=N, center=, min_periods=)`: from
//! running sums (a cumulative sum of the values, of their squares and of
//! the count present, each minus itself `N` places earlier), so a window of
//! any length is a handful of whole-array operations and one scan, never a
//! task per window. NaNs are left out of each window; a window with fewer
//! than `min_periods` values (default `N`) is NaN. Minima and maxima need
//! the window's values themselves (a halo: to come with `map_overlap`).

use super::data_array::DataArray;
use super::Attrs;
use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::{Index, PadMode};

/// A [`DataArray`] in moving windows (see [`DataArray::rolling`]).
#[derive(Debug, Clone)]
pub struct Rolling {
    array: DataArray,
    axis: usize,
    window: u64,
    center: bool,
    min_periods: u64,
}

impl DataArray {
    /// Windows of `window` positions along `dim`, each ending at its
    /// position (or centred on it with [`Rolling::center`]).
    ///
    /// ```
    /// use ndchunk::{Array, DataArray};
    /// let x = DataArray::new(Array::<f64>::arange(6, [4]).unwrap(), &["time"]).unwrap();
    /// let m = x.rolling("time", 3).unwrap().mean().unwrap().values::<f64>().unwrap();
    /// assert!(m[[1]].is_nan());
    /// assert_eq!(m[[2]], 1.0);
    /// assert_eq!(m[[5]], 4.0);
    /// ```
    pub fn rolling(&self, dim: &str, window: u64) -> Result<Rolling> {
        let axis = self
            .variable
            .axis(dim)
            .ok_or_else(|| super::unknown("dimension", dim, self.dims().iter()))?;
        let len = self.shape()[axis];
        if window == 0 || window > len {
            return Err(Error::Invalid {
                operation: format!("rolling({dim}={window})"),
                message: format!("a window of {window} on a dimension of {len}"),
            });
        }
        Ok(Rolling {
            array: self.clone(),
            axis,
            window,
            center: false,
            min_periods: window,
        })
    }
}

impl Rolling {
    /// Windows centred on their position (pandas' `center=True`).
    pub fn center(mut self, center: bool) -> Rolling {
        self.center = center;
        self
    }

    /// The fewest values (not NaN) a window needs for a result (1 to the
    /// window; xarray's default is the window).
    pub fn min_periods(mut self, min_periods: u64) -> Rolling {
        self.min_periods = min_periods.clamp(1, self.window);
        self
    }

    /// The sum of each window.
    pub fn sum(&self) -> Result<DataArray> {
        let (sum, count, _) = self.sums(false);
        let min = self.min_periods as f64;
        let out = sum.zip_with(
            count,
            "rolling sum",
            move |s, n| if n >= min { s } else { f64::NAN },
        );
        self.finish(out)
    }

    /// The mean of each window.
    pub fn mean(&self) -> Result<DataArray> {
        let (sum, count, _) = self.sums(false);
        let min = self.min_periods as f64;
        let out = sum.zip_with(count, "rolling mean", move |s, n| {
            if n >= min {
                s / n
            } else {
                f64::NAN
            }
        });
        self.finish(out)
    }

    /// The standard deviation of each window (`ddof` 0, as xarray's).
    pub fn std(&self) -> Result<DataArray> {
        let (sum, count, squares) = self.sums(true);
        let min = self.min_periods as f64;
        let mean_square = squares.zip_with(count.clone(), "mean square", |q, n| q / n);
        let mean = sum.zip_with(count.clone(), "mean", |s, n| s / n);
        let var = mean_square.zip_with(mean, "variance", |q, m| (q - m * m).max(0.0));
        let out = var.zip_with(count, "rolling std", move |v, n| {
            if n >= min {
                v.sqrt()
            } else {
                f64::NAN
            }
        });
        self.finish(out)
    }

    /// The windows' sums of the values present, their counts and (when
    /// `squares`) the sums of their squares, over the array's positions.
    fn sums(&self, squares: bool) -> (Array<f64>, Array<f64>, Array<f64>) {
        let x = self.array.variable.data.as_f64();
        let (axis, n) = (self.axis, self.window);
        let len = x.shape()[axis];
        // Centred: the window of position i ends `(n - 1) / 2` places
        // later (pandas': an even window has one more value before i than
        // after); positions past the end count as missing.
        let shift = if self.center { (n - 1) / 2 } else { 0 };
        let mut widths = vec![(0, 0); x.ndim()];
        widths[axis] = (0, shift);
        let running = |values: Array<f64>| {
            let values = values.pad(&widths, PadMode::Constant(0.0));
            let total = values.cumsum(axis as i64);
            // The running sum `n` places earlier (0 before the start).
            let mut before = vec![(0, 0); x.ndim()];
            before[axis] = (n, 0);
            let mut first = vec![Index::ALL; x.ndim()];
            first[axis] = Index::range(0, (len + shift) as i64, 1);
            let earlier = total.pad(&before, PadMode::Constant(0.0)).slice(&first);
            let window = &total - earlier;
            let mut kept = vec![Index::ALL; x.ndim()];
            kept[axis] = Index::range(shift as i64, (shift + len) as i64, 1);
            window.slice(&kept)
        };
        let filled = x.map("fillna(0)", |v| if v.is_nan() { 0.0 } else { v });
        let present = x.map("notnull", |v| if v.is_nan() { 0.0 } else { 1.0 });
        let sq = if squares {
            running(filled.map("square", |v| v * v))
        } else {
            running(present.clone())
        };
        (running(filled), running(present), sq)
    }

    fn finish(&self, data: Array<f64>) -> Result<DataArray> {
        let mut out = self.array.clone();
        out.variable.data = match self.array.dtype() {
            DType::Float32 => DynArray::from(data.astype::<f32>()),
            _ => DynArray::from(data),
        };
        out.variable.attrs = Attrs::new();
        out.variable.encoding = Attrs::new();
        Ok(out)
    }
}
