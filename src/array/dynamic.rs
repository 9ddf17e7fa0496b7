//! `DynArray`: a lazy array whose dtype is known only at run time (a store
//! opened by path, a CLI argument, a dataset variable). It is an
//! [`Array<T>`] for one of the eleven dtypes; code that needs the type
//! either matches the variant, converts ([`DynArray::astype`]), or hands a
//! [`DType`] tag to a generic function with [`with_dtype!`](crate::with_dtype).

use std::sync::Arc;

use ndchunk_chunking::ChunkGrid;
use ndchunk_io::{ChunkStore, DType, Element};
use num_traits::AsPrimitive;

use super::{Array, Chunks};
use crate::error::{Error, Result};
use crate::exec::run::{ComputeOptions, ComputeReport};
use crate::graph::Node;
use crate::ops::numeric::Numeric;
use crate::ops::Index;
use crate::plan::Plan;

/// Runs `$body` with the type alias `$T` bound to the Rust element type of
/// the [`DType`](crate::io::DType) `$dtype`: the one place a dtype tag
/// becomes a type parameter, so nothing is written once per dtype.
///
/// ```
/// use ndchunk::io::{DType, Element};
/// fn size_of<T: Element>() -> usize { std::mem::size_of::<T>() }
/// let dtype: DType = "<u2".parse().unwrap();
/// assert_eq!(ndchunk::with_dtype!(dtype, T => size_of::<T>()), 2);
/// ```
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::io::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::io::DType::Int8 => {
                type $T = i8;
                $body
            }
            $crate::io::DType::Int16 => {
                type $T = i16;
                $body
            }
            $crate::io::DType::Int32 => {
                type $T = i32;
                $body
            }
            $crate::io::DType::Int64 => {
                type $T = i64;
                $body
            }
            $crate::io::DType::UInt8 => {
                type $T = u8;
                $body
            }
            $crate::io::DType::UInt16 => {
                type $T = u16;
                $body
            }
            $crate::io::DType::UInt32 => {
                type $T = u32;
                $body
            }
            $crate::io::DType::UInt64 => {
                type $T = u64;
                $body
            }
            $crate::io::DType::Float32 => {
                type $T = f32;
                $body
            }
            $crate::io::DType::Float64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// A lazy chunked array of a dtype known at run time: one variant per
/// [`DType`], each the typed [`Array`]. Cloning is cheap.
///
/// ```
/// use std::sync::Arc;
/// use ndchunk::io::{ArrayMeta, ChunkGrid, DType, MemoryStore, Scalar};
/// use ndchunk::DynArray;
///
/// let grid = ChunkGrid::regular(&[4, 6], &[2, 3]).unwrap();
/// let store = Arc::new(MemoryStore::new("t", ArrayMeta::new(grid, DType::Int16, Scalar::Int(7))));
/// let a = DynArray::from_store(store).unwrap();
/// assert_eq!(a.dtype(), DType::Int16);
/// let mean = a.as_f64().mean(&[0, 1], false).compute().unwrap();
/// assert_eq!(mean.into_raw_vec_and_offset().0, vec![7.0]);
/// ```
#[derive(Debug, Clone)]
pub enum DynArray {
    /// `bool`.
    Bool(Array<bool>),
    /// `int8`.
    Int8(Array<i8>),
    /// `int16`.
    Int16(Array<i16>),
    /// `int32`.
    Int32(Array<i32>),
    /// `int64`.
    Int64(Array<i64>),
    /// `uint8`.
    UInt8(Array<u8>),
    /// `uint16`.
    UInt16(Array<u16>),
    /// `uint32`.
    UInt32(Array<u32>),
    /// `uint64`.
    UInt64(Array<u64>),
    /// `float32`.
    Float32(Array<f32>),
    /// `float64`.
    Float64(Array<f64>),
}

/// `$numeric` with `$a` bound to the typed array of any numeric variant,
/// `$boolean` with `$b` bound to a `bool` array (the same body by default).
macro_rules! each {
    ($value:expr, $a:ident => $body:expr) => {
        each!($value, $a => $body, bool $a => $body)
    };
    ($value:expr, $a:ident => $numeric:expr, bool $b:ident => $boolean:expr) => {
        match $value {
            DynArray::Bool($b) => $boolean,
            DynArray::Int8($a) => $numeric,
            DynArray::Int16($a) => $numeric,
            DynArray::Int32($a) => $numeric,
            DynArray::Int64($a) => $numeric,
            DynArray::UInt8($a) => $numeric,
            DynArray::UInt16($a) => $numeric,
            DynArray::UInt32($a) => $numeric,
            DynArray::UInt64($a) => $numeric,
            DynArray::Float32($a) => $numeric,
            DynArray::Float64($a) => $numeric,
        }
    };
}

/// The element types a [`DynArray`] holds (every [`Element`]), with the
/// conversions between them.
pub trait DynElement: Element {
    /// The variant holding `array`.
    fn into_dyn(array: Array<Self>) -> DynArray;
    /// The typed array, if `array` holds this type.
    fn typed(array: &DynArray) -> Option<&Array<Self>>;
    /// `array` converted to this type, as numpy's `astype` (unsafe
    /// casting): Rust's `as` between numbers, `x != 0` to `bool`, 0 or 1
    /// from `bool`.
    fn cast(array: &DynArray) -> Array<Self>;
}

macro_rules! numeric_elements {
    ($($variant:ident $t:ty),* $(,)?) => {$(
        impl DynElement for $t {
            fn into_dyn(array: Array<$t>) -> DynArray {
                DynArray::$variant(array)
            }
            fn typed(array: &DynArray) -> Option<&Array<$t>> {
                match array {
                    DynArray::$variant(a) => Some(a),
                    _ => None,
                }
            }
            fn cast(array: &DynArray) -> Array<$t> {
                if let Some(a) = Self::typed(array) {
                    return a.clone();
                }
                each!(array, a => a.astype::<$t>(), bool b => {
                    b.map(&format!("astype({})", <$t as Element>::DTYPE.name()), |x| {
                        AsPrimitive::<$t>::as_(u8::from(x))
                    })
                    .recorded(
                        "astype",
                        serde_json::json!({ "to": <$t as Element>::DTYPE.name() }),
                        vec![b.origin()],
                    )
                })
            }
        }
    )*};
}

numeric_elements!(
    Int8 i8, Int16 i16, Int32 i32, Int64 i64,
    UInt8 u8, UInt16 u16, UInt32 u32, UInt64 u64,
    Float32 f32, Float64 f64,
);

impl DynElement for bool {
    fn into_dyn(array: Array<bool>) -> DynArray {
        DynArray::Bool(array)
    }
    fn typed(array: &DynArray) -> Option<&Array<bool>> {
        match array {
            DynArray::Bool(a) => Some(a),
            _ => None,
        }
    }
    fn cast(array: &DynArray) -> Array<bool> {
        each!(array, a => nonzero(a), bool b => b.clone())
    }
}

fn nonzero<T: Numeric>(array: &Array<T>) -> Array<bool> {
    array.map("astype(bool)", |x| x != T::ZERO).recorded(
        "astype",
        serde_json::json!({ "to": "bool" }),
        vec![array.origin()],
    )
}

/// A grouped reduction's statistic as a plan file holds it.
fn group_stat_value(stat: crate::ops::GroupStat) -> serde_json::Value {
    use crate::ops::GroupStat;
    let (name, ddof) = match stat {
        GroupStat::Count => ("count", None),
        GroupStat::Sum => ("sum", None),
        GroupStat::Mean => ("mean", None),
        GroupStat::Var { ddof } => ("var", Some(ddof)),
        GroupStat::Std { ddof } => ("std", Some(ddof)),
        GroupStat::Min => ("min", None),
        GroupStat::Max => ("max", None),
    };
    serde_json::json!({ "name": name, "ddof": ddof })
}

/// The statistic [`group_stat_value`] wrote.
pub(crate) fn group_stat_from(value: &serde_json::Value) -> Result<crate::ops::GroupStat> {
    use crate::ops::GroupStat;
    let ddof = value["ddof"].as_u64();
    Ok(match (value["name"].as_str(), ddof) {
        (Some("count"), None) => GroupStat::Count,
        (Some("sum"), None) => GroupStat::Sum,
        (Some("mean"), None) => GroupStat::Mean,
        (Some("var"), Some(ddof)) => GroupStat::Var { ddof },
        (Some("std"), Some(ddof)) => GroupStat::Std { ddof },
        (Some("min"), None) => GroupStat::Min,
        (Some("max"), None) => GroupStat::Max,
        _ => {
            return Err(super::recipe::file_error(format!(
                "not a group statistic: {value}"
            )))
        }
    })
}

/// How the typed array was built (see `recipe.rs`).
pub(crate) fn each_origin(array: &DynArray) -> super::recipe::Origin {
    each!(array, a => a.origin())
}

impl<T: DynElement> From<Array<T>> for DynArray {
    fn from(array: Array<T>) -> Self {
        T::into_dyn(array)
    }
}

impl DynArray {
    /// The array of a chunk store, typed by the store's dtype. Reads
    /// nothing now, as [`Array::from_store`]; see [`DynArray`] for an example.
    pub fn from_store(store: Arc<dyn ChunkStore>) -> Result<DynArray> {
        let dtype = store.meta().dtype;
        crate::with_dtype!(dtype, T => Array::<T>::from_store(store).map(DynArray::from))
    }

    /// The element type.
    ///
    /// ```
    /// use ndchunk::{Array, DynArray};
    /// let a = DynArray::from(Array::<u8>::zeros(&[3], [3]).unwrap());
    /// assert_eq!(a.dtype(), ndchunk::io::DType::UInt8);
    /// ```
    pub fn dtype(&self) -> DType {
        each!(self, a => a.dtype())
    }

    /// The graph node behind the array.
    pub(crate) fn node(&self) -> &Arc<Node> {
        each!(self, a => a.node())
    }

    /// The shape.
    pub fn shape(&self) -> Vec<u64> {
        self.node().grid().shape()
    }

    /// The chunking.
    pub fn grid(&self) -> &ChunkGrid {
        self.node().grid()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.grid().ndim()
    }

    /// The typed array, when it holds `T`; an error naming both dtypes
    /// otherwise (no conversion: see [`DynArray::astype`]).
    ///
    /// ```
    /// use ndchunk::{Array, DynArray};
    /// let a = DynArray::from(Array::<f32>::ones(&[3], [3]).unwrap());
    /// assert!(a.typed::<f32>().is_ok());
    /// assert!(a.typed::<f64>().is_err());
    /// ```
    pub fn typed<T: DynElement>(&self) -> Result<Array<T>> {
        T::typed(self).cloned().ok_or_else(|| Error::Invalid {
            operation: format!("typed::<{}>", T::DTYPE.name()),
            message: format!("the array holds {}, not {}", self.dtype(), T::DTYPE),
        })
    }

    /// The elements converted to `U`, lazily, as numpy's `astype` (unsafe
    /// casting, so it never fails): Rust's `as` between numbers (floats to
    /// integers truncate and saturate), `x != 0` to `bool`, 0 or 1 from
    /// `bool`. The array itself when it already holds `U`.
    ///
    /// ```
    /// use ndchunk::{Array, DynArray};
    /// let a = DynArray::from(Array::<f64>::linspace(-1.5, 1.5, 4, true, [4]).unwrap());
    /// assert_eq!(a.astype::<i32>().compute().unwrap().into_raw_vec_and_offset().0, vec![-1, 0, 0, 1]);
    /// assert_eq!(a.astype::<bool>().compute().unwrap().into_raw_vec_and_offset().0, vec![true; 4]);
    /// ```
    pub fn astype<U: DynElement>(&self) -> Array<U> {
        U::cast(self)
    }

    /// The elements as `f64` (what reductions of integer arrays want).
    ///
    /// ```
    /// use ndchunk::{Array, DynArray};
    /// let a = DynArray::from(Array::<u8>::arange(4, [2]).unwrap());
    /// assert_eq!(a.as_f64().mean(&[0], false).compute().unwrap()[[]], 1.5);
    /// ```
    pub fn as_f64(&self) -> Array<f64> {
        self.astype()
    }

    /// `f` of each element as `float64` (giving any element type), in one
    /// elementwise step (not an `astype` and a `map`: one lane kernel
    /// where a chain runs by lanes). A closure: for the engine's own
    /// kernels (`kernel.rs`), which record what they compute.
    pub(crate) fn map_f64<U: Element>(
        &self,
        name: &str,
        f: impl Fn(f64) -> U + Send + Sync + 'static,
    ) -> Array<U> {
        each!(self, a => a.map(name, move |x| f(x.as_())), bool b => {
            b.map(name, move |x| f(f64::from(u8::from(x))))
        })
    }

    /// The elements as `f32`.
    pub fn as_f32(&self) -> Array<f32> {
        self.astype()
    }

    /// The same values on a new chunking (see [`Array::rechunk`]).
    ///
    /// ```
    /// use ndchunk::{Array, DynArray};
    /// let a = DynArray::from(Array::<i64>::arange(10, [3]).unwrap()).rechunk([5]);
    /// assert_eq!(a.grid().chunk_shape(), vec![5]);
    /// ```
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> DynArray {
        let chunks = chunks.into();
        each!(self, a => a.rechunk(chunks).into())
    }

    /// numpy's basic indexing (see [`Array::slice`]).
    ///
    /// ```
    /// use ndchunk::{Array, DynArray, Index};
    /// let a = DynArray::from(Array::<i16>::arange(10, [4]).unwrap());
    /// assert_eq!(a.slice(&[Index::range(2, 5, 1)]).shape(), vec![3]);
    /// ```
    pub fn slice(&self, indices: &[Index]) -> DynArray {
        each!(self, a => a.slice(indices).into())
    }

    /// The elements at `indices` along `axis` (see [`Array::take`]).
    pub fn take(&self, indices: &[i64], axis: usize) -> DynArray {
        each!(self, a => a.take(indices, axis).into())
    }

    /// The axes in the order `axes` gives (see [`Array::transpose`]).
    pub fn transpose(&self, axes: &[usize]) -> DynArray {
        each!(self, a => a.transpose(axes).into())
    }

    /// A new axis of length 1 at `axis` (see [`Array::expand_dims`]).
    pub fn expand_dims(&self, axis: usize) -> DynArray {
        each!(self, a => a.expand_dims(axis).into())
    }

    /// `reduction` over `axes`, NaNs skipped when `skipna` (a float
    /// array's only; integers have none). Means, variances and standard
    /// deviations of integers are `float64`, of floats their own type; sums
    /// of integers are 64-bit (`int64`, or `uint64` for unsigned ones), as
    /// numpy's; minima and maxima keep the dtype (`bool` counts as `int64`
    /// 0/1).
    ///
    /// ```
    /// use ndchunk::{Array, DynArray, Reduction};
    /// let a = DynArray::from(Array::<f32>::from_ndarray(
    ///     ndarray::arr2(&[[1.0, f32::NAN], [3.0, 4.0]]).into_dyn(), [1, 2]).unwrap());
    /// let mean = a.reduce(Reduction::Mean, &[0, 1], true);
    /// assert_eq!(mean.typed::<f32>().unwrap().compute().unwrap()[[]], 8.0 / 3.0);
    /// ```
    pub fn reduce(&self, reduction: Reduction, axes: &[usize], skipna: bool) -> DynArray {
        let axes = axes.to_vec();
        // numpy sums small integers in 64 bits, keeping the signedness.
        if reduction == Reduction::Sum {
            match self {
                DynArray::Int8(_) | DynArray::Int16(_) | DynArray::Int32(_) => {
                    return self.astype::<i64>().reduce_dyn(reduction, axes, false)
                }
                DynArray::UInt8(_) | DynArray::UInt16(_) | DynArray::UInt32(_) => {
                    return self.astype::<u64>().reduce_dyn(reduction, axes, false)
                }
                _ => {}
            }
        }
        match self {
            DynArray::Bool(b) => b.astype::<i64>().reduce_dyn(reduction, axes, skipna),
            DynArray::Int8(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::Int16(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::Int32(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::Int64(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::UInt8(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::UInt16(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::UInt32(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::UInt64(a) => a.reduce_dyn(reduction, axes, false),
            DynArray::Float32(a) => a.reduce_dyn(reduction, axes, skipna),
            DynArray::Float64(a) => a.reduce_dyn(reduction, axes, skipna),
        }
    }

    /// This array, built by `op` with `args` from the arrays of `inputs`
    /// (see `recipe.rs`).
    pub(crate) fn recorded(
        self,
        op: &'static str,
        args: serde_json::Value,
        inputs: Vec<super::recipe::Origin>,
    ) -> DynArray {
        each!(self, a => a.recorded(op, args, inputs).into())
    }

    /// A grouped reduction along `axis` (see `Array::grouped`), read in
    /// the array's own type.
    pub(crate) fn grouped(
        &self,
        axis: usize,
        group_of: Arc<[u32]>,
        groups: usize,
        stat: crate::ops::GroupStat,
        skipna: bool,
    ) -> Array<f64> {
        let members = group_of.clone();
        let args = move || {
            serde_json::json!({
                "axis": axis,
                "group_of": &*members,
                "groups": groups,
                "stat": group_stat_value(stat),
                "skipna": skipna,
            })
        };
        let inputs = vec![each_origin(self)];
        each!(self, a => a.grouped(axis, group_of, groups, stat, skipna),
            bool _b => self.as_f64().grouped(axis, group_of, groups, stat, skipna))
        .recorded_with("grouped", super::recipe::Args::Lazy(Box::new(args)), inputs)
    }

    /// The optimised plan, for the default budget.
    pub fn plan(&self) -> Result<Plan> {
        each!(self, a => a.plan())
    }

    /// The optimised plan as text.
    pub fn explain(&self) -> Result<String> {
        Ok(self.plan()?.to_string())
    }

    /// Writes the array into `store` (whose dtype must be the array's), as
    /// [`Array::store`].
    pub fn store(&self, store: &dyn ChunkStore) -> Result<ComputeReport> {
        self.store_with(store, &ComputeOptions::default())
    }

    /// Computes the array once and returns an array over the result (see
    /// [`Array::persist_with`]).
    pub fn persist_with(&self, options: &ComputeOptions) -> Result<(DynArray, ComputeReport)> {
        each!(self, a => {
            let (a, report) = a.persist_with(options)?;
            Ok((a.into(), report))
        })
    }

    /// The plan [`DynArray::store_with`] runs for a store of `meta` (see
    /// [`Array::store_plan`]).
    pub fn store_plan(
        &self,
        meta: &ndchunk_io::ArrayMeta,
        options: &ComputeOptions,
    ) -> Result<Plan> {
        each!(self, a => a.store_plan(meta, options))
    }

    /// [`DynArray::store`] within `options`.
    pub fn store_with(
        &self,
        store: &dyn ChunkStore,
        options: &ComputeOptions,
    ) -> Result<ComputeReport> {
        each!(self, a => a.store_with(store, options))
    }
}

/// A reduction [`DynArray::reduce`] applies (and the labelled layer's
/// reductions by dimension name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reduction {
    /// The sum.
    Sum,
    /// The arithmetic mean.
    Mean,
    /// The variance with `ddof` delta degrees of freedom.
    Var {
        /// Delta degrees of freedom (0: population variance).
        ddof: u64,
    },
    /// The standard deviation with `ddof` delta degrees of freedom.
    Std {
        /// Delta degrees of freedom.
        ddof: u64,
    },
    /// The minimum.
    Min,
    /// The maximum.
    Max,
}

impl Reduction {
    /// The name, as numpy's function (`mean`, `std`).
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Sum => "sum",
            Reduction::Mean => "mean",
            Reduction::Var { .. } => "var",
            Reduction::Std { .. } => "std",
            Reduction::Min => "min",
            Reduction::Max => "max",
        }
    }
}

impl<T: crate::ops::MeanElement + DynElement> Array<T>
where
    T::Mean: DynElement,
{
    fn reduce_dyn(&self, reduction: Reduction, axes: Vec<usize>, skipna: bool) -> DynArray {
        let axes: Vec<i64> = axes.into_iter().map(|a| a as i64).collect();
        let axes = axes.as_slice();
        match (reduction, skipna) {
            (Reduction::Sum, false) => self.sum(axes, false).into(),
            (Reduction::Sum, true) => self.nansum(axes, false).into(),
            (Reduction::Mean, false) => self.mean(axes, false).into(),
            (Reduction::Mean, true) => self.nanmean(axes, false).into(),
            (Reduction::Var { ddof }, false) => self.var(axes, false, ddof).into(),
            (Reduction::Var { ddof }, true) => self.nanvar(axes, false, ddof).into(),
            (Reduction::Std { ddof }, false) => self.std(axes, false, ddof).into(),
            (Reduction::Std { ddof }, true) => self.nanstd(axes, false, ddof).into(),
            (Reduction::Min, false) => self.min(axes, false).into(),
            (Reduction::Min, true) => self.nanmin(axes, false).into(),
            (Reduction::Max, false) => self.max(axes, false).into(),
            (Reduction::Max, true) => self.nanmax(axes, false).into(),
        }
    }
}
