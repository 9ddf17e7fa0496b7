//! Halo geometry: which elements a block must see around itself for an
//! overlapping computation (Dask's `overlap` / `map_overlap`), and where to
//! copy them from.
//!
//! A stencil (a filter, a derivative, a moving window) applied block by
//! block needs `depth` extra elements on each side of every block. Inside the
//! array they come from the neighbouring blocks; past the array edge the
//! [`Boundary`] mode decides. [`halo_plan`] answers, for one block, how big
//! the expanded buffer is, where the block sits in it, and the list of
//! [`HaloPiece`]s that fill it, each a slice of one source block (possibly
//! flipped or broadcast) or a constant fill. The pieces tile the buffer
//! exactly once, so a caller allocates the buffer, copies every piece and is
//! done; no data or I/O is involved here.
//!
//! Unlike Dask, which first rechunks so that every chunk is at least `depth`
//! long, a depth larger than the neighbouring chunks is served by taking
//! pieces from several blocks, so no rechunk is needed. The cost is
//! proportional to the number of pieces, never to the number of blocks.
//!
//! ```
//! use ndchunk_chunking::{halo_plan, Boundary, ChunkGrid, CopyMode, Halo, Region};
//!
//! // 5 elements cut (2, 3); block 0 with 2 elements of reflected halo.
//! let grid = ChunkGrid::from_sizes(&[vec![2, 3]]).unwrap();
//! let plan = halo_plan(&grid, &[0], &[Halo::new(2, Boundary::Reflect)]).unwrap();
//! assert_eq!(plan.shape, vec![6]); // buffer [1, 0 | 0, 1 | 2, 3]
//! assert_eq!(plan.block_offset, vec![2]);
//! assert_eq!(plan.pieces.len(), 3);
//!
//! // Buffer positions 0..2 are block 0's elements 0..2, reversed (Dask's
//! // "reflect" repeats the edge element, like numpy's "symmetric").
//! let mirror = plan.pieces[0].source.as_ref().unwrap();
//! assert_eq!(plan.pieces[0].dest, Region::new(vec![0], vec![2]).unwrap());
//! assert_eq!((mirror.block.clone(), mirror.modes.clone()), (vec![0], vec![CopyMode::Flip]));
//! assert_eq!(mirror.region, Region::new(vec![0], vec![2]).unwrap());
//!
//! // The right halo is the first two elements of block 1.
//! let right = plan.pieces[2].source.as_ref().unwrap();
//! assert_eq!(plan.pieces[2].dest, Region::new(vec![4], vec![6]).unwrap());
//! assert_eq!(right.block, vec![1]);
//! assert_eq!(right.region, Region::new(vec![0], vec![2]).unwrap());
//! ```

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{ChunkingError, Result};
use crate::grid::{AxisChunks, ChunkGrid};
use crate::region::Region;

/// What a block sees past the edge of the array, per axis. The modes and
/// their values are Dask's (`dask.array.overlap.boundaries`); the numpy
/// `np.pad` mode with the same values is named on each variant, so that
/// results can be checked against either.
///
/// Past the array edge, a multi-axis corner takes the value obtained by
/// applying the modes one axis after the other, as Dask does: a corner that
/// touches a [`Boundary::Constant`] axis is constant; any other corner maps
/// each coordinate independently (reflect on one axis and wrap on another
/// gives the element at the reflected row and the wrapped column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// No halo past the array edge: the expanded block is clipped to the
    /// array, so an edge block's buffer is smaller than an inner one's
    /// (Dask's `"none"`, its default). Any depth is accepted.
    #[default]
    None,
    /// Mirror the array at its edge, *repeating the edge element*: `[0, 1, 2,
    /// 3, 4]` with depth 2 becomes `[1, 0, 0, 1, 2, 3, 4, 4, 3]`. This is
    /// numpy's `"symmetric"` pad, not numpy's `"reflect"` (which would give
    /// `[2, 1, 0, …, 4, 3, 2]`). Needs `depth <= axis length`.
    Reflect,
    /// Repeat the edge element: `[0, 0, 0, 1, 2, 3, 4, 4, 4]` (numpy's
    /// `"edge"`). Needs a non-empty axis when `depth > 0`; any depth is
    /// accepted otherwise.
    Nearest,
    /// A constant the caller supplies when it fills the buffer (Dask's
    /// numeric boundary value; numpy's `"constant"`). The geometry only says
    /// where to fill. Any depth is accepted.
    Constant,
    /// Wrap around: the elements past the end are those at the start and
    /// vice versa, `[3, 4, 0, 1, 2, 3, 4, 0, 1]` (numpy's `"wrap"`). Needs
    /// `depth <= axis length`.
    Periodic,
}

/// The halo of one axis: how far a block must see past its own edges, and
/// what it sees past the array edge. A depth of 0 means no halo on that axis
/// whatever the boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Halo {
    /// Elements added on each side of the block.
    pub depth: u64,
    /// What is added past the array edge.
    pub boundary: Boundary,
}

impl Halo {
    /// A halo from its depth and boundary mode, usable in `const` tables.
    pub const fn new(depth: u64, boundary: Boundary) -> Self {
        Self { depth, boundary }
    }
}

/// How a piece's source slice maps onto its destination along one axis.
/// Only the boundary modes need anything but [`CopyMode::Straight`]; a
/// caller that works with strided views can express each as a view (a
/// negative stride, a zero stride) instead of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyMode {
    /// Element `k` of the source slice goes to element `k` of the
    /// destination; both have the same length.
    Straight,
    /// The source slice is copied reversed (a mirrored halo,
    /// [`Boundary::Reflect`]); both have the same length.
    Flip,
    /// The source slice has length 1 and is repeated over the whole
    /// destination ([`Boundary::Nearest`]).
    Broadcast,
}

/// Where a piece's data comes from: a slice of one block of the grid, so
/// that a scheduler can fetch exactly the blocks a halo depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HaloSource {
    /// The source block's n-d index in the grid.
    pub block: Vec<u64>,
    /// The slice to take, in coordinates local to the source block.
    pub region: Region,
    /// Per axis, how that slice lands in the destination.
    pub modes: Vec<CopyMode>,
}

/// One rectangle of the expanded buffer and how to fill it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HaloPiece {
    /// The rectangle to fill, in coordinates local to the expanded buffer.
    /// Never empty.
    pub dest: Region,
    /// The data to copy there, or `None` for a [`Boundary::Constant`] fill
    /// with the caller's value.
    pub source: Option<HaloSource>,
}

/// Everything a caller needs to build one block's expanded buffer and, after
/// computing on it, to cut the original block back out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HaloPlan {
    /// The shape of the expanded buffer to allocate.
    pub shape: Vec<u64>,
    /// Where the original block starts inside the buffer (the trim at the
    /// front; the depth, or less where [`Boundary::None`] clipped it).
    pub block_offset: Vec<u64>,
    /// The shape of the original block.
    pub block_shape: Vec<u64>,
    /// Pieces that cover the buffer exactly once: the data pieces in C order
    /// of their destinations, then the constant-fill slabs (at most two per
    /// axis).
    pub pieces: Vec<HaloPiece>,
}

impl HaloPlan {
    /// The original block's place in the buffer: what to keep when trimming
    /// the halo off a result of the same shape as the buffer.
    pub fn block_in_buffer(&self) -> Region {
        Region::from_parts_unchecked(
            self.block_offset.clone(),
            self.block_offset
                .iter()
                .zip(&self.block_shape)
                .map(|(o, s)| o + s)
                .collect(),
        )
    }
}

/// Checks, once for the whole array, that every axis' boundary mode can
/// supply its depth, so that a bad halo fails when a computation is built
/// rather than halfway through it, and fails the same way for every block.
///
/// Refused, naming the axis ([`ChunkingError::InvalidHalo`]): `Reflect` or
/// `Periodic` with a depth larger than the axis, and `Nearest` with a
/// non-zero depth on an empty axis. A halo with the wrong number of axes is
/// an [`ChunkingError::NdimMismatch`].
///
/// Dask refuses *any* depth larger than the array (its rechunk step needs
/// every chunk to hold a whole halo); here `None`, `Constant` and `Nearest`
/// accept it, since their values stay well defined (`np.pad` semantics).
pub fn validate_halo(shape: &[u64], halo: &[Halo]) -> Result<()> {
    if halo.len() != shape.len() {
        return Err(ChunkingError::NdimMismatch {
            what: "halo",
            expected: shape.len(),
            got: halo.len(),
        });
    }
    for (axis, (&len, h)) in shape.iter().zip(halo).enumerate() {
        let depth = h.depth;
        let reason = match h.boundary {
            Boundary::Reflect | Boundary::Periodic if depth > len => {
                let name = if h.boundary == Boundary::Reflect {
                    "reflect"
                } else {
                    "periodic"
                };
                format!(
                    "halo depth {depth} is larger than the axis length {len}; the `{name}` boundary \
                     can supply at most the whole axis"
                )
            }
            Boundary::Nearest if depth > 0 && len == 0 => {
                format!("halo depth {depth} on an empty axis: the `nearest` boundary has no edge element to repeat")
            }
            _ => continue,
        };
        return Err(ChunkingError::InvalidHalo { axis, reason });
    }
    Ok(())
}

/// The expanded buffer of `block` for the given per-axis halo, and the pieces
/// that fill it.
///
/// The buffer is the block grown by `depth` on each side of every axis; at the
/// array edge it is clipped ([`Boundary::None`]) or extended past the array
/// with the mode's values. Its content equals the same window of the whole
/// array padded Dask's way, axis after axis. A zero-size block still gets its
/// halo: a buffer of `2 * depth` (less where clipped) around its position.
///
/// Cost: O(ndim + pieces) on regular axes (plus a binary search per axis and
/// any zero-size chunks crossed on irregular ones), whatever the number of
/// blocks in the grid.
///
/// Errors: see [`validate_halo`]; also a block outside the grid, and a depth
/// so large that the buffer would exceed `u64::MAX` elements along an axis.
pub fn halo_plan(grid: &ChunkGrid, block: &[u64], halo: &[Halo]) -> Result<HaloPlan> {
    let block_region = grid.block_region(block)?;
    validate_halo(&grid.shape(), halo)?;
    let axes = grid
        .axes()
        .iter()
        .enumerate()
        .map(|(axis, chunks)| axis_plan(axis, chunks, block_region.range(axis), &halo[axis]))
        .collect::<Result<Vec<_>>>()?;

    let shape: Vec<u64> = axes.iter().map(|a| a.len).collect();
    let mut pieces = data_pieces(&axes);
    pieces.extend(fill_slabs(&axes));
    Ok(HaloPlan {
        block_offset: axes.iter().map(|a| a.block_offset).collect(),
        block_shape: block_region.shape(),
        shape,
        pieces,
    })
}

/// One axis' share of a data piece.
struct AxisPiece {
    block: u64,
    src: Range<u64>,
    dest: Range<u64>,
    mode: CopyMode,
}

/// The plan along one axis: the buffer extent, the data pieces in
/// destination order, and the constant-filled ends.
struct AxisPlan {
    len: u64,
    block_offset: u64,
    fill_before: u64,
    fill_after: u64,
    pieces: Vec<AxisPiece>,
}

fn axis_plan(axis: usize, chunks: &AxisChunks, block: Range<u64>, halo: &Halo) -> Result<AxisPlan> {
    let n = chunks.len();
    let (s, e, d) = (block.start, block.end, halo.depth);
    // The part of the window inside the array, and how far it reaches out.
    let lo = s - d.min(s);
    let hi = e.saturating_add(d).min(n);
    let (pad_before, pad_after) = match halo.boundary {
        Boundary::None => (0, 0),
        _ => (d.saturating_sub(s), d.saturating_sub(n - e)),
    };
    let len = pad_before
        .checked_add(hi - lo)
        .and_then(|x| x.checked_add(pad_after))
        .ok_or_else(|| ChunkingError::InvalidHalo {
            axis,
            reason: format!(
                "halo depth {d} makes the expanded block longer than u64::MAX elements"
            ),
        })?;
    let after_start = pad_before + (hi - lo);

    let mut pieces = Vec::new();
    // validate_halo guarantees pad <= d <= n for Reflect/Periodic and n > 0
    // for Nearest whenever a pad exists.
    match halo.boundary {
        Boundary::Reflect => split(chunks, 0..pad_before, 0, CopyMode::Flip, &mut pieces),
        Boundary::Periodic => split(
            chunks,
            n - pad_before..n,
            0,
            CopyMode::Straight,
            &mut pieces,
        ),
        Boundary::Nearest => broadcast(chunks, 0, 0..pad_before, &mut pieces),
        Boundary::None | Boundary::Constant => {}
    }
    split(chunks, lo..hi, pad_before, CopyMode::Straight, &mut pieces);
    match halo.boundary {
        Boundary::Reflect => split(
            chunks,
            n - pad_after..n,
            after_start,
            CopyMode::Flip,
            &mut pieces,
        ),
        Boundary::Periodic => split(
            chunks,
            0..pad_after,
            after_start,
            CopyMode::Straight,
            &mut pieces,
        ),
        Boundary::Nearest => broadcast(chunks, n.saturating_sub(1), after_start..len, &mut pieces),
        Boundary::None | Boundary::Constant => {}
    }

    let (fill_before, fill_after) = match halo.boundary {
        Boundary::Constant => (pad_before, pad_after),
        _ => (0, 0),
    };
    Ok(AxisPlan {
        len,
        block_offset: pad_before + (s - lo),
        fill_before,
        fill_after,
        pieces,
    })
}

/// Appends the pieces that copy the array range `src` to the buffer from
/// `dest_start` on, one per non-empty chunk crossed, in destination order.
fn split(
    chunks: &AxisChunks,
    src: Range<u64>,
    dest_start: u64,
    mode: CopyMode,
    out: &mut Vec<AxisPiece>,
) {
    let crossed = chunks.chunks_overlapping(src.clone());
    let mut push = |c: u64| {
        let cr = chunks.chunk_range(c);
        let (a, b) = (src.start.max(cr.start), src.end.min(cr.end));
        if a >= b {
            return; // a zero-size chunk inside the range
        }
        let dest = match mode {
            CopyMode::Flip => dest_start + (src.end - b)..dest_start + (src.end - a),
            _ => dest_start + (a - src.start)..dest_start + (b - src.start),
        };
        out.push(AxisPiece {
            block: c,
            src: a - cr.start..b - cr.start,
            dest,
            mode,
        });
    };
    if mode == CopyMode::Flip {
        crossed.rev().for_each(&mut push);
    } else {
        crossed.for_each(&mut push);
    }
}

/// Appends a piece repeating array element `at` over `dest`, if non-empty.
fn broadcast(chunks: &AxisChunks, at: u64, dest: Range<u64>, out: &mut Vec<AxisPiece>) {
    if dest.is_empty() {
        return;
    }
    if let Some(c) = chunks.chunk_of(at) {
        let local = at - chunks.chunk_range(c).start;
        out.push(AxisPiece {
            block: c,
            src: local..local + 1,
            dest,
            mode: CopyMode::Broadcast,
        });
    }
}

/// Every combination of one data piece per axis, in C order of destination.
fn data_pieces(axes: &[AxisPlan]) -> Vec<HaloPiece> {
    if axes.iter().any(|a| a.pieces.is_empty()) {
        return Vec::new();
    }
    let total = axes.iter().map(|a| a.pieces.len()).product();
    let mut out = Vec::with_capacity(total);
    let mut at = vec![0usize; axes.len()];
    loop {
        let chosen: Vec<&AxisPiece> = axes.iter().zip(&at).map(|(a, &i)| &a.pieces[i]).collect();
        out.push(HaloPiece {
            dest: Region::from_parts_unchecked(
                chosen.iter().map(|p| p.dest.start).collect(),
                chosen.iter().map(|p| p.dest.end).collect(),
            ),
            source: Some(HaloSource {
                block: chosen.iter().map(|p| p.block).collect(),
                region: Region::from_parts_unchecked(
                    chosen.iter().map(|p| p.src.start).collect(),
                    chosen.iter().map(|p| p.src.end).collect(),
                ),
                modes: chosen.iter().map(|p| p.mode).collect(),
            }),
        });
        // Odometer, last axis fastest; a 0-d plan has exactly one piece.
        let mut axis = axes.len();
        loop {
            if axis == 0 {
                return out;
            }
            axis -= 1;
            at[axis] += 1;
            if at[axis] < axes[axis].pieces.len() {
                break;
            }
            at[axis] = 0;
        }
    }
}

/// The constant-filled part of the buffer as at most two slabs per axis:
/// the slab of axis `k` spans the whole buffer on later axes and only the
/// non-filled part on earlier ones, so the slabs never overlap.
fn fill_slabs(axes: &[AxisPlan]) -> Vec<HaloPiece> {
    let mut out = Vec::new();
    for (k, ax) in axes.iter().enumerate() {
        for range in [0..ax.fill_before, ax.len - ax.fill_after..ax.len] {
            if range.is_empty() {
                continue;
            }
            let (start, stop): (Vec<u64>, Vec<u64>) = axes
                .iter()
                .enumerate()
                .map(|(j, a)| match j.cmp(&k) {
                    std::cmp::Ordering::Less => (a.fill_before, a.len - a.fill_after),
                    std::cmp::Ordering::Equal => (range.start, range.end),
                    std::cmp::Ordering::Greater => (0, a.len),
                })
                .unzip();
            let dest = Region::from_parts_unchecked(start, stop);
            if !dest.is_empty() {
                out.push(HaloPiece { dest, source: None });
            }
        }
    }
    out
}
