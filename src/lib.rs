//! # ndchunk
//!
//! Lazy chunked n-dimensional arrays with labelled axes over Zarr and HDF5
//! chunk stores: Dask array + Xarray for Rust. Today: the chunk-grid
//! algebra ([`chunking`]), the stores ([`io`]), the lazy array engine
//! ([`Array`], [`DynArray`]) with its one executor (budgeted, resumable
//! `store`), and `chunkctl rechunk` as a job over it ([`rechunk`]); the
//! labelled layer comes next.

pub mod array;
pub mod error;
pub mod exec;
pub mod graph;
pub mod ops;
pub mod plan;
pub mod rechunk;

pub use array::{Array, Chunks, DynArray};
pub use error::{Error, Result};
pub use exec::progress::{ProgressCallback, ProgressUpdate};
pub use exec::run::{ComputeOptions, ComputeReport};
pub use ndchunk_chunking as chunking;
pub use ndchunk_io as io;
pub use ops::{blockwise, concatenate, stack, where_, Index, Numeric, Operand, PadMode};
pub use ops::{Axes, MeanElement, ReduceOptions};
pub use plan::Plan;
