//! Truth reductions of any element type: `any`, `all` (to `bool`) and
//! `count_nonzero` (to `i64`, numpy's `intp`). An element is "nonzero" when
//! it differs from its type's zero (`false` for `bool`; NaN is nonzero, as
//! in numpy).

use ndchunk_io::Element;

use super::fold::Fold;
use super::{Axes, ReduceOptions};
use crate::array::Array;

impl<T: Element> Array<T> {
    /// Whether any element over `axes` is nonzero (`false` over an empty
    /// extent).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::arange(5, [2]).unwrap();
    /// assert!(a.greater(3.5).any(&[0], false).compute().unwrap()[[]]);
    /// assert!(!a.greater(9.0).any(&[0], false).compute().unwrap()[[]]);
    /// ```
    pub fn any(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<bool> {
        self.any_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::any`] with `keepdims` and `split_every` chosen.
    pub fn any_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<bool> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let r = Fold::reduction("any", false, |x: T| x != T::default(), |a, b| a || b);
            self.reduce("any", r, axes, options)
        };
        result.recorded("any", args, inputs)
    }

    /// Whether every element over `axes` is nonzero (`true` over an empty
    /// extent).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(5, [2]).unwrap();
    /// assert!(!a.all(&[0], false).compute().unwrap()[[]]); // 0 is there
    /// assert!((a + 1).all(&[0], false).compute().unwrap()[[]]);
    /// ```
    pub fn all(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<bool> {
        self.all_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::all`] with `keepdims` and `split_every` chosen.
    pub fn all_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<bool> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let r = Fold::reduction("all", true, |x: T| x != T::default(), |a, b| a && b);
            self.reduce("all", r, axes, options)
        };
        result.recorded("all", args, inputs)
    }

    /// How many elements over `axes` are nonzero, as `i64` (numpy's
    /// `count_nonzero` gives `intp`).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(5, [2]).unwrap();
    /// assert_eq!(a.count_nonzero(&[0], false).compute().unwrap()[[]], 4i64);
    /// ```
    pub fn count_nonzero(&self, axes: impl Into<Axes>, keepdims: bool) -> Array<i64> {
        self.count_nonzero_with(axes, &ReduceOptions::with_keepdims(keepdims))
    }

    /// [`Array::count_nonzero`] with `keepdims` and `split_every` chosen.
    pub fn count_nonzero_with(&self, axes: impl Into<Axes>, options: &ReduceOptions) -> Array<i64> {
        let axes: Axes = axes.into();
        let args = crate::array::recipe::reduce_args(&axes, options);
        let inputs = vec![self.origin()];
        let result = {
            let nonzero = |x: T| i64::from(x != T::default());
            let r = Fold::reduction("count_nonzero", 0i64, nonzero, |a: i64, b| {
                a.wrapping_add(b)
            });
            self.reduce("count_nonzero", r, axes, options)
        };
        result.recorded("count_nonzero", args, inputs)
    }
}
