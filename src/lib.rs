//! # ndchunk
//!
//! Lazy chunked n-dimensional arrays over Zarr and HDF5 chunk stores: the
//! Dask-array half of "Dask array + Xarray for Rust" (the labelled layer is
//! still to come). An [`Array`] is an expression over chunk stores,
//! in-memory arrays and generators; nothing is read until it is computed
//! or stored. Its operations build a graph of one node per operation,
//! never one per chunk; [`Array::plan`] cuts that graph into stages that
//! run within a memory budget ([`ComputeOptions`]) on one parallel
//! executor, and [`Array::store_with`] resumes after a kill.
//!
//! The chunk-grid algebra is [`chunking`], the stores are [`io`].

mod array;
mod error;
mod exec;
mod graph;
mod labelled;
mod ops;
mod plan;
mod runtime;

pub use array::RandomFloat;
pub use array::{compute_many, splitmix64, store_many, store_many_plan};
pub use array::{Array, Chunks, DynArray, DynElement, Reduction};
pub use error::{Error, Result};
pub use exec::progress::{ProgressCallback, ProgressUpdate};
pub use exec::run::{ComputeOptions, ComputeReport};
pub use graph::BlockInfo;
pub use labelled::ZarrWriteOptions;
pub use labelled::{open_dataset, open_dataset_with, open_zarr, open_zarr_with};
pub use labelled::{time_encoding, Calendar, CfDatetime, TimeUnit, TimeUnits};
pub use labelled::{
    Arith, Attrs, Coord, DataArray, Dataset, Dims, Join, Label, OpenOptions, Sel, Values,
};
pub use ndchunk_chunking as chunking;
pub use ndchunk_io as io;
pub use ops::{blockwise, concatenate, map_blocks, stack, where_, BlockSpec, Index, Numeric};
pub use ops::{Axes, MeanElement, ReduceOptions, DEFAULT_SPLIT_EVERY};
pub use ops::{Operand, PadMode};
pub use plan::{Plan, Residence, Stage, StageKind};
