//! `groupby`: a DataArray grouped along one dimension by a coordinate's
//! values, or by a component of its dates (`"time.month"`, `"time.year"`,
//! `"time.day"`, `"time.hour"`, `"time.dayofyear"`, `"time.season"`), in
//! any calendar.
//! Reductions run in one pass over the data whatever the number of groups
//! (each chunk folds into per-group partials, combined in the reduction
//! tree); `median` and `quantile`, which no partial folds into, read the
//! grouped dimension whole in each task instead (`group_quantile.rs`);
//! groupby arithmetic gathers the small right-hand side by label inside
//! the blockwise task.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::align::Join;
use super::arith::Arith;
use super::attrs::drop_conflicts;
use super::data_array::DataArray;
use super::select::Pick;
use super::values::Values;
use super::variable::Coord;
use super::Attrs;
use crate::array::DynArray;
use crate::error::{Error, Result};
use crate::io::DType;
use crate::ops::GroupStat;

/// A [`DataArray`] grouped along a dimension (see [`DataArray::groupby`]).
#[derive(Debug, Clone)]
pub struct GroupBy {
    pub(super) array: DataArray,
    /// The dimension grouped along.
    pub(super) dim: String,
    /// The groups' dimension and coordinate name (`month`).
    pub(super) name: String,
    /// Each group's label, sorted.
    pub(super) labels: Values,
    /// The group of each position along `dim` (`u32::MAX`: none).
    pub(super) group_of: Arc<[u32]>,
    /// The attributes of the groups' coordinate: those of the coordinate
    /// grouped by when the labels are its values or bins of them (as
    /// xarray's), none for a date component.
    pub(super) label_attrs: Attrs,
}

/// A label that sorts and compares exactly: integers (date components,
/// integer coordinates) or float bits (NaN excluded before).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Int(i64),
    Float(OrderedF64),
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedF64(f64);

impl Eq for OrderedF64 {}

impl PartialOrd for OrderedF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl DataArray {
    /// Groups along the dimension of `key`: a 1-D coordinate (grouped by
    /// its values), or `"<time coordinate>.<component>"` with component
    /// `year`, `month`, `day`, `hour`, `dayofyear` (grouped by that part
    /// of each date, in the coordinate's calendar) or `season` (`"DJF"`,
    /// `"JJA"`, `"MAM"`, `"SON"`, sorted as xarray sorts them). NaN labels belong to
    /// no group, as in xarray.
    ///
    /// ```
    /// use ndchunk::{Array, Calendar, Coord, DataArray, TimeUnits, Values};
    /// let units: TimeUnits = "days since 2001-01-01".parse().unwrap();
    /// let days: Vec<_> = (0..360).map(|d| units.decode(d as f64, Calendar::Day360).unwrap()).collect();
    /// let t = DataArray::new(Array::<f64>::arange(360, [50]).unwrap(), &["time"]).unwrap()
    ///     .with_coord("time", Coord::new(&["time"], Values::Time(ndarray::arr1(&days).into_dyn())).unwrap()).unwrap();
    /// let monthly = t.groupby("time.month").unwrap().mean().unwrap();
    /// assert_eq!(monthly.dims(), ["month"]);
    /// assert_eq!(monthly.values::<f64>().unwrap()[[1]], 44.5); // days 30..60
    /// ```
    pub fn groupby(&self, key: &str) -> Result<GroupBy> {
        let (coord_name, component) = match key.split_once('.') {
            Some((c, part)) => (c, Some(part)),
            None => (key, None),
        };
        let coord = self
            .coords
            .get(coord_name)
            .ok_or_else(|| super::unknown("coordinate", coord_name, self.coords.keys()))?;
        let fails = |message: String| Error::Invalid {
            operation: format!("groupby({key:?})"),
            message,
        };
        if coord.dims.len() != 1 {
            return Err(fails(format!(
                "{coord_name:?} has {} dimensions; a group key is one-dimensional",
                coord.dims.len()
            )));
        }
        let dim = coord.dims[0].clone();
        let keys: Vec<Option<Key>> = match (component, &coord.values) {
            (Some("season"), Values::Time(dates)) => dates
                .iter()
                .map(|d| (!d.is_nat()).then(|| Key::Text(season(d.month).to_string())))
                .collect(),
            (Some(part), Values::Time(dates)) => {
                let field = date_component(part).ok_or_else(|| {
                    fails(format!(
                        "unknown date component {part:?}: year, month, day, hour, dayofyear, season"
                    ))
                })?;
                dates
                    .iter()
                    // NaT is in no group, as xarray's NaN group key.
                    .map(|d| {
                        if d.is_nat() {
                            Ok(None)
                        } else {
                            field(d).map(|v| Some(Key::Int(v)))
                        }
                    })
                    .collect::<Result<_>>()?
            }
            (Some(part), _) => {
                return Err(fails(format!(
                    "{coord_name:?} holds no dates to take the {part:?} of"
                )))
            }
            (None, Values::Int { data, .. }) => data.iter().map(|&v| Some(Key::Int(v))).collect(),
            (None, Values::Text(data)) => data.iter().map(|v| Some(Key::Text(v.clone()))).collect(),
            (None, Values::Time(_)) => {
                return Err(fails(
                    "grouping by whole dates: use a component such as \"time.month\"".into(),
                ))
            }
            (None, values) => values
                .to_f64()
                .ok_or_else(|| fails("labels that cannot be grouped".into()))?
                .iter()
                .map(|&v| (!v.is_nan()).then_some(Key::Float(OrderedF64(v))))
                .collect(),
        };
        // Each label with its group number (in sorted order) and the first
        // position holding it.
        let mut sorted: BTreeMap<Key, (u32, usize)> = BTreeMap::new();
        for (p, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                sorted.entry(k.clone()).or_insert((0, p));
            }
        }
        for (i, (number, _)) in sorted.values_mut().enumerate() {
            *number = i as u32;
        }
        let group_of: Arc<[u32]> = keys
            .iter()
            .map(|k| k.as_ref().map_or(u32::MAX, |k| sorted[k].0))
            .collect();
        let labels = match component {
            Some("season") => Values::Text(
                ndarray::Array1::from_iter(sorted.keys().map(|k| match k {
                    Key::Text(t) => t.clone(),
                    _ => String::new(),
                }))
                .into_dyn(),
            ),
            Some(_) => Values::Int {
                data: ndarray::Array1::from_iter(sorted.keys().map(|k| match k {
                    Key::Int(v) => *v,
                    _ => 0,
                }))
                .into_dyn(),
                dtype: DType::Int64,
            },
            None => {
                let positions: Vec<usize> = sorted.values().map(|&(_, first)| first).collect();
                coord.values.select(0, &positions)
            }
        };
        let name = component.unwrap_or(coord_name).to_string();
        if name != dim && self.dims().contains(&name) {
            return Err(fails(format!("the array has a dimension {name:?} already")));
        }
        let grouped = GroupBy::new(self.clone(), &dim, &name, labels, group_of);
        Ok(match component {
            None => grouped.with_label_attrs(coord.attrs.clone()),
            Some(_) => grouped,
        })
    }
}

impl DataArray {
    /// Groups along the dimension of the 1-D numeric coordinate `coord` by
    /// the bins between consecutive `edges` (xarray's `groupby_bins`:
    /// closed on the right, `(a, b]`); values in no bin (outside, or NaN)
    /// belong to no group. The groups' dimension is `<coord>_bins`, labelled
    /// `"(a, b]"` as pandas prints its intervals; every bin is there, an
    /// empty one reducing to NaN.
    ///
    /// ```
    /// use ndchunk::{Array, Coord, DataArray, Values};
    /// let x = Coord::new(&["x"], Values::float(ndarray::arr1(&[1.0, 2.0, 7.0, 20.0]).into_dyn())).unwrap();
    /// let a = DataArray::new(Array::<f64>::arange(4, [2]).unwrap(), &["x"]).unwrap().with_coord("x", x).unwrap();
    /// let binned = a.groupby_bins("x", &[0.0, 5.0, 10.0, 15.0, 25.0]).unwrap().mean().unwrap();
    /// assert_eq!(binned.dims(), ["x_bins"]);
    /// assert_eq!(binned.values::<f64>().unwrap()[[0]], 0.5);
    /// assert!(binned.values::<f64>().unwrap()[[2]].is_nan());
    /// ```
    pub fn groupby_bins(&self, coord: &str, edges: &[f64]) -> Result<GroupBy> {
        let fails = |message: String| Error::Invalid {
            operation: format!("groupby_bins({coord:?})"),
            message,
        };
        if edges.len() < 2
            || edges
                .windows(2)
                .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
        {
            return Err(fails("bin edges must be at least two, increasing".into()));
        }
        let c = self
            .coords
            .get(coord)
            .ok_or_else(|| super::unknown("coordinate", coord, self.coords.keys()))?;
        if c.dims.len() != 1 {
            return Err(fails(format!("{coord:?} is not one-dimensional")));
        }
        let values = c
            .values
            .to_f64()
            .ok_or_else(|| fails(format!("{coord:?} is not numeric")))?;
        let group_of: Arc<[u32]> = values
            .iter()
            .map(|&v| {
                // The first edge at or above v closes v's bin.
                let k = edges.partition_point(|&e| e < v);
                if v.is_nan() || k == 0 || k == edges.len() {
                    u32::MAX
                } else {
                    (k - 1) as u32
                }
            })
            .collect();
        let repr = |v: f64| {
            if v.fract() == 0.0 && v.abs() < 1e16 {
                format!("{v:.1}")
            } else {
                format!("{v}")
            }
        };
        let labels = Values::Text(
            ndarray::Array1::from_iter(
                edges
                    .windows(2)
                    .map(|w| format!("({}, {}]", repr(w[0]), repr(w[1]))),
            )
            .into_dyn(),
        );
        let name = format!("{coord}_bins");
        Ok(
            GroupBy::new(self.clone(), &c.dims[0], &name, labels, group_of)
                .with_label_attrs(c.attrs.clone()),
        )
    }
}

/// The meteorological season of a month, as xarray names it.
fn season(month: u32) -> &'static str {
    match month {
        12 | 1 | 2 => "DJF",
        3..=5 => "MAM",
        6..=8 => "JJA",
        _ => "SON",
    }
}

/// The function taking a date's `part`.
fn date_component(part: &str) -> Option<fn(&super::CfDatetime) -> Result<i64>> {
    Some(match part {
        "year" => |d| Ok(d.year),
        "month" => |d| Ok(i64::from(d.month)),
        "day" => |d| Ok(i64::from(d.day)),
        "hour" => |d| Ok(i64::from(d.hour)),
        "dayofyear" => |d| {
            let first = d.calendar.day_number(d.year, 1, 1)?;
            Ok(d.calendar.day_number(d.year, d.month, d.day)? - first + 1)
        },
        _ => return None,
    })
}

impl GroupBy {
    pub(crate) fn new(
        array: DataArray,
        dim: &str,
        name: &str,
        labels: Values,
        group_of: Arc<[u32]>,
    ) -> GroupBy {
        GroupBy {
            array,
            dim: dim.to_string(),
            name: name.to_string(),
            labels,
            group_of,
            label_attrs: Attrs::new(),
        }
    }

    /// These groups with `attrs` on the groups' coordinate.
    pub(crate) fn with_label_attrs(mut self, attrs: Attrs) -> GroupBy {
        self.label_attrs = attrs;
        self
    }

    /// The groups' labels, sorted (the result's coordinate).
    pub fn labels(&self) -> &Values {
        &self.labels
    }

    /// The mean of each group (NaNs skipped).
    pub fn mean(&self) -> Result<DataArray> {
        self.reduce(GroupStat::Mean, true)
    }

    /// The sum of each group (NaNs skipped).
    pub fn sum(&self) -> Result<DataArray> {
        self.reduce(GroupStat::Sum, true)
    }

    /// The number of values (not NaN) in each group.
    pub fn count(&self) -> Result<DataArray> {
        self.reduce(GroupStat::Count, true)
    }

    /// The minimum of each group (NaNs skipped).
    pub fn min(&self) -> Result<DataArray> {
        self.reduce(GroupStat::Min, true)
    }

    /// The maximum of each group (NaNs skipped).
    pub fn max(&self) -> Result<DataArray> {
        self.reduce(GroupStat::Max, true)
    }

    /// The standard deviation of each group with `ddof` (NaNs skipped).
    pub fn std(&self, ddof: u64) -> Result<DataArray> {
        self.reduce(GroupStat::Std { ddof }, true)
    }

    /// The variance of each group with `ddof` (NaNs skipped).
    pub fn var(&self, ddof: u64) -> Result<DataArray> {
        self.reduce(GroupStat::Var { ddof }, true)
    }

    /// `stat` of each group, NaNs skipped when `skipna`. The grouped
    /// dimension becomes the groups' (`month`), in place; the result's
    /// dtype is xarray's: counts `int64`, sums of integers `int64`, the
    /// rest of a float array its float type, of integers `float64` (minima
    /// and maxima keep the dtype).
    pub(crate) fn reduce(&self, stat: GroupStat, skipna: bool) -> Result<DataArray> {
        let var = &self.array.variable;
        let axis = self.axis()?;
        let dtype = var.data.dtype();
        let skipna = skipna && dtype.is_float();
        let values = var
            .data
            .grouped(axis, self.group_of.clone(), self.labels.len(), stat, skipna);
        let wide = DynArray::from(values);
        let out = match (stat, dtype) {
            (GroupStat::Count, _) => DType::Int64,
            (GroupStat::Min | GroupStat::Max, d) => d,
            (GroupStat::Sum, d) if !d.is_float() => DType::Int64,
            (_, DType::Float32) => DType::Float32,
            _ => DType::Float64,
        };
        let data = crate::with_dtype!(out, T => DynArray::from(wide.astype::<T>()));
        Ok(self.result(axis, data))
    }

    /// The axis of the grouped dimension in the array.
    pub(super) fn axis(&self) -> Result<usize> {
        self.array
            .variable
            .axis(&self.dim)
            .ok_or_else(|| Error::Internal {
                operation: "groupby".into(),
                message: "the grouped dimension left the array".into(),
            })
    }

    /// A reduction's result: `data`, whose `axis` (the grouped
    /// dimension's) now holds one place per group, named and labelled by
    /// the groups; the array's other coordinates and its attributes kept.
    pub(super) fn result(&self, axis: usize, data: DynArray) -> DataArray {
        let mut dims = self.array.variable.dims.clone();
        dims[axis] = self.name.clone();
        let mut coords = super::coords_without(&self.array.coords, std::slice::from_ref(&self.dim));
        coords.insert(
            self.name.clone(),
            Coord {
                dims: vec![self.name.clone()],
                values: self.labels.clone(),
                attrs: self.label_attrs.clone(),
                encoding: Attrs::new(),
            },
        );
        DataArray {
            name: self.array.name.clone(),
            variable: self.array.variable.derived(dims, data),
            coords,
        }
    }

    /// Groupby arithmetic (xarray's `x.groupby("time.month") - clim`):
    /// `other`, along the groups' dimension (`month`), is taken at each
    /// position's group label, then combined with the array; the result
    /// has the array's dimensions, and the group labels as a coordinate
    /// along the grouped dimension.
    pub fn arith(&self, op: Arith, other: &DataArray) -> Result<DataArray> {
        let fails = |message: String| Error::Invalid {
            operation: format!("groupby({:?}) arithmetic", self.name),
            message,
        };
        let index = super::index_of(&other.coords, &self.name).map_err(|_| {
            fails(format!(
                "the other array has no index {:?} to take each group's values from",
                self.name
            ))
        })?;
        // Where each group's label is in the other's index.
        let mut at = Vec::with_capacity(self.labels.len());
        for g in 0..self.labels.len() {
            let label = self
                .labels
                .get(&[g])
                .ok_or_else(|| fails("no label".into()))?;
            let found = (0..index.len())
                .find(|&i| index.compare(i, &label) == Some(std::cmp::Ordering::Equal))
                .ok_or_else(|| fails(format!("group {label} is not in the other's index")))?;
            at.push(found as u64);
        }
        // Positions in no group read any value and are masked after.
        let positions: Vec<u64> = self
            .group_of
            .iter()
            .map(|&g| if g == u32::MAX { 0 } else { at[g as usize] })
            .collect();
        let mut taken = other.apply(
            &self.name,
            &Pick {
                positions,
                drop: false,
            },
        );
        taken.coords.shift_remove(&self.name);
        let taken = taken.rename(&[(&self.name, &self.dim)])?;
        let mut out = self.array.arith(op, &taken, Join::Inner)?;
        // A position in no group (a NaN key) has no value to combine with.
        if self.group_of.contains(&u32::MAX) {
            let grouped = ndarray::Array1::from_iter(self.group_of.iter().map(|&g| g != u32::MAX));
            let n = grouped.len() as u64;
            let mask = DataArray::new(
                crate::array::Array::from_values(grouped.into_dyn(), [n.max(1)], "groupby")?,
                &[self.dim.as_str()],
            )?;
            out = out.where_(&mask)?;
        }
        let per_position: Vec<usize> = self
            .group_of
            .iter()
            .map(|&g| if g == u32::MAX { 0 } else { g as usize })
            .collect();
        if self.group_of.iter().all(|&g| g != u32::MAX) {
            out.coords.insert(
                self.name.clone(),
                Coord {
                    dims: vec![self.dim.clone()],
                    values: self.labels.select(0, &per_position),
                    attrs: self.label_attrs.clone(),
                    encoding: Attrs::new(),
                },
            );
        }
        Ok(out)
    }

    /// `self - other` by group (see [`GroupBy::arith`]).
    pub fn sub(&self, other: &DataArray) -> Result<DataArray> {
        self.arith(Arith::Sub, other)
    }
}

/// A [`Dataset`](super::Dataset) grouped along a dimension (see
/// [`Dataset::groupby`](super::Dataset::groupby)): each data variable with
/// that dimension is grouped; the others are kept as they are.
#[derive(Debug, Clone)]
pub struct DatasetGroupBy {
    vars: Vec<(String, std::result::Result<GroupBy, DataArray>)>,
    /// The dataset's attributes, which its reductions keep.
    attrs: Attrs,
}

impl super::Dataset {
    /// Groups every data variable along the dimension of `key`, as
    /// [`DataArray::groupby`] does (xarray's `ds.groupby("time.month")`).
    pub fn groupby(&self, key: &str) -> Result<DatasetGroupBy> {
        let coord_name = key.split_once('.').map_or(key, |(c, _)| c);
        let coord = self
            .coords
            .get(coord_name)
            .ok_or_else(|| super::unknown("coordinate", coord_name, self.coords.keys()))?;
        let dims = coord.dims.clone();
        let mut vars = Vec::new();
        for name in self.data_vars() {
            let array = self.get(name)?;
            let grouped = if dims.iter().all(|d| array.dims().contains(d)) {
                Ok(array.groupby(key)?)
            } else {
                Err(array)
            };
            vars.push((name.to_string(), grouped));
        }
        Ok(DatasetGroupBy {
            vars,
            attrs: self.attrs.clone(),
        })
    }
}

impl DatasetGroupBy {
    fn each(&self, f: impl Fn(&GroupBy) -> Result<DataArray>) -> Result<super::Dataset> {
        let mut out = super::Dataset::new().with_attrs(super::attrs::kept(&self.attrs));
        for (name, grouped) in &self.vars {
            let array = match grouped {
                Ok(g) => f(g)?,
                Err(kept) => kept.clone(),
            };
            out = out.with_var(name, array)?;
        }
        Ok(out)
    }

    /// The mean of each group of every grouped variable.
    pub fn mean(&self) -> Result<super::Dataset> {
        self.each(GroupBy::mean)
    }

    /// The sum of each group.
    pub fn sum(&self) -> Result<super::Dataset> {
        self.each(GroupBy::sum)
    }

    /// The count of values (not NaN) in each group.
    pub fn count(&self) -> Result<super::Dataset> {
        self.each(GroupBy::count)
    }

    /// The minimum of each group.
    pub fn min(&self) -> Result<super::Dataset> {
        self.each(GroupBy::min)
    }

    /// The maximum of each group.
    pub fn max(&self) -> Result<super::Dataset> {
        self.each(GroupBy::max)
    }

    /// The standard deviation of each group with `ddof`.
    pub fn std(&self, ddof: u64) -> Result<super::Dataset> {
        self.each(|g| g.std(ddof))
    }

    /// The variance of each group with `ddof`.
    pub fn var(&self, ddof: u64) -> Result<super::Dataset> {
        self.each(|g| g.var(ddof))
    }

    /// The median of each group of every grouped variable (see
    /// [`GroupBy::median`]).
    ///
    /// ```
    /// use ndchunk::{Array, Coord, DataArray, Dataset, Values};
    /// let x = Coord::new(&["x"], Values::float(ndarray::arr1(&[1.0, 2.0, 1.0, 2.0, 1.0]).into_dyn())).unwrap();
    /// let a = DataArray::new(Array::<i32>::arange(5, [2]).unwrap(), &["x"]).unwrap().with_coord("x", x).unwrap();
    /// let ds = Dataset::new().with_var("a", a).unwrap();
    /// let medians = ds.groupby("x").unwrap().median().unwrap();
    /// // Positions 0, 2, 4 and 1, 3; integers give float64.
    /// assert_eq!(medians.get("a").unwrap().values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![2.0, 2.0]);
    /// ```
    pub fn median(&self) -> Result<super::Dataset> {
        self.each(GroupBy::median)
    }

    /// The `q`-th quantile of each group of every grouped variable (see
    /// [`GroupBy::quantile`]).
    ///
    /// ```
    /// use ndchunk::{Array, Coord, DataArray, Dataset, Values};
    /// let x = Coord::new(&["x"], Values::float(ndarray::arr1(&[1.0, 2.0, 1.0, 2.0, 1.0]).into_dyn())).unwrap();
    /// let a = DataArray::new(Array::<f32>::arange(5, [2]).unwrap(), &["x"]).unwrap().with_coord("x", x).unwrap();
    /// let ds = Dataset::new().with_var("a", a).unwrap();
    /// let q = ds.groupby("x").unwrap().quantile(0.75).unwrap();
    /// assert_eq!(q.get("a").unwrap().values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![3.0, 2.5]);
    /// ```
    pub fn quantile(&self, q: f64) -> Result<super::Dataset> {
        self.each(|g| g.quantile(q))
    }

    /// Groupby arithmetic with `other`'s variable of each name (xarray's
    /// `ds.groupby("time.month") - clim`); variables `other` lacks are kept.
    /// Attributes are merged as between two arrays (see [`Arith`]): the
    /// datasets', and each variable's.
    pub fn arith(&self, op: Arith, other: &super::Dataset) -> Result<super::Dataset> {
        let mut out = super::Dataset::new().with_attrs(drop_conflicts(&self.attrs, other.attrs()));
        for (name, grouped) in &self.vars {
            let array = match grouped {
                Ok(g) if other.data_vars.contains_key(name) => {
                    g.arith(op, &other.get(name)?)?.with_name(name)
                }
                Ok(g) => g.array.clone(),
                Err(kept) => kept.clone(),
            };
            out = out.with_var(name, array)?;
        }
        Ok(out)
    }
}
