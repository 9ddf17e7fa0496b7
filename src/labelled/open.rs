//! Opening a dataset lazily, as `xarray.open_zarr` / `open_dataset` do:
//! every variable of the root group, dimension names from the format
//! (`_ARRAY_DIMENSIONS`, `dimension_names`, netCDF dimensions, HDF5
//! dimension scales), coordinates (index variables, and those the CF
//! `coordinates` attribute names) loaded into memory, data variables lazy
//! on the stored chunks, and CF decoding ([`OpenOptions`]).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::dataset::Dataset;
use super::decode::{self, Stored};
use super::values::Values;
use super::variable::{Coord, Variable};
use super::Attrs;
use crate::array::DynArray;
use crate::error::{Error, Result};
use crate::io::info::{container_of, Container};
use crate::io::zarr::{list_tree, ZarrFormat, ZarrNodeKind};
use crate::io::{ArrayMeta, ChunkStore, Hdf5Store, Netcdf3Store, Scalar};

/// How [`open_zarr_with`] and [`open_dataset_with`] decode, as xarray's
/// `decode_cf`, `mask_and_scale` and `decode_times` (all on by default).
///
/// ```
/// let raw = ndchunk::OpenOptions::new().decode_cf(false);
/// let packed = ndchunk::OpenOptions::new().mask_and_scale(false);
/// # let _ = (raw, packed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    pub(crate) mask_and_scale: bool,
    pub(crate) decode_times: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            mask_and_scale: true,
            decode_times: true,
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
        }
    }

    /// `_FillValue`/`missing_value` to NaN, `scale_factor`/`add_offset`
    /// applied, `_Unsigned` honoured.
    pub fn mask_and_scale(mut self, on: bool) -> Self {
        self.mask_and_scale = on;
        self
    }

    /// Time coordinates decoded to dates from `"<unit> since <date>"`.
    pub fn decode_times(mut self, on: bool) -> Self {
        self.decode_times = on;
        self
    }
}

/// Opens the root group of the Zarr store at `path` (v2, consolidated or
/// not, or v3) as a [`Dataset`], decoded by the default [`OpenOptions`].
/// Reads metadata and coordinates now; data lazily.
pub fn open_zarr(path: impl AsRef<Path>) -> Result<Dataset> {
    open_zarr_with(path, &OpenOptions::default())
}

/// [`open_zarr`] with `options`.
pub fn open_zarr_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Dataset> {
    let root = path.as_ref();
    let tree = list_tree(root)?;
    let mut found = Vec::new();
    let mut global = Attrs::new();
    for node in tree.nodes {
        let name = node.path.trim_start_matches('/');
        match node.kind {
            ZarrNodeKind::Group(attrs) if name.is_empty() => global = attrs,
            ZarrNodeKind::Array(store) if !name.is_empty() && !name.contains('/') => {
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
            _ => {}
        }
    }
    assemble(&root.display().to_string(), found, global, options)
}

/// Opens the root group of a netCDF-4/HDF5 or netCDF-3 file (or a Zarr
/// store, as [`open_zarr`]) as a [`Dataset`], decoded by the default
/// [`OpenOptions`]. Reads metadata and coordinates now; data lazily.
pub fn open_dataset(path: impl AsRef<Path>) -> Result<Dataset> {
    open_dataset_with(path, &OpenOptions::default())
}

/// [`open_dataset`] with `options`.
pub fn open_dataset_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Dataset> {
    let path = path.as_ref();
    let mut found = Vec::new();
    let global = match container_of(path)? {
        Container::Zarr => return open_zarr_with(path, options),
        Container::Hdf5 => {
            for (name, meta) in crate::io::hdf5::list_datasets(path)? {
                if name.contains('/') {
                    continue;
                }
                let store: Arc<dyn ChunkStore> = Arc::new(Hdf5Store::open(path, &name)?);
                found.push(Found::new(name, meta, store));
            }
            crate::io::hdf5::list_groups(path)?
                .into_iter()
                .find(|(name, _)| name.is_empty())
                .map(|(_, attrs)| attrs)
                .unwrap_or_default()
        }
        Container::Netcdf3 => {
            for (name, meta) in crate::io::netcdf3::list_variables(path)? {
                let store: Arc<dyn ChunkStore> = Arc::new(Netcdf3Store::open(path, &name, None)?);
                found.push(Found::new(name, meta, store));
            }
            crate::io::netcdf3::global_attributes(path)?
        }
    };
    assemble(&path.display().to_string(), found, global, options)
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
            ds.data_vars.insert(
                f.name,
                Variable {
                    dims,
                    data,
                    attrs,
                    encoding,
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

/// The variable's dimension names: the format's, or `dim_<i>` where it
/// has none (an HDF5 dataset without dimension scales, a Zarr array
/// without `_ARRAY_DIMENSIONS`, which xarray refuses to open).
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
