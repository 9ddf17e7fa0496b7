//! Where each stage's result lives and when it is freed, decided when the
//! plan is made (so `explain` shows it) and carried out by the executor.
//!
//! A result that later stages read is kept whole in memory, counted in the
//! budget until it is freed, when it fits beside the largest task still to
//! run and the results already kept; otherwise it is spilled block by block
//! to a scratch store on disk. It is freed once the last stage that reads
//! it has run (reference counts at stage granularity). The result of a
//! stage that makes an output of the run goes to the caller.

use std::collections::HashMap;
use std::sync::Arc;

use ndchunk_chunking::Region;

use super::shared_reads::group_required_bytes;
use super::{is_stage, Stage, StageKind};
use crate::graph::Node;

/// Where a stage's result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Residence {
    /// To the caller (an in-memory result, a store's chunks).
    Sink,
    /// Kept whole in memory: `bytes` counted in the budget until freed.
    Memory {
        /// Bytes of the whole result.
        bytes: u64,
    },
    /// Written block by block to a scratch store on disk, read back by
    /// region.
    Spilled {
        /// Bytes of the whole result.
        bytes: u64,
    },
}

/// Decides every stage's residence and the stage after which its result
/// is freed (`None` for a stage whose result goes to the caller).
pub(super) fn place_results(stages: &mut [Stage], max_mem: u64) {
    let last_reader = last_readers(stages);
    let n = stages.len();
    // Results kept in memory so far: (bytes, freed after stage).
    let mut kept: Vec<(u64, usize)> = Vec::new();
    for i in 0..n {
        // Results whose last reader ran before this stage are free again.
        kept.retain(|&(_, freed)| freed >= i);
        let kept_bytes: u64 = kept.iter().map(|&(b, _)| b).sum();
        let id = stages[i].node.id();
        if !stages[i].outputs.is_empty() {
            stages[i].residence = Residence::Sink;
            stages[i].freed_after = None;
            continue;
        }
        let node = &stages[i].node;
        let bytes = Region::from_shape(&node.grid().shape())
            .num_elements()
            .saturating_mul(node.itemsize());
        // (A stage of a joint group runs with the rest of its group.)
        let largest_task = (i..n)
            .map(|k| group_required_bytes(stages, k))
            .max()
            .unwrap_or(0);
        let freed = last_reader.get(&id).copied().unwrap_or(i);
        let in_memory = bytes.saturating_add(largest_task) <= max_mem.saturating_sub(kept_bytes);
        stages[i].freed_after = Some(freed);
        stages[i].residence = if in_memory {
            kept.push((bytes, freed));
            Residence::Memory { bytes }
        } else {
            Residence::Spilled { bytes }
        };
    }
}

/// For each result a stage materialises, the index of the last stage that
/// reads it.
fn last_readers(stages: &[Stage]) -> HashMap<u64, usize> {
    fn visit(node: &Arc<Node>, seen: &mut Vec<u64>, out: &mut Vec<u64>) {
        if seen.contains(&node.id()) {
            return;
        }
        seen.push(node.id());
        if is_stage(node) {
            out.push(node.id());
            return;
        }
        for input in node.inputs() {
            visit(input, seen, out);
        }
    }
    let mut last = HashMap::new();
    for (i, stage) in stages.iter().enumerate() {
        // A stage evaluates what it makes from its inputs down to sources
        // and earlier stages' results: a reduction or rechunk stage its
        // node; a blocks stage every output it makes, where an output that
        // is an earlier stage's result is copied out of it.
        let mut read = Vec::new();
        let mut seen = Vec::new();
        let made: Vec<&Arc<Node>> = match (&stage.kind, stage.outputs.is_empty()) {
            (StageKind::Blocks, false) => stage.outputs.iter().map(|o| &o.node).collect(),
            _ => vec![&stage.node],
        };
        for node in made {
            if matches!(stage.kind, StageKind::Blocks) && is_stage(node) {
                read.push(node.id());
                continue;
            }
            seen.push(node.id());
            for input in node.inputs() {
                visit(input, &mut seen, &mut read);
            }
        }
        for id in read {
            last.insert(id, i);
        }
    }
    last
}
