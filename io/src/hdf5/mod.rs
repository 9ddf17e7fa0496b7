//! HDF5 and netCDF-4 files (netCDF-4 is HDF5 with conventions): one dataset
//! of a file as a [`ChunkStore`], the datasets of a file
//! ([`list_datasets`]; those of element types ndchunk cannot hold:
//! [`list_unsupported`]), and its groups with their attributes
//! ([`list_groups`], [`create_group`]; the root group's are a netCDF file's
//! global attributes).
//!
//! Two libraries can do the work, behind the one [`Hdf5Store`] type:
//!
//! - [`Backend::Pure`] (the default): `rust-hdf5`, pure Rust. Each reading
//!   thread keeps its own handle on the file, so chunk reads run in parallel
//!   with no lock between them; writes go through one writer thread, but
//!   their compression runs on the calling threads.
//! - [`Backend::LibHdf5`]: the HDF5 C library through `hdf5-metno`, when
//!   ndchunk is built with the `libhdf5` feature, for files the pure reader
//!   cannot handle and for writing files that HDF5 1.x must read. The C
//!   library serialises every call behind one lock, and crashes on some
//!   corrupted files: prefer the pure backend for files you did not make.
//!
//! What a store shows, whichever backend read it:
//!
//! - the grid is the dataset's own HDF5 chunking; a contiguous dataset gets
//!   C-order slabs of about [`CONTIGUOUS_CHUNK_BYTES`] (see
//!   [`contiguous_chunks`]);
//! - the fill value is the `_FillValue` attribute (netCDF), else the
//!   dataset's HDF5 fill value, else 0;
//! - attributes are JSON values, with the dimension-scale and netCDF
//!   bookkeeping attributes left out ([`HIDDEN_ATTRIBUTES`], the set
//!   h5netcdf hides) and one-element arrays unwrapped to scalars, as
//!   netCDF4-python and xarray show them; non-finite floats are the strings
//!   `"NaN"`, `"Infinity"` and `"-Infinity"` (JSON has no numbers for them);
//! - [`ArrayMeta::attribute_dtypes`] holds each numeric attribute's type as
//!   stored (a created store: as written, e.g. float64 for any float);
//! - dimension names are what h5netcdf and xarray show: a dimension scale's
//!   own name, else the last scale attached to each axis (`DIMENSION_LIST`).
//!
//! ```
//! use ndchunk_io::hdf5::{list_datasets, Compression, Hdf5Store};
//! use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, ChunkStoreExt, DType, Scalar};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("demo.nc");
//! let mut meta = ArrayMeta::new(
//!     ChunkGrid::regular(&[4, 6], &[2, 6]).unwrap(),
//!     DType::Float32,
//!     Scalar::Float(f64::NAN),
//! );
//! meta.dimension_names = Some(vec![Some("time".into()), Some("x".into())]);
//! let store = Hdf5Store::create(&path, "temperature", &meta, Compression::default()).unwrap();
//! let row = ndarray::ArrayD::<f32>::ones(ndarray::IxDyn(&[2, 6]));
//! store.write_chunk(&[0, 0], row.view()).unwrap();
//! store.flush().unwrap(); // the file is now complete for any HDF5 reader
//!
//! let listed = list_datasets(&path).unwrap();
//! assert_eq!(listed[0].0, "temperature");
//! let again = Hdf5Store::open(&path, "temperature").unwrap();
//! assert_eq!(again.meta().dims_or_default(), ["time", "x"]);
//! assert_eq!(again.read_chunk::<f32>(&[0, 0]).unwrap()[[1, 5]], 1.0);
//! assert!(again.read_chunk::<f32>(&[1, 0]).unwrap()[[0, 0]].is_nan()); // never written
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;
use crate::store::ChunkStore;

pub use conventions::{contiguous_chunks, CONTIGUOUS_CHUNK_BYTES, HIDDEN_ATTRIBUTES};
pub use groups::{create_group, list_groups, list_groups_with};

mod attrs;
mod conventions;
mod groups;
#[cfg(feature = "libhdf5")]
mod libhdf5;
mod pure;
mod pure_attrs;
mod pure_create;
mod pure_write;
mod rawfile;

/// Which library reads and writes HDF5: the same files, the same values,
/// different trade-offs (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// `rust-hdf5`, pure Rust: no system library, parallel chunk reads.
    #[default]
    Pure,
    /// The HDF5 C library (`hdf5-metno`); only in builds with the `libhdf5`
    /// feature (see [`Backend::is_available`]).
    LibHdf5,
}

impl Backend {
    /// Whether this build can use the backend (`LibHdf5` needs the
    /// `libhdf5` feature), so a CLI can refuse a flag up front.
    pub const fn is_available(self) -> bool {
        match self {
            Backend::Pure => true,
            Backend::LibHdf5 => cfg!(feature = "libhdf5"),
        }
    }

    /// The name [`FromStr`] accepts (`pure`, `libhdf5`).
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Pure => "pure",
            Backend::LibHdf5 => "libhdf5",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = IoError;

    /// `pure` (or `rust`) and `libhdf5` (or `c`), for command-line flags.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "pure" | "rust" | "rust-hdf5" => Ok(Backend::Pure),
            "libhdf5" | "c" | "hdf5-metno" => Ok(Backend::LibHdf5),
            other => Err(IoError::Storage {
                location: "HDF5 backend".into(),
                message: format!("unknown HDF5 backend `{other}`: use `pure` or `libhdf5`"),
            }),
        }
    }
}

/// How [`Hdf5Store::create`] compresses chunks: HDF5's deflate filter,
/// optionally behind shuffle — the filters every HDF5 and netCDF-4 reader
/// has. The default is netCDF4-python's `zlib=True`: deflate level 4 with
/// shuffle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Deflate (gzip) level 0-9, or `None` for no compression.
    pub deflate: Option<u8>,
    /// Whether the shuffle filter runs before deflate (better ratios on
    /// numbers; no effect without deflate).
    pub shuffle: bool,
}

impl Compression {
    /// No filters: chunks are stored as they are.
    pub const NONE: Compression = Compression {
        deflate: None,
        shuffle: false,
    };

    /// Deflate at `level` (clamped to 0-9), without shuffle.
    pub fn deflate(level: u8) -> Self {
        Compression {
            deflate: Some(level.min(9)),
            shuffle: false,
        }
    }

    /// The same, with shuffle before deflate.
    pub fn with_shuffle(self) -> Self {
        Compression {
            shuffle: true,
            ..self
        }
    }

    /// The filters as [`ArrayMeta::codecs`] shows them.
    fn codecs(self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(level) = self.deflate {
            if self.shuffle {
                out.push("shuffle".to_string());
            }
            out.push(format!("deflate({level})"));
        }
        out
    }
}

impl Default for Compression {
    fn default() -> Self {
        Compression::deflate(4).with_shuffle()
    }
}

/// One dataset of an HDF5 or netCDF-4 file. Opened stores are read-only;
/// created ones are written chunk by chunk and can be read back.
pub struct Hdf5Store {
    path: PathBuf,
    dataset: String,
    meta: ArrayMeta,
    backend: Backend,
    access: Access,
}

/// What a store reads and writes through.
enum Access {
    Pure(pure::Reader),
    /// Boxed: a writer is several times the size of a reader.
    PureWrite(Box<pure_write::Writer>),
    #[cfg(feature = "libhdf5")]
    Lib(libhdf5::LibStore),
}

impl Hdf5Store {
    /// Opens dataset `dataset` (a path inside the file, `/` optional, e.g.
    /// `air_temperature` or `/group/var`) of the file at `path` for reading,
    /// with the pure-Rust backend.
    pub fn open(path: &Path, dataset: &str) -> Result<Self> {
        Self::open_with(path, dataset, Backend::Pure)
    }

    /// [`open`](Self::open) with a chosen backend.
    pub fn open_with(path: &Path, dataset: &str, backend: Backend) -> Result<Self> {
        let dataset = normalize(dataset);
        let (meta, access) = match backend {
            Backend::Pure => {
                let (meta, reader) = pure::Reader::open(path, &dataset)?;
                (meta, Access::Pure(reader))
            }
            Backend::LibHdf5 => open_lib(path, &dataset)?,
        };
        Ok(Self {
            path: path.to_path_buf(),
            dataset,
            meta,
            backend,
            access,
        })
    }

    /// Creates dataset `dataset` in the HDF5 file at `path` (made if absent,
    /// added to if it is an HDF5 file already) as `meta` describes it:
    /// chunked by `meta.grid` (which must be regular), compressed as
    /// `compression` says, with `meta.fill_value` as the HDF5 fill value and
    /// `meta.attributes` as attributes (strings, numbers and arrays of
    /// either as such; `_FillValue` in the array's dtype, as netCDF
    /// requires; booleans as int8; anything else as its JSON text). With
    /// the pure backend, arrays of strings are variable-length strings that
    /// only HDF5 ≥ 2.0 reads (h5py and netCDF4-python wheels bundle it;
    /// HDF5 1.x libraries, the `libhdf5` backend on Debian 12 included,
    /// leave them out).
    ///
    /// Dimension names become netCDF-4 dimension scales, so netCDF4-python,
    /// h5netcdf and xarray see the dimensions: a scale already in the
    /// dataset's group with the dimension's name and length is attached
    /// (so write coordinate variables, 1-D datasets named like their
    /// dimension, first: they become the scale); otherwise an empty
    /// netCDF-style dimension-only scale is made beside the dataset.
    ///
    /// Chunks never written read as the fill value. The file is complete
    /// once the store is dropped or [`flush`](Self::flush)ed; with the pure
    /// backend one store per file writes at a time (HDF5's single-writer
    /// lock), so flush or drop it before adding the next dataset.
    pub fn create(
        path: &Path,
        dataset: &str,
        meta: &ArrayMeta,
        compression: Compression,
    ) -> Result<Self> {
        Self::create_with(path, dataset, meta, compression, Backend::Pure)
    }

    /// [`create`](Self::create) with a chosen backend.
    pub fn create_with(
        path: &Path,
        dataset: &str,
        meta: &ArrayMeta,
        compression: Compression,
        backend: Backend,
    ) -> Result<Self> {
        let dataset = normalize(dataset);
        let location = location(path, &dataset);
        if !meta.grid.is_regular() {
            return Err(IoError::Metadata {
                location,
                reason: "HDF5 chunks are regular: rechunk to a regular grid before writing".into(),
            });
        }
        let mut meta = meta.clone();
        // A 0-d dataset cannot be chunked, so it is never filtered.
        meta.codecs = if meta.grid.ndim() == 0 {
            Vec::new()
        } else {
            compression.codecs()
        };
        meta.inner_chunk_shape = None;
        // The attributes' types as written, not as the source had them (the
        // pure backend writes a boolean `_FillValue` as uint8).
        let fill_dtype = match (backend, meta.dtype) {
            (Backend::Pure, DType::Bool) => DType::UInt8,
            (_, dtype) => dtype,
        };
        meta.attribute_dtypes = attrs::written_dtypes(&meta.attributes, Some(fill_dtype));
        meta.fill_value_null = false;
        let access = match backend {
            Backend::Pure => {
                let writer = pure_write::Writer::create(path, &dataset, &meta, compression)?;
                Access::PureWrite(Box::new(writer))
            }
            Backend::LibHdf5 => create_lib(path, &dataset, &meta, compression)?,
        };
        Ok(Self {
            path: path.to_path_buf(),
            dataset,
            meta,
            backend,
            access,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dataset's path inside the file, without the leading `/`.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// The library reading and writing this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Makes the file complete on disk, so other programs can open it, and
    /// reports what went wrong doing so (dropping the store does the same
    /// but cannot report). Later writes reopen the file. Nothing to do for
    /// an opened store.
    pub fn flush(&self) -> Result<()> {
        match &self.access {
            Access::Pure(_) => Ok(()),
            Access::PureWrite(writer) => writer.finish().map(|_| ()),
            #[cfg(feature = "libhdf5")]
            Access::Lib(store) => store.flush().map_err(|message| IoError::Storage {
                location: self.location(),
                message,
            }),
        }
    }

    fn read_only(&self) -> IoError {
        IoError::ReadOnly {
            location: self.location(),
            reason: "opened for reading; write HDF5 datasets through Hdf5Store::create".into(),
        }
    }
}

impl std::fmt::Debug for Hdf5Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hdf5Store")
            .field("path", &self.path)
            .field("dataset", &self.dataset)
            .field("backend", &self.backend)
            .field("shape", &self.meta.shape())
            .field("dtype", &self.meta.dtype)
            .finish()
    }
}

impl ChunkStore for Hdf5Store {
    fn meta(&self) -> &ArrayMeta {
        &self.meta
    }

    fn location(&self) -> String {
        location(&self.path, &self.dataset)
    }

    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>> {
        let region = self.chunk_region(chunk)?;
        let corrupt = |reason: String| IoError::CorruptChunk {
            location: self.location(),
            chunk: chunk.to_vec(),
            reason,
        };
        match &self.access {
            Access::Pure(reader) => reader.read(&region).map_err(corrupt),
            Access::PureWrite(writer) => writer.read(&region).map_err(corrupt),
            #[cfg(feature = "libhdf5")]
            Access::Lib(store) => store.read(&region).map_err(corrupt),
        }
    }

    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<()> {
        let region = self.chunk_region(chunk)?;
        self.check_length(&region, bytes.len())?;
        let failed = |message: String| IoError::Storage {
            location: self.location(),
            message: format!("writing chunk {chunk:?}: {message}"),
        };
        match &self.access {
            Access::Pure(_) => Err(self.read_only()),
            Access::PureWrite(writer) => writer.write(chunk, &region, bytes).map_err(failed),
            #[cfg(feature = "libhdf5")]
            Access::Lib(store) if !store.is_writable() => Err(self.read_only()),
            #[cfg(feature = "libhdf5")]
            Access::Lib(store) => store.write(chunk, &region, bytes).map_err(failed),
        }
    }

    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool> {
        self.chunk_region(chunk)?;
        let failed = |message: String| IoError::Storage {
            location: self.location(),
            message,
        };
        match &self.access {
            Access::Pure(reader) => reader.chunk_exists(chunk).map_err(failed),
            Access::PureWrite(writer) => Ok(writer.chunk_exists(chunk)),
            #[cfg(feature = "libhdf5")]
            Access::Lib(store) => store.chunk_exists(chunk).map_err(failed),
        }
    }
}

/// Every numeric dataset of the file at `path` (groups walked, paths
/// without the leading `/`, sorted) with its metadata, read with the pure
/// backend: what `chunkctl info` lists. Datasets ndchunk cannot hold
/// (strings, compounds, …) and netCDF dimension-only scales (the empty
/// placeholders behind dimensions without a coordinate variable, which
/// xarray does not show either) are left out. A path that is not a plain
/// member path (h5py can name a dataset `..`) is an
/// [`IoError::UnsafeName`], as in every listing of this module
/// ([`list_unsupported`], [`list_links`], [`list_groups`]).
pub fn list_datasets(path: &Path) -> Result<Vec<(String, ArrayMeta)>> {
    list_datasets_with(path, Backend::Pure)
}

/// [`list_datasets`] with a chosen backend.
pub fn list_datasets_with(path: &Path, backend: Backend) -> Result<Vec<(String, ArrayMeta)>> {
    let mut out = match backend {
        Backend::Pure => pure::list(path)?,
        Backend::LibHdf5 => list_lib(path)?,
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    checked_names(path, out)
}

/// Every 1-D dimension scale of the file (each is a netCDF dimension of
/// its group, named by its last path component), dimension-only
/// placeholders and scales of element types ndchunk does not hold
/// (strings) included, with its length, sorted by path: what a reader
/// needs to name the dimensions of datasets without scales as netCDF-C
/// does. Read with the pure backend.
pub fn list_dimension_scales(path: &Path) -> Result<Vec<(String, u64)>> {
    let mut out = pure::list_dimension_scales(path)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    checked_names(path, out)
}

/// A dataset's shape and dimension names, whatever its element type.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetLayout {
    /// The dataset's shape.
    pub shape: Vec<u64>,
    /// Per axis, the dimension (scale) named, as in
    /// [`ArrayMeta::dimension_names`].
    pub dimension_names: Option<Vec<Option<String>>>,
}

/// The shape and dimension names of every dataset of the file, those of
/// element types ndchunk does not hold (strings, compounds, …) included,
/// netCDF dimension-only scales left out, sorted by path: netCDF-C gives
/// every such dataset dimensions, so naming the others' phony dimensions
/// as it does counts them too. Read with the pure backend.
pub fn list_dataset_layouts(path: &Path) -> Result<Vec<(String, DatasetLayout)>> {
    let mut out = pure::list_dataset_layouts(path)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    checked_names(path, out)
}

/// The datasets [`list_datasets`] leaves out because no ndchunk dtype holds
/// their elements (strings, compounds, variable-length sequences, enums,
/// references, …), each with its element type as a reader would name it
/// (`variable-length string`, `compound {flag: i32, quality: f32}`),
/// sorted by path: so that a caller converting a whole file can say what
/// it cannot carry over instead of dropping it unseen. Read with the pure
/// backend, which reads every file's datatypes.
pub fn list_unsupported(path: &Path) -> Result<Vec<(String, String)>> {
    let mut out = pure::list_unsupported(path)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    checked_names(path, out)
}

/// The soft, external and user-defined links of the file's groups (paths
/// without the leading `/`), each with what it points to (`soft link to
/// /a`, `external link to other.h5:/b`, `user-defined link (class 70)`),
/// sorted by path: listings of datasets and groups follow hard links only,
/// so a caller converting a whole file says which links it leaves out
/// instead of dropping them unseen. Both kinds of group are read: link
/// messages (new-style) and symbol tables (old-style, h5py's default),
/// whose soft links are entries of their own.
pub fn list_links(path: &Path) -> Result<Vec<(String, String)>> {
    let file = rawfile::RawFile::open(path).map_err(|reason| IoError::Metadata {
        location: path.display().to_string(),
        reason,
    })?;
    let links = file.other_links().map_err(|reason| IoError::Metadata {
        location: path.display().to_string(),
        reason,
    })?;
    checked_names(path, links)
}

/// `listed` if every name in it is a plain member path
/// ([`check_member_path`](crate::check_member_path)): the names are the
/// file's to choose (h5py writes a dataset named `..`), and a caller joins
/// them onto directories.
pub(crate) fn checked_names<T>(path: &Path, listed: Vec<(String, T)>) -> Result<Vec<(String, T)>> {
    let location = path.display().to_string();
    for (name, _) in &listed {
        crate::check_member_path(name, &location)?;
    }
    Ok(listed)
}

#[cfg(feature = "libhdf5")]
fn open_lib(path: &Path, dataset: &str) -> Result<(ArrayMeta, Access)> {
    let (meta, store) = libhdf5::LibStore::open(path, dataset)?;
    Ok((meta, Access::Lib(store)))
}

#[cfg(feature = "libhdf5")]
fn create_lib(
    path: &Path,
    dataset: &str,
    meta: &ArrayMeta,
    compression: Compression,
) -> Result<Access> {
    Ok(Access::Lib(libhdf5::LibStore::create(
        path,
        dataset,
        meta,
        compression,
    )?))
}

#[cfg(feature = "libhdf5")]
fn list_lib(path: &Path) -> Result<Vec<(String, ArrayMeta)>> {
    libhdf5::list(path)
}

#[cfg(not(feature = "libhdf5"))]
fn no_libhdf5(path: &Path) -> IoError {
    IoError::Storage {
        location: path.display().to_string(),
        message: "this build of ndchunk has no libhdf5 backend (build with the `libhdf5` feature)"
            .into(),
    }
}

#[cfg(not(feature = "libhdf5"))]
fn open_lib(path: &Path, _dataset: &str) -> Result<(ArrayMeta, Access)> {
    Err(no_libhdf5(path))
}

#[cfg(not(feature = "libhdf5"))]
fn create_lib(
    path: &Path,
    _dataset: &str,
    _meta: &ArrayMeta,
    _compression: Compression,
) -> Result<Access> {
    Err(no_libhdf5(path))
}

#[cfg(not(feature = "libhdf5"))]
fn list_lib(path: &Path) -> Result<Vec<(String, ArrayMeta)>> {
    Err(no_libhdf5(path))
}

/// A dataset path without leading or doubled slashes.
fn normalize(dataset: &str) -> String {
    dataset
        .split('/')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// How errors name a dataset: `file.nc:/group/var`.
fn location(path: &Path, dataset: &str) -> String {
    format!("{}:/{}", path.display(), dataset)
}

/// Whether the file at `path` starts with the HDF5 signature where HDF5
/// looks for it (offset 0, then powers of two from 512: a user block may
/// precede it). `Err` when the file cannot be read at all.
fn has_hdf5_signature(path: &Path) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut offset = 0u64;
    while offset + 8 <= len {
        let mut buf = [0u8; 8];
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(&mut buf)?;
        if &buf == SIGNATURE {
            return Ok(true);
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    Ok(false)
}

/// The error for a file that cannot be an HDF5 file (missing, unreadable,
/// or without the signature), or `None` when it looks like one, so that a
/// library's own error after that means a damaged file.
fn check_hdf5_file(path: &Path, dataset: &str) -> Option<IoError> {
    if pure_write::writing(path) {
        return Some(IoError::Storage {
            location: location(path, dataset),
            message: "another store of this process is writing this file: flush or drop it first"
                .into(),
        });
    }
    let reason = match has_hdf5_signature(path) {
        Ok(true) => return None,
        Ok(false) => "not an HDF5 or netCDF-4 file (no HDF5 signature)".to_string(),
        Err(e) => format!("cannot read the file: {e}"),
    };
    Some(IoError::NotAStore {
        path: location(path, dataset),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::Pure, Backend::LibHdf5] {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert!("zarr".parse::<Backend>().is_err());
    }

    #[test]
    fn dataset_paths_are_normalized() {
        assert_eq!(normalize("/a//b/"), "a/b");
        assert_eq!(normalize("air"), "air");
    }
}
