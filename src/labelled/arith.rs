//! Arithmetic between labelled arrays, as xarray's: operands are aligned
//! by dimension name and index (see [`Join`]), broadcast over the
//! dimensions only one has (the result has the left's dimensions, then
//! the right's others), and combined lazily. Attributes are dropped
//! (xarray's `keep_attrs` default for binary operations); the name stays
//! when both operands have the same one.

use std::ops::{Add, Div, Mul, Sub};

use super::align::{align, Join};
use super::data_array::DataArray;
use super::dataset::Dataset;
use super::variable::Variable;
use super::Attrs;
use crate::array::{Array, DynArray};
use crate::error::Result;
use crate::ops::{where_, Numeric};

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/` (true division: integers give `float64`).
    Div,
}

impl DataArray {
    /// `self + other`, aligned by an inner join.
    pub fn add(&self, other: &DataArray) -> Result<DataArray> {
        self.arith(Arith::Add, other, Join::Inner)
    }

    /// `self - other`, aligned by an inner join.
    pub fn sub(&self, other: &DataArray) -> Result<DataArray> {
        self.arith(Arith::Sub, other, Join::Inner)
    }

    /// `self * other`, aligned by an inner join.
    pub fn mul(&self, other: &DataArray) -> Result<DataArray> {
        self.arith(Arith::Mul, other, Join::Inner)
    }

    /// `self / other`, aligned by an inner join.
    pub fn div(&self, other: &DataArray) -> Result<DataArray> {
        self.arith(Arith::Div, other, Join::Inner)
    }

    /// `self <op> other`, aligned by `join`, broadcast by dimension name.
    ///
    /// ```
    /// use ndchunk::{Array, Coord, DataArray, Join, Arith, Values};
    /// let x = |labels: &[f64]| Coord::new(&["x"], Values::float(ndarray::arr1(labels).into_dyn())).unwrap();
    /// let a = DataArray::new(Array::<f64>::ones(&[3], [3]).unwrap(), &["x"]).unwrap()
    ///     .with_coord("x", x(&[0.0, 1.0, 2.0])).unwrap();
    /// let b = DataArray::new(Array::<f64>::arange(2, [2]).unwrap(), &["x"]).unwrap()
    ///     .with_coord("x", x(&[1.0, 2.0])).unwrap();
    /// let inner = a.add(&b).unwrap();
    /// assert_eq!(inner.values::<f64>().unwrap().into_raw_vec_and_offset().0, vec![1.0, 2.0]);
    /// let outer = a.arith(Arith::Add, &b, Join::Outer).unwrap();
    /// assert!(outer.values::<f64>().unwrap()[[0]].is_nan());
    /// assert!(a.arith(Arith::Add, &b, Join::Exact).is_err());
    /// ```
    pub fn arith(&self, op: Arith, other: &DataArray, join: Join) -> Result<DataArray> {
        let (a, b) = align(self, other, join)?;
        let (x, y, dims) = broadcast_pair(&a, &b);
        let data = arith_dyn(&x, &y, op);
        Ok(combine(&a, &b, dims, data))
    }

    /// `self <op> value` element by element (a `float32` array stays
    /// `float32`, integers become `float64`).
    pub fn arith_scalar(&self, op: Arith, value: f64) -> DataArray {
        let data = match &self.variable.data {
            DynArray::Float32(a) => op_scalar(a, value as f32, op).into(),
            other => op_scalar(&other.as_f64(), value, op).into(),
        };
        let mut out = self.clone();
        out.variable.data = data;
        out.variable.attrs = Attrs::new();
        out.variable.encoding = Attrs::new();
        out
    }

    /// This array where `condition` holds, NaN elsewhere (xarray's
    /// `where(cond)`); `condition` is aligned and broadcast as arithmetic
    /// is. Integers become `float64`.
    pub fn where_(&self, condition: &DataArray) -> Result<DataArray> {
        let (a, c) = align(self, condition, Join::Inner)?;
        let (x, cond, dims) = broadcast_pair(&a, &c);
        let cond = cond.astype::<bool>();
        let data: DynArray = match &x {
            DynArray::Float32(v) => where_(&cond, v.clone(), f32::NAN).into(),
            other => where_(&cond, other.as_f64(), f64::NAN).into(),
        };
        let mut out = combine(&a, &c, dims, data);
        out.name = self.name.clone();
        out.variable.attrs = self.variable.attrs.clone();
        Ok(out)
    }

    /// Whether each element is greater than `value` (a condition for
    /// [`DataArray::where_`]).
    pub fn greater(&self, value: f64) -> DataArray {
        self.compare(value, "greater", |x, v| x > v)
    }

    /// Whether each element is less than `value`.
    pub fn less(&self, value: f64) -> DataArray {
        self.compare(value, "less", |x, v| x < v)
    }

    fn compare(&self, value: f64, name: &str, f: fn(f64, f64) -> bool) -> DataArray {
        let mut out = self.clone();
        out.variable.data = self
            .variable
            .data
            .as_f64()
            .map(&format!("{name}({value})"), move |x| f(x, value))
            .into();
        out.variable.attrs = Attrs::new();
        out.variable.encoding = Attrs::new();
        out
    }
}

impl Dataset {
    /// `self <op> other` on every data variable (xarray's `ds - da`),
    /// each aligned by `join` and broadcast by name; the result's
    /// attributes are dropped, as xarray's.
    ///
    /// ```
    /// use ndchunk::{Arith, Array, DataArray, Dataset, Join};
    /// let t = DataArray::new(Array::<f64>::ones(&[4, 3], [2, 3]).unwrap(), &["time", "x"]).unwrap();
    /// let ds = Dataset::new().with_var("t", t.clone()).unwrap();
    /// let anomaly = ds.arith(Arith::Sub, &t.mean("time").unwrap(), Join::Inner).unwrap();
    /// assert_eq!(anomaly.get("t").unwrap().values::<f64>().unwrap().sum(), 0.0);
    /// ```
    pub fn arith(&self, op: Arith, other: &DataArray, join: Join) -> Result<Dataset> {
        let mut out = Dataset::new();
        for name in self.data_vars() {
            let result = self.get(name)?.arith(op, other, join)?.with_name(name);
            out = out.with_var(name, result)?;
        }
        Ok(out)
    }

    /// `self <op> other` between the data variables both datasets have
    /// (by name, as xarray's `ds1 - ds2` with its default inner join on
    /// names; `join` aligns each pair's indexes).
    pub fn arith_dataset(&self, op: Arith, other: &Dataset, join: Join) -> Result<Dataset> {
        let mut out = Dataset::new();
        for name in self.data_vars() {
            if other.data_vars.contains_key(name) {
                let result = self.get(name)?.arith(op, &other.get(name)?, join)?;
                out = out.with_var(name, result.with_name(name))?;
            }
        }
        Ok(out)
    }
}

macro_rules! scalar_operators {
    ($($trait:ident $method:ident $op:ident),*) => {$(
        impl $trait<f64> for &DataArray {
            type Output = DataArray;
            fn $method(self, value: f64) -> DataArray {
                self.arith_scalar(Arith::$op, value)
            }
        }
    )*};
}

scalar_operators!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);

fn op_scalar<T: Numeric>(a: &Array<T>, v: T, op: Arith) -> Array<T> {
    match op {
        Arith::Add => a + v,
        Arith::Sub => a - v,
        Arith::Mul => a * v,
        Arith::Div => a / v,
    }
}

fn op_arrays<T: Numeric>(a: &Array<T>, b: &Array<T>, op: Arith) -> Array<T> {
    match op {
        Arith::Add => a + b.clone(),
        Arith::Sub => a - b.clone(),
        Arith::Mul => a * b.clone(),
        Arith::Div => a / b.clone(),
    }
}

/// numpy's result types where they are simple: one dtype stays itself
/// (true division of integers aside), anything else is `float64`.
fn arith_dyn(a: &DynArray, b: &DynArray, op: Arith) -> DynArray {
    macro_rules! same {
        ($($v:ident),*) => {
            match (a, b) {
                (DynArray::Float32(x), DynArray::Float32(y)) => return op_arrays(x, y, op).into(),
                $((DynArray::$v(x), DynArray::$v(y)) if op != Arith::Div => {
                    return op_arrays(x, y, op).into()
                })*
                _ => {}
            }
        };
    }
    same!(Int8, Int16, Int32, Int64, UInt8, UInt16, UInt32, UInt64, Float64);
    op_arrays(&a.as_f64(), &b.as_f64(), op).into()
}

/// Both operands' data with their axes in the result's dimension order
/// (the left's dimensions, then the right's others), length 1 where an
/// operand lacks a dimension, so that numpy broadcasting lines them up.
fn broadcast_pair(a: &DataArray, b: &DataArray) -> (DynArray, DynArray, Vec<String>) {
    let mut dims: Vec<String> = a.dims().to_vec();
    dims.extend(b.dims().iter().filter(|d| !a.dims().contains(d)).cloned());
    let mut x = a.variable.data.clone();
    for _ in a.dims().len()..dims.len() {
        x = x.expand_dims(x.ndim());
    }
    // The right's axes in result order, then new axes where it has none.
    let order: Vec<usize> = dims
        .iter()
        .filter_map(|d| b.dims().iter().position(|e| e == d))
        .collect();
    let mut y = b.variable.data.transpose(&order);
    for (i, d) in dims.iter().enumerate() {
        if !b.dims().contains(d) {
            y = y.expand_dims(i);
        }
    }
    (x, y, dims)
}

/// The result of an operation on aligned `a` and `b`: their coordinates
/// merged (those that differ dropped, as xarray drops conflicting ones).
fn combine(a: &DataArray, b: &DataArray, dims: Vec<String>, data: DynArray) -> DataArray {
    let mut coords = a.coords.clone();
    for (name, coord) in &b.coords {
        match coords.get(name) {
            Some(have) if have != coord => {
                coords.shift_remove(name);
            }
            Some(_) => {}
            None => {
                coords.insert(name.clone(), coord.clone());
            }
        }
    }
    DataArray {
        name: if a.name == b.name {
            a.name.clone()
        } else {
            None
        },
        variable: Variable {
            dims,
            data,
            attrs: Attrs::new(),
            encoding: Attrs::new(),
        },
        coords,
    }
}
