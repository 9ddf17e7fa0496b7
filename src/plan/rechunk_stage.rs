//! A rechunk that cuts input chunks, as a stage of its own, planned by the
//! rechunk planner (`ndchunk_chunking::rechunk`, the one `chunkctl rechunk`
//! uses): each input chunk is evaluated once per pass, not once for every
//! new block it meets, and a rechunk larger than the budget goes through
//! intermediate stores on disk (Rechunker's algorithm).

use std::sync::Arc;

use ndchunk_chunking::rechunk::{plan_rechunk, CopyPass, PlanOptions, RechunkPlan};
use ndchunk_chunking::ChunkGrid;

use super::{fused_ops, peak_bytes, PlanBudget, Stage, StageKind};
use crate::error::{Error, Result};
use crate::graph::{Node, NodeKind};

/// True when every chunk of `from` lies inside one chunk of `to` (a merge,
/// or no change): assembling a new block then reads each old one once, so
/// the rechunk fuses into its consumer.
pub(super) fn only_merges(from: &ChunkGrid, to: &ChunkGrid) -> bool {
    from.axes()
        .iter()
        .zip(to.axes())
        .all(|(f, t)| f.is_empty() || f.count_overlaps(t) == f.num_chunks())
}

/// The stage of rechunk `node`, its passes sized so that one task of each
/// fits `budget.max_mem` (and, where the chunks allow, `workers` tasks
/// together). `sink_bytes` is what the sink holds per task of the last
/// pass (zero unless this stage is the plan's last).
pub(super) fn stage(node: &Arc<Node>, budget: &PlanBudget, sink_bytes: u64) -> Result<Stage> {
    let NodeKind::Rechunk { input } = node.kind() else {
        return Err(Error::Graph {
            operation: node.name().to_string(),
            message: "internal: a rechunk stage over another operation".into(),
        });
    };
    let itemsize = node.itemsize();
    let mut mem = budget.max_mem;
    let mut fitting: Option<(RechunkPlan, Vec<u64>)> = None;
    let mut refused = None;
    // The planner's model is a store-to-store copy; a task here also runs
    // the fused chain under the rechunk and keeps copies of cut chunks.
    // Shrink the planner's budget until the tasks fit ours.
    for _ in 0..24 {
        let options = PlanOptions::new(itemsize, mem).with_workers(budget.workers);
        let plan = match plan_rechunk(input.grid(), node.grid(), &options) {
            Ok(plan) => plan,
            Err(e) => {
                refused = Some(e);
                break;
            }
        };
        let bytes = pass_bytes(&plan, input, itemsize, sink_bytes);
        let peak = bytes.iter().copied().max().unwrap_or(0);
        let fits_one = peak <= budget.max_mem;
        let fits_all = peak.saturating_mul(budget.workers) <= budget.max_mem;
        if fits_one {
            fitting = Some((plan, bytes));
        }
        if fits_all {
            break;
        }
        mem = mem.saturating_mul(3) / 4;
    }
    let Some((plan, pass_bytes)) = fitting else {
        let minimum =
            ndchunk_chunking::rechunk::minimum_budget(input.grid(), node.grid(), itemsize);
        return Err(Error::TaskTooLarge {
            operation: node.name().to_string(),
            needed: minimum.max(peak_bytes(input, input.grid().max_block_elements())),
            limit: budget.max_mem,
            suggestion: format!(
                "a rechunk from chunks of {:?} to {:?} needs at least one of each in memory{}; \
                 raise max_mem or choose smaller chunks",
                input.grid().chunk_shape(),
                node.grid().chunk_shape(),
                refused.map(|e| format!(" ({e})")).unwrap_or_default(),
            ),
        });
    };
    let mut fused = fused_ops(input);
    fused.push(format!(
        "{} ({} pass{})",
        node.name(),
        plan.passes.len(),
        if plan.passes.len() == 1 { "" } else { "es" }
    ));
    Ok(Stage {
        node: node.clone(),
        tasks: plan.passes.iter().map(CopyPass::tasks).sum(),
        task_bytes: pass_bytes.iter().copied().max().unwrap_or(0),
        fused,
        kind: StageKind::Rechunk { plan, pass_bytes },
    })
}

/// Projected peak bytes of one task of each pass: what it reads (the first
/// pass evaluates the chain under the rechunk over its block; later passes
/// read an intermediate's chunks from disk into the block, then convert it)
/// plus what it writes (a chunk cut out of the block and its raw bytes, or
/// what the sink holds).
fn pass_bytes(plan: &RechunkPlan, input: &Arc<Node>, itemsize: u64, sink_bytes: u64) -> Vec<u64> {
    let last = plan.passes.len().saturating_sub(1);
    plan.passes
        .iter()
        .enumerate()
        .map(|(k, pass)| {
            let block = pass.blocks.max_block_elements();
            let bytes = |elements: u64| elements.saturating_mul(itemsize);
            let read = if k == 0 {
                peak_bytes(input, block)
            } else {
                bytes(block)
                    .saturating_mul(2)
                    .saturating_add(bytes(pass.input_chunks.max_block_elements()))
            };
            // The cut chunk and its raw bytes (an intermediate, a spilled
            // result), or what the sink holds.
            let chunk = bytes(pass.output_chunks.max_block_elements());
            let sink = if k == last { sink_bytes } else { 0 };
            read.saturating_add(chunk.saturating_mul(2))
                .saturating_add(sink)
        })
        .collect()
}
