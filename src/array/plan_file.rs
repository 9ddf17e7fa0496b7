//! Plan files: a lazy expression's store (or several arrays' stores, a
//! `store_many`), planned, written to a file that another process loads
//! and runs (whole, or one shard of one stage) without the code that
//! built the expressions.
//!
//! The file holds the recipes of the expressions' arrays (see
//! `recipe.rs`: each a built-in operation, its arguments, its inputs; the
//! labelled layer's element-by-element work is the `kernel` operation of
//! `kernel.rs`, its small in-memory arrays the `values` operation), the
//! stores (sources and destinations, each by how to open it again and, for
//! sources, a digest of their files or objects), the budget, the physical
//! plan's stages with each shard stage's tasks (output region, input
//! region, projected bytes), optionally a Zarr group to publish when the
//! plan is complete (`Dataset::save_plan`), and an identity: a digest of
//! all of it. Loading checks the layout and the ndchunk version, the
//! identity (a hand-edited file is refused), that every source is as it
//! was, then rebuilds the expressions by replaying the recipes through the
//! same constructors, plans them again and refuses a plan that is not the
//! one in the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndchunk_chunking::{ChunkGrid, Region};
use ndchunk_io::zarr::ZarrRoot;
use ndchunk_io::{ChunkStore, DType, Element, Hdf5Store, ZarrStore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dynamic::DynElement;
use super::many::{check_distinct, for_store, plan_stores};
use super::recipe::{axes_from, file_error, scalar_from, values_from, Origin, Recipe};
use super::{Array, Chunks, DynArray};
use crate::error::{Error, Result};
use crate::exec::run::{for_remote_io, ComputeOptions, ComputeReport};
use crate::graph::{Node, NodeKind};

mod replay;
mod save;
mod stores;

use crate::ops::layout::{index_from, PadMode};
use crate::ops::{Index, Operand, ReduceOptions};
use crate::plan::{Plan, ShardStage, StageKind};
use replay::replay;
use save::save_error;
pub use save::save_plan_many;
pub(crate) use save::{check_recipes, save_publishing, SavedOutput};
use stores::*;

/// The version of the plan file's layout.
const LAYOUT: u32 = 3;

/// Shard stages of more tasks than this are described by their grids
/// alone, without one entry per task.
const LISTED_TASKS: u64 = 100_000;

/// One array of the expression: an operation over earlier steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    op: String,
    dtype: DType,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    args: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    inputs: Vec<usize>,
}

/// One task of a shard stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskRecord {
    /// Its number: shard `i` of `N` runs the tasks `task % N == i`.
    task: u64,
    /// The region of the stage's output it writes (whole blocks of the
    /// stage's output grid).
    writes: Region,
    /// The region of the stage's input it reads: a reduction's input
    /// over its output block, the reduced axes whole; a rechunk pass's
    /// read block; a blocks stage's own block (its fused operations pull
    /// from their inputs the region each needs: a slice's, a transpose's).
    reads: Region,
}

/// One shard stage as the file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StageRecord {
    /// From 1, as [`ComputeOptions::shard`] numbers them.
    stage: usize,
    #[serde(flatten)]
    shard: ShardStage,
    /// The grid of what it writes (the store's chunks, an intermediate's,
    /// a reduction's output blocks).
    output_grid: ChunkGrid,
    /// The grid of what it reads.
    input_grid: ChunkGrid,
    /// Each task, when there are at most 100 000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    task_list: Option<Vec<TaskRecord>>,
}

/// One output of the plan: the step that makes it and the store it goes
/// into (a whole Zarr array, or a part of one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Output {
    step: usize,
    #[serde(flatten)]
    store: StoreRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    part: Option<Part>,
}

/// Where in its Zarr array an output goes when it is a part of it (a
/// dataset written into an existing store, as an append or a region):
/// from `start`, on chunk boundaries, with the array `array_shape` long
/// while it is written. That is longer than `stored_shape`, its shape in
/// the store when the plan was made, while an append is not published
/// (the chunks past the stored end are invisible until then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Part {
    pub(crate) start: Vec<u64>,
    pub(crate) array_shape: Vec<u64>,
    pub(crate) stored_shape: Vec<u64>,
}

/// The plan's outputs: one, or several (a `store_many`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Destination {
    One(Output),
    Many(Vec<Output>),
}

impl Destination {
    fn new(mut outputs: Vec<Output>) -> Destination {
        match outputs.len() {
            1 => Destination::One(outputs.remove(0)),
            _ => Destination::Many(outputs),
        }
    }

    fn outputs(&self) -> &[Output] {
        match self {
            Destination::One(output) => std::slice::from_ref(output),
            Destination::Many(outputs) => outputs,
        }
    }
}

/// A Zarr group whose arrays the plan writes, made visible only when they
/// are complete (a `Dataset`'s store), by the run that completes the plan
/// (a whole run, or the one that finishes the shards): an append's arrays
/// grown to their new shapes, a new store's group document with its
/// attributes, then the consolidated metadata. Until then a new store is
/// no Zarr group (xarray does not open it), and a store appended to reads
/// as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Publish {
    /// The group's root (a directory, or an `s3://` URL).
    pub(crate) root: String,
    /// `2` or `3`.
    pub(crate) zarr_format: u8,
    /// A new group's attributes, its document written with them; `None`
    /// for a store written into, whose group is left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) attributes: Option<serde_json::Map<String, Value>>,
    /// The arrays an append grows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) grow: Vec<Growth>,
}

/// An array an append grows: its path in the group, its shape when the
/// plan was made and the shape it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Growth {
    pub(crate) array: String,
    pub(crate) from: Vec<u64>,
    pub(crate) to: Vec<u64>,
}

impl Publish {
    /// Grows the appended arrays, writes a new group's document, then the
    /// consolidated metadata. An array not at its shape from when the plan
    /// was made (resized meanwhile) is refused before anything is changed.
    pub(crate) fn write(&self) -> Result<()> {
        let format = match self.zarr_format {
            2 => ndchunk_io::zarr::ZarrFormat::V2,
            _ => ndchunk_io::zarr::ZarrFormat::V3,
        };
        let root = ZarrRoot::parse(&self.root)?;
        for growth in &self.grow {
            let shape = ZarrStore::open(root.clone(), &growth.array)?.meta().shape();
            if shape != growth.from {
                return Err(Error::Invalid {
                    operation: "plan file".into(),
                    message: format!(
                        "{root}: the array {:?} has the shape {shape:?}, and had {:?} when the \
                         plan was made: it was changed meanwhile, and the append is not made \
                         visible",
                        growth.array, growth.from
                    ),
                });
            }
        }
        for growth in &self.grow {
            ZarrStore::resize(root.clone(), &growth.array, &growth.to)?;
        }
        if let Some(attributes) = &self.attributes {
            ndchunk_io::zarr::create_group(root.clone(), "", format, attributes)?;
        }
        ndchunk_io::zarr::write_consolidated(root, format)?;
        Ok(())
    }
}

/// The file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct FileBody {
    ndchunk_plan: u32,
    ndchunk: String,
    /// A digest of everything below.
    identity: String,
    max_mem: u64,
    threads: usize,
    steps: Vec<Step>,
    /// What is stored where: the output's step and its store, or, for a
    /// plan of several outputs, the list of them.
    destination: Destination,
    sources: Vec<StoreRecord>,
    /// The Zarr group written once every output is complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    publish: Option<Publish>,
    /// The plan as `explain()` prints it.
    explain: Vec<String>,
    /// The shard stages: every stage of the plan's, in order.
    stages: Vec<StageRecord>,
}

/// A saved plan: lazy expressions stored into their stores, planned for a
/// budget, that any process can load and run (whole, or shard by shard)
/// without the code that built the expressions.
///
/// Made by [`Array::save_plan`] (or [`DynArray::save_plan`]),
/// [`save_plan_many`] or [`Dataset::save_plan`](crate::Dataset::save_plan),
/// read by [`PlanFile::load`], run by [`PlanFile::run`]. The file is JSON:
/// the recipes of the expressions' arrays (each a built-in operation, its
/// arguments and its inputs), the stores (each source by how to open it
/// again, with a digest of its files or objects; the destinations by path
/// or URL; a dataset's group to publish last),
/// the budget (`max_mem`, threads), the plan's shard stages with each
/// task's output region, input region and projected bytes, and an
/// identity: a digest of all of it.
///
/// Loading refuses a file of another layout or ndchunk version, a file
/// whose contents do not match its identity (edited by hand; the digest
/// is FNV-1a, which catches edits and damage, not a forger), a source
/// whose files changed since the plan was made, and a plan that comes out
/// differently when the expression is rebuilt.
///
/// # What a plan file can hold
///
/// The destinations are Zarr arrays (local or `s3://`): one
/// ([`Array::save_plan`]), several ([`save_plan_many`]), or a dataset's
/// ([`Dataset::save_plan`](crate::Dataset::save_plan), whose group and
/// consolidated metadata the run that completes the plan writes last).
/// Serialisable: sources [`Array::from_store`] over a Zarr array (local or
/// `s3://`), an HDF5/netCDF-4 dataset or a netCDF-3 variable (on the grid
/// it was opened on), `full`, `zeros`, `ones`,
/// `arange`, `linspace`, `random_uniform`, `random_normal`; arithmetic
/// (`+ - * /`) with scalars and arrays, comparisons (`greater` …
/// `not_equal`), `abs`, the named float functions (`sqrt`, `exp`, `log`,
/// `sin`, … `rad2deg`), `powf`, `astype` (and [`DynArray::astype`]),
/// `isnan`/`isfinite`/`isinf`, `clip`, the logical operators, `where_`;
/// reductions (`sum`, `prod`, `mean`, `var`, `std`, `min`, `max`,
/// `argmin`, `argmax`, `any`, `all`, `count_nonzero`, their `nan…` forms
/// and `_with` options, [`DynArray::reduce`]), `cumsum`/`cumprod` and
/// their `nan…` forms; `rechunk`, `slice`, `take`, `transpose`, `squeeze`,
/// `expand_dims`, `broadcast_to`, `reshape`, `pad`, `concatenate`,
/// `stack`; `coarsen`; the filters (`gaussian_filter`,
/// `gaussian_gradient_magnitude`, `uniform_filter`, `minimum_filter`,
/// `maximum_filter`, `median_filter`, `sobel`, `laplace`).
///
/// And the labelled layer's operations over those: opening
/// ([`open_zarr`](crate::open_zarr), [`open_dataset`](crate::open_dataset)
/// of netCDF-4/HDF5) with CF decoding (masking, unpacking, `_Unsigned`:
/// the `cf_decode` kernel), selections, alignment and reindexing,
/// arithmetic and comparisons, `where_`, reductions by name, `groupby`,
/// `groupby_bins`, `resample` and `coarsen` (the grouped reduction,
/// `grouped`), groupby arithmetic, group medians and quantiles
/// (`group_quantiles`), `quantile`, `weighted`, `rolling` (sums, means,
/// standard deviations by kernels; minima and maxima,
/// `rolling_extremes`), and what `to_zarr` does to the data (CF packing,
/// rounding, NaT as NaN). Their element-by-element steps are named kernels
/// with parameters (`kernel.rs`), not closures; the coordinates' values
/// and masks they make from labels are held in the file (`values`, up to
/// 2^20 elements each).
///
/// Local only (the plan runs only in the process that built it, and
/// saving it is refused, naming the operation): anything given a Rust
/// closure (`map`, `map_inplace`, `zip_with`, `map_blocks`, `blockwise`,
/// `map_overlap`), data in this process's memory (`from_ndarray`, a
/// `MemoryStore`, a `persist`ed result, a dataset's `persist`, in-memory
/// values over 2^20 elements), and `label`, which computes its
/// components when called and keeps them here (store the labels and read
/// them with `from_store` to plan over them). Such a plan still runs in
/// this process as ever; only saving it is refused.
///
/// Any plan runs as shards, stage by stage (see [`Plan::shard_stages`]):
/// several outputs on one grid, made by the same tasks, are one stage;
/// outputs on several grids are a stage each; a result kept between
/// stages (the mean of an anomaly) is written by the shards of its stage
/// into the [`journal_dir`](ComputeOptions::journal_dir) they share, where
/// the shards of the later stages read it.
#[derive(Clone)]
pub struct PlanFile {
    body: FileBody,
    outputs: Vec<(DynArray, Arc<dyn ChunkStore>)>,
}

impl std::fmt::Debug for PlanFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanFile")
            .field("identity", &self.body.identity)
            .field("destinations", &self.destinations())
            .field("stages", &self.body.stages.len())
            .finish_non_exhaustive()
    }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The digest of a file's contents (its identity field left out).
fn identity(body: &FileBody) -> Result<String> {
    let mut body = body.clone();
    body.identity = String::new();
    let text = serde_json::to_string(&body).map_err(|e| file_error(e.to_string()))?;
    Ok(format!("{:016x}", fnv1a(text.as_bytes())))
}

/// The outputs the file describes, rebuilt, each with its destination.
fn rebuild(body: &FileBody) -> Result<Vec<(DynArray, Arc<dyn ChunkStore>)>> {
    let mut built: Vec<DynArray> = Vec::with_capacity(body.steps.len());
    for (k, step) in body.steps.iter().enumerate() {
        let inputs = step
            .inputs
            .iter()
            .map(|&i| {
                built.get(i).cloned().filter(|_| i < k).ok_or_else(|| {
                    file_error(format!("step {k} reads step {i}, which comes after it"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let array = replay(step, &inputs, body).map_err(|e| match e {
            Error::Invalid { operation, message } if operation == "plan file" => {
                file_error(format!("step {k} ({}): {message}", step.op))
            }
            other => other,
        })?;
        if array.dtype() != step.dtype {
            return Err(file_error(format!(
                "step {k} ({}) gives {}, the file says {}",
                step.op,
                array.dtype(),
                step.dtype
            )));
        }
        built.push(array);
    }
    if body.destination.outputs().is_empty() {
        return Err(file_error("the file holds no outputs".into()));
    }
    body.destination
        .outputs()
        .iter()
        .map(|output| {
            let root = built
                .get(output.step)
                .cloned()
                .ok_or_else(|| file_error(format!("no step {}", output.step)))?;
            let record = &output.store;
            let destination = match &output.part {
                None => open_record(record)?,
                Some(part) => open_part(record, part)?,
            };
            let meta = destination.meta();
            if meta.dtype != record.dtype
                || meta.grid != record.grid
                || destination.encoding() != record.encoding
            {
                return Err(file_error(format!(
                    "the destination {} is no longer the array the plan was made for (its \
                     dtype, chunks or codecs changed)",
                    destination.location()
                )));
            }
            Ok((root, destination))
        })
        .collect()
}

/// The plan of storing each output into its destination within the
/// file's budget.
fn plan_of(outputs: &[(DynArray, Arc<dyn ChunkStore>)], body: &FileBody) -> Result<Plan> {
    let options = file_options(body, &ComputeOptions::new())?;
    let nodes = outputs
        .iter()
        .map(|(root, store)| for_store(root.node(), store.meta(), &store.location()))
        .collect::<Result<Vec<_>>>()?;
    let metas: Vec<_> = outputs.iter().map(|(_, s)| s.meta()).collect();
    plan_stores(&nodes, &metas, &options, 0)
}

/// `options` with the file's budget; refused when they ask for another.
fn file_options(body: &FileBody, options: &ComputeOptions) -> Result<ComputeOptions> {
    let other = |what: &str, asked: String, planned: String| Error::Invalid {
        operation: "plan file".into(),
        message: format!(
            "the plan was made for {what} {planned}; these options ask for {asked} (a plan \
             file runs within the budget it was planned for)"
        ),
    };
    if let Some(max_mem) = options.max_mem.filter(|&m| m != body.max_mem) {
        return Err(other(
            "max_mem",
            max_mem.to_string(),
            body.max_mem.to_string(),
        ));
    }
    if let Some(threads) = options.threads.filter(|&t| t != body.threads) {
        return Err(other(
            "threads",
            threads.to_string(),
            body.threads.to_string(),
        ));
    }
    Ok(options.clone().max_mem(body.max_mem).threads(body.threads))
}

/// Fills in the plan's text and shard stages.
fn describe(body: &mut FileBody, plan: &Plan) -> Result<()> {
    body.explain = plan.to_string().lines().map(String::from).collect();
    body.stages.clear();
    let shards = plan.shard_stages();
    // (output grid, input grid, task → (writes, reads)) per shard stage.
    type Tasks<'a> = Box<dyn Fn(u64) -> Result<(Region, Region)> + 'a>;
    let mut grids: Vec<(ChunkGrid, ChunkGrid, Tasks<'_>)> = Vec::new();
    for stage in plan.stages() {
        let node = &stage.node;
        match &stage.kind {
            StageKind::Blocks => {
                let grid = node.grid().clone();
                let g = grid.clone();
                let tasks: Tasks<'_> = Box::new(move |t| {
                    let region = g.block_region(&g.block_index(t)?)?;
                    Ok((region.clone(), region))
                });
                grids.push((grid.clone(), grid, tasks));
            }
            StageKind::Reduce { .. } => {
                let NodeKind::Reduce {
                    input,
                    axes,
                    keepdims,
                    ..
                } = node.kind()
                else {
                    return Err(file_error("a reduction stage without its reduction".into()));
                };
                let (out, inp) = (node.grid().clone(), input.grid().clone());
                let (o, i) = (out.clone(), inp.clone());
                let (axes, keepdims) = (axes.clone(), *keepdims);
                let tasks: Tasks<'_> = Box::new(move |t| {
                    let region = o.block_region(&o.block_index(t)?)?;
                    let (mut start, mut stop) = (Vec::new(), Vec::new());
                    let mut k = 0;
                    for axis in 0..i.ndim() {
                        if axes.contains(&axis) {
                            start.push(0);
                            stop.push(i.axis(axis).len());
                            k += usize::from(keepdims);
                        } else {
                            start.push(region.start()[k]);
                            stop.push(region.stop()[k]);
                            k += 1;
                        }
                    }
                    Ok((region, Region::new(start, stop)?))
                });
                grids.push((out, inp, tasks));
            }
            StageKind::Rechunk { plan, .. } => {
                for pass in &plan.passes {
                    let blocks = pass.blocks.clone();
                    let tasks: Tasks<'_> = Box::new(move |t| {
                        let region = blocks.block_region(&blocks.block_index(t)?)?;
                        Ok((region.clone(), region))
                    });
                    grids.push((pass.output_chunks.clone(), pass.input_chunks.clone(), tasks));
                }
            }
        }
    }
    for (k, (shard, (output_grid, input_grid, tasks))) in shards.into_iter().zip(grids).enumerate()
    {
        let task_list = if shard.tasks <= LISTED_TASKS {
            Some(
                (0..shard.tasks)
                    .map(|t| {
                        let (writes, reads) = tasks(t)?;
                        Ok(TaskRecord {
                            task: t,
                            writes,
                            reads,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            )
        } else {
            None
        };
        body.stages.push(StageRecord {
            stage: k + 1,
            shard,
            output_grid,
            input_grid,
            task_list,
        });
    }
    Ok(())
}

impl PlanFile {
    /// Reads the plan file at `path` and rebuilds its expression, refusing
    /// a file of another layout or ndchunk version, one edited since it
    /// was written, one whose sources changed since, and one whose plan
    /// comes out differently now.
    pub fn load(path: impl AsRef<Path>) -> Result<PlanFile> {
        let path = path.as_ref();
        let refuse = |message: String| Error::Job {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| refuse(e.to_string()))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| refuse(format!("not a plan file: {e}")))?;
        let version = env!("CARGO_PKG_VERSION");
        if value["ndchunk_plan"] != LAYOUT || value["ndchunk"] != version {
            return Err(refuse(format!(
                "made by ndchunk {} (plan file layout {}); this is ndchunk {version} (layout \
                 {LAYOUT}): make the plan again with this version",
                value["ndchunk"], value["ndchunk_plan"]
            )));
        }
        let body: FileBody =
            serde_json::from_value(value).map_err(|e| refuse(format!("not a plan file: {e}")))?;
        if identity(&body)? != body.identity {
            return Err(refuse(
                "its contents do not match its identity: the file was changed after it was \
                 written; make the plan again"
                    .into(),
            ));
        }
        for source in &body.sources {
            let store = open_record(source)?;
            let state = state_of(&source.spec, &*store)?;
            if Some(state) != source.state {
                return Err(refuse(format!(
                    "the source {} has changed since the plan was made: running it would mix \
                     old and new data; make the plan again",
                    store.location()
                )));
            }
        }
        let outputs = rebuild(&body)?;
        let plan = plan_of(&outputs, &body)?;
        let mut again = body.clone();
        describe(&mut again, &plan)?;
        if again.stages != body.stages || again.explain != body.explain {
            return Err(refuse(
                "the expression, planned again, does not give the plan in the file; make the \
                 plan again"
                    .into(),
            ));
        }
        Ok(PlanFile { body, outputs })
    }

    /// The digest of the file's contents, which names this plan.
    pub fn identity(&self) -> &str {
        &self.body.identity
    }

    /// The plan's shard stages, in order (see [`ComputeOptions::shard`]):
    /// every stage of the plan, a rechunk's passes one each.
    pub fn shard_stages(&self) -> Vec<ShardStage> {
        self.body.stages.iter().map(|s| s.shard.clone()).collect()
    }

    /// The memory budget the plan was made for, and runs within.
    pub fn max_mem(&self) -> u64 {
        self.body.max_mem
    }

    /// The threads the plan was made for, and runs with.
    pub fn threads(&self) -> usize {
        self.body.threads
    }

    /// The plan as [`Array::explain`] prints it.
    pub fn explain(&self) -> String {
        self.body.explain.join("\n")
    }

    /// The locations of the stores the plan writes, in order.
    pub fn destinations(&self) -> Vec<String> {
        self.outputs.iter().map(|(_, s)| s.location()).collect()
    }

    /// Runs the plan into its stores, as [`store_many`](crate::store_many)
    /// with `options`, and the run that completes it (whole, or
    /// `finish_shards`) then writes a dataset's group and consolidated
    /// metadata: whole, or one shard ([`ComputeOptions::shard`], with a
    /// [`journal_dir`](ComputeOptions::journal_dir) every shard shares),
    /// or [`finish_shards`](ComputeOptions::finish_shards). The budget is
    /// the plan's: options asking for another `max_mem` or number of
    /// threads are refused.
    pub fn run(&self, options: &ComputeOptions) -> Result<ComputeReport> {
        let options = file_options(&self.body, options)?;
        let pairs: Vec<(&DynArray, &dyn ChunkStore)> = self
            .outputs
            .iter()
            .map(|(array, store)| (array, &**store))
            .collect();
        let report = super::store_many(&pairs, &options)?;
        // The run that completes the plan makes its group visible.
        if options.shard.is_none() {
            if let Some(publish) = &self.body.publish {
                publish.write()?;
            }
        }
        Ok(report)
    }
}
