//! Running a [`Plan`]: stages one after another, each stage's tasks
//! enumerated lazily from its grid and admitted in order by a
//! [`MemoryBudget`] at their projected bytes, run on one rayon pool. The
//! first error stops the run and names the operation and the block.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;

use ndchunk_chunking::rechunk::RechunkPlan;
use ndchunk_chunking::Region;

use crate::error::{Error, Result};
use crate::exec::journal::Journal;
use crate::exec::kept::Kept;
use crate::exec::progress::{stage_bytes, RunProgress, StageBar};
use crate::exec::{MemoryBudget, ProgressCallback, Reservation};
use crate::graph::{Node, NodeKind};
use crate::plan::{Plan, PlanBudget, Residence, Stage, StageKind};
use crate::runtime::block::shape_of;
use crate::runtime::block::Block;
use crate::runtime::block_cache::BlockCache;
use crate::runtime::eval::{eval, shared_nodes, EvalContext, Materialised};
use crate::runtime::eval_lanes::{eval_lanes, partial_lanes};

/// How to run a computation: a builder over the defaults.
///
/// ```
/// use ndchunk::{Array, ComputeOptions};
/// let options = ComputeOptions::new().max_mem(64 << 20).threads(2).progress(false);
/// let a = Array::<f64>::arange(1000, [100]).unwrap();
/// let (sum, report) = a.sum(ndchunk::Axes::All, false).compute_with(&options).unwrap();
/// assert_eq!(sum[[]], 499_500.0);
/// assert!(report.peak_bytes <= 64 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct ComputeOptions {
    pub(crate) max_mem: Option<u64>,
    pub(crate) threads: Option<usize>,
    pub(crate) progress: bool,
    pub(crate) on_progress: Option<ProgressCallback>,
    pub(crate) temp_dir: Option<std::path::PathBuf>,
    pub(crate) journal_dir: Option<std::path::PathBuf>,
}

impl Default for ComputeOptions {
    fn default() -> Self {
        Self {
            max_mem: None,
            threads: None,
            progress: true,
            on_progress: None,
            temp_dir: None,
            journal_dir: None,
        }
    }
}

impl ComputeOptions {
    /// The defaults: half the memory available when the run starts (1 GiB
    /// where that is unknown), one thread per core, a progress bar on a
    /// terminal, temporary files in `TMPDIR`, no journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Most projected bytes in flight at once. A plan whose smallest task
    /// does not fit is refused, naming a budget that would do.
    pub fn max_mem(mut self, bytes: u64) -> Self {
        self.max_mem = Some(bytes);
        self
    }

    /// Worker threads (at least one).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// A progress bar on stderr when it is a terminal (on by default).
    pub fn progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Called as tasks finish (throttled) and at the end of every stage,
    /// whether or not the bar is shown.
    pub fn on_progress(mut self, callback: ProgressCallback) -> Self {
        self.on_progress = Some(callback);
        self
    }

    /// Where results that do not fit the budget and a rechunk's
    /// intermediates are written (default: `TMPDIR`). Choose a disk, not a
    /// RAM-backed `/tmp`.
    pub fn temp_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.temp_dir = Some(dir.into());
        self
    }

    /// For [`Array::store_with`](crate::Array::store_with): a directory
    /// where the run journals its finished tasks and keeps a rechunk's
    /// intermediates, so that the same `store` run again with the same
    /// options after a kill (even `kill -9`) skips what was done. Removed
    /// when the run completes. Without one, a failed run starts over.
    pub fn journal_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.journal_dir = Some(dir.into());
        self
    }
}

/// What a run did, from the executor's own accounting.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ComputeReport {
    /// The budget the run had.
    pub max_mem: u64,
    /// The most projected bytes ever in flight at once (never above `max_mem`).
    pub peak_bytes: u64,
    /// Tasks run, over all stages.
    pub tasks_run: u64,
    /// Tasks found done by an interrupted run (see
    /// [`ComputeOptions::journal_dir`]), not run again.
    pub tasks_resumed: u64,
    /// Stages run.
    pub stages: usize,
    /// Bytes of intermediate results (reductions read by later stages)
    /// written to disk because they did not fit in the budget.
    pub spilled_bytes: u64,
    /// Wall time.
    pub seconds: f64,
}

/// Where a stage's finished blocks go (a result kept for later stages, or
/// the run's outputs).
pub(crate) type Sink<'a> = dyn Fn(&[u64], &Region, Block) -> Result<()> + Sync + 'a;

/// Where a run's outputs go, block by block: output index (the order the
/// plan's outputs were given), block index, region, values.
pub(crate) type Outputs<'a> = dyn Fn(usize, &[u64], &Region, Block) -> Result<()> + Sync + 'a;

/// Half of `MemAvailable`, so that a default run leaves room for the rest
/// of the machine; 1 GiB where the kernel does not say.
pub(crate) fn default_max_mem() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<u64>().ok())
        });
    available.map_or(1 << 30, |kib| kib * 1024 / 2)
}

impl ComputeOptions {
    /// The budget a plan for these options is made for: `max_mem` (or the
    /// default), one task per thread.
    pub(crate) fn plan_budget(&self) -> PlanBudget {
        PlanBudget::new(
            self.max_mem.unwrap_or_else(default_max_mem),
            self.threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                as u64,
        )
    }
}

/// Runs `plan` within its budget, handing its outputs' blocks to
/// `outputs`; with a `journal`, the tasks of the stages that make outputs
/// are journaled and those an interrupted run finished are skipped.
pub(crate) fn run(
    plan: &Plan,
    outputs: &Outputs<'_>,
    options: &ComputeOptions,
    journal: Option<&Journal>,
) -> Result<ComputeReport> {
    let started = Instant::now();
    let max_mem = plan.budget().max_mem;
    plan.check()?;
    let budget = MemoryBudget::new(max_mem);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.unwrap_or(0))
        .build()
        .map_err(|e| Error::Job {
            path: "thread pool".into(),
            message: e.to_string(),
        })?;
    let tasks_run = AtomicU64::new(0);
    let tasks_resumed = AtomicU64::new(0);
    let temp_dir = options.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut done = Materialised::new();
    // The budget held by results kept in memory for later stages, by node.
    let mut kept: HashMap<u64, Reservation<'_>> = HashMap::new();
    let mut spilled_bytes = 0u64;
    let stages = plan.stages();
    let observer = RunProgress::new(
        options.on_progress.clone(),
        started,
        stages.len(),
        stages.iter().fold(0u64, |n, s| n.saturating_add(s.tasks)),
        stages
            .iter()
            .fold(0u64, |n, s| n.saturating_add(stage_bytes(s))),
    );
    for (i, stage) in stages.iter().enumerate() {
        // Blocks kept for neighbouring tasks, reserved while it runs.
        let _cache_held = match stage.cache_bytes {
            0 => None,
            bytes => Some(budget.acquire(stage.node.name(), bytes)?),
        };
        let cache = BlockCache::new(stage.cache_bytes);
        let ctx = StageRun {
            cache: &cache,
            index: i,
            observer: &observer,
            stage,
            shared: shared_nodes(
                &std::iter::once(&stage.node)
                    .chain(stage.outputs.iter().map(|o| &o.node))
                    .collect::<Vec<_>>(),
                &done,
            ),
            outputs,
            done: &done,
            budget: &budget,
            tasks_run: &tasks_run,
            tasks_resumed: &tasks_resumed,
            failed: AtomicBool::new(false),
            show: options.progress,
            temp_dir: &temp_dir,
            journal: journal.filter(|_| stage.residence == Residence::Sink),
        };
        match stage.residence {
            Residence::Sink => {
                // Every output the stage makes of its node (one, unless
                // the caller gave it twice) gets the block.
                let ty = stage.node.block_type();
                let deliver = |index: &[u64], region: &Region, values: Block| -> Result<()> {
                    let whole = Region::from_shape(&region.shape());
                    let (last, others) = stage.outputs.split_last().ok_or_else(|| {
                        internal(&stage.node, "a stage for the output has no output")
                    })?;
                    for other in others {
                        outputs(other.index, index, region, ty.copy_region(&values, &whole)?)?;
                    }
                    outputs(last.index, index, region, values)
                };
                pool.install(|| ctx.run(&deliver))?
            }
            Residence::Memory { bytes } | Residence::Spilled { bytes } => {
                // Where the result lives, and for how long, the plan says.
                let in_memory = matches!(stage.residence, Residence::Memory { .. });
                if in_memory {
                    kept.insert(stage.node.id(), budget.acquire(stage.node.name(), bytes)?);
                } else {
                    spilled_bytes += bytes;
                }
                let node = &stage.node;
                let spill_to = (!in_memory).then_some(temp_dir.as_path());
                let result = Kept::new(node.name(), node.grid(), node.block_type(), spill_to)?;
                let keep = |index: &[u64], region: &Region, values: Block| {
                    result.put(index, region, values)
                };
                pool.install(|| ctx.run(&keep))?;
                done.insert(stage.node.id(), result.into_source(&stage.node));
            }
        }
        // Results whose last reader was this stage are freed now.
        let freed: Vec<u64> = stages[..=i]
            .iter()
            .filter(|s| s.freed_after == Some(i))
            .map(|s| s.node.id())
            .collect();
        done.retain(|id, _| !freed.contains(id));
        kept.retain(|id, _| !freed.contains(id));
    }
    Ok(ComputeReport {
        max_mem,
        peak_bytes: budget.peak(),
        tasks_run: tasks_run.into_inner(),
        tasks_resumed: tasks_resumed.into_inner(),
        stages: stages.len(),
        spilled_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

struct StageRun<'a> {
    index: usize,
    observer: &'a RunProgress,
    stage: &'a Stage,
    done: &'a Materialised,
    /// Nodes of the stage read by several elementwise consumers.
    shared: HashMap<u64, usize>,
    budget: &'a MemoryBudget,
    tasks_run: &'a AtomicU64,
    tasks_resumed: &'a AtomicU64,
    failed: AtomicBool,
    show: bool,
    /// Where spilled results and intermediates go.
    temp_dir: &'a std::path::Path,
    /// The run's outputs, for a blocks stage that makes several.
    outputs: &'a Outputs<'a>,
    /// The journal of a stage that makes outputs, when resumable.
    journal: Option<&'a Journal>,
    /// Blocks of cached nodes kept for the tasks that read them.
    cache: &'a BlockCache,
}

impl StageRun<'_> {
    /// A task's evaluation context.
    fn context(&self) -> EvalContext<'_> {
        EvalContext::new(self.done, &self.shared).cached_by(Some(self.cache))
    }

    fn run(&self, sink: &Sink<'_>) -> Result<()> {
        let progress = StageBar::new(
            self.stage.node.name(),
            stage_bytes(self.stage),
            self.show && self.stage.tasks > 1,
        );
        let result = match &self.stage.kind {
            StageKind::Blocks => self.run_blocks(sink, &progress),
            StageKind::Reduce { .. } => self.run_reduce(sink, &progress),
            StageKind::Rechunk { plan, pass_bytes } => {
                self.run_rechunk(plan, pass_bytes, sink, &progress)
            }
        };
        progress.finish();
        if result.is_ok() {
            self.observer.stage_done(self.index, self.stage.node.name());
        }
        result
    }

    /// The tasks of `log` an interrupted run finished (none without a
    /// journal).
    fn journaled(&self, log: &str) -> Result<HashSet<u64>> {
        self.journal.map_or(Ok(HashSet::new()), |j| j.done(log))
    }

    /// Whether task `i` was finished by an interrupted run: counted, and
    /// shown as done, but not run.
    /// `bytes` are the task's, for the progress counters.
    fn skip(&self, done: &HashSet<u64>, i: u64, bytes: impl FnOnce() -> u64) -> bool {
        let skip = done.contains(&i);
        if skip {
            self.resumed(1, if self.observer.watched() { bytes() } else { 0 });
        }
        skip
    }

    /// `tasks` tasks moving `bytes` found done by an interrupted run.
    fn resumed(&self, tasks: u64, bytes: u64) {
        self.tasks_resumed.fetch_add(tasks, Ordering::Relaxed);
        self.observer.tasks_resumed(tasks, bytes);
    }

    fn record(&self, log: &str, task: u64) -> Result<()> {
        self.journal.map_or(Ok(()), |j| j.record(log, task))
    }

    fn fail(&self, block: &[u64], e: Error) -> Error {
        self.fail_in(self.stage.node.name(), block, e)
    }

    /// Stops the stage; the error names `operation` and the task's block.
    fn fail_in(&self, operation: &str, block: &[u64], e: Error) -> Error {
        self.failed.store(true, Ordering::Relaxed);
        match e {
            e @ Error::Task { .. } => e,
            e => Error::Task {
                operation: operation.to_string(),
                block: block.to_vec(),
                source: Box::new(e),
            },
        }
    }

    fn run_blocks(&self, sink: &Sink<'_>, progress: &StageBar) -> Result<()> {
        let node = &self.stage.node;
        let grid = node.grid();
        let name = node.name();
        let log = format!("stage-{}-blocks", self.index);
        let done = self.journaled(&log)?;
        // Several outputs on this grid: each task makes all of them, from
        // one evaluation context, so what they share is read once.
        let several = (self.stage.outputs.len() > 1).then_some(&self.stage.outputs);
        grid.all_blocks()
            .iter()
            .enumerate()
            .filter(|(i, b)| {
                !self.skip(&done, *i as u64, || {
                    grid.block_region(b).map_or(0, |r| r.num_elements()) * node.itemsize()
                })
            })
            .take_while(|_| !self.failed.load(Ordering::Relaxed))
            // Admission happens here, in block order: no task overtakes
            // an earlier one waiting for bytes.
            .map(|(i, b)| (self.budget.acquire(name, self.stage.task_bytes), i, b))
            .par_bridge()
            .try_for_each(|(held, i, b)| {
                let _held = held?;
                let task = || {
                    let region = grid.block_region(&b)?;
                    let ctx = self.context();
                    match several {
                        Some(outputs) => {
                            for output in outputs {
                                let values = eval(&output.node, &region, &ctx)?;
                                (self.outputs)(output.index, &b, &region, values)?;
                            }
                        }
                        None => sink(&b, &region, eval_lanes(node, &region, &ctx)?)?,
                    }
                    self.record(&log, i as u64)
                };
                task().map_err(|e| self.fail(&b, e))?;
                self.tasks_run.fetch_add(1, Ordering::Relaxed);
                let bytes = if self.observer.watched() || progress.shown() {
                    grid.block_region(&b).map_or(0, |r| r.num_elements()) * node.itemsize()
                } else {
                    0
                };
                progress.task_done(bytes);
                self.observer.task_done(self.index, name, bytes);
                Ok(())
            })
    }

    /// The planner's passes, one after the other: a task evaluates its
    /// read block once (the input's fused chain, or the previous
    /// intermediate) and cuts it into the chunks of the pass's output, an
    /// intermediate on disk or, for the last pass, the sink.
    fn run_rechunk(
        &self,
        plan: &RechunkPlan,
        pass_bytes: &[u64],
        sink: &Sink<'_>,
        progress: &StageBar,
    ) -> Result<()> {
        let node = &self.stage.node;
        let NodeKind::Rechunk { input } = node.kind() else {
            return Err(Error::Internal {
                operation: node.name().to_string(),
                message: "a rechunk stage over another operation".into(),
            });
        };
        let ty = node.block_type();
        let name = node.name();
        let last = plan.passes.len() - 1;
        // Intermediate `k` (pass k's output): journaled runs keep it where
        // a resumed run finds it; others in a temporary directory.
        let intermediate = |k: usize| -> Result<Kept> {
            let grid = &plan.passes[k].output_chunks;
            match self.journal {
                Some(journal) => Kept::on_disk_at(name, grid, ty, &journal.scratch(&k.to_string())),
                None => Kept::new(name, grid, ty, Some(self.temp_dir)),
            }
        };
        let mut previous: Option<Kept> = None;
        for (k, (pass, &task_bytes)) in plan.passes.iter().zip(pass_bytes).enumerate() {
            // Errors name the pass; their block is one of the pass's blocks.
            let operation = format!("{name} (pass {}/{})", k + 1, plan.passes.len());
            let log = format!("stage-{}-pass-{k}", self.index);
            if self.journal.is_some_and(|j| j.is_complete(&log)) {
                self.resumed(
                    pass.tasks(),
                    node.grid().num_bytes(node.itemsize()).unwrap_or(0),
                );
                previous = (k < last).then(|| intermediate(k)).transpose()?;
                continue;
            }
            let next = (k < last).then(|| intermediate(k)).transpose()?;
            let read = |region: &Region| match &previous {
                None => eval_lanes(input, region, &self.context()),
                Some(intermediate) => intermediate.read(region),
            };
            let write = |index: &[u64], region: &Region, values: Block| match &next {
                Some(intermediate) => intermediate.put(index, region, values),
                None => sink(index, region, values),
            };
            let done = self.journaled(&log)?;
            pass.blocks
                .all_blocks()
                .iter()
                .enumerate()
                .filter(|(i, b)| {
                    !self.skip(&done, *i as u64, || {
                        pass.blocks.block_region(b).map_or(0, |r| r.num_elements())
                            * node.itemsize()
                    })
                })
                .take_while(|_| !self.failed.load(Ordering::Relaxed))
                .map(|(i, b)| (self.budget.acquire(name, task_bytes), i, b))
                .par_bridge()
                .try_for_each(|(held, i, b)| {
                    let _held = held?;
                    let task = || -> Result<u64> {
                        let region = pass.blocks.block_region(&b)?;
                        let mut values = Some(read(&region)?);
                        let chunks = pass.output_chunks.blocks_overlapping(&region)?;
                        for chunk in chunks.iter() {
                            let chunk_region = pass.output_chunks.block_region(&chunk)?;
                            let piece = if chunk_region == region {
                                values.take().ok_or_else(|| internal(node, OUTSIDE_BLOCK))?
                            } else {
                                let local = chunk_region
                                    .relative_to(&region)
                                    .ok_or_else(|| internal(node, OUTSIDE_BLOCK))?;
                                let whole = values
                                    .as_ref()
                                    .ok_or_else(|| internal(node, OUTSIDE_BLOCK))?;
                                ty.copy_region(whole, &local)?
                            };
                            write(&chunk, &chunk_region, piece)?;
                        }
                        self.record(&log, i as u64)?;
                        // Each intermediate chunk lies in one block of the
                        // next pass: read for the last time, and done (so
                        // a resumed run never needs it), it goes now. The
                        // scratch space shrinks as the pass goes, and what
                        // the kernel has not yet written back to disk never
                        // is.
                        if let Some(intermediate) = &previous {
                            intermediate.discard(&region)?;
                        }
                        Ok(region.num_elements() * node.itemsize())
                    };
                    let bytes = task().map_err(|e| self.fail_in(&operation, &b, e))?;
                    self.tasks_run.fetch_add(1, Ordering::Relaxed);
                    progress.task_done(bytes);
                    self.observer.task_done(self.index, name, bytes);
                    Ok::<(), Error>(())
                })?;
            if let Some(journal) = self.journal {
                journal.complete(&log)?;
                // The intermediate this pass read is no longer needed.
                if k > 0 {
                    drop(previous.take());
                    journal.remove_scratch(&(k - 1).to_string())?;
                }
            }
            // Without a journal, the intermediate this pass read is
            // removed with its temporary directory.
            previous = next;
        }
        Ok(())
    }

    fn run_reduce(&self, sink: &Sink<'_>, progress: &StageBar) -> Result<()> {
        let node = &self.stage.node;
        let StageKind::Reduce {
            leaves_per_block,
            acc_bytes,
            ..
        } = self.stage.kind
        else {
            return Ok(());
        };
        let name = node.name();
        let work_bytes = self.stage.task_bytes.saturating_sub(acc_bytes);
        let tree = Tree {
            node,
            leaves: leaves_per_block,
            slots: Mutex::new(HashMap::new()),
        };
        (0..node.grid().num_blocks())
            .flat_map(|o| (0..leaves_per_block).map(move |l| (o, l)))
            .take_while(|_| !self.failed.load(Ordering::Relaxed))
            .map(|item| {
                let held = self
                    .budget
                    .acquire(name, work_bytes)
                    .and_then(|w| Ok((w, self.budget.acquire(name, acc_bytes)?)));
                (held, item)
            })
            .par_bridge()
            .try_for_each(|(held, (o, leaf))| {
                let (work, acc) = held?;
                let partial = tree
                    .leaf(o, leaf, &self.context())
                    .map_err(|(b, e)| self.fail(&b, e))?;
                drop(work);
                tree.insert(o, leaf, partial, acc, sink)
                    .map_err(|(b, e)| self.fail(&b, e))?;
                self.tasks_run.fetch_add(1, Ordering::Relaxed);
                let bytes = if self.observer.watched() || progress.shown() {
                    leaf_bytes(node, o, leaf)
                } else {
                    0
                };
                progress.task_done(bytes);
                self.observer.task_done(self.index, name, bytes);
                Ok(())
            })
    }
}

/// Partial results of the output blocks being reduced, by
/// (output block, level, index); a group of `split_every` siblings is
/// combined, in index order, by whichever task delivers its last member.
struct Tree<'a, 'b> {
    node: &'a Arc<Node>,
    leaves: u64,
    slots: Mutex<HashMap<Slot, (Block, Reservation<'b>)>>,
}

type Located = (Vec<u64>, Error);

/// (output block, tree level, index within the level).
type Slot = (u64, u32, u64);

impl<'b> Tree<'_, 'b> {
    fn parts(
        &self,
    ) -> (
        &Arc<Node>,
        &dyn crate::graph::Reduction,
        &[usize],
        bool,
        u64,
    ) {
        match self.node.kind() {
            NodeKind::Reduce {
                input,
                reduction,
                axes,
                keepdims,
                split_every,
            } => (
                input,
                reduction.as_ref(),
                axes,
                *keepdims,
                (*split_every).max(2),
            ),
            _ => unreachable!("a reduce stage's node is a reduction"),
        }
    }

    /// Folds the input blocks of one leaf, in block order.
    fn leaf(&self, o: u64, leaf: u64, ctx: &EvalContext<'_>) -> Result<Block, Located> {
        let (input, reduction, axes, keepdims, s) = self.parts();
        let out_index = self
            .node
            .grid()
            .block_index(o)
            .map_err(|e| (vec![o], e.into()))?;
        let along: Vec<u64> = axes
            .iter()
            .map(|&a| input.grid().axis(a).num_chunks())
            .collect();
        let total: u64 = along.iter().product();
        let mut acc: Option<Block> = None;
        for j in leaf * s..((leaf + 1) * s).min(total) {
            let index = input_block(&out_index, j, axes, &along, keepdims, input.grid().ndim());
            let previous = acc.take();
            let step = || -> Result<Block> {
                let region = input.grid().block_region(&index)?;
                let part = partial_lanes(input, reduction, axes, &region, ctx)?;
                match previous {
                    None => Ok(part),
                    Some(a) => reduction.combine(a, part),
                }
            };
            acc = Some(step().map_err(|e| (index.clone(), e))?);
        }
        acc.ok_or_else(|| (out_index, internal(self.node, LOST_PARTIAL)))
    }

    /// Files a leaf's partial; combines every group it completes, up to
    /// the root, which goes to `sink`.
    fn insert(
        &self,
        o: u64,
        leaf: u64,
        partial: Block,
        held: Reservation<'b>,
        sink: &Sink<'_>,
    ) -> Result<(), Located> {
        let (_, reduction, _, _, s) = self.parts();
        let (mut level, mut index, mut width) = (0u32, leaf, self.leaves);
        let mut item = (partial, held);
        let located = |e: Error| (vec![o], e);
        loop {
            if width == 1 {
                let grid = self.node.grid();
                let out_index = grid.block_index(o).map_err(|e| located(e.into()))?;
                let region = grid
                    .block_region(&out_index)
                    .map_err(|e| located(e.into()))?;
                let value = reduction
                    .finish(item.0, &shape_of(&region))
                    .map_err(|e| (out_index.clone(), e))?;
                return sink(&out_index, &region, value).map_err(|e| (out_index, e));
            }
            let group = index / s;
            let members = group * s..((group + 1) * s).min(width);
            let siblings = {
                let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
                slots.insert((o, level, index), item);
                if members.clone().all(|k| slots.contains_key(&(o, level, k))) {
                    members
                        .map(|k| slots.remove(&(o, level, k)))
                        .collect::<Option<Vec<_>>>()
                } else {
                    None
                }
            };
            let Some(siblings) = siblings else {
                return Ok(());
            };
            let mut siblings = siblings.into_iter();
            let Some((mut acc, held)) = siblings.next() else {
                return Err(located(internal(self.node, LOST_PARTIAL)));
            };
            for (other, other_held) in siblings {
                acc = reduction.combine(acc, other).map_err(located)?;
                drop(other_held);
            }
            item = (acc, held);
            index = group;
            level += 1;
            width = width.div_ceil(s);
        }
    }
}

/// The input block at position `j` (C order over the reduced axes) under
/// output block `out_index`.
fn input_block(
    out_index: &[u64],
    mut j: u64,
    axes: &[usize],
    along: &[u64],
    keepdims: bool,
    ndim: usize,
) -> Vec<u64> {
    let mut digits = vec![0u64; along.len()];
    for (d, &n) in digits.iter_mut().zip(along).rev() {
        *d = j % n;
        j /= n;
    }
    let mut kept = 0;
    (0..ndim)
        .map(|axis| match axes.iter().position(|&a| a == axis) {
            Some(k) => digits[k],
            None => {
                let at = if keepdims { axis } else { kept };
                kept += 1;
                out_index[at]
            }
        })
        .collect()
}

/// Bytes of the input blocks that leaf `leaf` of output block `o` folds.
fn leaf_bytes(node: &Node, o: u64, leaf: u64) -> u64 {
    let NodeKind::Reduce {
        input,
        axes,
        keepdims,
        split_every,
        ..
    } = node.kind()
    else {
        return 0;
    };
    let Ok(out_index) = node.grid().block_index(o) else {
        return 0;
    };
    let s = (*split_every).max(2);
    let grid = input.grid();
    let along: Vec<u64> = axes.iter().map(|&a| grid.axis(a).num_chunks()).collect();
    let total: u64 = along.iter().product();
    (leaf * s..((leaf + 1) * s).min(total))
        .map(|j| input_block(&out_index, j, axes, &along, *keepdims, grid.ndim()))
        .filter_map(|index| grid.block_region(&index).ok())
        .map(|r| r.num_elements() * input.itemsize())
        .sum()
}

const LOST_PARTIAL: &str = "a reduction tree lost a partial";
const OUTSIDE_BLOCK: &str = "a rechunk's chunk outside its block";

fn internal(node: &Node, what: &str) -> Error {
    Error::Internal {
        operation: node.name().to_string(),
        message: what.to_string(),
    }
}
