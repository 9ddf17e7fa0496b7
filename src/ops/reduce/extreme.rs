//! `min`/`max` (NaN wins, as numpy's `minimum.reduce`) and `nanmin`/`nanmax`
//! (NaN skipped; NaN only where every element is NaN). No identity: a
//! zero-size reduction is refused when planned.

use std::any::Any;
use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk_chunking::Region;

use super::{
    accumulator, combine_optional, finished, fold_run, is_nan, reshape, shaped, take_acc,
    wrong_accumulator, Axes, ReduceOptions,
};
use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::Reduction;
use crate::ops::numeric::Numeric;
use crate::runtime::block::Block;
use crate::runtime::block::{block, take};
use crate::runtime::lanes::{typed, Lane, LaneFold};

/// The smallest or largest element; the accumulator is `None` for a block
/// with no element.
struct Extreme {
    name: &'static str,
    want_less: bool,
    skip_nan: bool,
}

type Acc<T> = Option<ArrayD<T>>;

impl Extreme {
    fn pick<T: Numeric>(&self, a: T, b: T) -> T {
        let better = if self.want_less { b < a } else { b > a };
        match (is_nan(a), is_nan(b)) {
            (true, _) if !self.skip_nan => a,
            (_, true) if !self.skip_nan => b,
            (_, true) => a,
            (true, false) => b,
            (false, false) if better => b,
            _ => a,
        }
    }
}

/// A [`Reduction`] for `T`, from the typeless description.
struct Typed<T>(Extreme, std::marker::PhantomData<fn() -> T>);

impl<T: Numeric> Reduction for Typed<T> {
    fn partial(&self, b: Block, axes: &[usize], _region: &Region) -> Result<Block> {
        let r = &self.0;
        let mut a = take::<T>(b, r.name)?;
        if a.is_empty() {
            return Ok(Box::new(None::<ArrayD<T>>));
        }
        for &ax in axes {
            a = a
                .map_axis(Axis(ax), |lane| {
                    lane.iter().skip(1).fold(lane[0], |m, &x| r.pick(m, x))
                })
                .insert_axis(Axis(ax));
        }
        Ok(Box::new(Some(a)))
    }

    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let r = &self.0;
        combine_optional(acc, other, r.name, |a: T, b| r.pick(a, b))
    }

    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        let r = &self.0;
        match take_acc::<Acc<T>>(acc, r.name)? {
            Some(a) => reshape(a, out_shape, r.name),
            None if out_shape.contains(&0) => Ok(block(ArrayD::<T>::default(IxDyn(out_shape)))),
            None => Err(Error::Invalid {
                operation: r.name.into(),
                message: "zero-size reduction has no identity".into(),
            }),
        }
    }

    fn acc_bytes_per_element(&self) -> u64 {
        T::DTYPE.size() as u64
    }

    fn lane_fold(&self) -> Option<&dyn LaneFold> {
        Some(self)
    }
}

/// The lane accumulator: the extreme so far of each output element, `None`
/// before its first value.
impl<T: Numeric> LaneFold for Typed<T> {
    fn start(&self, n: usize) -> Box<dyn Any + Send> {
        Box::new(vec![None::<T>; n])
    }

    fn fold(&self, acc: &mut dyn Any, at: usize, lane: Lane<'_>, across: bool) -> Result<()> {
        let r = &self.0;
        let acc = accumulator::<Vec<Option<T>>>(acc, r.name)?;
        let values = typed::<T>(&lane, r.name)?;
        let pick = |a: Option<T>, x: T| Some(a.map_or(x, |a| r.pick(a, x)));
        if across {
            for (a, &x) in acc[at..at + values.len()].iter_mut().zip(values) {
                *a = pick(*a, x);
            }
        } else if let Some(&first) = values.first() {
            // `pick(x, x) == x`: the first value may seed every partial.
            let run = fold_run(values, first, |m, &x| r.pick(m, x), |a, b| r.pick(a, b));
            acc[at] = pick(acc[at], run);
        }
        Ok(())
    }

    fn finish(&self, acc: Box<dyn Any + Send>, shape: &[usize]) -> Result<Block> {
        let name = self.0.name;
        let values = finished::<Vec<Option<T>>>(acc, name)?
            .into_iter()
            .collect::<Option<Vec<T>>>()
            .ok_or_else(|| wrong_accumulator(name))?;
        Ok(Box::new(Some(shaped(values, shape, name)?) as Acc<T>))
    }
}

impl<T: Numeric> Array<T> {
    fn extreme(
        &self,
        name: &'static str,
        want_less: bool,
        skip_nan: bool,
        axes: impl Into<Axes>,
        options: &ReduceOptions,
    ) -> Array<T> {
        let r = Extreme {
            name,
            want_less,
            skip_nan,
        };
        self.reduce_nonempty(
            name,
            Arc::new(Typed::<T>(r, Default::default())),
            axes,
            options,
        )
    }

    /// Smallest element over `axes` (NaN if any is NaN). A zero-size
    /// reduction is an error when planned, as in numpy.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(6, [4]).unwrap();
    /// assert_eq!(a.min(&[0], false).compute().unwrap()[[]], 0);
    /// assert!(Array::<f64>::zeros(&[0], [1]).unwrap().min(&[0], false).compute().is_err());
    /// ```
    pub fn min(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.min_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::min`] with `keepdims` and `split_every` chosen.
    pub fn min_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = { self.extreme("min", true, false, axes, options) };
        result.recorded("min", args, inputs)
    }

    /// Largest element over `axes` (NaN if any is NaN).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(6, [4]).unwrap();
    /// assert_eq!(a.max(&[0], false).compute().unwrap()[[]], 5);
    /// ```
    pub fn max(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.max_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::max`] with `keepdims` and `split_every` chosen.
    pub fn max_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = { self.extreme("max", false, false, axes, options) };
        result.recorded("max", args, inputs)
    }

    /// Smallest element over `axes` ignoring NaN (NaN where all are NaN,
    /// as numpy's `nanmin`, which also warns).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[f64::NAN, 2.0, 1.0]).into_dyn(), [2]).unwrap();
    /// assert_eq!(a.nanmin(&[0], false).compute().unwrap()[[]], 1.0);
    /// ```
    pub fn nanmin(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.nanmin_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nanmin`] with `keepdims` and `split_every` chosen.
    pub fn nanmin_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = { self.extreme("nanmin", true, true, axes, options) };
        result.recorded("nanmin", args, inputs)
    }

    /// Largest element over `axes` ignoring NaN (NaN where all are NaN).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[f64::NAN, 2.0, 1.0]).into_dyn(), [2]).unwrap();
    /// assert_eq!(a.nanmax(&[0], false).compute().unwrap()[[]], 2.0);
    /// ```
    pub fn nanmax(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T> {
        self.nanmax_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nanmax`] with `keepdims` and `split_every` chosen.
    pub fn nanmax_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = { self.extreme("nanmax", false, true, axes, options) };
        result.recorded("nanmax", args, inputs)
    }
}
