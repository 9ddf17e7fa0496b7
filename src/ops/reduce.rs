//! Reductions over any set of axes, streamed into per-output-block
//! accumulators and combined in a fixed tree (see `plan::StageKind::Reduce`).
//! `var`/`std` combine counts, means and M2 (Chan et al.), so they stay
//! accurate where the naive sum of squares cancels.

use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn, Zip};
use num_traits::Float;

use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::block::{block, take};
use crate::graph::{block_type, Block, Node, NodeKind, Reduction};
use crate::ops::elementwise::invalid;
use crate::ops::numeric::Numeric;

/// Partial results combined at once in a reduction tree (Dask's default
/// `split_every` for most reductions is 4 to 32; 8 keeps trees shallow).
pub const DEFAULT_SPLIT_EVERY: u64 = 8;

fn reshape<T: Numeric>(a: ArrayD<T>, shape: &[usize], op: &str) -> Result<Block> {
    a.into_shape_with_order(IxDyn(shape))
        .map(block)
        .map_err(|e| Error::Graph {
            operation: op.into(),
            message: format!("internal: accumulator does not fit the output block: {e}"),
        })
}

/// `a` folded over `axes` with `f`, reduced axes kept as length 1.
fn fold_axes<T: Numeric>(
    mut a: ArrayD<T>,
    axes: &[usize],
    init: T,
    f: impl Fn(T, T) -> T,
) -> ArrayD<T> {
    for &ax in axes {
        a = a
            .fold_axis(Axis(ax), init, |&acc, &x| f(acc, x))
            .insert_axis(Axis(ax));
    }
    a
}

fn elements_along(a: &ArrayD<impl Sized>, axes: &[usize]) -> u64 {
    axes.iter().map(|&ax| a.shape()[ax] as u64).product()
}

struct Sum<T>(PhantomData<fn() -> T>);

impl<T: Numeric> Reduction for Sum<T> {
    fn partial(&self, b: Block, axes: &[usize]) -> Result<Block> {
        Ok(block(fold_axes(
            take::<T>(b, "sum")?,
            axes,
            T::ZERO,
            T::add_elem,
        )))
    }
    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let mut acc = take::<T>(acc, "sum")?;
        acc.zip_mut_with(&take::<T>(other, "sum")?, |x, &y| *x = x.add_elem(y));
        Ok(block(acc))
    }
    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        reshape(take::<T>(acc, "sum")?, out_shape, "sum")
    }
    fn acc_bytes_per_element(&self) -> u64 {
        T::DTYPE.size() as u64
    }
}

/// `min` or `max`, propagating NaN as numpy does. `None`: an empty block.
struct Extreme<T> {
    want_less: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Numeric> Extreme<T> {
    fn name(&self) -> &'static str {
        if self.want_less {
            "min"
        } else {
            "max"
        }
    }
    fn pick(&self, a: T, b: T) -> T {
        #[allow(clippy::eq_op)]
        let is_nan = |x: T| x.partial_cmp(&x).is_none();
        if is_nan(a) {
            a
        } else if is_nan(b) || (if self.want_less { b < a } else { b > a }) {
            b
        } else {
            a
        }
    }
    fn take_opt(&self, b: Block) -> Result<Option<ArrayD<T>>> {
        b.downcast::<Option<ArrayD<T>>>()
            .map(|b| *b)
            .map_err(|_| Error::Graph {
                operation: self.name().into(),
                message: "internal: wrong accumulator".into(),
            })
    }
}

impl<T: Numeric> Reduction for Extreme<T> {
    fn partial(&self, b: Block, axes: &[usize]) -> Result<Block> {
        let a = take::<T>(b, self.name())?;
        if a.is_empty() {
            return Ok(Box::new(None::<ArrayD<T>>));
        }
        let mut a = a;
        for &ax in axes {
            a = a
                .map_axis(Axis(ax), |lane| {
                    lane.iter().skip(1).fold(lane[0], |m, &x| self.pick(m, x))
                })
                .insert_axis(Axis(ax));
        }
        Ok(Box::new(Some(a)))
    }
    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        Ok(Box::new(
            match (self.take_opt(acc)?, self.take_opt(other)?) {
                (Some(mut a), Some(b)) => {
                    a.zip_mut_with(&b, |x, &y| *x = self.pick(*x, y));
                    Some(a)
                }
                (a, None) => a,
                (None, b) => b,
            },
        ))
    }
    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        match self.take_opt(acc)? {
            Some(a) => reshape(a, out_shape, self.name()),
            None if out_shape.contains(&0) => Ok(block(ArrayD::<T>::default(IxDyn(out_shape)))),
            None => Err(Error::Graph {
                operation: self.name().into(),
                message: "zero-size reduction has no identity".into(),
            }),
        }
    }
    fn acc_bytes_per_element(&self) -> u64 {
        T::DTYPE.size() as u64
    }
}

/// Count, mean and M2 of the elements reduced into each output element.
struct Moments<T> {
    count: u64,
    mean: ArrayD<T>,
    m2: ArrayD<T>,
}

/// `mean` (`ddof` ignored), or `var`/`std` with `ddof`.
struct MeanVar<T> {
    kind: MomentKind,
    ddof: u64,
    _t: PhantomData<fn() -> T>,
}

#[derive(Clone, Copy, PartialEq)]
enum MomentKind {
    Mean,
    Var,
    Std,
}

impl<T: Numeric + Float> MeanVar<T> {
    fn name(&self) -> &'static str {
        match self.kind {
            MomentKind::Mean => "mean",
            MomentKind::Var => "var",
            MomentKind::Std => "std",
        }
    }
    fn moments(&self, b: Block) -> Result<Moments<T>> {
        b.downcast::<Moments<T>>()
            .map(|b| *b)
            .map_err(|_| Error::Graph {
                operation: self.name().into(),
                message: "internal: wrong accumulator".into(),
            })
    }
    fn cast(n: u64) -> T {
        T::from(n).unwrap_or_else(T::nan)
    }
}

impl<T: Numeric + Float> Reduction for MeanVar<T> {
    fn partial(&self, b: Block, axes: &[usize]) -> Result<Block> {
        let a = take::<T>(b, self.name())?;
        let count = elements_along(&a, axes);
        let n = Self::cast(count);
        let mut mean = fold_axes(a.clone(), axes, T::ZERO, T::add_elem);
        if count > 0 {
            mean.mapv_inplace(|s| s / n);
        }
        let m2 = if self.kind == MomentKind::Mean {
            ArrayD::zeros(IxDyn(&[]))
        } else {
            let deviations = (&a - &mean).mapv(|d| d * d);
            fold_axes(deviations, axes, T::ZERO, T::add_elem)
        };
        Ok(Box::new(Moments { count, mean, m2 }))
    }
    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let (a, b) = (self.moments(acc)?, self.moments(other)?);
        if b.count == 0 {
            return Ok(Box::new(a));
        }
        if a.count == 0 {
            return Ok(Box::new(b));
        }
        let count = a.count + b.count;
        let (na, nb, n) = (Self::cast(a.count), Self::cast(b.count), Self::cast(count));
        let mut mean = a.mean;
        let mut m2 = a.m2;
        if self.kind != MomentKind::Mean {
            Zip::from(&mut m2)
                .and(&b.m2)
                .and(&mean)
                .and(&b.mean)
                .for_each(|m, &mb2, &ma, &mb| {
                    let delta = mb - ma;
                    *m = *m + mb2 + delta * delta * na * nb / n;
                });
        }
        Zip::from(&mut mean).and(&b.mean).for_each(|ma, &mb| {
            *ma = *ma + (mb - *ma) * nb / n;
        });
        Ok(Box::new(Moments { count, mean, m2 }))
    }
    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        let m = self.moments(acc)?;
        if self.kind == MomentKind::Mean {
            let mut mean = m.mean;
            if m.count == 0 {
                mean.fill(T::nan());
            }
            return reshape(mean, out_shape, self.name());
        }
        let dof = Self::cast(m.count.saturating_sub(self.ddof));
        let mut var = m.m2.mapv(|x| x / dof);
        if self.kind == MomentKind::Std {
            var.mapv_inplace(Float::sqrt);
        }
        reshape(var, out_shape, self.name())
    }
    fn acc_bytes_per_element(&self) -> u64 {
        let per = T::DTYPE.size() as u64;
        if self.kind == MomentKind::Mean {
            per
        } else {
            2 * per
        }
    }
}

impl<T: Numeric> Array<T> {
    /// A reduction node over `axes` (each at most once, in range) with
    /// `split_every` partials combined at once.
    pub fn reduce(
        &self,
        name: &str,
        reduction: Arc<dyn Reduction>,
        axes: &[usize],
        keepdims: bool,
        split_every: u64,
    ) -> Array<T> {
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != axes.len() || sorted.last().is_some_and(|&a| a >= self.ndim()) {
            return invalid(
                name,
                self.grid().clone(),
                format!(
                    "axes {axes:?} are not distinct axes of a {}-d array",
                    self.ndim()
                ),
            );
        }
        let grid = match self.grid().reduce_axes(&sorted, keepdims) {
            Ok(grid) => grid,
            Err(e) => return invalid(name, self.grid().clone(), e.to_string()),
        };
        Array::from_node(Node::new(
            name,
            grid,
            block_type::<T>(),
            NodeKind::Reduce {
                input: self.node().clone(),
                reduction,
                axes: sorted,
                keepdims,
                split_every: split_every.max(2),
            },
        ))
    }

    /// Sum over `axes` (integers wrap on overflow, as numpy's fixed-width
    /// sums do).
    pub fn sum(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        self.reduce(
            "sum",
            Arc::new(Sum::<T>(PhantomData)),
            axes,
            keepdims,
            DEFAULT_SPLIT_EVERY,
        )
    }

    /// Smallest element over `axes` (NaN if any is NaN).
    pub fn min(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        let r = Extreme::<T> {
            want_less: true,
            _t: PhantomData,
        };
        self.reduce("min", Arc::new(r), axes, keepdims, DEFAULT_SPLIT_EVERY)
    }

    /// Largest element over `axes` (NaN if any is NaN).
    pub fn max(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        let r = Extreme::<T> {
            want_less: false,
            _t: PhantomData,
        };
        self.reduce("max", Arc::new(r), axes, keepdims, DEFAULT_SPLIT_EVERY)
    }

    /// Every axis, for reducing to a scalar: `a.sum(&a.all_axes(), false)`.
    pub fn all_axes(&self) -> Vec<usize> {
        (0..self.ndim()).collect()
    }
}

impl<T: Numeric + Float> Array<T> {
    fn moments(&self, kind: MomentKind, axes: &[usize], keepdims: bool, ddof: u64) -> Array<T> {
        let r = MeanVar::<T> {
            kind,
            ddof,
            _t: PhantomData,
        };
        let name = r.name();
        self.reduce(name, Arc::new(r), axes, keepdims, DEFAULT_SPLIT_EVERY)
    }

    /// Mean over `axes` (NaN over an empty extent, as numpy).
    pub fn mean(&self, axes: &[usize], keepdims: bool) -> Array<T> {
        self.moments(MomentKind::Mean, axes, keepdims, 0)
    }

    /// Variance over `axes`, dividing by `n - ddof`.
    pub fn var(&self, axes: &[usize], keepdims: bool, ddof: u64) -> Array<T> {
        self.moments(MomentKind::Var, axes, keepdims, ddof)
    }

    /// Standard deviation over `axes`, dividing by `n - ddof`.
    pub fn std(&self, axes: &[usize], keepdims: bool, ddof: u64) -> Array<T> {
        self.moments(MomentKind::Std, axes, keepdims, ddof)
    }
}
