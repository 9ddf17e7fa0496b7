//! Memory-bounded rechunk planning: how to turn an array stored with one
//! chunking into the same array with another, within `max_mem`.
//!
//! The planner weighs two ways of doing it, in the manner of Rechunker but
//! with every buffer counted:
//!
//! - **direct**: one pass; each task builds one *write block* (a group of
//!   target chunks) by reading every source chunk it overlaps. Nothing is
//!   stored in between, but a source chunk that straddles several write
//!   blocks is read and decoded once per block.
//! - **through intermediates**: Rechunker's algorithm. Source chunks are
//!   consolidated into *read blocks*, cut into *intermediate chunks* that fit
//!   both the read and the write blocks, stored in a private temporary store,
//!   then gathered into write blocks. Every chunk is decoded once; the price
//!   is one write and one read of the intermediate store (cheap codec, page
//!   cache). When the intermediate chunks would be tiny, the change is split
//!   into several stages whose block shapes follow a geometric progression
//!   from the read to the write blocks (Rechunker's multistage plan), adding
//!   stages until the smallest intermediate chunk reaches `min_mem` or the
//!   I/O count stops falling.
//!
//! The candidate with the lowest projected cost (bytes decoded and encoded,
//! weighted by [`CostModel`], plus a charge per I/O operation) wins.
//!
//! **Memory is counted honestly**: one task holds its block decoded, one
//! input chunk decoded *and* encoded, and one output chunk encoded (bounded
//! by [`encoded_bound`]). A budget that cannot hold the smallest possible
//! task (one source chunk and one target chunk, each decoded and encoded) is
//! refused with the minimum that would work.
//!
//! ```
//! use ndchunk_chunking::ChunkGrid;
//! use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions};
//!
//! // A year of hourly float32 on a 0.25° grid, stored one day per chunk,
//! // rechunked for time series: all hours of a 10x10 tile per chunk.
//! let source = ChunkGrid::regular(&[8760, 721, 1440], &[24, 721, 1440]).unwrap();
//! let target = ChunkGrid::regular(&[8760, 721, 1440], &[8760, 10, 10]).unwrap();
//! let plan = plan_rechunk(&source, &target, &PlanOptions::new(4, 2 << 30)).unwrap();
//! assert!(plan.peak_bytes <= 2 << 30);
//! assert_eq!(plan.passes.last().unwrap().output_chunks, target);
//! println!("{plan}");
//! ```

mod consolidate;
mod display;

pub use consolidate::consolidate;

use serde::{Deserialize, Serialize};

use crate::error::{ChunkingError, Result};
use crate::grid::ChunkGrid;

/// An upper bound of the encoded size of `decoded` bytes under any codec
/// ndchunk writes (zstd, lz4, blosc, deflate all stay below `n + n/128 +
/// 1 KiB` on incompressible data).
pub fn encoded_bound(decoded: u64) -> u64 {
    decoded.saturating_add(decoded / 128).saturating_add(1024)
}

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
    /// How candidates are compared.
    pub cost: CostModel,
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
            cost: CostModel::default(),
        }
    }

    /// The same options with `workers` tasks in flight.
    pub fn with_workers(mut self, workers: u64) -> Self {
        self.workers = workers.max(1);
        self
    }
}

/// Which array a pass reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Projected peak bytes of one task: its block decoded, one input chunk
    /// decoded (unless the block is that chunk) and encoded, one output
    /// chunk encoded.
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
        self.passes.iter().map(|p| p.reads).sum()
    }

    /// Total chunk writes of all passes.
    pub fn total_writes(&self) -> u64 {
        self.passes.iter().map(|p| p.writes).sum()
    }
}

/// The smallest `max_mem` with which `source` can be rechunked to `target`.
pub fn minimum_budget(source: &ChunkGrid, target: &ChunkGrid, itemsize: u64) -> u64 {
    let s = source.max_block_elements().saturating_mul(itemsize);
    let t = target.max_block_elements().saturating_mul(itemsize);
    s.saturating_add(encoded_bound(s)).saturating_add(t).saturating_add(encoded_bound(t))
}

/// Plan the change of `source`'s chunking into `target`'s within
/// `options.max_mem`. See the module documentation for the algorithm.
pub fn plan_rechunk(source: &ChunkGrid, target: &ChunkGrid, options: &PlanOptions) -> Result<RechunkPlan> {
    source.check_same_shape(target)?;
    if options.itemsize == 0 {
        return Err(ChunkingError::InvalidChunkSpec {
            spec: "itemsize 0".into(),
            reason: "elements must have a size of at least one byte".into(),
        });
    }
    let minimum = minimum_budget(source, target, options.itemsize);
    if options.max_mem < minimum {
        return Err(ChunkingError::BudgetTooSmall {
            max_mem: options.max_mem,
            minimum,
        });
    }
    let planner = Planner::new(source, target, options, minimum);

    let mut candidates: Vec<Candidate> = vec![planner.direct()];
    let mut previous_ops: Option<u64> = None;
    for stages in 1..=options.max_stages.max(1) {
        let Some(candidate) = planner.staged(stages) else { break };
        let ops = candidate.ops();
        if previous_ops.is_some_and(|p| ops > p) {
            break;
        }
        previous_ops = Some(ops);
        let big_enough = candidate.smallest_intermediate_bytes >= planner.min_mem;
        candidates.push(candidate);
        if big_enough {
            break;
        }
    }
    let costs: Vec<(Strategy, f64)> = candidates.iter().map(|c| (c.strategy, c.cost)).collect();
    let best = candidates
        .into_iter()
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
        .expect("the direct candidate always exists");
    Ok(planner.finish(best, costs))
}

/// A plan under consideration.
struct Candidate {
    strategy: Strategy,
    /// Task blocks per pass; for a staged plan `[read, stage.., write]`.
    blocks: Vec<ChunkGrid>,
    /// Intermediate chunk grids (empty for a direct plan).
    intermediates: Vec<ChunkGrid>,
    passes: Vec<CopyPass>,
    cost: f64,
    smallest_intermediate_bytes: u64,
}

impl Candidate {
    fn ops(&self) -> u64 {
        self.passes.iter().map(|p| p.reads + p.writes).sum()
    }
}

struct Planner<'a> {
    source: &'a ChunkGrid,
    target: &'a ChunkGrid,
    options: &'a PlanOptions,
    /// Budget of one task.
    task_budget: u64,
    min_mem: u64,
    array_bytes: u64,
}

impl<'a> Planner<'a> {
    fn new(source: &'a ChunkGrid, target: &'a ChunkGrid, options: &'a PlanOptions, minimum: u64) -> Self {
        let task_budget = (options.max_mem / options.workers.max(1)).max(minimum);
        let min_mem = options.min_mem.unwrap_or((1u64 << 20).min(task_budget / 8));
        let array_bytes = source
            .shape()
            .iter()
            .fold(options.itemsize, |n, &l| n.saturating_mul(l));
        Self {
            source,
            target,
            options,
            task_budget,
            min_mem,
            array_bytes,
        }
    }

    fn bytes(&self, elements: u64) -> u64 {
        elements.saturating_mul(self.options.itemsize)
    }

    /// Peak of a task holding a block, one input chunk (decoded and
    /// encoded) and one encoded output chunk. When the blocks are the input
    /// chunks themselves, a chunk decodes straight into the block.
    fn task_peak(&self, blocks: &ChunkGrid, input: &ChunkGrid, output: &ChunkGrid) -> u64 {
        let block = self.bytes(blocks.max_block_elements());
        let input_decoded = if blocks == input { 0 } else { self.bytes(input.max_block_elements()) };
        let input_encoded = encoded_bound(self.bytes(input.max_block_elements()));
        let output = self.bytes(output.max_block_elements());
        block
            .saturating_add(input_decoded)
            .saturating_add(input_encoded)
            .saturating_add(encoded_bound(output))
    }

    fn pass(&self, input: ArrayRef, input_chunks: &ChunkGrid, blocks: &ChunkGrid, output: ArrayRef, output_chunks: &ChunkGrid) -> CopyPass {
        let aligned = input_chunks.refine_with(blocks).map(|g| &g == input_chunks).unwrap_or(false);
        let (reads, read_bytes) = if aligned {
            (input_chunks.num_blocks(), self.array_bytes)
        } else {
            // Every (input chunk, block) overlap is one read of the whole
            // input chunk; per axis the counts and extents multiply.
            let mut reads = 1u64;
            let mut elements = 1u64;
            for (a, b) in input_chunks.axes().iter().zip(blocks.axes()) {
                let (mut n, mut e) = (0u64, 0u64);
                for i in 0..a.num_chunks() {
                    let r = a.chunk_range(i);
                    let times = b.chunks_overlapping(r.clone()).count() as u64;
                    n += times;
                    e += times * (r.end - r.start);
                }
                reads = reads.saturating_mul(n);
                elements = elements.saturating_mul(e);
            }
            (reads, self.bytes(elements))
        };
        CopyPass {
            input,
            output,
            input_chunks: input_chunks.clone(),
            blocks: blocks.clone(),
            output_chunks: output_chunks.clone(),
            aligned,
            reads,
            writes: output_chunks.num_blocks(),
            read_bytes,
            write_bytes: self.array_bytes,
            task_peak_bytes: self.task_peak(blocks, input_chunks, output_chunks),
        }
    }

    fn pass_cost(&self, pass: &CopyPass) -> f64 {
        let c = &self.options.cost;
        let read = match pass.input {
            ArrayRef::Source => c.source_decode,
            _ => c.intermediate_read,
        };
        let write = match pass.output {
            ArrayRef::Target => c.target_encode,
            _ => c.intermediate_write,
        };
        pass.read_bytes as f64 * read + pass.write_bytes as f64 * write + (pass.reads + pass.writes) as f64 * c.per_operation
    }

    fn whole_axes(&self) -> Vec<Option<u64>> {
        self.target.shape().into_iter().map(Some).collect()
    }

    /// One pass: write blocks as large as the budget allows.
    fn direct(&self) -> Candidate {
        let write = consolidate(self.target, &self.whole_axes(), |w| {
            self.task_peak(w, self.source, self.target) <= self.task_budget
        });
        let pass = self.pass(ArrayRef::Source, self.source, &write, ArrayRef::Target, self.target);
        Candidate {
            strategy: Strategy::Direct,
            cost: self.pass_cost(&pass),
            blocks: vec![write],
            intermediates: Vec::new(),
            passes: vec![pass],
            smallest_intermediate_bytes: 0,
        }
    }

    /// `stages` intermediate arrays, or `None` when no block sizes fit.
    fn staged(&self, stages: usize) -> Option<Candidate> {
        // Blocks are sized against a budget that shrinks until every pass's
        // exact peak fits one task's budget. Each end pays for its own
        // chunks: the read pass for a source chunk (decoded and encoded),
        // the write pass for an encoded target chunk.
        let source_chunk = self.bytes(self.source.max_block_elements());
        let target_chunk = self.bytes(self.target.max_block_elements());
        let read_overhead = source_chunk.saturating_add(encoded_bound(source_chunk));
        let write_overhead = encoded_bound(target_chunk);
        let mut budget = self.task_budget;
        for _ in 0..40 {
            let write = consolidate(self.target, &self.whole_axes(), |g| {
                self.bytes(g.max_block_elements()).saturating_add(write_overhead) <= budget
            });
            let read_limits: Vec<Option<u64>> = self
                .source
                .axes()
                .iter()
                .zip(write.axes())
                .map(|(s, w)| (w.max_chunk() > s.max_chunk()).then(|| w.max_chunk()))
                .collect();
            let read = consolidate(self.source, &read_limits, |g| {
                self.bytes(g.max_block_elements()).saturating_add(read_overhead) <= budget
            });
            let mut blocks = vec![read.clone()];
            blocks.extend(geometric_stages(&read, &write, stages));
            blocks.push(write);
            let candidate = self.chain(stages, blocks)?;
            if candidate.passes.iter().all(|p| p.task_peak_bytes <= self.task_budget) {
                return Some(candidate);
            }
            if budget <= self.options.itemsize {
                return None;
            }
            budget = budget / 5 * 4;
        }
        None
    }

    /// The passes of a chain of task blocks `[read, stage.., write]`.
    fn chain(&self, stages: usize, blocks: Vec<ChunkGrid>) -> Option<Candidate> {
        let intermediates: Vec<ChunkGrid> = blocks
            .windows(2)
            .map(|w| w[0].refine_with(&w[1]))
            .collect::<Result<_>>()
            .ok()?;
        let mut passes = Vec::with_capacity(stages + 1);
        for (k, block) in blocks.iter().enumerate() {
            let (input, input_chunks) = match k {
                0 => (ArrayRef::Source, self.source),
                _ => (ArrayRef::Intermediate(k - 1), &intermediates[k - 1]),
            };
            let (output, output_chunks) = match intermediates.get(k) {
                Some(grid) => (ArrayRef::Intermediate(k), grid),
                None => (ArrayRef::Target, self.target),
            };
            passes.push(self.pass(input, input_chunks, block, output, output_chunks));
        }
        let smallest_intermediate_bytes = blocks
            .windows(2)
            .map(|w| {
                let elements = w[0]
                    .chunk_shape()
                    .iter()
                    .zip(w[1].chunk_shape())
                    .fold(1u64, |n, (&a, b)| n.saturating_mul(a.min(b)));
                self.bytes(elements)
            })
            .min()
            .unwrap_or(0);
        Some(Candidate {
            strategy: Strategy::Intermediate { stages },
            cost: passes.iter().map(|p| self.pass_cost(p)).sum(),
            blocks,
            intermediates,
            passes,
            smallest_intermediate_bytes,
        })
    }

    fn finish(&self, best: Candidate, candidates: Vec<(Strategy, f64)>) -> RechunkPlan {
        let passes = best.passes;
        let stages: Vec<RechunkStage> = if best.intermediates.is_empty() {
            let p = &passes[0];
            vec![RechunkStage {
                read: best.blocks[0].clone(),
                intermediate: None,
                write: best.blocks[0].clone(),
                reads: p.reads,
                writes: p.writes,
                task_peak_bytes: p.task_peak_bytes,
            }]
        } else {
            let n = best.intermediates.len();
            (0..n)
                .map(|k| {
                    // The last stage also owns the final pass into the target.
                    let own = if k + 1 == n { &passes[k..] } else { &passes[k..=k] };
                    RechunkStage {
                        read: best.blocks[k].clone(),
                        intermediate: Some(best.intermediates[k].clone()),
                        write: best.blocks[k + 1].clone(),
                        reads: own.iter().map(|p| p.reads).sum(),
                        writes: own.iter().map(|p| p.writes).sum(),
                        task_peak_bytes: own.iter().map(|p| p.task_peak_bytes).max().unwrap_or(0),
                    }
                })
                .collect()
        };
        let task_peak_bytes = passes.iter().map(|p| p.task_peak_bytes).max().unwrap_or(0);
        let concurrency = (self.options.max_mem / task_peak_bytes.max(1)).clamp(1, self.options.workers.max(1));
        // While pass k runs, intermediates k-1 (read) and k (written) exist.
        let intermediate_bytes = self.array_bytes.saturating_mul(best.intermediates.len().min(2) as u64);
        RechunkPlan {
            source: self.source.clone(),
            target: self.target.clone(),
            itemsize: self.options.itemsize,
            max_mem: self.options.max_mem,
            strategy: best.strategy,
            stages,
            passes,
            task_peak_bytes,
            concurrency,
            peak_bytes: task_peak_bytes.saturating_mul(concurrency),
            intermediate_bytes,
            cost: best.cost,
            candidates,
        }
    }
}

/// Regular block grids between `read` and `write` whose extents follow a
/// geometric progression per axis (Rechunker's `calculate_stage_chunks`).
fn geometric_stages(read: &ChunkGrid, write: &ChunkGrid, stages: usize) -> Vec<ChunkGrid> {
    let shape = read.shape();
    let (from, to) = (read.chunk_shape(), write.chunk_shape());
    (1..stages)
        .filter_map(|k| {
            let t = k as f64 / stages as f64;
            let extents: Vec<u64> = from
                .iter()
                .zip(&to)
                .zip(&shape)
                .map(|((&a, &b), &len)| {
                    if len == 0 {
                        return 0;
                    }
                    let e = (a.max(1) as f64).powf(1.0 - t) * (b.max(1) as f64).powf(t);
                    (e.floor() as u64).clamp(1, len)
                })
                .collect();
            ChunkGrid::regular(&shape, &extents).ok()
        })
        .collect()
}
