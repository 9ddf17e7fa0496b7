//! Cumulative sums and products along one axis (`cumsum`, `cumprod`, and
//! `nancumsum`/`nancumprod`, where NaN counts as the identity). The output
//! has the input's shape and chunks.
//!
//! Two steps, as Dask's `cumreduction`, but with an O(operations) graph:
//!
//! 1. a reduce stage (`<op> carries`) folds each block along the axis to
//!    its total and, once all totals of an output block are gathered in
//!    block order, turns them into exclusive prefixes by a sequential
//!    chain (`carry[k] = carry[k-1] ⊕ total[k-1]`): one carry per block;
//! 2. a blockwise [`NodeKind::Scan`] scans each block from its carry, and
//!    fuses with what comes before and after it.
//!
//! The input is computed twice (once per step), never held whole; the
//! carries (one element per block along the axis) are materialised. A
//! single chunk along the axis needs no carries: one per-block kernel.
//! Every value comes from the same chain of operations whatever the
//! threads or the tree, so the bits are too.

use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn, Slice, Zip};
use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};

use super::{fold_axes, is_nan, take_acc, Axes, DEFAULT_SPLIT_EVERY};
use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::{BlockInfo, BlockInputs, MapRegions, Node, NodeKind, Reduction, Scan};
use crate::ops::elementwise::invalid;
use crate::ops::numeric::Numeric;
use crate::runtime::block::Block;
use crate::runtime::block::{block, take};
use crate::runtime::block_type::block_type;

/// A scan's operation: `op` from `identity`, NaN as the identity when
/// `skip_nan`. It is both the carries' reduction and the scan's kernel.
struct ScanOp<T> {
    name: &'static str,
    axis: usize,
    identity: T,
    op: fn(T, T) -> T,
    skip_nan: bool,
}

impl<T: Numeric> ScanOp<T> {
    fn lift(&self, x: T) -> T {
        if self.skip_nan && is_nan(x) {
            self.identity
        } else {
            x
        }
    }

    fn internal(&self, message: String) -> Error {
        Error::Internal {
            operation: self.name.into(),
            message,
        }
    }
}

/// The carries' accumulator: the block totals so far, in block order.
type Totals<T> = Vec<ArrayD<T>>;

impl<T: Numeric> Reduction for ScanOp<T> {
    fn partial(&self, b: Block, axes: &[usize], _region: &Region) -> Result<Block> {
        let a = take::<T>(b, self.name)?;
        let op = self.op;
        let total = fold_axes(&a, axes, self.identity, |x| self.lift(x), op);
        Ok(Box::new(vec![total]))
    }

    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let mut acc = take_acc::<Totals<T>>(acc, self.name)?;
        acc.extend(take_acc::<Totals<T>>(other, self.name)?);
        Ok(Box::new(acc))
    }

    /// The exclusive prefixes of the totals (`identity` for the first
    /// block, which the scan never reads).
    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        let totals = take_acc::<Totals<T>>(acc, self.name)?;
        if out_shape.get(self.axis) != Some(&totals.len()) {
            return Err(self.internal(format!(
                "{} block totals for carries of shape {out_shape:?}",
                totals.len()
            )));
        }
        let mut out = ArrayD::from_elem(IxDyn(out_shape), self.identity);
        let mut carry: Option<ArrayD<T>> = None;
        for (k, total) in totals.into_iter().enumerate() {
            let mut slot = out.slice_axis_mut(Axis(self.axis), Slice::from(k..k + 1));
            if let Some(c) = &carry {
                slot.assign(c);
            }
            carry = Some(match carry {
                None => total,
                Some(mut c) => {
                    Zip::from(&mut c)
                        .and(&total)
                        .for_each(|c, &t| *c = (self.op)(*c, t));
                    c
                }
            });
        }
        Ok(block(out))
    }

    fn acc_bytes_per_element(&self) -> u64 {
        T::DTYPE.size() as u64
    }
}

impl<T: Numeric> Scan for ScanOp<T> {
    fn scan(&self, b: Block, carry: Option<Block>, axis: usize) -> Result<Block> {
        let mut a = take::<T>(b, self.name)?;
        if self.skip_nan {
            a.mapv_inplace(|x| self.lift(x));
        }
        if a.is_empty() {
            return Ok(block(a));
        }
        let op = self.op;
        if let Some(carry) = carry {
            let carry = take::<T>(carry, self.name)?;
            let mut first = a.slice_axis_mut(Axis(axis), Slice::from(0..1));
            if first.shape() != carry.shape() {
                return Err(self.internal(format!(
                    "carry of shape {:?} for a block of shape {:?}",
                    carry.shape(),
                    first.shape()
                )));
            }
            first.zip_mut_with(&carry, |x, &c| *x = op(c, *x));
        }
        a.accumulate_axis_inplace(Axis(axis), |&prev, x| *x = op(prev, *x));
        Ok(block(a))
    }
}

impl<T: Numeric> Array<T> {
    fn scan(
        &self,
        name: &'static str,
        identity: T,
        op: fn(T, T) -> T,
        skip_nan: bool,
        axis: impl Into<Axes>,
    ) -> Array<T> {
        let axis = match axis.into().resolve_one(self.ndim()) {
            Ok(axis) => axis,
            Err(message) => return invalid(name, self.grid().clone(), message),
        };
        let scan = Arc::new(ScanOp {
            name,
            axis,
            identity,
            op,
            skip_nan,
        });
        let input = self.node().clone();
        let grid = self.grid().clone();
        let blocks = grid.axis(axis).num_chunks();
        if blocks == 1 {
            let kernel = move |ins: Vec<Block>, _: &BlockInfo<'_>| {
                let b = ins
                    .into_iter()
                    .next()
                    .ok_or_else(|| scan.internal("no input block".into()))?;
                scan.scan(b, None, axis)
            };
            let kind = NodeKind::Map {
                inputs: vec![input],
                kernel: Arc::new(kernel),
                regions: MapRegions::Blocks(Arc::new(BlockInputs::same_blocks(&grid))),
                lanes: None,
            };
            return Array::from_node(Node::new(name, grid, block_type::<T>(), kind));
        }
        let mut axes: Vec<AxisChunks> = grid.axes().to_vec();
        let one_per_block = AxisChunks::regular(blocks, blocks);
        match one_per_block {
            Ok(a) => axes[axis] = a,
            Err(e) => return invalid(name, grid, e.to_string()),
        }
        let carries = Node::new(
            format!("{name} carries"),
            ChunkGrid::new(axes),
            block_type::<T>(),
            NodeKind::Reduce {
                input: input.clone(),
                reduction: scan.clone(),
                axes: vec![axis],
                keepdims: true,
                split_every: DEFAULT_SPLIT_EVERY,
            },
        );
        let kind = NodeKind::Scan {
            input,
            carries,
            axis,
            scan,
        };
        Array::from_node(Node::new(name, grid, block_type::<T>(), kind))
    }

    /// Cumulative sum along `axis` (numpy's `cumsum`; integers stay `T`
    /// and wrap). Same shape and chunks as `self`.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i64>::arange(5, [2]).unwrap();
    /// assert_eq!(a.cumsum(0).compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 3, 6, 10]);
    /// println!("{}", a.cumsum(0).explain().unwrap()); // carries, then the scan
    /// ```
    pub fn cumsum(&self, axis: impl Into<Axes>) -> Array<T> {
        let axis: Axes = axis.into();
        let args = serde_json::json!({ "axis": crate::array::recipe::axes_value(&axis) });
        let inputs = vec![self.origin()];
        let result = { self.scan("cumsum", T::ZERO, T::add_elem, false, axis) };
        result.recorded("cumsum", args, inputs)
    }

    /// Cumulative product along `axis` (numpy's `cumprod`).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i64>::arange(5, [2]).unwrap() + 1;
    /// assert_eq!(a.cumprod(0).compute().unwrap().into_raw_vec_and_offset().0, vec![1, 2, 6, 24, 120]);
    /// ```
    pub fn cumprod(&self, axis: impl Into<Axes>) -> Array<T> {
        let axis: Axes = axis.into();
        let args = serde_json::json!({ "axis": crate::array::recipe::axes_value(&axis) });
        let inputs = vec![self.origin()];
        let result = { self.scan("cumprod", T::ONE, T::mul_elem, false, axis) };
        result.recorded("cumprod", args, inputs)
    }

    /// Cumulative sum along `axis` with NaN counted as 0 (numpy's
    /// `nancumsum`: leading NaNs become 0).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::from_ndarray(ndarray::arr1(&[f64::NAN, 1.0, f64::NAN, 2.0]).into_dyn(), [3]).unwrap();
    /// assert_eq!(a.nancumsum(0).compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 1.0, 1.0, 3.0]);
    /// ```
    pub fn nancumsum(&self, axis: impl Into<Axes>) -> Array<T> {
        let axis: Axes = axis.into();
        let args = serde_json::json!({ "axis": crate::array::recipe::axes_value(&axis) });
        let inputs = vec![self.origin()];
        let result = { self.scan("nancumsum", T::ZERO, T::add_elem, true, axis) };
        result.recorded("nancumsum", args, inputs)
    }

    /// Cumulative product along `axis` with NaN counted as 1 (numpy's
    /// `nancumprod`).
    pub fn nancumprod(&self, axis: impl Into<Axes>) -> Array<T> {
        let axis: Axes = axis.into();
        let args = serde_json::json!({ "axis": crate::array::recipe::axes_value(&axis) });
        let inputs = vec![self.origin()];
        let result = { self.scan("nancumprod", T::ONE, T::mul_elem, true, axis) };
        result.recorded("nancumprod", args, inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_are_exclusive_prefixes_in_block_order() {
        let op = ScanOp::<i64> {
            name: "cumsum",
            axis: 0,
            identity: 0,
            op: i64::wrapping_add,
            skip_nan: false,
        };
        let totals: Totals<i64> = (1..=3)
            .map(|t| ArrayD::from_elem(IxDyn(&[1, 2]), t))
            .collect();
        let out = op.finish(Box::new(totals), &[3, 2]).unwrap();
        let out = take::<i64>(out, "t").unwrap();
        assert_eq!(out.into_raw_vec_and_offset().0, vec![0, 0, 1, 1, 3, 3]);
        assert!(op.finish(Box::new(Totals::<i64>::new()), &[3, 2]).is_err());
    }
}
