//! A rechunk that cuts input chunks, as a stage of its own, planned by the
//! rechunk planner (`ndchunk_chunking::rechunk`, the one `chunkctl rechunk`
//! uses): each input chunk is evaluated once per pass, not once for every
//! new block it meets, and a rechunk larger than the budget goes through
//! intermediate stores on disk (Rechunker's algorithm).

use std::sync::Arc;

use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions, RechunkPlan, TaskCost, TaskShape};
use ndchunk_chunking::{format_bytes, ChunkGrid, ChunkingError};

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
        return Err(Error::Internal {
            operation: node.name().to_string(),
            message: "a rechunk stage over another operation".into(),
        });
    };
    let itemsize = node.itemsize();
    // The planner sizes blocks with the engine's own count of a task, so
    // its plan fits the budget as it is.
    let mut options = PlanOptions::new(itemsize, budget.max_mem).with_workers(budget.workers);
    options.task_cost = Some(engine_task_cost(input.clone(), itemsize, sink_bytes));
    let fits = |max_mem: u64| -> std::result::Result<Option<RechunkPlan>, ChunkingError> {
        let mut options = options.clone();
        options.max_mem = max_mem;
        match plan_rechunk(input.grid(), node.grid(), &options) {
            Ok(plan) if plan.task_peak_bytes <= max_mem => Ok(Some(plan)),
            Ok(_) | Err(ChunkingError::BudgetTooSmall { .. }) => Ok(None),
            Err(refused) => Err(refused),
        }
    };
    let plan = match fits(budget.max_mem)? {
        Some(plan) => plan,
        None => {
            let smallest = smallest_budget(budget.max_mem, &fits)?;
            return Err(Error::TaskTooLarge {
                operation: node.name().to_string(),
                needed: smallest,
                limit: budget.max_mem,
                suggestion: format!(
                    "no plan of a rechunk from chunks of {:?} to {:?} needs less; raise \
                     max_mem to {}, or choose smaller chunks",
                    input.grid().chunk_shape(),
                    node.grid().chunk_shape(),
                    format_bytes(smallest),
                ),
            });
        }
    };
    let pass_bytes: Vec<u64> = plan.passes.iter().map(|p| p.task_peak_bytes).collect();
    let mut fused = fused_ops(input);
    fused.push(format!(
        "{} ({} pass{})",
        node.name(),
        plan.passes.len(),
        if plan.passes.len() == 1 { "" } else { "es" }
    ));
    Ok(Stage {
        node: node.clone(),
        tasks: plan
            .passes
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.tasks())),
        task_bytes: pass_bytes.iter().copied().max().unwrap_or(0),
        fused,
        kind: StageKind::Rechunk { plan, pass_bytes },
        residence: super::Residence::Sink,
        cache_bytes: 0,
        freed_after: None,
        outputs: Vec::new(),
        joint: false,
        shares: Vec::new(),
    })
}

/// The smallest budget (to 1%, or to 4 KiB for small ones) above `refused`
/// at which `fits` finds a plan: doubled until one fits, then bisected.
/// Planning takes micro- to milliseconds, so the few dozen plans are cheap.
fn smallest_budget(
    refused: u64,
    fits: &dyn Fn(u64) -> std::result::Result<Option<RechunkPlan>, ChunkingError>,
) -> Result<u64> {
    let (mut low, mut high) = (refused, refused.max(1 << 10));
    loop {
        high = high.saturating_mul(2);
        if fits(high)?.is_some() {
            break;
        }
        if high == u64::MAX {
            return Ok(u64::MAX);
        }
        low = high;
    }
    while high - low > (high / 100).max(4 << 10) {
        let middle = low + (high - low) / 2;
        if fits(middle)?.is_some() {
            high = middle;
        } else {
            low = middle;
        }
    }
    Ok(high)
}

/// The engine's projected peak bytes of one task of a pass: what it reads
/// (the first pass evaluates the chain under the rechunk over its block;
/// later passes read an intermediate's chunks from disk into the block,
/// then convert it) plus what it writes (a chunk cut out of the block and
/// its raw bytes, or, in the last pass, what the sink holds).
fn engine_task_cost(input: Arc<Node>, itemsize: u64, sink_bytes: u64) -> TaskCost {
    TaskCost(Arc::new(move |task: &TaskShape| {
        let bytes = |elements: u64| elements.saturating_mul(itemsize);
        let read = if task.reads_source {
            peak_bytes(&input, task.block_elements)
        } else {
            bytes(task.block_elements)
                .saturating_mul(2)
                .saturating_add(bytes(task.input_chunk_elements))
        };
        let chunk = bytes(task.output_chunk_elements);
        let sink = if task.writes_target { sink_bytes } else { 0 };
        read.saturating_add(chunk.saturating_mul(2))
            .saturating_add(sink)
    }))
}
