//! `median` and `quantile` of each group (xarray's
//! `da.groupby("time.month").median()` and `.quantile(q)`, and of
//! `resample`'s bins), numpy's `nanmedian` and `nanquantile` per group.
//!
//! A median is not a fold: no per-group partial of a few numbers combines
//! into it, so the grouped reduction's one pass (`ops/reduce/grouped.rs`)
//! cannot compute it. Instead each task holds, for one block of the other
//! dimensions, the grouped dimension whole: one `map_blocks` node that
//! drops the dimension and puts the groups' axis in its place, so a task
//! reads all of the dimension's chunks over its block of the others (no
//! rechunk: when the other dimensions keep their chunks, each source chunk
//! is read by one task, once). Per column, each group's values are gathered
//! from their positions, NaNs skipped, and numpy's median (the middle
//! value, or the mean of the two middle ones) or `linear` quantile taken.
//! The graph is that one node whatever the number of groups (the positions
//! of each group are data the kernel holds, one per position).
//!
//! Memory: a task holds the dimension whole over its block of the other
//! dimensions (its input slab) beside its output (the groups over the
//! same block), and the plan counts both against `max_mem`; the kernel's
//! scratch is one group of one column. So this works where one such slab
//! fits; when the other dimensions' chunks are too large for the budget,
//! the plan refuses the run naming a chunking of them that fits (the
//! grouped dimension's own chunks do not matter: it is read whole).

use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk_io::Element;

use super::data_array::DataArray;
use super::groupby::GroupBy;
use crate::array::{each_origin, Array, DynArray};
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::histogram::sorted_quantile;
use crate::ops::{map_blocks, BlockSpec};

/// What is taken of each group's values.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Stat {
    /// numpy's `median`: the middle value, or the mean of the two middle
    /// ones (which is not always `quantile(0.5)`'s bits).
    Median,
    /// numpy's `quantile(q)`, `linear` method.
    Quantile(f64),
}

impl Stat {
    /// The statistic of `values` (no NaN among them; reordered); NaN when
    /// there are none.
    fn of(self, values: &mut [f64]) -> f64 {
        let n = values.len();
        if n == 0 {
            return f64::NAN;
        }
        match self {
            Stat::Median => {
                let (below, &mut middle, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
                if n % 2 == 1 {
                    middle
                } else {
                    let low = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (low + middle) / 2.0
                }
            }
            Stat::Quantile(q) => {
                values.sort_unstable_by(f64::total_cmp);
                sorted_quantile(values, q)
            }
        }
    }
}

/// The positions along the grouped dimension of each group, group after
/// group (a position in no group is in none).
struct Members {
    positions: Vec<usize>,
    /// Group `g`'s positions are `positions[starts[g]..starts[g + 1]]`.
    starts: Vec<usize>,
}

impl Members {
    fn new(group_of: &[u32], groups: usize) -> Members {
        let mut starts = vec![0usize; groups + 1];
        for &g in group_of.iter().filter(|&&g| g != u32::MAX) {
            starts[g as usize + 1] += 1;
        }
        for g in 0..groups {
            starts[g + 1] += starts[g];
        }
        let mut next = starts.clone();
        let mut positions = vec![0usize; starts[groups]];
        for (p, &g) in group_of.iter().enumerate() {
            if g != u32::MAX {
                positions[next[g as usize]] = p;
                next[g as usize] += 1;
            }
        }
        Members { positions, starts }
    }

    fn of(&self, group: usize) -> &[usize] {
        &self.positions[self.starts[group]..self.starts[group + 1]]
    }

    fn groups(&self) -> usize {
        self.starts.len() - 1
    }
}

/// `stat` of each group along `axis` of `block`, per column: `block`'s
/// shape with `axis` one place per group.
fn per_group<T, U>(
    block: &ArrayD<T>,
    axis: usize,
    members: &Members,
    stat: Stat,
    convert: fn(f64) -> U,
) -> ArrayD<U>
where
    T: Copy + Into<f64>,
    U: Element,
{
    let mut shape = block.shape().to_vec();
    shape[axis] = members.groups();
    let mut out = ArrayD::<U>::from_elem(IxDyn(&shape), U::default());
    let mut values = Vec::new();
    for (lane, mut into) in block
        .lanes(Axis(axis))
        .into_iter()
        .zip(out.lanes_mut(Axis(axis)))
    {
        for (g, o) in into.iter_mut().enumerate() {
            values.clear();
            values.extend(
                members
                    .of(g)
                    .iter()
                    .map(|&p| lane[p].into())
                    .filter(|v: &f64| !v.is_nan()),
            );
            *o = convert(stat.of(&mut values));
        }
    }
    out
}

impl GroupBy {
    /// The median of each group (NaNs skipped; NaN for a group with no
    /// value), as xarray's `groupby(...).median()`: numpy's median, the
    /// mean of the two middle values of an even count. `float32` stays
    /// `float32`; every other dtype gives `float64`. The grouped dimension
    /// becomes the groups', in place, as for [`GroupBy::mean`].
    ///
    /// Not a one-pass fold like the other reductions: each task reads the
    /// grouped dimension whole over one chunk of the other dimensions, so
    /// those chunks must be small enough for the whole dimension to fit
    /// `max_mem` (the run is refused otherwise, naming a chunking that
    /// fits); the grouped dimension may be split into any chunks.
    ///
    /// ```
    /// use ndchunk::{Array, Calendar, Coord, DataArray, TimeUnits, Values};
    /// let units: TimeUnits = "days since 2001-01-01".parse().unwrap();
    /// let days: Vec<_> = (0..90).map(|d| units.decode(d as f64, Calendar::Day360).unwrap()).collect();
    /// let data = Array::from_ndarray(ndarray::Array1::from_shape_fn(90, |d| (d * d) as i64).into_dyn(), [7]).unwrap();
    /// let t = DataArray::new(data, &["time"]).unwrap()
    ///     .with_coord("time", Coord::new(&["time"], Values::Time(ndarray::arr1(&days).into_dyn())).unwrap()).unwrap();
    /// let monthly = t.groupby("time.month").unwrap().median().unwrap();
    /// assert_eq!(monthly.dims(), ["month"]);
    /// // Days 30..60 of 30-day months: the mean of days 44 and 45, squared.
    /// assert_eq!(monthly.values::<f64>().unwrap()[[1]], (44.0 * 44.0 + 45.0 * 45.0) / 2.0);
    /// ```
    pub fn median(&self) -> Result<DataArray> {
        self.quantiles(Stat::Median)
    }

    /// The `q`-th quantile (0 to 1) of each group, NaNs skipped, linear
    /// interpolation between the two nearest values (numpy's default), as
    /// `float64`, with the scalar `quantile` coordinate (`q`), as xarray's
    /// `groupby(...).quantile(q)` and [`DataArray::quantile`]. Runs as
    /// [`GroupBy::median`] does: the grouped dimension whole in each task.
    ///
    /// ```
    /// use ndchunk::{Array, Coord, DataArray, Values};
    /// let x = Coord::new(&["x"], Values::float(ndarray::arr1(&[1.0, 2.0, 1.0, 2.0, 1.0]).into_dyn())).unwrap();
    /// let a = DataArray::new(Array::<f64>::arange(5, [2]).unwrap(), &["x"]).unwrap().with_coord("x", x).unwrap();
    /// let q = a.groupby("x").unwrap().quantile(0.25).unwrap();
    /// assert_eq!(q.values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![1.0, 1.5]);
    /// assert!(a.groupby("x").unwrap().quantile(1.5).is_err());
    /// ```
    pub fn quantile(&self, q: f64) -> Result<DataArray> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::Invalid {
                operation: format!("groupby({:?}).quantile({q})", self.name),
                message: "q must be between 0 and 1".into(),
            });
        }
        let mut result = self.quantiles(Stat::Quantile(q))?;
        result
            .coords
            .insert("quantile".into(), super::quantile::quantile_coord(q));
        Ok(result)
    }

    fn quantiles(&self, stat: Stat) -> Result<DataArray> {
        let axis = self.axis()?;
        let name = match stat {
            Stat::Median => format!("groupby({:?}).median along {:?}", self.name, self.dim),
            Stat::Quantile(q) => format!(
                "groupby({:?}).quantile({q}) along {:?}",
                self.name, self.dim
            ),
        };
        let data = &self.array.variable.data;
        let out = group_quantiles(&name, data, axis, &self.group_of, self.labels.len(), stat)?;
        Ok(self.result(axis, out))
    }
}

/// `stat` of each of `groups` groups along `axis` of `data` (position `p`
/// in group `group_of[p]`, `u32::MAX` in none): `float32` for `float32`,
/// else `float64`. One node named `name`, recorded as `group_quantiles`
/// so a plan file holds it.
pub(crate) fn group_quantiles(
    name: &str,
    data: &DynArray,
    axis: usize,
    group_of: &[u32],
    groups: usize,
    stat: Stat,
) -> Result<DynArray> {
    let members = Arc::new(Members::new(group_of, groups));
    let out = match (stat, data.dtype()) {
        (Stat::Median, DType::Float32) => DynArray::from(grouped(
            name,
            &data.typed::<f32>()?,
            axis,
            members,
            stat,
            |x| x as f32,
        )),
        (_, DType::Float32) => DynArray::from(grouped(
            name,
            &data.typed::<f32>()?,
            axis,
            members,
            stat,
            |x| x,
        )),
        _ => DynArray::from(grouped(name, &data.as_f64(), axis, members, stat, |x| x)),
    };
    let args = serde_json::json!({
        "name": name,
        "axis": axis,
        "group_of": group_of,
        "groups": groups,
        "stat": stat,
    });
    Ok(out.recorded("group_quantiles", args, vec![each_origin(data)]))
}

/// The one node: `data` with `axis` read whole by each task and replaced
/// by the groups' axis, in one chunk; the other axes keep their chunks.
fn grouped<T, U>(
    name: &str,
    data: &Array<T>,
    axis: usize,
    members: Arc<Members>,
    stat: Stat,
    convert: fn(f64) -> U,
) -> Array<U>
where
    T: Element + Into<f64>,
    U: Element,
{
    let mut sizes: Vec<Vec<u64>> = data
        .grid()
        .axes()
        .iter()
        .map(|a| a.sizes().collect())
        .collect();
    sizes[axis] = vec![members.groups() as u64];
    let spec = BlockSpec::new()
        .drop_axis([axis as i64])
        .new_axis([axis as i64])
        .chunks(sizes);
    map_blocks(name, &[data], &spec, move |blocks, _| {
        per_group(&blocks[0], axis, &members, stat, convert)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_numpys() {
        let mut odd = vec![3.0, 1.0, 2.0];
        assert_eq!(Stat::Median.of(&mut odd), 2.0);
        let mut even = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(Stat::Median.of(&mut even), 2.5);
        assert!(Stat::Median.of(&mut []).is_nan());
        let mut q = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(Stat::Quantile(0.25).of(&mut q), 1.75);
    }

    #[test]
    fn members_list_each_group_in_order() {
        let m = Members::new(&[1, 0, u32::MAX, 1, 0], 3);
        assert_eq!(m.of(0), [1, 4]);
        assert_eq!(m.of(1), [0, 3]);
        assert!(m.of(2).is_empty());
    }
}
