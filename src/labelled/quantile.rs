//! `quantile` along a dimension, as xarray's (numpy's `nanquantile` with
//! the default `linear` method): each task needs the dimension whole, so a
//! dimension split across chunks is refused with the rechunk to do (a
//! hidden all-to-all rechunk is what makes Dask's quantile blow up).

use ndarray::{ArrayD, Axis};

use super::data_array::DataArray;
use super::values::Values;
use super::variable::Coord;
use crate::array::kernel::Exact;
use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::ops::histogram::sorted_quantile;
use crate::ops::{map_blocks, BlockSpec};

impl DataArray {
    /// The `q`-th quantile (0 to 1) along `dim`, NaNs skipped, linear
    /// interpolation between the two nearest values (numpy's default),
    /// as `float64` (xarray's), with xarray's scalar `quantile`
    /// coordinate (`q`). `dim` must be one chunk: see the error for the
    /// `chunk` call that makes it so.
    ///
    /// ```
    /// use ndchunk::{Array, DataArray, Values};
    /// let x = DataArray::new(Array::<f64>::arange(5, [5]).unwrap(), &["time"]).unwrap();
    /// let q = x.quantile(0.25, "time").unwrap();
    /// assert_eq!(q.values::<f64>().unwrap()[[]], 1.0);
    /// assert_eq!(q.coord("quantile").unwrap().values(), &Values::float(ndarray::arr0(0.25).into_dyn()));
    /// let split = x.chunk([2]);
    /// assert!(split.quantile(0.5, "time").unwrap_err().to_string().contains("chunk"));
    /// ```
    pub fn quantile(&self, q: f64, dim: &str) -> Result<DataArray> {
        self.refuse_time("quantile")?;
        let fails = |message: String| Error::Invalid {
            operation: format!("quantile({q}, {dim:?})"),
            message,
        };
        if !(0.0..=1.0).contains(&q) {
            return Err(fails("q must be between 0 and 1".into()));
        }
        let axis = self
            .variable
            .axis(dim)
            .ok_or_else(|| super::unknown("dimension", dim, self.dims().iter()))?;
        let chunks = self.variable.data.grid().axis(axis).num_chunks();
        if chunks > 1 {
            let mut shape: Vec<String> = self
                .variable
                .data
                .grid()
                .chunk_shape()
                .iter()
                .map(u64::to_string)
                .collect();
            shape[axis] = self.shape()[axis].to_string();
            return Err(fails(format!(
                "{dim:?} is split into {chunks} chunks, and a quantile needs it whole in each \
                 task: rechunk first, e.g. da.chunk([{}]) (each chunk then holds all of {dim:?})",
                shape.join(", ")
            )));
        }
        let out = nanquantile_along(&self.variable.data.as_f64(), axis, q);
        let mut dims = self.variable.dims.clone();
        dims.remove(axis);
        let mut result = self.clone();
        result.variable = self.variable.derived(dims, DynArray::from(out));
        result.coords = super::coords_without(&self.coords, &[dim.to_string()]);
        result.coords.insert("quantile".into(), quantile_coord(q));
        Ok(result)
    }
}

/// xarray's scalar `quantile` coordinate of a quantile's result: `q`, as
/// `float64`, without dimensions or attributes.
pub(crate) fn quantile_coord(q: f64) -> Coord {
    Coord {
        dims: Vec::new(),
        values: Values::float(ndarray::arr0(q).into_dyn()),
        attrs: super::Attrs::new(),
        encoding: super::Attrs::new(),
    }
}

/// numpy's `nanquantile` of `data` along `axis` (in one chunk), which it
/// drops: one `map_blocks` node, recorded as `quantile` so a plan file
/// holds it.
pub(crate) fn nanquantile_along(data: &Array<f64>, axis: usize, q: f64) -> Array<f64> {
    let spec = BlockSpec::new().drop_axis([axis as i64]);
    let args = serde_json::json!({ "axis": axis, "q": Exact(q) });
    map_blocks(&format!("quantile({q})"), &[data], &spec, move |b, _| {
        nanquantile(&b[0], axis, q)
    })
    .recorded("quantile", args, vec![data.origin()])
}

/// numpy's `nanquantile(a, q, axis)` with the `linear` method.
fn nanquantile(a: &ArrayD<f64>, axis: usize, q: f64) -> ArrayD<f64> {
    a.map_axis(Axis(axis), |lane| {
        let mut v: Vec<f64> = lane.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        sorted_quantile(&v, q)
    })
}
