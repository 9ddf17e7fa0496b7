//! # ndchunk-io: chunk stores
//!
//! The `ChunkStore` trait and its backends (Zarr v2/v3, HDF5, netCDF-3,
//! in-memory) arrive with the stores issue; for now this crate only
//! re-exports the grid types the stores will be described with.

pub use ndchunk_chunking::{ChunkGrid, Region};
