//! Creating datasets and groups with the HDF5 C library: the dataset, its
//! attributes, and its dimension scales laid out as the HDF5 Dimension
//! Scale specification (and so netCDF-C) wants them, since `hdf5-metno`
//! does not bind the high-level `H5DS` library; a group and its attributes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

use super::{text, LibStore};
use crate::dtype::DType;
use crate::element::Element;
use crate::error::{IoError, Result};
use crate::hdf5::attrs::{self, AttrValue};
use crate::hdf5::conventions::{basename, HIDDEN_ATTRIBUTES, NETCDF_DIMENSION_ONLY};
use crate::hdf5::groups::ancestors;
use crate::hdf5::{check_hdf5_file, location, Compression};
use crate::meta::ArrayMeta;
use h5::types::{FixedAscii, TypeDescriptor, VarLenArray, VarLenUnicode};
use h5::{Dataset, File, Group, H5Type, Location, LocationType, ObjectReference1};
use hdf5_metno as h5;

/// One entry of a dimension scale's `REFERENCE_LIST`, as `H5DS` lays it out.
#[derive(H5Type, Clone, Copy)]
#[repr(C)]
struct ScaleUse {
    dataset: ObjectReference1,
    dimension: i32,
}

impl LibStore {
    /// Creates `dataset` as [`super::Hdf5Store::create`] describes.
    pub(crate) fn create(
        path: &Path,
        dataset: &str,
        meta: &ArrayMeta,
        compression: Compression,
    ) -> Result<LibStore> {
        let loc = location(path, dataset);
        let failed = |message: String| IoError::Storage {
            location: loc.clone(),
            message: format!("cannot create the dataset: {message}"),
        };
        let existing = if path.exists() {
            if let Some(e) = check_hdf5_file(path, dataset) {
                return Err(e);
            }
            Some(File::append(path).map_err(|e| failed(text(e)))?)
        } else {
            None
        };
        let (group_path, name) = dataset.rsplit_once('/').unwrap_or(("", dataset));
        if let Some(file) = &existing {
            if file.link_exists(dataset) {
                return Err(IoError::Metadata {
                    location: loc,
                    reason: "the dataset already exists in the file".into(),
                });
            }
        }
        let group = existing.as_ref().and_then(|f| match group_path {
            "" => Some((**f).clone()),
            path => f.group(path).ok(),
        });
        let plans = plan_scales(group.as_ref(), name, meta).map_err(|e| IoError::Metadata {
            location: loc.clone(),
            reason: e,
        })?;
        let file = match existing {
            Some(file) => file,
            None => File::create(path).map_err(|e| failed(text(e)))?,
        };
        let group = group_of(&file, group_path).map_err(&failed)?;
        let chunk_shape: Vec<u64> = meta.grid.chunk_shape().iter().map(|&c| c.max(1)).collect();
        let ds = new_dataset(&group, name, meta, &chunk_shape, compression).map_err(&failed)?;
        attach_scales(&file, &group, &ds, name, plans).map_err(&failed)?;
        write_attributes(&ds, &meta.attributes, Some(meta.dtype)).map_err(&failed)?;
        Ok(LibStore {
            file,
            ds,
            dtype: meta.dtype,
            writable: true,
            chunk_shape: Some(chunk_shape),
            stored: OnceLock::new(),
            written: Mutex::new(HashSet::new()),
        })
    }
}

/// Creates `group` (normalized; `""` is the root) and its missing parents
/// in the file at `path` (made if absent), and sets `attributes` on it
/// (see [`crate::hdf5::create_group`]).
pub(crate) fn create_group(
    path: &Path,
    group: &str,
    attributes: &Map<String, Value>,
) -> Result<()> {
    let loc = location(path, group);
    let failed = |message: String| IoError::Storage {
        location: loc.clone(),
        message: format!("cannot write the group: {message}"),
    };
    let file = if path.exists() {
        if let Some(e) = check_hdf5_file(path, group) {
            return Err(e);
        }
        let file = File::append(path).map_err(|e| failed(text(e)))?;
        for parent in ancestors(group) {
            if !file.link_exists(parent) {
                break;
            }
            let kind = file.loc_type_by_name(parent).map_err(|e| failed(text(e)))?;
            if kind != LocationType::Group {
                let what = if kind == LocationType::Dataset {
                    "a dataset"
                } else {
                    "a named datatype"
                };
                return Err(IoError::Metadata {
                    location: loc,
                    reason: format!("`{parent}` is {what}, not a group"),
                });
            }
        }
        file
    } else {
        File::create(path).map_err(|e| failed(text(e)))?
    };
    let made = group_of(&file, group).map_err(&failed)?;
    write_attributes(&made, attributes, None).map_err(&failed)?;
    file.flush().map_err(|e| failed(text(e)))
}

fn group_of(file: &File, path: &str) -> std::result::Result<Group, String> {
    let mut group: Group = (**file).clone();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        group = match group.group(part) {
            Ok(g) => g,
            Err(_) => group.create_group(part).map_err(text)?,
        };
    }
    Ok(group)
}

fn new_dataset(
    group: &Group,
    name: &str,
    meta: &ArrayMeta,
    chunk: &[u64],
    compression: Compression,
) -> std::result::Result<Dataset, String> {
    let shape: Vec<usize> = meta.shape().iter().map(|&n| n as usize).collect();
    let chunk: Vec<usize> = chunk.iter().map(|&n| n as usize).collect();
    with_type!(meta.dtype, T => {
        let fill: T = <T as Element>::from_ne_bytes(&meta.fill_value.to_ne_bytes(meta.dtype))[0];
        let mut builder = group.new_dataset::<T>().fill_value(fill);
        if !shape.is_empty() {
            builder = builder.chunk(chunk);
            if let Some(level) = compression.deflate {
                if compression.shuffle {
                    builder = builder.shuffle();
                }
                builder = builder.deflate(level);
            }
        }
        builder.shape(shape).create(name).map_err(text)
    })
}

/// `H5Tset_strpad`, which `hdf5-metno` does not bind: `H5DSis_scale` (and
/// so netCDF-C) accepts a `CLASS` attribute only if its string type is
/// null-terminated, and `hdf5-metno` makes every fixed string null-padded.
mod ffi {
    extern "C" {
        pub fn H5Tset_strpad(type_id: i64, strpad: std::os::raw::c_int) -> std::os::raw::c_int;
    }
}

/// A scalar attribute holding `value` as a null-terminated ASCII string,
/// the type `H5DSset_scale` gives `CLASS` and `NAME`.
fn nullterm_attr(ds: &Dataset, name: &str, value: &str) -> std::result::Result<(), String> {
    const H5T_STR_NULLTERM: std::os::raw::c_int = 0;
    let dtype = h5::Datatype::from_descriptor(&TypeDescriptor::FixedAscii(value.len() + 1))
        .map_err(text)?;
    // SAFETY: `dtype` is a string type this function just made (a copy of
    // H5T_C_S1, not locked, not committed) and stays alive across the call;
    // the library's lock is held, as for every call into HDF5.
    let status = h5::sync::sync(|| unsafe { ffi::H5Tset_strpad(dtype.id(), H5T_STR_NULLTERM) });
    if status < 0 {
        return Err(format!("cannot make the string type of attribute {name}"));
    }
    let text_value =
        FixedAscii::<256>::from_ascii(value).map_err(|e| format!("attribute {name}: {e}"))?;
    ds.new_attr_builder()
        .empty_as(&dtype)
        .shape(())
        .create(name)
        .map_err(text)?
        .write_scalar(&text_value)
        .map_err(text)
}

/// Marks `ds` as a dimension scale named `name`, as `H5DSset_scale` does.
fn set_scale(ds: &Dataset, name: &str) -> std::result::Result<(), String> {
    nullterm_attr(ds, "CLASS", "DIMENSION_SCALE")?;
    nullterm_attr(ds, "NAME", name)
}

/// The scale one axis of a new dataset gets.
enum ScalePlan {
    /// The dataset itself (a coordinate variable).
    Itself,
    /// A dataset of the group; `mark` when it is not a scale yet.
    Existing { scale: Dataset, mark: bool },
    /// A netCDF dimension-only scale to make.
    New { name: String, len: u64 },
}

/// Decides every axis's scale before anything is written, so a refusal
/// leaves the file as it was (see [`super::Hdf5Store::create`]).
fn plan_scales(
    group: Option<&Group>,
    name: &str,
    meta: &ArrayMeta,
) -> std::result::Result<Vec<Option<ScalePlan>>, String> {
    let shape = meta.shape();
    let Some(names) = &meta.dimension_names else {
        return Ok(Vec::new());
    };
    if names.len() != shape.len() {
        return Err(format!(
            "{} dimension names for {} axes",
            names.len(),
            shape.len()
        ));
    }
    let mut plans = Vec::with_capacity(shape.len());
    let mut made: HashMap<&str, u64> = HashMap::new();
    for (dim, &len) in names.iter().zip(&shape) {
        let Some(dim) = dim else {
            plans.push(None);
            continue;
        };
        let plan = if dim == name {
            if shape.len() != 1 {
                return Err(format!("dimension `{dim}` has the dataset's own name, which only a 1-D coordinate variable may"));
            }
            ScalePlan::Itself
        } else if let Some(&other) = made.get(dim.as_str()) {
            if other != len {
                return Err(format!(
                    "dimension `{dim}` has two lengths, {other} and {len}"
                ));
            }
            ScalePlan::New {
                name: dim.clone(),
                len,
            }
        } else if let Some(scale) = group.filter(|g| g.link_exists(dim)).map(|g| g.dataset(dim)) {
            let scale = scale.map_err(text)?;
            let attrs = scale.attr_names().map_err(text)?;
            if scale.shape() != [len as usize] || attrs.iter().any(|a| a == "DIMENSION_LIST") {
                return Err(format!(
                    "dimension `{dim}` (length {len}) cannot use the dataset `{}` of shape {:?} as its scale",
                    scale.name(),
                    scale.shape()
                ));
            }
            let mark = !attrs.iter().any(|a| a == "CLASS");
            ScalePlan::Existing { scale, mark }
        } else {
            made.insert(dim, len);
            ScalePlan::New {
                name: dim.clone(),
                len,
            }
        };
        plans.push(Some(plan));
    }
    Ok(plans)
}

/// Makes and attaches the planned scales, recording them as
/// `H5DSattach_scale` does: `DIMENSION_LIST` on the dataset, a
/// `REFERENCE_LIST` entry on each scale.
fn attach_scales(
    file: &File,
    group: &Group,
    ds: &Dataset,
    name: &str,
    plans: Vec<Option<ScalePlan>>,
) -> std::result::Result<(), String> {
    let mut lists: Vec<Vec<ObjectReference1>> = vec![Vec::new(); plans.len()];
    let mut uses: HashMap<String, (Dataset, Vec<usize>)> = HashMap::new();
    for (axis, plan) in plans.into_iter().enumerate() {
        let scale = match plan {
            None => continue,
            Some(ScalePlan::Itself) => {
                set_scale(ds, name)?;
                continue;
            }
            Some(ScalePlan::Existing { scale, mark }) => {
                if mark && !uses.contains_key(&scale.name()) {
                    let own = basename(&scale.name()).to_string();
                    set_scale(&scale, &own)?;
                }
                scale
            }
            Some(ScalePlan::New { name: dim, len }) => match group.dataset(&dim) {
                Ok(made) => made,
                Err(_) => {
                    let scale = group
                        .new_dataset::<f32>()
                        .shape([len as usize])
                        .create(dim.as_str())
                        .map_err(text)?;
                    set_scale(&scale, &format!("{NETCDF_DIMENSION_ONLY}.{len:>10}"))?;
                    scale
                }
            },
        };
        lists[axis].push(
            file.reference::<ObjectReference1>(&scale.name())
                .map_err(text)?,
        );
        uses.entry(scale.name())
            .or_insert_with(|| (scale, Vec::new()))
            .1
            .push(axis);
    }
    if lists.iter().all(Vec::is_empty) {
        return Ok(());
    }
    let list: Vec<VarLenArray<ObjectReference1>> =
        lists.iter().map(|l| VarLenArray::from_slice(l)).collect();
    ds.new_attr::<VarLenArray<ObjectReference1>>()
        .shape([list.len()])
        .create("DIMENSION_LIST")
        .map_err(text)?
        .write_raw(&list)
        .map_err(text)?;
    let me = file
        .reference::<ObjectReference1>(&ds.name())
        .map_err(text)?;
    for (scale, axes) in uses.into_values() {
        let mut entries: Vec<ScaleUse> = match scale.attr("REFERENCE_LIST") {
            Ok(a) => {
                let old = a.read_raw().map_err(text)?;
                scale.delete_attr("REFERENCE_LIST").map_err(text)?;
                old
            }
            Err(_) => Vec::new(),
        };
        entries.extend(axes.iter().map(|&axis| ScaleUse {
            dataset: me,
            dimension: axis as i32,
        }));
        scale
            .new_attr::<ScaleUse>()
            .shape([entries.len()])
            .create("REFERENCE_LIST")
            .map_err(text)?
            .write_raw(&entries)
            .map_err(text)?;
    }
    Ok(())
}

/// Writes `attributes` to a dataset or a group, replacing any of the same
/// name; `fill_dtype` is a dataset's dtype, its `_FillValue`'s type (see
/// the pure backend's `pure_attrs::write_attributes`, the same rules).
fn write_attributes(
    target: &Location,
    attributes: &Map<String, Value>,
    fill_dtype: Option<DType>,
) -> std::result::Result<(), String> {
    let existing = target.attr_names().map_err(text)?;
    for (key, value) in attributes {
        if HIDDEN_ATTRIBUTES.contains(&key.as_str()) || key == "_ARRAY_DIMENSIONS" {
            continue;
        }
        if existing.contains(key) {
            target
                .delete_attr(key)
                .map_err(|e| format!("attribute {key}: {e}"))?;
        }
        let done = match fill_dtype {
            Some(dtype) if key == "_FillValue" => {
                let scalar = attrs::scalar_of(value, dtype)
                    .ok_or_else(|| format!("_FillValue {value} is not a number"))?;
                with_type!(dtype, T => {
                    let v: Vec<T> = <T as Element>::from_ne_bytes(&scalar.to_ne_bytes(dtype));
                    target.new_attr::<T>().shape([1]).create("_FillValue").and_then(|a| a.write_raw(&v))
                })
            }
            _ => write_attribute(target, key, &AttrValue::from_json(value)),
        };
        done.map_err(|e| format!("attribute {key}: {e}"))?;
    }
    Ok(())
}

fn write_attribute(ds: &Location, key: &str, value: &AttrValue) -> h5::Result<()> {
    fn numbers<T: H5Type>(ds: &Location, key: &str, values: &[T], scalar: bool) -> h5::Result<()> {
        match values {
            [one] if scalar => ds.new_attr::<T>().shape(()).create(key)?.write_scalar(one),
            _ => ds
                .new_attr::<T>()
                .shape([values.len()])
                .create(key)?
                .write_raw(values),
        }
    }
    let unicode = |s: &str| {
        s.parse::<VarLenUnicode>()
            .map_err(|e| h5::Error::from(e.to_string()))
    };
    match value {
        AttrValue::Text(s) => ds
            .new_attr::<VarLenUnicode>()
            .shape(())
            .create(key)?
            .write_scalar(&unicode(s)?),
        AttrValue::Texts(items) => {
            let items = items
                .iter()
                .map(|s| unicode(s))
                .collect::<h5::Result<Vec<_>>>()?;
            ds.new_attr::<VarLenUnicode>()
                .shape([items.len()])
                .create(key)?
                .write_raw(&items)
        }
        AttrValue::Ints { values, scalar } => numbers(ds, key, values, *scalar),
        AttrValue::UInts { values, scalar } => numbers(ds, key, values, *scalar),
        AttrValue::Floats { values, scalar } => numbers(ds, key, values, *scalar),
        AttrValue::Flags { values, scalar } => numbers(ds, key, values, *scalar),
    }
}
