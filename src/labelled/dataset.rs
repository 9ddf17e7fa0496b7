//! `Dataset`: lazy data variables sharing dimensions, in-memory
//! coordinates, and attributes.

use indexmap::IndexMap;

use super::data_array::DataArray;
use super::select::{self, Pick, Sel};
use super::values::Values;
use super::variable::{Coord, TimeEncoding, Variable};
use super::{Attrs, Dims};
use crate::array::Reduction;
use crate::error::{Error, Result};
use crate::ops::Index;

/// Data variables sharing dimensions, with coordinates and attributes, as
/// xarray's `Dataset`. Operations apply to every data variable that has
/// the dimension they name.
///
/// ```
/// use ndchunk::{Array, DataArray, Dataset};
/// let t = DataArray::new(Array::<f32>::zeros(&[4, 3], [2, 3]).unwrap(), &["time", "x"]).unwrap();
/// let ds = Dataset::new().with_var("t", t).unwrap();
/// assert_eq!(ds.sizes(), [("time".to_string(), 4), ("x".to_string(), 3)]);
/// let first = ds.isel("time", 0).unwrap();
/// assert_eq!(first.get("t").unwrap().dims(), ["x"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub(crate) data_vars: IndexMap<String, Variable>,
    pub(crate) coords: IndexMap<String, Coord>,
    pub(crate) attrs: Attrs,
}

impl Dataset {
    /// An empty dataset.
    pub fn new() -> Dataset {
        Dataset::default()
    }

    /// This dataset with `array` as the data variable `name`, and its
    /// coordinates (which must agree with those already here).
    pub fn with_var(mut self, name: &str, array: DataArray) -> Result<Dataset> {
        for (dim, size) in array.sizes() {
            if let Some(have) = self.size(&dim) {
                if have != size {
                    return Err(Error::Invalid {
                        operation: format!("data variable {name:?}"),
                        message: format!(
                            "dimension {dim:?} has size {size}, and {have} in the dataset"
                        ),
                    });
                }
            }
        }
        for (coord_name, coord) in &array.coords {
            match self.coords.get(coord_name) {
                Some(have) if have != coord => {
                    return Err(Error::Invalid {
                        operation: format!("data variable {name:?}"),
                        message: format!(
                            "its coordinate {coord_name:?} differs from the dataset's"
                        ),
                    })
                }
                _ => {
                    self.coords.insert(coord_name.clone(), coord.clone());
                }
            }
        }
        self.data_vars.insert(name.to_string(), array.variable);
        Ok(self)
    }

    /// This dataset with the coordinate `coord` called `name`.
    pub fn with_coord(mut self, name: &str, coord: Coord) -> Result<Dataset> {
        let sizes = self.sizes();
        let size_of = |d: &str| sizes.iter().find(|(n, _)| n == d).map(|(_, s)| *s);
        // A coordinate may bring a dimension of its own.
        let known = |d: &str| {
            size_of(d).or_else(|| {
                coord
                    .dims
                    .iter()
                    .position(|c| c == d)
                    .map(|a| coord.values.shape()[a] as u64)
            })
        };
        super::check_coord(name, &coord, &known)?;
        self.coords.insert(name.to_string(), coord);
        Ok(self)
    }

    /// This dataset with attributes `attrs`.
    pub fn with_attrs(mut self, attrs: Attrs) -> Dataset {
        self.attrs = attrs;
        self
    }

    /// The names of the data variables, in order.
    pub fn data_vars(&self) -> impl Iterator<Item = &str> {
        self.data_vars.keys().map(String::as_str)
    }

    /// The coordinates.
    pub fn coords(&self) -> &IndexMap<String, Coord> {
        &self.coords
    }

    /// The global attributes.
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }

    /// Every dimension with its size, in the order first met (data
    /// variables, then coordinates).
    pub fn sizes(&self) -> Vec<(String, u64)> {
        let mut sizes: Vec<(String, u64)> = Vec::new();
        let mut add = |dim: &String, len: u64| {
            if !sizes.iter().any(|(d, _)| d == dim) {
                sizes.push((dim.clone(), len));
            }
        };
        for var in self.data_vars.values() {
            for (dim, len) in var.dims.iter().zip(var.data.shape()) {
                add(dim, len);
            }
        }
        for coord in self.coords.values() {
            for (dim, &len) in coord.dims.iter().zip(coord.values.shape()) {
                add(dim, len as u64);
            }
        }
        sizes
    }

    fn size(&self, dim: &str) -> Option<u64> {
        self.sizes()
            .into_iter()
            .find(|(d, _)| d == dim)
            .map(|(_, s)| s)
    }

    /// The data variable `name` as a [`DataArray`] with the coordinates
    /// along its dimensions; a coordinate's name gives the coordinate.
    pub fn get(&self, name: &str) -> Result<DataArray> {
        if let Some(var) = self.data_vars.get(name) {
            let coords = self
                .coords
                .iter()
                .filter(|(_, c)| c.dims.iter().all(|d| var.dims.contains(d)))
                .map(|(k, c)| (k.clone(), c.clone()))
                .collect();
            return Ok(DataArray {
                name: Some(name.to_string()),
                variable: var.clone(),
                coords,
            });
        }
        if let Some(coord) = self.coords.get(name) {
            return coord_as_array(name, coord, &self.coords);
        }
        Err(super::unknown(
            "variable",
            name,
            self.data_vars.keys().chain(self.coords.keys()),
        ))
    }

    /// Selection by position along `dim` in every variable that has it
    /// (see [`DataArray::isel`]).
    pub fn isel(&self, dim: &str, index: impl Into<Index>) -> Result<Dataset> {
        let len = self
            .size(dim)
            .ok_or_else(|| super::unknown("dimension", dim, self.sizes().iter().map(|(d, _)| d)))?;
        let (positions, drop) =
            index
                .into()
                .positions(0, len)
                .map_err(|message| Error::Invalid {
                    operation: format!("isel on {dim:?}"),
                    message,
                })?;
        Ok(self.apply(dim, &Pick { positions, drop }))
    }

    /// Selection by label along `dim` (see [`DataArray::sel`]).
    pub fn sel(&self, dim: &str, sel: impl Into<Sel>) -> Result<Dataset> {
        if self.size(dim).is_none() {
            let sizes = self.sizes();
            return Err(super::unknown(
                "dimension",
                dim,
                sizes.iter().map(|(d, _)| d),
            ));
        }
        let index = super::index_of(&self.coords, dim)?;
        let pick = select::resolve(index, dim, &sel.into())?;
        Ok(self.apply(dim, &pick))
    }

    /// `reduction` over `dims` of every data variable, as xarray's: one
    /// without any of them is reduced over no axis (itself for a sum,
    /// mean, minimum or maximum; zeros, or NaN, for a `std` or `var`).
    ///
    /// ```
    /// use ndchunk::{Array, DataArray, Dataset};
    /// let t = DataArray::new(Array::<f64>::ones(&[4, 3], [2, 3]).unwrap(), &["time", "x"]).unwrap();
    /// let depth = DataArray::new(Array::<i32>::ones(&[3], [3]).unwrap(), &["x"]).unwrap();
    /// let ds = Dataset::new().with_var("t", t).unwrap().with_var("depth", depth).unwrap();
    /// let spread = ds.std("time", 0).unwrap();
    /// assert_eq!(spread.get("depth").unwrap().values::<f64>().unwrap().sum(), 0.0);
    /// assert_eq!(ds.mean("time").unwrap().get("depth").unwrap().dtype().name(), "int32");
    /// ```
    pub fn reduce(
        &self,
        reduction: Reduction,
        dims: impl Into<Dims>,
        skipna: Option<bool>,
    ) -> Result<Dataset> {
        let all: Vec<String> = self.sizes().into_iter().map(|(d, _)| d).collect();
        let dims = dims.into().resolve(&all)?;
        let skipna = skipna.unwrap_or(true);
        let data_vars = self
            .data_vars
            .iter()
            .map(|(name, var)| {
                if let Some(time) = &var.time {
                    if !super::variable::on_dates(reduction) {
                        return Err(time.refuse(name, reduction.name()));
                    }
                }
                let reduced = if var.dims.iter().any(|d| dims.contains(d)) {
                    var.reduce(reduction, &dims, skipna)
                } else {
                    var.reduce_over_no_axis(reduction)
                };
                Ok((name.clone(), reduced))
            })
            .collect::<Result<_>>()?;
        Ok(Dataset {
            data_vars,
            coords: super::coords_without(&self.coords, &dims),
            attrs: super::attrs::kept(&self.attrs),
        })
    }

    /// The mean over `dims` (NaNs skipped).
    pub fn mean(&self, dims: impl Into<Dims>) -> Result<Dataset> {
        self.reduce(Reduction::Mean, dims, None)
    }

    /// The standard deviation over `dims` with `ddof` (NaNs skipped).
    pub fn std(&self, dims: impl Into<Dims>, ddof: u64) -> Result<Dataset> {
        self.reduce(Reduction::Std { ddof }, dims, None)
    }

    fn apply(&self, dim: &str, pick: &Pick) -> Dataset {
        Dataset {
            data_vars: self
                .data_vars
                .iter()
                .map(|(k, v)| (k.clone(), v.isel(dim, pick)))
                .collect(),
            coords: self
                .coords
                .iter()
                .map(|(k, c)| (k.clone(), c.isel(dim, pick)))
                .collect(),
            attrs: self.attrs.clone(),
        }
    }
}

/// A coordinate as a DataArray: its values as one in-memory chunk.
fn coord_as_array(
    name: &str,
    coord: &Coord,
    coords: &IndexMap<String, Coord>,
) -> Result<DataArray> {
    // Dates become a time variable: their numbers in the coordinate's
    // encoding (or units xarray would infer), as xarray's `ds["time"]`.
    let (data, time) = match &coord.values {
        Values::Time(dates) if !dates.is_empty() => {
            let (numbers, units, _) = super::encode::encode_times(name, dates, &coord.encoding)?;
            let calendar = dates.iter().next().map(|d| d.calendar);
            let time = calendar.map(|calendar| -> Result<TimeEncoding> {
                Ok(TimeEncoding {
                    units: units.parse()?,
                    calendar,
                })
            });
            (numbers, time.transpose()?)
        }
        values => (values.to_dyn_array(&format!("coordinate {name:?}"))?, None),
    };
    Ok(DataArray {
        name: Some(name.to_string()),
        variable: Variable {
            dims: coord.dims.clone(),
            data,
            attrs: coord.attrs.clone(),
            encoding: coord.encoding.clone(),
            time,
        },
        coords: coords
            .iter()
            .filter(|(_, c)| c.dims.iter().all(|d| coord.dims.contains(d)))
            .map(|(k, c)| (k.clone(), c.clone()))
            .collect(),
    })
}
