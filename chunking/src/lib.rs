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

pub mod bytesize;
pub mod error;
pub mod grid;
pub mod intersect;
pub mod normalize;
pub mod rechunk;
pub mod region;
pub mod spec;

pub use bytesize::{format_bytes, parse_bytes};
pub use error::{ChunkingError, Result};
pub use grid::{AxisChunks, BlockIter, BlockRange, ChunkGrid};
pub use intersect::{Intersections, Piece};
pub use normalize::{balance_chunks, normalize_chunks, NormalizeOptions, DEFAULT_CHUNK_BYTES};
pub use rechunk::{plan_rechunk, PlanOptions, RechunkPlan};
pub use region::Region;
pub use spec::{AxisSpec, ChunkSpec};
