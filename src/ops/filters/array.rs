//! The filters as methods of [`Array`]: each is one
//! [`map_overlap`](Array::map_overlap) whose halo is the filter's reach
//! and whose function is the kernel, so any lazy array is filtered block
//! by block with each source chunk decoded once.

use std::ops::Range;

use ndarray::{ArrayD, ArrayViewMutD, Axis, Slice};
use ndchunk_chunking::Region;
use ndchunk_io::Element;
use num_traits::AsPrimitive;

use super::{
    correlate, derivatives, kernels, rank, uniform, window_reach, AfterPass, FilterFloat,
    SIGMA_SKIP,
};
use crate::array::recipe::scalar;
use crate::array::Array;
use crate::ops::elementwise::invalid;
use crate::ops::layout::PadMode;
use crate::ops::per_axis;

/// What the filters do past the array's edge and how far a Gaussian
/// reaches: scipy.ndimage's `mode`, `cval` and `truncate`, and
/// `gaussian_filter`'s `order`.
///
/// ```
/// use ndchunk::{FilterOptions, PadMode};
/// // scipy: mode="nearest", truncate=3.0
/// let options = FilterOptions::new().mode(PadMode::Edge).truncate(3.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FilterOptions {
    mode: PadMode<f64>,
    truncate: f64,
    order: Vec<usize>,
}

impl Default for FilterOptions {
    fn default() -> Self {
        Self {
            mode: PadMode::Symmetric,
            truncate: 4.0,
            order: vec![0],
        }
    }
}

impl FilterOptions {
    /// The options as a plan file holds them.
    pub(crate) fn to_value(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": self.mode.to_value(),
            "truncate": scalar(self.truncate),
            "order": self.order,
        })
    }

    /// The options [`to_value`](Self::to_value) wrote.
    pub(crate) fn from_value(value: &serde_json::Value) -> crate::error::Result<Self> {
        let order: Vec<usize> = serde_json::from_value(value["order"].clone())
            .map_err(|e| crate::array::recipe::file_error(format!("bad filter order: {e}")))?;
        Ok(Self {
            mode: PadMode::from_value(&value["mode"])?,
            truncate: crate::array::recipe::scalar_from(&value["truncate"])?,
            order,
        })
    }

    /// scipy's defaults: mode `reflect` (which is [`PadMode::Symmetric`],
    /// numpy's name; see [`PadMode`] for the table of names), `truncate`
    /// 4.0, order 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// What lies past the array's edge; `Constant(v)` is scipy's
    /// `mode="constant", cval=v`.
    pub fn mode(mut self, mode: PadMode<f64>) -> Self {
        self.mode = mode;
        self
    }

    /// How many standard deviations a Gaussian reaches: its radius is
    /// `int(truncate · sigma + 0.5)`, as scipy's.
    pub fn truncate(mut self, truncate: f64) -> Self {
        self.truncate = truncate;
        self
    }

    /// For [`Array::gaussian_filter`]: the order of the derivative of the
    /// Gaussian per axis (one for all axes allowed; 0 smooths).
    pub fn order(mut self, order: &[usize]) -> Self {
        self.order = order.to_vec();
        self
    }
}

/// The element types the filters take, and the float type they compute
/// and return: `f64` stays `f64`; every other type becomes `f32` (as
/// `astype(float32)`; cast to `f64` first for double precision).
pub trait FilterElement: Element + AsPrimitive<Self::Float> {
    /// The type the filters compute in and return.
    type Float: FilterFloat + Element;
}

macro_rules! filter_element {
    ($($t:ty => $f:ty),* $(,)?) => {$(
        impl FilterElement for $t {
            type Float = $f;
        }
    )*};
}

filter_element!(
    i8 => f32, i16 => f32, i32 => f32, i64 => f32,
    u8 => f32, u16 => f32, u32 => f32, u64 => f32,
    f32 => f32, f64 => f64,
);

/// Sigmas as scipy takes them: finite, not negative, an axis of sigma 0
/// left alone, but not every axis.
fn check_sigma(sigma: &[f64], ndim: usize) -> Result<Vec<f64>, String> {
    let sigma = per_axis(sigma, ndim, "values of sigma")?;
    if let Some(s) = sigma.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(format!("sigma must be a finite number above 0, not {s}"));
    }
    if ndim > 0 && sigma.iter().all(|&s| s <= SIGMA_SKIP) {
        return Err("sigma is 0 along every axis: the filter would do nothing".into());
    }
    Ok(sigma)
}

fn check_sizes(size: &[u64], ndim: usize) -> Result<Vec<usize>, String> {
    let size = per_axis(size, ndim, "values of size")?;
    if size.contains(&0) {
        return Err(format!("window sizes must be at least 1, not {size:?}"));
    }
    Ok(size.iter().map(|&s| s as usize).collect())
}

impl<T: FilterElement> Array<T> {
    /// The array as the filters' float type, filtered by `kernel` (which
    /// gets each block with a halo of `depth`, in place, and what to run
    /// after each 1-D pass) past the edge by `options`' mode; `Err`
    /// becomes an operation refused at plan time.
    fn filtered(
        &self,
        name: String,
        depth: Result<Vec<u64>, String>,
        options: &FilterOptions,
        kernel: impl Fn(&mut ArrayD<T::Float>, AfterPass<'_, T::Float>) + Send + Sync + 'static,
    ) -> Array<T::Float> {
        let depth = depth.and_then(|d| {
            if !(options.truncate.is_finite() && options.truncate > 0.0) {
                return Err(format!(
                    "truncate must be above 0, not {}",
                    options.truncate
                ));
            }
            Ok(d)
        });
        let depth = match depth {
            Ok(depth) => depth,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        let mode = match options.mode {
            PadMode::Constant(v) => PadMode::Constant(T::Float::narrow(v)),
            PadMode::Edge => PadMode::Edge,
            PadMode::Reflect => PadMode::Reflect,
            PadMode::Symmetric => PadMode::Symmetric,
            PadMode::Wrap => PadMode::Wrap,
        };
        let (shape, halo) = (self.shape(), depth.clone());
        let x: Array<T::Float> = self.astype::<T::Float>();
        // No element: nothing to filter (and no edge to extend).
        if self.shape().contains(&0) {
            return x;
        }
        x.overlap(name, &depth, Some(mode), move |mut block, info| {
            match mode {
                PadMode::Constant(cval) => {
                    let inside = inside_array(&shape, &halo, info.region);
                    kernel(&mut block, &|b| fill_outside(b, &inside, cval));
                }
                _ => kernel(&mut block, &|_| {}),
            }
            block
        })
    }

    /// `scipy.ndimage.gaussian_filter(x, sigma, order, mode, cval,
    /// truncate)`: separable passes, one per axis whose sigma is not 0,
    /// each rounded to the float type as scipy's. `sigma` is one for all
    /// axes or one per axis; `options` gives the mode (scipy's default
    /// `reflect`), the truncation and the derivative order.
    ///
    /// ```
    /// use ndchunk::{Array, FilterOptions};
    /// let x = Array::<u16>::from_ndarray(ndarray::ArrayD::from_elem(vec![6, 6], 7), [3, 3]).unwrap();
    /// let blurred = x.gaussian_filter(&[1.5], &FilterOptions::new()).compute().unwrap();
    /// assert!(blurred.iter().all(|&v: &f32| (v - 7.0).abs() < 1e-5));
    /// ```
    pub fn gaussian_filter(&self, sigma: &[f64], options: &FilterOptions) -> Array<T::Float> {
        let sigmas: Vec<serde_json::Value> = sigma.iter().map(|&s| scalar(s)).collect();
        let args = serde_json::json!({ "sigma": sigmas, "options": options.to_value() });
        self.gaussian_filter_built(sigma, options).recorded(
            "gaussian_filter",
            args,
            vec![self.origin()],
        )
    }

    fn gaussian_filter_built(&self, sigma: &[f64], options: &FilterOptions) -> Array<T::Float> {
        let ndim = self.ndim();
        let name = format!("gaussian_filter(sigma {sigma:?})");
        let truncate = options.truncate;
        let checked = check_sigma(sigma, ndim)
            .and_then(|s| Ok((s, per_axis(&options.order, ndim, "values of order")?)));
        let (sigma, order) = match checked {
            Ok(pair) => pair,
            Err(m) => return self.filtered(name, Err(m), options, |_, _| {}),
        };
        let depth = sigma.iter().map(|&s| radius(s, truncate)).collect();
        self.filtered(name, Ok(depth), options, move |b, after| {
            correlate::gaussian_filter(b.view_mut(), &sigma, &order, truncate, after)
        })
    }

    /// `scipy.ndimage.gaussian_gradient_magnitude(x, sigma, mode, cval,
    /// truncate)`: the length of the gradient of the Gaussian-smoothed
    /// array.
    pub fn gaussian_gradient_magnitude(
        &self,
        sigma: &[f64],
        options: &FilterOptions,
    ) -> Array<T::Float> {
        let sigmas: Vec<serde_json::Value> = sigma.iter().map(|&s| scalar(s)).collect();
        let args = serde_json::json!({ "sigma": sigmas, "options": options.to_value() });
        self.gaussian_gradient_magnitude_built(sigma, options)
            .recorded("gaussian_gradient_magnitude", args, vec![self.origin()])
    }

    fn gaussian_gradient_magnitude_built(
        &self,
        sigma: &[f64],
        options: &FilterOptions,
    ) -> Array<T::Float> {
        let name = format!("gaussian_gradient_magnitude(sigma {sigma:?})");
        let truncate = options.truncate;
        let sigma = match check_sigma(sigma, self.ndim()) {
            Ok(s) => s,
            Err(m) => return self.filtered(name, Err(m), options, |_, _| {}),
        };
        let depth = sigma.iter().map(|&s| radius(s, truncate)).collect();
        self.filtered(name, Ok(depth), options, move |b, after| {
            *b = derivatives::gaussian_gradient_magnitude(b.view(), &sigma, truncate, after)
        })
    }

    /// `scipy.ndimage.uniform_filter(x, size, mode, cval)`: the mean over
    /// a window of `size` elements along each axis (one size for all axes
    /// allowed), as scipy's running sums, one pass per axis.
    pub fn uniform_filter(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        let args = serde_json::json!({ "size": size, "options": options.to_value() });
        self.uniform_filter_built(size, options).recorded(
            "uniform_filter",
            args,
            vec![self.origin()],
        )
    }

    fn uniform_filter_built(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        self.window_filter("uniform_filter", size, options, |b, axis, s| {
            uniform::uniform_filter1d(b.view_mut(), axis, s)
        })
    }

    /// `scipy.ndimage.minimum_filter(x, size, mode, cval)`: the smallest
    /// value in a window of `size` elements along each axis.
    pub fn minimum_filter(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        let args = serde_json::json!({ "size": size, "options": options.to_value() });
        self.minimum_filter_built(size, options).recorded(
            "minimum_filter",
            args,
            vec![self.origin()],
        )
    }

    fn minimum_filter_built(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        self.window_filter("minimum_filter", size, options, |b, axis, s| {
            rank::minimum_filter1d(b.view_mut(), axis, s)
        })
    }

    /// `scipy.ndimage.maximum_filter(x, size, mode, cval)`: the largest
    /// value in a window of `size` elements along each axis.
    pub fn maximum_filter(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        let args = serde_json::json!({ "size": size, "options": options.to_value() });
        self.maximum_filter_built(size, options).recorded(
            "maximum_filter",
            args,
            vec![self.origin()],
        )
    }

    fn maximum_filter_built(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        self.window_filter("maximum_filter", size, options, |b, axis, s| {
            rank::maximum_filter1d(b.view_mut(), axis, s)
        })
    }

    /// `scipy.ndimage.median_filter(x, size, mode, cval)`: the median of a
    /// window of `size` elements along each axis (for an even count, the
    /// upper middle value, as scipy's). Each output element sorts its
    /// window: meant for small windows.
    pub fn median_filter(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        let args = serde_json::json!({ "size": size, "options": options.to_value() });
        self.median_filter_built(size, options)
            .recorded("median_filter", args, vec![self.origin()])
    }

    fn median_filter_built(&self, size: &[u64], options: &FilterOptions) -> Array<T::Float> {
        let name = format!("median_filter(size {size:?})");
        let sizes = check_sizes(size, self.ndim());
        let depth = sizes
            .clone()
            .map(|s| s.iter().map(|&n| window_reach(n).0 as u64).collect());
        let sizes = sizes.unwrap_or_default();
        self.filtered(name, depth, options, move |b, _| {
            *b = rank::median_filter(b.view(), &sizes)
        })
    }

    /// `scipy.ndimage.sobel(x, axis, mode, cval)`: the derivative along
    /// `axis` (`[-1, 0, 1]`), smoothed by `[1, 2, 1]` along the others.
    pub fn sobel(&self, axis: usize, options: &FilterOptions) -> Array<T::Float> {
        let args = serde_json::json!({ "axis": axis, "options": options.to_value() });
        self.sobel_built(axis, options)
            .recorded("sobel", args, vec![self.origin()])
    }

    fn sobel_built(&self, axis: usize, options: &FilterOptions) -> Array<T::Float> {
        let name = format!("sobel(axis {axis})");
        let ndim = self.ndim();
        let depth = match axis < ndim {
            true => Ok(vec![1; ndim]),
            false => Err(format!(
                "axis {axis} is out of bounds for array of dimension {ndim}"
            )),
        };
        self.filtered(name, depth, options, move |b, after| {
            derivatives::sobel(b.view_mut(), axis, after)
        })
    }

    /// `scipy.ndimage.laplace(x, mode, cval)`: the sum over the axes of
    /// the second difference `[1, -2, 1]`.
    pub fn laplace(&self, options: &FilterOptions) -> Array<T::Float> {
        let args = serde_json::json!({ "options": options.to_value() });
        self.laplace_built(options)
            .recorded("laplace", args, vec![self.origin()])
    }

    fn laplace_built(&self, options: &FilterOptions) -> Array<T::Float> {
        let depth = Ok(vec![1; self.ndim()]);
        self.filtered("laplace".into(), depth, options, |b, _| {
            *b = derivatives::laplace(b.view())
        })
    }

    /// A separable window filter: `pass` along each axis whose size is
    /// above 1, in axis order, as scipy's.
    fn window_filter(
        &self,
        what: &str,
        size: &[u64],
        options: &FilterOptions,
        pass: impl Fn(&mut ArrayD<T::Float>, usize, usize) + Send + Sync + 'static,
    ) -> Array<T::Float> {
        let name = format!("{what}(size {size:?})");
        let sizes = check_sizes(size, self.ndim());
        let depth = sizes
            .clone()
            .map(|s| s.iter().map(|&n| window_reach(n).0 as u64).collect());
        let sizes = sizes.unwrap_or_default();
        self.filtered(name, depth, options, move |b, after| {
            for (axis, &s) in sizes.iter().enumerate() {
                if s > 1 && b.len_of(Axis(axis)) > 0 {
                    pass(b, axis, s);
                    after(b.view_mut());
                }
            }
        })
    }
}

/// Per axis, the positions of a block grown by `halo` (the block at
/// `region` of an array of `shape`) that lie inside the array.
fn inside_array(shape: &[u64], halo: &[u64], region: &Region) -> Vec<Range<usize>> {
    (0..shape.len())
        .map(|a| {
            let (start, n, d) = (region.start()[a], shape[a], halo[a]);
            let len = region.shape()[a] + 2 * d;
            let lo = d.saturating_sub(start);
            let hi = (n + d - start).min(len);
            lo as usize..hi as usize
        })
        .collect()
}

/// scipy's `constant` mode between the 1-D passes of a separable filter:
/// every element of `block` outside `inside` (the array) set back to
/// `cval`. scipy extends the input of each pass by `cval`; the engine
/// extends the block once, so without this a pass along one axis would
/// turn the halo along the others into the filtered constant (0 for a
/// derivative, 4 · cval for Sobel's `[1, 2, 1]`) before the next pass
/// reads it.
fn fill_outside<F: FilterFloat>(mut block: ArrayViewMutD<'_, F>, inside: &[Range<usize>], cval: F) {
    for (axis, r) in inside.iter().enumerate() {
        block
            .slice_axis_mut(Axis(axis), Slice::from(..r.start))
            .fill(cval);
        block
            .slice_axis_mut(Axis(axis), Slice::from(r.end..))
            .fill(cval);
    }
}

/// A Gaussian's radius along an axis (0 where it is left alone).
fn radius(sigma: f64, truncate: f64) -> u64 {
    match sigma > SIGMA_SKIP {
        true => kernels::gaussian_radius(sigma, truncate) as u64,
        false => 0,
    }
}
