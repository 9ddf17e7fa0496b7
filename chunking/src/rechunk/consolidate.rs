//! Growing chunks into larger task blocks under a memory test (Rechunker's
//! `consolidate_chunks`, generalised to irregular grids and to an exact
//! memory check instead of a byte count).

use crate::grid::{AxisChunks, ChunkGrid};

/// Merge consecutive chunks of `grid` into larger blocks, from the last axis
/// to the first (so that blocks stay contiguous in C order), as far as
/// `limits` allows (`None`: leave the axis alone; `Some(n)`: blocks up to `n`
/// elements long) and as long as `fits` accepts the result.
///
/// The result is always a coarsening of `grid` (its boundaries are a subset
/// of `grid`'s). `fits` must be monotone: if a grid fits, a finer one does.
/// When even `grid` itself does not fit, `grid` is returned unchanged and
/// the caller's own check reports the problem.
pub fn consolidate(
    grid: &ChunkGrid,
    limits: &[Option<u64>],
    fits: impl Fn(&ChunkGrid) -> bool,
) -> ChunkGrid {
    let mut current = grid.clone();
    for axis in (0..grid.ndim()).rev() {
        let Some(limit) = limits[axis] else { continue };
        let base = grid.axis(axis);
        let k_max = max_group(base, limit);
        if k_max <= 1 {
            continue;
        }
        let with = |k: u64| {
            let mut axes = current.axes().to_vec();
            axes[axis] = base.merge_groups(k);
            ChunkGrid::new(axes)
        };
        let candidate = with(k_max);
        if fits(&candidate) {
            current = candidate;
            continue;
        }
        // Largest k in [1, k_max) that fits; k = 1 is `current` itself.
        let (mut lo, mut hi) = (1u64, k_max);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(&with(mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        if lo > 1 {
            current = with(lo);
        }
    }
    current
}

/// The largest number of consecutive chunks whose merged blocks stay within
/// `limit` elements (at least 1).
fn max_group(axis: &AxisChunks, limit: u64) -> u64 {
    let n = axis.num_chunks();
    if n <= 1 {
        return 1;
    }
    if let Some(chunk) = axis.regular_chunk() {
        return (limit / chunk.max(1)).clamp(1, n);
    }
    // Irregular: merged extent grows with k; binary search the last k whose
    // largest merged block fits the limit.
    let (mut lo, mut hi) = (1u64, n + 1);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if axis.max_merged(mid) <= limit {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}
