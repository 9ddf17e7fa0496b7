//! Intersections of two chunkings of the same array: for each block of the
//! new grid, the pieces of old blocks it is made of (Dask's
//! `intersect_chunks` / `old_to_new`), computed lazily per block.

use std::ops::Range;

use crate::error::{ChunkingError, Result};
use crate::grid::{AxisChunks, ChunkGrid};
use crate::region::Region;

/// One piece along one axis: a range of old chunk `from_chunk` (local to it)
/// that lands at `to_range` (local to the new chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisPiece {
    /// Index of the old chunk along the axis.
    pub from_chunk: u64,
    /// The range to take, in the old chunk's local coordinates.
    pub from_range: Range<u64>,
    /// Where it goes, in the new chunk's local coordinates.
    pub to_range: Range<u64>,
}

/// The pieces of `from`'s chunks that make up chunk `to_chunk` of `to`, in
/// order. O(pieces) on regular axes (plus O(log n) on irregular ones).
///
/// Zero-size chunks follow Dask: a zero-size new chunk is one empty piece
/// of the old chunk at its position (the last old chunk at the axis end);
/// zero-size old chunks never contribute to a non-empty new chunk.
pub fn axis_pieces(from: &AxisChunks, to: &AxisChunks, to_chunk: u64) -> Vec<AxisPiece> {
    let target = to.chunk_range(to_chunk);
    if target.is_empty() {
        let from_chunk = from.chunk_at_position(target.start);
        let at = target.start - from.chunk_range(from_chunk).start;
        return vec![AxisPiece {
            from_chunk,
            from_range: at..at,
            to_range: 0..0,
        }];
    }
    from.chunks_overlapping(target.clone())
        .filter_map(|i| {
            let src = from.chunk_range(i);
            let (a, b) = (src.start.max(target.start), src.end.min(target.end));
            (a < b).then(|| AxisPiece {
                from_chunk: i,
                from_range: a - src.start..b - src.start,
                to_range: a - target.start..b - target.start,
            })
        })
        .collect()
}

/// One n-d piece: the part `from_region` (local to old block `from_block`)
/// that lands at `to_region` (local to the new block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The old block.
    pub from_block: Vec<u64>,
    /// What to take from it, local to it.
    pub from_region: Region,
    /// Where it goes, local to the new block.
    pub to_region: Region,
}

/// A change of chunking from one grid to another over the same shape.
///
/// ```
/// use ndchunk_chunking::{ChunkGrid, intersect::Intersections};
/// let old = ChunkGrid::from_sizes(&[vec![10, 10, 10, 10, 10]]).unwrap();
/// let new = ChunkGrid::from_sizes(&[vec![25, 5, 20]]).unwrap();
/// let change = Intersections::new(&old, &new).unwrap();
/// let first: Vec<_> = change.pieces(&[0]).unwrap().map(|p| p.from_block[0]).collect();
/// assert_eq!(first, vec![0, 1, 2]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Intersections<'a> {
    from: &'a ChunkGrid,
    to: &'a ChunkGrid,
}

impl<'a> Intersections<'a> {
    /// The change from `from` to `to`; errors unless they cover the same shape.
    pub fn new(from: &'a ChunkGrid, to: &'a ChunkGrid) -> Result<Self> {
        from.check_same_shape(to)?;
        Ok(Self { from, to })
    }

    /// The old grid.
    pub fn from_grid(&self) -> &'a ChunkGrid {
        self.from
    }

    /// The new grid.
    pub fn to_grid(&self) -> &'a ChunkGrid {
        self.to
    }

    /// The pieces of new block `to_block`, in C order of the old blocks.
    /// Costs O(pieces); nothing is computed for other blocks.
    pub fn pieces(&self, to_block: &[u64]) -> Result<Pieces> {
        self.to.block_region(to_block)?;
        let per_axis: Vec<Vec<AxisPiece>> = self
            .from
            .axes()
            .iter()
            .zip(self.to.axes())
            .zip(to_block)
            .map(|((f, t), &b)| axis_pieces(f, t, b))
            .collect();
        Ok(Pieces::new(per_axis))
    }

    /// Every new block with its pieces, in C order of the new blocks.
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u64>, Pieces)> + 'a {
        let this = *self;
        self.to.all_blocks().iter().map(move |block| {
            // The block comes from the grid itself, so it is in range.
            let pieces = this
                .pieces(&block)
                .unwrap_or_else(|_| Pieces::new(Vec::new()));
            (block, pieces)
        })
    }

    /// Number of pieces over all new blocks: the number of partial copies a
    /// direct rechunk makes. O(chunks per axis) at most, O(ndim) when both
    /// grids are regular.
    pub fn num_pieces(&self) -> u64 {
        self.from
            .axes()
            .iter()
            .zip(self.to.axes())
            .fold(1u64, |n, (f, t)| {
                n.saturating_mul(f.count_overlaps(t).max(1))
            })
    }
}

/// The n-d pieces of one new block: the cartesian product of its per-axis
/// pieces, in C order.
#[derive(Debug, Clone)]
pub struct Pieces {
    per_axis: Vec<Vec<AxisPiece>>,
    cursor: Option<Vec<usize>>,
}

impl Pieces {
    fn new(per_axis: Vec<Vec<AxisPiece>>) -> Self {
        let cursor = (!per_axis.iter().any(Vec::is_empty)).then(|| vec![0; per_axis.len()]);
        Self { per_axis, cursor }
    }

    /// The per-axis pieces whose product this is.
    pub fn per_axis(&self) -> &[Vec<AxisPiece>] {
        &self.per_axis
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u64 {
        self.per_axis
            .iter()
            .fold(1u64, |n, p| n.saturating_mul(p.len() as u64))
    }
}

impl Iterator for Pieces {
    type Item = Piece;

    fn next(&mut self) -> Option<Piece> {
        let cursor = self.cursor.as_mut()?;
        let ndim = cursor.len();
        let mut from_block = Vec::with_capacity(ndim);
        let (mut fs, mut fe, mut ts, mut te) = (
            Vec::with_capacity(ndim),
            Vec::with_capacity(ndim),
            Vec::with_capacity(ndim),
            Vec::with_capacity(ndim),
        );
        for (axis, &i) in cursor.iter().enumerate() {
            let p = &self.per_axis[axis][i];
            from_block.push(p.from_chunk);
            fs.push(p.from_range.start);
            fe.push(p.from_range.end);
            ts.push(p.to_range.start);
            te.push(p.to_range.end);
        }
        let mut done = true;
        for axis in (0..ndim).rev() {
            cursor[axis] += 1;
            if cursor[axis] < self.per_axis[axis].len() {
                done = false;
                break;
            }
            cursor[axis] = 0;
        }
        if done {
            self.cursor = None;
        }
        Some(Piece {
            from_block,
            from_region: Region::from_parts_unchecked(fs, fe),
            to_region: Region::from_parts_unchecked(ts, te),
        })
    }
}

/// Dask's `old_to_new` for one axis pair: for each new chunk, its pieces.
pub fn old_to_new(from: &AxisChunks, to: &AxisChunks) -> Result<Vec<Vec<AxisPiece>>> {
    if from.len() != to.len() {
        return Err(ChunkingError::ShapeMismatch {
            left: vec![from.len()],
            right: vec![to.len()],
        });
    }
    Ok((0..to.num_chunks())
        .map(|j| axis_pieces(from, to, j))
        .collect())
}
