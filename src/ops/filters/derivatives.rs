//! Derivative filters built on [`correlate1d`]: `scipy.ndimage.sobel`,
//! `scipy.ndimage.laplace` (through `generic_laplace`) and
//! `scipy.ndimage.gaussian_gradient_magnitude` (through
//! `generic_gradient_magnitude`), each with scipy's order of operations
//! and roundings to the element type.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};

use super::correlate::{correlate1d, gaussian_filter};
use super::{AfterPass, FilterFloat};

/// The Sobel filter along `axis`, in place: `scipy.ndimage.sobel(block,
/// axis)`. Correlates with `[-1, 0, 1]` along `axis`, then with `[1, 2,
/// 1]` along every other axis in order, each pass rounded to the element
/// type and followed by `after`. Reaches one element each side along
/// every axis.
///
/// Panics if `axis` is out of range.
pub(crate) fn sobel<T: FilterFloat>(
    mut block: ArrayViewMutD<'_, T>,
    axis: usize,
    after: AfterPass<'_, T>,
) {
    correlate1d(block.view_mut(), axis, &[-1.0, 0.0, 1.0], 0);
    after(block.view_mut());
    for other in (0..block.ndim()).filter(|&a| a != axis) {
        correlate1d(block.view_mut(), other, &[1.0, 2.0, 1.0], 0);
        after(block.view_mut());
    }
}

/// The discrete Laplacian: `scipy.ndimage.laplace(block)`, the sum over
/// the axes of the correlation with `[1, -2, 1]` along that axis. As
/// scipy's `generic_laplace`, the first axis's result is the output and
/// each further axis's (rounded to the element type) is added to it in
/// the element type. Reaches one element each side along every axis. A
/// 0-d block is returned as it is.
pub(crate) fn laplace<T: FilterFloat>(block: ArrayViewD<'_, T>) -> ArrayD<T> {
    const SECOND: [f64; 3] = [1.0, -2.0, 1.0];
    let mut out = block.to_owned();
    if block.ndim() == 0 {
        return out;
    }
    correlate1d(out.view_mut(), 0, &SECOND, 0);
    let mut term = block.to_owned();
    for axis in 1..block.ndim() {
        term.assign(&block);
        correlate1d(term.view_mut(), axis, &SECOND, 0);
        out.zip_mut_with(&term, |o, &t| *o = *o + t);
    }
    out
}

/// The magnitude of the Gaussian gradient:
/// `scipy.ndimage.gaussian_gradient_magnitude(block, sigma,
/// truncate=truncate)` with one sigma per axis. As scipy's
/// `generic_gradient_magnitude`: for each axis `a` in order, the
/// [`gaussian_filter`] of the block with order 1 along `a` and 0 along the
/// others; the first is squared into the output, each further one squared
/// and added to it, all in the element type; then the square root, in the
/// element type. Axes whose sigma is at most `1e-15` are not smoothed
/// (nor differentiated), as in scipy. Each Gaussian pass is followed by
/// `after`. Axis `a` reaches
/// `gaussian_radius(sigma[a], truncate)` elements each side. A 0-d block
/// is returned as it is.
///
/// Panics if `sigma` does not hold one value per axis.
pub(crate) fn gaussian_gradient_magnitude<T: FilterFloat>(
    block: ArrayViewD<'_, T>,
    sigma: &[f64],
    truncate: f64,
    after: AfterPass<'_, T>,
) -> ArrayD<T> {
    let ndim = block.ndim();
    assert_eq!(sigma.len(), ndim, "one sigma per axis");
    let mut out = block.to_owned();
    if ndim == 0 {
        return out;
    }
    let mut order = vec![0usize; ndim];
    order[0] = 1;
    gaussian_filter(out.view_mut(), sigma, &order, truncate, after);
    out.mapv_inplace(|v| v * v);
    let mut term = block.to_owned();
    for axis in 1..ndim {
        order.fill(0);
        order[axis] = 1;
        term.assign(&block);
        gaussian_filter(term.view_mut(), sigma, &order, truncate, after);
        out.zip_mut_with(&term, |o, &t| *o = *o + t * t);
    }
    out.mapv_inplace(T::sqrt);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn sobel_of_a_plane_is_eight_times_its_slope() {
        let x = ArrayD::from_shape_fn(vec![5, 6], |i| 3.0 * i[0] as f64 + 0.5 * i[1] as f64);
        let mut s0 = x.clone();
        sobel(s0.view_mut(), 0, &|_| {});
        assert_eq!(s0[[2, 3]], 8.0 * 3.0);
        let mut s1 = x.clone();
        sobel(s1.view_mut(), 1, &|_| {});
        assert_eq!(s1[[2, 3]], 8.0 * 0.5);
    }

    #[test]
    fn laplace_of_a_point() {
        let mut x = ArrayD::<f32>::zeros(vec![3, 3]);
        x[[1, 1]] = 1.0;
        let l = laplace(x.view());
        let want = arr2(&[[0.0f32, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).into_dyn();
        assert_eq!(l, want);
    }

    #[test]
    fn gradient_magnitude_of_a_plane_is_its_slope() {
        let x = ArrayD::from_shape_fn(vec![21, 21], |i| 3.0 * i[0] as f64 + 4.0 * i[1] as f64);
        let g = gaussian_gradient_magnitude(x.view(), &[1.0, 1.5], 4.0, &|_| {});
        assert!((g[[10, 10]] - 5.0).abs() < 2e-2, "{}", g[[10, 10]]);
    }
}
