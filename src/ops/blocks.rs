//! Operations on whole blocks: `map_blocks` (a user kernel per block, told
//! where the block is; Dask's `map_blocks`, with several inputs and an
//! output shaped by [`BlockSpec`]) and `rechunk` (the same values on a new
//! grid).

use std::sync::Arc;

use ndarray::ArrayD;
use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};
use ndchunk_io::Element;

use crate::array::{Array, Chunks};
use crate::error::{Error, Result};
use crate::graph::{BlockInfo, BlockInputs, MapRegions, Node, NodeKind};
use crate::ops::elementwise::invalid;
use crate::ops::layout::broadcast_shapes;
use crate::runtime::block::{block, take, Block};
use crate::runtime::block_type::block_type;

/// How [`map_blocks`] shapes its output when the function does not keep
/// its blocks' shape: Dask's `drop_axis`, `new_axis` and `chunks`.
///
/// ```
/// use ndchunk::{map_blocks, Array, BlockSpec};
/// // Per block of rows, the sum of each row: axis 1 is dropped, so each
/// // call gets whole rows (all of axis 1's chunks together).
/// let a = Array::<f64>::arange(12, [12]).unwrap().reshape(&[4, 3]).rechunk([2, 2]);
/// let sums = map_blocks("row sums", &[&a], &BlockSpec::new().drop_axis([1]), |b, _| {
///     b[0].sum_axis(ndarray::Axis(1))
/// });
/// assert_eq!(sums.compute().unwrap().into_raw_vec_and_offset().0, vec![3.0, 12.0, 21.0, 30.0]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockSpec {
    drop_axis: Vec<i64>,
    new_axis: Vec<i64>,
    chunks: Option<OutputChunks>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OutputChunks {
    /// Every block has this shape (Dask's `chunks=(2, 3)`).
    BlockShape(Vec<u64>),
    /// The chunk sizes along every output axis (`chunks=((2, 2), (3,))`).
    Sizes(Vec<Vec<u64>>),
}

impl BlockSpec {
    /// The function keeps its blocks' shape.
    pub fn new() -> Self {
        Self::default()
    }

    /// Input axes (negative from the end) the output does not have: each
    /// call gets these axes whole, all their chunks together.
    pub fn drop_axis(mut self, axes: impl IntoIterator<Item = i64>) -> Self {
        self.drop_axis = axes.into_iter().collect();
        self
    }

    /// Output axes (negative from the end of the output) no input has: one
    /// chunk each, of length 1 unless [`chunks`](Self::chunks) says.
    pub fn new_axis(mut self, axes: impl IntoIterator<Item = i64>) -> Self {
        self.new_axis = axes.into_iter().collect();
        self
    }

    /// Every output block has `shape` (Dask's `chunks` as a tuple of ints),
    /// the last block along an axis included.
    pub fn block_shape(mut self, shape: impl IntoIterator<Item = u64>) -> Self {
        self.chunks = Some(OutputChunks::BlockShape(shape.into_iter().collect()));
        self
    }

    /// The output's chunk sizes along every axis (Dask's `chunks` as a
    /// tuple of tuples): as many chunks along an axis as the inputs have
    /// along the axis it comes from, one along a new axis.
    pub fn chunks(mut self, sizes: Vec<Vec<u64>>) -> Self {
        self.chunks = Some(OutputChunks::Sizes(sizes));
        self
    }
}

/// `f` run on each block of several arrays of one element type, as Dask's
/// `map_blocks`: the arrays broadcast together (numpy's rules) and their
/// chunks are unified (the union of their cuts), so that `f` gets, for
/// each output block, the inputs over one region, in order. `f` must
/// return an array of the output block's shape (else the run stops with an
/// error naming the operation and the block). The output's blocks are the
/// inputs' unless `spec` says otherwise: axes dropped (each call then gets
/// them whole), new axes, other chunk sizes (the output block at an index
/// still reads the input block at that index). Fuses with the blockwise
/// operations around it; a kernel that does not need whole blocks is
/// [`blockwise`](crate::blockwise).
///
/// ```
/// use ndchunk::{map_blocks, Array, BlockSpec};
/// let a = Array::<f64>::arange(6, [4]).unwrap();
/// let b = Array::<f64>::full(&[6], 1.0, [3]).unwrap();
/// // Unified chunks: [3, 1, 2]; each call sees one of them.
/// let sizes = map_blocks("sizes", &[&a, &b], &BlockSpec::new(), |v, info| {
///     ndarray::ArrayD::from_elem(v[0].shape(), info.region.num_elements() as f64)
/// });
/// assert_eq!(sizes.grid().to_sizes(), vec![vec![3, 1, 2]]);
/// assert_eq!(sizes.compute().unwrap().into_raw_vec_and_offset().0, vec![3.0, 3.0, 3.0, 1.0, 2.0, 2.0]);
/// ```
pub fn map_blocks<T: Element, U: Element>(
    name: &str,
    inputs: &[&Array<T>],
    spec: &BlockSpec,
    f: impl Fn(Vec<ArrayD<T>>, &BlockInfo<'_>) -> ArrayD<U> + Send + Sync + 'static,
) -> Array<U> {
    map_blocks_built(name, inputs, spec, f).made_by_closure(name)
}

/// [`map_blocks`] for the engine's own kernels: an array that keeps no
/// recipe (a plan reading it is local, named by its operation), where
/// `map_blocks` says the user's closure makes it so.
pub(crate) fn map_blocks_built<T: Element, U: Element>(
    name: &str,
    inputs: &[&Array<T>],
    spec: &BlockSpec,
    f: impl Fn(Vec<ArrayD<T>>, &BlockInfo<'_>) -> ArrayD<U> + Send + Sync + 'static,
) -> Array<U> {
    let layout = match BlockLayout::new(inputs, spec) {
        Ok(layout) => layout,
        Err(message) => {
            let grid = inputs.first().map_or_else(
                || ChunkGrid::regular(&[], &[]).expect("a 0-d grid"),
                |a| a.grid().clone(),
            );
            return invalid(name, grid, message);
        }
    };
    let op = name.to_string();
    let kernel = move |ins: Vec<Block>, info: &BlockInfo<'_>| {
        let out = f(take_all::<T>(ins, &op)?, info);
        let what = format!("block {:?}", info.index);
        user_block(&op, out, info.region, &what)
    };
    let (grid, nodes, block_inputs) = (layout.output, layout.inputs, layout.block_inputs);
    Array::from_node(Node::new(
        name,
        grid,
        block_type::<U>(),
        NodeKind::Map {
            inputs: nodes,
            kernel: Arc::new(kernel),
            regions: MapRegions::Blocks(Arc::new(block_inputs)),
            lanes: None,
        },
    ))
}

/// The typed arrays of a kernel's input blocks.
pub(crate) fn take_all<T: Element>(blocks: Vec<Block>, operation: &str) -> Result<Vec<ArrayD<T>>> {
    blocks
        .into_iter()
        .map(|b| take::<T>(b, operation))
        .collect()
}

/// What a user's function returned for `region` (`what`: "block [0, 1]"),
/// as a block, or an error naming the operation when its shape is not the
/// region's.
pub(crate) fn user_block<U: Element>(
    operation: &str,
    out: ArrayD<U>,
    region: &Region,
    what: &str,
) -> Result<Block> {
    let expected: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
    if out.shape() != expected.as_slice() {
        return Err(Error::Invalid {
            operation: operation.to_string(),
            message: format!(
                "the function returned shape {:?} for {what} of shape {expected:?}",
                out.shape()
            ),
        });
    }
    Ok(block(out.as_standard_layout().into_owned()))
}

/// `map_blocks`'s geometry: the inputs broadcast, the output grid, and
/// where each output block reads its inputs.
struct BlockLayout {
    inputs: Vec<Arc<Node>>,
    output: ChunkGrid,
    block_inputs: BlockInputs,
}

impl BlockLayout {
    fn new<T: Element>(
        inputs: &[&Array<T>],
        spec: &BlockSpec,
    ) -> std::result::Result<Self, String> {
        let first = inputs
            .first()
            .ok_or("map_blocks needs at least one input")?;
        let shape = inputs
            .iter()
            .try_fold(first.shape(), |s, a| broadcast_shapes(&s, &a.shape()))
            .ok_or_else(|| {
                let shapes: Vec<Vec<u64>> = inputs.iter().map(|a| a.shape()).collect();
                format!("operands could not be broadcast together with shapes {shapes:?}")
            })?;
        let arrays: Vec<Array<T>> = inputs.iter().map(|a| a.broadcast_to(&shape)).collect();
        let mut unified = arrays[0].grid().clone();
        for a in &arrays[1..] {
            unified = unified.refine_with(a.grid()).map_err(|e| e.to_string())?;
        }
        let ndim = shape.len();
        let dropped = resolve_axes(&spec.drop_axis, ndim, "drop_axis")?;
        let kept: Vec<usize> = (0..ndim).filter(|k| !dropped.contains(k)).collect();
        let out_ndim = kept.len() + spec.new_axis.len();
        let new = resolve_axes(&spec.new_axis, out_ndim, "new_axis")?;
        // Per output axis: the input axis it comes from (`None`: new).
        let mut from = Vec::with_capacity(out_ndim);
        let mut next = kept.iter();
        for p in 0..out_ndim {
            from.push(if new.contains(&p) {
                None
            } else {
                next.next().copied()
            });
        }
        let blocks_along = |p: usize| from[p].map_or(1, |k| unified.axis(k).num_chunks());
        let sizes: Vec<Vec<u64>> = match &spec.chunks {
            None => (0..out_ndim)
                .map(|p| from[p].map_or(vec![1], |k| unified.axis(k).sizes().collect()))
                .collect(),
            Some(OutputChunks::BlockShape(block)) => {
                if block.len() != out_ndim {
                    return Err(format!(
                        "chunks {block:?} has {} axes, the output {out_ndim}",
                        block.len()
                    ));
                }
                (0..out_ndim)
                    .map(|p| vec![block[p]; blocks_along(p) as usize])
                    .collect()
            }
            Some(OutputChunks::Sizes(sizes)) => {
                if sizes.len() != out_ndim {
                    return Err(format!(
                        "chunks has {} axes, the output {out_ndim}",
                        sizes.len()
                    ));
                }
                for (p, axis) in sizes.iter().enumerate() {
                    if axis.len() as u64 != blocks_along(p) {
                        return Err(format!(
                            "chunks along output axis {p}: {} sizes, but the inputs have {} blocks along it",
                            axis.len(),
                            blocks_along(p)
                        ));
                    }
                }
                sizes.clone()
            }
        };
        let axes = sizes
            .iter()
            .map(|s| AxisChunks::from_sizes(s))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let output = ChunkGrid::new(axes);
        // The inputs' region for an output block: each kept axis at the
        // block's index along the output axis it became, dropped axes whole.
        let out_axis_of: Vec<Option<usize>> = (0..ndim)
            .map(|k| from.iter().position(|&f| f == Some(k)))
            .collect();
        let max_elements = (0..ndim)
            .map(|k| match out_axis_of[k] {
                None => shape[k],
                Some(_) => unified.axis(k).max_chunk(),
            })
            .try_fold(1u64, |acc, n| acc.checked_mul(n))
            .unwrap_or(u64::MAX);
        let region = move |index: &[u64]| -> Result<Region> {
            let (start, stop): (Vec<u64>, Vec<u64>) = (0..ndim)
                .map(|k| match out_axis_of[k] {
                    None => (0, unified.axis(k).len()),
                    Some(p) => {
                        let r = unified.axis(k).chunk_range(index[p]);
                        (r.start, r.end)
                    }
                })
                .unzip();
            Ok(Region::new(start, stop)?)
        };
        Ok(Self {
            inputs: arrays.iter().map(|a| a.node().clone()).collect(),
            output,
            block_inputs: BlockInputs::new(region, max_elements).reading_whole(dropped),
        })
    }
}

/// `axes` (negative from the end) of an array of `ndim` axes, each once.
fn resolve_axes(axes: &[i64], ndim: usize, what: &str) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let k = if a < 0 { a + ndim as i64 } else { a };
        if k < 0 || k >= ndim as i64 {
            return Err(format!(
                "{what}: axis {a} is out of bounds for array of dimension {ndim}"
            ));
        }
        if out.contains(&(k as usize)) {
            return Err(format!("{what}: repeated axis {a}"));
        }
        out.push(k as usize);
    }
    Ok(out)
}

impl<T: Element> Array<T> {
    /// `f` run on each block, told the block's index and region; it must
    /// return an array of the block's shape (else the run stops with an
    /// error naming `map_blocks` and the block). Fuses with the blockwise
    /// operations around it. Several inputs, or an output of other
    /// blocks: [`map_blocks`].
    pub fn map_blocks<U: Element>(
        &self,
        f: impl Fn(ArrayD<T>, &BlockInfo<'_>) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Array<U> {
        map_blocks(
            "map_blocks",
            &[self],
            &BlockSpec::new(),
            move |mut blocks, info| f(blocks.swap_remove(0), info),
        )
    }

    /// The same values cut along a new grid. A rechunk that only merges
    /// whole chunks fuses into its consumer (a new block is assembled from
    /// the old blocks inside it); one that cuts chunks is a stage of its
    /// own, planned by the rechunk planner within the budget (each old
    /// block computed once per pass, through intermediates on disk when the
    /// budget is small). A rechunk to the same grid is no node at all, and
    /// a rechunk of a rechunk is one rechunk of the original.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::arange(12, [3]).unwrap();
    /// let b = (&a * 2.0).rechunk([4]).rechunk([6]);
    /// assert_eq!(b.grid().chunk_shape(), vec![6]);
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0[11], 22.0);
    /// ```
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Array<T> {
        let grid: ChunkGrid = match chunks.into().resolve(&self.shape(), T::DTYPE.size()) {
            Ok(grid) => grid,
            Err(e) => return invalid("rechunk", self.grid().clone(), e.to_string()),
        };
        let args = serde_json::json!({ "grid": grid });
        Array::from_node(self.node().rechunked(grid)).recorded("rechunk", args, vec![self.origin()])
    }
}
