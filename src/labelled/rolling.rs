//! `rolling` window sums, means and standard deviations along a
//! dimension, as xarray's `rolling(dim=N, center=, min_periods=)`: from
//! running sums (a cumulative sum of the values, of their squares and of
//! the count present, each minus itself `N` places earlier), so a window of
//! any length is a handful of whole-array operations and one scan, never a
//! task per window. NaNs are left out of each window; a window with fewer
//! than `min_periods` values (default `N`) is NaN. Minima and maxima need
//! the window's values themselves: each block with a halo of `N - 1`
//! positions along the dimension ([`Array::map_overlap`], missing past the
//! ends), scanned with a monotonic queue, so a window of any length costs
//! O(1) per position.

use super::data_array::DataArray;
use crate::array::kernel::{Exact, Kernel};
use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::{Index, PadMode};
use ndarray::{ArrayView1, ArrayViewMut1, Axis};

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
        self.refuse_time("rolling")?;
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
        let out = Kernel::WindowSum {
            min_count: self.min_count(),
        }
        .apply(&[&sum, &count]);
        self.finish(out)
    }

    /// The mean of each window.
    pub fn mean(&self) -> Result<DataArray> {
        let (sum, count, _) = self.sums(false);
        let out = Kernel::WindowMean {
            min_count: self.min_count(),
        }
        .apply(&[&sum, &count]);
        self.finish(out)
    }

    /// The standard deviation of each window (`ddof` 0, as xarray's).
    pub fn std(&self) -> Result<DataArray> {
        let (sum, count, squares) = self.sums(true);
        let (sum, count, squares) = (float64(&sum), float64(&count), float64(&squares));
        let mean_square = DynArray::from(&squares / &count);
        let mean = DynArray::from(&sum / &count);
        let var = Kernel::Variance.apply(&[&mean_square, &mean]);
        let out = Kernel::WindowStd {
            min_count: self.min_count(),
        }
        .apply(&[&var, &DynArray::from(count)]);
        self.finish(out)
    }

    /// `min_periods` as the window kernels compare counts with it.
    fn min_count(&self) -> Exact {
        Exact(self.min_periods as f64)
    }

    /// The smallest value of each window.
    pub fn min(&self) -> Result<DataArray> {
        self.extreme(false)
    }

    /// The largest value of each window.
    pub fn max(&self) -> Result<DataArray> {
        self.extreme(true)
    }

    fn extreme(&self, largest: bool) -> Result<DataArray> {
        let x = self.array.variable.data.as_f64();
        let (axis, window, min_periods) = (self.axis, self.window, self.min_periods);
        let out = rolling_extremes(&x, axis, window, self.center, min_periods, largest);
        self.finish(out.into())
    }

    /// The windows' sums of the values present, their counts and (when
    /// `squares`) the sums of their squares, over the array's positions.
    fn sums(&self, squares: bool) -> (DynArray, DynArray, DynArray) {
        let x = self.array.variable.data.as_f64();
        let (axis, n) = (self.axis, self.window);
        let len = x.shape()[axis];
        // Centred: the window of position i ends `(n - 1) / 2` places
        // later (pandas': an even window has one more value before i than
        // after); positions past the end count as missing.
        let shift = if self.center { (n - 1) / 2 } else { 0 };
        let mut widths = vec![(0, 0); x.ndim()];
        widths[axis] = (0, shift);
        let running = |values: DynArray| -> DynArray {
            let values = float64(&values).pad(&widths, PadMode::Constant(0.0));
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
            window.slice(&kept).into()
        };
        let x = DynArray::from(x.clone());
        let filled = Kernel::FillNa { value: Exact(0.0) }.apply(&[&x]);
        let present = Kernel::NotNull.apply(&[&x]);
        let sq = if squares {
            running(Kernel::Square.apply(&[&filled]))
        } else {
            running(present.clone())
        };
        (running(filled), running(present), sq)
    }

    fn finish(&self, data: DynArray) -> Result<DataArray> {
        Ok(self.array.with_data(match self.array.dtype() {
            DType::Float32 => DynArray::from(data.astype::<f32>()),
            _ => data,
        }))
    }
}

/// The extremes (`largest`: maxima) of `x`'s windows of `window`
/// positions along `axis` (centred when `center`), NaN where fewer than
/// `min_periods` values are present: each block with a halo of
/// `window - 1` positions (missing past the ends), scanned with a
/// monotonic queue. Recorded as `rolling_extremes`, so a plan file holds
/// it.
pub(crate) fn rolling_extremes(
    x: &Array<f64>,
    axis: usize,
    window: u64,
    center: bool,
    min_periods: u64,
    largest: bool,
) -> Array<f64> {
    let n = window.max(1) as usize;
    // The window of position i is [i + shift + 1 - n, i + shift].
    let shift = if center { (n - 1) / 2 } else { 0 };
    let mut depth = vec![0; x.ndim()];
    if axis < depth.len() {
        depth[axis] = n as u64 - 1;
    }
    let args = serde_json::json!({
        "axis": axis,
        "window": window,
        "center": center,
        "min_periods": min_periods,
        "largest": largest,
    });
    x.map_overlap(
        &depth,
        Some(PadMode::Constant(f64::NAN)),
        move |block, _| {
            let mut out = block.clone();
            let lanes = block.lanes(Axis(axis)).into_iter();
            for (values, extremes) in lanes.zip(out.lanes_mut(Axis(axis))) {
                let window = Window {
                    len: n,
                    shift,
                    min_periods,
                    largest,
                };
                window.extremes(values, extremes);
            }
            out
        },
    )
    .recorded("rolling_extremes", args, vec![x.origin()])
}

/// A kernel's `float64` result as the array it is.
fn float64(a: &DynArray) -> Array<f64> {
    a.typed::<f64>().unwrap_or_else(|_| a.as_f64())
}

/// One rolling extreme along a lane.
struct Window {
    len: usize,
    shift: usize,
    min_periods: u64,
    largest: bool,
}

impl Window {
    /// `out[i]` = the extreme of the values present in `values`' window of
    /// `i`, or NaN when fewer than `min_periods` are: a queue of the
    /// positions that can still be a window's extreme, in order, their
    /// values monotonic (NaNs never enter it).
    fn extremes(&self, values: ArrayView1<'_, f64>, mut out: ArrayViewMut1<'_, f64>) {
        let lane = values.len();
        let mut queue = std::collections::VecDeque::with_capacity(self.len);
        let (mut next, mut present) = (0usize, 0u64);
        let beats = |a: f64, b: f64| if self.largest { a >= b } else { a <= b };
        for i in 0..lane {
            let end = (i + self.shift).min(lane - 1);
            while next <= end {
                let v = values[next];
                if !v.is_nan() {
                    while queue.back().is_some_and(|&j: &usize| beats(v, values[j])) {
                        queue.pop_back();
                    }
                    queue.push_back(next);
                    present += 1;
                }
                next += 1;
            }
            // Positions that left the window.
            let start = (i + self.shift + 1).saturating_sub(self.len);
            while queue.front().is_some_and(|&j| j < start) {
                queue.pop_front();
            }
            if start > 0 {
                let left = start - 1;
                if left < next && !values[left].is_nan() {
                    present -= 1;
                }
            }
            out[i] = match queue.front() {
                Some(&j) if present >= self.min_periods => values[j],
                _ => f64::NAN,
            };
        }
    }
}
