//! `map_overlap`: a function run on each block grown by a halo of its
//! neighbours' elements (Dask's `map_overlap`), for stencils, filters and
//! moving windows.
//!
//! The halo is a dependency rule, not a copy of the array: the operation is
//! one node whose task for an output block reads its input over the block
//! grown by `depth` (through a lazy [`pad`](Array::pad) where a boundary
//! mode supplies values past the edge), runs the function on that expanded
//! block and keeps the middle. The input's whole blocks go through a
//! [`NodeKind::Cached`] node, so the neighbours that share a block compute
//! (or decode) it once while the stage's cache holds it.

use std::sync::Arc;

use ndarray::ArrayD;
use ndchunk_chunking::{AxisChunks, Region};
use ndchunk_io::Element;

use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::{BlockInfo, BlockInputs, MapRegions, Node, NodeKind};
use crate::ops::elementwise::invalid;
use crate::ops::layout::PadMode;
use crate::ops::per_axis;
use crate::runtime::block::{block, copy_out, take, Block};
use crate::runtime::block_type::block_type;

impl<T: Element> Array<T> {
    /// `f` run on each block grown by `depth[i]` elements on both sides
    /// of axis `i` (one depth for all axes is allowed), keeping the middle
    /// of what it returns: Dask's `map_overlap` with `trim=True`.
    ///
    /// Past the array's edge the block is grown by `boundary`'s values
    /// ([`PadMode`], numpy's names; its table gives scipy's and Dask's);
    /// `None` grows it only inside the array (Dask's `boundary="none"`), so
    /// an edge block's expanded array is smaller. `f` gets the expanded
    /// block and the output block's index and region; the block sits
    /// `depth` elements in from the expanded array's start, or, with no
    /// boundary, `min(depth, region.start)`. It must return an array of the
    /// shape it was given (else the run stops with an error naming the
    /// operation and the block).
    ///
    /// A halo wider than the neighbouring chunks reads as many neighbours
    /// as it spans, so no rechunk is needed. Memory per task is one
    /// expanded block, its result and the output block; each input block
    /// is computed (a store's chunk decoded) once while the plan's cache,
    /// counted in `max_mem`, holds the blocks its neighbours still read.
    ///
    /// ```
    /// use ndchunk::{Array, PadMode};
    /// // A 3-point moving sum over chunks of 4, the edge repeated.
    /// let a = Array::<f64>::arange(10, [4]).unwrap();
    /// let sums = a.map_overlap(&[1], Some(PadMode::Edge), |x, _| {
    ///     let mut out = x.clone();
    ///     for i in 1..x.len() - 1 {
    ///         out[i] = x[i - 1] + x[i] + x[i + 1];
    ///     }
    ///     out
    /// });
    /// let want = [1.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0, 26.0];
    /// assert_eq!(sums.compute().unwrap().into_raw_vec_and_offset().0, want);
    /// ```
    pub fn map_overlap<U: Element>(
        &self,
        depth: &[u64],
        boundary: Option<PadMode<T>>,
        f: impl Fn(ArrayD<T>, &BlockInfo<'_>) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Array<U> {
        let mode = boundary.map_or("none", |m| m.rule().2);
        let name = format!("map_overlap(depth {depth:?}, {mode})");
        self.overlap(name, depth, boundary, f)
            .made_by_closure("map_overlap")
    }

    /// [`map_overlap`](Self::map_overlap) as the operation `name`.
    pub(crate) fn overlap<U: Element>(
        &self,
        name: String,
        depth: &[u64],
        boundary: Option<PadMode<T>>,
        f: impl Fn(ArrayD<T>, &BlockInfo<'_>) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Array<U> {
        let shape = self.shape();
        let depth = match per_axis(depth, shape.len(), "depths") {
            Ok(depth) => depth,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        let too_deep = shape
            .iter()
            .zip(&depth)
            .any(|(&n, &d)| d.checked_mul(2).and_then(|h| h.checked_add(n)).is_none());
        if too_deep {
            let message = format!("depth {depth:?} is too large for an array of shape {shape:?}");
            return invalid(&name, self.grid().clone(), message);
        }
        if boundary.is_none() {
            if let Some(axis) = (0..shape.len()).find(|&a| depth[a] > shape[a]) {
                let message = format!(
                    "depth {} along axis {axis} is larger than the axis ({}) with no boundary; \
                     give a boundary mode or a smaller depth",
                    depth[axis], shape[axis]
                );
                return invalid(&name, self.grid().clone(), message);
            }
        }
        let grid = self.grid().clone();
        let reach = grid
            .axes()
            .iter()
            .zip(&depth)
            .map(|(axis, &d)| reach(axis, d))
            .collect();
        let cached = Array::<T>::from_node(cached(self.node(), reach));
        let (input, padded) = match boundary {
            Some(mode) => {
                let widths: Vec<(u64, u64)> = depth.iter().map(|&d| (d, d)).collect();
                (cached.pad(&widths, mode), true)
            }
            None => (cached, false),
        };
        // The input's region for a block: grown by the depth, in the
        // padded array's coordinates (shifted by the depth) or clipped to
        // the array.
        let (blocks, halo) = (grid.clone(), depth.clone());
        let region = move |index: &[u64]| -> Result<Region> {
            let r = blocks.block_region(index)?;
            let (start, stop): (Vec<u64>, Vec<u64>) = (0..r.ndim())
                .map(|a| {
                    let (s, e, d) = (r.start()[a], r.stop()[a], halo[a]);
                    if padded {
                        (s, e + 2 * d)
                    } else {
                        (s.saturating_sub(d), (e + d).min(blocks.axis(a).len()))
                    }
                })
                .unzip();
            Ok(Region::new(start, stop)?)
        };
        let max_elements = grid
            .axes()
            .iter()
            .zip(&depth)
            .map(|(axis, &d)| (axis.max_chunk() + 2 * d).min(axis.len() + 2 * d))
            .try_fold(1u64, |acc, n| acc.checked_mul(n))
            .unwrap_or(u64::MAX);
        let op = name.clone();
        let kernel = move |mut ins: Vec<Block>, info: &BlockInfo<'_>| -> Result<Block> {
            let expanded = take::<T>(ins.swap_remove(0), &op)?;
            let given = expanded.shape().to_vec();
            let out = f(expanded, info);
            if out.shape() != given.as_slice() {
                return Err(Error::Invalid {
                    operation: op.clone(),
                    message: format!(
                        "the function returned shape {:?} for block {:?} grown to shape {given:?}; \
                         it must return the shape it is given",
                        out.shape(),
                        info.index
                    ),
                });
            }
            let start: Vec<u64> = (0..given.len())
                .map(|a| match padded {
                    true => depth[a],
                    false => depth[a].min(info.region.start()[a]),
                })
                .collect();
            let stop = start
                .iter()
                .zip(info.region.shape())
                .map(|(s, n)| s + n)
                .collect();
            Ok(block(copy_out(&out, &Region::new(start, stop)?)))
        };
        Array::from_node(Node::new(
            name,
            grid,
            block_type::<U>(),
            NodeKind::Map {
                inputs: vec![input.node().clone()],
                kernel: Arc::new(kernel),
                regions: MapRegions::Blocks(Arc::new(BlockInputs::new(region, max_elements))),
                lanes: None,
            },
        ))
    }
}

/// `node` read through a [`NodeKind::Cached`] node, placed under the
/// one-input elementwise operations that end it (`astype`, a scale): the
/// cache then keeps the source's blocks (a `uint16` chunk, not its `f32`
/// copy), and the cheap operations run again on each piece read.
fn cached(node: &Arc<Node>, reach: Vec<u64>) -> Arc<Node> {
    match node.kind() {
        NodeKind::Map {
            inputs,
            regions: MapRegions::Any,
            ..
        } if inputs.len() == 1 && inputs[0].grid() == node.grid() => {
            node.with_inputs(vec![cached(&inputs[0], reach)])
        }
        _ => Node::new(
            "cache",
            node.grid().clone(),
            node.block_type().clone(),
            NodeKind::Cached {
                input: node.clone(),
                reach,
            },
        ),
    }
}

/// How many blocks along an axis a halo of `depth` reaches past a block:
/// enough of the smallest chunks to cover it, at most all the others.
fn reach(axis: &AxisChunks, depth: u64) -> u64 {
    let smallest = axis.sizes().filter(|&n| n > 0).min().unwrap_or(1);
    depth
        .div_ceil(smallest)
        .min(axis.num_chunks().saturating_sub(1))
}
