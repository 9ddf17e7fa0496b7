//! Reductions that read the same source run together, so that each of
//! the source's chunks is read (decoded) once for all of them.
//!
//! A climate summary reduces one variable three ways: over time by month
//! (a climatology), and over latitude and longitude twice (a weighted sum
//! and the sum of the weights present). Each reduction is a stage of its
//! own, and each stage would decode every chunk of the source again. When
//! such stages do not read each other's results, the plan moves them next
//! to each other and marks them *joint*: the executor runs their tasks as
//! one stream, in the order of the source blocks they read, and keeps the
//! source's decoded chunks in the stage's [`BlockCache`] for the other
//! readers (lent, not copied, where a reader goes lane by lane). Each
//! reduction keeps its own leaves and combine tree, so its bits are those
//! of the reduction run alone.
//!
//! [`BlockCache`]: crate::runtime::block_cache::BlockCache

use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

use super::{is_stage, reads, PlanBudget, Residence, Stage, StageKind};
use crate::graph::{Node, NodeKind};

/// Moves reductions that read a common source, and do not read each
/// other's results, next to the first of them, marking them joint with
/// it. A group's tasks all run at once, so a group holds at most half of
/// `max_mem` in task bytes and partials (the rest is for the results kept
/// and the shared chunks).
pub(super) fn join_reductions(stages: &mut Vec<Stage>, max_mem: u64) {
    let mut first = 0;
    while first < stages.len() {
        let mut sources = lendable_sources(&stages[first]);
        if !reads_in_order(&stages[first]) || sources.is_empty() {
            first += 1;
            continue;
        }
        let mut end = first + 1;
        let mut bytes = stages[first].required_bytes();
        let mut shared: HashSet<u64> = HashSet::new();
        for j in first + 1..stages.len() {
            if !reads_in_order(&stages[j]) {
                continue;
            }
            let theirs = lendable_sources(&stages[j]);
            let common: Vec<u64> = theirs.intersection(&sources).copied().collect();
            let total = bytes.saturating_add(stages[j].required_bytes());
            // Moved up past stages [end, j): it must read none of them (nor
            // the group's results); none of them reads it, being before it.
            let input = reduce_input(&stages[j]);
            let independent = stages[first..j]
                .iter()
                .all(|earlier| input.id() != earlier.node.id() && !reads(&[input], &earlier.node));
            if common.is_empty() || total > max_mem / 2 || !independent {
                continue;
            }
            let stage = stages.remove(j);
            stages.insert(end, stage);
            stages[end].joint = true;
            end += 1;
            bytes = total;
            shared.extend(common);
            sources.extend(theirs);
        }
        if end > first + 1 {
            let shares: Vec<Arc<Node>> = source_nodes(&stages[first])
                .into_iter()
                .filter(|s| shared.contains(&s.id()))
                .collect();
            for stage in &mut stages[first..end] {
                stage.shares = shares.clone();
            }
        }
        first = end;
    }
}

/// The stages that run together with stage `k` (itself alone, unless it
/// is in a joint group).
pub(crate) fn group_of(stages: &[Stage], k: usize) -> Range<usize> {
    let mut start = k;
    while start > 0 && stages[start].joint {
        start -= 1;
    }
    let mut end = k + 1;
    while end < stages.len() && stages[end].joint {
        end += 1;
    }
    start..end
}

/// The bytes that must fit `max_mem` while stage `k` runs: its group's
/// tasks and partials, all at once.
pub(super) fn group_required_bytes(stages: &[Stage], k: usize) -> u64 {
    stages[group_of(stages, k)]
        .iter()
        .map(Stage::required_bytes)
        .fold(0, u64::saturating_add)
}

/// Adds to the first stage of each group the bytes of the shared
/// sources' chunks kept while it runs: those read between a chunk's
/// first and last reader, so that none is read twice. A chunk's last
/// reader is a task folding up to a leaf's span of blocks after it (one
/// block later per member, the executor's order), and the task before it
/// touched a span of older blocks again: twice the members' spans, plus
/// one block per member and per worker running ahead. Within what the
/// budget leaves beside the results kept in memory and the group's tasks.
pub(super) fn size_shared_caches(stages: &mut [Stage], budget: &PlanBudget) {
    let mut k = 0;
    while k < stages.len() {
        let group = group_of(stages, k);
        k = group.end;
        if group.len() < 2 {
            continue;
        }
        let members = &stages[group.clone()];
        let span: u64 = members.iter().map(leaf_span).fold(0, u64::saturating_add);
        let wanted: u64 = members[0]
            .shares
            .iter()
            .map(|source| {
                let block = source
                    .grid()
                    .max_block_elements()
                    .saturating_mul(source.itemsize());
                let delays = members.len() as u64;
                span.saturating_mul(2)
                    .saturating_add(delays)
                    .saturating_add(budget.workers)
                    .min(source.grid().num_blocks())
                    .saturating_mul(block)
            })
            .fold(0, u64::saturating_add);
        let kept: u64 = stages[..group.end]
            .iter()
            .filter(|s| s.freed_after.is_none_or(|f| f >= group.start))
            .map(|s| match s.residence {
                Residence::Memory { bytes } => bytes,
                _ => 0,
            })
            .fold(0, u64::saturating_add);
        let own: u64 = members.iter().map(|s| s.cache_bytes).sum();
        let room = budget
            .max_mem
            .saturating_sub(kept)
            .saturating_sub(group_required_bytes(stages, group.start))
            .saturating_sub(own);
        let first = &mut stages[group.start];
        first.cache_bytes = first.cache_bytes.saturating_add(wanted.min(room));
    }
}

/// Input blocks one task of a reduction stage folds, at most.
pub(crate) fn leaf_span(stage: &Stage) -> u64 {
    match (&stage.kind, stage.node.kind()) {
        (StageKind::Reduce { split_every, .. }, NodeKind::Reduce { input, axes, .. }) => {
            let along: u64 = axes
                .iter()
                .map(|&a| input.grid().axis(a).num_chunks())
                .product();
            along.min(*split_every).max(1)
        }
        _ => 1,
    }
}

/// Whether a stage is a reduction whose tasks, in the order they run
/// (output block by output block, then its leaves), start at input blocks
/// in C order: every axis it keeps that has several blocks comes before
/// every axis it reduces that has several. Merged by where they start, the
/// tasks of such stages read a chunk close together (within the span of a
/// leaf), so a small cache serves them all; other orders would read it
/// again.
fn reads_in_order(stage: &Stage) -> bool {
    let (StageKind::Reduce { .. }, NodeKind::Reduce { input, axes, .. }) =
        (&stage.kind, stage.node.kind())
    else {
        return false;
    };
    let split: Vec<usize> = (0..input.grid().ndim())
        .filter(|&a| input.grid().axis(a).num_chunks() > 1)
        .collect();
    let last_kept = split.iter().filter(|a| !axes.contains(a)).max();
    let first_reduced = split.iter().filter(|a| axes.contains(a)).min();
    match (last_kept, first_reduced) {
        (Some(kept), Some(reduced)) => kept < reduced,
        _ => true,
    }
}

/// What a reduction stage's tasks evaluate.
fn reduce_input(stage: &Stage) -> &Arc<Node> {
    match stage.node.kind() {
        NodeKind::Reduce { input, .. } => input,
        _ => &stage.node,
    }
}

/// Ids of [`source_nodes`].
fn lendable_sources(stage: &Stage) -> HashSet<u64> {
    source_nodes(stage).iter().map(|s| s.id()).collect()
}

/// The sources a reduction stage's tasks read chunk by chunk (sources
/// that lend a chunk as decoded: stores), down to other stages' results.
fn source_nodes(stage: &Stage) -> Vec<Arc<Node>> {
    if !matches!(stage.kind, StageKind::Reduce { .. }) {
        return Vec::new();
    }
    let (mut seen, mut out) = (HashSet::new(), Vec::new());
    let mut todo = vec![reduce_input(stage)];
    while let Some(node) = todo.pop() {
        if !seen.insert(node.id()) || is_stage(node) {
            continue;
        }
        if let NodeKind::Source {
            hold: Some(_),
            store: Some(_),
            ..
        } = node.kind()
        {
            out.push(node.clone());
        }
        todo.extend(node.inputs());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ndchunk_chunking::ChunkGrid;
    use ndchunk_io::{ArrayMeta, DType, MemoryStore, Scalar};

    use crate::plan::{Plan, PlanBudget};
    use crate::Array;

    /// A (40, 30) float64 store in (10, 10) chunks (all fill values).
    fn source() -> Array<f64> {
        let grid = ChunkGrid::regular(&[40, 30], &[10, 10]).unwrap();
        let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(1.0));
        Array::from_store(Arc::new(MemoryStore::new("x", meta))).unwrap()
    }

    #[test]
    fn reductions_of_one_source_run_together_unless_one_reads_another() {
        let a = source();
        let mean = a.mean([1], true);
        let spread = (&a - &mean).std([1], false, 0);
        let roots = [
            a.sum([1], false).node().clone(),
            a.max([0, 1], false).node().clone(),
            spread.node().clone(),
            mean.node().clone(),
            // Over the outer axis, split along the inner one: its tasks
            // would read chunks in another order, so it runs alone.
            a.min([0], false).node().clone(),
        ];
        let plan = Plan::for_outputs(&roots, &PlanBudget::new(1 << 30, 2)).unwrap();
        let stages = plan.stages();
        let names: Vec<(&str, bool)> = stages.iter().map(|s| (s.operation(), s.joint)).collect();
        // The mean joins the sum and the max; the spread reads the mean,
        // so it runs after the three.
        assert_eq!(
            &names[..5],
            [
                ("sum", false),
                ("max", true),
                ("mean", true),
                ("std", false),
                ("min", false)
            ],
            "{plan}"
        );
        assert_eq!(stages[0].shares.len(), 1);
        assert!(stages[0].cache_bytes > 0, "{plan}");
        assert!(plan.to_string().contains("runs with stages 1, 2"), "{plan}");
    }

    #[test]
    fn a_group_holds_at_most_half_the_budget() {
        let a = source();
        let roots = [
            a.sum([1], false).node().clone(),
            a.max([0, 1], false).node().clone(),
        ];
        let plan = Plan::for_outputs(&roots, &PlanBudget::new(1 << 30, 2)).unwrap();
        let both = plan.stages()[0].required_bytes() + plan.stages()[1].required_bytes();
        assert!(plan.stages()[1].joint);
        let plan = Plan::for_outputs(&roots, &PlanBudget::new(2 * both - 2, 2)).unwrap();
        assert!(plan.stages().iter().all(|s| !s.joint), "{plan}");
    }
}
