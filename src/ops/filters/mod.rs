//! The in-memory kernels of `scipy.ndimage`'s filters, run on one block
//! that already carries a halo.
//!
//! Each kernel filters one in-memory block whose filtered axes hold a halo
//! of the filter's reach on each side, added by the engine with the
//! boundary mode (`map_overlap`): the kernels never see the mode, but
//! the separable ones run an [`AfterPass`] on the block after each 1-D
//! pass, with which the engine restores scipy's `constant` halo (see
//! `array.rs`). The output has the block's shape; only its interior (at
//! least the reach away from the block's edges along each filtered axis)
//! is exact, the rim is trimmed away by the engine. The rim is computed
//! cheaply by treating positions outside the block as the nearest edge
//! value (scipy's `mode='nearest'`), which never reads out of bounds and
//! handles blocks thinner than the kernel.
//!
//! Arithmetic follows scipy's C code (`ni_filters.c`): each line is read
//! into an `f64` buffer, filtered in `f64` and written back in the block's
//! element type, so a separable filter rounds to the element type once per
//! 1-D pass, as scipy does.
//!
//! Agreement with scipy (`tests/filters.rs` compares the public filters
//! with scipy 1.17 in every mode, on irregular chunks): Sobel, Laplace,
//! minimum, maximum and median give scipy's bits, and everything does in
//! `f32`. The Gaussian filters do too when both use the C library's `exp`
//! for the kernel; numpy's AVX-512 `exp` differs in the last bit for a few
//! percent of arguments, which moves `f64` results by a few units in the
//! last place. The moving average's running sum starts at the block's
//! first element, not the array's, so its `f64` results differ by some
//! units in the last place (up to 11 in the tests).
//!
//! | kernel | mirrors |
//! |---|---|
//! | [`kernels::gaussian_kernel1d`], [`kernels::gaussian_radius`] | `scipy.ndimage._filters._gaussian_kernel1d`, the radius of `gaussian_filter1d` |
//! | [`correlate::correlate1d`] | `scipy.ndimage.correlate1d` (`NI_Correlate1D`) |
//! | [`correlate::gaussian_filter1d`], [`correlate::gaussian_filter`] | `scipy.ndimage.gaussian_filter1d`, `gaussian_filter` |
//! | [`uniform::uniform_filter1d`] | `scipy.ndimage.uniform_filter1d` (`NI_UniformFilter1D`'s running sum) |
//! | [`rank::minimum_filter1d`], [`rank::maximum_filter1d`] | `scipy.ndimage.minimum_filter1d`, `maximum_filter1d` (`NI_MinOrMaxFilter1D`) |
//! | [`rank::median_filter`] | `scipy.ndimage.median_filter` with `size` (a rectangular window) |
//! | [`derivatives::sobel`], [`derivatives::laplace`], [`derivatives::gaussian_gradient_magnitude`] | `scipy.ndimage.sobel`, `laplace`, `gaussian_gradient_magnitude` |

mod array;
pub(crate) mod correlate;
pub(crate) mod derivatives;
pub(crate) mod kernels;
pub(crate) mod rank;
pub(crate) mod uniform;

use std::cmp::Ordering;

use ndarray::{ArrayViewMutD, Axis};
use num_traits::Float;

pub use array::{FilterElement, FilterOptions};

/// The sigma at or below which a Gaussian leaves an axis alone (scipy's).
pub(crate) const SIGMA_SKIP: f64 = 1e-15;

/// What a separable kernel runs on its whole block after each 1-D pass.
/// scipy extends the input of every pass by the mode; the engine extends
/// the block once, which is the same for the modes that copy the array's
/// own values (the passes along one axis commute with copying along
/// another) but not for `constant`, whose halo the engine must put back
/// after each pass. `&|_| {}` for nothing.
pub(crate) type AfterPass<'a, T> = &'a dyn Fn(ArrayViewMutD<'_, T>);

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The float types the filters compute in: `f32` and `f64`. Lines are
/// filtered in `f64` and written back with one rounding, as scipy does.
pub trait FilterFloat: Float + Send + Sync + 'static + sealed::Sealed {
    /// The value as `f64` (exact).
    #[doc(hidden)]
    fn widen(self) -> f64;
    /// `v` rounded to the nearest value of this type (C's `(float)v`).
    #[doc(hidden)]
    fn narrow(v: f64) -> Self;
    /// IEEE 754 `totalOrder`: `-0 < +0`, NaNs at the ends by sign.
    #[doc(hidden)]
    fn total_order(&self, other: &Self) -> Ordering;
}

impl FilterFloat for f32 {
    #[inline]
    fn widen(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn narrow(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn total_order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

impl FilterFloat for f64 {
    #[inline]
    fn widen(self) -> f64 {
        self
    }
    #[inline]
    fn narrow(v: f64) -> Self {
        v
    }
    #[inline]
    fn total_order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

/// The reach of a window of `size` elements centred as scipy centres it
/// (origin 0): `(size / 2, size - size / 2 - 1)` elements before and after
/// the output position. An even window reaches one further before than
/// after. A halo of `size / 2` on each side covers both.
pub(crate) fn window_reach(size: usize) -> (usize, usize) {
    assert!(size >= 1, "a filter window holds at least one element");
    (size / 2, size - size / 2 - 1)
}

/// Filters every line of `block` along `axis` in place, as scipy's line
/// buffers do: each line is copied into one `f64` buffer extended by
/// `before` copies of its first value and `after` copies of its last
/// (nearest-edge), `line(input, output)` writes the line's `len` results
/// into a second `f64` buffer, and those are rounded back into the block.
/// The two buffers are allocated once per call. Lines of length 0 are
/// left alone.
fn filter_lines<T: FilterFloat>(
    mut block: ArrayViewMutD<'_, T>,
    axis: usize,
    before: usize,
    after: usize,
    mut line: impl FnMut(&[f64], &mut [f64]),
) {
    assert!(
        axis < block.ndim(),
        "axis {axis} out of range for a {}-d block",
        block.ndim()
    );
    let len = block.len_of(Axis(axis));
    if len == 0 {
        return;
    }
    let mut input = vec![0.0f64; before + len + after];
    let mut output = vec![0.0f64; len];
    for mut lane in block.lanes_mut(Axis(axis)) {
        let (head, rest) = input.split_at_mut(before);
        let (body, tail) = rest.split_at_mut(len);
        match lane.as_slice() {
            Some(values) => widen(values, body),
            None => body
                .iter_mut()
                .zip(lane.iter())
                .for_each(|(b, &v)| *b = v.widen()),
        }
        head.fill(body[0]);
        tail.fill(body[len - 1]);
        line(&input, &mut output);
        match lane.as_slice_mut() {
            Some(values) => narrow(&output, values),
            None => lane
                .iter_mut()
                .zip(&output)
                .for_each(|(v, &o)| *v = T::narrow(o)),
        }
    }
}

/// Elements of the contiguous inner axes filtered at once by
/// [`filter_panels`]: a panel of `rows × PANEL` `f64`s stays in L2.
const PANEL: usize = 512;

/// [`filter_lines`] for an axis that is not the last, many lines at a
/// time: a C-order block is, for each index of the axes before `axis`, a
/// `len × inner` matrix whose rows are contiguous, so the lines along
/// `axis` are its columns. Up to [`PANEL`] columns are copied (widened,
/// with `before` and `after` copies of the first and last rows) into one
/// buffer of rows, and `panel(input, output, width)` filters them all,
/// a shift of one position along the axis being `width` elements: the
/// inner loops run over contiguous rows instead of gathering strided
/// lines. Each output gets the same operations as from [`filter_lines`].
/// Blocks not in standard layout go through [`filter_lines`] with
/// `panel`'s width 1.
fn filter_panels<T: FilterFloat>(
    mut block: ArrayViewMutD<'_, T>,
    axis: usize,
    before: usize,
    after: usize,
    mut panel: impl FnMut(&[f64], &mut [f64], usize),
) {
    let shape = block.shape().to_vec();
    let len = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let Some(data) = block.as_slice_mut().filter(|_| len > 0 && inner > 1) else {
        return filter_lines(block, axis, before, after, |i, o| panel(i, o, 1));
    };
    let rows = before + len + after;
    let mut input = vec![0.0f64; rows * PANEL.min(inner)];
    let mut output = vec![0.0f64; len * PANEL.min(inner)];
    for slab in data.chunks_exact_mut(len * inner) {
        let mut start = 0;
        while start < inner {
            let width = PANEL.min(inner - start);
            let (input, output) = (&mut input[..rows * width], &mut output[..len * width]);
            for r in 0..rows {
                let from = r.saturating_sub(before).min(len - 1);
                widen(
                    &slab[from * inner + start..][..width],
                    &mut input[r * width..][..width],
                );
            }
            panel(input, output, width);
            for r in 0..len {
                narrow(
                    &output[r * width..][..width],
                    &mut slab[r * inner + start..][..width],
                );
            }
            start += width;
        }
    }
}

/// `values` as `f64`s into `into` (as long).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn widen<T: FilterFloat>(values: &[T], into: &mut [f64]) {
    for (b, &v) in into.iter_mut().zip(values) {
        *b = v.widen();
    }
}

/// `values` rounded into `into` (as long).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn narrow<T: FilterFloat>(values: &[f64], into: &mut [T]) {
    for (v, &o) in into.iter_mut().zip(values) {
        *v = T::narrow(o);
    }
}
