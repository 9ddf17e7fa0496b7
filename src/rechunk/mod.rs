//! Running a rechunk plan between two stores: passes of independent tasks
//! on a rayon pool, each admitted by its projected bytes against the
//! memory budget; intermediates in private scratch stores; every finished
//! task journaled so that a killed run resumes where it stopped.

pub mod group;
pub mod job;
pub mod journal;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use ndchunk_chunking::rechunk::{ArrayRef, CopyPass, RechunkPlan};
use ndchunk_chunking::{ChunkingError, Region};
use ndchunk_io::copy::copy_box;
use ndchunk_io::scratch::ScratchStore;
use ndchunk_io::{ArrayMeta, ChunkStore};

use crate::error::{Error, Result};
use crate::exec::{BufferPool, MemoryBudget, Progress};
pub use group::{
    is_group, plan_group, rechunk_group, ArrayJob, ArrayOutcome, GroupOutcome, GroupPlan,
    SkippedArray,
};
pub use job::{Outcome, Prepared, ZarrRechunk};
pub use journal::{Journal, Opened};

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub threads: usize,
    /// Where the intermediate arrays go.
    pub scratch_dir: PathBuf,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// This run's budget: a resumed plan runs within the smaller of it and
    /// the budget it was planned for.
    pub max_mem: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Wall time, seconds.
    pub seconds: f64,
    /// Tasks run now.
    pub tasks_run: u64,
    /// Tasks found done by an earlier, interrupted run.
    pub tasks_resumed: u64,
    /// Chunk reads (source and intermediates).
    pub chunks_read: u64,
    /// Decoded bytes read.
    pub bytes_read: u64,
    /// Chunk writes (intermediates and target).
    pub chunks_written: u64,
    /// Decoded bytes written.
    pub bytes_written: u64,
    /// The most projected bytes the executor had in flight at once.
    pub budget_peak_bytes: u64,
}

#[derive(Default)]
struct Counters {
    chunks_read: AtomicU64,
    bytes_read: AtomicU64,
    chunks_written: AtomicU64,
    bytes_written: AtomicU64,
    tasks_run: AtomicU64,
    tasks_resumed: AtomicU64,
}

fn grid_error(e: ChunkingError) -> Error {
    Error::Chunking(e)
}

/// Runs `plan` from `source` into `target`, journaling into `journal`.
/// The target's chunks are written; publishing its metadata is the caller's
/// last step.
pub fn run_plan(
    source: &dyn ChunkStore,
    target: &dyn ChunkStore,
    plan: &RechunkPlan,
    journal: &Journal,
    options: &RunOptions,
) -> Result<RunReport> {
    let start = Instant::now();
    check_stores(source, target, plan)?;
    if plan.passes.is_empty() {
        return Err(Error::Job {
            path: target.location(),
            message: "the plan has no passes".into(),
        });
    }
    let budget = MemoryBudget::new(plan.max_mem.min(options.max_mem));
    let counters = Counters::default();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .map_err(|e| Error::Job {
            path: "thread pool".into(),
            message: e.to_string(),
        })?;
    let scratch = |k: usize| -> Result<ScratchStore> {
        let grid = plan.passes[k].output_chunks.clone();
        let meta = ArrayMeta::new(grid, source.meta().dtype, source.meta().fill_value);
        Ok(ScratchStore::open(
            &scratch_path(&options.scratch_dir, k),
            meta,
        )?)
    };
    let last = plan.passes.len() - 1;
    for (k, pass) in plan.passes.iter().enumerate() {
        let operation = format!("rechunk pass {}/{}", k + 1, plan.passes.len());
        if journal.pass_complete(k) {
            counters
                .tasks_resumed
                .fetch_add(pass.tasks(), Ordering::Relaxed);
            continue;
        }
        let input_scratch = match pass.input {
            ArrayRef::Intermediate(j) => Some(scratch(j)?),
            _ => None,
        };
        let output_scratch = match pass.output {
            ArrayRef::Intermediate(j) => Some(scratch(j)?),
            _ => None,
        };
        let input: &dyn ChunkStore = input_scratch
            .as_ref()
            .map_or(source, |s| s as &dyn ChunkStore);
        let output: &dyn ChunkStore = output_scratch
            .as_ref()
            .map_or(target, |s| s as &dyn ChunkStore);
        let done = journal.done_tasks(k)?;
        // Per pass: buffers sized for one pass's blocks do not outlive it.
        let buffers = BufferPool::new(options.threads.max(1));
        let progress = Progress::new(&operation, pass.tasks(), pass.write_bytes, options.progress);
        let result = pool.install(|| {
            pass.blocks
                .all_blocks()
                .iter()
                .enumerate()
                .par_bridge()
                .try_for_each(|(i, block)| {
                    if done.contains(&(i as u64)) {
                        counters.tasks_resumed.fetch_add(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    let _held = budget.acquire(&operation, pass.task_peak_bytes)?;
                    let moved = copy_block(input, output, pass, &block, &counters, &buffers)
                        .map_err(|e| Error::Task {
                            operation: operation.clone(),
                            block: block.clone(),
                            source: Box::new(e),
                        })?;
                    journal.record(k, i as u64)?;
                    counters.tasks_run.fetch_add(1, Ordering::Relaxed);
                    progress.task_done(moved);
                    Ok::<(), Error>(())
                })
        });
        progress.finish();
        result?;
        journal.complete_pass(k)?;
        // The intermediate this pass read is no longer needed.
        if let (Some(s), true) = (input_scratch, k < last) {
            s.remove()?;
        }
    }
    Ok(RunReport {
        seconds: start.elapsed().as_secs_f64(),
        tasks_run: counters.tasks_run.into_inner(),
        tasks_resumed: counters.tasks_resumed.into_inner(),
        chunks_read: counters.chunks_read.into_inner(),
        bytes_read: counters.bytes_read.into_inner(),
        chunks_written: counters.chunks_written.into_inner(),
        bytes_written: counters.bytes_written.into_inner(),
        budget_peak_bytes: budget.peak(),
    })
}

/// The directory of intermediate array `k`.
pub fn scratch_path(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("intermediate-{k}"))
}

fn check_stores(
    source: &dyn ChunkStore,
    target: &dyn ChunkStore,
    plan: &RechunkPlan,
) -> Result<()> {
    let mismatch = |what: &str| Error::Job {
        path: target.location(),
        message: format!("the plan does not fit the stores: {what}"),
    };
    if source.meta().grid != plan.source {
        return Err(mismatch("source chunks differ"));
    }
    if target.meta().grid != plan.target {
        return Err(mismatch("target chunks differ"));
    }
    if source.meta().dtype != target.meta().dtype
        || source.meta().dtype.size() as u64 != plan.itemsize
    {
        return Err(mismatch("dtypes differ"));
    }
    Ok(())
}

/// One task: assemble `block` from the input chunks it overlaps, write the
/// output chunks inside it. Returns the bytes written.
/// The byte range `part` (local to a C-order buffer of `shape`) covers,
/// when it is one contiguous run: whole along every axis after the first
/// it does not span, and one element thick along every axis before it.
fn contiguous_run(part: &Region, shape: &[u64], itemsize: usize) -> Option<std::ops::Range<usize>> {
    let extent = part.shape();
    let ndim = shape.len();
    // The first axis (from the end) where the part is not whole.
    let partial = (0..ndim).rev().find(|&a| extent[a] != shape[a]);
    if let Some(k) = partial {
        if (0..k).any(|a| extent[a] > 1) {
            return None;
        }
    }
    let mut offset = 0u64;
    for (a, &start) in part.start().iter().enumerate() {
        offset = offset * shape[a] + start;
    }
    let start = offset as usize * itemsize;
    Some(start..start + part.num_elements() as usize * itemsize)
}

fn copy_block(
    input: &dyn ChunkStore,
    output: &dyn ChunkStore,
    pass: &CopyPass,
    block: &[u64],
    counters: &Counters,
    buffers: &BufferPool,
) -> Result<u64> {
    let itemsize = input.meta().dtype.size();
    let region = pass.blocks.block_region(block).map_err(grid_error)?;
    let shape = region.shape();
    let chunks = pass
        .input_chunks
        .blocks_overlapping(&region)
        .map_err(grid_error)?;
    let mut buffer: Vec<u8> = Vec::new();
    let mut pooled = false;
    for chunk in chunks.iter() {
        let chunk_region = pass.input_chunks.block_region(&chunk).map_err(grid_error)?;
        let Some(common) = chunk_region.intersect(&region) else {
            continue;
        };
        counters.chunks_read.fetch_add(1, Ordering::Relaxed);
        counters.bytes_read.fetch_add(
            chunk_region.num_elements() * itemsize as u64,
            Ordering::Relaxed,
        );
        if chunk_region == region {
            // The block is this chunk: no copy, and no pooled buffer.
            buffer = input.read_chunk_bytes(&chunk)?;
            pooled = false;
            continue;
        }
        if buffer.is_empty() {
            buffer = buffers.take(region.num_elements() as usize * itemsize);
            pooled = true;
        }
        let to = common.relative_to(&region).expect("inside the block");
        if common == chunk_region {
            if let Some(run) = contiguous_run(&to, &shape, itemsize) {
                // The chunk is one run of the block's bytes: decode (or read)
                // it in place.
                input.read_chunk_into(&chunk, &mut buffer[run])?;
                continue;
            }
        }
        let bytes = input.read_chunk_bytes(&chunk)?;
        let from = common.relative_to(&chunk_region).expect("inside the chunk");
        copy_box(
            &bytes,
            &chunk_region.shape(),
            &from,
            &mut buffer,
            &shape,
            to.start(),
            itemsize,
        );
    }
    let mut written = 0u64;
    // One buffer for every output chunk cut out of the block: it is
    // overwritten whole each time, so it is zeroed only once.
    let mut out = Vec::new();
    for chunk in pass
        .output_chunks
        .blocks_overlapping(&region)
        .map_err(grid_error)?
        .iter()
    {
        let chunk_region = pass
            .output_chunks
            .block_region(&chunk)
            .map_err(grid_error)?;
        if chunk_region == region {
            output.write_chunk_bytes(&chunk, &buffer)?;
        } else {
            out.resize(chunk_region.num_elements() as usize * itemsize, 0);
            let from = chunk_region
                .relative_to(&region)
                .expect("output chunks lie inside their block");
            copy_box(
                &buffer,
                &shape,
                &from,
                &mut out,
                &chunk_region.shape(),
                &vec![0; shape.len()],
                itemsize,
            );
            output.write_chunk_bytes(&chunk, &out)?;
        }
        let bytes = chunk_region.num_elements() * itemsize as u64;
        written += bytes;
        counters.chunks_written.fetch_add(1, Ordering::Relaxed);
        counters.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }
    if pooled {
        buffers.give(buffer);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `contiguous_run` is exactly the run of linear indices the part
        /// covers, whenever those indices are one run.
        #[test]
        fn contiguous_runs_are_exactly_the_parts_bytes(
            dims in prop::collection::vec((1u64..5, 0u64..5, 0u64..5), 1..4),
        ) {
            let shape: Vec<u64> = dims.iter().map(|d| d.0).collect();
            let start: Vec<u64> = dims.iter().map(|d| d.1 % d.0).collect();
            let stop: Vec<u64> = dims.iter().zip(&start).map(|(d, &s)| s + 1 + d.2 % (d.0 - s)).collect();
            let part = Region::new(start, stop).unwrap();
            let mut linear: Vec<u64> = Vec::new();
            let total: u64 = shape.iter().product();
            for i in 0..total {
                let mut rest = i;
                let mut inside = true;
                for a in (0..shape.len()).rev() {
                    let x = rest % shape[a];
                    rest /= shape[a];
                    inside &= part.range(a).contains(&x);
                }
                if inside {
                    linear.push(i);
                }
            }
            let one_run = linear.windows(2).all(|w| w[1] == w[0] + 1);
            match contiguous_run(&part, &shape, 4) {
                Some(run) => {
                    prop_assert!(one_run);
                    prop_assert_eq!(run, linear[0] as usize * 4..(linear[linear.len() - 1] as usize + 1) * 4);
                }
                None => prop_assert!(!one_run),
            }
        }
    }
}
