//! Arithmetic between labelled arrays, as xarray's: operands are aligned
//! by dimension name and index (see [`Join`]), broadcast over the
//! dimensions only one has (the result has the left's dimensions, then
//! the right's others), and combined lazily in numpy's result dtype.
//! Attributes are merged as xarray's default `keep_attrs` merges them
//! (`"drop_conflicts"`: both operands' attributes, those whose values
//! differ dropped; with a scalar, the array's); the name stays when both
//! operands have the same one; a coordinate both have with the same values
//! keeps the left's attributes.

use std::ops::{Add, Div, Mul, Sub};

use super::align::{align, Join};
use super::attrs::drop_conflicts;
use super::data_array::DataArray;
use super::dataset::Dataset;
use super::variable::Variable;
use super::Attrs;
use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::io::DType;
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
        let operation = format!("{op:?}").to_lowercase();
        self.refuse_time(&operation)?;
        other.refuse_time(&operation)?;
        let (a, b) = align(self, other, join)?;
        let (x, y, dims) = broadcast_pair(&a, &b);
        let data = arith_dyn(&x, &y, op)?;
        Ok(combine(&a, &b, dims, data))
    }

    /// `self <op> value` element by element (a `float32` array stays
    /// `float32`, integers become `float64`).
    pub fn arith_scalar(&self, op: Arith, value: f64) -> DataArray {
        let data = match &self.variable.data {
            DynArray::Float32(a) => op_scalar(a, value as f32, op).into(),
            other => op_scalar(&other.as_f64(), value, op).into(),
        };
        self.with_data(data)
    }

    /// This array where `condition` holds, NaN elsewhere (xarray's
    /// `where(cond)`); `condition` is aligned and broadcast as arithmetic
    /// is. Integers become `float64`.
    pub fn where_(&self, condition: &DataArray) -> Result<DataArray> {
        condition.refuse_time("where (as its condition)")?;
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
        // Dates where the condition holds, NaT (NaN) elsewhere.
        out.variable.time = self.variable.time.clone();
        Ok(out)
    }

    /// Whether each element is greater than `value` (a condition for
    /// [`DataArray::where_`]).
    pub fn greater(&self, value: f64) -> DataArray {
        self.with_data(self.variable.data.as_f64().greater(value).into())
    }

    /// Whether each element is less than `value`.
    pub fn less(&self, value: f64) -> DataArray {
        self.with_data(self.variable.data.as_f64().less(value).into())
    }
}

impl Dataset {
    /// `self <op> other` on every data variable (xarray's `ds - da`),
    /// each aligned by `join` and broadcast by name; attributes are merged
    /// as between two arrays (the dataset's with `other`'s, each
    /// variable's with `other`'s), as xarray's.
    ///
    /// ```
    /// use ndchunk::{Arith, Array, DataArray, Dataset, Join};
    /// let t = DataArray::new(Array::<f64>::ones(&[4, 3], [2, 3]).unwrap(), &["time", "x"]).unwrap();
    /// let ds = Dataset::new().with_var("t", t.clone()).unwrap();
    /// let anomaly = ds.arith(Arith::Sub, &t.mean("time").unwrap(), Join::Inner).unwrap();
    /// assert_eq!(anomaly.get("t").unwrap().values::<f64>().unwrap().sum(), 0.0);
    /// ```
    pub fn arith(&self, op: Arith, other: &DataArray, join: Join) -> Result<Dataset> {
        let mut out = Dataset::new().with_attrs(drop_conflicts(&self.attrs, other.attrs()));
        for name in self.data_vars() {
            let result = self.get(name)?.arith(op, other, join)?.with_name(name);
            out = out.with_var(name, result)?;
        }
        Ok(out)
    }

    /// `self <op> other` variable by variable, as xarray's `ds1 - ds2`:
    /// `join` aligns each pair's indexes and also decides the variables
    /// only one operand has: dropped by `Inner` and `Exact` (xarray's
    /// default `arithmetic_join="inner"`), kept from the left by `Left`,
    /// from the right by `Right`, from both by `Outer`, each as itself
    /// `<op>` NaN (floats, all NaN) on the joined indexes. Attributes are
    /// merged as between two arrays: the datasets', and each variable's.
    ///
    /// ```
    /// use ndchunk::{Arith, Array, DataArray, Dataset, Join};
    /// let v = || DataArray::new(Array::<f64>::ones(&[2], [2]).unwrap(), &["x"]).unwrap();
    /// let a = Dataset::new().with_var("t", v()).unwrap().with_var("only_a", v()).unwrap();
    /// let b = Dataset::new().with_var("t", v()).unwrap().with_var("only_b", v()).unwrap();
    /// let inner = a.arith_dataset(Arith::Add, &b, Join::Inner).unwrap();
    /// assert_eq!(inner.data_vars().collect::<Vec<_>>(), ["t"]);
    /// let outer = a.arith_dataset(Arith::Add, &b, Join::Outer).unwrap();
    /// assert_eq!(outer.data_vars().collect::<Vec<_>>(), ["t", "only_a", "only_b"]);
    /// assert!(outer.get("only_b").unwrap().values::<f64>().unwrap()[[0]].is_nan());
    /// ```
    pub fn arith_dataset(&self, op: Arith, other: &Dataset, join: Join) -> Result<Dataset> {
        let keep_left = matches!(join, Join::Left | Join::Outer);
        let keep_right = matches!(join, Join::Right | Join::Outer);
        let mut out = Dataset::new().with_attrs(drop_conflicts(&self.attrs, &other.attrs));
        for name in self.data_vars() {
            let result = if other.data_vars.contains_key(name) {
                self.get(name)?.arith(op, &other.get(name)?, join)?
            } else if keep_left {
                missing_in_other(&self.get(name)?, op, other, join, true)?
            } else {
                continue;
            };
            out = out.with_var(name, result.with_name(name))?;
        }
        for name in other.data_vars() {
            if keep_right && !self.data_vars.contains_key(name) {
                let result = missing_in_other(&other.get(name)?, op, self, join, false)?;
                out = out.with_var(name, result.with_name(name))?;
            }
        }
        Ok(out)
    }
}

/// `var <op> NaN` for a variable the dataset `other` lacks, first aligned
/// by `join` with `other`'s indexes along its dimensions (as xarray aligns
/// the two datasets whole before applying the operator); `var` is of the
/// left operand when `left`.
fn missing_in_other(
    var: &DataArray,
    op: Arith,
    other: &Dataset,
    join: Join,
    left: bool,
) -> Result<DataArray> {
    let mut out = var.clone();
    for dim in var.dims() {
        let Ok(index) = super::index_of(&other.coords, dim) else {
            continue;
        };
        let shape = [index.len() as u64];
        let probe = Array::<u8>::zeros(&shape, [shape[0].max(1)])?;
        let probe = DataArray::new(probe, &[dim])?.with_coord(dim, other.coords[dim].clone())?;
        out = if left {
            align(&out, &probe, join)?.0
        } else {
            align(&probe, &out, join)?.1
        };
    }
    Ok(out.arith_scalar(op, f64::NAN))
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

/// `a <op> b` in numpy's result type: [`promote`]d for `+ - *`, and for
/// true division the same but at least a float (`float64` for integers).
fn arith_dyn(a: &DynArray, b: &DynArray, op: Arith) -> Result<DynArray> {
    let mut dtype = promote(a.dtype(), b.dtype());
    if op == Arith::Div && !dtype.is_float() {
        dtype = DType::Float64;
    }
    macro_rules! typed {
        ($($variant:ident $t:ty),*) => {
            match dtype {
                $(DType::$variant => {
                    let (x, y) = (a.astype::<$t>(), b.astype::<$t>());
                    Ok(op_arrays(&x, &y, op).into())
                })*
                DType::Bool => booleans(&a.astype::<bool>(), &b.astype::<bool>(), op),
            }
        };
    }
    typed!(
        Int8 i8, Int16 i16, Int32 i32, Int64 i64, UInt8 u8, UInt16 u16, UInt32 u32,
        UInt64 u64, Float32 f32, Float64 f64
    )
}

/// Two booleans stay booleans, as numpy's: `+` is `or`, `*` is `and`, and
/// `-` is refused (numpy raises a `TypeError`); `/` is never asked here
/// (it is a float division).
fn booleans(a: &Array<bool>, b: &Array<bool>, op: Arith) -> Result<DynArray> {
    match op {
        Arith::Add => Ok(a.logical_or(b.clone()).into()),
        Arith::Mul | Arith::Div => Ok(a.logical_and(b.clone()).into()),
        Arith::Sub => Err(Error::Invalid {
            operation: "subtraction of two boolean arrays".into(),
            message: "numpy does not subtract booleans: use logical_xor".into(),
        }),
    }
}

/// numpy's type promotion of two dtypes: the smallest type that holds
/// both (`int8` with `uint8` is `int16`; `int64` with `uint64` is
/// `float64`; a float with an integer is the float wide enough for it:
/// `float32` with `int16`, `float64` with `int32`).
pub(crate) fn promote(a: DType, b: DType) -> DType {
    use DType::*;
    let kind = |d: DType| match d {
        Bool => 0,
        UInt8 | UInt16 | UInt32 | UInt64 => 1,
        Int8 | Int16 | Int32 | Int64 => 2,
        Float32 | Float64 => 3,
    };
    let (lo, hi) = if kind(a) <= kind(b) { (a, b) } else { (b, a) };
    let bits = |d: DType| 8 * d.size();
    let signed = |n: usize| match n {
        8 => Int8,
        16 => Int16,
        32 => Int32,
        _ => Int64,
    };
    let unsigned = |n: usize| match n {
        8 => UInt8,
        16 => UInt16,
        32 => UInt32,
        _ => UInt64,
    };
    match (kind(lo), kind(hi)) {
        (_, 0) => Bool,
        (0, _) => hi,
        (1, 1) => unsigned(bits(lo).max(bits(hi))),
        (2, 2) => signed(bits(lo).max(bits(hi))),
        // Unsigned with signed: a signed type wider than the unsigned one.
        (1, 2) if bits(lo) < bits(hi) => hi,
        (1, 2) if bits(lo) < 64 => signed(2 * bits(lo)),
        (1, 2) => Float64,
        (3, 3) => {
            if bits(lo).max(bits(hi)) == 64 {
                Float64
            } else {
                Float32
            }
        }
        // An integer with a float: float32 holds integers of up to 16 bits.
        (_, 3) if hi == Float32 && bits(lo) <= 16 => Float32,
        _ => Float64,
    }
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
/// merged (those whose values differ dropped, as xarray drops conflicting
/// ones; the left's attributes kept), their attributes merged by
/// [`drop_conflicts`].
fn combine(a: &DataArray, b: &DataArray, dims: Vec<String>, data: DynArray) -> DataArray {
    let mut coords = a.coords.clone();
    for (name, coord) in &b.coords {
        match coords.get(name) {
            Some(have) if have.dims != coord.dims || have.values != coord.values => {
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
            attrs: drop_conflicts(&a.variable.attrs, &b.variable.attrs),
            encoding: Attrs::new(),
            time: None,
        },
        coords,
    }
}
