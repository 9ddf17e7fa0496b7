//! `concatenate` and `stack`: chunk lists joined along the axis (Dask's
//! rule); the other axes are cut at every input's boundaries, so a block
//! reads one piece of each input it overlaps.

use std::marker::PhantomData;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};
use ndchunk_io::Element;

use super::{check_axis, layout};
use crate::array::Array;
use crate::error::Result;
use crate::graph::{LayoutOp, PullFn};
use crate::ops::elementwise::invalid;
use crate::runtime::block::Block;
use crate::runtime::block::{block, slice_of, take};

struct Concat<T> {
    axis: usize,
    /// Where each input starts along the axis, and the total at the end.
    offsets: Vec<u64>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Concat<T> {
    /// Input `i`'s part of `region`, in the input's coordinates.
    fn part(&self, i: usize, region: &Region) -> Option<Region> {
        let (lo, hi) = (self.offsets[i], self.offsets[i + 1]);
        let r = region.range(self.axis);
        let (a, b) = (r.start.max(lo), r.end.min(hi));
        if a >= b {
            return None;
        }
        let mut start = region.start().to_vec();
        let mut stop = region.stop().to_vec();
        start[self.axis] = a - lo;
        stop[self.axis] = b - lo;
        Region::new(start, stop).ok()
    }
}

impl<T: Element> LayoutOp for Concat<T> {
    fn eval(&self, region: &Region, pull: &mut PullFn<'_>) -> Result<Block> {
        let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
        let parts: Vec<(usize, Region)> = (0..self.offsets.len() - 1)
            .filter_map(|i| self.part(i, region).map(|p| (i, p)))
            .collect();
        if region.is_empty() || parts.is_empty() {
            return Ok(block(ArrayD::<T>::default(IxDyn(&shape))));
        }
        if let [(i, part)] = parts.as_slice() {
            return pull(*i, part);
        }
        let mut dst = ArrayD::<T>::default(IxDyn(&shape));
        for (i, part) in parts {
            let values = take::<T>(pull(i, &part)?, "concatenate")?;
            let mut at = Region::from_shape(&region.shape());
            let lo = self.offsets[i] + part.start()[self.axis] - region.start()[self.axis];
            let (mut start, mut stop) = (at.start().to_vec(), at.stop().to_vec());
            start[self.axis] = lo;
            stop[self.axis] = lo + part.shape()[self.axis];
            at = Region::new(start, stop)?;
            dst.slice_mut(slice_of(&at).as_slice()).assign(&values);
        }
        Ok(block(dst))
    }

    fn pull_elements(&self, _input: usize, elements: u64) -> u64 {
        elements
    }
}

fn concat_node<T: Element>(arrays: &[Array<T>], axis: usize, name: String) -> Array<T> {
    let Some(first) = arrays.first() else {
        return invalid(
            &name,
            ChunkGrid::new(Vec::new()),
            "need at least one array to concatenate".into(),
        );
    };
    let fail = |message: String| invalid(&name, first.grid().clone(), message);
    let ndim = first.ndim();
    if let Err(message) = check_axis(axis, ndim) {
        return fail(message);
    }
    for (i, a) in arrays.iter().enumerate() {
        let (s, f) = (a.shape(), first.shape());
        let same = s.len() == ndim && (0..ndim).all(|k| k == axis || s[k] == f[k]);
        if !same {
            return fail(format!(
                "all the input array dimensions except for the concatenation axis must match exactly, but array 0 has shape {f:?} and array {i} has shape {s:?}"
            ));
        }
    }
    if arrays.len() == 1 {
        return first.clone();
    }
    let mut axes = Vec::with_capacity(ndim);
    for k in 0..ndim {
        let joined = if k == axis {
            let sizes: Vec<u64> = arrays
                .iter()
                .flat_map(|a| a.grid().axis(axis).sizes().collect::<Vec<_>>())
                .filter(|&n| n > 0)
                .collect();
            AxisChunks::from_sizes(if sizes.is_empty() { &[0] } else { &sizes })
        } else {
            arrays[1..]
                .iter()
                .try_fold(first.grid().axis(k).clone(), |acc, a| {
                    acc.refine_with(a.grid().axis(k))
                })
        };
        match joined {
            Ok(chunks) => axes.push(chunks),
            Err(e) => return fail(e.to_string()),
        }
    }
    let mut offsets = vec![0u64];
    for a in arrays {
        offsets.push(offsets[offsets.len() - 1] + a.shape()[axis]);
    }
    let op = Concat::<T> {
        axis,
        offsets,
        _t: PhantomData,
    };
    let inputs = arrays.iter().map(|a| a.node().clone()).collect();
    layout(name, ChunkGrid::new(axes), inputs, op)
}

/// The arrays joined along `axis` (numpy's `concatenate`): same number of
/// axes, same lengths except along `axis`. The chunks along `axis` are the
/// inputs' chunks one after another; the other axes are cut at every
/// input's chunk boundaries. Mismatched shapes are reported when planned.
///
/// ```
/// use ndchunk::{concatenate, Array};
/// let a = Array::<i32>::arange(3, [2]).unwrap();
/// let b = Array::<i32>::arange(2, [2]).unwrap();
/// let c = concatenate(&[a, b], 0);
/// assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 2, 0, 1]);
/// assert_eq!(c.grid().to_sizes(), vec![vec![2, 1, 2]]);
/// ```
pub fn concatenate<T: Element>(arrays: &[Array<T>], axis: usize) -> Array<T> {
    let inputs = arrays.iter().map(|a| a.origin()).collect();
    concat_node(arrays, axis, format!("concatenate(axis={axis})")).recorded(
        "concatenate",
        serde_json::json!({ "axis": axis }),
        inputs,
    )
}

/// The arrays (all of one shape) joined along a new axis at `axis`
/// (numpy's `stack`); the new axis has chunks of length 1.
///
/// ```
/// use ndchunk::{stack, Array};
/// let a = Array::<i32>::arange(3, [2]).unwrap();
/// let s = stack(&[a.clone(), a], 1);
/// assert_eq!(s.shape(), vec![3, 2]);
/// assert_eq!(s.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 0, 1, 1, 2, 2]);
/// ```
pub fn stack<T: Element>(arrays: &[Array<T>], axis: usize) -> Array<T> {
    let inputs = arrays.iter().map(|a| a.origin()).collect();
    stack_built(arrays, axis).recorded("stack", serde_json::json!({ "axis": axis }), inputs)
}

fn stack_built<T: Element>(arrays: &[Array<T>], axis: usize) -> Array<T> {
    let name = format!("stack(axis={axis})");
    if let Some(first) = arrays.first() {
        if let Some(bad) = arrays.iter().position(|a| a.shape() != first.shape()) {
            return invalid(
                &name,
                first.grid().clone(),
                format!(
                    "all input arrays must have the same shape, but array 0 has shape {:?} and array {bad} has shape {:?}",
                    first.shape(),
                    arrays[bad].shape()
                ),
            );
        }
        if let Err(message) = check_axis(axis, first.ndim() + 1) {
            return invalid(&name, first.grid().clone(), message);
        }
    }
    let expanded: Vec<Array<T>> = arrays.iter().map(|a| a.expand_dims(axis)).collect();
    concat_node(&expanded, axis, name)
}
