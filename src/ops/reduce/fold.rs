//! Reductions whose accumulator is one value per output element, combined
//! by an associative operation from its identity: `sum`, `prod` and their
//! NaN-skipping forms (NaN counted as the identity, as numpy's `nansum`).
//! The same [`Fold`] serves `any`/`all`/`count_nonzero` (see `logical`).

use std::marker::PhantomData;
use std::sync::Arc;

use ndchunk_chunking::Region;
use ndchunk_io::Element;

use std::any::Any;

use super::{
    accumulator, finished, fold_axes, fold_run, is_nan, reshape, shaped, Axes, ReduceOptions,
};
use crate::array::Array;
use crate::error::Result;
use crate::graph::Reduction;
use crate::ops::numeric::Numeric;
use crate::runtime::block::Block;
use crate::runtime::block::{block, take};
use crate::runtime::lanes::{typed, Lane, LaneFold};

/// Elements of `T` lifted into `A` and combined by `op` from `identity`.
pub(super) struct Fold<T, A, L, F> {
    name: &'static str,
    identity: A,
    lift: L,
    op: F,
    _t: PhantomData<fn(T)>,
}

impl<T, A, L, F> Fold<T, A, L, F>
where
    T: Element,
    A: Element,
    L: Fn(T) -> A + Send + Sync + 'static,
    F: Fn(A, A) -> A + Send + Sync + 'static,
{
    /// The reduction, ready for a node.
    pub(super) fn reduction(name: &'static str, identity: A, lift: L, op: F) -> Arc<dyn Reduction> {
        Arc::new(Self {
            name,
            identity,
            lift,
            op,
            _t: PhantomData,
        })
    }
}

impl<T, A, L, F> Reduction for Fold<T, A, L, F>
where
    T: Element,
    A: Element,
    L: Fn(T) -> A + Send + Sync + 'static,
    F: Fn(A, A) -> A + Send + Sync + 'static,
{
    fn partial(&self, b: Block, axes: &[usize], _region: &Region) -> Result<Block> {
        let a = take::<T>(b, self.name)?;
        Ok(block(fold_axes(
            &a,
            axes,
            self.identity,
            &self.lift,
            &self.op,
        )))
    }

    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let mut acc = take::<A>(acc, self.name)?;
        acc.zip_mut_with(&take::<A>(other, self.name)?, |x, &y| *x = (self.op)(*x, y));
        Ok(block(acc))
    }

    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        reshape(take::<A>(acc, self.name)?, out_shape, self.name)
    }

    fn acc_bytes_per_element(&self) -> u64 {
        A::DTYPE.size() as u64
    }

    fn lane_fold(&self) -> Option<&dyn LaneFold> {
        Some(self)
    }
}

impl<T, A, L, F> LaneFold for Fold<T, A, L, F>
where
    T: Element,
    A: Element,
    L: Fn(T) -> A + Send + Sync + 'static,
    F: Fn(A, A) -> A + Send + Sync + 'static,
{
    fn start(&self, n: usize) -> Box<dyn Any + Send> {
        Box::new(vec![self.identity; n])
    }

    fn fold(&self, acc: &mut dyn Any, at: usize, lane: Lane<'_>, across: bool) -> Result<()> {
        let acc = accumulator::<Vec<A>>(acc, self.name)?;
        let values = typed::<T>(&lane, self.name)?;
        let (lift, op) = (&self.lift, &self.op);
        if across {
            for (a, &x) in acc[at..at + values.len()].iter_mut().zip(values) {
                *a = op(*a, lift(x));
            }
        } else {
            let run = fold_run(values, self.identity, |a, &x| op(a, lift(x)), op);
            acc[at] = op(acc[at], run);
        }
        Ok(())
    }

    fn finish(&self, acc: Box<dyn Any + Send>, shape: &[usize]) -> Result<Block> {
        let values = finished::<Vec<A>>(acc, self.name)?;
        Ok(block(shaped(values, shape, self.name)?))
    }
}

impl<T: Numeric> Array<T> {
    /// Sum over `axes` (0 over an empty extent; integers stay `T` and wrap
    /// on overflow, where numpy would first widen small integers).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(6, [4]).unwrap();
    /// assert_eq!(a.sum(&[0], false).compute().unwrap()[[]], 15);
    /// ```
    pub fn sum(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.sum_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::sum`] with `keepdims` and `split_every` chosen.
    pub fn sum_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let r = Fold::reduction("sum", T::ZERO, |x: T| x, T::add_elem);
            self.reduce("sum", r, axes, options)
        };
        result.recorded("sum", args, inputs)
    }

    /// Product over `axes` (1 over an empty extent; integers wrap).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i64>::arange(6, [4]).unwrap() + 1;
    /// assert_eq!(a.prod(&[0], false).compute().unwrap()[[]], 720);
    /// ```
    pub fn prod(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.prod_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::prod`] with `keepdims` and `split_every` chosen.
    pub fn prod_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let r = Fold::reduction("prod", T::ONE, |x: T| x, T::mul_elem);
            self.reduce("prod", r, axes, options)
        };
        result.recorded("prod", args, inputs)
    }

    /// Sum over `axes` with NaN counted as 0 (numpy's `nansum`; the same
    /// as `sum` for integers).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[1.0, f64::NAN, 2.0]).into_dyn(), [2]).unwrap();
    /// assert_eq!(a.nansum(&[0], false).compute().unwrap()[[]], 3.0);
    /// ```
    pub fn nansum(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.nansum_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nansum`] with `keepdims` and `split_every` chosen.
    pub fn nansum_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let skip = |x: T| if is_nan(x) { T::ZERO } else { x };
            self.reduce(
                "nansum",
                Fold::reduction("nansum", T::ZERO, skip, T::add_elem),
                axes,
                options,
            )
        };
        result.recorded("nansum", args, inputs)
    }

    /// Product over `axes` with NaN counted as 1 (numpy's `nanprod`).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[3.0, f64::NAN, 2.0]).into_dyn(), [2]).unwrap();
    /// assert_eq!(a.nanprod(&[0], false).compute().unwrap()[[]], 6.0);
    /// ```
    pub fn nanprod(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.nanprod_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nanprod`] with `keepdims` and `split_every` chosen.
    pub fn nanprod_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let skip = |x: T| if is_nan(x) { T::ONE } else { x };
            self.reduce(
                "nanprod",
                Fold::reduction("nanprod", T::ONE, skip, T::mul_elem),
                axes,
                options,
            )
        };
        result.recorded("nanprod", args, inputs)
    }
}
