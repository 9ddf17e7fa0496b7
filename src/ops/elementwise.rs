//! Elementwise operations: one node each, a kernel over any region, so
//! chains fuse and arrays of different chunkings meet on the grid cut at
//! both arrays' boundaries (Dask's `unify_chunks`) without a rechunk.

use std::ops::{Add, Div, Mul, Sub};
use std::sync::Arc;

use ndarray::{ArrayD, Zip};
use ndchunk_io::Element;
use num_traits::{AsPrimitive, Float};

use crate::array::recipe::{operand, scalar};
use crate::array::Array;
use crate::graph::{BlockInfo, MapRegions, Node, NodeKind};
use crate::ops::layout::broadcast_shapes;
use crate::ops::numeric::Numeric;
use crate::runtime::block::Block;
use crate::runtime::block::{block, take};
use crate::runtime::block_type::block_type;
use crate::runtime::lanes::LaneFn;
use crate::runtime::lanes::{binary, unary};

/// The other side of a binary operation: an array (broadcast with numpy's
/// rules), or a scalar broadcast to every element.
#[derive(Debug, Clone)]
pub enum Operand<T: Element> {
    /// An array whose shape broadcasts with the other's (chunkings may differ).
    Array(Array<T>),
    /// A scalar.
    Scalar(T),
}

impl<T: Element> From<T> for Operand<T> {
    fn from(value: T) -> Self {
        Operand::Scalar(value)
    }
}

impl<T: Element> From<Array<T>> for Operand<T> {
    fn from(array: Array<T>) -> Self {
        Operand::Array(array)
    }
}

impl<T: Element> From<&Array<T>> for Operand<T> {
    fn from(array: &Array<T>) -> Self {
        Operand::Array(array.clone())
    }
}

/// An elementwise node: `kernel` over blocks, and `lanes`, where the
/// operation has a per-element function, the same over lanes.
pub(crate) fn map_node<U: Element>(
    name: String,
    inputs: Vec<Arc<Node>>,
    grid: ndchunk_chunking::ChunkGrid,
    kernel: impl Fn(Vec<Block>, &BlockInfo<'_>) -> crate::Result<Block> + Send + Sync + 'static,
    lanes: Option<Arc<LaneFn>>,
) -> Array<U> {
    Array::from_node(Node::new(
        name,
        grid,
        block_type::<U>(),
        NodeKind::Map {
            inputs,
            kernel: Arc::new(kernel),
            regions: MapRegions::Any,
            lanes,
        },
    ))
}

/// An array that reports `message` for operation `name` when planned.
pub(crate) fn invalid<U: Element>(
    name: &str,
    grid: ndchunk_chunking::ChunkGrid,
    message: String,
) -> Array<U> {
    Array::from_node(Node::new(
        name,
        grid,
        block_type::<U>(),
        NodeKind::Invalid { message },
    ))
}

fn first(blocks: Vec<Block>) -> Block {
    blocks
        .into_iter()
        .next()
        .unwrap_or_else(|| block(ArrayD::<u8>::default(ndarray::IxDyn(&[]))))
}

impl<T: Element> Array<T> {
    /// `f` applied to every element, into a new element type.
    pub fn map<U: Element>(
        &self,
        name: &str,
        f: impl Fn(T) -> U + Send + Sync + 'static,
    ) -> Array<U> {
        let op = name.to_string();
        let f = Arc::new(f);
        let lanes = unary(name, f.clone());
        map_node(
            name.into(),
            vec![self.node().clone()],
            self.grid().clone(),
            move |ins, _| Ok(block(take::<T>(first(ins), &op)?.mapv(&*f))),
            Some(lanes),
        )
        .made_by_closure(name)
    }

    /// `f` applied to every element in place (no new buffer per block).
    pub fn map_inplace(&self, name: &str, f: impl Fn(T) -> T + Send + Sync + 'static) -> Array<T> {
        let op = name.to_string();
        let f = Arc::new(f);
        let lanes = unary(name, f.clone());
        map_node(
            name.into(),
            vec![self.node().clone()],
            self.grid().clone(),
            move |ins, _| {
                let mut a = take::<T>(first(ins), &op)?;
                a.mapv_inplace(&*f);
                Ok(block(a))
            },
            Some(lanes),
        )
        .made_by_closure(name)
    }

    /// `f(self, other)` element by element; `other` a scalar or an array
    /// whose shape broadcasts with this one's (numpy's rules: shapes aligned
    /// on the right, length-1 axes stretched; any chunking). Shapes that do
    /// not broadcast are reported when planned.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let col = Array::<i32>::arange(3, [2]).unwrap().reshape(&[3, 1]);
    /// let row = Array::<i32>::arange(2, [1]).unwrap();
    /// let sum = &col * 10 + &row;
    /// assert_eq!(sum.shape(), vec![3, 2]);
    /// assert_eq!(sum.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 10, 11, 20, 21]);
    /// ```
    pub fn zip_with<U: Element>(
        &self,
        other: impl Into<Operand<T>>,
        name: &str,
        f: impl Fn(T, T) -> U + Send + Sync + 'static,
    ) -> Array<U> {
        match other.into() {
            Operand::Scalar(s) => self.map(&format!("{name}({s:?})"), move |x| f(x, s)),
            Operand::Array(other) => {
                let f = Arc::new(f);
                let lanes = binary(name, f.clone());
                self.zip_arrays(&other, name, lanes, move |a, b| {
                    block(Zip::from(&a).and(&b).map_collect(|&x, &y| f(x, y)))
                })
                .made_by_closure(name)
            }
        }
    }

    /// [`zip_with`](Self::zip_with) by a built-in operation `name`,
    /// recorded for plan files.
    pub(crate) fn zip_builtin<U: Element>(
        &self,
        other: Operand<T>,
        name: &'static str,
        f: impl Fn(T, T) -> U + Send + Sync + 'static,
    ) -> Array<U> {
        let mut inputs = vec![self.origin()];
        let args = serde_json::json!({ "other": operand(&other, &mut inputs) });
        self.zip_with(other, name, f).recorded(name, args, inputs)
    }

    /// [`zip_with`](Self::zip_with) into the same type, writing into the
    /// left block instead of a new one.
    fn zip_inplace(
        &self,
        other: &Array<T>,
        name: &str,
        f: impl Fn(T, T) -> T + Send + Sync + 'static,
    ) -> Array<T> {
        let f = Arc::new(f);
        let lanes = binary(name, f.clone());
        self.zip_arrays(other, name, lanes, move |mut a, b| {
            a.zip_mut_with(&b, |x, &y| *x = f(*x, y));
            block(a)
        })
    }

    /// The node of a binary operation between two arrays, broadcast to a
    /// common shape and cut at both chunkings; `kernel` gets both blocks
    /// over the same region, `lanes` both lanes.
    pub(crate) fn zip_arrays<U: Element>(
        &self,
        other: &Array<T>,
        name: &str,
        lanes: Arc<LaneFn>,
        kernel: impl Fn(ArrayD<T>, ArrayD<T>) -> Block + Send + Sync + 'static,
    ) -> Array<U> {
        let Some(shape) = broadcast_shapes(&self.shape(), &other.shape()) else {
            return invalid(
                name,
                self.grid().clone(),
                format!(
                    "operands could not be broadcast together with shapes {:?} {:?}",
                    self.shape(),
                    other.shape()
                ),
            );
        };
        let (this, other) = (self.broadcast_to(&shape), other.broadcast_to(&shape));
        let grid = match this.grid().refine_with(other.grid()) {
            Ok(grid) => grid,
            Err(e) => return invalid(name, self.grid().clone(), e.to_string()),
        };
        let op = name.to_string();
        let inputs = vec![this.node().clone(), other.node().clone()];
        map_node(
            name.into(),
            inputs,
            grid,
            move |ins, _| {
                let mut ins = ins.into_iter();
                let (Some(a), Some(b)) = (ins.next(), ins.next()) else {
                    return Err(crate::Error::Internal {
                        operation: op.clone(),
                        message: "two inputs expected".into(),
                    });
                };
                Ok(kernel(take::<T>(a, &op)?, take::<T>(b, &op)?))
            },
            Some(lanes),
        )
    }

    /// The elements converted to `U` with Rust's `as` (numpy's `astype`
    /// with `casting="unsafe"`: floats to integers truncate and saturate).
    pub fn astype<U: Element>(&self) -> Array<U>
    where
        T: AsPrimitive<U>,
    {
        self.map(&format!("astype({})", U::DTYPE.name()), |x| x.as_())
            .recorded(
                "astype",
                serde_json::json!({ "to": U::DTYPE.name() }),
                vec![self.origin()],
            )
    }
}

macro_rules! comparisons {
    ($($(#[$doc:meta])* $name:ident => $op:tt),* $(,)?) => {
        impl<T: Element + PartialOrd> Array<T> {$(
            $(#[$doc])*
            pub fn $name(&self, other: impl Into<Operand<T>>) -> Array<bool> {
                self.zip_builtin(other.into(), stringify!($name), |x, y| x $op y)
            }
        )*}
    };
}

comparisons!(
    /// `self > other`, element by element.
    greater => >,
    /// `self >= other`, element by element.
    greater_equal => >=,
    /// `self < other`, element by element.
    less => <,
    /// `self <= other`, element by element.
    less_equal => <=,
    /// `self == other`, element by element.
    equal => ==,
    /// `self != other`, element by element.
    not_equal => !=,
);

impl<T: Numeric> Array<T> {
    /// `|x|`.
    pub fn abs(&self) -> Array<T> {
        self.map_inplace("abs", T::abs_elem).recorded(
            "abs",
            serde_json::Value::Null,
            vec![self.origin()],
        )
    }
}

macro_rules! float_unary {
    ($($(#[$doc:meta])* $name:ident => $f:expr),* $(,)?) => {
        impl<T: Numeric + Float> Array<T> {$(
            $(#[$doc])*
            pub fn $name(&self) -> Array<T> {
                self.map_inplace(stringify!($name), $f).recorded(
                    stringify!($name),
                    serde_json::Value::Null,
                    vec![self.origin()],
                )
            }
        )*}
    };
}

float_unary!(
    /// Square root (NaN below zero, as numpy).
    sqrt => |x: T| x.sqrt(),
    /// `e^x`.
    exp => |x: T| x.exp(),
    /// `e^x - 1`, accurate near 0.
    expm1 => |x: T| x.exp_m1(),
    /// Natural logarithm (numpy's `log`).
    log => |x: T| x.ln(),
    /// Base-10 logarithm.
    log10 => |x: T| x.log10(),
    /// Base-2 logarithm.
    log2 => |x: T| x.log2(),
    /// `ln(1 + x)`, accurate near 0.
    log1p => |x: T| x.ln_1p(),
    /// Sine (radians).
    sin => |x: T| x.sin(),
    /// Cosine (radians).
    cos => |x: T| x.cos(),
    /// Tangent (radians).
    tan => |x: T| x.tan(),
    /// Inverse sine.
    arcsin => |x: T| x.asin(),
    /// Inverse cosine.
    arccos => |x: T| x.acos(),
    /// Inverse tangent.
    arctan => |x: T| x.atan(),
    /// Hyperbolic sine.
    sinh => |x: T| x.sinh(),
    /// Hyperbolic cosine.
    cosh => |x: T| x.cosh(),
    /// Hyperbolic tangent.
    tanh => |x: T| x.tanh(),
    /// Degrees to radians.
    deg2rad => |x: T| x.to_radians(),
    /// Radians to degrees.
    rad2deg => |x: T| x.to_degrees(),
);

impl<T: Numeric + Float> Array<T> {
    /// `x^p` (numpy's `power` with a float exponent). Like numpy's `**`,
    /// `p = 0.5` is a square root and `p = 2` a square (faster, and what
    /// numpy returns).
    pub fn powf(&self, p: T) -> Array<T> {
        let name = format!("powf({p:?})");
        let result = if T::from(0.5) == Some(p) {
            self.map_inplace(&name, |x| x.sqrt())
        } else if p == T::one() + T::one() {
            self.map_inplace(&name, |x| x * x)
        } else {
            self.map_inplace(&name, move |x| x.powf(p))
        };
        let args = serde_json::json!({ "p": scalar(p) });
        result.recorded("powf", args, vec![self.origin()])
    }
}

/// `a op b` into `a`'s type. `f` is generic, not a `fn` pointer, so the
/// per-element call inlines and the loop vectorises.
fn same_type<T: Numeric>(
    a: &Array<T>,
    b: Operand<T>,
    name: &'static str,
    f: impl Fn(T, T) -> T + Copy + Send + Sync + 'static,
) -> Array<T> {
    let mut inputs = vec![a.origin()];
    let args = serde_json::json!({ "other": operand(&b, &mut inputs) });
    let result = match b {
        Operand::Scalar(s) => a.map_inplace(&format!("{name}({s:?})"), move |x| f(x, s)),
        Operand::Array(b) => a.zip_inplace(&b, name, f),
    };
    result.recorded(name, args, inputs)
}

macro_rules! arithmetic {
    ($($trait:ident $method:ident $elem:ident),*) => {$(
        impl<T: Numeric, R: Into<Operand<T>>> $trait<R> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: R) -> Array<T> {
                same_type(&self, rhs.into(), stringify!($method), T::$elem)
            }
        }
        impl<T: Numeric, R: Into<Operand<T>>> $trait<R> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: R) -> Array<T> {
                same_type(self, rhs.into(), stringify!($method), T::$elem)
            }
        }
    )*};
}

arithmetic!(Add add add_elem, Sub sub sub_elem, Mul mul mul_elem, Div div div_elem);
