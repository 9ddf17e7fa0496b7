//! Running a [`Plan`]: stages one after another, each stage's tasks
//! enumerated lazily from its grid and admitted in order by a
//! [`MemoryBudget`] at their projected bytes, run on one rayon pool. The
//! first error stops the run and names the operation and the block.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use ndchunk_chunking::rechunk::RechunkPlan;
use ndchunk_chunking::Region;

use crate::error::{Error, Result};
use crate::exec::journal::Journal;
use crate::exec::kept::Kept;
use crate::exec::progress::{stage_bytes, RunProgress, StageBar};
use crate::exec::reduce::run_joint;
use crate::exec::{MemoryBudget, ProgressCallback, Reservation};
use crate::graph::{Node, NodeKind};
use crate::plan::shards::{blocks_log, pass_log, result_scratch, Shard};
use crate::plan::shared_reads::group_of;
use crate::plan::{Plan, PlanBudget, Residence, Stage, StageKind};
use crate::runtime::block::Block;
use crate::runtime::block_cache::BlockCache;
use crate::runtime::eval::{eval, shared_nodes, EvalContext, Materialised};
use crate::runtime::eval_lanes::eval_lanes;

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
    pub(crate) shard: Option<Shard>,
    pub(crate) finish_shards: bool,
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
            shard: None,
            finish_shards: false,
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

    /// Worker threads (at least one). Without it, one per core; and when
    /// the run reads or writes object storage (an `s3://` store), at least
    /// [`REMOTE_IO_THREADS`], so that many requests are in flight to hide
    /// their latency, all within [`max_mem`](Self::max_mem) as ever.
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

    /// For [`Array::store_with`](crate::Array::store_with): runs only
    /// shard `index` of `count` of stage `stage` (from 1) of the plan's
    /// [`shard_stages`](crate::Plan::shard_stages), the stage's tasks `t`
    /// with `t % count == index` (a reduction's tasks are its output
    /// blocks), so that separate processes (a job array on a cluster)
    /// share the work. Every stage of the plan is a shard stage (a
    /// rechunk's passes one each), in plan order. Every shard is given the
    /// same [`journal_dir`](Self::journal_dir), where shards record their
    /// finished tasks (a shard run again does only what is left), a
    /// rechunk keeps its intermediates, and a result kept for later
    /// stages (a mean an anomaly subtracts) is written whole block by
    /// whole block by the shards that make it, to be read, region by
    /// region, by the shards of the stages after it. A stage refuses to
    /// start until every task of every stage before it is done, and never
    /// runs the stages after it. The journal is left in place for the next
    /// stage; a last run with [`finish_shards`](Self::finish_shards)
    /// checks that every stage is finished and removes it.
    pub fn shard(mut self, stage: usize, index: u64, count: u64) -> Self {
        self.shard = Some(Shard {
            stage,
            index,
            count,
        });
        self
    }

    /// For [`Array::store_with`](crate::Array::store_with) after its
    /// [`shard`](Self::shard)s: runs nothing, checks that every shard
    /// stage is finished (refusing, naming the first that is not) and
    /// removes the journal. The store is then complete.
    pub fn finish_shards(mut self) -> Self {
        self.finish_shards = true;
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

/// The worker threads a run that reads or writes object storage has at
/// least, unless [`ComputeOptions::threads`] says otherwise: each waits on
/// one request at a time, so this is how many are in flight (at 20 ms a
/// request and 4 MiB chunks, 16 requests in flight move about 3 GiB/s).
pub const REMOTE_IO_THREADS: usize = 16;

/// `options` for a run whose stores are remote (see [`REMOTE_IO_THREADS`]):
/// more threads when the user did not choose.
pub(crate) fn for_remote_io(options: &ComputeOptions, remote: bool) -> Cow<'_, ComputeOptions> {
    if !remote || options.threads.is_some() {
        return Cow::Borrowed(options);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Cow::Owned(options.clone().threads(cores.max(REMOTE_IO_THREADS)))
}

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

/// Refuses a shard (see [`ComputeOptions::shard`]) that `plan` does not
/// have, or that has no journal; before anything is written.
pub(crate) fn check_shard(plan: &Plan, options: &ComputeOptions) -> Result<()> {
    let Some(shard) = &options.shard else {
        return Ok(());
    };
    if options.journal_dir.is_none() {
        return Err(Error::Invalid {
            operation: "shard".into(),
            message: "a shard needs a journal_dir, the same for every shard of the plan".into(),
        });
    }
    shard.check(plan.shard_stages().len())
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
    check_shard(plan, options)?;
    if options.shard.is_some() && journal.is_none() {
        return Err(Error::Invalid {
            operation: "shard".into(),
            message: "only store_with runs a shard (a compute's result would miss \
                      the other shards' blocks)"
                .into(),
        });
    }
    // A shard runs one shard stage of the plan: every task of the shard
    // stages before it must be done (their kept results are in the
    // journal), and none after it runs.
    let shard_at = match (&options.shard, journal) {
        (Some(shard), Some(journal)) => {
            let parts = plan.shard_parts();
            if let Some(j) = (0..shard.stage - 1).find(|&j| !journal.is_complete(&parts[j].log)) {
                return Err(Error::Invalid {
                    operation: "shard".into(),
                    message: format!(
                        "stage {} cannot start: stage {} is not finished (run all of its \
                         shards first)",
                        shard.stage,
                        j + 1
                    ),
                });
            }
            Some(parts[shard.stage - 1].clone())
        }
        _ => None,
    };
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
    let mut next = 0;
    while next < stages.len() {
        // A stage runs alone, or with the stages of its joint group (see
        // `plan::shared_reads`), all their tasks in one stream; a shard's
        // stages one by one.
        let group = match &shard_at {
            Some(at) if next > at.stage => break,
            Some(_) => next..next + 1,
            None => group_of(stages, next),
        };
        next = group.end;
        // A shard's stages before its own: done, their results on disk.
        let earlier = shard_at.as_ref().is_some_and(|at| group.start < at.stage);
        let members = &stages[group.clone()];
        let first = &members[0];
        // Blocks kept for other tasks that read them, reserved while the
        // stages run.
        let cache_bytes = if earlier {
            0
        } else {
            members.iter().map(|s| s.cache_bytes).sum::<u64>()
        };
        let _cache_held = match cache_bytes {
            0 => None,
            bytes => Some(budget.acquire(first.node.name(), bytes)?),
        };
        let cache = BlockCache::new(cache_bytes);
        let shares: HashSet<u64> = first.shares.iter().map(|s| s.id()).collect();
        // Where each stage's result lives, and for how long, the plan
        // says: the caller, or a result kept for later stages (for shards,
        // in the journal, where the shards of later stages read it).
        let mut results = Vec::new();
        for (i, stage) in group.clone().zip(members) {
            let node = &stage.node;
            results.push(match (stage.residence, journal) {
                (Residence::Sink, _) => None,
                (_, Some(journal)) if shard_at.is_some() => Some(Kept::on_disk_at(
                    node.name(),
                    node.grid(),
                    node.block_type(),
                    &journal.scratch(&result_scratch(i)),
                )?),
                (Residence::Memory { bytes } | Residence::Spilled { bytes }, _) => {
                    let in_memory = matches!(stage.residence, Residence::Memory { .. });
                    if in_memory {
                        kept.insert(stage.node.id(), budget.acquire(stage.node.name(), bytes)?);
                    } else {
                        spilled_bytes += bytes;
                    }
                    let spill_to = (!in_memory).then_some(temp_dir.as_path());
                    Some(Kept::new(
                        node.name(),
                        node.grid(),
                        node.block_type(),
                        spill_to,
                    )?)
                }
            });
        }
        if !earlier {
            let runs: Vec<StageRun<'_>> = group
                .clone()
                .map(|i| {
                    let stage = &stages[i];
                    StageRun {
                        cache: &cache,
                        shares: &shares,
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
                        // (A shard journals every stage: the next
                        // stage's shards start from its results.)
                        journal: journal
                            .filter(|_| stage.residence == Residence::Sink || shard_at.is_some()),
                        shard: options.shard,
                        pass: shard_at.as_ref().and_then(|at| at.pass),
                    }
                })
                .collect();
            let sinks: Vec<Box<Sink<'_>>> = members
                .iter()
                .zip(&results)
                .map(|(stage, result)| -> Box<Sink<'_>> {
                    match result {
                        Some(result) => Box::new(move |index: &[u64], region: &Region, values| {
                            result.put(index, region, values)
                        }),
                        // Every output the stage makes of its node (one,
                        // unless the caller gave it twice) gets the block.
                        None => Box::new(move |index: &[u64], region: &Region, values| {
                            deliver(stage, outputs, index, region, values)
                        }),
                    }
                })
                .collect();
            match runs.as_slice() {
                [run] => pool.install(|| run.run(&*sinks[0]))?,
                _ => pool.install(|| run_joint(&runs, &sinks))?,
            }
        }
        for (stage, result) in members.iter().zip(results) {
            if let Some(result) = result {
                done.insert(stage.node.id(), result.into_source(&stage.node));
            }
        }
        // Results whose last reader ran in this group are freed now.
        let freed: Vec<u64> = stages[..group.end]
            .iter()
            .filter(|s| s.freed_after.is_some_and(|f| group.contains(&f)))
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

/// Hands a block of `stage`'s result to every output it makes.
fn deliver(
    stage: &Stage,
    outputs: &Outputs<'_>,
    index: &[u64],
    region: &Region,
    values: Block,
) -> Result<()> {
    let ty = stage.node.block_type();
    let whole = Region::from_shape(&region.shape());
    let (last, others) = stage
        .outputs
        .split_last()
        .ok_or_else(|| internal(&stage.node, "a stage for the output has no output"))?;
    for other in others {
        outputs(other.index, index, region, ty.copy_region(&values, &whole)?)?;
    }
    outputs(last.index, index, region, values)
}

pub(super) struct StageRun<'a> {
    pub(super) index: usize,
    pub(super) observer: &'a RunProgress,
    pub(super) stage: &'a Stage,
    pub(super) done: &'a Materialised,
    /// Nodes of the stage read by several elementwise consumers.
    pub(super) shared: HashMap<u64, usize>,
    pub(super) budget: &'a MemoryBudget,
    pub(super) tasks_run: &'a AtomicU64,
    pub(super) tasks_resumed: &'a AtomicU64,
    pub(super) failed: AtomicBool,
    pub(super) show: bool,
    /// Where spilled results and intermediates go.
    pub(super) temp_dir: &'a std::path::Path,
    /// The run's outputs, for a blocks stage that makes several.
    pub(super) outputs: &'a Outputs<'a>,
    /// The journal of a stage that makes outputs, when resumable.
    pub(super) journal: Option<&'a Journal>,
    /// The share of the plan this run does (`None`: all of it).
    pub(super) shard: Option<Shard>,
    /// For a shard of a rechunk stage, the pass it runs (the passes before
    /// it done by every shard).
    pub(super) pass: Option<usize>,
    /// Blocks of cached nodes kept for the tasks that read them, and
    /// chunks of the sources its joint group shares.
    pub(super) cache: &'a BlockCache,
    /// The sources whose chunks go through `cache` (a joint group's).
    pub(super) shares: &'a HashSet<u64>,
}

impl StageRun<'_> {
    /// A task's evaluation context.
    pub(super) fn context(&self) -> EvalContext<'_> {
        EvalContext::new(self.done, &self.shared)
            .cached_by(Some(self.cache))
            .sharing(self.shares)
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
    pub(super) fn journaled(&self, log: &str) -> Result<HashSet<u64>> {
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
    pub(super) fn resumed(&self, tasks: u64, bytes: u64) {
        self.tasks_resumed.fetch_add(tasks, Ordering::Relaxed);
        self.observer.tasks_resumed(tasks, bytes);
    }

    pub(super) fn record(&self, log: &str, task: u64) -> Result<()> {
        self.journal.map_or(Ok(()), |j| j.record(log, task))
    }

    pub(super) fn fail(&self, block: &[u64], e: Error) -> Error {
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
        let log = blocks_log(self.index);
        // Done by any run of the stage: whole, or by shards of any number.
        let done = self.journaled(&log)?;
        let log = self.shard.map_or(log.clone(), |shard| shard.log(&log));
        // Several outputs on this grid: each task makes all of them, from
        // one evaluation context, so what they share is read once.
        let several = (self.stage.outputs.len() > 1).then_some(&self.stage.outputs);
        let ran: Result<()> = grid
            .all_blocks()
            .iter()
            .enumerate()
            .filter(|(i, _)| self.shard.is_none_or(|shard| shard.takes(*i as u64)))
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
            });
        ran?;
        self.complete_shard(&log)
    }

    /// Marks a shard's part of its stage done (`log`, the shard's): the
    /// next stage may start once every shard's is.
    pub(super) fn complete_shard(&self, log: &str) -> Result<()> {
        match (self.shard, self.journal) {
            (Some(_), Some(journal)) => journal.complete(log),
            _ => Ok(()),
        }
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
                Some(journal) => {
                    Kept::on_disk_at(name, grid, ty, &journal.scratch(&pass_log(self.index, k)))
                }
                None => Kept::new(name, grid, ty, Some(self.temp_dir)),
            }
        };
        let mut previous: Option<Kept> = None;
        for (k, (pass, &task_bytes)) in plan.passes.iter().zip(pass_bytes).enumerate() {
            // Errors name the pass; their block is one of the pass's blocks.
            let operation = format!("{name} (pass {}/{})", k + 1, plan.passes.len());
            let whole_log = pass_log(self.index, k);
            // A shard runs one pass alone, every shard of the passes
            // before it finished (as `run` checked).
            let before = match self.pass {
                Some(p) if k > p => break,
                Some(p) => k < p,
                None => false,
            };
            let log = match self.shard {
                Some(shard) if !before => shard.log(&whole_log),
                _ => whole_log.clone(),
            };
            let complete = before
                || self
                    .journal
                    .is_some_and(|j| j.is_complete(&whole_log) || j.is_complete(&log));
            if complete {
                // Counted as found done: the tasks this run would have run
                // (a shard's share of its own pass; none of the passes
                // before it).
                let tasks = match self.shard {
                    Some(_) if before => 0,
                    Some(shard) => shard.share(pass.tasks()),
                    None => pass.tasks(),
                };
                if tasks > 0 {
                    self.resumed(tasks, node.grid().num_bytes(node.itemsize()).unwrap_or(0));
                }
                previous = (k < last).then(|| intermediate(k)).transpose()?;
                continue;
            }
            let done = self.journaled(&whole_log)?;
            let next = (k < last).then(|| intermediate(k)).transpose()?;
            let read = |region: &Region| match &previous {
                None => eval_lanes(input, region, &self.context()),
                Some(intermediate) => intermediate.read(region),
            };
            let write = |index: &[u64], region: &Region, values: Block| match &next {
                Some(intermediate) => intermediate.put(index, region, values),
                None => sink(index, region, values),
            };
            pass.blocks
                .all_blocks()
                .iter()
                .enumerate()
                .filter(|(i, _)| self.shard.is_none_or(|shard| shard.takes(*i as u64)))
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
                // The intermediate this pass read is no longer needed
                // (when no other shard may still be reading it).
                if k > 0 && self.shard.is_none() {
                    drop(previous.take());
                    journal.remove_scratch(&pass_log(self.index, k - 1))?;
                }
            }
            // Without a journal, the intermediate this pass read is
            // removed with its temporary directory.
            previous = next;
        }
        Ok(())
    }
}

const OUTSIDE_BLOCK: &str = "a rechunk's chunk outside its block";

pub(super) fn internal(node: &Node, what: &str) -> Error {
    Error::Internal {
        operation: node.name().to_string(),
        message: what.to_string(),
    }
}
