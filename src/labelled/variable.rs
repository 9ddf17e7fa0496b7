//! The pieces a `DataArray` and a `Dataset` are made of: a lazy
//! [`Variable`] (dimension names over a `DynArray`) and an in-memory
//! [`Coord`], each with its attributes and encoding, and how a selection
//! or a reduction applies to each.

use super::select::Pick;
use super::values::Values;
use super::Attrs;
use crate::array::{DynArray, Reduction};
use crate::error::{Error, Result};
use crate::ops::Index;

/// A lazy variable: dimension names over a chunked array.
#[derive(Debug, Clone)]
pub(crate) struct Variable {
    pub dims: Vec<String>,
    pub data: DynArray,
    pub attrs: Attrs,
    pub encoding: Attrs,
}

/// A coordinate: dimension names over values held in memory (an index
/// when it is 1-D along a dimension of its own name), with its attributes
/// and encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Coord {
    pub(crate) dims: Vec<String>,
    pub(crate) values: Values,
    pub(crate) attrs: Attrs,
    pub(crate) encoding: Attrs,
}

impl Coord {
    /// A coordinate of `values` along `dims` (one name per axis).
    pub fn new(dims: &[&str], values: Values) -> Result<Coord> {
        if dims.len() != values.shape().len() {
            return Err(Error::Invalid {
                operation: "Coord::new".into(),
                message: format!(
                    "{} dimension names for {}-dimensional values",
                    dims.len(),
                    values.shape().len()
                ),
            });
        }
        Ok(Coord {
            dims: dims.iter().map(|d| d.to_string()).collect(),
            values,
            attrs: Attrs::new(),
            encoding: Attrs::new(),
        })
    }

    /// This coordinate with `attrs`.
    pub fn with_attrs(mut self, attrs: Attrs) -> Coord {
        self.attrs = attrs;
        self
    }

    /// The dimension names.
    pub fn dims(&self) -> &[String] {
        &self.dims
    }

    /// The values.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// The attributes.
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }

    /// How the values were stored (`units`, `calendar`, `dtype`,
    /// `_FillValue`, …): what [`to_zarr`](super::Dataset::to_zarr) writes
    /// them back with.
    pub fn encoding(&self) -> &Attrs {
        &self.encoding
    }

    pub(crate) fn isel(&self, dim: &str, pick: &Pick) -> Coord {
        let Some(axis) = self.dims.iter().position(|d| d == dim) else {
            return self.clone();
        };
        let positions: Vec<usize> = pick.positions.iter().map(|&p| p as usize).collect();
        let mut values = self.values.select(axis, &positions);
        let mut dims = self.dims.clone();
        if pick.drop {
            values = values.remove_axis(axis);
            dims.remove(axis);
        }
        Coord {
            dims,
            values,
            attrs: self.attrs.clone(),
            encoding: self.encoding.clone(),
        }
    }
}

impl Variable {
    /// Values along `dims`, without attributes or encoding (a new array).
    pub(crate) fn new(dims: Vec<String>, data: DynArray) -> Variable {
        Variable {
            dims,
            data,
            attrs: Attrs::new(),
            encoding: Attrs::new(),
        }
    }

    /// `data` along `dims` computed from this variable: its attributes
    /// kept, its encoding not (see [`super::attrs`]).
    pub(crate) fn derived(&self, dims: Vec<String>, data: DynArray) -> Variable {
        Variable {
            dims,
            data,
            attrs: super::attrs::kept(&self.attrs),
            encoding: super::Attrs::new(),
        }
    }

    pub(crate) fn axis(&self, dim: &str) -> Option<usize> {
        self.dims.iter().position(|d| d == dim)
    }

    /// The variable at `pick`'s positions along `dim` (itself without it).
    pub(crate) fn isel(&self, dim: &str, pick: &Pick) -> Variable {
        let Some(axis) = self.axis(dim) else {
            return self.clone();
        };
        let mut out = self.clone();
        out.data = pick_positions(&self.data, axis, pick);
        if pick.drop {
            out.dims.remove(axis);
        }
        out
    }

    /// `reduction` over `dims` (those this variable has); attributes are
    /// kept, as xarray's `keep_attrs` default.
    pub(crate) fn reduce(&self, reduction: Reduction, dims: &[String], skipna: bool) -> Variable {
        let axes: Vec<usize> = dims.iter().filter_map(|d| self.axis(d)).collect();
        let kept = self.dims.iter().filter(|d| !dims.contains(d)).cloned();
        self.derived(kept.collect(), self.data.reduce(reduction, &axes, skipna))
    }

    /// `reduction` over no axis, as xarray's `Dataset` reductions apply
    /// it to a variable without the reduced dimensions: the variable
    /// itself for a sum, mean, minimum or maximum (its dtype too; its
    /// attributes but not its encoding, as every computed result), and for
    /// a variance or standard deviation zeros (NaN where it is NaN, or
    /// everywhere when `ddof` > 0), `float32` kept, else `float64`.
    pub(crate) fn reduce_over_no_axis(&self, reduction: Reduction) -> Variable {
        match reduction {
            Reduction::Var { ddof } | Reduction::Std { ddof } => {
                self.derived(self.dims.clone(), spread_of_one(&self.data, ddof))
            }
            Reduction::Sum | Reduction::Mean | Reduction::Min | Reduction::Max => {
                self.derived(self.dims.clone(), self.data.clone())
            }
        }
    }
}

/// numpy's variance (and standard deviation) of each element alone: 0,
/// or NaN where it is NaN or `ddof` leaves no degrees of freedom.
fn spread_of_one(data: &DynArray, ddof: u64) -> DynArray {
    let name = "var over no axis";
    match data {
        DynArray::Float32(a) => a
            .map(name, move |v: f32| {
                if ddof > 0 || v.is_nan() {
                    f32::NAN
                } else {
                    0.0
                }
            })
            .into(),
        other => other
            .as_f64()
            .map(name, move |v| {
                if ddof > 0 || v.is_nan() {
                    f64::NAN
                } else {
                    0.0
                }
            })
            .into(),
    }
}

/// `data` at `pick`'s positions along `axis`: a slice when they are
/// evenly spaced (so push-down and chunk reuse apply), a take otherwise.
fn pick_positions(data: &DynArray, axis: usize, pick: &Pick) -> DynArray {
    let mut indices = vec![Index::ALL; axis + 1];
    let p = &pick.positions;
    if pick.drop {
        indices[axis] = Index::At(p[0] as i64);
        return data.slice(&indices);
    }
    let step = if p.len() >= 2 {
        p[1] as i64 - p[0] as i64
    } else {
        1
    };
    let even = step != 0 && p.windows(2).all(|w| w[1] as i64 - w[0] as i64 == step);
    if p.is_empty() || even {
        let start = p.first().map_or(0, |&s| s as i64);
        let stop = start + step * p.len() as i64;
        // A descending run down to position 0 stops before the start,
        // which Python's slices spell as no stop.
        let stop = (stop >= 0).then_some(stop);
        indices[axis] = Index::range(start, stop, step);
        return data.slice(&indices);
    }
    let table: Vec<i64> = p.iter().map(|&i| i as i64).collect();
    data.take(&table, axis)
}
