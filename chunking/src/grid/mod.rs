//! `ChunkGrid`: the chunking of a whole array, and block addressing.

mod axis;
mod blocks;

pub use axis::{is_regular_sizes, AxisChunks, MAX_IRREGULAR_CHUNKS};
pub use blocks::{BlockIter, BlockRange};

use serde::{Deserialize, Serialize};

use crate::error::{ChunkingError, Result};
use crate::region::Region;

/// How an n-dimensional array is cut into blocks: one [`AxisChunks`] per
/// axis. A block is addressed by its n-d index (`Vec<u64>`, one entry per
/// axis) or by its C-order linear index.
///
/// Regular grids cost O(ndim) memory however many blocks they have;
/// every question below costs O(ndim) on them (O(ndim · log n) on irregular
/// axes) or O(answer) when the answer is a set of blocks.
///
/// ```
/// use ndchunk_chunking::{ChunkGrid, Region};
/// // Daily climate data, one chunk per 30 days and per 10x10 degree tile.
/// let grid = ChunkGrid::regular(&[365, 180, 360], &[30, 10, 10]).unwrap();
/// assert_eq!(grid.blocks_per_axis(), vec![13, 18, 36]);
/// assert_eq!(grid.block_region(&[12, 0, 0]).unwrap(), Region::new(vec![360, 0, 0], vec![365, 10, 10]).unwrap());
/// assert_eq!(grid.block_of(&[100, 5, 355]), Some(vec![3, 0, 35]));
/// let touched = grid.blocks_overlapping(&Region::new(vec![25, 0, 0], vec![35, 15, 5]).unwrap()).unwrap();
/// assert_eq!(touched.num_blocks(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkGrid {
    axes: Vec<AxisChunks>,
}

impl ChunkGrid {
    /// A grid from its axes.
    pub fn new(axes: Vec<AxisChunks>) -> Self {
        Self { axes }
    }

    /// A regular grid: `shape` cut every `chunk_shape` elements per axis.
    pub fn regular(shape: &[u64], chunk_shape: &[u64]) -> Result<Self> {
        if shape.len() != chunk_shape.len() {
            return Err(ChunkingError::NdimMismatch {
                what: "chunk shape",
                expected: shape.len(),
                got: chunk_shape.len(),
            });
        }
        let axes = shape
            .iter()
            .zip(chunk_shape)
            .enumerate()
            .map(|(axis, (&len, &chunk))| {
                AxisChunks::regular(len, chunk).map_err(|_| ChunkingError::ZeroChunk { axis, len })
            })
            .collect::<Result<_>>()?;
        Ok(Self { axes })
    }

    /// A grid from explicit chunk sizes per axis (Dask's `chunks` tuple).
    pub fn from_sizes<S: AsRef<[u64]>>(sizes: &[S]) -> Result<Self> {
        let axes = sizes
            .iter()
            .enumerate()
            .map(|(axis, s)| {
                AxisChunks::from_sizes(s.as_ref()).map_err(|e| match e {
                    ChunkingError::InvalidChunkSpec { spec, reason } => {
                        ChunkingError::InvalidChunkSpec {
                            spec,
                            reason: format!("axis {axis}: {reason}"),
                        }
                    }
                    other => other,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { axes })
    }

    /// The chunk sizes per axis (Dask's `.chunks`). O(blocks per axis).
    pub fn to_sizes(&self) -> Vec<Vec<u64>> {
        self.axes.iter().map(|a| a.sizes().collect()).collect()
    }

    /// The axes.
    pub fn axes(&self) -> &[AxisChunks] {
        &self.axes
    }

    /// One axis.
    pub fn axis(&self, axis: usize) -> &AxisChunks {
        &self.axes[axis]
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// The array shape.
    pub fn shape(&self) -> Vec<u64> {
        self.axes.iter().map(AxisChunks::len).collect()
    }

    /// The largest chunk along each axis (the chunk shape of a regular grid,
    /// clipped to the array).
    pub fn chunk_shape(&self) -> Vec<u64> {
        self.axes.iter().map(AxisChunks::max_chunk).collect()
    }

    /// True when every axis is regular.
    pub fn is_regular(&self) -> bool {
        self.axes.iter().all(AxisChunks::is_regular)
    }

    /// Blocks along each axis.
    pub fn blocks_per_axis(&self) -> Vec<u64> {
        self.axes.iter().map(AxisChunks::num_chunks).collect()
    }

    /// Total number of blocks (saturating at `u64::MAX`).
    pub fn num_blocks(&self) -> u64 {
        self.axes
            .iter()
            .fold(1u64, |n, a| n.saturating_mul(a.num_chunks()))
    }

    /// Total number of blocks, or [`ChunkingError::TooManyBlocks`] when a
    /// `u64` cannot count them (an empty axis does not help: it still has
    /// one chunk).
    pub fn checked_num_blocks(&self) -> Result<u64> {
        self.axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.num_chunks()))
            .ok_or_else(|| ChunkingError::TooManyBlocks {
                blocks: self.blocks_per_axis(),
            })
    }

    /// Total number of elements, or [`ChunkingError::TooManyElements`]
    /// when a `u64` cannot count them.
    pub fn num_elements(&self) -> Result<u64> {
        checked_elements(&self.shape()).ok_or_else(|| ChunkingError::TooManyElements {
            what: "the array",
            shape: self.shape(),
        })
    }

    /// Bytes of the whole array at `itemsize` bytes per element, or an
    /// error naming what does not fit a `u64`.
    pub fn num_bytes(&self, itemsize: u64) -> Result<u64> {
        self.num_elements()?
            .checked_mul(itemsize)
            .ok_or_else(|| ChunkingError::TooManyBytes {
                what: "the array",
                shape: self.shape(),
                itemsize,
            })
    }

    /// Bytes of the largest block at `itemsize` bytes per element, or an
    /// error naming the chunk shape when a `u64` cannot count them.
    pub fn max_block_bytes(&self, itemsize: u64) -> Result<u64> {
        let shape = self.chunk_shape();
        checked_elements(&shape)
            .ok_or_else(|| ChunkingError::TooManyElements {
                what: "one chunk",
                shape: shape.clone(),
            })?
            .checked_mul(itemsize)
            .ok_or(ChunkingError::TooManyBytes {
                what: "one chunk",
                shape,
                itemsize,
            })
    }

    /// Errors unless the grid's elements and blocks can both be counted in
    /// a `u64`: what every size computed over the grid relies on. A grid
    /// that passes may still have astronomically many blocks; nothing here
    /// allocates per block.
    pub fn check_counts(&self) -> Result<()> {
        self.num_elements()?;
        self.checked_num_blocks()?;
        Ok(())
    }

    /// Elements in the largest block.
    pub fn max_block_elements(&self) -> u64 {
        self.axes
            .iter()
            .fold(1u64, |n, a| n.saturating_mul(a.max_chunk()))
    }

    fn check_block(&self, block: &[u64]) -> Result<()> {
        if block.len() != self.ndim() {
            return Err(ChunkingError::NdimMismatch {
                what: "block index",
                expected: self.ndim(),
                got: block.len(),
            });
        }
        if block
            .iter()
            .zip(&self.axes)
            .any(|(&b, a)| b >= a.num_chunks())
        {
            return Err(ChunkingError::BlockOutOfBounds {
                block: block.to_vec(),
                blocks: self.blocks_per_axis(),
            });
        }
        Ok(())
    }

    /// The element region a block covers.
    pub fn block_region(&self, block: &[u64]) -> Result<Region> {
        self.check_block(block)?;
        let (start, stop) = self
            .axes
            .iter()
            .zip(block)
            .map(|(a, &b)| {
                let r = a.chunk_range(b);
                (r.start, r.end)
            })
            .unzip();
        Ok(Region::from_parts_unchecked(start, stop))
    }

    /// The shape of one block.
    pub fn block_shape(&self, block: &[u64]) -> Result<Vec<u64>> {
        self.check_block(block)?;
        Ok(self
            .axes
            .iter()
            .zip(block)
            .map(|(a, &b)| a.chunk_size(b))
            .collect())
    }

    /// The block holding the element at `point`, or `None` outside the array.
    pub fn block_of(&self, point: &[u64]) -> Option<Vec<u64>> {
        if point.len() != self.ndim() {
            return None;
        }
        self.axes
            .iter()
            .zip(point)
            .map(|(a, &p)| a.chunk_of(p))
            .collect()
    }

    /// The blocks that share an element with `region`, as a box of block
    /// indices. O(ndim) (O(ndim · log n) on irregular axes); iterate it for
    /// the blocks themselves. An empty region gives no blocks; a region that
    /// reaches outside the array is an error
    /// ([`ChunkingError::RegionOutOfBounds`]). Being a box, the result also
    /// holds zero-size chunks lying between overlapping ones (they hold
    /// nothing to copy).
    pub fn blocks_overlapping(&self, region: &Region) -> Result<BlockRange> {
        if region.ndim() != self.ndim() {
            return Err(ChunkingError::NdimMismatch {
                what: "region",
                expected: self.ndim(),
                got: region.ndim(),
            });
        }
        if !Region::from_shape(&self.shape()).contains(region) {
            return Err(ChunkingError::RegionOutOfBounds {
                region: region.to_string(),
                shape: self.shape(),
            });
        }
        Ok(BlockRange::new(
            self.axes
                .iter()
                .enumerate()
                .map(|(i, a)| a.chunks_overlapping(region.range(i)))
                .collect(),
        ))
    }

    /// Every block of the grid, in C order.
    pub fn all_blocks(&self) -> BlockRange {
        BlockRange::new(self.axes.iter().map(|a| 0..a.num_chunks()).collect())
    }

    /// The C-order linear index of a block.
    pub fn linear_index(&self, block: &[u64]) -> Result<u64> {
        self.check_block(block)?;
        self.axes
            .iter()
            .zip(block)
            .try_fold(0u64, |acc, (a, &b)| {
                acc.checked_mul(a.num_chunks())?.checked_add(b)
            })
            .ok_or_else(|| ChunkingError::TooManyBlocks {
                blocks: self.blocks_per_axis(),
            })
    }

    /// The block at a C-order linear index.
    pub fn block_index(&self, linear: u64) -> Result<Vec<u64>> {
        if linear >= self.num_blocks() {
            return Err(ChunkingError::BlockOutOfBounds {
                block: vec![linear],
                blocks: self.blocks_per_axis(),
            });
        }
        let mut block = vec![0; self.ndim()];
        let mut rest = linear;
        for (slot, a) in block.iter_mut().zip(&self.axes).rev() {
            let n = a.num_chunks();
            *slot = rest % n;
            rest /= n;
        }
        Ok(block)
    }

    /// Errors unless `other` covers the same shape.
    pub fn check_same_shape(&self, other: &ChunkGrid) -> Result<()> {
        if self.shape() != other.shape() {
            return Err(ChunkingError::ShapeMismatch {
                left: self.shape(),
                right: other.shape(),
            });
        }
        Ok(())
    }

    /// The grid of a reduction's result over `axes`: reduced axes vanish
    /// (or, with `keepdims`, become length-1 axes of one chunk); the others
    /// keep their chunks, as Dask's reductions do.
    pub fn reduce_axes(&self, axes: &[usize], keepdims: bool) -> Result<ChunkGrid> {
        if let Some(&bad) = axes.iter().find(|&&a| a >= self.ndim()) {
            return Err(ChunkingError::NdimMismatch {
                what: "reduction axis",
                expected: self.ndim(),
                got: bad + 1,
            });
        }
        let mut kept = Vec::with_capacity(self.ndim());
        for (i, axis) in self.axes.iter().enumerate() {
            if !axes.contains(&i) {
                kept.push(axis.clone());
            } else if keepdims {
                kept.push(AxisChunks::regular(1, 1)?);
            }
        }
        Ok(ChunkGrid::new(kept))
    }

    /// The grid cut at every boundary of `self` and of `other`: the coarsest
    /// grid whose blocks each lie inside one block of both.
    pub fn refine_with(&self, other: &ChunkGrid) -> Result<ChunkGrid> {
        self.check_same_shape(other)?;
        Ok(ChunkGrid::new(
            self.axes
                .iter()
                .zip(&other.axes)
                .map(|(a, b)| a.refine_with(b))
                .collect::<Result<_>>()?,
        ))
    }
}

/// The product of `shape`, or `None` past `u64::MAX` (an empty axis makes
/// it 0 whatever the others).
fn checked_elements(shape: &[u64]) -> Option<u64> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1u64, |n, &l| n.checked_mul(l))
}
