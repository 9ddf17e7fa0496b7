//! The logical graph: one [`Node`] per operation, never one per chunk.
//!
//! A node knows its output (shape and [`ChunkGrid`], dtype), how to get its
//! input for a region (its [`NodeKind`]: same region for blockwise nodes,
//! the intersecting pieces for a rechunk, the blocks along the reduced axes
//! for a reduction), and its kernel. Nothing per chunk exists until the
//! executor asks for a block, so a graph over 10^6 chunks is a handful of
//! `Arc<Node>`s.

pub(crate) mod scan;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ndchunk_chunking::{ChunkGrid, Region};

use crate::error::Result;
use crate::runtime::block::Block;
use crate::runtime::block_type::BlockType;
use crate::runtime::lanes::{Held, LaneFn, LaneFold};

pub(crate) use scan::Scan;

/// Reads any region of a source (a store, an in-memory array, a generator).
pub(crate) type SourceFn = dyn Fn(&Region) -> Result<Block> + Send + Sync;

/// The values of a source over at least a region, held where they lie
/// (`None` where the source cannot lend them; it is read instead).
pub(crate) type HoldFn = dyn Fn(&Region) -> Result<Option<Held>> + Send + Sync;

/// A blockwise kernel: the inputs over one region (same region for each)
/// to the output over that region.
pub(crate) type MapFn = dyn Fn(Vec<Block>, &BlockInfo<'_>) -> Result<Block> + Send + Sync;

/// Where a kernel's block lies, for `map_blocks` closures that need it.
#[derive(Debug, Clone, Copy)]
pub struct BlockInfo<'a> {
    /// The block index in the operation's grid (`map_blocks`); empty for
    /// elementwise kernels, which may be run on any region.
    pub index: &'a [u64],
    /// The block's region of the whole array.
    pub region: &'a Region,
}

/// A reduction's arithmetic, type-erased. Accumulators are kept with the
/// reduced axes as length-1 axes (keepdims) until [`Reduction::finish`].
pub(crate) trait Reduction: Send + Sync {
    /// The accumulator of one input block, reduced over `axes`; `region`
    /// is where the block lies in the input (`argmax` needs its offset).
    fn partial(&self, block: Block, axes: &[usize], region: &Region) -> Result<Block>;
    /// `acc` then `other` combined (in that order: the order is part of
    /// the result's bits).
    fn combine(&self, acc: Block, other: Block) -> Result<Block>;
    /// The output block from a complete accumulator, shaped `out_shape`.
    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block>;
    /// Accumulator bytes per output element (e.g. mean + M2 for `var`).
    fn acc_bytes_per_element(&self) -> u64;
    /// How to fold lanes of the input straight into a partial, where the
    /// reduction can (see [`LaneFold`]). A partial made so may differ in
    /// its last bits from [`partial`](Self::partial) of the whole block
    /// (another order of the same sum), but is fixed by the grid. `None`
    /// where a partial stands for its whole block (a scan's block totals).
    fn lane_fold(&self) -> Option<&dyn LaneFold> {
        None
    }
}

/// A structural operation (slice, transpose, reshape, concatenate, pad,
/// broadcast, …): the output over any region from the input regions it
/// needs, so a slice of a result pulls only what the slice touches.
pub(crate) trait LayoutOp: Send + Sync {
    /// The values over `region` (global coordinates); `pull(i, r)` gives
    /// input `i` over `r`. Implementations pull one piece at a time.
    fn eval(&self, region: &Region, pull: &mut PullFn<'_>) -> Result<Block>;
    /// The most elements one pull from input `input` holds when
    /// evaluating `elements` output elements (for projected bytes).
    fn pull_elements(&self, input: usize, elements: u64) -> u64;
    /// The operation itself, for rewrites that recognise it (a slice of a
    /// broadcast is a broadcast of a slice).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// How a [`LayoutOp`] reads its inputs: input index, region.
pub(crate) type PullFn<'a> = dyn FnMut(usize, &Region) -> Result<Block> + 'a;

/// Which regions a [`NodeKind::Map`] kernel sees.
#[derive(Clone)]
pub(crate) enum MapRegions {
    /// Any region; its inputs are read over the same region.
    Any,
    /// Whole blocks of the node's grid; its inputs are read over the
    /// region [`BlockInputs`] says.
    Blocks(Arc<BlockInputs>),
}

/// The region of a whole-block kernel's inputs for its output block at an
/// index.
pub(crate) type InputRegionFn = dyn Fn(&[u64]) -> Result<Region> + Send + Sync;

/// Where a whole-block kernel reads its inputs (all of them over one
/// region: they have one shape).
pub(crate) struct BlockInputs {
    /// The region of the inputs for the output block at an index.
    region: Box<InputRegionFn>,
    /// The most elements that region holds (for projected bytes).
    max_elements: u64,
    /// Input axes every block reads whole (`map_blocks`' dropped axes),
    /// whose chunks do not change a task's size.
    whole_axes: Vec<usize>,
}

impl BlockInputs {
    /// Inputs read over `region(index)`, of at most `max_elements`.
    pub(crate) fn new(
        region: impl Fn(&[u64]) -> Result<Region> + Send + Sync + 'static,
        max_elements: u64,
    ) -> Self {
        Self {
            region: Box::new(region),
            max_elements,
            whole_axes: Vec::new(),
        }
    }

    /// The same, saying that every block reads the input `axes` whole.
    pub(crate) fn reading_whole(mut self, axes: Vec<usize>) -> Self {
        self.whole_axes = axes;
        self
    }

    /// The input axes every block reads whole.
    pub(crate) fn whole_axes(&self) -> &[usize] {
        &self.whole_axes
    }

    /// Inputs read over the output block itself (of `grid`).
    pub(crate) fn same_blocks(grid: &ChunkGrid) -> Self {
        let max_elements = grid.max_block_elements();
        let grid = grid.clone();
        Self::new(move |index| Ok(grid.block_region(index)?), max_elements)
    }

    /// The inputs' region for the output block at `index`.
    pub(crate) fn region(&self, index: &[u64]) -> Result<Region> {
        (self.region)(index)
    }

    /// The most elements an input's region holds.
    pub(crate) fn max_elements(&self) -> u64 {
        self.max_elements
    }
}

/// What a node does with its inputs.
pub(crate) enum NodeKind {
    /// Data from outside the graph.
    Source {
        /// Reads a region.
        read: Arc<SourceFn>,
        /// Bytes a read needs beyond its result (a decoded chunk).
        scratch_bytes: u64,
        /// Lends the values over a region without copying them (an
        /// in-memory array, one decoded chunk), for lane kernels.
        hold: Option<Arc<HoldFn>>,
        /// The store read as it is, chunk for chunk (`from_store`): where
        /// its chunks may be copied as stored.
        store: Option<Arc<dyn ndchunk_io::ChunkStore>>,
    },
    /// A blockwise kernel over inputs of the same shape, each evaluated
    /// over the output's region.
    Map {
        /// The inputs.
        inputs: Vec<Arc<Node>>,
        /// The kernel.
        kernel: Arc<MapFn>,
        /// Which regions the kernel sees: any region, its inputs over the
        /// same one (elementwise kernels: what lets arrays of different
        /// chunkings meet without a rechunk), or whole blocks of this
        /// node's grid (`map_blocks`).
        regions: MapRegions,
        /// The same kernel over lanes (elementwise kernels made from a
        /// per-element function), for fused chains run lane by lane.
        lanes: Option<Arc<LaneFn>>,
    },
    /// The same values cut along a new grid; a block is assembled from the
    /// pieces of the input blocks it intersects.
    Rechunk {
        /// The input.
        input: Arc<Node>,
    },
    /// A reduction over `axes`, streamed into per-output-block accumulators.
    Reduce {
        /// The input.
        input: Arc<Node>,
        /// The arithmetic.
        reduction: Arc<dyn Reduction>,
        /// The reduced axes of the input (sorted, distinct).
        axes: Vec<usize>,
        /// Whether reduced axes stay as length 1.
        keepdims: bool,
        /// How many partial results are combined at once; fixes the tree.
        split_every: u64,
    },
    /// A cumulative operation along `axis` (`cumsum`): each block of the
    /// input scanned from its carry, read from `carries` (an earlier
    /// reduction: per block along `axis`, everything before it reduced).
    Scan {
        /// The input (same grid as the output).
        input: Arc<Node>,
        /// The exclusive prefix of the block totals along `axis`: the
        /// input's grid with `axis` of one element per block.
        carries: Arc<Node>,
        /// The axis scanned.
        axis: usize,
        /// The arithmetic.
        scan: Arc<dyn Scan>,
    },
    /// A structural operation: each output region from input regions.
    Layout {
        /// The inputs.
        inputs: Vec<Arc<Node>>,
        /// The dependency rule and the block transform.
        op: Arc<dyn LayoutOp>,
    },
    /// The input's values, read by tasks that each need parts of several
    /// of its blocks (an overlap's halos): each whole block of the input is
    /// computed once and kept by the run, within the stage's cache bytes,
    /// while neighbouring tasks read it.
    Cached {
        /// The input (same grid as the output).
        input: Arc<Node>,
        /// How many blocks away, along each axis, a task reads from its
        /// own block: decides how many blocks the cache keeps.
        reach: Vec<u64>,
    },
    /// An operation that cannot be built (shapes that do not match, an axis
    /// out of range): reported when the graph is planned, so that building
    /// expressions with operators never panics.
    Invalid {
        /// What is wrong.
        message: String,
    },
}

/// One operation of the graph.
pub(crate) struct Node {
    id: u64,
    name: String,
    grid: ChunkGrid,
    ty: Arc<dyn BlockType>,
    kind: NodeKind,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Node {
    /// A node; `name` is the operation as the user wrote it (`add`,
    /// `from_store(memory:t)`), which errors and `explain` show.
    pub(crate) fn new(
        name: impl Into<String>,
        grid: ChunkGrid,
        ty: Arc<dyn BlockType>,
        kind: NodeKind,
    ) -> Arc<Node> {
        Arc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name: name.into(),
            grid,
            ty,
            kind,
        })
    }

    /// A process-unique id: the identity shared sub-expressions are found by.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The operation's user-facing name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The output's chunk grid (and so its shape).
    pub(crate) fn grid(&self) -> &ChunkGrid {
        &self.grid
    }

    /// The output's element type.
    pub(crate) fn block_type(&self) -> &Arc<dyn BlockType> {
        &self.ty
    }

    /// What the node does.
    pub(crate) fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// The nodes this one reads.
    pub(crate) fn inputs(&self) -> Vec<&Arc<Node>> {
        match &self.kind {
            NodeKind::Source { .. } | NodeKind::Invalid { .. } => Vec::new(),
            NodeKind::Map { inputs, .. } | NodeKind::Layout { inputs, .. } => {
                inputs.iter().collect()
            }
            NodeKind::Rechunk { input }
            | NodeKind::Reduce { input, .. }
            | NodeKind::Cached { input, .. } => vec![input],
            NodeKind::Scan { input, carries, .. } => vec![input, carries],
        }
    }

    /// Whether this node or one it reads, however far up, reads a store
    /// over the network ([`ChunkStore::is_remote`](ndchunk_io::ChunkStore::is_remote)).
    pub(crate) fn reads_remote(self: &Arc<Node>) -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            if !seen.insert(node.id) {
                continue;
            }
            if let NodeKind::Source {
                store: Some(store), ..
            } = &node.kind
            {
                if store.is_remote() {
                    return true;
                }
            }
            stack.extend(node.inputs());
        }
        false
    }

    /// Bytes of one element of the output.
    pub(crate) fn itemsize(&self) -> u64 {
        self.ty.dtype().size() as u64
    }

    /// The same values on `grid`: no node when the grid is the same, and
    /// a rechunk of a rechunk is one rechunk of the original.
    pub(crate) fn rechunked(self: &Arc<Node>, grid: ChunkGrid) -> Arc<Node> {
        if grid == self.grid {
            return self.clone();
        }
        let input = match self.kind() {
            NodeKind::Rechunk { input } => input.clone(),
            _ => self.clone(),
        };
        if grid == *input.grid() {
            return input;
        }
        let ty = self.ty.clone();
        Node::new("rechunk", grid, ty, NodeKind::Rechunk { input })
    }

    /// This operation over other inputs (in the order of
    /// [`inputs`](Self::inputs)), each with the grid of the one it replaces.
    pub(crate) fn with_inputs(&self, mut inputs: Vec<Arc<Node>>) -> Arc<Node> {
        debug_assert_eq!(inputs.len(), self.inputs().len());
        let mut next = || inputs.remove(0);
        let kind = match &self.kind {
            NodeKind::Source {
                read,
                scratch_bytes,
                hold,
                store,
            } => NodeKind::Source {
                read: read.clone(),
                scratch_bytes: *scratch_bytes,
                hold: hold.clone(),
                store: store.clone(),
            },
            NodeKind::Invalid { message } => NodeKind::Invalid {
                message: message.clone(),
            },
            NodeKind::Map {
                inputs: old,
                kernel,
                regions,
                lanes,
            } => NodeKind::Map {
                inputs: old.iter().map(|_| next()).collect(),
                kernel: kernel.clone(),
                regions: regions.clone(),
                lanes: lanes.clone(),
            },
            NodeKind::Layout { inputs: old, op } => NodeKind::Layout {
                inputs: old.iter().map(|_| next()).collect(),
                op: op.clone(),
            },
            NodeKind::Rechunk { .. } => NodeKind::Rechunk { input: next() },
            NodeKind::Cached { reach, .. } => NodeKind::Cached {
                input: next(),
                reach: reach.clone(),
            },
            NodeKind::Reduce {
                reduction,
                axes,
                keepdims,
                split_every,
                ..
            } => NodeKind::Reduce {
                input: next(),
                reduction: reduction.clone(),
                axes: axes.clone(),
                keepdims: *keepdims,
                split_every: *split_every,
            },
            NodeKind::Scan { axis, scan, .. } => NodeKind::Scan {
                input: next(),
                carries: next(),
                axis: *axis,
                scan: scan.clone(),
            },
        };
        Node::new(self.name.clone(), self.grid.clone(), self.ty.clone(), kind)
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("shape", &self.grid.shape())
            .field("dtype", &self.ty.dtype())
            .finish_non_exhaustive()
    }
}
