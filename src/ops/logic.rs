//! Tests and selections, element by element, with numpy's names and
//! broadcasting: `isnan`/`isfinite`/`isinf`, `clip`, logical operators on
//! `bool` arrays (`&`, `|`, `^`, `!` and their numpy names), `where_`, and
//! `blockwise`, a kernel of the user's over several arrays at once.

use std::ops::{BitAnd, BitOr, BitXor, Not};

use ndarray::{ArrayD, ArrayViewD, Zip};
use ndchunk_io::Element;
use num_traits::Float;

use crate::array::recipe::{operand, scalar};
use crate::array::Array;
use crate::error::Error;
use crate::ops::blocks::{take_all, user_block};
use crate::ops::elementwise::{invalid, map_node, Operand};
use crate::ops::layout::broadcast_shapes;
use crate::runtime::block::{block, take};
use crate::runtime::lanes::ternary;

impl<T: Element + Float> Array<T> {
    /// Whether each element is NaN.
    pub fn isnan(&self) -> Array<bool> {
        self.map("isnan", |x: T| x.is_nan()).recorded(
            "isnan",
            serde_json::Value::Null,
            vec![self.origin()],
        )
    }

    /// Whether each element is neither NaN nor infinite.
    pub fn isfinite(&self) -> Array<bool> {
        self.map("isfinite", |x: T| x.is_finite()).recorded(
            "isfinite",
            serde_json::Value::Null,
            vec![self.origin()],
        )
    }

    /// Whether each element is `+inf` or `-inf`.
    pub fn isinf(&self) -> Array<bool> {
        self.map("isinf", |x: T| x.is_infinite()).recorded(
            "isinf",
            serde_json::Value::Null,
            vec![self.origin()],
        )
    }
}

impl<T: Element + PartialOrd> Array<T> {
    /// Each element limited to `[min, max]`, as numpy's `clip` (NaN stays
    /// NaN; `min > max` gives `max` everywhere, as numpy).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::arange(6, [4]).unwrap().clip(1.0, 3.5);
    /// assert_eq!(a.compute().unwrap().into_raw_vec_and_offset().0, vec![1.0, 1.0, 2.0, 3.0, 3.5, 3.5]);
    /// ```
    pub fn clip(&self, min: T, max: T) -> Array<T> {
        self.map_inplace(&format!("clip({min:?}, {max:?})"), move |x| {
            let low = if x < min { min } else { x };
            if low > max {
                max
            } else {
                low
            }
        })
        .recorded(
            "clip",
            serde_json::json!({ "min": scalar(min), "max": scalar(max) }),
            vec![self.origin()],
        )
    }
}

impl Array<bool> {
    /// `self AND other`, element by element (numpy's `logical_and`).
    pub fn logical_and(&self, other: impl Into<Operand<bool>>) -> Array<bool> {
        self.zip_builtin(other.into(), "logical_and", |x, y| x & y)
    }

    /// `self OR other` (numpy's `logical_or`).
    pub fn logical_or(&self, other: impl Into<Operand<bool>>) -> Array<bool> {
        self.zip_builtin(other.into(), "logical_or", |x, y| x | y)
    }

    /// `self XOR other` (numpy's `logical_xor`).
    pub fn logical_xor(&self, other: impl Into<Operand<bool>>) -> Array<bool> {
        self.zip_builtin(other.into(), "logical_xor", |x, y| x ^ y)
    }

    /// `NOT self` (numpy's `logical_not`).
    pub fn logical_not(&self) -> Array<bool> {
        self.map_inplace("logical_not", |x| !x).recorded(
            "logical_not",
            serde_json::Value::Null,
            vec![self.origin()],
        )
    }
}

macro_rules! logical_operators {
    ($($trait:ident $method:ident $named:ident),*) => {$(
        impl<R: Into<Operand<bool>>> $trait<R> for Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: R) -> Array<bool> {
                self.$named(rhs)
            }
        }
        impl<R: Into<Operand<bool>>> $trait<R> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: R) -> Array<bool> {
                self.$named(rhs)
            }
        }
    )*};
}

logical_operators!(BitAnd bitand logical_and, BitOr bitor logical_or, BitXor bitxor logical_xor);

impl Not for &Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.logical_not()
    }
}

impl Not for Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.logical_not()
    }
}

/// `x` where `condition` holds, else `y` (numpy's `where`); the three
/// broadcast together, and `x`/`y` may be scalars.
///
/// ```
/// use ndchunk::{where_, Array};
/// let a = Array::<f64>::arange(5, [2]).unwrap();
/// let b = where_(&a.greater(2.0), &a, -1.0);
/// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![-1.0, -1.0, -1.0, 3.0, 4.0]);
/// ```
pub fn where_<T: Element>(
    condition: &Array<bool>,
    x: impl Into<Operand<T>>,
    y: impl Into<Operand<T>>,
) -> Array<T> {
    let (x, y) = (x.into(), y.into());
    let mut inputs = vec![condition.origin()];
    let args = serde_json::json!({
        "x": operand(&x, &mut inputs),
        "y": operand(&y, &mut inputs),
    });
    where_built(condition, x, y).recorded("where", args, inputs)
}

fn where_built<T: Element>(condition: &Array<bool>, x: Operand<T>, y: Operand<T>) -> Array<T> {
    // Scalars become arrays of one element, broadcast like any other.
    let as_array = |o: Operand<T>| match o {
        Operand::Array(a) => a,
        Operand::Scalar(s) => Array::full(&[], s, Vec::<u64>::new())
            .unwrap_or_else(|e| invalid("where", condition.grid().clone(), e.to_string())),
    };
    let (x, y) = (as_array(x), as_array(y));
    let shapes = [condition.shape(), x.shape(), y.shape()];
    let Some(shape) =
        broadcast_shapes(&shapes[0], &shapes[1]).and_then(|s| broadcast_shapes(&s, &shapes[2]))
    else {
        return invalid(
            "where",
            condition.grid().clone(),
            format!(
                "operands could not be broadcast together with shapes {:?} {:?} {:?}",
                shapes[0], shapes[1], shapes[2]
            ),
        );
    };
    let (c, x, y) = (
        condition.broadcast_to(&shape),
        x.broadcast_to(&shape),
        y.broadcast_to(&shape),
    );
    let grid = match c
        .grid()
        .refine_with(x.grid())
        .and_then(|g| g.refine_with(y.grid()))
    {
        Ok(grid) => grid,
        Err(e) => return invalid("where", condition.grid().clone(), e.to_string()),
    };
    let inputs = vec![c.node().clone(), x.node().clone(), y.node().clone()];
    map_node(
        "where".into(),
        inputs,
        grid,
        |ins, _| {
            let [c, x, y]: [_; 3] = ins.try_into().map_err(|_| Error::Internal {
                operation: "where".into(),
                message: "three inputs expected".into(),
            })?;
            let (c, mut x, y) = (
                take::<bool>(c, "where")?,
                take::<T>(x, "where")?,
                take::<T>(y, "where")?,
            );
            Zip::from(&mut x).and(&c).and(&y).for_each(|x, &c, &y| {
                if !c {
                    *x = y;
                }
            });
            Ok(block(x))
        },
        Some(ternary(
            "where",
            |c: bool, x: T, y: T| if c { x } else { y },
        )),
    )
}

/// A kernel of the user's over several arrays of one element type: they
/// broadcast together (numpy's rules, any chunkings), and `f` gets their
/// values over one region at a time, in order, and must return an array of
/// that region's shape. Fuses with the operations around it; for a kernel
/// that needs whole chunks, see [`Array::map_blocks`].
///
/// ```
/// use ndchunk::{blockwise, Array};
/// let a = Array::<f64>::arange(4, [3]).unwrap();
/// let b = Array::<f64>::full(&[4], 10.0, [2]).unwrap();
/// let c = blockwise("a*b+a", &[&a, &b], |v| &v[0] * &v[1] + &v[0]);
/// assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 11.0, 22.0, 33.0]);
/// ```
pub fn blockwise<T: Element, U: Element>(
    name: &str,
    inputs: &[&Array<T>],
    f: impl Fn(&[ArrayViewD<'_, T>]) -> ArrayD<U> + Send + Sync + 'static,
) -> Array<U> {
    let Some(first) = inputs.first() else {
        return invalid(
            name,
            ndchunk_chunking::ChunkGrid::regular(&[], &[]).expect("a 0-d grid"),
            "blockwise needs at least one input".into(),
        );
    };
    let Some(shape) = inputs
        .iter()
        .try_fold(first.shape(), |s, a| broadcast_shapes(&s, &a.shape()))
    else {
        let shapes: Vec<Vec<u64>> = inputs.iter().map(|a| a.shape()).collect();
        return invalid(
            name,
            first.grid().clone(),
            format!("operands could not be broadcast together with shapes {shapes:?}"),
        );
    };
    let arrays: Vec<Array<T>> = inputs.iter().map(|a| a.broadcast_to(&shape)).collect();
    let mut grid = arrays[0].grid().clone();
    for a in &arrays[1..] {
        grid = match grid.refine_with(a.grid()) {
            Ok(g) => g,
            Err(e) => return invalid(name, first.grid().clone(), e.to_string()),
        };
    }
    let op = name.to_string();
    let nodes = arrays.iter().map(|a| a.node().clone()).collect();
    map_node(
        name.into(),
        nodes,
        grid,
        move |ins, info| {
            let blocks = take_all::<T>(ins, &op)?;
            let views: Vec<ArrayViewD<'_, T>> = blocks.iter().map(|b| b.view()).collect();
            user_block(&op, f(&views), info.region, "a region")
        },
        None,
    )
    .made_by_closure(name)
}
