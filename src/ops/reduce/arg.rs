//! `argmin`/`argmax` along one axis, and their NaN-skipping forms: indices
//! into the whole axis, as `i64` (numpy's `intp`). Each partial pairs the
//! extreme of its block with its index, made global from the block's
//! offset along the axis; partials are combined in block order and a tie
//! keeps the earlier one, so the first occurrence wins, as in numpy. A NaN
//! wins in `argmin`/`argmax` (numpy: the first NaN's index); `nanargmin`/
//! `nanargmax` skip NaN and refuse a slice that is all NaN.

use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk_chunking::Region;

use super::{combine_optional, is_nan, reshape, take_acc, Axes, ReduceOptions};
use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::Reduction;
use crate::ops::elementwise::invalid;
use crate::ops::numeric::Numeric;
use crate::runtime::block::Block;
use crate::runtime::block::{block, take};

/// Value and global index of the extreme so far; index -1: no candidate
/// yet (an all-NaN lane of a `nan` form).
type Pair<T> = (T, i64);

/// `None`: a block with no element.
type Acc<T> = Option<ArrayD<Pair<T>>>;

struct ArgExtreme {
    name: &'static str,
    want_less: bool,
    skip_nan: bool,
}

impl ArgExtreme {
    /// `a` (earlier along the axis) or `b`, whichever numpy would report.
    fn choose<T: Numeric>(&self, a: Pair<T>, b: Pair<T>) -> Pair<T> {
        let better = if self.want_less { b.0 < a.0 } else { b.0 > a.0 };
        if b.1 < 0 || (a.1 >= 0 && (is_nan(a.0) || !(is_nan(b.0) || better))) {
            a
        } else {
            b
        }
    }
}

struct Typed<T>(ArgExtreme, std::marker::PhantomData<fn() -> T>);

impl<T: Numeric> Reduction for Typed<T> {
    fn partial(&self, b: Block, axes: &[usize], region: &Region) -> Result<Block> {
        let r = &self.0;
        let a = take::<T>(b, r.name)?;
        let &[ax] = axes else {
            return Err(Error::Internal {
                operation: r.name.into(),
                message: format!("one axis expected, got {axes:?}"),
            });
        };
        if a.is_empty() {
            return Ok(Box::new(None::<ArrayD<Pair<T>>>));
        }
        let offset = region.start()[ax] as i64;
        let best = a
            .map_axis(Axis(ax), |lane| {
                lane.iter()
                    .enumerate()
                    .fold((T::default(), -1), |best, (i, &x)| {
                        let index = if r.skip_nan && is_nan(x) {
                            -1
                        } else {
                            offset + i as i64
                        };
                        r.choose(best, (x, index))
                    })
            })
            .insert_axis(Axis(ax));
        Ok(Box::new(Some(best)))
    }

    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let r = &self.0;
        combine_optional(acc, other, r.name, |a: Pair<T>, b| r.choose(a, b))
    }

    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        let r = &self.0;
        match take_acc::<Acc<T>>(acc, r.name)? {
            Some(a) if a.iter().any(|&(_, i)| i < 0) => Err(Error::Invalid {
                operation: r.name.into(),
                message: "All-NaN slice encountered".into(),
            }),
            Some(a) => reshape(a.mapv(|(_, i)| i), out_shape, r.name),
            None if out_shape.contains(&0) => Ok(block(ArrayD::<i64>::default(IxDyn(out_shape)))),
            None => Err(Error::Invalid {
                operation: r.name.into(),
                message: "attempt to get the index of an empty sequence".into(),
            }),
        }
    }

    fn acc_bytes_per_element(&self) -> u64 {
        std::mem::size_of::<Pair<T>>() as u64
    }
}

impl<T: Numeric> Array<T> {
    fn arg_extreme(
        &self,
        name: &'static str,
        want_less: bool,
        skip_nan: bool,
        axis: impl Into<Axes>,
        options: &ReduceOptions,
    ) -> Array<i64> {
        let axis = match axis.into().resolve_one(self.ndim()) {
            Ok(axis) => axis,
            Err(message) => return invalid(name, self.grid().clone(), message),
        };
        let r = ArgExtreme {
            name,
            want_less,
            skip_nan,
        };
        let r = Arc::new(Typed::<T>(r, Default::default()));
        self.reduce_nonempty(name, r, [axis], options)
    }

    /// Index along `axis` of the smallest element (the first one; the
    /// first NaN if there is one, as numpy). An empty axis is an error
    /// when planned.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let x = ndarray::arr2(&[[3.0, 1.0, 1.0], [2.0, f64::NAN, 0.0]]).into_dyn();
    /// let a = Array::from_ndarray(x, [2, 2]).unwrap();
    /// assert_eq!(a.argmin(1).compute().unwrap().into_raw_vec_and_offset().0, vec![1, 1]);
    /// ```
    pub fn argmin(&self, axis: impl Into<Axes>) -> Array<i64> {
        self.argmin_with(axis, &ReduceOptions::default())
    }

    /// [`Array::argmin`] with `keepdims` and `split_every` chosen.
    pub fn argmin_with(&self, axis: impl Into<Axes>, options: &ReduceOptions) -> Array<i64> {
        let axis: Axes = axis.into();
        let args = crate::array::recipe::reduce_args(&axis, options);
        let inputs = vec![self.origin()];
        let result = { self.arg_extreme("argmin", true, false, axis, options) };
        result.recorded("argmin", args, inputs)
    }

    /// Index along `axis` of the largest element (the first one; the
    /// first NaN if there is one).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(7, [3]).unwrap();
    /// assert_eq!(a.argmax(0).compute().unwrap()[[]], 6);
    /// ```
    pub fn argmax(&self, axis: impl Into<Axes>) -> Array<i64> {
        self.argmax_with(axis, &ReduceOptions::default())
    }

    /// [`Array::argmax`] with `keepdims` and `split_every` chosen.
    pub fn argmax_with(&self, axis: impl Into<Axes>, options: &ReduceOptions) -> Array<i64> {
        let axis: Axes = axis.into();
        let args = crate::array::recipe::reduce_args(&axis, options);
        let inputs = vec![self.origin()];
        let result = { self.arg_extreme("argmax", false, false, axis, options) };
        result.recorded("argmax", args, inputs)
    }

    /// Index along `axis` of the smallest element that is not NaN; a
    /// slice that is all NaN stops the run with an error, as in numpy.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let x = ndarray::arr1(&[f64::NAN, 2.0, 1.0]).into_dyn();
    /// let a = Array::from_ndarray(x, [2]).unwrap();
    /// assert_eq!(a.nanargmin(0).compute().unwrap()[[]], 2);
    /// assert_eq!(a.argmin(0).compute().unwrap()[[]], 0);
    /// ```
    pub fn nanargmin(&self, axis: impl Into<Axes>) -> Array<i64> {
        self.nanargmin_with(axis, &ReduceOptions::default())
    }

    /// [`Array::nanargmin`] with `keepdims` and `split_every` chosen.
    pub fn nanargmin_with(&self, axis: impl Into<Axes>, options: &ReduceOptions) -> Array<i64> {
        let axis: Axes = axis.into();
        let args = crate::array::recipe::reduce_args(&axis, options);
        let inputs = vec![self.origin()];
        let result = { self.arg_extreme("nanargmin", true, true, axis, options) };
        result.recorded("nanargmin", args, inputs)
    }

    /// Index along `axis` of the largest element that is not NaN.
    pub fn nanargmax(&self, axis: impl Into<Axes>) -> Array<i64> {
        self.nanargmax_with(axis, &ReduceOptions::default())
    }

    /// [`Array::nanargmax`] with `keepdims` and `split_every` chosen.
    pub fn nanargmax_with(&self, axis: impl Into<Axes>, options: &ReduceOptions) -> Array<i64> {
        let axis: Axes = axis.into();
        let args = crate::array::recipe::reduce_args(&axis, options);
        let inputs = vec![self.origin()];
        let result = { self.arg_extreme("nanargmax", false, true, axis, options) };
        result.recorded("nanargmax", args, inputs)
    }
}
