//! Reading and writing with the HDF5 C library (`hdf5-metno`), in builds
//! with the `libhdf5` feature.
//!
//! The C library serialises every call behind one process-wide lock, so
//! chunk reads through this backend do not run in parallel (decompression
//! included); its handles are plain ids, shareable between threads. It
//! needs HDF5 ≥ 1.10.5 (chunk queries).
//!
//! Not for untrusted files: HDF5 1.10.8 (Debian 12) crashes the process
//! (SIGSEGV) on some files with corrupted metadata, which no Rust code can
//! turn into an error; the pure backend returns errors for them.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use h5::types::{
    FixedAscii, FixedUnicode, FloatSize, IntSize, TypeDescriptor, VarLenArray, VarLenAscii,
    VarLenUnicode,
};
use h5::{Dataset, File, Group, Hyperslab, ObjectReference1, ReferencedObject, SliceOrIndex};
use hdf5_metno as h5;
use ndarray::{ArrayViewD, IxDyn};
use serde_json::{Map, Value};

use ndchunk_chunking::Region;

use super::attrs;
use super::conventions::{basename, hide_bookkeeping, Described};
use super::{check_hdf5_file, location, normalize};
use crate::dtype::DType;
use crate::element::Element;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

/// Runs `$body` with `$t` the Rust type of a dtype (`bool` for Bool).
macro_rules! with_type {
    ($dtype:expr, $t:ident => $body:expr) => {
        match $dtype {
            DType::Bool => {
                type $t = bool;
                $body
            }
            DType::Int8 => {
                type $t = i8;
                $body
            }
            DType::Int16 => {
                type $t = i16;
                $body
            }
            DType::Int32 => {
                type $t = i32;
                $body
            }
            DType::Int64 => {
                type $t = i64;
                $body
            }
            DType::UInt8 => {
                type $t = u8;
                $body
            }
            DType::UInt16 => {
                type $t = u16;
                $body
            }
            DType::UInt32 => {
                type $t = u32;
                $body
            }
            DType::UInt64 => {
                type $t = u64;
                $body
            }
            DType::Float32 => {
                type $t = f32;
                $body
            }
            DType::Float64 => {
                type $t = f64;
                $body
            }
        }
    };
}

mod write;

pub(crate) use write::create_group;

/// A dataset opened (read-only) or created (writable) with the C library.
pub(crate) struct LibStore {
    file: File,
    ds: Dataset,
    dtype: DType,
    writable: bool,
    chunk_shape: Option<Vec<u64>>,
    /// The chunks with storage, found on first use (opened stores).
    stored: OnceLock<std::result::Result<HashSet<Vec<u64>>, String>>,
    /// The chunks written (created stores).
    written: Mutex<HashSet<Vec<u64>>>,
}

fn text(e: h5::Error) -> String {
    e.to_string()
}

impl LibStore {
    /// Opens `dataset` of the file at `path` for reading.
    pub(crate) fn open(path: &Path, dataset: &str) -> Result<(ArrayMeta, LibStore)> {
        let loc = location(path, dataset);
        let file = open_file(path, dataset)?;
        let ds = file.dataset(dataset).map_err(|e| {
            let names = dataset_names(&file).unwrap_or_default();
            let reason = if names.iter().any(|n| n == dataset) {
                format!("cannot open the dataset: {e}")
            } else {
                let shown = names
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("no dataset `{dataset}` in the file (it has: {shown})")
            };
            IoError::Metadata {
                location: loc.clone(),
                reason,
            }
        })?;
        let described = describe(&file, &ds, &loc)?;
        let (dtype, chunk_shape) = (described.dtype, described.chunks.clone());
        let meta = described.into_meta(&loc, dataset, &mut |id| dimid_name(&file, id))?;
        let store = LibStore {
            file,
            ds,
            dtype,
            writable: false,
            chunk_shape,
            stored: OnceLock::new(),
            written: Mutex::new(HashSet::new()),
        };
        Ok((meta, store))
    }

    /// The bytes of `region`.
    pub(crate) fn read(&self, region: &Region) -> std::result::Result<Vec<u8>, String> {
        if region.ndim() > 0 && region.num_elements() == 0 {
            return Ok(Vec::new());
        }
        let selection = hyperslab(region);
        with_type!(self.dtype, T => {
            let values: Vec<T> = if region.ndim() == 0 {
                vec![self.ds.read_scalar::<T>().map_err(text)?]
            } else {
                self.ds
                    .as_reader()
                    .read_slice::<T, _, IxDyn>(selection)
                    .map_err(text)?
                    .iter()
                    .copied()
                    .collect()
            };
            Ok(<T as Element>::to_ne_bytes(&values))
        })
    }

    /// Whether the store was created (and so takes writes).
    pub(crate) fn is_writable(&self) -> bool {
        self.writable
    }

    /// Writes one chunk (created stores only).
    pub(crate) fn write(
        &self,
        chunk: &[u64],
        region: &Region,
        bytes: &[u8],
    ) -> std::result::Result<(), String> {
        if !self.writable {
            return Err("opened for reading; write HDF5 datasets through Hdf5Store::create".into());
        }
        if region.ndim() > 0 && region.num_elements() == 0 {
            return Ok(());
        }
        let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
        with_type!(self.dtype, T => {
            let values: Vec<T> = <T as Element>::from_ne_bytes(bytes);
            if region.ndim() == 0 {
                self.ds.as_writer().write_scalar(&values[0]).map_err(text)?;
            } else {
                let view = ArrayViewD::from_shape(IxDyn(&shape), &values).map_err(|e| e.to_string())?;
                self.ds.as_writer().write_slice(view, hyperslab(region)).map_err(text)?;
            }
        });
        self.written
            .lock()
            .map_err(|_| "a thread panicked writing this store".to_string())?
            .insert(chunk.to_vec());
        Ok(())
    }

    /// Whether the chunk has storage.
    pub(crate) fn chunk_exists(&self, chunk: &[u64]) -> std::result::Result<bool, String> {
        if self.writable {
            return Ok(self
                .written
                .lock()
                .map(|w| w.contains(chunk))
                .unwrap_or(false));
        }
        let Some(chunk_shape) = &self.chunk_shape else {
            return Ok(true);
        };
        let stored = self.stored.get_or_init(|| {
            let count = self.ds.num_chunks().unwrap_or(0);
            (0..count)
                .map(|i| {
                    let info = self.ds.chunk_info(i).ok_or("chunk query failed")?;
                    Ok(info
                        .offset
                        .iter()
                        .zip(chunk_shape)
                        .map(|(&o, &c)| o / c.max(1))
                        .collect())
                })
                .collect()
        });
        stored
            .as_ref()
            .map(|s| s.contains(chunk))
            .map_err(Clone::clone)
    }

    /// Writes what the library buffers to disk.
    pub(crate) fn flush(&self) -> std::result::Result<(), String> {
        self.file.flush().map_err(text)
    }
}

fn hyperslab(region: &Region) -> Hyperslab {
    let slices: Vec<SliceOrIndex> = (0..region.ndim())
        .map(|axis| {
            let r = region.range(axis);
            SliceOrIndex::from(r.start as usize..r.end as usize)
        })
        .collect();
    Hyperslab::from(slices)
}

/// Every numeric dataset of the file with its metadata.
pub(crate) fn list(path: &Path) -> Result<Vec<(String, ArrayMeta)>> {
    let file = open_file(path, "")?;
    let names = dataset_names(&file).map_err(|e| IoError::Metadata {
        location: location(path, ""),
        reason: e,
    })?;
    let mut out = Vec::new();
    for name in names {
        let loc = location(path, &name);
        let ds = file.dataset(&name).map_err(|e| IoError::Metadata {
            location: loc.clone(),
            reason: text(e),
        })?;
        let described = match describe(&file, &ds, &loc) {
            Ok(d) => d,
            Err(IoError::UnsupportedDType { .. }) => continue,
            Err(e) => return Err(e),
        };
        if described.is_dimension_only() {
            continue;
        }
        let meta = described.into_meta(&loc, &name, &mut |id| dimid_name(&file, id))?;
        out.push((name, meta));
    }
    Ok(out)
}

/// Every group of the file with its attributes (see
/// [`super::list_groups`]); unsorted.
pub(crate) fn groups(path: &Path) -> Result<Vec<(String, Map<String, Value>)>> {
    /// Records `group` (at `name`) and the groups below it, following hard
    /// links in name order, depth first, as h5py's `visititems` does; a
    /// group reached again (a second hard link, a cycle) is skipped, as the
    /// pure backend does.
    fn walk(
        group: &Group,
        name: String,
        seen: &mut Vec<h5::LocationToken>,
        out: &mut Vec<(String, Map<String, Value>)>,
        depth: usize,
    ) -> std::result::Result<(), String> {
        let mut attributes = Map::new();
        for attr_name in group.attr_names().map_err(text)? {
            let attr = group
                .attr(&attr_name)
                .map_err(|e| format!("attribute {attr_name}: {e}"))?;
            if let Some(value) = attribute_value(&attr) {
                attributes.insert(attr_name, value);
            }
        }
        hide_bookkeeping(&mut attributes);
        let links = group
            .links(h5::IndexType::Name, h5::IterationOrder::Increasing)
            .map_err(text)?;
        out.push((name.clone(), attributes));
        if depth >= 64 {
            return Ok(());
        }
        for (link, info) in links {
            if info.link_type != h5::LinkType::Hard {
                continue;
            }
            let found = group.loc_info_by_name(&link).map_err(text)?;
            if found.loc_type != h5::LocationType::Group || seen.contains(&found.token) {
                continue;
            }
            seen.push(found.token);
            let child = group.group(&link).map_err(text)?;
            let child_name = if name.is_empty() {
                link
            } else {
                format!("{name}/{link}")
            };
            walk(&child, child_name, seen, out, depth + 1)?;
        }
        Ok(())
    }
    let file = open_file(path, "")?;
    let mut seen = vec![
        file.loc_info()
            .map_err(|e| IoError::Metadata {
                location: location(path, ""),
                reason: text(e),
            })?
            .token,
    ];
    let mut out = Vec::new();
    walk(&file, String::new(), &mut seen, &mut out, 0).map_err(|reason| IoError::Metadata {
        location: location(path, ""),
        reason,
    })?;
    Ok(out)
}

fn open_file(path: &Path, dataset: &str) -> Result<File> {
    if let Some(e) = check_hdf5_file(path, dataset) {
        return Err(e);
    }
    File::open(path).map_err(|e| {
        let e = e.to_string();
        // HDF5 locks a file while a writer has it open (the C library opens
        // files without close-on-exec, so a child process started meanwhile
        // holds the lock until it exits).
        let why = if e.contains("unable to lock file") {
            "the file is locked: a writer has it open"
        } else {
            "cannot read the HDF5 file (damaged or truncated?)"
        };
        IoError::Metadata {
            location: location(path, dataset),
            reason: format!("{why}: {e}"),
        }
    })
}

/// Paths of every dataset below the root, without the leading `/`.
fn dataset_names(file: &File) -> std::result::Result<Vec<String>, String> {
    fn walk(group: &Group, out: &mut Vec<String>, depth: usize) -> std::result::Result<(), String> {
        if depth > 64 {
            return Ok(());
        }
        for ds in group.datasets().map_err(text)? {
            out.push(normalize(&ds.name()));
        }
        for child in group.groups().map_err(text)? {
            walk(&child, out, depth + 1)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(file, &mut out, 0)?;
    Ok(out)
}

/// What the file says about `ds`.
fn describe(file: &File, ds: &Dataset, loc: &str) -> Result<Described> {
    let bad = |reason: String| IoError::Metadata {
        location: loc.to_string(),
        reason,
    };
    let descriptor = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| bad(text(e)))?;
    let dtype = dtype_of(&descriptor).ok_or_else(|| IoError::UnsupportedDType {
        dtype: format!("HDF5 {descriptor} in {loc}"),
    })?;
    let dcpl = ds.dcpl().map_err(|e| bad(text(e)))?;
    let fill = match dcpl.fill_value_defined() {
        h5::dataset::FillValue::UserDefined => {
            with_type!(dtype, T => dcpl.fill_value_as::<T>().map(|v| <T as Element>::to_ne_bytes(&[v])))
        }
        _ => None,
    };
    let codecs = ds.filters().iter().map(filter_name).collect();
    let mut attributes = Map::new();
    let mut attribute_dtypes = BTreeMap::new();
    let mut scales = None;
    for name in ds.attr_names().map_err(|e| bad(text(e)))? {
        let attr = ds
            .attr(&name)
            .map_err(|e| bad(format!("attribute {name}: {e}")))?;
        if name == "DIMENSION_LIST" {
            scales =
                Some(dimension_list(file, &attr).map_err(|e| bad(format!("DIMENSION_LIST: {e}")))?);
        } else if let Some(value) = attribute_value(&attr) {
            if let Some(dtype) = attr
                .dtype()
                .and_then(|t| t.to_descriptor())
                .ok()
                .and_then(|d| dtype_of(&d))
            {
                attribute_dtypes.insert(name.clone(), dtype);
            }
            attributes.insert(name, value);
        }
    }
    Ok(Described {
        shape: ds.shape().iter().map(|&n| n as u64).collect(),
        chunks: ds.chunk().map(|c| c.iter().map(|&n| n as u64).collect()),
        dtype,
        fill,
        attributes,
        attribute_dtypes,
        codecs,
        scales,
    })
}

fn dimension_list(
    file: &File,
    attr: &h5::Attribute,
) -> std::result::Result<Vec<Vec<String>>, String> {
    let lists: Vec<VarLenArray<ObjectReference1>> = attr.read_raw().map_err(text)?;
    lists
        .iter()
        .map(|refs| {
            refs.iter()
                .map(|r| match file.dereference(r).map_err(text)? {
                    ReferencedObject::Dataset(d) => Ok(d.name()),
                    ReferencedObject::Group(g) => Ok(g.name()),
                    ReferencedObject::Datatype(_) => {
                        Err("a dimension scale reference names a datatype".to_string())
                    }
                })
                .collect()
        })
        .collect()
}

/// One attribute as JSON, or `None` for kinds JSON cannot show.
fn attribute_value(attr: &h5::Attribute) -> Option<Value> {
    let descriptor = attr.dtype().ok()?.to_descriptor().ok()?;
    let items: Vec<Value> = match descriptor {
        TypeDescriptor::Integer(_) => attr
            .read_raw::<i64>()
            .ok()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TypeDescriptor::Unsigned(_) => attr
            .read_raw::<u64>()
            .ok()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TypeDescriptor::Float(_) => attr
            .read_raw::<f64>()
            .ok()?
            .into_iter()
            .map(attrs::float_value)
            .collect(),
        TypeDescriptor::Boolean => attr
            .read_raw::<bool>()
            .ok()?
            .into_iter()
            .map(Value::from)
            .collect(),
        TypeDescriptor::VarLenAscii => attr
            .read_raw::<VarLenAscii>()
            .ok()?
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect(),
        TypeDescriptor::VarLenUnicode => attr
            .read_raw::<VarLenUnicode>()
            .ok()?
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect(),
        TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n) => {
            let utf8 = matches!(descriptor, TypeDescriptor::FixedUnicode(_));
            fixed_strings(attr, n, utf8)?
                .into_iter()
                .map(Value::from)
                .collect()
        }
        _ => return None,
    };
    Some(attrs::collapse(items))
}

/// A fixed-length string attribute's elements: read through the widest
/// fixed string type it fits (the library converts between widths).
fn fixed_strings(attr: &h5::Attribute, width: usize, utf8: bool) -> Option<Vec<String>> {
    macro_rules! read_as {
        ($($n:literal),*) => {$(
            if width <= $n {
                return Some(if utf8 {
                    attr.read_raw::<FixedUnicode<$n>>().ok()?.iter().map(|s| attrs::fixed_string(s.as_bytes(), false)).collect()
                } else {
                    attr.read_raw::<FixedAscii<$n>>().ok()?.iter().map(|s| attrs::fixed_string(s.as_bytes(), false)).collect()
                });
            }
        )*};
    }
    read_as!(16, 64, 256, 1024, 4096, 16384, 65536);
    None
}

fn dtype_of(descriptor: &TypeDescriptor) -> Option<DType> {
    Some(match descriptor {
        TypeDescriptor::Boolean => DType::Bool,
        TypeDescriptor::Integer(IntSize::U1) => DType::Int8,
        TypeDescriptor::Integer(IntSize::U2) => DType::Int16,
        TypeDescriptor::Integer(IntSize::U4) => DType::Int32,
        TypeDescriptor::Integer(IntSize::U8) => DType::Int64,
        TypeDescriptor::Unsigned(IntSize::U1) => DType::UInt8,
        TypeDescriptor::Unsigned(IntSize::U2) => DType::UInt16,
        TypeDescriptor::Unsigned(IntSize::U4) => DType::UInt32,
        TypeDescriptor::Unsigned(IntSize::U8) => DType::UInt64,
        TypeDescriptor::Float(FloatSize::U4) => DType::Float32,
        TypeDescriptor::Float(FloatSize::U8) => DType::Float64,
        _ => return None,
    })
}

fn filter_name(filter: &h5::filters::Filter) -> String {
    use h5::filters::Filter;
    match filter {
        Filter::Deflate(level) => format!("deflate({level})"),
        Filter::Shuffle => "shuffle".into(),
        Filter::Fletcher32 => "fletcher32".into(),
        Filter::SZip(..) => "szip".into(),
        Filter::NBit => "nbit".into(),
        Filter::ScaleOffset(..) => "scaleoffset".into(),
        Filter::User(id, cd) => super::pure::filter_name(*id as u16, cd),
        #[allow(unreachable_patterns)]
        _ => "filter".into(),
    }
}

/// The name of netCDF dimension `id` (the scale whose `_Netcdf4Dimid` it is).
fn dimid_name(file: &File, id: i64) -> Option<String> {
    dataset_names(file)
        .ok()?
        .into_iter()
        .find(|name| {
            file.dataset(name)
                .and_then(|ds| ds.attr("_Netcdf4Dimid"))
                .and_then(|a| a.read_raw::<i64>())
                .is_ok_and(|v| v.first() == Some(&id))
        })
        .map(|name| basename(&name).to_string())
}
