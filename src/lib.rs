//! # ndchunk
//!
//! Dask array + Xarray for Rust: lazy chunked n-dimensional arrays with
//! labelled dimensions over Zarr, HDF5/netCDF-4 and netCDF-3, run within
//! a memory budget on one parallel executor.
//!
//! A climate workflow, as an xarray user writes it: open a dataset (CF
//! decoded: masked, unpacked, times in their calendar), select by label,
//! reduce and subtract by dimension name, and write the result as a Zarr
//! store `xarray.open_zarr` reads back:
//!
//! ```
//! # fn main() -> ndchunk::Result<()> {
//! use ndchunk::{open_zarr, Dataset, Sel};
//! # let dir = tempfile::tempdir().unwrap();
//! # let (src, out) = (dir.path().join("daily.zarr"), dir.path().join("summary.zarr"));
//! # sample(&src)?;
//! let ds = open_zarr(&src)?; // metadata and coordinates now, data lazily
//! let t2m = ds.get("t2m")?; // (time, lat, lon), float32
//! let clim = t2m.mean("time")?; // a map
//! let july = t2m.sel("time", "2001-07")?; // every day of July 2001
//! let anomaly = july.sub(&clim)?.mean("time")?; // broadcast by name
//! let tropics = t2m.sel("lat", Sel::range(-30.0, 30.0))?.mean(["lat", "lon"])?;
//! Dataset::new()
//!     .with_var("clim", clim)?
//!     .with_var("july_anomaly", anomaly)?
//!     .with_var("tropical_mean", tropics)?
//!     .to_zarr(&out)?; // one run: each source chunk read once
//! assert_eq!(open_zarr(&out)?.get("tropical_mean")?.dims(), ["time"]);
//! # Ok(())
//! # }
//! # fn sample(path: &std::path::Path) -> ndchunk::Result<()> {
//! #     use ndchunk::{Array, Calendar, Coord, DataArray, TimeUnits, Values};
//! #     let units: TimeUnits = "days since 2000-01-01".parse()?;
//! #     let times: Vec<_> = (0..730).map(|d| units.decode(d as f64, Calendar::NoLeap)).collect::<ndchunk::Result<_>>()?;
//! #     let lat: Vec<f64> = (0..18).map(|i| -85.0 + 10.0 * i as f64).collect();
//! #     let data = Array::<f32>::random_normal(1, 280.0, 5.0, &[730, 18, 36], [30, 18, 36])?;
//! #     let t2m = DataArray::new(data, &["time", "lat", "lon"])?
//! #         .with_coord("time", Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn()))?)?
//! #         .with_coord("lat", Coord::new(&["lat"], Values::float(ndarray::arr1(&lat).into_dyn()))?)?;
//! #     Dataset::new().with_var("t2m", t2m)?.to_zarr(path)?;
//! #     Ok(())
//! # }
//! # use ndchunk::Dataset;
//! ```
//!
//! Underneath, an [`Array`] is an expression over chunk stores, in-memory
//! arrays and generators; nothing is read until it is computed or stored.
//! Its operations build a graph of one node per operation, never one per
//! chunk; [`Array::plan`] cuts that graph into stages that run within a
//! memory budget ([`ComputeOptions`]) on one parallel executor, and
//! [`Array::store_with`] resumes after a kill. [`Array::save_plan`] writes
//! a store's plan to a file ([`PlanFile`]) that other processes load and
//! run, as shards of each stage, without the code that built it. The labelled layer
//! ([`DataArray`], [`Dataset`], [`open_zarr`], [`open_dataset`]) names
//! dimensions and holds coordinates in memory; [`for_xarray_users`] maps
//! each xarray call to ndchunk's.
//!
//! Zarr stores may live in S3-compatible object storage: pass an
//! `s3://bucket/store.zarr` URL where a path goes ([`object_storage`]).
//!
//! The chunk-grid algebra is [`chunking`], the stores are [`io`].

#[doc = include_str!("for_xarray_users.md")]
pub mod for_xarray_users {}

#[doc = include_str!("object_storage.md")]
pub mod object_storage {}

mod array;
mod error;
mod exec;
mod graph;
mod labelled;
mod ops;
mod plan;
mod pyramid;
mod runtime;

pub use array::RandomFloat;
pub use array::{compute_many, splitmix64, store_many, store_many_plan};
pub use array::{save_plan_many, Array, Chunks, DynArray, DynElement, PlanFile, Reduction};
pub use error::{Error, Result};
pub use exec::progress::{ProgressCallback, ProgressUpdate};
pub use exec::run::{ComputeOptions, ComputeReport, REMOTE_IO_THREADS};
pub use graph::BlockInfo;
pub use labelled::ZarrWriteOptions;
pub use labelled::{open_dataset, open_dataset_with, open_zarr, open_zarr_with};
pub use labelled::{time_encoding, Calendar, CfDatetime, TimeUnit, TimeUnits};
pub use labelled::{
    Arith, Attrs, Coarsen, CoarsenBoundary, Coord, DataArray, Dataset, DatasetGroupBy, Dims,
    GroupBy, Join, KeepAttrs, Label, Nearest, OpenOptions, Rolling, Sel, Values, Weighted,
};
pub use ndchunk_chunking as chunking;
pub use ndchunk_io as io;
pub use ops::{blockwise, concatenate, map_blocks, stack, where_, BlockSpec, Index, Numeric};
pub use ops::{Axes, MeanElement, ReduceOptions, DEFAULT_SPLIT_EVERY};
pub use ops::{CoarsenElement, Downsample};
pub use ops::{FilterElement, FilterFloat, FilterOptions, Operand, PadMode, RegionProps};
pub use plan::{Plan, Residence, ShardStage, Stage, StageKind};
pub use pyramid::{write_pyramid, PyramidMethod, PyramidOptions};
