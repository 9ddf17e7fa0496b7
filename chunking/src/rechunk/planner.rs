//! The search: build the candidate plans and price them.

use super::consolidate::consolidate;
use super::encoded_bound;
use super::plan::{
    ArrayRef, CopyPass, PlanOptions, RechunkPlan, RechunkStage, Strategy, TaskShape,
};
use crate::error::Result;
use crate::grid::{AxisChunks, ChunkGrid};

/// A plan under consideration.
pub(super) struct Candidate {
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
        self.passes.iter().fold(0u64, |n, p| {
            n.saturating_add(p.reads).saturating_add(p.writes)
        })
    }
}

pub(super) struct Planner<'a> {
    source: &'a ChunkGrid,
    target: &'a ChunkGrid,
    options: &'a PlanOptions,
    /// Budget of one task.
    task_budget: u64,
    /// The largest block worth making: small enough that each pass has
    /// `parallel_slack` tasks per worker, so no core idles at a pass's end.
    block_cap: u64,
    min_mem: u64,
    array_bytes: u64,
}

impl<'a> Planner<'a> {
    /// The direct plan, then plans with 1, 2, … stages until the smallest
    /// intermediate chunk reaches `min_mem` or the I/O count stops falling.
    pub(super) fn search(&self) -> Vec<Candidate> {
        let mut candidates = vec![self.direct()];
        let mut previous_ops: Option<u64> = None;
        for stages in 1..=self.options.max_stages.max(1) {
            let Some(candidate) = self.staged(stages) else {
                break;
            };
            let ops = candidate.ops();
            if previous_ops.is_some_and(|p| ops > p) {
                break;
            }
            previous_ops = Some(ops);
            let big_enough = candidate.smallest_intermediate_bytes >= self.min_mem;
            candidates.push(candidate);
            if big_enough {
                break;
            }
        }
        candidates
    }

    pub(super) fn new(
        source: &'a ChunkGrid,
        target: &'a ChunkGrid,
        options: &'a PlanOptions,
        minimum: u64,
        tasks_at_once: u64,
    ) -> Self {
        let task_budget = (options.max_mem / tasks_at_once.max(1)).max(minimum);
        let min_mem = options.min_mem.unwrap_or((1u64 << 20).min(task_budget / 8));
        let array_bytes = source
            .shape()
            .iter()
            .fold(options.itemsize, |n, &l| n.saturating_mul(l));
        // Below a few MiB a task costs less than scheduling it: small
        // arrays are not cut up for parallelism (re-reading their chunks
        // would cost more than any idle core).
        const SMALLEST_CAP: u64 = 8 << 20;
        let block_cap = if options.workers > 1 {
            (array_bytes
                / options
                    .workers
                    .saturating_mul(options.parallel_slack.max(1))
                    .max(1))
            .max(SMALLEST_CAP)
        } else {
            u64::MAX
        };
        Self {
            source,
            target,
            options,
            task_budget,
            block_cap,
            min_mem,
            array_bytes,
        }
    }

    fn bytes(&self, elements: u64) -> u64 {
        elements.saturating_mul(self.options.itemsize)
    }

    /// Peak of one task. It holds its block throughout; while reading, one
    /// input chunk decoded (unless the blocks are the input chunks, which
    /// then decode straight into the block) and encoded; while writing, one
    /// output chunk cut out of the block (or padded to its nominal shape)
    /// and encoded. Reading and writing do not overlap.
    fn task_peak(
        &self,
        blocks: &ChunkGrid,
        input: (ArrayRef, &ChunkGrid),
        output: (ArrayRef, &ChunkGrid),
    ) -> u64 {
        let ((input_ref, input), (output_ref, output)) = (input, output);
        if let Some(cost) = &self.options.task_cost {
            return (cost.0)(&TaskShape {
                reads_source: input_ref == ArrayRef::Source,
                writes_target: output_ref == ArrayRef::Target,
                block_elements: blocks.max_block_elements(),
                input_chunk_elements: input.max_block_elements(),
                output_chunk_elements: output.max_block_elements(),
                blocks_are_input_chunks: blocks == input,
            });
        }
        let block = self.bytes(blocks.max_block_elements());
        let input_chunk = self.bytes(input.max_block_elements());
        let input_decoded = if blocks == input { 0 } else { input_chunk };
        let reading = input_decoded.saturating_add(encoded_bound(input_chunk));
        let output_chunk = self.bytes(output.max_block_elements());
        let writing = output_chunk.saturating_add(encoded_bound(output_chunk));
        block.saturating_add(reading.max(writing))
    }

    fn pass(
        &self,
        input: ArrayRef,
        input_chunks: &ChunkGrid,
        blocks: &ChunkGrid,
        output: ArrayRef,
        output_chunks: &ChunkGrid,
    ) -> CopyPass {
        let aligned = input_chunks
            .refine_with(blocks)
            .map(|g| &g == input_chunks)
            .unwrap_or(false);
        let (reads, read_bytes) = if aligned {
            (input_chunks.num_blocks(), self.array_bytes)
        } else {
            // Every (input chunk, block) overlap is one read of the whole
            // input chunk; per axis the counts and extents multiply.
            let mut reads = 1u64;
            let mut elements = 1u64;
            for (a, b) in input_chunks.axes().iter().zip(blocks.axes()) {
                let (n, e) = overlap_reads(a, b);
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
            task_peak_bytes: self.task_peak(blocks, (input, input_chunks), (output, output_chunks)),
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
        pass.read_bytes as f64 * read
            + pass.write_bytes as f64 * write
            + (pass.reads as f64 + pass.writes as f64) * c.per_operation
    }

    fn whole_axes(&self) -> Vec<Option<u64>> {
        self.target.shape().into_iter().map(Some).collect()
    }

    /// One pass: write blocks as large as the budget allows.
    pub(super) fn direct(&self) -> Candidate {
        let write = consolidate(self.target, &self.whole_axes(), |w| {
            self.task_peak(
                w,
                (ArrayRef::Source, self.source),
                (ArrayRef::Target, self.target),
            ) <= self.task_budget
                && self.bytes(w.max_block_elements()) <= self.block_cap
        });
        let pass = self.pass(
            ArrayRef::Source,
            self.source,
            &write,
            ArrayRef::Target,
            self.target,
        );
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
    pub(super) fn staged(&self, stages: usize) -> Option<Candidate> {
        // Blocks are sized against a budget that shrinks until every pass's
        // exact peak fits one task's budget. Each end pays for its own
        // chunks: the read pass for a source chunk (decoded and encoded),
        // the write pass for an encoded target chunk.
        let source_chunk = self.bytes(self.source.max_block_elements());
        let target_chunk = self.bytes(self.target.max_block_elements());
        let read_overhead = source_chunk.saturating_add(encoded_bound(source_chunk));
        let write_overhead = encoded_bound(target_chunk);
        let mut budget = self.task_budget.min(
            self.block_cap
                .saturating_add(read_overhead.max(write_overhead)),
        );
        for _ in 0..40 {
            let write = consolidate(self.target, &self.whole_axes(), |g| {
                self.bytes(g.max_block_elements())
                    .saturating_add(write_overhead)
                    <= budget
            });
            let read_limits: Vec<Option<u64>> = self
                .source
                .axes()
                .iter()
                .zip(write.axes())
                .map(|(s, w)| (w.max_chunk() > s.max_chunk()).then(|| w.max_chunk()))
                .collect();
            let read = consolidate(self.source, &read_limits, |g| {
                self.bytes(g.max_block_elements())
                    .saturating_add(read_overhead)
                    <= budget
            });
            let mut blocks = vec![read.clone()];
            blocks.extend(geometric_stages(&read, &write, stages));
            blocks.push(write);
            let candidate = self.chain(stages, blocks)?;
            if candidate
                .passes
                .iter()
                .all(|p| p.task_peak_bytes <= self.task_budget)
            {
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

    /// The cheapest candidate as a plan (the first of equal ones, so fewer
    /// stages win ties).
    pub(super) fn finish(&self, candidates: Vec<Candidate>) -> RechunkPlan {
        let costs: Vec<(Strategy, f64)> = candidates.iter().map(|c| (c.strategy, c.cost)).collect();
        let best = candidates
            .into_iter()
            .min_by(|a, b| a.cost.total_cmp(&b.cost))
            .expect("the direct candidate always exists");
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
                    let own = if k + 1 == n {
                        &passes[k..]
                    } else {
                        &passes[k..=k]
                    };
                    RechunkStage {
                        read: best.blocks[k].clone(),
                        intermediate: Some(best.intermediates[k].clone()),
                        write: best.blocks[k + 1].clone(),
                        reads: own.iter().fold(0u64, |n, p| n.saturating_add(p.reads)),
                        writes: own.iter().fold(0u64, |n, p| n.saturating_add(p.writes)),
                        task_peak_bytes: own.iter().map(|p| p.task_peak_bytes).max().unwrap_or(0),
                    }
                })
                .collect()
        };
        let task_peak_bytes = passes.iter().map(|p| p.task_peak_bytes).max().unwrap_or(0);
        let concurrency =
            (self.options.max_mem / task_peak_bytes.max(1)).clamp(1, self.options.workers.max(1));
        // While pass k runs, intermediates k-1 (read) and k (written) exist.
        let intermediate_bytes = self
            .array_bytes
            .saturating_mul(best.intermediates.len().min(2) as u64);
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
            candidates: costs,
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

/// Along one axis, how many (input chunk, block) overlaps there are, and
/// how many elements reading the whole input chunk once per overlap reads.
/// O(1) for two regular axes (an axis of 2^62 chunks is planned, not
/// walked), O(chunks) otherwise.
fn overlap_reads(input: &AxisChunks, blocks: &AxisChunks) -> (u64, u64) {
    let times = |r: std::ops::Range<u64>| {
        let o = blocks.chunks_overlapping(r);
        o.end - o.start
    };
    if let (Some(chunk), true) = (input.regular_chunk(), blocks.is_regular()) {
        if input.is_empty() {
            return (0, 0);
        }
        let n = input.count_overlaps(blocks);
        let chunk = chunk.min(input.len());
        let last = input.chunk_range(input.num_chunks() - 1);
        let short = chunk - (last.end - last.start);
        let e = chunk
            .saturating_mul(n)
            .saturating_sub(short.saturating_mul(times(last)));
        return (n, e);
    }
    let (mut n, mut e) = (0u64, 0u64);
    for i in 0..input.num_chunks() {
        let r = input.chunk_range(i);
        let t = times(r.clone());
        n = n.saturating_add(t);
        e = e.saturating_add(t.saturating_mul(r.end - r.start));
    }
    (n, e)
}
