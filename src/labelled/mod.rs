//! The labelled layer (Xarray's half of ndchunk): [`DataArray`] and
//! [`Dataset`], opened from Zarr, netCDF-4/HDF5 and netCDF-3 with CF
//! decoding ([`open_zarr`], [`open_dataset`]), selected by label
//! ([`Sel`]) and by position, reduced by dimension name, and written back
//! as xarray writes them ([`Dataset::to_zarr`]). Coordinates are held in
//! memory ([`Values`]); data stays lazy. CF time: the calendars of model
//! output and the `"<unit> since <date>"` encoding, as cftime reads and
//! writes them.
//!
//! Every operation here builds its data from the engine's serialisable
//! operations (its element-by-element steps are named kernels, not
//! closures), so a pipeline from `open_dataset`/`open_zarr` to `to_zarr`
//! can be saved as a plan file and run by other processes, as shards:
//! [`Dataset::save_plan`] (see [`PlanFile`](crate::PlanFile) for what a
//! plan file holds). What stays local: a `persist`ed dataset, and data the
//! user made with a closure or from memory; saving those is refused,
//! naming the operation.

mod align;
mod arith;
mod attrs;
mod calendar;
mod cf_time;
mod coarsen;
mod data_array;
mod dataset;
mod decode;
mod display;
mod encode;
mod group_quantile;
mod groupby;
mod open;
mod phony_dims;
mod quantile;
mod resample;
mod rolling;
mod select;
mod shape;
mod values;
mod variable;
mod weighted;
mod write;
mod write_into;

use indexmap::IndexMap;

pub use align::Join;
pub use arith::Arith;
pub use attrs::KeepAttrs;
pub use calendar::Calendar;
pub use cf_time::{time_encoding, CfDatetime, TimeUnit, TimeUnits};
pub use coarsen::{Coarsen, CoarsenBoundary};
pub use data_array::DataArray;
pub use dataset::Dataset;
pub(crate) use group_quantile::{group_quantiles, Stat as GroupQuantile};
pub use groupby::{DatasetGroupBy, GroupBy};
pub use open::{open_dataset, open_dataset_with, open_zarr, open_zarr_with, OpenOptions};
pub(crate) use quantile::nanquantile_along;
pub(crate) use rolling::rolling_extremes;
pub use rolling::Rolling;
pub use select::{Label, Nearest, Sel};
pub use values::Values;
pub use variable::Coord;
pub use weighted::Weighted;
pub use write::ZarrWriteOptions;

use crate::error::{Error, Result};

/// Attributes (and encodings): names to JSON values, as Zarr stores them.
pub type Attrs = serde_json::Map<String, serde_json::Value>;

/// The dimensions a reduction runs over: one name, several, or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dims {
    /// Every dimension.
    All,
    /// These dimensions.
    Named(Vec<String>),
}

impl Dims {
    /// The names, checked against `dims` (those there are).
    pub(crate) fn resolve(self, dims: &[String]) -> Result<Vec<String>> {
        match self {
            Dims::All => Ok(dims.to_vec()),
            Dims::Named(names) => {
                for name in &names {
                    if !dims.contains(name) {
                        return Err(unknown("dimension", name, dims.iter()));
                    }
                }
                Ok(names)
            }
        }
    }
}

impl From<&str> for Dims {
    fn from(name: &str) -> Dims {
        Dims::Named(vec![name.to_string()])
    }
}

impl From<&[&str]> for Dims {
    fn from(names: &[&str]) -> Dims {
        Dims::Named(names.iter().map(|n| n.to_string()).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Dims {
    fn from(names: [&str; N]) -> Dims {
        Dims::Named(names.iter().map(|n| n.to_string()).collect())
    }
}

/// "unknown dimension "x"; there are: a, b".
pub(crate) fn unknown<'a>(
    what: &str,
    name: &str,
    there: impl Iterator<Item = &'a String>,
) -> Error {
    let names: Vec<String> = there.map(|n| format!("{n:?}")).collect();
    Error::Invalid {
        operation: format!("{what} {name:?}"),
        message: if names.is_empty() {
            format!("no {what} of that name: there are none")
        } else {
            format!("no {what} of that name; there are {}", names.join(", "))
        },
    }
}

/// The index of `dim`: its 1-D coordinate of the same name.
pub(crate) fn index_of<'a>(coords: &'a IndexMap<String, Coord>, dim: &str) -> Result<&'a Values> {
    match coords.get(dim) {
        Some(c) if c.dims.len() == 1 && c.dims[0] == dim => Ok(&c.values),
        _ => Err(Error::Invalid {
            operation: format!("sel on {dim:?}"),
            message: format!(
                "dimension {dim:?} has no index (a 1-D coordinate named {dim:?}): select by position with isel"
            ),
        }),
    }
}

/// The coordinates that have none of `dims`.
pub(crate) fn coords_without(
    coords: &IndexMap<String, Coord>,
    dims: &[String],
) -> IndexMap<String, Coord> {
    coords
        .iter()
        .filter(|(_, c)| !c.dims.iter().any(|d| dims.contains(d)))
        .map(|(k, c)| (k.clone(), c.clone()))
        .collect()
}

/// The axes of `dims` in the order `order` names them (all, once each).
pub(crate) fn permutation(dims: &[String], order: &[&str]) -> Result<Vec<usize>> {
    let mut axes = Vec::with_capacity(order.len());
    for name in order {
        let axis = dims
            .iter()
            .position(|d| d == name)
            .ok_or_else(|| unknown("dimension", name, dims.iter()))?;
        if axes.contains(&axis) {
            return Err(Error::Invalid {
                operation: "transpose".into(),
                message: format!("dimension {name:?} is named twice"),
            });
        }
        axes.push(axis);
    }
    if axes.len() != dims.len() {
        return Err(Error::Invalid {
            operation: "transpose".into(),
            message: format!(
                "{} dimensions named for {} ({})",
                axes.len(),
                dims.len(),
                dims.join(", ")
            ),
        });
    }
    Ok(axes)
}

/// Checks that `coord`'s dimensions exist (`size_of` knows their sizes)
/// with the sizes its values have.
pub(crate) fn check_coord(
    name: &str,
    coord: &Coord,
    size_of: &dyn Fn(&str) -> Option<u64>,
) -> Result<()> {
    for (dim, &len) in coord.dims.iter().zip(coord.values.shape()) {
        match size_of(dim) {
            Some(size) if size == len as u64 => {}
            Some(size) => {
                return Err(Error::Invalid {
                    operation: format!("coordinate {name:?}"),
                    message: format!("has {len} values along {dim:?}, which has {size}"),
                })
            }
            None => {
                return Err(Error::Invalid {
                    operation: format!("coordinate {name:?}"),
                    message: format!("is along {dim:?}, which the array does not have"),
                })
            }
        }
    }
    Ok(())
}
