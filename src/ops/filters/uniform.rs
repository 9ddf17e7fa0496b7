//! The 1-D moving average: `scipy.ndimage.uniform_filter1d`, by the
//! running sum of the C routine `NI_UniformFilter1D`.

use ndarray::ArrayViewMutD;

use super::{filter_lines, window_reach, FilterFloat};

/// Replaces every line of `block` along `axis` by its moving average over
/// `size` elements, in place: `scipy.ndimage.uniform_filter1d(block, size,
/// axis)`. The window of output `i` is `x[i - b ..= i + a]` for the reach
/// `(b, a)` of [`window_reach`] (an even window reaches one further
/// before than after).
///
/// As scipy, a running sum: the first window summed in order, then
/// `sum += x[new] - x[old]` per step, each output `sum / size` rounded to
/// the element type. The sum's rounding errors carry along the line, so
/// the bits depend on where the line starts: in a block that starts
/// `halo` elements before scipy's array, the interior agrees with scipy
/// to a few units in the last place of `f64` (almost always exactly once
/// rounded to `f32`), not bit for bit.
///
/// Panics if `size` is 0 or `axis` is out of range.
pub(crate) fn uniform_filter1d<T: FilterFloat>(
    block: ArrayViewMutD<'_, T>,
    axis: usize,
    size: usize,
) {
    let (before, after) = window_reach(size);
    filter_lines(block, axis, before, after, |input, output| {
        running_mean(input, size, output);
    });
}

/// One line of [`uniform_filter1d`]: `input` holds `output.len() + size -
/// 1` values, output `i` averages `input[i .. i + size]`.
fn running_mean(input: &[f64], size: usize, output: &mut [f64]) {
    let divisor = size as f64;
    let mut sum = input[..size].iter().fold(0.0, |acc, &v| acc + v);
    output[0] = sum / divisor;
    for (i, o) in output.iter_mut().enumerate().skip(1) {
        sum += input[i - 1 + size] - input[i - 1];
        *o = sum / divisor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, ArrayD};

    #[test]
    fn even_windows_reach_further_before() {
        // scipy: uniform_filter1d([0, 2, 4, 6, 8], 2, mode='nearest')
        // averages x[i-1] and x[i]: [0, 1, 3, 5, 7].
        let mut x: ArrayD<f64> = arr1(&[0.0, 2.0, 4.0, 6.0, 8.0]).into_dyn();
        uniform_filter1d(x.view_mut(), 0, 2);
        assert_eq!(x, arr1(&[0.0, 1.0, 3.0, 5.0, 7.0]).into_dyn());
    }

    #[test]
    fn windows_longer_than_the_line() {
        let mut x: ArrayD<f32> = arr1(&[1.0f32, 3.0]).into_dyn();
        uniform_filter1d(x.view_mut(), 0, 4);
        // Window of 0: x[-2..=1] = 1, 1, 1, 3; of 1: 1, 1, 3, 3.
        assert_eq!(x, arr1(&[1.5f32, 2.0]).into_dyn());
    }
}
