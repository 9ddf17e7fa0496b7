//! # ndchunk-io: chunk stores
//!
//! One array in a store is a [`ChunkStore`]: its metadata ([`ArrayMeta`])
//! and its chunks as decoded bytes, with typed `ndarray` access through
//! [`ChunkStoreExt`]. Backends: [`MemoryStore`], [`ZarrStore`] (Zarr v2/v3
//! through zarrs), [`Hdf5Store`] (HDF5 and netCDF-4: pure Rust by default,
//! the C library behind the `libhdf5` feature), [`Netcdf3Store`]
//! (netCDF-3, read-only), and [`scratch::ScratchStore`] for intermediates.
//!
//! ```
//! use ndchunk_io::{ArrayMeta, ChunkStore, ChunkStoreExt, DType, MemoryStore, Scalar};
//! use ndchunk_io::{ChunkGrid, Region};
//!
//! let grid = ChunkGrid::regular(&[4, 6], &[2, 4]).unwrap();
//! let store = MemoryStore::new("demo", ArrayMeta::new(grid, DType::Float32, Scalar::Float(f64::NAN)));
//! let ones = ndarray::ArrayD::<f32>::ones(ndarray::IxDyn(&[2, 4]));
//! store.write_chunk(&[0, 0], ones.view()).unwrap();
//! let region = store.read_region::<f32>(&Region::new(vec![1, 3], vec![3, 5]).unwrap()).unwrap();
//! assert_eq!(region[[0, 0]], 1.0);
//! assert!(region[[1, 1]].is_nan()); // never written: the fill value
//! assert!("<f4".parse::<DType>().unwrap() == DType::Float32);
//! ```

pub mod copy;
pub mod dtype;
pub mod element;
pub mod error;
pub mod hdf5;
pub mod info;
mod member_name;
pub mod memory;
pub mod meta;
pub mod netcdf3;
pub mod owned_paths;
pub mod scratch;
pub mod store;
mod write_whole;
pub mod zarr;

pub use dtype::DType;
pub use element::Element;
pub use error::{IoError, Result};
pub use hdf5::Hdf5Store;
pub use member_name::check_member_path;
pub use memory::MemoryStore;
pub use meta::{attribute_number, ArrayMeta, Scalar};
pub use ndchunk_chunking::{ChunkGrid, Region};
pub use netcdf3::Netcdf3Store;
pub use store::{ChunkStore, ChunkStoreExt, EncodedChunk};
pub use write_whole::write_whole;
pub use zarr::ZarrStore;
