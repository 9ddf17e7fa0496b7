//! Alignment by dimension name and index, as xarray's `align`: before two
//! arrays meet, each shared dimension's indexes are joined (`inner` by
//! default, or `outer`, `left`, `right`, `exact`, `override`), and each
//! array is reindexed onto the joined index, NaN where it had no label.

use std::collections::HashMap;

use ndarray::ArrayD;

use super::cf_time::CfDatetime;
use super::data_array::DataArray;
use super::select::Pick;
use super::values::Values;
use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::where_;

/// How indexes that differ are joined (xarray's `join=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Join {
    /// The labels both have, in the left's order (xarray's default for
    /// arithmetic).
    #[default]
    Inner,
    /// Every label of either, sorted (as pandas' union).
    Outer,
    /// The left's labels.
    Left,
    /// The right's labels.
    Right,
    /// Indexes must be equal; an error otherwise.
    Exact,
    /// The left's index replaces the right's (sizes must match).
    Override,
}

/// A label that hashes: integers exactly, floats by value, dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Int(i128),
    Float(u64),
    Time(CfDatetime),
}

fn keys(values: &Values, as_float: bool) -> Vec<Key> {
    let float = |v: f64| {
        Key::Float(if v == 0.0 {
            0f64.to_bits()
        } else {
            v.to_bits()
        })
    };
    match values {
        Values::Int { data, .. } if !as_float => data.iter().map(|&v| Key::Int(v.into())).collect(),
        Values::UInt { data, .. } if !as_float => {
            data.iter().map(|&v| Key::Int(v.into())).collect()
        }
        Values::Time(data) => data.iter().map(|&t| Key::Time(t)).collect(),
        other => other
            .to_f64()
            .map(|a| a.iter().map(|&v| float(v)).collect())
            .unwrap_or_default(),
    }
}

/// `a` and `b` aligned on every dimension they share.
pub(crate) fn align(a: &DataArray, b: &DataArray, join: Join) -> Result<(DataArray, DataArray)> {
    let (mut a, mut b) = (a.clone(), b.clone());
    let shared: Vec<String> = a
        .dims()
        .iter()
        .filter(|d| b.dims().contains(d))
        .cloned()
        .collect();
    for dim in shared {
        let size = |x: &DataArray| {
            x.sizes()
                .into_iter()
                .find(|(d, _)| *d == dim)
                .map_or(0, |(_, s)| s)
        };
        let index = |x: &DataArray| {
            x.coords
                .get(&dim)
                .filter(|c| c.dims.len() == 1 && c.dims[0] == dim)
                .map(|c| c.values.clone())
        };
        let fails = |message: String| Error::Invalid {
            operation: format!("aligning along {dim:?} (join={join:?})"),
            message,
        };
        let (ia, ib) = match (index(&a), index(&b)) {
            (Some(ia), Some(ib)) => (ia, ib),
            _ => {
                if size(&a) != size(&b) {
                    return Err(fails(format!(
                        "sizes {} and {} differ, and there is no index on both to align by",
                        size(&a),
                        size(&b)
                    )));
                }
                continue;
            }
        };
        // Equal labels are equal indexes, whatever their dtypes (int32 and
        // int64 labels 0, 1, 2 are one index, as pandas' `equals`).
        let as_float = matches!(ia, Values::Float { .. }) || matches!(ib, Values::Float { .. });
        let (ka, kb) = (keys(&ia, as_float), keys(&ib, as_float));
        if ka.len() != ia.len() || kb.len() != ib.len() {
            return Err(fails("the indexes cannot be compared".into()));
        }
        if ka == kb {
            continue;
        }
        match join {
            Join::Exact => {
                return Err(fails(
                    "the indexes differ, and join=\"exact\" does not align them".into(),
                ))
            }
            Join::Override => {
                if ia.len() != ib.len() {
                    return Err(fails(format!(
                        "join=\"override\" needs indexes of one length, not {} and {}",
                        ia.len(),
                        ib.len()
                    )));
                }
                let coord = a.coords[&dim].clone();
                b.coords.insert(dim.clone(), coord);
                continue;
            }
            _ => {}
        }
        let joined = joined_labels(&ka, &kb, join);
        let (pa, pb) = (positions(&ka, &joined), positions(&kb, &joined));
        // The joined index: the labels, from whichever side has each.
        let both = ia.concat(&ib, 0).ok_or_else(|| {
            fails(format!(
                "indexes of {} and {} cannot be joined",
                ia.type_name(),
                ib.type_name()
            ))
        })?;
        let from: Vec<usize> = pa
            .iter()
            .zip(&pb)
            .map(|(x, y)| x.unwrap_or_else(|| ia.len() + y.unwrap_or(0)))
            .collect();
        let index = both.select(0, &from);
        a = reindex(&a, &dim, &pa, &index)?;
        b = reindex(&b, &dim, &pb, &index)?;
    }
    Ok((a, b))
}

/// The joined labels, in order.
fn joined_labels(ka: &[Key], kb: &[Key], join: Join) -> Vec<Key> {
    let in_b: std::collections::HashSet<&Key> = kb.iter().collect();
    match join {
        Join::Inner => ka.iter().filter(|k| in_b.contains(k)).copied().collect(),
        Join::Left | Join::Exact | Join::Override => ka.to_vec(),
        Join::Right => kb.to_vec(),
        Join::Outer => {
            let in_a: std::collections::HashSet<&Key> = ka.iter().collect();
            let mut all: Vec<Key> = ka.to_vec();
            all.extend(kb.iter().filter(|k| !in_a.contains(k)).copied());
            // pandas' union sorts (indexes that are equal never get here).
            all.sort_by(compare_keys);
            all
        }
    }
}

fn compare_keys(x: &Key, y: &Key) -> std::cmp::Ordering {
    match (x, y) {
        (Key::Int(a), Key::Int(b)) => a.cmp(b),
        (Key::Float(a), Key::Float(b)) => f64::from_bits(*a).total_cmp(&f64::from_bits(*b)),
        (Key::Time(a), Key::Time(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    }
}

/// Where each joined label is in `keys` (its first place).
fn positions(keys: &[Key], joined: &[Key]) -> Vec<Option<usize>> {
    let mut at: HashMap<&Key, usize> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        at.entry(k).or_insert(i);
    }
    joined.iter().map(|k| at.get(k).copied()).collect()
}

/// `x` along `dim` at `positions` (NaN where `None`, making integer data
/// float64), with `index` as the dimension's index.
fn reindex(
    x: &DataArray,
    dim: &str,
    positions: &[Option<usize>],
    index: &Values,
) -> Result<DataArray> {
    let missing = positions.iter().any(Option::is_none);
    if !positions.is_empty() && positions.iter().all(Option::is_none) {
        return Ok(all_missing(x, dim, positions.len(), index));
    }
    let pick = Pick {
        positions: positions.iter().map(|p| p.unwrap_or(0) as u64).collect(),
        drop: false,
    };
    let mut out = x.apply(dim, &pick);
    if missing {
        let axis = out.variable.axis(dim).unwrap_or(0);
        out.variable.data = mask_missing(&out.variable.data, axis, positions)?;
        // Coordinates along the dimension get NaN (or go, for those with
        // no NaN: dates, booleans).
        let names: Vec<String> = out.coords.keys().cloned().collect();
        for name in names {
            let coord = &out.coords[&name];
            let Some(axis) = coord.dims.iter().position(|d| d == dim) else {
                continue;
            };
            // The index itself is the joined one, set below.
            if name == dim {
                continue;
            }
            let missing: Vec<bool> = positions.iter().map(Option::is_none).collect();
            match coord.values.with_nan(axis, &missing) {
                Some(values) => out.coords[&name].values = values,
                None => {
                    out.coords.shift_remove(&name);
                }
            }
        }
    }
    if let Some(coord) = out.coords.get_mut(dim) {
        coord.values = index.clone();
    }
    Ok(out)
}

/// `x` reindexed onto `len` labels it has none of: NaN everywhere, the
/// other coordinates along `dim` dropped.
fn all_missing(x: &DataArray, dim: &str, len: usize, index: &Values) -> DataArray {
    let mut out = x.clone();
    let axis = x.variable.axis(dim).unwrap_or(0);
    let mut shape = x.shape();
    shape[axis] = len as u64;
    let chunks: Vec<u64> = shape.iter().map(|&s| s.max(1)).collect();
    out.variable.data = match with_nan_dtype(x.dtype()) {
        DType::Float32 => Array::full(&shape, f32::NAN, chunks).map(DynArray::from),
        _ => Array::full(&shape, f64::NAN, chunks).map(DynArray::from),
    }
    .unwrap_or_else(|_| x.variable.data.clone());
    out.coords
        .retain(|name, c| name == dim || !c.dims.iter().any(|d| d == dim));
    if let Some(coord) = out.coords.get_mut(dim) {
        coord.values = index.clone();
    }
    out
}

/// `data` with NaN at the positions along `axis` that are `None`.
fn mask_missing(data: &DynArray, axis: usize, positions: &[Option<usize>]) -> Result<DynArray> {
    let ndim = data.ndim();
    let mut shape = vec![1usize; ndim];
    shape[axis] = positions.len();
    let present = ArrayD::from_shape_vec(
        shape.clone(),
        positions.iter().map(Option::is_some).collect(),
    )
    .map_err(|e| Error::Internal {
        operation: "reindex".into(),
        message: e.to_string(),
    })?;
    let chunks: Vec<u64> = shape.iter().map(|&s| (s as u64).max(1)).collect();
    let present = Array::from_values(present, chunks, "reindex")?;
    Ok(match with_nan_dtype(data.dtype()) {
        DType::Float32 => where_(&present, data.astype::<f32>(), f32::NAN).into(),
        _ => where_(&present, data.as_f64(), f64::NAN).into(),
    })
}

/// The dtype data of `dtype` takes to hold NaN, as xarray's
/// `maybe_promote`: `float32` for `float32` and integers of up to 16 bits,
/// else `float64` (booleans too, which xarray makes Python objects).
fn with_nan_dtype(dtype: DType) -> DType {
    match dtype {
        DType::Bool => DType::Float64,
        other => super::decode::promoted_float(other),
    }
}
