//! `Array<T>`: a lazy chunked array. Operations add one node to the graph
//! and return at once; [`Array::compute`] and [`Array::store`] plan the
//! graph, check the plan against the memory budget and run it.

mod create;
mod dynamic;
pub(crate) mod kernel;
mod many;
mod plan_file;
mod random;
pub(crate) mod recipe;
pub(crate) mod region_store;
pub(crate) use plan_file::{check_recipes, save_publishing, Growth, Part, Publish, SavedOutput};
pub use plan_file::{save_plan_many, PlanFile};

use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::{ChunkGrid, Region};
use ndchunk_io::{ChunkStore, DType, Element};

use crate::error::{Error, Result};
use crate::exec::kept::Kept;
use crate::exec::run::{run, ComputeOptions, ComputeReport};
use crate::graph::Node;
use crate::plan::Plan;
use crate::runtime::block::Block;

pub(crate) use create::linspace_fn;
pub use create::Chunks;
pub(crate) use dynamic::each_origin;
pub use dynamic::{DynArray, DynElement, Reduction};
pub use many::{compute_many, store_many, store_many_plan};
pub use random::{splitmix64, RandomFloat};

/// A lazy n-dimensional array of `T`, cut into chunks by a [`ChunkGrid`].
/// Cloning is cheap (the graph is shared).
///
/// ```
/// use ndchunk::Array;
/// let a = Array::<f64>::arange(10, [4]).unwrap();
/// let b = (&a * 2.0 + 1.0).sum(&[0], false);
/// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![100.0]);
/// ```
pub struct Array<T: Element> {
    node: Arc<Node>,
    /// How it was built, for plan files (see [`Array::save_plan`]).
    origin: recipe::Origin,
    _type: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Array<T> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            origin: self.origin.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Element> std::fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_struct("Array");
        s.field("operation", &self.node.name())
            .field("shape", &self.shape());
        // Every chunk size where they are few; an axis of 2^62 chunks
        // would not fit in memory as a list.
        if self.grid().blocks_per_axis().iter().all(|&n| n <= 1024) {
            s.field("chunks", &self.grid().to_sizes());
        } else {
            s.field("chunk_shape", &self.grid().chunk_shape());
        }
        s.field("dtype", &T::DTYPE).finish()
    }
}

impl<T: Element> Array<T> {
    /// The array a node computes; the node's dtype must be `T`.
    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        Self {
            node,
            origin: recipe::Origin::Unrecorded,
            _type: PhantomData,
        }
    }

    /// The graph node behind this array (for planners and tools).
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// The shape.
    pub fn shape(&self) -> Vec<u64> {
        self.node.grid().shape()
    }

    /// The chunking.
    pub fn grid(&self) -> &ChunkGrid {
        self.node.grid()
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.node.grid().ndim()
    }

    /// The element type's tag.
    pub fn dtype(&self) -> DType {
        T::DTYPE
    }

    /// The optimised plan (stages, fused operations, tasks, bytes) for the
    /// default budget.
    pub fn plan(&self) -> Result<Plan> {
        self.plan_with(&ComputeOptions::default())
    }

    /// The plan [`Array::compute_with`] would run with `options` (the
    /// budget decides how a rechunk is staged).
    pub fn plan_with(&self, options: &ComputeOptions) -> Result<Plan> {
        Plan::new(&self.node, &options.plan_budget())
    }

    /// The optimised plan as text, to read before running something large.
    pub fn explain(&self) -> Result<String> {
        Ok(self.plan()?.to_string())
    }

    /// Computes the whole array in memory, with the default budget.
    pub fn compute(&self) -> Result<ArrayD<T>> {
        let options = ComputeOptions::new().progress(false);
        Ok(self.compute_with(&options)?.0)
    }

    /// Computes the array once, with the default budget, and returns an
    /// array over the result (see [`Array::persist_with`]).
    pub fn persist(&self) -> Result<Array<T>> {
        let options = ComputeOptions::new().progress(false);
        Ok(self.persist_with(&options)?.0)
    }

    /// Computes the array within `options` and keeps the result, as Dask's
    /// `persist`: whole in memory when it fits `max_mem` beside the
    /// largest task of the run, else spilled block by block to a scratch
    /// store under [`ComputeOptions::temp_dir`], removed when the last
    /// array reading it is dropped. The array returned reads the result
    /// instead of computing it again, with the same chunks.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = (Array::<f64>::arange(12, [4]).unwrap() * 2.0).persist().unwrap();
    /// assert_eq!((&a + &a).compute().unwrap()[[5]], 20.0);
    /// ```
    pub fn persist_with(&self, options: &ComputeOptions) -> Result<(Array<T>, ComputeReport)> {
        let plan = self.plan_with(options)?;
        let bytes = Region::from_shape(&self.shape())
            .num_elements()
            .saturating_mul(self.node.itemsize());
        let largest_task = plan
            .stages()
            .iter()
            .map(|s| s.required_bytes())
            .max()
            .unwrap_or(0);
        let in_memory = bytes.saturating_add(largest_task) <= plan.budget().max_mem;
        let temp_dir = options.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
        let node = &self.node;
        let result = Kept::new(
            node.name(),
            node.grid(),
            node.block_type(),
            (!in_memory).then_some(temp_dir.as_path()),
        )?;
        let sink = |_: usize, index: &[u64], region: &Region, values: Block| {
            result.put(index, region, values)
        };
        let mut report = run(&plan, &sink, options, None)?;
        if !in_memory {
            report.spilled_bytes = report.spilled_bytes.saturating_add(bytes);
        }
        let persisted = Array::from_node(result.into_source(node)).local_only(
            "`persist` keeps its result in this process: this plan can only run in this process",
        );
        Ok((persisted, report))
    }

    /// Writes the array into `store`, chunk by chunk (rechunked to the
    /// store's grid first when they differ), with the default budget.
    pub fn store(&self, store: &dyn ChunkStore) -> Result<ComputeReport> {
        self.store_with(store, &ComputeOptions::default())
    }
}

/// The shape of `node`'s whole result as ndarray wants it, or an error when
/// it cannot be addressed in memory at all (more bytes than `isize::MAX`,
/// ndarray's and the allocator's limit).
fn in_memory_shape(node: &Node) -> Result<Vec<usize>> {
    let bytes = node.grid().num_bytes(node.itemsize())?;
    let fits = isize::try_from(bytes).is_ok()
        && node
            .grid()
            .shape()
            .iter()
            .all(|&n| usize::try_from(n).is_ok());
    if !fits {
        return Err(Error::Invalid {
            operation: node.name().to_string(),
            message: format!(
                "compute() would hold the whole result of shape {:?} ({}) in memory, more \
                 than this machine can address; store() it instead, or compute a part of it",
                node.grid().shape(),
                ndchunk_chunking::format_bytes(bytes),
            ),
        });
    }
    Ok(node.grid().shape().iter().map(|&n| n as usize).collect())
}

/// The whole result's array, its memory reserved without aborting: an
/// allocation the system refuses is an error naming the size.
fn allocate_whole<T: Element>(node: &Node, shape: &[usize]) -> Result<ArrayD<T>> {
    let len: usize = shape.iter().product();
    let mut values: Vec<T> = Vec::new();
    values.try_reserve_exact(len).map_err(|_| Error::Invalid {
        operation: node.name().to_string(),
        message: format!(
            "compute() needs {} in memory for the whole result of shape {shape:?}, and the \
             system refused it; store() it instead, or compute a part of it",
            ndchunk_chunking::format_bytes((len as u64).saturating_mul(node.itemsize())),
        ),
    })?;
    values.resize(len, T::default());
    ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|e| Error::Internal {
        operation: node.name().to_string(),
        message: e.to_string(),
    })
}
