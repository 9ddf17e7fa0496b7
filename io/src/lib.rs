//! # ndchunk-io: chunk stores
//!
//! The `ChunkStore` trait and its backends (Zarr v2/v3, HDF5, netCDF-3,
//! in-memory) arrive with the stores issue. For now this crate holds the
//! dtype tag that stores, the CLI and datasets will carry.
//!
//! ```
//! use ndchunk_io::DType;
//! let dtype: DType = "<f4".parse().unwrap();
//! assert_eq!((dtype, dtype.size()), (DType::Float32, 4));
//! assert!("<U10".parse::<DType>().is_err());
//! ```

pub mod dtype;
pub mod error;

pub use dtype::DType;
pub use error::IoError;
pub use ndchunk_chunking::{ChunkGrid, Region};
