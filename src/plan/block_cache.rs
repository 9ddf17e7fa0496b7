//! How many bytes of cached nodes' blocks each stage keeps (see
//! [`NodeKind::Cached`]), decided when the plan is made.
//!
//! A stage's tasks run in C order of their blocks. A task reads blocks up
//! to `reach` blocks away along each axis, and the cache drops the least
//! recently used block when full: it computes each block once when it
//! holds the blocks read between two reads of one block, which is
//! `(2·reach + 1)` slabs of the outermost axis the halo crosses, plus
//! `2·reach` rows of each axis inside it (checked against a simulation of
//! the cache on 3-D grids), plus one block per worker running ahead. The window is what the budget has left beside
//! the results kept in memory and one task per worker; less is kept (and
//! some blocks computed again) when it does not fit.

use std::collections::HashSet;
use std::sync::Arc;

use super::{is_stage, PlanBudget, Residence, Stage, StageKind};
use crate::graph::{Node, NodeKind};

/// Sets every stage's `cache_bytes`.
pub(super) fn size_caches(stages: &mut [Stage], budget: &PlanBudget) {
    for i in 0..stages.len() {
        let wanted: u64 = cached_nodes(&stages[i])
            .iter()
            .map(|node| window_bytes(node, budget.workers))
            .fold(0, u64::saturating_add);
        if wanted == 0 {
            continue;
        }
        // Results kept in memory while the stage runs (its own included).
        let kept: u64 = stages[..=i]
            .iter()
            .filter(|s| s.freed_after.is_none_or(|f| f >= i))
            .map(|s| match s.residence {
                Residence::Memory { bytes } => bytes,
                _ => 0,
            })
            .fold(0, u64::saturating_add);
        let free = budget.max_mem.saturating_sub(kept);
        let tasks = stages[i].required_bytes();
        let parallel = tasks.saturating_mul(budget.workers);
        let room = if free > parallel {
            free - parallel
        } else {
            free.saturating_sub(tasks)
        };
        // Less than the largest block keeps nothing: every block would
        // bypass it.
        let largest_block = cached_nodes(&stages[i])
            .iter()
            .map(|n| n.grid().max_block_elements().saturating_mul(n.itemsize()))
            .max()
            .unwrap_or(0);
        let bytes = wanted.min(room);
        stages[i].cache_bytes = if bytes < largest_block { 0 } else { bytes };
    }
}

/// The cached nodes a stage's tasks evaluate (down to sources and other
/// stages' results).
fn cached_nodes(stage: &Stage) -> Vec<Arc<Node>> {
    let mut roots: Vec<&Arc<Node>> = stage.outputs.iter().map(|o| &o.node).collect();
    match (&stage.kind, stage.node.kind()) {
        (StageKind::Reduce { .. }, NodeKind::Reduce { input, .. })
        | (StageKind::Rechunk { .. }, NodeKind::Rechunk { input }) => roots.push(input),
        _ => roots.push(&stage.node),
    }
    let (mut seen, mut out) = (HashSet::new(), Vec::new());
    let mut stack = roots;
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id()) {
            continue;
        }
        if let NodeKind::Cached { .. } = node.kind() {
            out.push(node.clone());
        }
        for input in node.inputs() {
            if !is_stage(input) {
                stack.push(input);
            }
        }
    }
    out
}

/// Bytes of the blocks kept at once so that each block of `node` (a
/// cached node) is computed once.
fn window_bytes(node: &Node, workers: u64) -> u64 {
    let NodeKind::Cached { reach, .. } = node.kind() else {
        return 0;
    };
    let grid = node.grid();
    let counts: Vec<u64> = grid.axes().iter().map(|a| a.num_chunks()).collect();
    let reach: Vec<u64> = counts
        .iter()
        .zip(reach)
        .map(|(&n, &r)| r.min(n.saturating_sub(1)))
        .collect();
    let mut strides = vec![1u64; counts.len()];
    for a in (0..counts.len().saturating_sub(1)).rev() {
        strides[a] = strides[a + 1].saturating_mul(counts[a + 1]);
    }
    // Blocks between two reads of one block, least recently used first:
    // the outermost axis the halo crosses, its readers' slabs whole; the
    // inner axes, their readers' rows.
    let blocks = match reach.iter().position(|&r| r > 0) {
        None => 1,
        Some(outer) => (outer + 1..counts.len()).fold(
            (2 * reach[outer] + 1).saturating_mul(strides[outer]),
            |n, a| n.saturating_add((2 * reach[a]).saturating_mul(strides[a])),
        ),
    }
    .saturating_add(workers)
    .min(grid.num_blocks());
    blocks
        .saturating_mul(grid.max_block_elements())
        .saturating_mul(node.itemsize())
}
