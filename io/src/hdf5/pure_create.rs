//! Making a dataset with rust-hdf5: deciding everything first (dimension
//! scales, filters), so a refusal leaves the file untouched, then, on the
//! writer thread, creating groups, the dataset, its scales (netCDF-4
//! style) and its attributes.

use std::collections::HashMap;
use std::path::Path;

use rust_hdf5::format::messages::filter::FilterPipeline;
use rust_hdf5::types::VarLenUnicode;
use rust_hdf5::{DatatypeMessage, H5Dataset, H5File, H5Group, H5Type, HBool};

use super::attrs::{scalar_of, AttrValue};
use super::conventions::{basename, HIDDEN_ATTRIBUTES, NETCDF_DIMENSION_ONLY};
use super::{check_hdf5_file, location, Compression};
use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

/// How the writer thread gets its dataset.
pub(crate) enum Setup {
    Create(Box<Plan>),
    Reopen,
}

/// Everything decided before a dataset is made, so that a refusal leaves
/// the file as it was; the writer thread then does it.
pub(crate) struct Plan {
    meta: ArrayMeta,
    pub(crate) pipeline: Option<FilterPipeline>,
    pub(crate) chunk_shape: Vec<u64>,
    /// Whether the file exists already (open for appending).
    append: bool,
    /// Per axis: the scale to attach, if any.
    scales: Vec<Option<Scale>>,
}

/// A dimension scale to attach to one axis.
#[derive(Clone)]
enum Scale {
    /// The dataset itself (a coordinate variable).
    Itself,
    /// A dataset of the group that is (or becomes) a scale.
    Existing { path: String, mark: bool },
    /// A netCDF dimension-only scale to make, of this length.
    New { path: String, len: u64 },
}

impl Plan {
    /// Checks and decides how `dataset` is made in the file at `path`.
    pub(crate) fn new(
        path: &Path,
        dataset: &str,
        meta: &ArrayMeta,
        compression: Compression,
    ) -> Result<Plan> {
        let loc = location(path, dataset);
        let bad = |reason: String| IoError::Metadata {
            location: loc.clone(),
            reason,
        };
        let append = path.exists();
        let existing = if append {
            if let Some(e) = check_hdf5_file(path, dataset) {
                return Err(e);
            }
            existing_datasets(path)
                .map_err(|e| bad(format!("cannot read the existing file: {e}")))?
        } else {
            HashMap::new()
        };
        if existing.contains_key(dataset) {
            return Err(bad("the dataset already exists in the file".into()));
        }
        let shape = meta.shape();
        let chunk_shape: Vec<u64> = meta.grid.chunk_shape().iter().map(|&c| c.max(1)).collect();
        let group = dataset.rsplit_once('/').map_or("", |(g, _)| g);
        let mut scales = Vec::with_capacity(shape.len());
        let mut made: HashMap<String, u64> = HashMap::new();
        let names = meta.dimension_names.clone().unwrap_or_default();
        if !names.is_empty() && names.len() != shape.len() {
            return Err(bad(format!(
                "{} dimension names for {} axes",
                names.len(),
                shape.len()
            )));
        }
        for (name, &len) in names.iter().zip(&shape) {
            let Some(name) = name else {
                scales.push(None);
                continue;
            };
            let scale_path = if group.is_empty() {
                name.to_string()
            } else {
                format!("{group}/{name}")
            };
            let scale = if scale_path == dataset {
                if shape.len() != 1 {
                    return Err(bad(format!(
                        "dimension `{name}` has the dataset's own name, which only a 1-D coordinate variable may"
                    )));
                }
                Scale::Itself
            } else if let Some(found) = existing.get(&scale_path) {
                if found.shape != [len] || found.has_scales {
                    return Err(bad(format!(
                        "dimension `{name}` (length {len}) cannot use the dataset `{scale_path}` of shape {:?} as its scale",
                        found.shape
                    )));
                }
                Scale::Existing {
                    path: scale_path,
                    mark: !found.is_scale,
                }
            } else if let Some(&other) = made.get(&scale_path) {
                if other != len {
                    return Err(bad(format!(
                        "dimension `{name}` has two lengths, {other} and {len}"
                    )));
                }
                Scale::Existing {
                    path: scale_path,
                    mark: false,
                }
            } else {
                made.insert(scale_path.clone(), len);
                Scale::New {
                    path: scale_path,
                    len,
                }
            };
            scales.push(Some(scale));
        }
        let pipeline = match compression.deflate {
            Some(level) if !shape.is_empty() => Some(if compression.shuffle {
                FilterPipeline::shuffle_deflate(meta.dtype.size() as u32, u32::from(level))
            } else {
                FilterPipeline::deflate(u32::from(level))
            }),
            _ => None,
        };
        Ok(Plan {
            meta: meta.clone(),
            pipeline,
            chunk_shape,
            append,
            scales,
        })
    }
}

/// Opens the file on the writer thread: creates the dataset, or reopens it.
pub(crate) fn open_for_writing(
    path: &Path,
    dataset: &str,
    setup: Setup,
) -> std::result::Result<(H5File, H5Dataset), String> {
    let plan = match setup {
        Setup::Reopen => {
            let file = H5File::open_rw(path).map_err(|e| e.to_string())?;
            let ds = file.dataset_writer(dataset).map_err(|e| e.to_string())?;
            return Ok((file, ds));
        }
        Setup::Create(plan) => plan,
    };
    let file = if plan.append {
        H5File::open_rw(path)
    } else {
        H5File::create(path)
    }
    .map_err(|e| e.to_string())?;
    let (group_path, name) = dataset.rsplit_once('/').unwrap_or(("", dataset));
    let group = group_of(&file, group_path)?;
    let ds = new_dataset(&group, name, &plan)?;
    let mut made: HashMap<String, H5Dataset> = HashMap::new();
    for (axis, scale) in plan.scales.iter().enumerate() {
        let Some(scale) = scale else { continue };
        match scale {
            Scale::Itself => ds.set_scale(Some(name)).map_err(|e| e.to_string())?,
            Scale::New {
                path: scale_path,
                len,
            } => {
                let scale_ds = group
                    .new_dataset::<f32>()
                    .shape([*len as usize])
                    .create(basename(scale_path))
                    .map_err(|e| e.to_string())?;
                let label = format!("{NETCDF_DIMENSION_ONLY}.{len:>10}");
                scale_ds
                    .set_scale(Some(&label))
                    .map_err(|e| e.to_string())?;
                ds.attach_scale(axis, &scale_ds)
                    .map_err(|e| e.to_string())?;
                made.insert(scale_path.clone(), scale_ds);
            }
            Scale::Existing {
                path: scale_path,
                mark,
            } => {
                if !made.contains_key(scale_path) {
                    let scale_ds = file.dataset_writer(scale_path).map_err(|e| e.to_string())?;
                    if *mark {
                        scale_ds
                            .set_scale(Some(basename(scale_path)))
                            .map_err(|e| e.to_string())?;
                    }
                    made.insert(scale_path.clone(), scale_ds);
                }
                if let Some(scale_ds) = made.get(scale_path) {
                    ds.attach_scale(axis, scale_ds).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    write_attributes(&ds, &plan.meta)?;
    drop(made);
    Ok((file, ds))
}

/// The group at `path` (made, with its parents, where missing).
fn group_of(file: &H5File, path: &str) -> std::result::Result<H5Group, String> {
    let mut group = file.root_group();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        // In write mode rust-hdf5 hands out a group by any name, so making
        // it is tried first; it refuses a name that exists.
        group = match group.create_group(part) {
            Ok(g) => g,
            Err(_) => group.group(part).map_err(|e| e.to_string())?,
        };
    }
    Ok(group)
}

/// Creates the dataset itself, typed by the dtype.
fn new_dataset(group: &H5Group, name: &str, plan: &Plan) -> std::result::Result<H5Dataset, String> {
    fn typed<T: H5Type>(
        group: &H5Group,
        name: &str,
        plan: &Plan,
    ) -> std::result::Result<H5Dataset, String> {
        let shape: Vec<usize> = plan.meta.shape().iter().map(|&n| n as usize).collect();
        let fill = plan.meta.fill_value.to_ne_bytes(plan.meta.dtype);
        let mut builder = group
            .new_dataset::<T>()
            .shape(&shape)
            .fill_value_bytes(&fill);
        if !shape.is_empty() {
            let chunk: Vec<usize> = plan.chunk_shape.iter().map(|&c| c as usize).collect();
            builder = builder.chunk(&chunk);
            if let Some(pipeline) = &plan.pipeline {
                builder = builder.filter_pipeline(pipeline.clone());
            }
        }
        builder.create(name).map_err(|e| e.to_string())
    }
    match plan.meta.dtype {
        DType::Bool => typed::<HBool>(group, name, plan),
        DType::Int8 => typed::<i8>(group, name, plan),
        DType::Int16 => typed::<i16>(group, name, plan),
        DType::Int32 => typed::<i32>(group, name, plan),
        DType::Int64 => typed::<i64>(group, name, plan),
        DType::UInt8 => typed::<u8>(group, name, plan),
        DType::UInt16 => typed::<u16>(group, name, plan),
        DType::UInt32 => typed::<u32>(group, name, plan),
        DType::UInt64 => typed::<u64>(group, name, plan),
        DType::Float32 => typed::<f32>(group, name, plan),
        DType::Float64 => typed::<f64>(group, name, plan),
    }
}

/// The attributes of `meta`, as the module docs of [`super::attrs`] say;
/// `_FillValue` in the dataset's own dtype, as netCDF requires.
fn write_attributes(ds: &H5Dataset, meta: &ArrayMeta) -> std::result::Result<(), String> {
    fn fill<T: H5Type + bytemuck::Pod>(ds: &H5Dataset, bytes: &[u8]) -> rust_hdf5::Result<()> {
        let value: T = bytemuck::pod_read_unaligned(bytes);
        ds.new_attr::<T>()
            .shape([1])
            .create("_FillValue")?
            .write_array(&[value])
    }
    for (key, value) in &meta.attributes {
        if HIDDEN_ATTRIBUTES.contains(&key.as_str()) || key == "_ARRAY_DIMENSIONS" {
            continue;
        }
        let done = if key == "_FillValue" {
            let Some(scalar) = scalar_of(value, meta.dtype) else {
                return Err(format!("_FillValue {value} is not a number"));
            };
            let bytes = scalar.to_ne_bytes(meta.dtype);
            match meta.dtype {
                DType::Bool | DType::UInt8 => fill::<u8>(ds, &bytes),
                DType::Int8 => fill::<i8>(ds, &bytes),
                DType::Int16 => fill::<i16>(ds, &bytes),
                DType::Int32 => fill::<i32>(ds, &bytes),
                DType::Int64 => fill::<i64>(ds, &bytes),
                DType::UInt16 => fill::<u16>(ds, &bytes),
                DType::UInt32 => fill::<u32>(ds, &bytes),
                DType::UInt64 => fill::<u64>(ds, &bytes),
                DType::Float32 => fill::<f32>(ds, &bytes),
                DType::Float64 => fill::<f64>(ds, &bytes),
            }
        } else {
            write_attribute(ds, key, &AttrValue::from_json(value))
        };
        done.map_err(|e| format!("attribute {key}: {e}"))?;
    }
    Ok(())
}

fn write_attribute(ds: &H5Dataset, key: &str, value: &AttrValue) -> rust_hdf5::Result<()> {
    fn numbers<T: H5Type>(
        ds: &H5Dataset,
        key: &str,
        values: &[T],
        scalar: bool,
    ) -> rust_hdf5::Result<()> {
        match values {
            [one] if scalar => ds.new_attr::<T>().shape(()).create(key)?.write_numeric(one),
            _ => ds
                .new_attr::<T>()
                .shape([values.len()])
                .create(key)?
                .write_array(values),
        }
    }
    match value {
        // A fixed-length string, as netCDF-C writes text: rust-hdf5's
        // variable-length strings declare a base type HDF5 before 2.0
        // cannot convert, so they would be unreadable there.
        AttrValue::Text(s) => {
            let mut bytes = s.as_bytes().to_vec();
            if bytes.is_empty() {
                bytes.push(0);
            }
            let datatype = DatatypeMessage::FixedString {
                size: bytes.len() as u32,
                padding: 1,
                charset: u8::from(!s.is_ascii()),
            };
            ds.set_attr_typed(key, datatype, bytes)
        }
        // Arrays of strings have no fixed-length form in rust-hdf5: they are
        // variable-length, which HDF5 2.0 (h5py, netCDF4-python wheels)
        // reads but HDF5 1.x cannot.
        AttrValue::Texts(items) => {
            let items: Vec<&str> = items.iter().map(String::as_str).collect();
            ds.new_attr::<VarLenUnicode>()
                .shape([items.len()])
                .create(key)?
                .write_string_array(&items)
        }
        AttrValue::Ints { values, scalar } => numbers(ds, key, values, *scalar),
        AttrValue::UInts { values, scalar } => numbers(ds, key, values, *scalar),
        AttrValue::Floats { values, scalar } => numbers(ds, key, values, *scalar),
        AttrValue::Flags { values, scalar } => numbers(ds, key, values, *scalar),
    }
}

/// What [`Writer::create`] needs to know of a dataset already in the file.
struct Existing {
    shape: Vec<u64>,
    is_scale: bool,
    has_scales: bool,
}

/// The datasets of an existing file, by path.
fn existing_datasets(path: &Path) -> std::result::Result<HashMap<String, Existing>, String> {
    let file = H5File::options()
        .no_locking()
        .open(path)
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for name in file.dataset_names() {
        let ds = file.dataset(&name).map_err(|e| e.to_string())?;
        let attrs = ds.attr_names().unwrap_or_default();
        out.insert(
            super::normalize(&name),
            Existing {
                shape: ds.shape().iter().map(|&n| n as u64).collect(),
                is_scale: attrs.iter().any(|a| a == "CLASS"),
                has_scales: attrs.iter().any(|a| a == "DIMENSION_LIST"),
            },
        );
    }
    Ok(out)
}
