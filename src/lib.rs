//! # ndchunk
//!
//! Lazy chunked n-dimensional arrays with labelled axes over Zarr and HDF5
//! chunk stores: Dask array + Xarray for Rust. This release carries the
//! chunk-grid algebra ([`chunking`]); the engine arrives in later releases.

pub use ndchunk_chunking as chunking;
pub use ndchunk_io as io;
