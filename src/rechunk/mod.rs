//! Running a rechunk plan between two stores: passes of independent tasks
//! on a rayon pool, each admitted by its projected bytes against the
//! memory budget; intermediates in private scratch stores; every finished
//! task journaled so that a killed run resumes where it stopped.

pub mod group;
pub mod job;
mod journal;
mod source_state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use ndchunk_chunking::rechunk::{ArrayRef, CopyPass, RechunkPlan};
use ndchunk_chunking::ChunkingError;
use ndchunk_io::copy::copy_box;
use ndchunk_io::scratch::ScratchStore;
use ndchunk_io::{ArrayMeta, ChunkStore};

use crate::error::{Error, Result};
use crate::exec::{BufferPool, MemoryBudget, Progress};
use crate::owned_paths::OwnedPaths;
pub use group::{
    is_group, plan_group, rechunk_group, ArrayJob, ArrayOutcome, GroupOutcome, GroupPlan,
    SkippedArray,
};
pub use job::{JobStatus, Outcome, Prepared, ZarrRechunk};
use journal::Journal;

/// How to run a plan.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
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
/// last step. Intermediates live in `options.scratch_dir`, which `owned`
/// lets the run delete.
pub(crate) fn run_plan(
    source: &dyn ChunkStore,
    target: &dyn ChunkStore,
    plan: &RechunkPlan,
    journal: &Journal,
    options: &RunOptions,
    owned: &OwnedPaths,
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
        if let (ArrayRef::Intermediate(j), true) = (pass.input, k < last) {
            drop(input_scratch);
            owned.remove(&scratch_path(&options.scratch_dir, j))?;
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
fn scratch_path(dir: &Path, k: usize) -> PathBuf {
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
    for chunk in pass
        .input_chunks
        .blocks_overlapping(&region)
        .map_err(grid_error)?
        .iter()
    {
        let chunk_region = pass.input_chunks.block_region(&chunk).map_err(grid_error)?;
        counters.chunks_read.fetch_add(1, Ordering::Relaxed);
        counters.bytes_read.fetch_add(
            chunk_region.num_elements() * itemsize as u64,
            Ordering::Relaxed,
        );
    }
    // Chunks that are contiguous runs of the block are decoded (or read)
    // straight into it.
    let mut buffer = buffers.take(region.num_elements() as usize * itemsize);
    input.read_region_into(&region, &mut buffer)?;
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
    buffers.give(buffer);
    Ok(written)
}
