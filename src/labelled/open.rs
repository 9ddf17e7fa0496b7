//! Opening a dataset lazily, as `xarray.open_zarr` / `open_dataset` do:
//! every variable of the root group, dimension names from the format
//! (`_ARRAY_DIMENSIONS`, `dimension_names`, netCDF dimensions, HDF5
//! dimension scales), coordinates (index variables, and those the CF
//! `coordinates` attribute names) loaded into memory, data variables lazy
//! on the stored chunks, and CF decoding ([`OpenOptions`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::dataset::Dataset;
use super::decode::{self, Stored};
use super::phony_dims::{lacks_names, phony_dims};
use super::values::Values;
use super::variable::{Coord, Variable};
use super::Attrs;
use crate::array::DynArray;
use crate::error::{Error, Result};
use crate::io::info::{container_of, Container};
use crate::io::zarr::{list_tree, ZarrFormat, ZarrNodeKind, ZarrRoot};
use crate::io::{ArrayMeta, ChunkStore, Hdf5Store, Netcdf3Store, Scalar};

/// How [`open_zarr_with`] and [`open_dataset_with`] decode, as xarray's
/// `decode_cf`, `mask_and_scale` and `decode_times` (all on by default),
/// and which group they open (xarray's `group`; the root by default).
///
/// ```
/// let raw = ndchunk::OpenOptions::new().decode_cf(false);
/// let packed = ndchunk::OpenOptions::new().mask_and_scale(false);
/// let run = ndchunk::OpenOptions::new().group("model/run1");
/// # let _ = (raw, packed, run);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOptions {
    pub(crate) mask_and_scale: bool,
    pub(crate) decode_times: bool,
    /// The group's path inside the store, without leading or trailing
    /// `/` (empty: the root).
    pub(crate) group: String,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            mask_and_scale: true,
            decode_times: true,
            group: String::new(),
        }
    }
}

impl OpenOptions {
    /// Every decoding on.
    pub fn new() -> Self {
        Self::default()
    }

    /// All CF decoding on or off (xarray's `decode_cf`).
    pub fn decode_cf(self, on: bool) -> Self {
        OpenOptions {
            mask_and_scale: on,
            decode_times: on,
            ..self
        }
    }

    /// `_FillValue`/`missing_value` to NaN, `scale_factor`/`add_offset`
    /// applied, `_Unsigned` honoured.
    pub fn mask_and_scale(mut self, on: bool) -> Self {
        self.mask_and_scale = on;
        self
    }

    /// Times decoded to dates from `"<unit> since <date>"`: coordinates
    /// in memory, data variables (such as `time_bnds`, which takes its
    /// time's units when it has none) as lazy numbers marked as dates
    /// (see [`DataArray::times`](super::DataArray::times)).
    pub fn decode_times(mut self, on: bool) -> Self {
        self.decode_times = on;
        self
    }

    /// The group to open, as xarray's `group=`: a path such as
    /// `"model/run1"` (a leading `/` and `"/"` for the root are accepted).
    /// Its variables become the dataset, its attributes the dataset's; a
    /// group that does not exist, or a path that is not plain names (`..`,
    /// `.`, empty parts), is an error naming it.
    ///
    /// ```
    /// use ndchunk::{open_zarr_with, Array, DataArray, Dataset, OpenOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = dir.path().join("runs.zarr");
    /// let t = DataArray::new(Array::<f64>::ones(&[3], [3]).unwrap(), &["x"]).unwrap();
    /// Dataset::new().with_var("t", t).unwrap().to_zarr(&store).unwrap();
    /// let root = open_zarr_with(&store, &OpenOptions::new().group("/")).unwrap();
    /// assert_eq!(root.data_vars().collect::<Vec<_>>(), ["t"]);
    /// assert!(open_zarr_with(&store, &OpenOptions::new().group("run1")).is_err());
    /// assert!(open_zarr_with(&store, &OpenOptions::new().group("../runs.zarr")).is_err());
    /// ```
    pub fn group(mut self, path: &str) -> Self {
        self.group = path.trim_matches('/').to_string();
        self
    }

    /// The group's path, checked to be plain names that stay inside
    /// `location`; `""` for the root.
    fn checked_group(&self, location: &str) -> Result<&str> {
        if !self.group.is_empty() {
            crate::io::check_member_path(&self.group, location)?;
        }
        Ok(&self.group)
    }
}

/// The error for a group `location` does not have; `groups` are those it has.
fn no_group(location: &str, group: &str, groups: &[String]) -> Error {
    let names: Vec<String> = groups
        .iter()
        .map(|g| format!("{:?}", format!("/{g}")))
        .collect();
    let there = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    Error::Invalid {
        operation: format!("opening group {group:?} of {location}"),
        message: format!("no such group; the others there are: {there}"),
    }
}

/// `name` relative to `group` when it is a direct member of it.
fn member_of<'a>(name: &'a str, group: &str) -> Option<&'a str> {
    let rest = if group.is_empty() {
        name
    } else {
        name.strip_prefix(group)?.strip_prefix('/')?
    };
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// Opens the root group of the Zarr store at `path` (v2, consolidated or
/// not, or v3) as a [`Dataset`], decoded by the default [`OpenOptions`]
/// (whose [`group`](OpenOptions::group) opens another group).
/// Reads metadata and coordinates now; data lazily. `path` is a directory
/// or an `s3://bucket/store.zarr` URL (credentials and endpoint from the
/// standard AWS environment variables: see
/// [`ZarrRoot`](crate::io::zarr::ZarrRoot)).
pub fn open_zarr(path: impl AsRef<Path>) -> Result<Dataset> {
    open_zarr_with(path, &OpenOptions::default())
}

/// [`open_zarr`] with `options`.
pub fn open_zarr_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Dataset> {
    open_zarr_at(&ZarrRoot::parse(path)?, options)
}

/// [`open_zarr_with`] of a root already parsed.
pub(crate) fn open_zarr_at(root: &ZarrRoot, options: &OpenOptions) -> Result<Dataset> {
    let location = root.to_string();
    let group = options.checked_group(&location)?;
    let tree = list_tree(root)?;
    let mut found = Vec::new();
    let mut global = None;
    let mut groups = Vec::new();
    for node in tree.nodes {
        let path = node.path.trim_start_matches('/');
        match node.kind {
            ZarrNodeKind::Group(attrs) if path == group => global = Some(attrs),
            ZarrNodeKind::Group(_) => groups.push(path.to_string()),
            ZarrNodeKind::Array(store) => {
                let Some(name) = member_of(path, group) else {
                    continue;
                };
                let store: Arc<dyn ChunkStore> = store?;
                let meta = store.meta().clone();
                let mut attrs = meta.attributes.clone();
                // xarray reads a v2 array's fill value as its _FillValue.
                if node.format == ZarrFormat::V2
                    && !meta.fill_value_null
                    && !attrs.contains_key("_FillValue")
                {
                    attrs.insert("_FillValue".into(), scalar_json(meta.fill_value));
                }
                found.push(Found {
                    name: name.to_string(),
                    meta,
                    attrs,
                    store,
                });
            }
        }
    }
    // A store whose root has no group document is still a store.
    let global = match global {
        None if group.is_empty() => Attrs::new(),
        global => global.ok_or_else(|| no_group(&location, group, &groups))?,
    };
    assemble(&location, found, global, options)
}

/// Opens the root group of a netCDF-4/HDF5 or netCDF-3 file (or a Zarr
/// store, as [`open_zarr`]) as a [`Dataset`], decoded by the default
/// [`OpenOptions`] (whose [`group`](OpenOptions::group) opens another
/// group of a netCDF-4/HDF5 file or Zarr store). Reads metadata and coordinates now; data lazily.
pub fn open_dataset(path: impl AsRef<Path>) -> Result<Dataset> {
    open_dataset_with(path, &OpenOptions::default())
}

/// [`open_dataset`] with `options`.
pub fn open_dataset_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let root = ZarrRoot::parse(path)?;
    if root.is_remote() {
        return open_zarr_at(&root, options);
    }
    let location = path.display().to_string();
    let mut found = Vec::new();
    let global = match container_of(path)? {
        Container::Zarr => return open_zarr_with(path, options),
        Container::Hdf5 => {
            let group = options.checked_group(&location)?;
            let (mut global, mut groups) = (None, Vec::new());
            for (name, attrs) in crate::io::hdf5::list_groups(path)? {
                if name == group {
                    global = Some(attrs);
                } else {
                    groups.push(name);
                }
            }
            let global = global.ok_or_else(|| no_group(&location, group, &groups))?;
            let datasets = crate::io::hdf5::list_datasets(path)?;
            groups.push(group.to_string());
            let phony = phony_names(path, &datasets, &groups)?;
            for (full, mut meta) in datasets {
                let Some(name) = member_of(&full, group) else {
                    continue;
                };
                if let Some(dims) = phony.get(&full) {
                    meta.dimension_names = Some(dims.iter().cloned().map(Some).collect());
                }
                let store: Arc<dyn ChunkStore> = Arc::new(Hdf5Store::open(path, &full)?);
                found.push(Found::new(name.to_string(), meta, store));
            }
            global
        }
        Container::Netcdf3 if !options.group.is_empty() => {
            return Err(no_group(&location, &options.group, &[]))
        }
        Container::Netcdf3 => {
            for (name, meta) in crate::io::netcdf3::list_variables(path)? {
                let store: Arc<dyn ChunkStore> = Arc::new(Netcdf3Store::open(path, &name, None)?);
                found.push(Found::new(name, meta, store));
            }
            crate::io::netcdf3::global_attributes(path)?
        }
    };
    assemble(&location, found, global, options)
}

/// The phony dimension names of the file's datasets, when one lacks a
/// name (else none: every dataset's layout and the dimension scales are
/// read only to name them).
fn phony_names(
    path: &Path,
    datasets: &[(String, ArrayMeta)],
    groups: &[String],
) -> Result<HashMap<String, Vec<String>>> {
    if !datasets.iter().any(|(_, m)| lacks_names(m)) {
        return Ok(HashMap::new());
    }
    Ok(phony_dims(
        &crate::io::hdf5::list_dataset_layouts(path)?,
        &crate::io::hdf5::list_dimension_scales(path)?,
        groups,
    ))
}

/// One stored variable, before it becomes a data variable or coordinate.
struct Found {
    name: String,
    meta: ArrayMeta,
    /// Its attributes as CF decoding reads them.
    attrs: Attrs,
    store: Arc<dyn ChunkStore>,
}

impl Found {
    fn new(name: String, meta: ArrayMeta, store: Arc<dyn ChunkStore>) -> Found {
        let attrs = meta.attributes.clone();
        Found {
            name,
            meta,
            attrs,
            store,
        }
    }
}

fn assemble(
    location: &str,
    found: Vec<Found>,
    mut global: Attrs,
    options: &OpenOptions,
) -> Result<Dataset> {
    // Coordinates: index variables, and what `coordinates` attributes name.
    let mut coord_names: HashSet<String> = HashSet::new();
    let mut named = |attrs: &Attrs| {
        if let Some(Value::String(list)) = attrs.get("coordinates") {
            coord_names.extend(list.split_whitespace().map(String::from));
        }
    };
    named(&global);
    for f in &found {
        named(&f.attrs);
    }
    global.remove("coordinates");
    let mut found = found;
    if options.decode_times {
        bounds_take_time_units(&mut found);
    }
    let mut ds = Dataset::default();
    let mut coords: IndexMap<String, Coord> = IndexMap::new();
    for f in found {
        let dims = dimension_names(location, &f)?;
        let is_index = dims.len() == 1 && dims[0] == f.name;
        let mut attrs = f.attrs;
        let coordinates = attrs.remove("coordinates");
        let data = DynArray::from_store(f.store)?;
        let (data, mut attrs, mut encoding) = decode::mask_and_scale(
            data,
            Stored {
                name: &f.name,
                dtype: f.meta.dtype,
                attrs: std::mem::take(&mut attrs),
                attribute_dtypes: &f.meta.attribute_dtypes,
            },
            options.mask_and_scale,
        )?;
        encoding.insert("chunks".into(), Value::from(f.meta.grid.chunk_shape()));
        if let Some(c) = coordinates {
            encoding.insert("coordinates".into(), c);
        }
        if is_index || coord_names.contains(&f.name) {
            let values = Values::load(&data)?;
            let values = decode::decode_times(
                &f.name,
                values,
                &mut attrs,
                &mut encoding,
                options.decode_times,
            )?;
            coords.insert(
                f.name,
                Coord {
                    dims,
                    values,
                    attrs,
                    encoding,
                },
            );
        } else {
            let time = match data.dtype() {
                crate::io::DType::Bool => None,
                _ => {
                    decode::time_variable(&f.name, &mut attrs, &mut encoding, options.decode_times)?
                }
            };
            ds.data_vars.insert(
                f.name,
                Variable {
                    dims,
                    data,
                    attrs,
                    encoding,
                    time,
                },
            );
        }
    }
    // Index coordinates first, as xarray lists them.
    let (index, other): (Vec<_>, Vec<_>) = coords
        .into_iter()
        .partition(|(name, c)| c.dims.len() == 1 && &c.dims[0] == name);
    ds.coords = index.into_iter().chain(other).collect();
    ds.attrs = global;
    check_sizes(location, &ds)?;
    Ok(ds)
}

/// xarray's `_update_bounds_attributes`: the variable a time's `bounds`
/// attribute names takes the time's `units` (and `calendar`) where it has
/// none of its own, so that it decodes to the same dates.
fn bounds_take_time_units(found: &mut [Found]) {
    let mut given: Vec<(String, Attrs)> = Vec::new();
    for f in found.iter() {
        let units = f.attrs.get("units").and_then(Value::as_str);
        let Some(Value::String(bounds)) = f.attrs.get("bounds") else {
            continue;
        };
        if units.is_some_and(|u| u.contains("since")) {
            let mut time = Attrs::new();
            for key in ["units", "calendar"] {
                if let Some(v) = f.attrs.get(key) {
                    time.insert(key.into(), v.clone());
                }
            }
            given.push((bounds.clone(), time));
        }
    }
    for (bounds, time) in given {
        if let Some(b) = found.iter_mut().find(|f| f.name == bounds) {
            for (key, value) in time {
                b.attrs.entry(key).or_insert(value);
            }
        }
    }
}

/// The variable's dimension names: the format's (HDF5 datasets without
/// dimension scales have been given netCDF-C's `phony_dim_<n>`), or
/// `dim_<i>` where it has none (a Zarr array without `_ARRAY_DIMENSIONS`,
/// which xarray refuses to open).
fn dimension_names(location: &str, f: &Found) -> Result<Vec<String>> {
    let names = f.meta.dimension_names.as_ref();
    let complete = names.is_some_and(|n| n.iter().all(Option::is_some));
    match names {
        Some(names) if complete => Ok(names.iter().flatten().cloned().collect()),
        _ if f.meta.grid.ndim() == 0 => Ok(Vec::new()),
        _ => Ok(f.meta.dims_or_default()),
    }
    .and_then(|dims: Vec<String>| {
        if dims.len() != f.meta.grid.ndim() {
            return Err(Error::Invalid {
                operation: format!("opening {location}"),
                message: format!(
                    "variable {:?} names {} dimensions for {} axes",
                    f.name,
                    dims.len(),
                    f.meta.grid.ndim()
                ),
            });
        }
        Ok(dims)
    })
}

/// Every dimension has one size across the variables.
fn check_sizes(location: &str, ds: &Dataset) -> Result<()> {
    let sizes = ds.sizes();
    let check = |name: &str, dims: &[String], shape: Vec<u64>| -> Result<()> {
        for (dim, len) in dims.iter().zip(shape) {
            let size = sizes
                .iter()
                .find(|(d, _)| d == dim)
                .map_or(len, |(_, s)| *s);
            if size != len {
                return Err(Error::Invalid {
                    operation: format!("opening {location}"),
                    message: format!(
                        "variable {name:?} has {len} along {dim:?}, which another variable has {size} along"
                    ),
                });
            }
        }
        Ok(())
    };
    for (name, v) in &ds.data_vars {
        check(name, &v.dims, v.data.shape())?;
    }
    for (name, c) in &ds.coords {
        check(
            name,
            &c.dims,
            c.values.shape().iter().map(|&s| s as u64).collect(),
        )?;
    }
    Ok(())
}

fn scalar_json(value: Scalar) -> Value {
    match value {
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(v) => Value::from(v),
        Scalar::UInt(v) => Value::from(v),
        Scalar::Float(v) if v.is_nan() => Value::String("NaN".into()),
        Scalar::Float(v) if v.is_infinite() => {
            Value::String(if v > 0.0 { "Infinity" } else { "-Infinity" }.into())
        }
        Scalar::Float(v) => Value::from(v),
    }
}
