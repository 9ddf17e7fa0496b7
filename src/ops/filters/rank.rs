//! Order-statistic filters: `scipy.ndimage.minimum_filter1d` and
//! `maximum_filter1d` (the C routine `NI_MinOrMaxFilter1D`, a sliding
//! window deque), and `scipy.ndimage.median_filter` with a rectangular
//! `size` (the C routine `NI_RankFilter` at rank `count / 2`). Their values
//! are elements of the input: no rounding.

use std::collections::VecDeque;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};

use super::{filter_lines, window_reach, FilterFloat};

/// Replaces every line of `block` along `axis` by its moving minimum over
/// `size` elements, in place: `scipy.ndimage.minimum_filter1d(block, size,
/// axis)`. The window of output `i` is `x[i - b ..= i + a]` for the reach
/// `(b, a)` of [`window_reach`]. O(1) amortised per element (a monotonic
/// deque), exactly as scipy's, including which of equal values (`-0.0`,
/// `+0.0`) is kept and how NaN is treated.
///
/// Panics if `size` is 0 or `axis` is out of range.
pub(crate) fn minimum_filter1d<T: FilterFloat>(
    block: ArrayViewMutD<'_, T>,
    axis: usize,
    size: usize,
) {
    extreme_filter1d(block, axis, size, true);
}

/// Replaces every line of `block` along `axis` by its moving maximum over
/// `size` elements, in place: `scipy.ndimage.maximum_filter1d(block, size,
/// axis)`; the window as [`minimum_filter1d`]'s.
///
/// Panics if `size` is 0 or `axis` is out of range.
pub(crate) fn maximum_filter1d<T: FilterFloat>(
    block: ArrayViewMutD<'_, T>,
    axis: usize,
    size: usize,
) {
    extreme_filter1d(block, axis, size, false);
}

/// [`minimum_filter1d`] (`minimum`) or [`maximum_filter1d`], with one
/// deque for the whole block.
fn extreme_filter1d<T: FilterFloat>(
    block: ArrayViewMutD<'_, T>,
    axis: usize,
    size: usize,
    minimum: bool,
) {
    let (before, after) = window_reach(size);
    let mut deque = VecDeque::with_capacity(size);
    filter_lines(block, axis, before, after, |input, output| {
        if minimum {
            sliding_extreme(input, size, output, &mut deque, |a, b| a <= b);
        } else {
            sliding_extreme(input, size, output, &mut deque, |a, b| a >= b);
        }
    });
}

/// One line of the moving minimum (`wins(a, b)` is `a <= b`) or maximum
/// (`a >= b`): `input` holds `output.len() + size - 1` values, output `i`
/// is the extreme of `input[i .. i + size]`.
///
/// Richard Harter's ascending-minima algorithm as `NI_MinOrMaxFilter1D`
/// runs it: the deque holds `(value, death)` pairs, its front the current
/// extreme; a new value that wins against the front replaces the whole
/// deque, otherwise it replaces every pair at the back it wins against.
fn sliding_extreme(
    input: &[f64],
    size: usize,
    output: &mut [f64],
    deque: &mut VecDeque<(f64, usize)>,
    wins: impl Fn(f64, f64) -> bool,
) {
    let len = output.len();
    if size == 1 {
        output.copy_from_slice(&input[..len]);
        return;
    }
    deque.clear();
    deque.push_back((input[0], size));
    for (step, &value) in input.iter().enumerate().take(size + len - 1).skip(1) {
        if deque.front().is_some_and(|&(_, death)| death == step) {
            deque.pop_front();
        }
        if deque.front().is_none_or(|&(front, _)| wins(value, front)) {
            deque.clear();
        } else {
            while deque.back().is_some_and(|&(back, _)| wins(value, back)) {
                deque.pop_back();
            }
        }
        deque.push_back((value, step + size));
        if step >= size - 1 {
            output[step + 1 - size] = deque.front().map_or(value, |&(v, _)| v);
        }
    }
}

/// The median over a rectangular window of `size[d]` elements along each
/// axis `d`: `scipy.ndimage.median_filter(block, size=size)`. The window of
/// output `i` spans `i - size[d]/2 ..= i + size[d] - size[d]/2 - 1` along
/// axis `d`; the median of its `count` elements is the element of rank
/// `count / 2` (from 0) as scipy takes it: for an even `count`, the upper
/// of the two middle elements.
///
/// Each output copies its window into one reused buffer and selects with
/// `select_nth_unstable_by` in IEEE total order, so `-0.0 < +0.0` and NaNs
/// sort last (first if negative): scipy's select compares with `<`, which
/// may pick the other zero, and does not define NaN's rank.
///
/// Panics if `size` does not hold one size of at least 1 per axis.
pub(crate) fn median_filter<T: FilterFloat>(block: ArrayViewD<'_, T>, size: &[usize]) -> ArrayD<T> {
    let ndim = block.ndim();
    assert_eq!(size.len(), ndim, "one window size per axis");
    assert!(size.iter().all(|&s| s >= 1), "window sizes are at least 1");
    let shape = block.shape().to_vec();
    if block.is_empty() {
        return block.to_owned();
    }
    let data = block.as_standard_layout();
    let values = data.as_slice().expect("standard layout is contiguous");
    // C-order strides, and per axis the clamped offset of each window
    // element of each position: tables[d][i * size[d] + k].
    let mut strides = vec![1usize; ndim];
    for d in (0..ndim.saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    let tables: Vec<Vec<usize>> = (0..ndim)
        .map(|d| {
            let (n, f) = (shape[d], size[d]);
            let reach = f / 2;
            (0..n)
                .flat_map(|i| (0..f).map(move |k| (i + k).saturating_sub(reach).min(n - 1)))
                .map(|j| j * strides[d])
                .collect()
        })
        .collect();
    let count: usize = size.iter().product();
    let rank = count / 2;
    let mut offsets = vec![0usize; count];
    let mut expanded = vec![0usize; count];
    let mut window: Vec<T> = Vec::with_capacity(count);
    let mut out = Vec::with_capacity(values.len());
    let mut position = vec![0usize; ndim];
    for _ in 0..values.len() {
        // The window's offsets, axis by axis (C order within the window).
        offsets[0] = 0;
        let mut filled = 1;
        for d in 0..ndim {
            let f = size[d];
            let row = &tables[d][position[d] * f..(position[d] + 1) * f];
            for (j, &base) in offsets[..filled].iter().enumerate() {
                for (e, &t) in expanded[j * f..(j + 1) * f].iter_mut().zip(row) {
                    *e = base + t;
                }
            }
            filled *= f;
            std::mem::swap(&mut offsets, &mut expanded);
        }
        window.clear();
        window.extend(offsets.iter().map(|&o| values[o]));
        let (_, median, _) = window.select_nth_unstable_by(rank, T::total_order);
        out.push(*median);
        // The next position in C order.
        for d in (0..ndim).rev() {
            position[d] += 1;
            if position[d] < shape[d] {
                break;
            }
            position[d] = 0;
        }
    }
    ArrayD::from_shape_vec(shape, out).expect("one output per element")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    fn brute(line: &[f64], size: usize, minimum: bool) -> Vec<f64> {
        let n = line.len() as isize;
        let (before, _) = window_reach(size);
        (0..n)
            .map(|i| {
                let at = |k: isize| line[k.clamp(0, n - 1) as usize];
                let window = (0..size as isize).map(|k| at(i + k - before as isize));
                if minimum {
                    window.fold(f64::INFINITY, f64::min)
                } else {
                    window.fold(f64::NEG_INFINITY, f64::max)
                }
            })
            .collect()
    }

    #[test]
    fn sliding_extremes_equal_brute_force() {
        let line: Vec<f64> = (0..40)
            .map(|i| ((i * 37 % 11) as f64) - (i % 3) as f64)
            .collect();
        for size in 1..=12 {
            for minimum in [true, false] {
                let mut x: ArrayD<f64> = arr1(&line).into_dyn();
                if minimum {
                    minimum_filter1d(x.view_mut(), 0, size);
                } else {
                    maximum_filter1d(x.view_mut(), 0, size);
                }
                let want = brute(&line, size, minimum);
                assert_eq!(
                    x.as_slice().unwrap(),
                    &want[..],
                    "size {size} min {minimum}"
                );
            }
        }
    }

    #[test]
    fn median_of_an_even_window_is_the_upper_middle() {
        // Windows of 2 along the axis: x[i-1], x[i]; the upper is the max.
        let x = arr1(&[1.0f32, 5.0, 2.0, 8.0]).into_dyn();
        let m = median_filter(x.view(), &[2]);
        assert_eq!(m, arr1(&[1.0f32, 5.0, 5.0, 8.0]).into_dyn());
        let x = arr2(&[[1.0, 9.0], [4.0, 3.0]]).into_dyn();
        // scipy: median_filter([[1, 9], [4, 3]], size=3, mode='nearest').
        let want = arr2(&[[3.0, 4.0], [4.0, 3.0]]).into_dyn();
        assert_eq!(median_filter(x.view(), &[3, 3]), want);
    }

    #[test]
    fn median_of_empty_and_scalar_blocks() {
        let empty = ArrayD::<f64>::zeros(vec![0, 4]);
        assert_eq!(median_filter(empty.view(), &[3, 3]).shape(), &[0, 4]);
        let scalar = ArrayD::from_elem(vec![], 2.5f64);
        assert_eq!(median_filter(scalar.view(), &[]), scalar);
    }
}
