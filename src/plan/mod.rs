//! The physical plan: the graph cut into stages of independent tasks.
//!
//! A stage ends where a node needs more than "the same region" of its
//! input and cheap recomputation will not do: reductions, and rechunks that
//! cut input chunks (their results are materialised for the stages that
//! read them). Everything else (sources, elementwise chains, `map_blocks`,
//! rechunks that only merge whole chunks) fuses into the kernel of the stage
//! that consumes it. Stages and tasks are counts and formulas,
//! O(operations); the executor enumerates blocks lazily.

mod block_cache;
pub(crate) mod explain;
pub(crate) mod fused_task;
mod push_slices;
mod rechunk_stage;
mod results;
pub(crate) mod shards;
pub(crate) mod shared_reads;

use std::collections::HashSet;
use std::sync::Arc;

use ndchunk_chunking::rechunk::RechunkPlan;

use crate::error::{Error, Result};
use crate::graph::{Node, NodeKind};

pub(crate) use fused_task::{fused_ops, peak_bytes};
pub use results::Residence;
pub use shards::ShardStage;

/// How a stage's tasks are made.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StageKind {
    /// One task per block of the stage node's grid, through the fused chain.
    Blocks,
    /// One task per group of `split_every` input blocks along the reduced
    /// axes (a leaf), folded in block order; leaves combined in a fixed
    /// tree of fan-in `split_every`, so the bits do not depend on threads.
    Reduce {
        /// Leaves per output block.
        leaves_per_block: u64,
        /// Input blocks folded by one leaf (the last may fold fewer).
        split_every: u64,
        /// Combine levels above the leaves.
        depth: u32,
        /// Accumulator bytes of one output block.
        acc_bytes: u64,
        /// Bytes of partial results an output block's tree may hold while
        /// waiting for siblings: `(split_every - 1) · depth` accumulators.
        held_bytes: u64,
    },
    /// The rechunk planner's passes (Rechunker's algorithm): the first
    /// evaluates the input over each read block once and cuts it into the
    /// chunks of the pass's output (an intermediate store on disk, or the
    /// new grid); the next passes read the previous intermediate.
    Rechunk {
        /// The planner's answer, within the plan's budget.
        plan: RechunkPlan,
        /// Projected peak bytes of one task of each pass.
        pass_bytes: Vec<u64>,
    },
}

/// One stage: independent tasks producing the blocks of `node`.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The node whose output this stage produces.
    pub(crate) node: Arc<Node>,
    /// How its tasks are made.
    pub(crate) kind: StageKind,
    /// The operations fused into one task, inputs first.
    pub(crate) fused: Vec<String>,
    /// Number of tasks.
    pub(crate) tasks: u64,
    /// Projected peak bytes of one task.
    pub(crate) task_bytes: u64,
    /// Where its result goes.
    pub(crate) residence: Residence,
    /// Bytes of whole blocks of cached nodes (an overlap's input) the
    /// stage keeps for the tasks that read them, reserved from the budget
    /// while it runs (0: none kept).
    pub(crate) cache_bytes: u64,
    /// The stage after which its result is freed (`None`: a result that
    /// goes to the caller).
    pub(crate) freed_after: Option<usize>,
    /// For a stage whose result goes to the caller: which outputs of the
    /// run it makes. A blocks stage may make several on one grid (its
    /// tasks evaluate every output's node over the same block, sharing
    /// what they read); others make `node` alone.
    pub(crate) outputs: Vec<Output>,
    /// Runs together with the stage before it (a joint group of
    /// reductions of one source, see [`shared_reads`]).
    pub(crate) joint: bool,
    /// The sources whose chunks its joint group reads once for all its
    /// stages (empty: none shared).
    pub(crate) shares: Vec<Arc<Node>>,
}

/// One output of a run: the node a stage hands to the caller, as output
/// `index` of the run.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    /// Which output of the run (the order the caller gave).
    pub(crate) index: usize,
    /// Its values.
    pub(crate) node: Arc<Node>,
}

/// A stage as [`Array::explain`](crate::Array::explain) shows it, read-only.
impl Stage {
    /// The operation whose result the stage produces.
    pub fn operation(&self) -> &str {
        self.node.name()
    }

    /// The grid of the stage's result: one block per task for a blocks
    /// stage, one per output block for a reduction.
    pub fn grid(&self) -> &ndchunk_chunking::ChunkGrid {
        self.node.grid()
    }

    /// How its tasks are made.
    pub fn kind(&self) -> &StageKind {
        &self.kind
    }

    /// The operations fused into one task, inputs first.
    pub fn fused(&self) -> &[String] {
        &self.fused
    }

    /// Number of tasks.
    pub fn tasks(&self) -> u64 {
        self.tasks
    }

    /// Projected peak bytes of one task.
    pub fn task_bytes(&self) -> u64 {
        self.task_bytes
    }

    /// Where its result lives until it is freed.
    pub fn residence(&self) -> Residence {
        self.residence
    }

    /// Bytes of blocks the stage keeps for neighbouring tasks that read
    /// them (an overlap's halos), counted in `max_mem` while it runs.
    pub fn cache_bytes(&self) -> u64 {
        self.cache_bytes
    }

    /// The stage after which its result is freed (`None`: a stage whose
    /// result goes to the caller).
    pub fn freed_after(&self) -> Option<usize> {
        self.freed_after
    }

    /// The outputs of the run the stage makes (their indices in the order
    /// they were given; empty for a stage whose result later stages read).
    pub fn outputs(&self) -> Vec<usize> {
        self.outputs.iter().map(|o| o.index).collect()
    }

    /// The bytes that must fit `max_mem` for the stage to make progress.
    pub fn required_bytes(&self) -> u64 {
        match &self.kind {
            StageKind::Blocks | StageKind::Rechunk { .. } => self.task_bytes,
            StageKind::Reduce { held_bytes, .. } => self.task_bytes.saturating_add(*held_bytes),
        }
    }

    /// The grid whose chunks decide a task's size (the one to rechunk when
    /// a task is too large).
    pub(crate) fn input_grid(&self) -> &ndchunk_chunking::ChunkGrid {
        match self.node.kind() {
            NodeKind::Reduce { input, .. } | NodeKind::Rechunk { input } => input.grid(),
            _ => self.node.grid(),
        }
    }
}

/// What a plan is made for: the memory budget and the parallelism decide
/// how a rechunk is staged; the sink's own bytes are charged to every task
/// of the last stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlanBudget {
    /// Most projected bytes in flight at once.
    pub(crate) max_mem: u64,
    /// Tasks that should be able to run at once (the thread count).
    pub(crate) workers: u64,
    /// Bytes the sink holds per task of the last stage beyond the block it
    /// is handed (a store's copy of the chunk and its encoded form).
    pub(crate) sink_bytes: u64,
}

impl PlanBudget {
    /// `max_mem` bytes for `workers` tasks; a sink that holds nothing.
    pub(crate) fn new(max_mem: u64, workers: u64) -> Self {
        Self {
            max_mem,
            workers: workers.max(1),
            sink_bytes: 0,
        }
    }
}

/// Whether `node`'s result is materialised by a stage of its own:
/// reductions, and rechunks that cut input chunks (fused, such a rechunk
/// would read an input chunk once for every new block it meets; a stage
/// reads it once).
pub(crate) fn is_stage(node: &Node) -> bool {
    match node.kind() {
        NodeKind::Reduce { .. } => true,
        NodeKind::Rechunk { input } => !rechunk_stage::only_merges(input.grid(), node.grid()),
        _ => false,
    }
}

/// The optimised, executable form of a graph.
#[derive(Debug, Clone)]
pub struct Plan {
    stages: Vec<Stage>,
    budget: PlanBudget,
}

impl Plan {
    /// Plans the computation of `root` within `budget`. Fails on the first
    /// invalid operation, naming it, and on a rechunk that cannot be
    /// planned within the budget.
    pub(crate) fn new(root: &Arc<Node>, budget: &PlanBudget) -> Result<Plan> {
        Plan::for_outputs(std::slice::from_ref(root), budget)
    }

    /// Plans the computation of several outputs in one run: a stage two of
    /// them need runs once, and outputs on one grid are made by the same
    /// tasks, each block of what they share read once. An output that is
    /// a stage of its own (a reduction, a rechunk that cuts chunks) and
    /// read by no other output goes to the caller from that stage; the
    /// others are made by blocks stages at the end, one per grid.
    pub(crate) fn for_outputs(roots: &[Arc<Node>], budget: &PlanBudget) -> Result<Plan> {
        let roots = push_slices::push_slices_many(roots);
        // Stage outputs read by other outputs are kept for them, and
        // copied out by a blocks stage.
        let read_by_others: HashSet<u64> = roots
            .iter()
            .enumerate()
            .flat_map(|(k, r)| {
                let others: Vec<&Arc<Node>> = roots
                    .iter()
                    .enumerate()
                    .filter(|&(j, o)| j != k && o.id() != r.id())
                    .map(|(_, o)| o)
                    .collect();
                reads(&others, r).then_some(r.id())
            })
            .collect();
        let mut seen = HashSet::new();
        let mut stages = Vec::new();
        let mut groups: Vec<Vec<Output>> = Vec::new();
        for (index, root) in roots.iter().enumerate() {
            let own = is_stage(root) && !read_by_others.contains(&root.id());
            let sink_bytes = if own { budget.sink_bytes } else { 0 };
            collect(root, root.id(), sink_bytes, budget, &mut seen, &mut stages)?;
            let output = Output {
                index,
                node: root.clone(),
            };
            if own {
                // (An output given twice: the same stage makes both.)
                if let Some(stage) = stages.iter_mut().find(|s| s.node.id() == root.id()) {
                    stage.outputs.push(output);
                    continue;
                }
            }
            match groups.iter_mut().find(|g| g[0].node.grid() == root.grid()) {
                Some(group) => group.push(output),
                None => groups.push(vec![output]),
            }
        }
        for outputs in groups {
            let node = outputs[0].node.clone();
            stages.push(blocks_stage(&node, outputs));
        }
        for stage in stages.iter_mut().filter(|s| !s.outputs.is_empty()) {
            match &mut stage.kind {
                // Planned with the sink's bytes already.
                StageKind::Rechunk { .. } => {}
                _ => {
                    let per_output = budget.sink_bytes.saturating_mul(stage.outputs.len() as u64);
                    stage.task_bytes = stage.task_bytes.saturating_add(per_output);
                }
            }
        }
        shared_reads::join_reductions(&mut stages, budget.max_mem);
        results::place_results(&mut stages, budget.max_mem);
        block_cache::size_caches(&mut stages, budget);
        shared_reads::size_shared_caches(&mut stages, budget);
        Ok(Plan {
            stages,
            budget: *budget,
        })
    }

    /// The budget the plan was made for (and is run within).
    pub(crate) fn budget(&self) -> &PlanBudget {
        &self.budget
    }

    /// The memory budget the plan was made for (and is run within).
    pub fn max_mem(&self) -> u64 {
        self.budget.max_mem
    }

    /// Tasks the plan lets run at once (the thread count).
    pub fn workers(&self) -> u64 {
        self.budget.workers
    }

    /// The stages, in the order they run.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Refuses the plan when one stage cannot make progress within its
    /// budget's `max_mem`, naming the operation and suggesting a chunking.
    /// Refuses, too, an array of 2^64 bytes or more, whose progress
    /// and report could not be counted.
    pub fn check(&self) -> Result<()> {
        let max_mem = self.budget.max_mem;
        for stage in &self.stages {
            for node in [&stage.node, stage_input(stage)] {
                node.grid().num_bytes(node.itemsize())?;
            }
            let needed = stage.required_bytes();
            if needed > max_mem {
                return Err(Error::TaskTooLarge {
                    operation: stage.node.name().to_string(),
                    needed,
                    limit: max_mem,
                    suggestion: suggest_chunks(stage, max_mem),
                });
            }
        }
        Ok(())
    }
}

/// The node a stage reads its blocks from (a reduction's or rechunk's
/// input), or the stage's own node.
fn stage_input(stage: &Stage) -> &Arc<Node> {
    match stage.node.kind() {
        NodeKind::Reduce { input, .. } | NodeKind::Rechunk { input } => input,
        _ => &stage.node,
    }
}

/// Post-order: a stage after the stages it reads.
fn collect(
    node: &Arc<Node>,
    root: u64,
    sink_bytes: u64,
    budget: &PlanBudget,
    seen: &mut HashSet<u64>,
    stages: &mut Vec<Stage>,
) -> Result<()> {
    if !seen.insert(node.id()) {
        return Ok(());
    }
    if let NodeKind::Invalid { message } = node.kind() {
        return Err(Error::Invalid {
            operation: node.name().to_string(),
            message: message.clone(),
        });
    }
    // Every count the plan and the executor make over this node's grid
    // (blocks, elements) fits a u64; nothing later overflows or wraps.
    node.grid().check_counts()?;
    for input in node.inputs() {
        collect(input, root, sink_bytes, budget, seen, stages)?;
    }
    match node.kind() {
        NodeKind::Reduce { .. } => stages.push(reduce_stage(node)),
        NodeKind::Rechunk { .. } if is_stage(node) => {
            // Only an output's own stage hands its blocks to the sink.
            let sink_bytes = if node.id() == root { sink_bytes } else { 0 };
            stages.push(rechunk_stage::stage(node, budget, sink_bytes)?);
        }
        _ => {}
    }
    Ok(())
}

/// The blocks stage making `outputs` (all on `node`'s grid): a task
/// evaluates each over one block.
fn blocks_stage(node: &Arc<Node>, outputs: Vec<Output>) -> Stage {
    let elements = node.grid().max_block_elements();
    let mut fused = Vec::new();
    let mut task_bytes = 0u64;
    for output in &outputs {
        fused.extend(fused_ops(&output.node));
        task_bytes = task_bytes.saturating_add(peak_bytes(&output.node, elements));
    }
    Stage {
        node: node.clone(),
        kind: StageKind::Blocks,
        fused,
        tasks: node.grid().num_blocks(),
        task_bytes,
        residence: Residence::Sink,
        cache_bytes: 0,
        freed_after: None,
        outputs,
        joint: false,
        shares: Vec::new(),
    }
}

/// Whether any of `roots` reads `node` (at any depth).
fn reads(roots: &[&Arc<Node>], node: &Arc<Node>) -> bool {
    fn visit(at: &Arc<Node>, id: u64, seen: &mut HashSet<u64>) -> bool {
        if !seen.insert(at.id()) {
            return false;
        }
        at.inputs()
            .into_iter()
            .any(|input| input.id() == id || visit(input, id, seen))
    }
    let mut seen = HashSet::new();
    roots.iter().any(|r| visit(r, node.id(), &mut seen))
}

fn reduce_stage(node: &Arc<Node>) -> Stage {
    let NodeKind::Reduce {
        input,
        reduction,
        axes,
        split_every,
        ..
    } = node.kind()
    else {
        return blocks_stage(node, Vec::new());
    };
    let s = (*split_every).max(2);
    let along: u64 = axes
        .iter()
        .map(|&a| input.grid().axis(a).num_chunks())
        .product();
    let leaves = along.div_ceil(s);
    let mut depth = 0u32;
    let mut n = leaves;
    while n > 1 {
        n = n.div_ceil(s);
        depth += 1;
    }
    let acc_bytes = node
        .grid()
        .max_block_elements()
        .saturating_mul(reduction.acc_bytes_per_element());
    let work = peak_bytes(input, input.grid().max_block_elements());
    let mut fused = fused_ops(input);
    fused.push(node.name().to_string());
    Stage {
        node: node.clone(),
        kind: StageKind::Reduce {
            leaves_per_block: leaves,
            split_every: s,
            depth,
            acc_bytes,
            held_bytes: acc_bytes.saturating_mul((s - 1) * u64::from(depth)),
        },
        fused,
        tasks: node.grid().num_blocks().saturating_mul(leaves),
        task_bytes: work.saturating_add(acc_bytes.saturating_mul(2)),
        residence: Residence::Sink,
        cache_bytes: 0,
        freed_after: None,
        outputs: Vec::new(),
        joint: false,
        shares: Vec::new(),
    }
}

/// A chunk shape for the stage's input that would fit: the current largest
/// chunk with its longest axes halved until the projection fits.
fn suggest_chunks(stage: &Stage, max_mem: u64) -> String {
    if let Some(suggestion) = suggest_around_whole_axes(stage, max_mem) {
        return suggestion;
    }
    let grid = stage.input_grid();
    let now: Vec<u64> = grid.axes().iter().map(|a| a.max_chunk()).collect();
    let elements = |s: &[u64]| s.iter().product::<u64>().max(1);
    let needed = stage.required_bytes() as f64;
    let mut shape = now.clone();
    let scale = |s: &[u64]| needed * elements(s) as f64 / elements(&now) as f64;
    while scale(&shape) > max_mem as f64 * 0.9 {
        let Some((axis, &len)) = shape.iter().enumerate().max_by_key(|(_, &n)| n) else {
            break;
        };
        if len <= 1 {
            return "max_mem is too small for this operation even with one-element chunks".into();
        }
        shape[axis] = len.div_ceil(2);
    }
    format!("rechunk its input from chunks of {now:?} to about {shape:?}")
}

/// When a whole-block kernel fused into the stage reads some axes of its
/// input whole (`map_blocks`' dropped axes: a quantile, a group median),
/// only the chunks of its other axes change a task's size: the chunk shape
/// for that input (the largest such one) with its other axes halved, the
/// longest first, until the projection fits. `None` when no such kernel.
fn suggest_around_whole_axes(stage: &Stage, max_mem: u64) -> Option<String> {
    let mut seen = HashSet::new();
    let mut todo = vec![&stage.node];
    let mut widest: Option<(&Arc<Node>, &crate::graph::BlockInputs)> = None;
    while let Some(node) = todo.pop() {
        // The stage's own node, and what fuses under it (up to other
        // stages' results).
        let fused = Arc::ptr_eq(node, &stage.node) || !is_stage(node);
        if !seen.insert(node.id()) || !fused {
            continue;
        }
        if let NodeKind::Map {
            regions: crate::graph::MapRegions::Blocks(reads),
            ..
        } = node.kind()
        {
            let wider = widest.is_none_or(|(_, w)| reads.max_elements() > w.max_elements());
            if !reads.whole_axes().is_empty() && wider {
                widest = Some((node, reads.as_ref()));
            }
        }
        todo.extend(node.inputs());
    }
    let (kernel, reads) = widest?;
    let input = kernel.inputs().into_iter().next()?;
    let whole = reads.whole_axes();
    let now: Vec<u64> = input.grid().axes().iter().map(|a| a.max_chunk()).collect();
    let mut slab = now.clone();
    for &k in whole {
        slab[k] = input.grid().axis(k).len();
    }
    let elements = |s: &[u64]| s.iter().product::<u64>().max(1) as f64;
    let needed = stage.required_bytes() as f64;
    let scale = |s: &[u64]| needed * elements(s) / elements(&slab);
    let mut shape = slab.clone();
    let what = format!(
        "{} reads all of axis {} in each task",
        kernel.name(),
        whole
            .iter()
            .map(|&k| format!("{k} ({} elements)", slab[k]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    while scale(&shape) > max_mem as f64 * 0.9 {
        let longest = (0..shape.len())
            .filter(|k| !whole.contains(k))
            .max_by_key(|&k| shape[k]);
        match longest {
            Some(k) if shape[k] > 1 => shape[k] = shape[k].div_ceil(2),
            _ => {
                return Some(format!(
                    "{what}, which max_mem cannot hold even with one element of the others"
                ))
            }
        }
    }
    for &k in whole {
        shape[k] = now[k];
    }
    Some(format!(
        "{what}, so only the other axes' chunks make it smaller: rechunk its input from \
         chunks of {now:?} to about {shape:?}"
    ))
}
