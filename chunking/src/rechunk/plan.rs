//! The plan's types: what the planner is asked and what it answers.

use serde::{Deserialize, Serialize};

use crate::grid::ChunkGrid;

/// Relative cost of the work a plan does, in "byte equivalents". Only
/// ratios matter: the defaults say that the intermediate store (a fast codec
/// and the page cache) costs a fraction of the user's codecs per byte, and
/// that one chunk read or write costs as much as moving 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Per byte decoded from the source.
    pub source_decode: f64,
    /// Per byte encoded into the target.
    pub target_encode: f64,
    /// Per byte written to the intermediate store.
    pub intermediate_write: f64,
    /// Per byte read back from the intermediate store.
    pub intermediate_read: f64,
    /// Per chunk read or written (open, seek, syscall, codec setup).
    pub per_operation: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            source_decode: 1.0,
            target_encode: 1.0,
            intermediate_write: 0.15,
            intermediate_read: 0.1,
            per_operation: 65536.0,
        }
    }
}

/// What the planner is asked for, beyond the two grids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// Bytes per element.
    pub itemsize: u64,
    /// The memory budget for all tasks in flight together, in bytes.
    pub max_mem: u64,
    /// How many tasks should be able to run at once (e.g. the thread count):
    /// blocks are sized so that `workers` tasks fit in `max_mem` together,
    /// unless that would make one task smaller than the smallest possible.
    pub workers: u64,
    /// Intermediate chunks at least this large (bytes) are big enough: stop
    /// adding stages. Default: 1 MiB, or an eighth of a task's budget.
    pub min_mem: Option<u64>,
    /// The most stages a plan may have.
    pub max_stages: usize,
    /// With several workers, blocks are kept small enough that each pass has
    /// at least this many tasks per worker (when the chunks allow), so the
    /// last round of a pass does not leave cores idle. Default 8.
    pub parallel_slack: u64,
    /// How candidates are compared.
    pub cost: CostModel,
    /// Take this kind of plan instead of the cheapest (for benchmarks and
    /// for users who know better); an error when it cannot fit `max_mem`.
    pub strategy: Option<Strategy>,
    /// What one task holds at its peak, as the executor that runs the plan
    /// counts it; `None`: a store-to-store copy's peak (its block, plus the
    /// larger of one input chunk decoded and encoded and one output chunk
    /// cut out and encoded). Blocks are sized with it, so a plan fits the
    /// executor's budget the first time.
    #[serde(skip)]
    pub task_cost: Option<TaskCost>,
}

/// The shape of one task of a pass, for a [`TaskCost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskShape {
    /// The pass reads the source (not an intermediate).
    pub reads_source: bool,
    /// The pass writes the target (not an intermediate).
    pub writes_target: bool,
    /// Elements of the pass's largest block.
    pub block_elements: u64,
    /// Elements of the largest chunk it reads.
    pub input_chunk_elements: u64,
    /// Elements of the largest chunk it writes.
    pub output_chunk_elements: u64,
    /// The blocks are the input chunks (each decodes straight into its
    /// block).
    pub blocks_are_input_chunks: bool,
}

/// An executor's projected peak bytes of one task ([`PlanOptions::task_cost`]).
#[derive(Clone)]
pub struct TaskCost(pub std::sync::Arc<dyn Fn(&TaskShape) -> u64 + Send + Sync>);

impl std::fmt::Debug for TaskCost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskCost(..)")
    }
}

impl PartialEq for TaskCost {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl PlanOptions {
    /// Options for elements of `itemsize` bytes within `max_mem` bytes, one
    /// worker, default cost model.
    pub fn new(itemsize: u64, max_mem: u64) -> Self {
        Self {
            itemsize,
            max_mem,
            workers: 1,
            min_mem: None,
            max_stages: 8,
            parallel_slack: 8,
            cost: CostModel::default(),
            strategy: None,
            task_cost: None,
        }
    }

    /// The same options with `workers` tasks in flight.
    pub fn with_workers(mut self, workers: u64) -> Self {
        self.workers = workers.max(1);
        self
    }
}

/// Which array a pass reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrayRef {
    /// The user's source array.
    Source,
    /// The `n`th intermediate array in the temporary store.
    Intermediate(usize),
    /// The user's target array.
    Target,
}

/// One pass over the data: one task per block of `blocks`, each reading the
/// `input_chunks` it overlaps and writing the `output_chunks` inside it.
/// Passes run one after the other; tasks within a pass are independent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyPass {
    /// What the pass reads.
    pub input: ArrayRef,
    /// What the pass writes.
    pub output: ArrayRef,
    /// The chunks of the input array.
    pub input_chunks: ChunkGrid,
    /// The task blocks: a coarsening of `output_chunks`.
    pub blocks: ChunkGrid,
    /// The chunks of the output array.
    pub output_chunks: ChunkGrid,
    /// True when every input chunk lies inside one block, so it is read once.
    pub aligned: bool,
    /// Chunk reads (input chunks read more than once count each time).
    pub reads: u64,
    /// Chunk writes.
    pub writes: u64,
    /// Decoded bytes read, re-reads included.
    pub read_bytes: u64,
    /// Decoded bytes written.
    pub write_bytes: u64,
    /// Projected peak bytes of one task: its block, plus the larger of
    /// reading (one input chunk decoded, unless the block is that chunk, and
    /// encoded) and writing (one output chunk copied out and encoded).
    pub task_peak_bytes: u64,
}

impl CopyPass {
    /// Number of tasks.
    pub fn tasks(&self) -> u64 {
        self.blocks.num_blocks()
    }
}

/// A stage as Rechunker reports it: read blocks, intermediate chunks (none
/// for a direct copy), write blocks, and the I/O and memory of its passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RechunkStage {
    /// Blocks read by one task (consolidated input chunks).
    pub read: ChunkGrid,
    /// Chunks of the intermediate array this stage stores, if any.
    pub intermediate: Option<ChunkGrid>,
    /// Blocks written by one task (consolidated output chunks).
    pub write: ChunkGrid,
    /// Chunk reads done by this stage's passes.
    pub reads: u64,
    /// Chunk writes done by this stage's passes.
    pub writes: u64,
    /// The largest projected peak of one task in this stage.
    pub task_peak_bytes: u64,
}

/// The kind of plan chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// One pass, source chunks read once per write block they overlap.
    Direct,
    /// Through `stages` intermediate arrays.
    Intermediate {
        /// Number of stages (= intermediate arrays).
        stages: usize,
    },
}

/// A complete rechunk plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RechunkPlan {
    /// Source chunks.
    pub source: ChunkGrid,
    /// Target chunks.
    pub target: ChunkGrid,
    /// Bytes per element.
    pub itemsize: u64,
    /// The budget the plan was made for.
    pub max_mem: u64,
    /// What kind of plan this is.
    pub strategy: Strategy,
    /// Rechunker's view: one entry per stage.
    pub stages: Vec<RechunkStage>,
    /// What runs, in order.
    pub passes: Vec<CopyPass>,
    /// The largest projected peak of one task.
    pub task_peak_bytes: u64,
    /// Tasks that may run at once within the budget (at most `workers`).
    pub concurrency: u64,
    /// Projected peak of the whole plan: `task_peak_bytes * concurrency`.
    pub peak_bytes: u64,
    /// Decoded bytes the temporary store holds at most at once.
    pub intermediate_bytes: u64,
    /// Projected cost (see [`CostModel`]).
    pub cost: f64,
    /// Every candidate considered, with its cost; the chosen one is cheapest.
    pub candidates: Vec<(Strategy, f64)>,
}

impl RechunkPlan {
    /// Total chunk reads of all passes.
    pub fn total_reads(&self) -> u64 {
        self.passes
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.reads))
    }

    /// Total chunk writes of all passes.
    pub fn total_writes(&self) -> u64 {
        self.passes
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.writes))
    }

    /// Checks that the passes make a complete copy from `source` to
    /// `target`: a plan read back from disk (a resumed job) may have been
    /// damaged, and running a broken one would write wrong data. Returns
    /// what is wrong.
    pub fn check_consistent(&self) -> std::result::Result<(), String> {
        let (Some(first), Some(last)) = (self.passes.first(), self.passes.last()) else {
            return Err("the plan has no passes".into());
        };
        if first.input != ArrayRef::Source || first.input_chunks != self.source {
            return Err("the first pass does not read the source's chunks".into());
        }
        if last.output != ArrayRef::Target || last.output_chunks != self.target {
            return Err("the last pass does not write the target's chunks".into());
        }
        for (k, pair) in self.passes.windows(2).enumerate() {
            if pair[0].output != pair[1].input || pair[0].output_chunks != pair[1].input_chunks {
                return Err(format!("pass {} does not read what pass {k} wrote", k + 1));
            }
        }
        for (k, pass) in self.passes.iter().enumerate() {
            let shape = pass.output_chunks.shape();
            if pass.input_chunks.shape() != shape || pass.blocks.shape() != shape {
                return Err(format!("pass {k}: its grids have different shapes"));
            }
            // Each task must write whole output chunks: its block's
            // boundaries are output chunk boundaries.
            let coarsens = pass
                .output_chunks
                .axes()
                .iter()
                .zip(pass.blocks.axes())
                .all(|(chunks, blocks)| chunks.refine_with(blocks).is_ok_and(|r| &r == chunks));
            if !coarsens {
                return Err(format!("pass {k}: a task block splits an output chunk"));
            }
        }
        Ok(())
    }
}
