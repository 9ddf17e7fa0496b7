//! Several outputs in one run: [`compute_many`] and [`store_many`], as
//! Dask's `dask.compute(a, b)` and `da.store([a, b], [x, y])`. One plan
//! makes them all: a stage two outputs need runs once, and outputs on one
//! grid are made by the same tasks, so a source chunk they share is read
//! once. `compute` and `store` are the one-output case.

use std::sync::{Arc, Mutex};

use ndarray::ArrayD;
use ndchunk_chunking::Region;
use ndchunk_io::{ArrayMeta, ChunkStore, Element, IoError};

use super::{allocate_whole, in_memory_shape, Array, DynArray};
use crate::error::{Error, Result};
use crate::exec::journal::Journal;
use crate::exec::run::{check_shard, for_remote_io, run, ComputeOptions, ComputeReport};
use crate::graph::Node;
use crate::plan::Plan;
use crate::runtime::block::{slice_of, take, Block};

/// Computes several arrays in one run, within `options`, and returns their
/// values in the order given: what they share (a source, an intermediate
/// result) is computed once, and arrays on one grid are made by the same
/// tasks, each source chunk they read decoded once. The results are
/// outside the budget: they are what was asked for.
///
/// ```
/// use ndchunk::{compute_many, Array, ComputeOptions};
/// let a = Array::<f64>::arange(8, [4]).unwrap();
/// let (values, report) =
///     compute_many(&[&(&a * 2.0), &(&a + 1.0)], &ComputeOptions::new()).unwrap();
/// assert_eq!(values[0][[3]], 6.0);
/// assert_eq!(values[1][[3]], 4.0);
/// assert_eq!(report.tasks_run, 2); // one task per block makes both
/// ```
pub fn compute_many<T: Element>(
    arrays: &[&Array<T>],
    options: &ComputeOptions,
) -> Result<(Vec<ArrayD<T>>, ComputeReport)> {
    if let Some(dir) = &options.journal_dir {
        return Err(Error::Job {
            path: dir.display().to_string(),
            message: "journal_dir makes store() resumable; compute() keeps its result in \
                      memory, which a kill loses: store it instead"
                .into(),
        });
    }
    let nodes: Vec<Arc<Node>> = arrays.iter().map(|a| a.node.clone()).collect();
    let options = &*for_remote_io(options, nodes.iter().any(|n| n.reads_remote()));
    let plan = Plan::for_outputs(&nodes, &options.plan_budget())?;
    let shapes = nodes
        .iter()
        .map(|n| in_memory_shape(n))
        .collect::<Result<Vec<_>>>()?;
    // Each allocated when its first block arrives: a run that fails before
    // never holds the whole output.
    let results: Vec<Mutex<Option<ArrayD<T>>>> = nodes.iter().map(|_| Mutex::new(None)).collect();
    let outputs = |k: usize, _: &[u64], region: &Region, values: Block| -> Result<()> {
        let node = &nodes[k];
        let values = take::<T>(values, node.name())?;
        let mut whole = results[k].lock().unwrap_or_else(|p| p.into_inner());
        if whole.is_none() {
            *whole = Some(allocate_whole::<T>(node, &shapes[k])?);
        }
        if let Some(whole) = whole.as_mut() {
            whole.slice_mut(slice_of(region).as_slice()).assign(&values);
        }
        Ok(())
    };
    let report = run(&plan, &outputs, options, None)?;
    let values = results
        .into_iter()
        .zip(&nodes)
        .zip(&shapes)
        .map(
            |((whole, node), shape)| match whole.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(whole) => Ok(whole),
                None => allocate_whole::<T>(node, shape),
            },
        )
        .collect::<Result<Vec<_>>>()?;
    Ok((values, report))
}

impl<T: Element> Array<T> {
    /// Computes the array within `options`, handing each block to `f` (its
    /// index, region and values) as it is made, on the run's threads: for
    /// operations that fold an array into something that is not an array
    /// (a histogram, per-label measurements), without holding it whole.
    pub(crate) fn for_each_block(
        &self,
        options: &ComputeOptions,
        f: impl Fn(&[u64], &Region, ArrayD<T>) -> Result<()> + Sync,
    ) -> Result<ComputeReport> {
        self.for_each_block_holding(options, 0, f)
    }

    /// [`Array::for_each_block`] where `f` holds up to `held` bytes of its
    /// own per block, counted in the budget beside the block.
    pub(crate) fn for_each_block_holding(
        &self,
        options: &ComputeOptions,
        held: u64,
        f: impl Fn(&[u64], &Region, ArrayD<T>) -> Result<()> + Sync,
    ) -> Result<ComputeReport> {
        let mut budget = options.plan_budget();
        budget.sink_bytes = held;
        let plan = Plan::new(&self.node, &budget)?;
        let name = self.node.name();
        let outputs = |_: usize, index: &[u64], region: &Region, values: Block| -> Result<()> {
            f(index, region, take::<T>(values, name)?)
        };
        run(&plan, &outputs, options, None)
    }
}

/// Stores several arrays, each into its store, in one run within
/// `options` (as Dask's `da.store(sources, targets)`): what they share is
/// computed once, and arrays on one grid are written by the same tasks.
/// Writes are whole chunks; with [`ComputeOptions::journal_dir`], the same
/// `store_many` run again after a kill skips the tasks done.
///
/// ```
/// use ndchunk::chunking::{ChunkGrid, Region};
/// use ndchunk::io::{ArrayMeta, ChunkStoreExt, DType, MemoryStore, Scalar};
/// use ndchunk::{store_many, Array, ComputeOptions, DynArray};
/// let a = Array::<f32>::arange(6, [3]).unwrap();
/// let grid = ChunkGrid::regular(&[6], &[2]).unwrap();
/// let meta = ArrayMeta::new(grid, DType::Float32, Scalar::Float(0.0));
/// let (x, y) = (MemoryStore::new("x", meta.clone()), MemoryStore::new("y", meta));
/// let (twice, plus) = (DynArray::from(&a * 2.0), DynArray::from(&a + 1.0));
/// store_many(&[(&twice, &x), (&plus, &y)], &ComputeOptions::new()).unwrap();
/// let stored = y.read_region::<f32>(&Region::from_shape(&[6])).unwrap();
/// assert_eq!(stored[[5]], 6.0);
/// ```
pub fn store_many(
    pairs: &[(&DynArray, &dyn ChunkStore)],
    options: &ComputeOptions,
) -> Result<ComputeReport> {
    let stores: Vec<&dyn ChunkStore> = pairs.iter().map(|&(_, s)| s).collect();
    check_distinct(&stores, "store_many")?;
    let nodes = pairs
        .iter()
        .map(|(array, store)| for_store(array.node(), store.meta(), &store.location()))
        .collect::<Result<Vec<_>>>()?;
    store_nodes(&nodes, &stores, options, None, 0)
}

/// Two arrays into one store would overwrite each other's chunks: refused
/// for the same store object, or stores at one place on disk however
/// spelled.
pub(super) fn check_distinct(stores: &[&dyn ChunkStore], operation: &str) -> Result<()> {
    let place = |store: &dyn ChunkStore| {
        ndchunk_io::owned_paths::resolve(std::path::Path::new(&store.location())).ok()
    };
    for (k, store) in stores.iter().enumerate() {
        let location = store.location();
        let same = |other: &&dyn ChunkStore| {
            std::ptr::addr_eq(*other, *store)
                || (std::path::Path::new(&location).exists()
                    && place(*other).is_some()
                    && place(*other) == place(*store))
        };
        if stores[..k].iter().any(same) {
            return Err(Error::Invalid {
                operation: operation.into(),
                message: format!(
                    "two arrays are to be stored into {location}: give each its own store"
                ),
            });
        }
    }
    Ok(())
}

/// Sees each block as it is stored (its output, index, region, values).
type Observer<'a> = &'a (dyn Fn(usize, &[u64], &Region, &Block) -> Result<()> + Sync);

/// The plan [`store_many`] runs for stores of `metas` (a store's
/// [`ChunkStore::meta`], or the metadata of one not yet created), to read
/// (`explain`) before running it.
pub fn store_many_plan(
    pairs: &[(&DynArray, &ArrayMeta)],
    options: &ComputeOptions,
) -> Result<Plan> {
    let nodes = pairs
        .iter()
        .map(|(array, meta)| for_store(array.node(), meta, "the store"))
        .collect::<Result<Vec<_>>>()?;
    let metas: Vec<&ArrayMeta> = pairs.iter().map(|&(_, m)| m).collect();
    plan_stores(&nodes, &metas, options, 0)
}

/// Writes `nodes` (each on its store's grid) into `stores`, in one run,
/// showing each block to `observe` before it is written.
fn store_nodes(
    nodes: &[Arc<Node>],
    stores: &[&dyn ChunkStore],
    options: &ComputeOptions,
    observe: Option<Observer>,
    observer_bytes: u64,
) -> Result<ComputeReport> {
    let remote = stores.iter().any(|s| s.is_remote()) || nodes.iter().any(|n| n.reads_remote());
    let options = &*for_remote_io(options, remote);
    let metas: Vec<&ArrayMeta> = stores.iter().map(|s| s.meta()).collect();
    let plan = plan_stores(nodes, &metas, options, observer_bytes)?;
    check_shard(&plan, options)?;
    // The journal belongs to this plan into these stores: another plan
    // (other operations, budget, threads) or store is another run.
    let journal = match &options.journal_dir {
        Some(dir) => {
            let mut identity = format!("{plan}budget: {:?}\n", plan.budget());
            for store in stores {
                let meta = store.meta();
                identity.push_str(&format!(
                    "store: {}\ngrid: {}\ndtype: {}\n",
                    store.location(),
                    serde_json::to_string(&meta.grid).unwrap_or_default(),
                    meta.dtype.name(),
                ));
            }
            if options.finish_shards {
                return finish_shards(&plan, dir, &identity, options);
            }
            Some(Journal::open(dir, &identity, options.shard.as_ref())?)
        }
        None if options.finish_shards => {
            return Err(Error::Invalid {
                operation: "finish_shards".into(),
                message: "needs the journal_dir the shards were given".into(),
            })
        }
        None => None,
    };
    let outputs = |k: usize, index: &[u64], region: &Region, values: Block| -> Result<()> {
        if let Some(observe) = observe {
            observe(k, index, region, &values)?;
        }
        nodes[k].block_type().write_chunk(stores[k], index, values)
    };
    let report = run(&plan, &outputs, options, journal.as_ref())?;
    // A shard's journal stays for the plan's other shards and stages.
    if let Some(journal) = journal.filter(|_| options.shard.is_none()) {
        journal.finish()?;
    }
    Ok(report)
}

/// [`ComputeOptions::finish_shards`]: every shard stage of `plan` must be
/// finished in the journal at `dir` (of the run `identity`); the journal
/// then goes. Nothing runs.
fn finish_shards(
    plan: &Plan,
    dir: &std::path::Path,
    identity: &str,
    options: &ComputeOptions,
) -> Result<ComputeReport> {
    let invalid = |message: String| Error::Invalid {
        operation: "finish_shards".into(),
        message,
    };
    if options.shard.is_some() {
        return Err(invalid(
            "a run either is a shard or finishes the shards".into(),
        ));
    }
    let stages = plan.shard_stages();
    if !dir.join("plan.txt").is_file() {
        return Err(invalid(format!(
            "{}: no shard of this plan has run in this journal",
            dir.display()
        )));
    }
    let journal = Journal::open(dir, identity, None)?;
    for (k, log) in plan.shard_stage_logs().iter().enumerate() {
        if !journal.is_complete(log) {
            return Err(invalid(format!(
                "stage {} is not finished (run all of its shards first)",
                k + 1
            )));
        }
    }
    journal.finish()?;
    Ok(ComputeReport {
        max_mem: plan.max_mem(),
        peak_bytes: 0,
        tasks_run: 0,
        tasks_resumed: stages.iter().map(|s| s.tasks).sum(),
        stages: plan.stages().len(),
        spilled_bytes: 0,
        seconds: 0.0,
    })
}

/// `node` as it will be written into a store of `meta` at `location`:
/// checked against its dtype and shape, rechunked to its grid.
pub(super) fn for_store(node: &Arc<Node>, meta: &ArrayMeta, location: &str) -> Result<Arc<Node>> {
    let dtype = node.block_type().dtype();
    if meta.dtype != dtype {
        return Err(IoError::WrongDType {
            location: location.to_string(),
            actual: meta.dtype,
            requested: dtype,
        }
        .into());
    }
    if meta.shape() != node.grid().shape() {
        return Err(Error::Invalid {
            operation: format!("store({location})"),
            message: format!(
                "the array has shape {:?}, the store {:?}",
                node.grid().shape(),
                meta.shape()
            ),
        });
    }
    Ok(node.rechunked(meta.grid.clone()))
}

/// The plan writing `nodes` (each already on its store's grid) into stores
/// of `metas`: each task of an output stage also holds a store's chunk and
/// its encoded form while writing, and `observer_bytes` (what an observer
/// of the blocks allocates for one).
pub(super) fn plan_stores(
    nodes: &[Arc<Node>],
    metas: &[&ArrayMeta],
    options: &ComputeOptions,
    observer_bytes: u64,
) -> Result<Plan> {
    let chunk_bytes = nodes
        .iter()
        .zip(metas)
        .map(|(node, meta)| {
            meta.grid
                .max_block_elements()
                .saturating_mul(node.itemsize())
        })
        .max()
        .unwrap_or(0);
    let mut budget = options.plan_budget();
    budget.sink_bytes = chunk_bytes
        .saturating_add(ndchunk_chunking::rechunk::encoded_bound(chunk_bytes))
        .saturating_add(observer_bytes);
    Plan::for_outputs(nodes, &budget)
}

impl<T: Element> Array<T> {
    /// Computes the whole array in memory within `options`, with what the
    /// run did. The result itself is outside the budget: it is what was
    /// asked for. Several arrays in one run: [`compute_many`].
    pub fn compute_with(&self, options: &ComputeOptions) -> Result<(ArrayD<T>, ComputeReport)> {
        let (mut values, report) = compute_many(&[self], options)?;
        Ok((values.swap_remove(0), report))
    }

    /// The plan [`Array::store_with`] runs for a store of `meta` (a
    /// store's [`ChunkStore::meta`], or the metadata of one not yet
    /// created) and `options`: the rechunk to the store's chunks, if any,
    /// and what each task holds.
    pub fn store_plan(&self, meta: &ArrayMeta, options: &ComputeOptions) -> Result<Plan> {
        // (A remote destination is not known from its metadata: a plan
        // read from object storage gets the remote threads here.)
        let options = &*for_remote_io(options, self.node.reads_remote());
        let node = for_store(&self.node, meta, "the store")?;
        plan_stores(&[node], &[meta], options, 0)
    }

    /// [`Array::store`] within `options`. Writes are whole chunks, so a
    /// failed run leaves chunks either written in full or not at all; with
    /// [`ComputeOptions::journal_dir`], running it again resumes. Several
    /// arrays in one run: [`store_many`].
    pub fn store_with(
        &self,
        store: &dyn ChunkStore,
        options: &ComputeOptions,
    ) -> Result<ComputeReport> {
        let node = for_store(&self.node, store.meta(), &store.location())?;
        store_nodes(&[node], &[store], options, None, 0)
    }

    /// [`Array::store_with`], handing each block to `f` (its index, region
    /// and values) on the run's threads before it is written: to fold the
    /// array into something else in the same pass (a pyramid's next
    /// level), which allocates up to `observer_bytes` per block (counted in
    /// the budget). Not resumable: a resumed run would skip blocks `f` must
    /// see.
    pub(crate) fn store_observed(
        &self,
        store: &dyn ChunkStore,
        options: &ComputeOptions,
        observer_bytes: u64,
        f: impl Fn(&[u64], &Region, &ArrayD<T>) -> Result<()> + Sync,
    ) -> Result<ComputeReport> {
        if let Some(dir) = &options.journal_dir {
            return Err(Error::Job {
                path: dir.display().to_string(),
                message: "this store is not resumable: run it without journal_dir".into(),
            });
        }
        let name = self.node.name();
        let observe = |_: usize, index: &[u64], region: &Region, values: &Block| -> Result<()> {
            match values.downcast_ref::<ArrayD<T>>() {
                Some(values) => f(index, region, values),
                None => Err(Error::Internal {
                    operation: name.to_string(),
                    message: format!("expected a block of {}", T::DTYPE.name()),
                }),
            }
        };
        let node = for_store(&self.node, store.meta(), &store.location())?;
        store_nodes(&[node], &[store], options, Some(&observe), observer_bytes)
    }
}
