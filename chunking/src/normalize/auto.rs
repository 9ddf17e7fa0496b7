//! Dask's `auto_chunks`: chunk sizes from a byte budget, optionally aligned
//! with the previous chunks, reproducing Dask's f64 arithmetic, numpy's
//! median and Python's int/float comparisons so the results are identical.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::regular_axis;
use crate::error::{ChunkingError, Result};
use crate::grid::{AxisChunks, ChunkGrid, MAX_IRREGULAR_CHUNKS};

/// Dask's `auto` loop with previous chunks has no bound on its passes; on
/// random cases it stops within a few dozen. This cap only guards against a
/// hang where Dask would loop for ever.
const MAX_AUTO_PASSES: usize = 1_000;

/// Dask's default `array.chunk-size-tolerance`.
const CHUNK_SIZE_TOLERANCE: f64 = 1.25;

/// `np.median` of integers: the middle value, or the f64 mean of the two
/// middle values.
pub(super) fn median_of(values: &mut [u64]) -> f64 {
    let n = values.len();
    let mid = n / 2;
    let (lower, &mut upper, _) = values.select_nth_unstable(mid);
    if n % 2 == 1 {
        upper as f64
    } else {
        let below = lower.iter().copied().max().unwrap_or(upper);
        (below as f64 + upper as f64) / 2.0
    }
}

/// The median of an axis' chunk sizes; O(1) on a regular axis.
fn axis_median(axis: &AxisChunks) -> f64 {
    let n = axis.num_chunks();
    if axis.is_regular() {
        // Sorted sizes are [last, chunk, chunk, ...]: the middle is `chunk`
        // except for two chunks.
        let (first, last) = (axis.chunk_size(0), axis.chunk_size(n - 1));
        return if n == 2 {
            (first as f64 + last as f64) / 2.0
        } else {
            first as f64
        };
    }
    median_of(&mut axis.sizes().collect::<Vec<_>>())
}

/// The most common chunk size (the first seen on a tie, as Python's `max`
/// over `toolz.frequencies`) and how often it occurs; O(1) on a regular axis.
fn axis_mode(axis: &AxisChunks) -> (u64, u64) {
    let n = axis.num_chunks();
    if axis.is_regular() {
        let (first, last) = (axis.chunk_size(0), axis.chunk_size(n - 1));
        return (first, if first == last { n } else { n - 1 });
    }
    let mut counts: HashMap<u64, (u64, usize)> = HashMap::new();
    for (i, size) in axis.sizes().enumerate() {
        counts.entry(size).or_insert((0, i)).0 += 1;
    }
    counts
        .into_iter()
        .max_by(|(_, (ca, fa)), (_, (cb, fb))| ca.cmp(cb).then(fb.cmp(fa)))
        .map_or((0, 0), |(size, (count, _))| (size, count))
}

/// Python's exact comparison of an int with a float (no rounding of the int);
/// `None` when the float is NaN.
fn cmp_int_float(int: u64, float: f64) -> Option<Ordering> {
    if float.is_nan() {
        return None;
    }
    if float >= 18_446_744_073_709_551_616.0 {
        return Some(Ordering::Less);
    }
    if float < 0.0 {
        return Some(Ordering::Greater);
    }
    let floor = float.floor();
    Some(int.cmp(&(floor as u64)).then(if float > floor {
        Ordering::Less
    } else {
        Ordering::Equal
    }))
}

fn int_le_float(int: u64, float: f64) -> bool {
    matches!(
        cmp_int_float(int, float),
        Some(Ordering::Less | Ordering::Equal)
    )
}

fn int_lt_float(int: u64, float: f64) -> bool {
    cmp_int_float(int, float) == Some(Ordering::Less)
}

/// Python's `float // float` (as numpy's `floor_divide`).
fn py_floordiv(x: f64, y: f64) -> f64 {
    let rem = x % y;
    let mut div = (x - rem) / y;
    if rem != 0.0 && ((y < 0.0) != (rem < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0f64.copysign(x / y);
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// A value of Dask's `median_chunks` / `result` dicts, with its Python type:
/// the arithmetic differs between ints (exact) and floats.
#[derive(Debug, Clone)]
enum Val {
    Int(u128),
    Float(f64),
    Chunks(AxisChunks),
}

impl Val {
    fn as_f64(&self) -> f64 {
        match self {
            Val::Int(n) => *n as f64,
            Val::Float(x) => *x,
            Val::Chunks(c) => c.max_chunk() as f64,
        }
    }
}

/// Python's `math.prod` over ints and floats: exact while every factor is an
/// int, f64 from the first float on.
#[derive(Clone, Copy)]
enum PyNum {
    Int(u128),
    Float(f64),
}

impl PyNum {
    fn times(self, other: PyNum) -> PyNum {
        match (self, other) {
            (PyNum::Int(a), PyNum::Int(b)) => a
                .checked_mul(b)
                .map_or(PyNum::Float(a as f64 * b as f64), PyNum::Int),
            (PyNum::Int(a), PyNum::Float(b)) => PyNum::Float(a as f64 * b),
            (PyNum::Float(a), PyNum::Int(b)) => PyNum::Float(a * b as f64),
            (PyNum::Float(a), PyNum::Float(b)) => PyNum::Float(a * b),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            PyNum::Int(n) => n as f64,
            PyNum::Float(x) => x,
        }
    }
}

/// Dask's `round_to`: a size near `proposed` aligned with `ideal` — a whole
/// multiple of it when larger, else `proposed` rounded down (at least 1).
fn round_to(proposed: f64, ideal: u64) -> Val {
    if matches!(
        cmp_int_float(ideal, proposed),
        Some(Ordering::Greater | Ordering::Equal)
    ) || ideal == 0
    {
        // `max(1, int(c))`
        Val::Int((proposed.trunc() as u128).max(1))
    } else {
        let ideal = ideal as f64;
        Val::Float(py_floordiv(proposed, ideal) * ideal)
    }
}

/// A dict of Dask's `auto_chunks` keyed by axis, in insertion order (which
/// fixes the order of the floating-point product over it).
#[derive(Debug, Default)]
struct AxisDict(Vec<(usize, Val)>);

impl AxisDict {
    fn get(&self, axis: usize) -> Option<&Val> {
        self.0.iter().find(|(a, _)| *a == axis).map(|(_, v)| v)
    }

    /// Python's `d[axis] = value`: replaces in place, or appends.
    fn set(&mut self, axis: usize, value: Val) {
        match self.0.iter_mut().find(|(a, _)| *a == axis) {
            Some(slot) => slot.1 = value,
            None => self.0.push((axis, value)),
        }
    }

    fn remove(&mut self, axis: usize) {
        self.0.retain(|(a, _)| *a != axis);
    }

    /// `math.prod(max(r) if tuple else r for r in d.values() if r)`.
    fn product(&self) -> PyNum {
        self.0.iter().fold(PyNum::Int(1), |acc, (_, v)| match v {
            Val::Int(0) => acc,
            Val::Float(x) if *x == 0.0 => acc,
            Val::Int(n) => acc.times(PyNum::Int(*n)),
            Val::Float(x) => acc.times(PyNum::Float(*x)),
            Val::Chunks(c) => acc.times(PyNum::Int(u128::from(c.max_chunk()))),
        })
    }
}

pub(super) struct AutoProblem<'a> {
    pub(super) shape: &'a [u64],
    /// `limit / itemsize`.
    pub(super) elements_per_block: f64,
}

impl AutoProblem<'_> {
    /// Dask's `_compute_multiplier`: how much bigger the blocks may grow.
    fn multiplier(&self, largest_block: u128, medians: &AxisDict) -> f64 {
        self.elements_per_block / largest_block as f64 / medians.product().as_f64()
    }

    /// `auto` without previous chunks: the same size on every auto axis,
    /// the k-th root of the elements left per block; axes shorter than that
    /// become whole and the rest share what they leave.
    pub(super) fn square(
        &self,
        mut autos: Vec<usize>,
        mut largest_block: u128,
    ) -> Vec<(usize, AxisChunks)> {
        let mut chosen = Vec::with_capacity(autos.len());
        while !autos.is_empty() {
            if largest_block == 0 {
                // A zero-length axis was made whole: blocks are empty from here.
                chosen.extend(
                    autos
                        .iter()
                        .map(|&a| (a, regular_axis(self.shape[a], self.shape[a]))),
                );
                break;
            }
            let size =
                (self.elements_per_block / largest_block as f64).powf(1.0 / autos.len() as f64);
            let (small, rest): (Vec<usize>, Vec<usize>) = autos
                .iter()
                .partition(|&&a| int_lt_float(self.shape[a], size));
            if small.is_empty() {
                // `round_to(size, shape)` with size <= shape: `max(1, int(size))`.
                let chunk = (size.trunc() as u64).max(1);
                chosen.extend(
                    rest.iter()
                        .map(|&a| (a, regular_axis(self.shape[a], chunk))),
                );
                break;
            }
            for &a in &small {
                chosen.push((a, regular_axis(self.shape[a], self.shape[a])));
                largest_block = largest_block.saturating_mul(u128::from(self.shape[a]));
            }
            autos = rest;
        }
        chosen
    }

    /// `auto` with previous chunks: start from the median previous chunk
    /// per auto axis and scale all auto axes by the same factor towards the
    /// budget. Growing merges whole previous chunks; shrinking (or a previous
    /// chunk far above the target) rounds to a multiple of the usual chunk
    /// size; an axis that would outgrow its length becomes whole and the
    /// others share the rest, pass after pass until nothing changes.
    pub(super) fn aligned(
        &self,
        autos: Vec<usize>,
        largest_block: u128,
        previous: &ChunkGrid,
    ) -> Result<Vec<(usize, AxisChunks)>> {
        let shape = self.shape;
        let ideal: HashMap<usize, u64> = autos
            .iter()
            .map(|&a| {
                let (mode, count) = axis_mode(previous.axis(a));
                let ideal = if mode > 1
                    && u128::from(count) * 2 >= u128::from(previous.axis(a).num_chunks())
                {
                    mode
                } else {
                    shape[a]
                };
                (a, ideal)
            })
            .collect();
        let mut medians = AxisDict(
            autos
                .iter()
                .map(|&a| (a, Val::Float(axis_median(previous.axis(a)))))
                .collect(),
        );
        let mut largest_block = largest_block;
        let mut multiplier = self.multiplier(largest_block, &medians);
        // When shrinking, Dask's `result` *is* `median_chunks` (the same
        // dict): each pass then scales the previous pass' results, and an
        // axis made whole is re-inserted at the end of the dict.
        let reduce = multiplier < 1.0;
        let mut separate_result = if reduce {
            None
        } else {
            Some(AxisDict::default())
        };
        let mut autos = autos;
        let mut changed = true;
        let mut passes = 0;
        while changed && passes < MAX_AUTO_PASSES {
            passes += 1;
            changed = false;
            let exponent = 1.0 / autos.len() as f64;
            for a in autos.clone() {
                let this_multiplier = multiplier.powf(exponent);
                let start = medians.get(a).map_or(0.0, Val::as_f64);
                let proposed = start * this_multiplier;
                let max_chunk_size = proposed * CHUNK_SIZE_TOLERANCE.powf(exponent);
                if int_lt_float(shape[a], proposed) {
                    autos.retain(|&x| x != a);
                    largest_block = largest_block.saturating_mul(u128::from(shape[a]));
                    changed = true;
                    medians.remove(a);
                    let whole = Val::Chunks(regular_axis(shape[a], shape[a]));
                    result_dict(&mut separate_result, &mut medians).set(a, whole);
                } else if reduce
                    || cmp_int_float(previous.axis(a).max_chunk(), max_chunk_size)
                        == Some(Ordering::Greater)
                {
                    result_dict(&mut separate_result, &mut medians)
                        .set(a, round_to(proposed, ideal[&a]));
                    if proposed < 1.0 {
                        changed = true;
                        autos.retain(|&x| x != a);
                    }
                } else {
                    let merged = Val::Chunks(merge_previous(previous.axis(a), proposed)?);
                    result_dict(&mut separate_result, &mut medians).set(a, merged);
                }
            }
            if changed || reduce {
                let last = multiplier;
                multiplier = self.multiplier(largest_block, &medians);
                if multiplier != last {
                    changed = true;
                }
            }
        }
        let result = separate_result.unwrap_or(medians);
        Ok(result
            .0
            .into_iter()
            .map(|(a, v)| {
                let chunks = match v {
                    Val::Chunks(c) => c,
                    // `int(v)`, then `blockdims_from_blockshape`.
                    Val::Int(n) => regular_axis(shape[a], u64::try_from(n).unwrap_or(u64::MAX)),
                    Val::Float(x) => regular_axis(shape[a], x.trunc() as u64),
                };
                (a, chunks)
            })
            .collect())
    }
}

/// Dask's `result` dict: its own, or (when shrinking) `median_chunks` itself.
fn result_dict<'d>(
    separate: &'d mut Option<AxisDict>,
    medians: &'d mut AxisDict,
) -> &'d mut AxisDict {
    match separate {
        Some(result) => result,
        None => medians,
    }
}

/// Dask's greedy merge of consecutive previous chunks into chunks of at most
/// `proposed` elements (a chunk already larger stays alone). O(1) on a
/// regular axis, unless the result has a larger last chunk.
fn merge_previous(axis: &AxisChunks, proposed: f64) -> Result<AxisChunks> {
    let len = axis.len();
    let n = axis.num_chunks();
    if axis.is_regular() && len > 0 && n > 1 {
        let (chunk, last) = (axis.chunk_size(0), axis.chunk_size(n - 1));
        if !int_le_float(chunk, proposed) {
            return Ok(axis.clone());
        }
        // Groups of k full chunks, k the most that fit (at least 1).
        let full = n - 1;
        let mut k = ((proposed / chunk as f64).floor() as u64).clamp(1, full);
        while k < full && int_le_float((k + 1) * chunk, proposed) {
            k += 1;
        }
        while k > 1 && !int_le_float(k * chunk, proposed) {
            k -= 1;
        }
        let groups = full.div_ceil(k);
        let in_last_group = full - (groups - 1) * k;
        let group = k * chunk;
        let tail_joins = in_last_group < k || int_le_float(group + last, proposed);
        let tail = in_last_group * chunk + last;
        if tail_joins && tail > group {
            // The last group took the last chunk and outgrew the others:
            // an irregular axis, one size per group held in memory.
            if groups > MAX_IRREGULAR_CHUNKS {
                return Err(ChunkingError::TooManyChunks {
                    len,
                    chunks: groups,
                    limit: MAX_IRREGULAR_CHUNKS,
                });
            }
            let mut sizes = vec![group; (groups - 1) as usize];
            sizes.push(tail);
            return AxisChunks::from_sizes(&sizes);
        }
        return Ok(regular_axis(len, group));
    }
    let mut merged = Vec::new();
    let mut current = 0u64;
    for size in axis.sizes() {
        if int_le_float(current + size, proposed) {
            current += size;
        } else {
            if current > 0 {
                merged.push(current);
            }
            current = size;
        }
    }
    if current > 0 {
        merged.push(current);
    }
    if merged.is_empty() {
        // Only zero-size chunks: Dask's `()` becomes one chunk of 0.
        return Ok(regular_axis(len, 0));
    }
    AxisChunks::from_sizes(&merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_float_comparisons_are_exact() {
        let big = 1u64 << 53;
        assert!(int_lt_float(big, (big as f64) + 2.0));
        assert!(!int_lt_float(big + 1, big as f64));
        assert!(int_le_float(3, 3.0));
        assert!(!int_le_float(4, 3.999));
        assert!(int_lt_float(u64::MAX, 1e20));
        assert!(!int_lt_float(0, -1.0));
        assert!(!int_le_float(0, f64::NAN));
    }

    #[test]
    fn floordiv_matches_python() {
        assert_eq!(py_floordiv(7.5, 2.0), 3.0);
        assert_eq!(py_floordiv(1024.0, 512.0), 2.0);
        assert_eq!(py_floordiv(0.3, 0.1), 2.0); // Python: 0.3 // 0.1 == 2.0
        assert_eq!(py_floordiv(1.0, 3.0), 0.0);
    }

    #[test]
    fn round_to_is_dasks() {
        assert!(matches!(round_to(0.2, 10), Val::Int(1)));
        assert!(matches!(round_to(7.9, 10), Val::Int(7)));
        assert!(matches!(round_to(10.0, 10), Val::Int(10)));
        assert!(matches!(round_to(25.5, 10), Val::Float(x) if x == 20.0));
    }

    #[test]
    fn regular_and_generic_merges_agree() {
        for len in 1..60u64 {
            for chunk in 1..=len.min(13) {
                let regular = AxisChunks::regular(len, chunk).unwrap();
                let sizes: Vec<u64> = regular.sizes().collect();
                for tenths in 0..300 {
                    let proposed = tenths as f64 / 10.0 + 0.05;
                    let fast = merge_previous(&regular, proposed).unwrap();
                    let mut merged = Vec::new();
                    let mut current = 0;
                    for &s in &sizes {
                        if (current + s) as f64 <= proposed {
                            current += s;
                        } else {
                            if current > 0 {
                                merged.push(current);
                            }
                            current = s;
                        }
                    }
                    merged.push(current);
                    assert_eq!(
                        fast.sizes().collect::<Vec<_>>(),
                        merged,
                        "len {len} chunk {chunk} proposed {proposed}"
                    );
                }
            }
        }
    }

    #[test]
    fn regular_and_generic_statistics_agree() {
        for len in 0..40u64 {
            for chunk in 1..=len.max(1) {
                let regular = AxisChunks::regular(len, chunk.min(len)).unwrap();
                let sizes: Vec<u64> = regular.sizes().collect();
                assert_eq!(
                    axis_median(&regular),
                    median_of(&mut sizes.clone()),
                    "{len} {chunk}"
                );
                let mut counts: Vec<(u64, u64)> = Vec::new();
                for &s in &sizes {
                    match counts.iter_mut().find(|(v, _)| *v == s) {
                        Some(c) => c.1 += 1,
                        None => counts.push((s, 1)),
                    }
                }
                let best = counts.iter().map(|c| c.1).max().unwrap();
                let expected = *counts.iter().find(|c| c.1 == best).unwrap();
                assert_eq!(axis_mode(&regular), expected, "{len} {chunk}");
            }
        }
    }
}
