//! One fused task: everything between a stage's output and its sources
//! (or earlier stages' results) runs as one kernel per output block. This
//! module names what fused into it and projects its peak bytes.

use std::collections::HashSet;
use std::sync::Arc;

use crate::graph::{MapRegions, Node, NodeKind};

/// The operations fused under `node`, inputs before consumers, each once;
/// the walk stops at other stages' results (reductions, rechunks that cut
/// chunks), which appear as `read <name>`.
pub(crate) fn fused_ops(node: &Arc<Node>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    walk(node, &mut seen, &mut out);
    out
}

fn walk(node: &Arc<Node>, seen: &mut HashSet<u64>, out: &mut Vec<String>) {
    if !seen.insert(node.id()) {
        return;
    }
    if super::is_stage(node) {
        out.push(format!("read {}", node.name()));
        return;
    }
    for input in node.inputs() {
        walk(input, seen, out);
    }
    out.push(node.name().to_string());
}

/// Projected peak bytes of evaluating `node` over a region of `elements`
/// elements: its output, plus every input evaluated for it, plus a
/// source's decode scratch. Conservative: it counts every intermediate of
/// the chain as alive at once (in-place kernels reuse some of them).
///
/// A node read by several consumers over the same region is evaluated
/// once and kept (the evaluator's memo): its subtree is counted at its
/// first read, and each later read counts only the kept copy. Reads are
/// told apart by node and size, not by region, so two reads of one node
/// over different regions of one size (`a[1:] - a[:-1]`) count the second
/// as the copy only: an approximation, where the rest is conservative. So the
/// estimate, and its cost, grow with the distinct nodes of the chain, not
/// with its paths (a chain of 64 diamonds has 2^64 paths).
pub(crate) fn peak_bytes(node: &Arc<Node>, elements: u64) -> u64 {
    peak(node, elements, &mut HashSet::new())
}

fn peak(node: &Arc<Node>, elements: u64, counted: &mut HashSet<(u64, u64)>) -> u64 {
    let own = elements.saturating_mul(node.itemsize());
    if !counted.insert((node.id(), elements)) {
        return own;
    }
    let mut peak_bytes = |n: &Arc<Node>, e: u64| peak(n, e, counted);
    // Materialised by its own stage: a slice copy.
    if super::is_stage(node) {
        return own;
    }
    match node.kind() {
        NodeKind::Source { scratch_bytes, .. } => own.saturating_add(*scratch_bytes),
        NodeKind::Map {
            inputs, regions, ..
        } => match regions {
            MapRegions::Any => inputs
                .iter()
                .fold(own, |acc, i| acc.saturating_add(peak_bytes(i, elements))),
            // A whole-block kernel asked for part of a block computes the
            // whole block, then cuts it; it reads its inputs over the
            // region the block needs.
            MapRegions::Blocks(block_inputs) => {
                let block = node.grid().max_block_elements();
                let extra = if block > elements {
                    block.saturating_mul(node.itemsize())
                } else {
                    0
                };
                inputs.iter().fold(own.saturating_add(extra), |acc, i| {
                    acc.saturating_add(peak_bytes(i, block_inputs.max_elements()))
                })
            }
        },
        NodeKind::Rechunk { input } => {
            let piece = elements.min(input.grid().max_block_elements());
            own.saturating_add(peak_bytes(input, piece))
        }
        // A region is scanned from the start of its block along the axis
        // (at most a block more), beside its carries and the scanned copy.
        NodeKind::Scan { input, carries, .. } => {
            let e = elements.max(input.grid().max_block_elements());
            own.saturating_add(e.saturating_mul(node.itemsize()))
                .saturating_add(peak_bytes(input, e))
                .saturating_add(peak_bytes(carries, elements))
        }
        // One piece pulled at a time, plus its transformed copy.
        NodeKind::Layout { inputs, op } => {
            let pulled = inputs
                .iter()
                .enumerate()
                .map(|(i, input)| peak_bytes(input, op.pull_elements(i, elements)))
                .max()
                .unwrap_or(0);
            own.saturating_mul(2).saturating_add(pulled)
        }
        // A piece cut from kept blocks (counted in the stage's cache
        // bytes), beside the computation of one whole block on a miss.
        NodeKind::Cached { input, .. } => {
            own.saturating_add(peak_bytes(input, input.grid().max_block_elements()))
        }
        NodeKind::Reduce { .. } | NodeKind::Invalid { .. } => own,
    }
}
