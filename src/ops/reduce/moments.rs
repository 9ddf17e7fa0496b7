//! `mean`, `var`, `std` and their NaN-skipping forms, for floats. For
//! `var`/`std` each output element keeps a count, a mean and the sum of
//! squared deviations M2, combined pairwise by Chan et al.'s formula, so the
//! variance stays accurate where the naive sum of squares cancels. `mean`
//! keeps a count and a sum, divided once at the end as numpy does: partials
//! combine by two additions instead of Chan's divisions.

use std::sync::Arc;

use ndarray::{ArrayD, Zip};
use ndchunk_chunking::Region;
use num_traits::Float;

use std::any::Any;

use super::{
    accumulator, finished, fold_axes, fold_run, is_nan, reshape, shaped, take_acc, Axes,
    ReduceOptions,
};
use crate::array::Array;
use crate::error::Result;
use crate::graph::Reduction;
use crate::ops::numeric::Numeric;
use crate::runtime::block::take;
use crate::runtime::block::Block;
use crate::runtime::lanes::{typed, Lane, LaneFold};

/// Count, mean (for `mean`: the sum) and (for `var`/`std`) M2 of the
/// elements reduced into each output element.
struct Moments<T> {
    count: ArrayD<u64>,
    mean: ArrayD<T>,
    m2: Option<ArrayD<T>>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Mean,
    Var,
    Std,
}

struct MeanVar {
    name: &'static str,
    kind: Kind,
    ddof: u64,
    skip_nan: bool,
}

struct Typed<T>(MeanVar, std::marker::PhantomData<fn() -> T>);

fn cast<T: Float>(n: u64) -> T {
    T::from(n).unwrap_or_else(T::nan)
}

/// Chan et al.: (count, mean, M2) of `a` then `b` joined.
fn chan<T: Float>(na: u64, ma: T, m2a: T, nb: u64, mb: T, m2b: T) -> (u64, T, T) {
    if nb == 0 {
        return (na, ma, m2a);
    }
    if na == 0 {
        return (nb, mb, m2b);
    }
    let (fa, fb, n) = (cast::<T>(na), cast::<T>(nb), cast::<T>(na + nb));
    let delta = mb - ma;
    let m2 = m2a + m2b + delta * delta * fa * fb / n;
    (na + nb, ma + (mb - ma) * fb / n, m2)
}

/// `mean`'s lane accumulator: sums and counts.
type Sums<T> = (Vec<T>, Vec<u64>);

/// `var`/`std`'s lane accumulator: counts, means and M2 of each output
/// element, in `f64` whatever `T` (as a two-pass `float32` variance is
/// accurate, a running one is not; counts are exact below 2^53): Welford's
/// update for a lane across output elements, Chan's join of a lane's own
/// moments for a lane along the reduced axes.
type Welford = (Vec<f64>, Vec<f64>, Vec<f64>);

impl<T: Numeric + Float> Typed<T> {
    fn fold_moments(&self, acc: &mut dyn Any, at: usize, values: &[T], across: bool) -> Result<()> {
        let r = &self.0;
        let (counts, means, m2s) = accumulator::<Welford>(acc, r.name)?;
        let skip = r.skip_nan;
        let n = values.len();
        let wide = |x: T| x.to_f64().unwrap_or(f64::NAN);
        if across {
            let cells = counts[at..at + n]
                .iter_mut()
                .zip(&mut means[at..at + n])
                .zip(&mut m2s[at..at + n]);
            // Without branches, so that it vectorises: a skipped NaN
            // counts 0 and moves nothing (its deviation is from 0).
            for (((c, m), m2), &x) in cells.zip(values) {
                let x = wide(x);
                let k = if skip && x.is_nan() { 0.0 } else { 1.0 };
                let x = if k == 0.0 { 0.0 } else { x };
                *c += k;
                let d = x - *m;
                *m += k * d / c.max(1.0);
                *m2 += k * d * (x - *m);
            }
            return Ok(());
        }
        let kept = |x: &&T| !(skip && is_nan(**x));
        let count = values.iter().filter(kept).count();
        if count == 0 {
            return Ok(());
        }
        let sum: f64 = values.iter().filter(kept).map(|&x| wide(x)).sum();
        let mean = sum / count as f64;
        let m2: f64 = values
            .iter()
            .filter(kept)
            .map(|&x| (wide(x) - mean) * (wide(x) - mean))
            .sum();
        let (c, m, m2) = chan(
            counts[at] as u64,
            means[at],
            m2s[at],
            count as u64,
            mean,
            m2,
        );
        (counts[at], means[at], m2s[at]) = (c as f64, m, m2);
        Ok(())
    }
}

impl<T: Numeric + Float> LaneFold for Typed<T> {
    fn start(&self, n: usize) -> Box<dyn Any + Send> {
        if self.0.kind != Kind::Mean {
            return Box::new((vec![0.0; n], vec![0.0; n], vec![0.0; n]) as Welford);
        }
        Box::new((vec![T::ZERO; n], vec![0u64; n]) as Sums<T>)
    }

    fn fold(&self, acc: &mut dyn Any, at: usize, lane: Lane<'_>, across: bool) -> Result<()> {
        let r = &self.0;
        if r.kind != Kind::Mean {
            return self.fold_moments(acc, at, typed::<T>(&lane, r.name)?, across);
        }
        let (sums, counts) = accumulator::<Sums<T>>(acc, r.name)?;
        let values = typed::<T>(&lane, r.name)?;
        let skip = r.skip_nan;
        let keep = move |x: T| if skip && is_nan(x) { T::ZERO } else { x };
        let n = values.len();
        if across {
            for (s, &x) in sums[at..at + n].iter_mut().zip(values) {
                *s = s.add_elem(keep(x));
            }
            for (c, &x) in counts[at..at + n].iter_mut().zip(values) {
                *c += u64::from(!(skip && is_nan(x)));
            }
        } else {
            let run = fold_run(values, T::ZERO, |s, &x| s.add_elem(keep(x)), T::add_elem);
            sums[at] = sums[at].add_elem(run);
            counts[at] += if skip {
                values.iter().filter(|x| !is_nan(**x)).count() as u64
            } else {
                n as u64
            };
        }
        Ok(())
    }

    fn finish(&self, acc: Box<dyn Any + Send>, shape: &[usize]) -> Result<Block> {
        let name = self.0.name;
        if self.0.kind != Kind::Mean {
            let (counts, means, m2s) = finished::<Welford>(acc, name)?;
            let narrow = |v: Vec<f64>| -> Vec<T> {
                v.into_iter()
                    .map(|x| T::from(x).unwrap_or_else(T::nan))
                    .collect()
            };
            let counts = counts.into_iter().map(|c| c as u64).collect();
            return Ok(Box::new(Moments {
                count: shaped(counts, shape, name)?,
                mean: shaped(narrow(means), shape, name)?,
                m2: Some(shaped(narrow(m2s), shape, name)?),
            }));
        }
        let (sums, counts) = finished::<Sums<T>>(acc, name)?;
        Ok(Box::new(Moments {
            count: shaped(counts, shape, name)?,
            mean: shaped(sums, shape, name)?,
            m2: None,
        }))
    }
}

impl<T: Numeric + Float> Reduction for Typed<T> {
    fn partial(&self, b: Block, axes: &[usize], _region: &Region) -> Result<Block> {
        let r = &self.0;
        let mut a = take::<T>(b, r.name)?;
        let skip = r.skip_nan;
        let keep = move |x: T| if skip && is_nan(x) { T::ZERO } else { x };
        let sum = fold_axes(&a, axes, T::ZERO, keep, T::add_elem);
        let count = if skip {
            fold_axes(&a, axes, 0u64, |x| u64::from(!is_nan(x)), |p, q| p + q)
        } else {
            let n = axes.iter().map(|&ax| a.shape()[ax] as u64).product();
            ArrayD::from_elem(sum.raw_dim(), n)
        };
        if r.kind == Kind::Mean {
            return Ok(Box::new(Moments {
                count,
                mean: sum,
                m2: None,
            }));
        }
        let mean = Zip::from(&sum)
            .and(&count)
            .map_collect(|&s, &c| if c > 0 { s / cast(c) } else { s });
        let m2 = Some({
            // The block is ours: its squared deviations overwrite it.
            Zip::from(&mut a).and_broadcast(&mean).for_each(|x, &m| {
                *x = if skip && is_nan(*x) {
                    T::ZERO
                } else {
                    let d = *x - m;
                    d * d
                }
            });
            fold_axes(&a, axes, T::ZERO, |x| x, T::add_elem)
        });
        Ok(Box::new(Moments { count, mean, m2 }))
    }

    fn lane_fold(&self) -> Option<&dyn LaneFold> {
        Some(self)
    }

    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let name = self.0.name;
        let mut a = take_acc::<Moments<T>>(acc, name)?;
        let b = take_acc::<Moments<T>>(other, name)?;
        match (&mut a.m2, &b.m2) {
            (Some(m2a), Some(m2b)) => Zip::from(&mut a.count)
                .and(&mut a.mean)
                .and(m2a)
                .and(&b.count)
                .and(&b.mean)
                .and(m2b)
                .for_each(|na, ma, m2a, &nb, &mb, &m2b| {
                    (*na, *ma, *m2a) = chan(*na, *ma, *m2a, nb, mb, m2b);
                }),
            // `mean`: counts and sums add.
            _ => Zip::from(&mut a.count)
                .and(&mut a.mean)
                .and(&b.count)
                .and(&b.mean)
                .for_each(|na, sa, &nb, &sb| {
                    *na += nb;
                    *sa = sa.add_elem(sb);
                }),
        }
        Ok(Box::new(a))
    }

    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        let r = &self.0;
        let m = take_acc::<Moments<T>>(acc, r.name)?;
        let values = match (r.kind, m.m2) {
            (Kind::Mean, _) | (_, None) => Zip::from(&m.mean)
                .and(&m.count)
                .map_collect(|&sum, &c| if c == 0 { T::nan() } else { sum / cast(c) }),
            (kind, Some(m2)) => Zip::from(&m2).and(&m.count).map_collect(|&m2, &c| {
                let var = if r.skip_nan {
                    // numpy's nanvar: NaN where no degree of freedom is left.
                    if c <= r.ddof {
                        T::nan()
                    } else {
                        m2 / cast(c - r.ddof)
                    }
                } else {
                    // numpy's var divides by max(n - ddof, 0).
                    m2 / cast(c.saturating_sub(r.ddof))
                };
                if kind == Kind::Std {
                    var.sqrt()
                } else {
                    var
                }
            }),
        };
        reshape(values, out_shape, r.name)
    }

    fn acc_bytes_per_element(&self) -> u64 {
        let per = T::DTYPE.size() as u64;
        let m2 = if self.0.kind == Kind::Mean { 0 } else { per };
        8 + per + m2
    }
}

/// An element type `mean`, `var` and `std` are defined on, and the type
/// they give, as numpy: a float stays itself, an integer gives `f64` (each
/// element converted to `f64` first, so sums of large integers neither
/// wrap nor lose more than `f64` rounding).
///
/// ```
/// use ndchunk::Array;
/// let a = Array::<i32>::arange(4, [3]).unwrap(); // [0, 1, 2, 3]
/// let mean: ndarray::ArrayD<f64> = a.mean(0, false).compute().unwrap();
/// assert_eq!(mean[[]], 1.5);
/// ```
pub trait MeanElement: Numeric {
    /// The element type of the result.
    type Mean: Numeric + Float;
    /// The array in the type its moments are computed in.
    fn to_mean_type(array: &Array<Self>) -> Array<Self::Mean>;
}

macro_rules! mean_of_float {
    ($($t:ty),*) => {$(
        impl MeanElement for $t {
            type Mean = $t;
            fn to_mean_type(array: &Array<$t>) -> Array<$t> {
                array.clone()
            }
        }
    )*};
}

macro_rules! mean_of_integer {
    ($($t:ty),*) => {$(
        impl MeanElement for $t {
            type Mean = f64;
            fn to_mean_type(array: &Array<$t>) -> Array<f64> {
                array.astype::<f64>()
            }
        }
    )*};
}

mean_of_float!(f32, f64);
mean_of_integer!(i8, i16, i32, i64, u8, u16, u32, u64);

impl<T: Numeric + Float> Array<T> {
    fn moments(
        &self,
        name: &'static str,
        kind: Kind,
        skip_nan: bool,
        ddof: u64,
        axes: impl Into<Axes>,
        options: &ReduceOptions,
    ) -> Array<T> {
        let r = MeanVar {
            name,
            kind,
            ddof,
            skip_nan,
        };
        self.reduce(
            name,
            Arc::new(Typed::<T>(r, Default::default())),
            axes,
            options,
        )
    }
}

impl<T: MeanElement> Array<T> {
    /// Mean over `axes` (NaN over an empty extent, as numpy).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::arange(5, [2]).unwrap();
    /// assert_eq!(a.mean(&[0], false).compute().unwrap()[[]], 2.0);
    /// ```
    pub fn mean(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T::Mean> {
        self.mean_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::mean`] with `keepdims` and `split_every` chosen.
    pub fn mean_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T::Mean> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = { T::to_mean_type(self).moments("mean", Kind::Mean, false, 0, axes, options) };
        result.recorded("mean", args, inputs)
    }

    /// Variance over `axes`, dividing by `max(n - ddof, 0)` as numpy.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::arange(5, [2]).unwrap();
    /// assert_eq!(a.var(&[0], false, 0).compute().unwrap()[[]], 2.0);
    /// assert_eq!(a.var(&[0], false, 1).compute().unwrap()[[]], 2.5);
    /// ```
    pub fn var(&self, axes: impl Into<Axes>, keepdims: bool, ddof: u64) -> Array<T::Mean> {
        self.var_with(axes, ddof, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::var`] with `keepdims` and `split_every` chosen.
    pub fn var_with(
        &self,
        axes: impl Into<Axes>,
        ddof: u64,
        options: &ReduceOptions,
    ) -> Array<T::Mean> {
        let axes: Axes = axes.into();
        let mut args = crate::array::recipe::reduce_args(&axes, options);
        args["ddof"] = serde_json::json!(ddof);
        let inputs = vec![self.origin()];
        let result =
            { T::to_mean_type(self).moments("var", Kind::Var, false, ddof, axes, options) };
        result.recorded("var", args, inputs)
    }

    /// Standard deviation over `axes`, dividing by `max(n - ddof, 0)`.
    pub fn std(&self, axes: impl Into<Axes>, keepdims: bool, ddof: u64) -> Array<T::Mean> {
        self.std_with(axes, ddof, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::std`] with `keepdims` and `split_every` chosen.
    pub fn std_with(
        &self,
        axes: impl Into<Axes>,
        ddof: u64,
        options: &ReduceOptions,
    ) -> Array<T::Mean> {
        let axes: Axes = axes.into();
        let mut args = crate::array::recipe::reduce_args(&axes, options);
        args["ddof"] = serde_json::json!(ddof);
        let inputs = vec![self.origin()];
        let result =
            { T::to_mean_type(self).moments("std", Kind::Std, false, ddof, axes, options) };
        result.recorded("std", args, inputs)
    }

    /// Mean over `axes` of the elements that are not NaN (NaN where all
    /// are, as numpy's `nanmean`).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[1.0, f64::NAN, 2.0]).into_dyn(), [2]).unwrap();
    /// assert_eq!(a.nanmean(&[0], false).compute().unwrap()[[]], 1.5);
    /// ```
    pub fn nanmean(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<T::Mean> {
        self.nanmean_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nanmean`] with `keepdims` and `split_every` chosen.
    pub fn nanmean_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<T::Mean> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result =
            { T::to_mean_type(self).moments("nanmean", Kind::Mean, true, 0, axes, options) };
        result.recorded("nanmean", args, inputs)
    }

    /// Variance over `axes` of the elements that are not NaN, dividing by
    /// `n - ddof` (NaN where that is not positive, as numpy's `nanvar`).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[1.0, f64::NAN, 3.0]).into_dyn(), [2]).unwrap();
    /// assert_eq!(a.nanvar(&[0], false, 1).compute().unwrap()[[]], 2.0);
    /// assert!(a.nanvar(&[0], false, 2).compute().unwrap()[[]].is_nan());
    /// ```
    pub fn nanvar(&self, axes: impl Into<Axes>, keepdims: bool, ddof: u64) -> Array<T::Mean> {
        self.nanvar_with(axes, ddof, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nanvar`] with `keepdims` and `split_every` chosen.
    pub fn nanvar_with(
        &self,
        axes: impl Into<Axes>,
        ddof: u64,
        options: &ReduceOptions,
    ) -> Array<T::Mean> {
        let axes: Axes = axes.into();
        let mut args = crate::array::recipe::reduce_args(&axes, options);
        args["ddof"] = serde_json::json!(ddof);
        let inputs = vec![self.origin()];
        let result =
            { T::to_mean_type(self).moments("nanvar", Kind::Var, true, ddof, axes, options) };
        result.recorded("nanvar", args, inputs)
    }

    /// Standard deviation over `axes` of the elements that are not NaN.
    pub fn nanstd(&self, axes: impl Into<Axes>, keepdims: bool, ddof: u64) -> Array<T::Mean> {
        self.nanstd_with(axes, ddof, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::nanstd`] with `keepdims` and `split_every` chosen.
    pub fn nanstd_with(
        &self,
        axes: impl Into<Axes>,
        ddof: u64,
        options: &ReduceOptions,
    ) -> Array<T::Mean> {
        let axes: Axes = axes.into();
        let mut args = crate::array::recipe::reduce_args(&axes, options);
        args["ddof"] = serde_json::json!(ddof);
        let inputs = vec![self.origin()];
        let result =
            { T::to_mean_type(self).moments("nanstd", Kind::Std, true, ddof, axes, options) };
        result.recorded("nanstd", args, inputs)
    }
}
