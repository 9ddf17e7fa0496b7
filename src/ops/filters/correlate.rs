//! 1-D correlation along an axis and the Gaussian filters built on it:
//! `scipy.ndimage.correlate1d` (the C routine `NI_Correlate1D`),
//! `gaussian_filter1d` and `gaussian_filter`.

use ndarray::ArrayViewMutD;

use super::kernels::gaussian_kernel1d;
use super::{filter_lines, filter_panels, AfterPass, FilterFloat, SIGMA_SKIP};

/// How `NI_Correlate1D` sums a line, from the weights' shape: odd-length
/// weights equal (or opposite) about their centre to within `f64::EPSILON`
/// add (or subtract) the two inputs a weight pair multiplies first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Symmetry {
    /// `w[c + i] == w[c - i]`: `(x[-i] + x[i]) · w[c - i]`.
    Even,
    /// `w[c + i] == -w[c - i]`: `(x[-i] - x[i]) · w[c - i]`.
    Odd,
    /// Anything else: one product per weight.
    None,
}

/// `NI_Correlate1D`'s test for symmetric and antisymmetric weights.
fn symmetry(weights: &[f64]) -> Symmetry {
    let n = weights.len();
    if n.is_multiple_of(2) {
        return Symmetry::None;
    }
    let c = n / 2;
    let pairs = 1..=c;
    if pairs
        .clone()
        .all(|i| (weights[c + i] - weights[c - i]).abs() <= f64::EPSILON)
    {
        Symmetry::Even
    } else if pairs
        .clone()
        .all(|i| (weights[c + i] + weights[c - i]).abs() <= f64::EPSILON)
    {
        Symmetry::Odd
    } else {
        Symmetry::None
    }
}

/// Correlates every line of `block` along `axis` with `weights`, in place:
/// `scipy.ndimage.correlate1d(block, weights, axis, origin=origin)`.
/// Output `i` is `Σ_j weights[j] · x[i + j - len/2 - origin]` (`len/2`
/// rounded down, so even-length weights reach one further before than
/// after), summed in `f64` in `NI_Correlate1D`'s order (symmetric and
/// antisymmetric odd weights pair their inputs first) and rounded once
/// to the element type: the same bits as scipy in the interior.
///
/// The reach is `len/2 + origin` elements before and `len - len/2 - 1 -
/// origin` after; positions outside the block read its nearest edge.
///
/// Panics if `weights` is empty, `axis` is out of range or `origin` is
/// outside scipy's `-(len/2) ..= (len-1)/2`.
pub(crate) fn correlate1d<T: FilterFloat>(
    block: ArrayViewMutD<'_, T>,
    axis: usize,
    weights: &[f64],
    origin: isize,
) {
    let n = weights.len();
    assert!(n >= 1, "no filter weights given");
    let lo = -((n / 2) as isize);
    let hi = ((n - 1) / 2) as isize;
    assert!(
        (lo..=hi).contains(&origin),
        "origin {origin} outside {lo}..={hi} for {n} weights"
    );
    let size1 = n / 2;
    let size2 = n - size1 - 1;
    let before = (size1 as isize + origin) as usize;
    let after = (size2 as isize - origin) as usize;
    let kind = symmetry(weights);
    if axis + 1 < block.ndim() {
        return filter_panels(block, axis, before, after, |input, output, width| {
            correlate_line(input, weights, kind, output, width);
        });
    }
    filter_lines(block, axis, before, after, |input, output| {
        correlate_line(input, weights, kind, output, 1);
    });
}

/// One line of [`correlate1d`]: `input` holds the line extended by the
/// weights' reach (`output.len() + weights.len() - 1` values), so output
/// `i`'s window is `input[i .. i + weights.len()]`. With `width` above 1,
/// `width` lines side by side (a panel: position `p` of line `k` at
/// `p * width + k`), a shift of one position being `width` elements.
///
/// Each output accumulates the same products in the same order as
/// `NI_Correlate1D`'s loop, but the loops are swapped (weights outside,
/// positions inside) so the inner loop is a plain vectorisable
/// `out[i] += a[i] · w` over the line; Rust never fuses the multiply-add,
/// so the bits are scipy's.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
fn correlate_line(
    input: &[f64],
    weights: &[f64],
    kind: Symmetry,
    output: &mut [f64],
    width: usize,
) {
    let len = output.len();
    let n = weights.len();
    debug_assert_eq!(input.len(), len + (n - 1) * width);
    // Outputs `start .. start + L` summed in registers: each output's
    // operations in the order above, its inputs read once per tap and the
    // output written once (not once per tap).
    let mut start = 0;
    while start + TILE <= len {
        correlate_tile::<TILE>(
            input,
            weights,
            kind,
            &mut output[start..start + TILE],
            start,
            width,
        );
        start += TILE;
    }
    for i in start..len {
        correlate_tile::<1>(input, weights, kind, &mut output[i..i + 1], i, width);
    }
}

/// Outputs summed at once by [`correlate_line`]: two AVX-512 registers of
/// `f64` (four AVX2 ones).
const TILE: usize = 16;

/// Outputs `start .. start + L` of [`correlate_line`] into `out`.
#[inline(always)]
fn correlate_tile<const L: usize>(
    input: &[f64],
    weights: &[f64],
    kind: Symmetry,
    out: &mut [f64],
    start: usize,
    width: usize,
) {
    let n = weights.len();
    let c = n / 2;
    // The `L` inputs `k` positions along the line from the tile's start.
    let at = |k: usize| -> &[f64; L] {
        let from = start + k * width;
        input[from..from + L].try_into().expect("a tile of inputs")
    };
    let mut acc = [0.0f64; L];
    match kind {
        Symmetry::Even | Symmetry::Odd => {
            let (centre, wc) = (at(c), weights[c]);
            for k in 0..L {
                acc[k] = centre[k] * wc;
            }
            // scipy's jj = -c .. -1: the outermost pair first.
            for i in (1..=c).rev() {
                let (w, left, right) = (weights[c - i], at(c - i), at(c + i));
                if kind == Symmetry::Even {
                    for k in 0..L {
                        acc[k] += (left[k] + right[k]) * w;
                    }
                } else {
                    for k in 0..L {
                        acc[k] += (left[k] - right[k]) * w;
                    }
                }
            }
        }
        Symmetry::None => {
            // scipy starts from the last weight, then adds the others in order.
            let (last, w) = (at(n - 1), weights[n - 1]);
            for k in 0..L {
                acc[k] = last[k] * w;
            }
            for (j, &w) in weights[..n - 1].iter().enumerate() {
                let x = at(j);
                for k in 0..L {
                    acc[k] += x[k] * w;
                }
            }
        }
    }
    out.copy_from_slice(&acc);
}

/// Filters every line of `block` along `axis` with a Gaussian of standard
/// deviation `sigma` (or its `order`-th derivative) truncated at `radius`,
/// in place: `scipy.ndimage.gaussian_filter1d(block, sigma, axis, order,
/// radius=radius)`, which is `truncate` standard deviations for
/// `radius = gaussian_radius(sigma, truncate)`. Correlates with
/// [`gaussian_kernel1d`] reversed, as scipy does, so order 1 is the
/// derivative with its sign: positive along an increasing ramp.
pub(crate) fn gaussian_filter1d<T: FilterFloat>(
    block: ArrayViewMutD<'_, T>,
    axis: usize,
    sigma: f64,
    order: usize,
    radius: usize,
) {
    let mut weights = gaussian_kernel1d(sigma, order, radius);
    weights.reverse();
    correlate1d(block, axis, &weights, 0);
}

/// The n-d Gaussian filter, in place: `scipy.ndimage.gaussian_filter(block,
/// sigma, order, truncate=truncate)` with one `sigma` and `order` per axis.
/// One [`gaussian_filter1d`] per axis in axis order, each rounding to the
/// element type, skipping axes whose sigma is at most `1e-15` (as scipy
/// does, whatever their order); `after` runs after each pass. Axis `a`
/// reaches
/// `gaussian_radius(sigma[a], truncate)` elements each side.
///
/// Panics if `sigma` or `order` does not hold one value per axis.
pub(crate) fn gaussian_filter<T: FilterFloat>(
    mut block: ArrayViewMutD<'_, T>,
    sigma: &[f64],
    order: &[usize],
    truncate: f64,
    after: AfterPass<'_, T>,
) {
    let ndim = block.ndim();
    assert_eq!(sigma.len(), ndim, "one sigma per axis");
    assert_eq!(order.len(), ndim, "one order per axis");
    for axis in 0..ndim {
        if sigma[axis] > SIGMA_SKIP {
            let radius = super::kernels::gaussian_radius(sigma[axis], truncate);
            gaussian_filter1d(block.view_mut(), axis, sigma[axis], order[axis], radius);
            after(block.view_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2, ArrayD};

    #[test]
    fn symmetry_as_scipy_tests_it() {
        assert_eq!(symmetry(&[1.0, 2.0, 1.0]), Symmetry::Even);
        assert_eq!(symmetry(&[-1.0, 0.0, 1.0]), Symmetry::Odd);
        assert_eq!(symmetry(&[1.0, -2.0, 1.0]), Symmetry::Even);
        assert_eq!(symmetry(&[1.0, 1.0]), Symmetry::None);
        assert_eq!(symmetry(&[1.0, 2.0, 3.0]), Symmetry::None);
        assert_eq!(symmetry(&[5.0]), Symmetry::Even);
    }

    #[test]
    fn even_weights_centre_at_half_the_length() {
        // scipy: correlate1d([0, 1, 2, 3, 4], [1, 10], mode='nearest')
        // gives x[i-1] + 10 x[i] = [0, 10, 21, 32, 43].
        let mut x: ArrayD<f64> = arr1(&[0.0, 1.0, 2.0, 3.0, 4.0]).into_dyn();
        correlate1d(x.view_mut(), 0, &[1.0, 10.0], 0);
        assert_eq!(x, arr1(&[0.0, 10.0, 21.0, 32.0, 43.0]).into_dyn());
        // origin -1 shifts the window right: 10 x[i] + x[i+1].
        let mut x: ArrayD<f64> = arr1(&[0.0, 1.0, 2.0, 3.0, 4.0]).into_dyn();
        correlate1d(x.view_mut(), 0, &[10.0, 1.0], -1);
        assert_eq!(x, arr1(&[1.0, 12.0, 23.0, 34.0, 44.0]).into_dyn());
    }

    #[test]
    fn origins_shift_odd_weights() {
        // scipy: correlate1d([0, 1, 2, 3, 4], [1, 10, 100], mode='nearest',
        // origin=o); a positive origin moves the window left.
        for (origin, want) in [
            (-1, [210.0, 321.0, 432.0, 443.0, 444.0]),
            (0, [100.0, 210.0, 321.0, 432.0, 443.0]),
            (1, [0.0, 100.0, 210.0, 321.0, 432.0]),
        ] {
            let mut x: ArrayD<f64> = arr1(&[0.0, 1.0, 2.0, 3.0, 4.0]).into_dyn();
            correlate1d(x.view_mut(), 0, &[1.0, 10.0, 100.0], origin);
            assert_eq!(x, arr1(&want).into_dyn(), "origin {origin}");
        }
        // Along the second axis, even-length weights, origin 1: scipy's
        // correlate1d(x, [0.25, 0.5, 1, -0.75], axis=1, origin=1).
        let mut x: ArrayD<f64> =
            arr2(&[[0.0, 1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0, 9.0]]).into_dyn();
        correlate1d(x.view_mut(), 1, &[0.25, 0.5, 1.0, -0.75], 1);
        let want = arr2(&[[0.0, -0.75, -0.5, 0.25, 1.25], [5.0, 4.25, 4.5, 5.25, 6.25]]);
        assert_eq!(x, want.into_dyn());
    }

    #[test]
    fn thin_and_empty_blocks_use_the_nearest_edge() {
        let mut x: ArrayD<f32> = arr2(&[[2.0f32], [5.0]]).into_dyn();
        correlate1d(x.view_mut(), 1, &[1.0; 7], 0);
        assert_eq!(x, arr2(&[[14.0f32], [35.0]]).into_dyn());
        let mut empty = ArrayD::<f64>::zeros(vec![3, 0]);
        correlate1d(empty.view_mut(), 1, &[1.0, 2.0, 1.0], 0);
        correlate1d(empty.view_mut(), 0, &[1.0, 2.0, 1.0], 0);
        gaussian_filter(empty.view_mut(), &[1.0, 2.0], &[0, 1], 4.0, &|_| {});
    }

    #[test]
    fn first_derivative_is_positive_on_a_ramp() {
        let mut x: ArrayD<f64> = ArrayD::from_shape_fn(vec![21], |i| 0.5 * i[0] as f64);
        gaussian_filter1d(x.view_mut(), 0, 1.0, 1, 4);
        assert!((x[[10]] - 0.5).abs() < 1e-2, "{}", x[[10]]);
    }
}
