//! Reading with rust-hdf5 (pure Rust).
//!
//! rust-hdf5 file handles are `Rc`-based (its `threadsafe` feature is off),
//! so they never leave the thread that opened them: each thread that reads
//! a store opens its own handle, keeps it in a small thread-local cache, and
//! reads hyperslabs through it. No lock is shared between threads, so chunk
//! reads (decompression included) scale across cores. A thread keeps at
//! most [`CACHED_HANDLES`] and drops those of dropped stores the next time
//! it reads. Handles are opened without file locks, so a store being read
//! never blocks this process from writing the file again.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use rust_hdf5::{ByteOrder, DatatypeMessage, FillValue, H5Dataset, H5File, H5Type, Hdf5Error};
use serde_json::{Map, Value};

use ndchunk_chunking::Region;

use super::attrs::{self, NumberLayout};
use super::conventions::{basename, hide_bookkeeping, Described};
use super::rawfile::RawFile;
use super::{check_hdf5_file, location, normalize, DatasetLayout};
use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

/// Filters rust-hdf5 (with ndchunk's features) decodes: deflate, shuffle,
/// fletcher32, szip, nbit, scaleoffset.
const DECODABLE_FILTERS: &[u16] = &[1, 2, 3, 4, 5, 6];
/// Handles one thread keeps open at most; the least recently used goes.
const CACHED_HANDLES: usize = 16;

/// Which store (and which state of its file) a cached handle belongs to.
pub(crate) struct HandleKey {
    id: u64,
    /// Dropped with the store, so caches can tell dead entries.
    alive: Arc<()>,
}

impl HandleKey {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Self {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            alive: Arc::new(()),
        }
    }
}

struct Cached {
    id: u64,
    /// Bumped by a writer each time it finalises the file, so a handle
    /// never reads a file that changed under it.
    generation: u64,
    alive: Weak<()>,
    dataset: H5Dataset,
}

thread_local! {
    static HANDLES: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's handle on `dataset`, opening one if needed.
pub(crate) fn with_dataset<R>(
    key: &HandleKey,
    generation: u64,
    path: &Path,
    dataset: &str,
    f: impl FnOnce(&H5Dataset) -> std::result::Result<R, Hdf5Error>,
) -> std::result::Result<R, String> {
    let open = || -> std::result::Result<H5Dataset, String> {
        let file = H5File::options()
            .no_locking()
            .open(path)
            .map_err(|e| e.to_string())?;
        file.dataset(dataset).map_err(|e| e.to_string())
    };
    HANDLES.with(|cell| {
        let Ok(mut handles) = cell.try_borrow_mut() else {
            // Re-entered (cannot happen today): read without the cache.
            return f(&open()?).map_err(|e| e.to_string());
        };
        handles.retain(|h| {
            h.alive.strong_count() > 0 && !(h.id == key.id && h.generation != generation)
        });
        let index = match handles.iter().position(|h| h.id == key.id) {
            Some(i) => i,
            None => {
                if handles.len() >= CACHED_HANDLES {
                    handles.remove(0);
                }
                handles.push(Cached {
                    id: key.id,
                    generation,
                    alive: Arc::downgrade(&key.alive),
                    dataset: open()?,
                });
                handles.len() - 1
            }
        };
        let cached = handles.remove(index);
        let out = f(&cached.dataset).map_err(|e| e.to_string());
        handles.push(cached);
        out
    })
}

/// `dataset`'s elements in `region`, as native-order bytes.
pub(crate) fn read_region(
    ds: &H5Dataset,
    dtype: DType,
    region: &Region,
) -> std::result::Result<Vec<u8>, Hdf5Error> {
    fn typed<T: H5Type + bytemuck::Pod>(
        ds: &H5Dataset,
        region: &Region,
    ) -> std::result::Result<Vec<u8>, Hdf5Error> {
        if region.ndim() == 0 {
            return Ok(bytemuck::cast_slice(&ds.read_raw::<T>()?).to_vec());
        }
        let start: Vec<usize> = region.start().iter().map(|&s| s as usize).collect();
        let count: Vec<usize> = region.shape().iter().map(|&c| c as usize).collect();
        if count.contains(&0) {
            return Ok(Vec::new());
        }
        Ok(bytemuck::cast_slice(&ds.read_slice::<T>(&start, &count)?).to_vec())
    }
    match dtype {
        DType::Bool | DType::UInt8 => typed::<u8>(ds, region),
        DType::Int8 => typed::<i8>(ds, region),
        DType::Int16 => typed::<i16>(ds, region),
        DType::Int32 => typed::<i32>(ds, region),
        DType::Int64 => typed::<i64>(ds, region),
        DType::UInt16 => typed::<u16>(ds, region),
        DType::UInt32 => typed::<u32>(ds, region),
        DType::UInt64 => typed::<u64>(ds, region),
        DType::Float32 => typed::<f32>(ds, region),
        DType::Float64 => typed::<f64>(ds, region),
    }
}

/// Whether the chunk at `chunk` of a chunked dataset has storage.
pub(crate) fn chunk_stored(ds: &H5Dataset, chunk: &[u64]) -> std::result::Result<bool, Hdf5Error> {
    let coords: Vec<usize> = chunk.iter().map(|&c| c as usize).collect();
    match ds.read_chunk_raw_at(&coords) {
        Ok(_) => Ok(true),
        Err(e) if e.to_string().contains("has not been written") => Ok(false),
        Err(e) => Err(e),
    }
}

/// An opened, read-only dataset.
pub(crate) struct Reader {
    path: PathBuf,
    dataset: String,
    dtype: DType,
    chunked: bool,
    key: HandleKey,
}

impl Reader {
    /// Opens `dataset` of the file at `path`: its metadata, and a reader.
    pub(crate) fn open(path: &Path, dataset: &str) -> Result<(ArrayMeta, Reader)> {
        let loc = location(path, dataset);
        let file = open_file(path, dataset)?;
        let ds = file
            .dataset(dataset)
            .map_err(|e| missing(&file, &loc, dataset, e))?;
        let mut raw = None;
        let described = describe(path, &ds, &loc, &mut raw, Elements::Held)?;
        if let Some(filter) = ds
            .filters()
            .unwrap_or_default()
            .iter()
            .find(|f| !DECODABLE_FILTERS.contains(&f.id))
        {
            return Err(IoError::UnsupportedCodec {
                location: loc,
                codec: filter_name(filter.id, &filter.cd_values),
            });
        }
        let chunked = described.chunks.is_some();
        let dtype = described.dtype;
        let meta = described.into_meta(&loc, dataset, &mut |id| dimid_name(&file, id))?;
        let reader = Reader {
            path: path.to_path_buf(),
            dataset: dataset.to_string(),
            dtype,
            chunked,
            key: HandleKey::new(),
        };
        Ok((meta, reader))
    }

    /// The bytes of `region` (one chunk's, clipped to the array).
    pub(crate) fn read(&self, region: &Region) -> std::result::Result<Vec<u8>, String> {
        with_dataset(&self.key, 0, &self.path, &self.dataset, |ds| {
            read_region(ds, self.dtype, region)
        })
    }

    /// Whether the chunk has storage (contiguous datasets: always).
    pub(crate) fn chunk_exists(&self, chunk: &[u64]) -> std::result::Result<bool, String> {
        if !self.chunked {
            return Ok(true);
        }
        with_dataset(&self.key, 0, &self.path, &self.dataset, |ds| {
            chunk_stored(ds, chunk)
        })
    }
}

/// Every numeric dataset of the file, with its metadata (see
/// [`super::list_datasets`]).
pub(crate) fn list(path: &Path) -> Result<Vec<(String, ArrayMeta)>> {
    let file = open_file(path, "")?;
    let mut out = Vec::new();
    for_each_described(path, &file, Elements::Held, |name, loc, described| {
        if !described.is_dimension_only() {
            let meta = described.into_meta(loc, &name, &mut |id| dimid_name(&file, id))?;
            out.push((name, meta));
        }
        Ok(())
    })?;
    Ok(out)
}

/// The 1-D dimension scales of the file (dimension-only ones included, and
/// those of element types ndchunk does not hold, such as strings), with
/// their lengths (see [`super::list_dimension_scales`]); unsorted.
pub(crate) fn list_dimension_scales(path: &Path) -> Result<Vec<(String, u64)>> {
    let file = open_file(path, "")?;
    let mut out = Vec::new();
    for_each_described(path, &file, Elements::Any, |name, _, described| {
        if described.is_scale() && described.shape.len() == 1 {
            out.push((name, described.shape[0]));
        }
        Ok(())
    })?;
    Ok(out)
}

/// The shape and dimension names of every dataset of the file, whatever
/// its element type, dimension-only scales left out (see
/// [`super::list_dataset_layouts`]); unsorted.
pub(crate) fn list_dataset_layouts(path: &Path) -> Result<Vec<(String, DatasetLayout)>> {
    let file = open_file(path, "")?;
    let mut out = Vec::new();
    for_each_described(path, &file, Elements::Any, |name, _, described| {
        if !described.is_dimension_only() {
            let dimension_names = described.dimension_names(&name, &mut |id| dimid_name(&file, id));
            let shape = described.shape;
            out.push((
                name,
                DatasetLayout {
                    shape,
                    dimension_names,
                },
            ));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Which datasets a listing describes, by element type.
#[derive(Clone, Copy, PartialEq)]
enum Elements {
    /// Those of a dtype ndchunk holds.
    Held,
    /// Every one: only the shape and attributes are used (the dtype of one
    /// ndchunk does not hold is a placeholder).
    Any,
}

/// Calls `f(name, location, what the file says)` for each dataset whose
/// elements `elements` takes.
fn for_each_described(
    path: &Path,
    file: &H5File,
    elements: Elements,
    mut f: impl FnMut(String, &str, Described) -> Result<()>,
) -> Result<()> {
    let mut raw = None;
    for name in file.dataset_names() {
        let name = normalize(&name);
        let loc = location(path, &name);
        let ds = file.dataset(&name).map_err(|e| IoError::Metadata {
            location: loc.clone(),
            reason: e.to_string(),
        })?;
        match describe(path, &ds, &loc, &mut raw, elements) {
            Ok(described) => f(name, &loc, described)?,
            Err(IoError::UnsupportedDType { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The datasets no ndchunk dtype holds, with their element types (see
/// [`super::list_unsupported`]); unsorted.
pub(crate) fn list_unsupported(path: &Path) -> Result<Vec<(String, String)>> {
    let file = open_file(path, "")?;
    let mut out = Vec::new();
    for name in file.dataset_names() {
        let name = normalize(&name);
        let ds = file.dataset(&name).map_err(|e| IoError::Metadata {
            location: location(path, &name),
            reason: e.to_string(),
        })?;
        let datatype = ds.datatype().map_err(|e| IoError::Metadata {
            location: location(path, &name),
            reason: e.to_string(),
        })?;
        if dtype_of(&datatype).is_none() {
            out.push((name, datatype_name(&datatype)));
        }
    }
    Ok(out)
}

/// An HDF5 datatype as h5py and netCDF users know it.
fn datatype_name(dt: &DatatypeMessage) -> String {
    match dt {
        DatatypeMessage::FixedString { size, .. } => format!("fixed-length string ({size} bytes)"),
        DatatypeMessage::VarLenString { .. } => "variable-length string".into(),
        DatatypeMessage::Compound { members, .. } => {
            let fields: Vec<String> = members
                .iter()
                .map(|m| format!("{}: {}", m.name, datatype_name(&m.datatype)))
                .collect();
            format!("compound {{{}}}", fields.join(", "))
        }
        DatatypeMessage::VarLenSequence { base } => {
            format!("variable-length sequence of {}", datatype_name(base))
        }
        DatatypeMessage::Array { dims, base } => {
            let dims: Vec<String> = dims.iter().map(u32::to_string).collect();
            format!("array [{}] of {}", dims.join("x"), datatype_name(base))
        }
        DatatypeMessage::Enum { base, members } => {
            format!(
                "enum of {} ({} members)",
                datatype_name(base),
                members.len()
            )
        }
        DatatypeMessage::Reference { .. } => "reference".into(),
        DatatypeMessage::Opaque { size, .. } => format!("opaque ({size} bytes)"),
        other => other.to_string(),
    }
}

/// Every group of the file with its attributes (see
/// [`super::list_groups`]); unsorted.
pub(crate) fn groups(path: &Path) -> Result<Vec<(String, Map<String, Value>)>> {
    if let Some(e) = check_hdf5_file(path, "") {
        return Err(e);
    }
    let damaged = |e: String| IoError::Metadata {
        location: location(path, ""),
        reason: format!("cannot read the HDF5 file's groups (damaged or truncated?): {e}"),
    };
    let file = RawFile::open(path).map_err(damaged)?;
    let found = file.groups().map_err(damaged)?;
    let mut raw = Some(file);
    let mut out = Vec::with_capacity(found.len());
    for (name, stored) in found {
        let mut attributes = Map::new();
        for attr in stored {
            let value =
                attribute_value(path, &attr.datatype, &attr.data, &mut raw).map_err(|e| {
                    IoError::Metadata {
                        location: location(path, &name),
                        reason: format!("attribute {}: {e}", attr.name),
                    }
                })?;
            if let Some(value) = value {
                attributes.insert(attr.name, value);
            }
        }
        hide_bookkeeping(&mut attributes);
        out.push((name, attributes));
    }
    Ok(out)
}

/// Opens the file for reading, telling a file that is not HDF5 from one
/// that is damaged.
fn open_file(path: &Path, dataset: &str) -> Result<H5File> {
    if let Some(e) = check_hdf5_file(path, dataset) {
        return Err(e);
    }
    H5File::options()
        .no_locking()
        .open(path)
        .map_err(|e| IoError::Metadata {
            location: location(path, dataset),
            reason: format!("cannot read the HDF5 file (damaged or truncated?): {e}"),
        })
}

/// The error for a dataset that would not open: missing (naming what the
/// file has) or unreadable.
fn missing(file: &H5File, loc: &str, dataset: &str, e: Hdf5Error) -> IoError {
    let names = file.dataset_names();
    let reason = if names.iter().any(|n| normalize(n) == dataset) {
        format!("cannot open the dataset: {e}")
    } else {
        let mut listed: Vec<String> = names.iter().map(|n| normalize(n)).collect();
        listed.sort();
        let shown = listed
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        format!("no dataset `{dataset}` in the file (it has: {shown})")
    };
    IoError::Metadata {
        location: loc.to_string(),
        reason,
    }
}

/// What the file says about `ds`.
fn describe(
    path: &Path,
    ds: &H5Dataset,
    loc: &str,
    raw: &mut Option<RawFile>,
    elements: Elements,
) -> Result<Described> {
    let bad = |reason: String| IoError::Metadata {
        location: loc.to_string(),
        reason,
    };
    let datatype = ds.datatype().map_err(|e| bad(e.to_string()))?;
    let (dtype, big_endian, held) = match (dtype_of(&datatype), elements) {
        (Some((dtype, big_endian)), _) => (dtype, big_endian, true),
        (None, Elements::Any) => (DType::UInt8, false, false),
        (None, Elements::Held) => {
            return Err(IoError::UnsupportedDType {
                dtype: format!("HDF5 {datatype} in {loc}"),
            })
        }
    };
    let fill = match ds.fill_value().map_err(|e| bad(e.to_string()))? {
        FillValue::UserDefined(mut bytes) if held && bytes.len() == dtype.size() => {
            if big_endian {
                bytes.reverse();
            }
            Some(bytes)
        }
        _ => None,
    };
    let filters = ds.filters().map_err(|e| bad(e.to_string()))?;
    let mut attributes = Map::new();
    let mut attribute_dtypes = BTreeMap::new();
    let mut scales = None;
    for name in ds.attr_names().map_err(|e| bad(e.to_string()))? {
        let attr = ds
            .attr(&name)
            .map_err(|e| bad(format!("attribute {name}: {e}")))?;
        let (Ok(dt), Ok(data)) = (attr.datatype(), attr.read_raw()) else {
            continue;
        };
        if name == "DIMENSION_LIST" {
            let file = raw_file(path, raw).map_err(&bad)?;
            let list = file
                .dimension_list(&data)
                .map_err(|e| bad(format!("DIMENSION_LIST: {e}")))?;
            scales = Some(list);
            continue;
        }
        if let Some(value) = attribute_value(path, &dt, &data, raw).map_err(&bad)? {
            if let Some((dtype, _)) = dtype_of(&dt) {
                attribute_dtypes.insert(name.clone(), dtype);
            }
            attributes.insert(name, value);
        }
    }
    Ok(Described {
        shape: ds.shape().iter().map(|&n| n as u64).collect(),
        chunks: ds
            .chunk_dims()
            .map(|c| c.iter().map(|&n| n as u64).collect()),
        dtype,
        fill,
        attributes,
        attribute_dtypes,
        codecs: filters
            .iter()
            .map(|f| filter_name(f.id, &f.cd_values))
            .collect(),
        scales,
    })
}

fn raw_file<'a>(
    path: &Path,
    raw: &'a mut Option<RawFile>,
) -> std::result::Result<&'a mut RawFile, String> {
    if raw.is_none() {
        *raw = Some(RawFile::open(path)?);
    }
    raw.as_mut()
        .ok_or_else(|| "raw file reader missing".to_string())
}

/// One attribute as JSON, or `None` for kinds JSON cannot show
/// (references, compounds, opaque bytes).
fn attribute_value(
    path: &Path,
    dt: &DatatypeMessage,
    data: &[u8],
    raw: &mut Option<RawFile>,
) -> std::result::Result<Option<Value>, String> {
    let items = match dt {
        DatatypeMessage::FixedString { size, padding, .. } => {
            let size = (*size as usize).max(1);
            data.chunks(size)
                .map(|e| Value::String(attrs::fixed_string(e, *padding == 2)))
                .collect()
        }
        DatatypeMessage::VarLenString { .. } => raw_file(path, raw)?
            .vlen_elements(data)?
            .iter()
            .map(|e| Value::String(attrs::fixed_string(e, false)))
            .collect(),
        other => match number_layout(other).and_then(|l| attrs::numbers(data, l)) {
            Some(items) => items,
            None => return Ok(None),
        },
    };
    Ok(Some(attrs::collapse(items)))
}

/// How a numeric (or h5py boolean) datatype lays out one element.
fn number_layout(dt: &DatatypeMessage) -> Option<NumberLayout> {
    let (dtype, big_endian) = dtype_of(dt)?;
    let kind = match dtype {
        DType::Bool => 'b',
        DType::Float32 | DType::Float64 => 'f',
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => 'u',
        _ => 'i',
    };
    Some(NumberLayout {
        size: dtype.size(),
        kind,
        big_endian,
    })
}

/// The ndchunk dtype of an HDF5 datatype, and whether it is big-endian;
/// `None` for types ndchunk does not hold.
fn dtype_of(dt: &DatatypeMessage) -> Option<(DType, bool)> {
    match dt {
        DatatypeMessage::FixedPoint {
            size,
            byte_order,
            signed,
            bit_offset: 0,
            bit_precision,
        } if u32::from(*bit_precision) == size * 8 => {
            let dtype = match (signed, size) {
                (true, 1) => DType::Int8,
                (true, 2) => DType::Int16,
                (true, 4) => DType::Int32,
                (true, 8) => DType::Int64,
                (false, 1) => DType::UInt8,
                (false, 2) => DType::UInt16,
                (false, 4) => DType::UInt32,
                (false, 8) => DType::UInt64,
                _ => return None,
            };
            Some((dtype, *byte_order == ByteOrder::BigEndian))
        }
        DatatypeMessage::FloatingPoint {
            size,
            byte_order,
            exponent_size,
            mantissa_size,
            ..
        } => {
            let dtype = match (size, exponent_size, mantissa_size) {
                (4, 8, 23) => DType::Float32,
                (8, 11, 52) => DType::Float64,
                _ => return None,
            };
            Some((dtype, *byte_order == ByteOrder::BigEndian))
        }
        // h5py's bool: an enum FALSE = 0, TRUE = 1 over a one-byte integer.
        DatatypeMessage::Enum { base, members }
            if base.element_size() == 1
                && members.len() == 2
                && members.iter().any(|m| m.name == "FALSE" && m.value == [0])
                && members.iter().any(|m| m.name == "TRUE" && m.value == [1]) =>
        {
            Some((DType::Bool, false))
        }
        _ => None,
    }
}

/// A filter as [`ArrayMeta::codecs`] shows it.
pub(crate) fn filter_name(id: u16, cd_values: &[u32]) -> String {
    match id {
        1 => format!("deflate({})", cd_values.first().copied().unwrap_or(6)),
        2 => "shuffle".into(),
        3 => "fletcher32".into(),
        4 => "szip".into(),
        5 => "nbit".into(),
        6 => "scaleoffset".into(),
        307 => "bzip2".into(),
        32000 => "lzf".into(),
        32001 => "blosc".into(),
        32004 => "lz4".into(),
        32008 => "bitshuffle".into(),
        32015 => "zstd".into(),
        other => format!("filter({other})"),
    }
}

/// The name of netCDF dimension `id`: the dimension scale whose
/// `_Netcdf4Dimid` it is.
fn dimid_name(file: &H5File, id: i64) -> Option<String> {
    file.dataset_names()
        .into_iter()
        .find(|name| {
            file.dataset(name)
                .and_then(|ds| ds.attr("_Netcdf4Dimid"))
                .and_then(|a| a.read_numeric_as::<i64>())
                .is_ok_and(|v| v.first() == Some(&id))
        })
        .map(|name| basename(&name).to_string())
}
