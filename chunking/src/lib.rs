//! # ndchunk-chunking: the chunk-grid algebra
//!
//! Pure questions about how n-dimensional arrays are cut into chunks, asked
//! by every other part of ndchunk (graph lowering, rechunk, overlaps,
//! slicing, stores). No I/O and no array data: only shapes, grids and
//! regions, answered exactly and in time proportional to the answer.
//!
//! - [`Region`]: a hyper-rectangle of elements.
//! - [`ChunkGrid`] / [`AxisChunks`]: regular (O(ndim) memory) or irregular
//!   chunkings, block index ↔ region, the blocks under a region.
//!
//! ```
//! use ndchunk_chunking::{ChunkGrid, Region};
//!
//! let grid = ChunkGrid::from_sizes(&[vec![4, 4, 2], vec![5, 5]]).unwrap();
//! assert_eq!(grid.shape(), vec![10, 10]);
//! let region = Region::new(vec![3, 4], vec![9, 6]).unwrap();
//! let blocks: Vec<_> = grid.blocks_overlapping(&region).unwrap().iter().collect();
//! assert_eq!(blocks, vec![vec![0, 0], vec![0, 1], vec![1, 0], vec![1, 1], vec![2, 0], vec![2, 1]]);
//! ```

pub mod error;
pub mod grid;
pub mod region;

pub use error::{ChunkingError, Result};
pub use grid::{AxisChunks, BlockIter, BlockRange, ChunkGrid};
pub use region::Region;
