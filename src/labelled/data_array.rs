//! `DataArray`: one lazy variable with its name, dimension names,
//! coordinates, attributes and encoding.

use indexmap::IndexMap;
use ndarray::ArrayD;

use super::select::{self, Pick, Sel};
use super::variable::{Coord, Variable};
use super::{Attrs, Dims};
use crate::array::{DynArray, DynElement, Reduction};
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::Index;

/// A labelled lazy array, as xarray's `DataArray`: a chunked [`DynArray`]
/// with a name for each axis, coordinates held in memory (indexes along
/// dimensions, and others such as 2-D lat/lon), attributes and encoding.
/// Selections and reductions name dimensions, not axes.
///
/// ```
/// use ndchunk::{Array, Coord, DataArray, Sel, Values};
/// let values = ndarray::Array::from_shape_fn((3, 4), |(i, j)| (4 * i + j) as f64);
/// let data = Array::from_ndarray(values.into_dyn(), [2, 4]).unwrap();
/// let lat = Coord::new(&["lat"], Values::float(ndarray::arr1(&[10.0, 20.0, 30.0]).into_dyn())).unwrap();
/// let t = DataArray::new(data, &["lat", "lon"]).unwrap()
///     .with_name("t")
///     .with_coord("lat", lat).unwrap();
/// let row = t.sel("lat", Sel::range(15.0, 30.0)).unwrap().mean("lon").unwrap();
/// assert_eq!(row.dims(), ["lat"]);
/// assert_eq!(row.values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![5.5, 9.5]);
/// ```
#[derive(Debug, Clone)]
pub struct DataArray {
    pub(crate) name: Option<String>,
    pub(crate) variable: Variable,
    pub(crate) coords: IndexMap<String, Coord>,
}

impl DataArray {
    /// `data` with one dimension name per axis, no coordinates.
    pub fn new(data: impl Into<DynArray>, dims: &[&str]) -> Result<DataArray> {
        let data = data.into();
        if dims.len() != data.ndim() {
            return Err(Error::Invalid {
                operation: "DataArray::new".into(),
                message: format!(
                    "{} dimension names for a {}-dimensional array",
                    dims.len(),
                    data.ndim()
                ),
            });
        }
        let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
        if let Some(d) = dims
            .iter()
            .enumerate()
            .find(|(i, d)| dims[..*i].contains(d))
        {
            return Err(Error::Invalid {
                operation: "DataArray::new".into(),
                message: format!("dimension {:?} is named twice", d.1),
            });
        }
        Ok(DataArray {
            name: None,
            variable: Variable::new(dims, data),
            coords: IndexMap::new(),
        })
    }

    /// This array named `name`.
    pub fn with_name(mut self, name: &str) -> DataArray {
        self.name = Some(name.to_string());
        self
    }

    /// This array with the coordinate `coord` called `name` (replacing one
    /// of that name); its dimensions must be the array's, of the same sizes.
    pub fn with_coord(mut self, name: &str, coord: Coord) -> Result<DataArray> {
        let sizes = self.sizes();
        super::check_coord(name, &coord, &|d| {
            sizes.iter().find(|(n, _)| n == d).map(|(_, s)| *s)
        })?;
        self.coords.insert(name.to_string(), coord);
        Ok(self)
    }

    /// This array with attributes `attrs`.
    pub fn with_attrs(mut self, attrs: Attrs) -> DataArray {
        self.variable.attrs = attrs;
        self
    }

    /// This array with `data` (of the same dimensions) computed from it:
    /// name, coordinates and attributes kept, encoding dropped (see
    /// [`super::attrs`]).
    pub(crate) fn with_data(&self, data: DynArray) -> DataArray {
        DataArray {
            name: self.name.clone(),
            variable: self.variable.derived(self.variable.dims.clone(), data),
            coords: self.coords.clone(),
        }
    }

    /// The name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The dimension names, one per axis.
    pub fn dims(&self) -> &[String] {
        &self.variable.dims
    }

    /// The shape.
    pub fn shape(&self) -> Vec<u64> {
        self.variable.data.shape()
    }

    /// Each dimension with its size, in axis order.
    pub fn sizes(&self) -> Vec<(String, u64)> {
        self.dims().iter().cloned().zip(self.shape()).collect()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.variable.data.dtype()
    }

    /// The lazy data.
    pub fn data(&self) -> &DynArray {
        &self.variable.data
    }

    /// The coordinates, in the order they were added.
    pub fn coords(&self) -> &IndexMap<String, Coord> {
        &self.coords
    }

    /// The coordinate `name`, or an error naming the ones there are.
    pub fn coord(&self, name: &str) -> Result<&Coord> {
        self.coords
            .get(name)
            .ok_or_else(|| super::unknown("coordinate", name, self.coords.keys()))
    }

    /// The attributes.
    pub fn attrs(&self) -> &Attrs {
        &self.variable.attrs
    }

    /// How the data was stored (`dtype`, `scale_factor`, `_FillValue`, …).
    pub fn encoding(&self) -> &Attrs {
        &self.variable.encoding
    }

    /// Computes the data into memory as `T` (converting as numpy's
    /// `astype` when the dtype differs). A time variable's values are
    /// dates: see [`DataArray::times`].
    pub fn values<T: DynElement>(&self) -> Result<ArrayD<T>> {
        if let Some(time) = &self.variable.time {
            return Err(Error::Invalid {
                operation: format!("values of {:?}", self.label()),
                message: format!(
                    "a time variable's values are dates (in {}): compute them with times()",
                    time.describe()
                ),
            });
        }
        self.variable.data.astype::<T>().compute()
    }

    /// Whether this is a time variable: a data variable whose CF
    /// attributes said `"<unit> since <date>"` (decoded on open, as
    /// xarray decodes it, unless `decode_times(false)`), or a minimum,
    /// maximum, mean or selection of one. Its values are dates
    /// ([`DataArray::times`]); the stored numbers stay lazy beneath.
    pub fn is_time(&self) -> bool {
        self.variable.time.is_some()
    }

    /// The `units` and calendar a time variable's numbers count its dates
    /// in (`None` for another array).
    pub fn time_units(&self) -> Option<(&super::TimeUnits, super::Calendar)> {
        self.variable.time.as_ref().map(|t| (&t.units, t.calendar))
    }

    /// Computes a time variable's dates (in its calendar; NaT where
    /// masked), as xarray's `values` of a decoded time variable: the type
    /// a time coordinate's [`Values::Time`](super::Values::Time) holds.
    /// An error for an array that is not one.
    ///
    /// ```
    /// use ndchunk::{open_zarr, Array, Calendar, DataArray, Dataset};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = dir.path().join("frost.zarr");
    /// let attrs = serde_json::json!({"units": "days since 2000-01-01", "calendar": "noleap"});
    /// let days = Array::from_ndarray(ndarray::arr2(&[[58, 59], [60, 61]]).into_dyn(), [2, 2]).unwrap();
    /// let frost = DataArray::new(days, &["year", "x"]).unwrap().with_attrs(attrs.as_object().unwrap().clone());
    /// Dataset::new().with_var("frost", frost).unwrap().to_zarr(&store).unwrap();
    ///
    /// let frost = open_zarr(&store).unwrap().get("frost").unwrap();
    /// assert!(frost.is_time());
    /// let dates = frost.times().unwrap();
    /// assert_eq!(dates[[0, 0]].to_string(), "2000-02-28 00:00:00");
    /// assert_eq!(dates[[0, 1]].to_string(), "2000-03-01 00:00:00"); // no 29 February
    /// assert_eq!(frost.max("year").unwrap().times().unwrap()[[1]].to_string(), "2000-03-03 00:00:00");
    /// assert_eq!(frost.mean("x").unwrap().times().unwrap()[[0]].to_string(), "2000-02-28 12:00:00");
    /// // What is not defined on dates is refused, naming the variable.
    /// assert!(frost.sum("year").unwrap_err().to_string().contains("\"frost\" is a time variable"));
    /// assert!(frost.values::<f64>().is_err());
    /// ```
    pub fn times(&self) -> Result<ArrayD<super::CfDatetime>> {
        let name = self.label();
        self.variable.times(&name)?.ok_or_else(|| Error::Invalid {
            operation: format!("times of {name:?}"),
            message: format!(
                "not a time variable ({}): its values are numbers",
                self.dtype().name()
            ),
        })
    }

    /// The name for messages.
    pub(crate) fn label(&self) -> String {
        self.name.clone().unwrap_or_else(|| "<unnamed>".into())
    }

    /// An error when this is a time variable: `operation` is not defined on
    /// dates.
    pub(crate) fn refuse_time(&self, operation: &str) -> Result<()> {
        match &self.variable.time {
            Some(time) => Err(time.refuse(&self.label(), operation)),
            None => Ok(()),
        }
    }

    /// Selection by position along `dim`, as xarray's `isel`: an integer
    /// drops the dimension (keeping its coordinates as scalars), a range
    /// keeps it.
    pub fn isel(&self, dim: &str, index: impl Into<Index>) -> Result<DataArray> {
        let pick = self.position_pick(dim, index.into())?;
        Ok(self.apply(dim, &pick))
    }

    /// Selection by label along `dim`, as xarray's `sel` (see [`Sel`]):
    /// the dimension needs an index coordinate of its name.
    pub fn sel(&self, dim: &str, sel: impl Into<Sel>) -> Result<DataArray> {
        self.dim_axis(dim)?;
        let index = super::index_of(&self.coords, dim)?;
        let pick = select::resolve(index, dim, &sel.into())?;
        Ok(self.apply(dim, &pick))
    }

    /// `reduction` over `dims`, NaNs skipped when `skipna` (xarray's
    /// default, `None`: skipped for floats). Coordinates along a reduced
    /// dimension are dropped and the attributes kept, as xarray's defaults.
    /// A time variable's minimum, maximum and mean are dates; its other
    /// reductions are refused.
    pub fn reduce(
        &self,
        reduction: Reduction,
        dims: impl Into<Dims>,
        skipna: Option<bool>,
    ) -> Result<DataArray> {
        let dims = dims.into().resolve(self.dims())?;
        if !super::variable::on_dates(reduction) {
            self.refuse_time(reduction.name())?;
        }
        let skipna = skipna.unwrap_or(true);
        Ok(DataArray {
            name: self.name.clone(),
            variable: self.variable.reduce(reduction, &dims, skipna),
            coords: super::coords_without(&self.coords, &dims),
        })
    }

    /// The mean over `dims` (NaNs skipped).
    pub fn mean(&self, dims: impl Into<Dims>) -> Result<DataArray> {
        self.reduce(Reduction::Mean, dims, None)
    }

    /// The sum over `dims` (NaNs skipped).
    pub fn sum(&self, dims: impl Into<Dims>) -> Result<DataArray> {
        self.reduce(Reduction::Sum, dims, None)
    }

    /// The minimum over `dims` (NaNs skipped).
    pub fn min(&self, dims: impl Into<Dims>) -> Result<DataArray> {
        self.reduce(Reduction::Min, dims, None)
    }

    /// The maximum over `dims` (NaNs skipped).
    pub fn max(&self, dims: impl Into<Dims>) -> Result<DataArray> {
        self.reduce(Reduction::Max, dims, None)
    }

    /// The standard deviation over `dims` with `ddof` (NaNs skipped).
    pub fn std(&self, dims: impl Into<Dims>, ddof: u64) -> Result<DataArray> {
        self.reduce(Reduction::Std { ddof }, dims, None)
    }

    /// The variance over `dims` with `ddof` (NaNs skipped).
    pub fn var(&self, dims: impl Into<Dims>, ddof: u64) -> Result<DataArray> {
        self.reduce(Reduction::Var { ddof }, dims, None)
    }

    /// The same values on a new chunking (xarray's `chunk`; see
    /// [`Array::rechunk`](crate::Array::rechunk)).
    pub fn chunk(&self, chunks: impl Into<crate::array::Chunks>) -> DataArray {
        let mut out = self.clone();
        out.variable.data = self.variable.data.rechunk(chunks);
        out
    }

    /// The dimensions in the order `dims` names them (all of them).
    pub fn transpose(&self, dims: &[&str]) -> Result<DataArray> {
        let axes = super::permutation(self.dims(), dims)?;
        let mut out = self.clone();
        out.variable.data = self.variable.data.transpose(&axes);
        out.variable.dims = axes.iter().map(|&a| self.dims()[a].clone()).collect();
        Ok(out)
    }

    fn dim_axis(&self, dim: &str) -> Result<usize> {
        self.variable
            .axis(dim)
            .ok_or_else(|| super::unknown("dimension", dim, self.dims().iter()))
    }

    fn position_pick(&self, dim: &str, index: Index) -> Result<Pick> {
        let axis = self.dim_axis(dim)?;
        let len = self.shape()[axis];
        let (positions, drop) = index
            .positions(axis, len)
            .map_err(|message| Error::Invalid {
                operation: format!("isel on {dim:?}"),
                message,
            })?;
        Ok(Pick { positions, drop })
    }

    pub(crate) fn apply(&self, dim: &str, pick: &Pick) -> DataArray {
        DataArray {
            name: self.name.clone(),
            variable: self.variable.isel(dim, pick),
            coords: self
                .coords
                .iter()
                .map(|(k, c)| (k.clone(), c.isel(dim, pick)))
                .collect(),
        }
    }
}
