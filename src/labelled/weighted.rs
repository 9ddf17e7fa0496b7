//! `weighted`: weighted sums and means by dimension name, as xarray's
//! `da.weighted(w).sum(dims)` / `.mean(dims)`: the weights are aligned and
//! broadcast as arithmetic is; a missing value contributes neither to the
//! sum nor to the sum of weights (so a mean over NaNs is the mean of the
//! rest, and NaN where no weight is left).

use super::arith::Arith;
use super::data_array::DataArray;
use super::Dims;
use crate::array::kernel::{Exact, Kernel};
use crate::array::Reduction;
use crate::error::{Error, Result};

/// A [`DataArray`] with weights (see [`DataArray::weighted`]).
#[derive(Debug, Clone)]
pub struct Weighted {
    array: DataArray,
    weights: DataArray,
}

impl DataArray {
    /// This array weighted by `weights` (e.g. `cos(lat)` area weights),
    /// which must hold no NaN and not sum to zero or less.
    ///
    /// ```
    /// use ndchunk::{Array, DataArray};
    /// let x = DataArray::new(Array::<f64>::from_ndarray(ndarray::arr1(&[1.0, f64::NAN, 3.0]).into_dyn(), [3]).unwrap(), &["lat"]).unwrap();
    /// let w = DataArray::new(Array::<f64>::from_ndarray(ndarray::arr1(&[1.0, 5.0, 3.0]).into_dyn(), [3]).unwrap(), &["lat"]).unwrap();
    /// let mean = x.weighted(&w).unwrap().mean("lat").unwrap();
    /// assert_eq!(mean.values::<f64>().unwrap()[[]], 2.5); // (1*1 + 3*3) / (1 + 3)
    /// ```
    pub fn weighted(&self, weights: &DataArray) -> Result<Weighted> {
        self.refuse_time("weighted")?;
        let values = weights.values::<f64>()?;
        let fails = |message: String| Error::Invalid {
            operation: "weighted".into(),
            message,
        };
        if values.iter().any(|w| w.is_nan()) {
            return Err(fails("the weights hold missing values (NaN)".into()));
        }
        let total: f64 = values.iter().sum();
        if total <= 0.0 {
            return Err(fails(format!(
                "the weights sum to {total}, not to more than 0"
            )));
        }
        Ok(Weighted {
            array: self.clone(),
            weights: weights.clone(),
        })
    }

    /// `kernel` of this array.
    fn kernel(&self, kernel: Kernel) -> DataArray {
        self.with_data(kernel.apply(&[&self.variable.data]))
    }
}

impl Weighted {
    /// The weighted sum over `dims` (missing values count as 0).
    pub fn sum(&self, dims: impl Into<Dims>) -> Result<DataArray> {
        let filled = self.array.kernel(Kernel::FillNa { value: Exact(0.0) });
        self.weighted_sum(&filled, dims.into())
            .map(|s| s.labelled_as(&self.array))
    }

    /// The weighted mean over `dims`: the weighted sum over the sum of the
    /// weights of the values present (NaN where none is).
    pub fn mean(&self, dims: impl Into<Dims>) -> Result<DataArray> {
        let dims = dims.into();
        let present = self.array.kernel(Kernel::NotNull);
        let total = self.weighted_sum(&present, dims.clone())?;
        let total = total.kernel(Kernel::ZeroAsNan);
        let sum = self.sum(dims)?;
        Ok(sum
            .arith(Arith::Div, &total, super::Join::Inner)?
            .labelled_as(&self.array))
    }

    /// The sum over `dims` of `values` times the weights. The dimensions
    /// the weights do not have are summed first, over the values alone
    /// (`Σ_lat,lon x·w(lat)` is `Σ_lat w(lat)·Σ_lon x`), so the weights
    /// are never broadcast over the values' blocks, and those sums fold
    /// lane by lane as the values are read.
    fn weighted_sum(&self, values: &DataArray, dims: Dims) -> Result<DataArray> {
        let join = super::Join::Inner;
        let product = values.arith(Arith::Mul, &self.weights, join)?;
        let dims = dims.resolve(product.dims())?;
        let weighs = |d: &String| self.weights.dims().contains(d);
        let (outer, inner): (Vec<String>, Vec<String>) = dims
            .into_iter()
            .partition(|d| weighs(d) || !values.dims().contains(d));
        if inner.is_empty() {
            return product.reduce(Reduction::Sum, Dims::Named(outer), Some(false));
        }
        let partial = values.reduce(Reduction::Sum, Dims::Named(inner), Some(false))?;
        let product = partial.arith(Arith::Mul, &self.weights, join)?;
        if outer.is_empty() {
            return Ok(product);
        }
        product.reduce(Reduction::Sum, Dims::Named(outer), Some(false))
    }
}

impl DataArray {
    /// This array with `other`'s name and attributes (a weighted result
    /// keeps the array's, not the weights', as xarray's). Under
    /// `KeepAttrs::set(false)` the coordinates' go too, as xarray's
    /// weighted results (made by `dot`) lose them.
    fn labelled_as(mut self, other: &DataArray) -> DataArray {
        self.name = other.name.clone();
        self.variable.attrs = super::attrs::kept(&other.variable.attrs);
        if !super::KeepAttrs::current() {
            for coord in self.coords.values_mut() {
                coord.attrs = super::Attrs::new();
            }
        }
        self
    }
}
