//! Chunk normalisation with Dask's semantics: a [`ChunkSpec`] and an array
//! shape become a concrete [`ChunkGrid`].
//!
//! This is Dask's `normalize_chunks` (with `auto_chunks`), plus the way
//! Dask's `rechunk` completes a spec from the array's current chunks, and
//! `rechunk(balance=True)`'s [`balance_chunks`]. `auto` gives the same chunks
//! as Dask: the same f64 arithmetic in the same order, numpy's median, and
//! Python's int/float comparisons.
//!
//! ```
//! use ndchunk_chunking::{normalize_chunks, parse_bytes, AxisSpec, ChunkGrid, ChunkSpec, NormalizeOptions};
//!
//! // normalize_chunks((4, -1), shape=(10, 6)) == ((4, 4, 2), (6,))
//! let spec = ChunkSpec::PerAxis(vec![AxisSpec::Size(4), AxisSpec::Whole]);
//! let grid = normalize_chunks(&spec, &[10, 6], &NormalizeOptions::default()).unwrap();
//! assert_eq!(grid.to_sizes(), vec![vec![4, 4, 2], vec![6]]);
//!
//! // normalize_chunks("auto", shape=(20, 20, 20), limit=8, dtype="uint8"): 2x2x2 blocks.
//! let options = NormalizeOptions { limit: Some(8), itemsize: Some(1), ..Default::default() };
//! let grid = normalize_chunks(&ChunkSpec::All(AxisSpec::Auto), &[20, 20, 20], &options).unwrap();
//! assert_eq!(grid.chunk_shape(), vec![2, 2, 2]);
//!
//! // Rechunking: "auto" grows the previous chunks by whole multiples.
//! let previous = ChunkGrid::regular(&[2000], &[512]).unwrap();
//! let options = NormalizeOptions {
//!     limit: Some(parse_bytes("1200 B").unwrap()),
//!     itemsize: Some(1),
//!     previous: Some(&previous),
//! };
//! let grid = normalize_chunks(&ChunkSpec::All(AxisSpec::Auto), &[2000], &options).unwrap();
//! assert_eq!(grid.to_sizes(), vec![vec![1024, 976]]);
//! ```

use crate::error::{ChunkingError, Result};
use crate::grid::{AxisChunks, ChunkGrid};
use crate::spec::{AxisSpec, ChunkSpec};

mod auto;

use auto::{median_of, AutoProblem};

/// The byte limit `auto` aims for when none is given: 128 MiB, Dask's
/// default `array.chunk-size`.
pub const DEFAULT_CHUNK_BYTES: u64 = 128 * 1024 * 1024;

/// What [`normalize_chunks`] needs besides the spec and the shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct NormalizeOptions<'a> {
    /// The byte size `auto` chunks aim for (Dask's `limit`, or
    /// `block_size_limit` in `rechunk`); [`DEFAULT_CHUNK_BYTES`] when `None`.
    pub limit: Option<u64>,
    /// Bytes per element (Dask's `dtype.itemsize`); required by `auto`.
    pub itemsize: Option<u64>,
    /// The array's current chunks (Dask's `previous_chunks`; in a rechunk,
    /// the input chunks). `auto` then grows or splits them rather than
    /// choosing square-ish blocks, and [`AxisSpec::Keep`] copies them.
    pub previous: Option<&'a ChunkGrid>,
}

static KEEP: AxisSpec = AxisSpec::Keep;
static WHOLE: AxisSpec = AxisSpec::Whole;
static ZERO_LENGTH: AxisSpec = AxisSpec::Size(0);

/// Turns a chunk spec into the chunks of an array of `shape`, as Dask's
/// `normalize_chunks` does (and, when `options.previous` is given, as
/// Dask's `rechunk` resolves its target chunks).
///
/// - [`AxisSpec::Size`]`(n)` cuts every `n` elements (Dask's
///   `blockdims_from_blockshape`); [`AxisSpec::Whole`] gives one chunk;
///   [`AxisSpec::Sizes`] is taken as is once it adds up; [`AxisSpec::Keep`]
///   copies `options.previous`.
/// - [`AxisSpec::Auto`] axes share the byte budget `options.limit` (default
///   [`DEFAULT_CHUNK_BYTES`]) given the other axes' largest chunks, with
///   Dask's algorithm: without previous chunks, equal sizes on every `auto`
///   axis (whole axes where they are shorter); with previous chunks, those
///   chunks grown by whole multiples (or split) towards the budget, keeping
///   the common chunk size as the alignment.
/// - An axis of length 0 has one chunk of size 0. An empty
///   [`ChunkSpec::PerAxis`] on an array whose axes are all empty is accepted,
///   as in Dask.
///
/// Errors, each naming the axis: the wrong number of axes, a
/// [`ChunkSpec::ByAxis`] key out of range or repeated (e.g. `1` and `-1` on a
/// 2-d array), a size 0 on a non-empty axis, explicit sizes that do not add
/// up, `auto` without an itemsize (or with itemsize 0), `keep` without
/// previous chunks, previous chunks of another shape.
///
/// Deliberate differences from Dask, where Dask raises an accidental
/// exception or accepts nonsense: a `ByAxis` key out of range is an error
/// (Dask's `normalize_chunks` ignores it); `auto` next to an axis whose
/// largest chunk is 0 (an empty array) gives whole axes (Dask divides by
/// zero); a 1-d shape with several [`AxisSpec::Size`] entries is an error,
/// not Dask's reading of them as one tuple (use [`AxisSpec::Sizes`]).
pub fn normalize_chunks(
    spec: &ChunkSpec,
    shape: &[u64],
    options: &NormalizeOptions,
) -> Result<ChunkGrid> {
    let ndim = shape.len();
    if let Some(previous) = options.previous {
        if previous.ndim() != ndim {
            return Err(ChunkingError::NdimMismatch {
                what: "previous chunks",
                expected: ndim,
                got: previous.ndim(),
            });
        }
        if previous.shape() != shape {
            return Err(ChunkingError::ShapeMismatch {
                left: shape.to_vec(),
                right: previous.shape(),
            });
        }
    }
    let specs = per_axis_specs(spec, shape, options.previous.is_some())?;

    let mut axes: Vec<Option<AxisChunks>> = Vec::with_capacity(ndim);
    let mut autos = Vec::new();
    // Dask's `largest_block`: the product of the non-auto chunk sizes as
    // written (an integer counts as is, even past the axis length).
    let mut largest_block: u128 = 1;
    for (axis, (&len, &spec)) in shape.iter().zip(&specs).enumerate() {
        let (chunks, extent) = match spec {
            AxisSpec::Auto => {
                autos.push(axis);
                axes.push(None);
                continue;
            }
            AxisSpec::Whole => (regular_axis(len, len), len),
            AxisSpec::Size(n) => {
                if *n == 0 && len > 0 {
                    return Err(ChunkingError::ZeroChunk { axis, len });
                }
                (regular_axis(len, *n), *n)
            }
            AxisSpec::Sizes(sizes) => {
                let chunks = explicit_axis(axis, len, sizes)?;
                let extent = chunks.max_chunk();
                (chunks, extent)
            }
            AxisSpec::Keep => {
                let previous = options
                    .previous
                    .ok_or_else(|| ChunkingError::InvalidChunkSpec {
                        spec: spec.to_string(),
                        reason: format!(
                            "axis {axis}: `keep` needs the previous chunks, and none were given"
                        ),
                    })?;
                let chunks = previous.axis(axis).clone();
                let extent = chunks.max_chunk();
                (chunks, extent)
            }
        };
        largest_block = largest_block.saturating_mul(u128::from(extent));
        axes.push(Some(chunks));
    }

    if let Some(&first_auto) = autos.first() {
        let itemsize = match options.itemsize {
            Some(0) | None => {
                return Err(ChunkingError::InvalidChunkSpec {
                    spec: "auto".into(),
                    reason: format!(
                        "axis {first_auto}: `auto` chunking needs the size of one element in bytes (itemsize), {}",
                        if options.itemsize.is_some() { "and it is 0" } else { "and none was given" }
                    ),
                })
            }
            Some(n) => n,
        };
        let problem = AutoProblem {
            shape,
            // Dask: `limit / dtype.itemsize`, with the limit at least 1 byte.
            elements_per_block: options.limit.unwrap_or(DEFAULT_CHUNK_BYTES).max(1) as f64
                / itemsize as f64,
        };
        let chosen = if largest_block == 0 {
            // The other axes make every block empty: any chunking fits the
            // budget. (Dask divides by zero here.)
            autos
                .iter()
                .map(|&a| (a, regular_axis(shape[a], shape[a])))
                .collect()
        } else {
            match options.previous {
                None => problem.square(autos, largest_block),
                Some(previous) => problem.aligned(autos, largest_block, previous)?,
            }
        };
        for (axis, chunks) in chosen {
            axes[axis] = Some(chunks);
        }
    }

    Ok(ChunkGrid::new(
        axes.into_iter()
            .map(|a| a.expect("every auto axis is resolved"))
            .collect(),
    ))
}

/// Expands a spec to one entry per axis, resolving `ByAxis` keys.
fn per_axis_specs<'s>(
    spec: &'s ChunkSpec,
    shape: &[u64],
    has_previous: bool,
) -> Result<Vec<&'s AxisSpec>> {
    let ndim = shape.len();
    match spec {
        ChunkSpec::All(axis) => Ok(vec![axis; ndim]),
        // Dask: `normalize_chunks((), shape=(0, 0)) == ((0,), (0,))`.
        ChunkSpec::PerAxis(axes)
            if axes.is_empty() && ndim > 0 && shape.iter().all(|&s| s == 0) =>
        {
            Ok(vec![&ZERO_LENGTH; ndim])
        }
        ChunkSpec::PerAxis(axes) => {
            if axes.len() != ndim {
                return Err(ChunkingError::NdimMismatch {
                    what: "chunk spec",
                    expected: ndim,
                    got: axes.len(),
                });
            }
            Ok(axes.iter().collect())
        }
        ChunkSpec::ByAxis(map) => {
            let mut specs: Vec<Option<&AxisSpec>> = vec![None; ndim];
            for (&key, axis_spec) in map {
                let axis = if key < 0 { key + ndim as i64 } else { key };
                if axis < 0 || axis >= ndim as i64 {
                    return Err(ChunkingError::InvalidChunkSpec {
                        spec: format!("{key}: {axis_spec}"),
                        reason: format!("axis {key} is out of range for an array with {ndim} axes"),
                    });
                }
                let slot = &mut specs[axis as usize];
                if slot.is_some() {
                    return Err(ChunkingError::InvalidChunkSpec {
                        spec: spec.to_string(),
                        reason: format!(
                            "axis {axis} is given twice (as {} and {})",
                            axis - ndim as i64,
                            axis
                        ),
                    });
                }
                *slot = Some(axis_spec);
            }
            let missing: &AxisSpec = if has_previous { &KEEP } else { &WHOLE };
            Ok(specs.into_iter().map(|s| s.unwrap_or(missing)).collect())
        }
    }
}

/// Checks explicit sizes against the axis length.
fn explicit_axis(axis: usize, len: u64, sizes: &[u64]) -> Result<AxisChunks> {
    if sizes.is_empty() {
        return Err(ChunkingError::InvalidChunkSpec {
            spec: "()".into(),
            reason: format!(
                "axis {axis}: an axis needs at least one chunk; write a zero-length axis as (0,)"
            ),
        });
    }
    let sum = sizes.iter().try_fold(0u64, |acc, &s| acc.checked_add(s));
    match sum {
        Some(sum) if sum == len => {}
        Some(sum) => return Err(ChunkingError::ChunksDoNotAddUp { axis, sum, len }),
        None => {
            return Err(ChunkingError::ChunksDoNotAddUp {
                axis,
                sum: u64::MAX,
                len,
            })
        }
    }
    AxisChunks::from_sizes(sizes).map_err(|e| match e {
        ChunkingError::InvalidChunkSpec { spec, reason } => ChunkingError::InvalidChunkSpec {
            spec,
            reason: format!("axis {axis}: {reason}"),
        },
        other => other,
    })
}

/// Chunks of `chunk` elements on an axis of `len` (Dask's
/// `blockdims_from_blockshape` for one axis); a chunk past the axis end is
/// clipped to it, as Dask's chunk tuples are.
pub(super) fn regular_axis(len: u64, chunk: u64) -> AxisChunks {
    let chunk = if len == 0 { 0 } else { chunk.clamp(1, len) };
    AxisChunks::regular(len, chunk).expect("the chunk is positive on a non-empty axis")
}

/// Balances the chunk sizes of one axis, as Dask's `rechunk(balance=True)`
/// does (`_balance_chunksizes`): among the regular chunkings with chunk size
/// within half the median of `sizes` around it and as many chunks as `sizes`
/// (one fewer when the smallest chunk is at most half the largest), the one
/// whose chunks differ least. Returns `sizes` unchanged when there is none.
///
/// O(result) time, where Dask tries every candidate size.
///
/// ```
/// use ndchunk_chunking::balance_chunks;
/// // x.rechunk(400, balance=True) on 1000 elements: (400, 400, 200) -> (500, 500)
/// assert_eq!(balance_chunks(&[400, 400, 200]), vec![500, 500]);
/// assert_eq!(balance_chunks(&[100, 100, 20]), vec![110, 110]);
/// ```
pub fn balance_chunks(sizes: &[u64]) -> Vec<u64> {
    let (Some(&min), Some(&max)) = (sizes.iter().min(), sizes.iter().max()) else {
        return Vec::new();
    };
    let median = median_of(&mut sizes.to_vec()) as u64;
    let Some(total) = sizes.iter().try_fold(0u64, |acc, &s| acc.checked_add(s)) else {
        return sizes.to_vec();
    };
    let eps = median / 2;
    let mut n_chunks = sizes.len() as u64;
    if u128::from(min) * 2 <= u128::from(max) {
        n_chunks -= 1;
    }
    // Dask tries sizes median-eps ..= median+eps, keeps those giving n_chunks
    // chunks and picks the first with the smallest max-min spread. The number
    // of chunks falls as the size grows, so the candidates form one range;
    // within it the spread is n_chunks * size - total, smallest at its start
    // (with one chunk every spread is 0: also its start). Size 0 would
    // divide by zero in Dask; it is skipped.
    let lo = (median - eps).max(1);
    let hi = median.saturating_add(eps);
    if n_chunks == 0 || lo > hi {
        return sizes.to_vec();
    }
    let size = lo.max(total.div_ceil(n_chunks));
    if size > hi || total.div_ceil(size) != n_chunks {
        return sizes.to_vec();
    }
    let mut balanced = vec![size; (total / size) as usize];
    if total % size != 0 {
        balanced.push(total % size);
    }
    balanced
}
