//! `coarsen`: each window of `factor` elements per axis reduced to one
//! (Dask's `da.coarsen`, scikit-image's `downscale_local_mean`), by mean,
//! maximum, minimum or mode (for label images), in one blockwise pass:
//! the chunks are first cut at multiples of the factors (no node when they
//! already are, a rechunk planned within the budget otherwise), so every
//! window lies in one block.

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::AxisChunks;
use ndchunk_io::Element;
use num_traits::AsPrimitive;

use crate::array::{Array, Chunks};
use crate::labelled::CoarsenBoundary;
use crate::ops::blocks::{map_blocks_built as map_blocks, BlockSpec};
use crate::ops::elementwise::invalid;
use crate::ops::layout::Index;
use crate::ops::per_axis;

/// How [`Array::coarsen`] reduces a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Downsample {
    /// The mean, computed in `f64`; integers rounded to the nearest (half
    /// to even, as `np.round`).
    Mean,
    /// The largest value (NaN if the window has one).
    Max,
    /// The smallest value (NaN if the window has one).
    Min,
    /// The most frequent value, the smallest of equally frequent ones (as
    /// `scipy.stats.mode`): for label images. Integers only.
    Mode,
}

/// Element types [`Array::coarsen`] reduces: numbers, to and from `f64`
/// for the mean.
pub trait CoarsenElement: Element + PartialOrd + AsPrimitive<f64> {
    /// `v` (a mean) as this type: rounded half to even for integers.
    #[doc(hidden)]
    fn from_mean(v: f64) -> Self;
}

macro_rules! coarsen_element {
    ($($t:ty => $round:expr),* $(,)?) => {$(
        impl CoarsenElement for $t {
            fn from_mean(v: f64) -> Self {
                let round: fn(f64) -> f64 = $round;
                round(v) as $t
            }
        }
    )*};
}

coarsen_element!(
    i8 => f64::round_ties_even, i16 => f64::round_ties_even,
    i32 => f64::round_ties_even, i64 => f64::round_ties_even,
    u8 => f64::round_ties_even, u16 => f64::round_ties_even,
    u32 => f64::round_ties_even, u64 => f64::round_ties_even,
    f32 => |v| v, f64 => |v| v,
);

impl<T: CoarsenElement> Array<T> {
    /// Each window of `factors[i]` elements along axis `i` (one factor for
    /// all axes allowed; 1 leaves an axis alone) reduced to one element
    /// by `how`, keeping the element type. A length that is not a
    /// multiple of its factor is an error ([`CoarsenBoundary::Exact`]),
    /// loses its last partial window (`Trim`) or keeps it, reduced over
    /// the elements it has (`Pad`: an image pyramid's odd sizes).
    ///
    /// ```
    /// use ndchunk::{Array, CoarsenBoundary, Downsample};
    /// let x = Array::<u16>::arange(10, [4]).unwrap();
    /// let half = x.coarsen(&[2], Downsample::Mean, CoarsenBoundary::Exact);
    /// // (0+1)/2 = 0.5 -> 0, (2+3)/2 = 2.5 -> 2, 4.5 -> 4, 6.5 -> 6, 8.5 -> 8
    /// assert_eq!(half.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 2, 4, 6, 8]);
    /// let third = x.coarsen(&[3], Downsample::Max, CoarsenBoundary::Pad);
    /// assert_eq!(third.compute().unwrap().into_raw_vec_and_offset().0, vec![2, 5, 8, 9]);
    /// ```
    pub fn coarsen(&self, factors: &[u64], how: Downsample, boundary: CoarsenBoundary) -> Array<T> {
        let args = serde_json::json!({
            "factors": factors,
            "how": format!("{how:?}"),
            "boundary": format!("{boundary:?}"),
        });
        self.coarsen_built(factors, how, boundary)
            .recorded("coarsen", args, vec![self.origin()])
    }

    fn coarsen_built(
        &self,
        factors: &[u64],
        how: Downsample,
        boundary: CoarsenBoundary,
    ) -> Array<T> {
        let name = format!("coarsen({factors:?}, {how:?})");
        let shape = self.shape();
        let ndim = shape.len();
        let factors = match per_axis(factors, ndim, "factors") {
            Ok(factors) => factors,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        let refuse = |message: String| invalid(&name, self.grid().clone(), message);
        if factors.contains(&0) {
            return refuse(format!("factors must be at least 1, not {factors:?}"));
        }
        if how == Downsample::Mode && T::DTYPE.is_float() {
            return refuse(format!(
                "mode of {} values: the most frequent value is for labels (integers)",
                T::DTYPE.name()
            ));
        }
        let mut x = self.clone();
        if let Some(a) = (0..ndim).find(|&a| !shape[a].is_multiple_of(factors[a])) {
            match boundary {
                CoarsenBoundary::Exact => {
                    return refuse(format!(
                        "axis {a} of length {} is not a multiple of {}: use CoarsenBoundary::Trim or Pad",
                        shape[a], factors[a]
                    ))
                }
                CoarsenBoundary::Trim => {
                    let index: Vec<Index> = (0..ndim)
                        .map(|a| Index::range(0, (shape[a] / factors[a] * factors[a]) as i64, 1))
                        .collect();
                    x = x.slice(&index);
                }
                CoarsenBoundary::Pad => {}
            }
        }
        // Chunks cut at multiples of the factors.
        let aligned: Result<Vec<AxisChunks>, _> = x
            .grid()
            .axes()
            .iter()
            .zip(&factors)
            .map(|(axis, &f)| aligned_chunks(axis, f))
            .collect();
        let aligned = match aligned {
            Ok(axes) => axes,
            Err(e) => return refuse(e.to_string()),
        };
        let sizes: Vec<Vec<u64>> = aligned
            .iter()
            .zip(&factors)
            .map(|(axis, &f)| axis.sizes().map(|s| s.div_ceil(f)).collect())
            .collect();
        let x = x.rechunk(Chunks::Grid(ndchunk_chunking::ChunkGrid::new(aligned)));
        let spec = BlockSpec::new().chunks(sizes);
        map_blocks(&name, &[&x], &spec, move |blocks, _| {
            reduce_windows(&blocks[0], &factors, how)
        })
    }
}

/// `axis`'s chunks with every cut moved down to a multiple of `factor`
/// (cuts that meet are merged).
fn aligned_chunks(
    axis: &AxisChunks,
    factor: u64,
) -> Result<AxisChunks, ndchunk_chunking::ChunkingError> {
    let len = axis.len();
    let mut cuts: Vec<u64> = Vec::new();
    let mut at = 0u64;
    for size in axis.sizes() {
        at += size;
        let cut = if at == len { len } else { at / factor * factor };
        if cut > cuts.last().copied().unwrap_or(0) {
            cuts.push(cut);
        }
    }
    let mut sizes = Vec::with_capacity(cuts.len());
    let mut previous = 0;
    for cut in cuts {
        sizes.push(cut - previous);
        previous = cut;
    }
    if sizes.is_empty() {
        sizes.push(0);
    }
    AxisChunks::from_sizes(&sizes)
}

/// The most bytes [`reduce_windows`] allocates for a block of at most
/// `block` elements per axis: its output and, per output element, the
/// running sum and count (mean), best value (max, min) or the window's
/// values in a vector (mode, its capacity up to twice the values).
pub(crate) fn reduce_windows_bytes<T: CoarsenElement>(
    block: &[u64],
    factors: &[u64],
    how: Downsample,
) -> u64 {
    let size = std::mem::size_of::<T>() as u64;
    let outputs = block
        .iter()
        .zip(factors)
        .map(|(&n, &f)| n.div_ceil(f.max(1)))
        .fold(1u64, u64::saturating_mul);
    let per_output = match how {
        Downsample::Mean => std::mem::size_of::<(f64, u64)>() as u64,
        Downsample::Max | Downsample::Min => std::mem::size_of::<Option<T>>() as u64,
        Downsample::Mode => std::mem::size_of::<Vec<T>>() as u64,
    };
    let window_values = match how {
        Downsample::Mode => block
            .iter()
            .fold(size, |n, &b| n.saturating_mul(b))
            .saturating_mul(2),
        _ => 0,
    };
    outputs
        .saturating_mul(per_output.saturating_add(size))
        .saturating_add(window_values)
}

/// One block's windows reduced: output element `o` from the input's
/// elements `o * factor ..` along each axis (fewer at the end).
pub(crate) fn reduce_windows<T: CoarsenElement>(
    x: &ArrayD<T>,
    factors: &[u64],
    how: Downsample,
) -> ArrayD<T> {
    let shape: Vec<usize> = x
        .shape()
        .iter()
        .zip(factors)
        .map(|(&n, &f)| n.div_ceil(f as usize))
        .collect();
    let outputs: usize = shape.iter().product();
    match how {
        Downsample::Mean => {
            let mut sums = vec![(0.0f64, 0u64); outputs];
            for_each_window(x, factors, &shape, |o, piece| {
                let slot = &mut sums[o];
                for &v in piece {
                    slot.0 += v.as_();
                }
                slot.1 += piece.len() as u64;
            });
            let values = sums
                .into_iter()
                .map(|(s, n)| T::from_mean(s / n as f64))
                .collect();
            ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per window")
        }
        Downsample::Max | Downsample::Min => {
            let mut best: Vec<Option<T>> = vec![None; outputs];
            let larger = how == Downsample::Max;
            for_each_window(x, factors, &shape, |o, piece| {
                let slot = &mut best[o];
                for &v in piece {
                    *slot = Some(match *slot {
                        None => v,
                        // NaN wins, as numpy's max.
                        Some(b) if b.partial_cmp(&b).is_none() => b,
                        Some(_) if v.partial_cmp(&v).is_none() => v,
                        Some(b) if (larger && v > b) || (!larger && v < b) => v,
                        Some(b) => b,
                    });
                }
            });
            let values = best.into_iter().map(|b| b.unwrap_or_default()).collect();
            ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per window")
        }
        Downsample::Mode => {
            let mut windows: Vec<Vec<T>> = vec![Vec::new(); outputs];
            for_each_window(x, factors, &shape, |o, piece| {
                windows[o].extend_from_slice(piece)
            });
            let values = windows.into_iter().map(|w| mode(w)).collect();
            ArrayD::from_shape_vec(IxDyn(&shape), values).expect("one value per window")
        }
    }
}

/// Calls `f(output, piece)` for the elements of `x` in C order, a row's
/// run of at most one window's width at a time, with the C-order index (in
/// `out_shape`) of the window that holds them.
fn for_each_window<T: Copy>(
    x: &ArrayD<T>,
    factors: &[u64],
    out_shape: &[usize],
    mut f: impl FnMut(usize, &[T]),
) {
    let x = x.as_standard_layout();
    let values = x.as_slice().expect("standard layout");
    let shape = x.shape();
    let Some(last) = shape.len().checked_sub(1) else {
        f(0, values);
        return;
    };
    if values.is_empty() {
        return;
    }
    let mut out_strides = vec![1usize; shape.len()];
    for a in (0..last).rev() {
        out_strides[a] = out_strides[a + 1] * out_shape[a + 1];
    }
    let (width, step) = (shape[last], factors[last] as usize);
    let mut at = vec![0usize; last];
    for row in values.chunks_exact(width) {
        let base: usize = (0..last)
            .map(|a| at[a] / factors[a] as usize * out_strides[a])
            .sum();
        for (j, piece) in row.chunks(step).enumerate() {
            f(base + j, piece);
        }
        for a in (0..last).rev() {
            at[a] += 1;
            if at[a] < shape[a] {
                break;
            }
            at[a] = 0;
        }
    }
}

/// The most frequent value, the smallest of equally frequent ones.
fn mode<T: CoarsenElement>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let (mut best, mut best_count) = (T::default(), 0usize);
    let mut i = 0;
    while i < values.len() {
        let j = values[i..].iter().take_while(|&&v| v == values[i]).count() + i;
        if j - i > best_count {
            (best, best_count) = (values[i], j - i);
        }
        i = j;
    }
    best
}
