//! Renaming, adding and dropping dimensions and variables, reordering
//! dimensions, and computing: the bookkeeping operations of xarray's
//! `DataArray` and `Dataset` (`rename`, `assign_coords`, `drop_vars`,
//! `expand_dims`, `squeeze`, `transpose`, `compute`, `persist`).

use std::sync::Arc;

use indexmap::IndexMap;

use super::data_array::DataArray;
use super::dataset::Dataset;
use super::variable::{Coord, Variable};
use crate::array::{store_many, DynArray};
use crate::error::{Error, Result};
use crate::exec::run::{ComputeOptions, ComputeReport};
use crate::io::{ArrayMeta, ChunkStore, MemoryStore, Scalar};
use crate::ops::Index;

/// `name` after `renames` (old → new).
fn renamed(name: &str, renames: &[(&str, &str)]) -> String {
    renames
        .iter()
        .find(|(old, _)| *old == name)
        .map_or(name, |(_, new)| new)
        .to_string()
}

fn rename_dims(dims: &[String], renames: &[(&str, &str)]) -> Vec<String> {
    dims.iter().map(|d| renamed(d, renames)).collect()
}

/// An error when renaming would give one variable a dimension twice.
fn distinct_dims(dims: &[String], renames: &[(&str, &str)]) -> Result<()> {
    let after = rename_dims(dims, renames);
    for (i, d) in after.iter().enumerate() {
        if after[..i].contains(d) {
            return Err(Error::Invalid {
                operation: "rename".into(),
                message: format!("({}) would name dimension {d:?} twice", dims.join(", ")),
            });
        }
    }
    Ok(())
}

fn rename_coords(
    coords: &IndexMap<String, Coord>,
    renames: &[(&str, &str)],
) -> IndexMap<String, Coord> {
    coords
        .iter()
        .map(|(k, c)| {
            let mut c = c.clone();
            c.dims = rename_dims(&c.dims, renames);
            (renamed(k, renames), c)
        })
        .collect()
}

/// Every name of `renames` is one of `known`, and no two names collide.
fn check_renames<'a>(
    renames: &[(&str, &str)],
    known: impl Iterator<Item = &'a String> + Clone,
    after: Vec<String>,
) -> Result<()> {
    for (old, _) in renames {
        if !known.clone().any(|k| k == old) {
            return Err(super::unknown("variable or dimension", old, known));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for name in &after {
        if !seen.insert(name) {
            return Err(Error::Invalid {
                operation: "rename".into(),
                message: format!("two variables would be called {name:?}"),
            });
        }
    }
    Ok(())
}

impl DataArray {
    /// Coordinates and dimensions renamed (`[("lat", "latitude")]`), as
    /// xarray's `rename` with a mapping.
    pub fn rename(&self, renames: &[(&str, &str)]) -> Result<DataArray> {
        let known: Vec<String> = self
            .dims()
            .iter()
            .chain(self.coords.keys())
            .cloned()
            .collect();
        let after: Vec<String> = self.coords.keys().map(|k| renamed(k, renames)).collect();
        check_renames(renames, known.iter(), after)?;
        distinct_dims(self.dims(), renames)?;
        let mut out = self.clone();
        out.variable.dims = rename_dims(self.dims(), renames);
        out.coords = rename_coords(&self.coords, renames);
        Ok(out)
    }

    /// Without the coordinates `names` (each must exist).
    pub fn drop_vars(&self, names: &[&str]) -> Result<DataArray> {
        let mut out = self.clone();
        for name in names {
            out.coords
                .shift_remove(*name)
                .ok_or_else(|| super::unknown("coordinate", name, self.coords.keys()))?;
        }
        Ok(out)
    }

    /// A new leading dimension `dim` of length 1.
    pub fn expand_dims(&self, dim: &str) -> Result<DataArray> {
        if self.dims().iter().any(|d| d == dim) {
            return Err(Error::Invalid {
                operation: format!("expand_dims({dim:?})"),
                message: "the array has that dimension already".into(),
            });
        }
        let mut out = self.clone();
        out.variable = expand(&self.variable, dim);
        Ok(out)
    }

    /// Without its length-1 dimensions (their coordinates become scalars).
    pub fn squeeze(&self) -> Result<DataArray> {
        let mut out = self.clone();
        for (dim, size) in self.sizes() {
            if size == 1 {
                out = out.isel(&dim, Index::At(0))?;
            }
        }
        Ok(out)
    }

    /// This array with the data computed once and held in memory (chunks
    /// as they are), for reuse by later expressions.
    pub fn persist(&self) -> Result<DataArray> {
        let mut out = self.clone();
        out.variable.data = persist_all(&[&self.variable.data], &default_options())?.0[0].clone();
        Ok(out)
    }
}

fn expand(var: &Variable, dim: &str) -> Variable {
    let mut v = var.clone();
    v.data = var.data.expand_dims(0);
    v.dims.insert(0, dim.to_string());
    v
}

fn default_options() -> ComputeOptions {
    ComputeOptions::new().progress(false)
}

/// Every array computed in one run into memory, each then an array over
/// its computed chunks.
fn persist_all(
    arrays: &[&DynArray],
    options: &ComputeOptions,
) -> Result<(Vec<DynArray>, ComputeReport)> {
    let stores: Vec<Arc<MemoryStore>> = arrays
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let zero = match a.dtype() {
                d if d.is_float() => Scalar::Float(0.0),
                crate::io::DType::Bool => Scalar::Bool(false),
                _ => Scalar::Int(0),
            };
            let meta = ArrayMeta::new(a.grid().clone(), a.dtype(), zero);
            Arc::new(MemoryStore::new(format!("persisted-{i}"), meta))
        })
        .collect();
    let pairs: Vec<(&DynArray, &dyn ChunkStore)> = arrays
        .iter()
        .zip(&stores)
        .map(|(a, s)| (*a, s.as_ref() as &dyn ChunkStore))
        .collect();
    let report = store_many(&pairs, options)?;
    let arrays = stores
        .into_iter()
        .map(|s| DynArray::from_store(s as Arc<dyn ChunkStore>))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, report))
}

impl Dataset {
    /// Variables, coordinates and dimensions renamed (`[("t2m", "tas"),
    /// ("lat", "latitude")]`), as xarray's `rename`.
    pub fn rename(&self, renames: &[(&str, &str)]) -> Result<Dataset> {
        let sizes = self.sizes();
        let known: Vec<String> = self
            .data_vars
            .keys()
            .chain(self.coords.keys())
            .cloned()
            .chain(sizes.into_iter().map(|(d, _)| d))
            .collect();
        let after: Vec<String> = self
            .data_vars
            .keys()
            .chain(self.coords.keys())
            .map(|k| renamed(k, renames))
            .collect();
        check_renames(renames, known.iter(), after)?;
        for dims in self
            .data_vars
            .values()
            .map(|v| &v.dims)
            .chain(self.coords.values().map(|c| &c.dims))
        {
            distinct_dims(dims, renames)?;
        }
        Ok(Dataset {
            data_vars: self
                .data_vars
                .iter()
                .map(|(k, v)| {
                    let mut v = v.clone();
                    v.dims = rename_dims(&v.dims, renames);
                    (renamed(k, renames), v)
                })
                .collect(),
            coords: rename_coords(&self.coords, renames),
            attrs: self.attrs.clone(),
        })
    }

    /// Without the variables (data variables or coordinates) `names`.
    pub fn drop_vars(&self, names: &[&str]) -> Result<Dataset> {
        let mut out = self.clone();
        for name in names {
            let gone = out.data_vars.shift_remove(*name).is_some()
                || out.coords.shift_remove(*name).is_some();
            if !gone {
                return Err(super::unknown(
                    "variable",
                    name,
                    self.data_vars.keys().chain(self.coords.keys()),
                ));
            }
        }
        Ok(out)
    }

    /// A new leading dimension `dim` of length 1 on every data variable.
    pub fn expand_dims(&self, dim: &str) -> Result<Dataset> {
        if self.sizes().iter().any(|(d, _)| d == dim) {
            return Err(Error::Invalid {
                operation: format!("expand_dims({dim:?})"),
                message: "the dataset has that dimension already".into(),
            });
        }
        let mut out = self.clone();
        for v in out.data_vars.values_mut() {
            *v = expand(v, dim);
        }
        Ok(out)
    }

    /// Without its length-1 dimensions.
    pub fn squeeze(&self) -> Result<Dataset> {
        let mut out = self.clone();
        for (dim, size) in self.sizes() {
            if size == 1 {
                out = out.isel(&dim, Index::At(0))?;
            }
        }
        Ok(out)
    }

    /// Every data variable's dimensions in the order `dims` gives (each
    /// variable keeps those it has, in that order); `dims` must name every
    /// dimension of the dataset.
    pub fn transpose(&self, dims: &[&str]) -> Result<Dataset> {
        let all: Vec<String> = self.sizes().into_iter().map(|(d, _)| d).collect();
        super::permutation(&all, dims)?;
        let mut out = self.clone();
        for v in out.data_vars.values_mut() {
            let order: Vec<&str> = dims
                .iter()
                .copied()
                .filter(|d| v.dims.iter().any(|x| x == d))
                .collect();
            let axes = super::permutation(&v.dims, &order)?;
            v.data = v.data.transpose(&axes);
            v.dims = order.iter().map(|d| d.to_string()).collect();
        }
        Ok(out)
    }

    /// Every data variable computed in one run (each source chunk read
    /// once for all of them) and held in memory: xarray's `persist` (and
    /// `load`/`compute`, whose values then read from memory).
    pub fn persist(&self) -> Result<Dataset> {
        Ok(self.persist_with(&default_options())?.0)
    }

    /// [`Dataset::persist`] within `options`.
    pub fn persist_with(&self, options: &ComputeOptions) -> Result<(Dataset, ComputeReport)> {
        let arrays: Vec<&DynArray> = self.data_vars.values().map(|v| &v.data).collect();
        let (computed, report) = persist_all(&arrays, options)?;
        let mut out = self.clone();
        for (v, data) in out.data_vars.values_mut().zip(computed) {
            v.data = data;
        }
        Ok((out, report))
    }
}
