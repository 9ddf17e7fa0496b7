//! Structural operations: slicing, `take`, `transpose`, `squeeze`,
//! `expand_dims`, `broadcast_to`, `pad`, `reshape`, `concatenate`, `stack`.
//!
//! Each is one [`NodeKind::Layout`] node whose [`LayoutOp`] maps an output
//! region to the input regions it needs and turns those pieces into the
//! output block. Evaluation pulls only what a region needs, so a slice of
//! a result reads only the source chunks under the slice, through any chain
//! of elementwise operations (culling and slice push-down without a pass).
//! Output chunks follow Dask: a slice's chunks are the slices of the input
//! chunks, a transpose permutes them, a concatenation joins them.

mod broadcast;
mod concat;
pub(crate) mod gather;
mod pad;
mod permute;
mod reshape;
mod slice;
mod take;

use std::sync::Arc;

use ndchunk_chunking::ChunkGrid;
use ndchunk_io::Element;

use crate::array::Array;
use crate::graph::{LayoutOp, Node, NodeKind};
use crate::runtime::block_type::block_type;

pub(crate) use broadcast::broadcast_shapes;
pub use concat::{concatenate, stack};
pub use pad::PadMode;
pub(crate) use slice::index_from;
pub use slice::Index;

/// A layout node computing `T`.
fn layout<T: Element>(
    name: impl Into<String>,
    grid: ChunkGrid,
    inputs: Vec<Arc<Node>>,
    op: impl LayoutOp + 'static,
) -> Array<T> {
    Array::from_node(Node::new(
        name,
        grid,
        block_type::<T>(),
        NodeKind::Layout {
            inputs,
            op: Arc::new(op),
        },
    ))
}

/// The gather node over `array` (see [`gather::gather_node`]): selections
/// stay gathers when built; the plan pushes them into stages
/// (`plan/push_slices.rs`).
fn gather<T: Element>(
    array: &Array<T>,
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<gather::OutAxis>,
    fill: T,
) -> Array<T> {
    Array::from_node(gather::gather_node(array.node(), name, fixed, out, fill))
}

/// `axis` checked against `ndim`, numpy's message otherwise.
fn check_axis(axis: usize, ndim: usize) -> Result<usize, String> {
    if axis < ndim {
        Ok(axis)
    } else {
        Err(format!(
            "axis {axis} is out of bounds for array of dimension {ndim}"
        ))
    }
}

/// `index` (negative counts from the end) as a position on an axis of `len`.
fn check_index(index: i64, axis: usize, len: u64) -> Result<u64, String> {
    let at = if index < 0 {
        i128::from(len) + i128::from(index)
    } else {
        i128::from(index)
    };
    if at < 0 || at >= i128::from(len) {
        return Err(format!(
            "index {index} is out of bounds for axis {axis} with size {len}"
        ));
    }
    Ok(at as u64)
}
