//! Running reduction stages: each task folds one leaf (up to
//! `split_every` input blocks along the reduced axes, in block order) into
//! a partial, and partials combine in a fixed tree of fan-in
//! `split_every`, so the bits do not depend on the thread count. The
//! stages of a joint group (see `plan::shared_reads`) run as one stream
//! of tasks, in the order of the input blocks they read, so that the
//! chunks of the source they share are read once for all of them.

use std::collections::HashMap;
use std::iter::Peekable;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::run::{internal, Sink, StageRun};
use crate::error::{Error, Result};
use crate::exec::progress::{stage_bytes, StageBar};
use crate::exec::Reservation;
use crate::graph::{Node, NodeKind};
use crate::plan::shards::reduce_log;
use crate::plan::shared_reads::leaf_span;
use crate::plan::{Stage, StageKind};
use crate::runtime::block::{shape_of, Block};
use crate::runtime::eval::EvalContext;
use crate::runtime::eval_lanes::partial_lanes;

/// One task of a reduction stage: (output block, leaf).
type Leaf = (u64, u64);

/// The reservations of a task: its work, and the partial it makes.
type Held<'b> = Result<(Reservation<'b>, Reservation<'b>)>;

impl<'a> StageRun<'a> {
    /// Runs a reduction stage alone. With a journal (a stage whose
    /// result goes to the caller's store), each output block is recorded
    /// once written, and those an interrupted run wrote (or, for a shard,
    /// that another shard writes: shards take output blocks `o % count ==
    /// index`) are not computed.
    pub(super) fn run_reduce(&self, sink: &Sink<'_>, progress: &StageBar) -> Result<()> {
        let tree = Tree::new(self.stage);
        let log = reduce_log(self.index);
        let done = self.journaled(&log)?;
        let log = self.shard.map_or(log.clone(), |shard| shard.log(&log));
        let grid = self.stage.node.grid();
        let recorded = |index: &[u64], region: &ndchunk_chunking::Region, values: Block| {
            sink(index, region, values)?;
            self.record(&log, grid.linear_index(index)?)
        };
        let leaves = leaves_per_block(self.stage);
        let mut skipped = 0;
        let ran: Result<()> = self
            .leaves()
            .filter(|&(o, _)| self.shard.is_none_or(|shard| shard.takes(o)))
            .filter(|&(o, leaf)| {
                let skip = done.contains(&o);
                skipped += u64::from(skip && leaf == 0);
                !skip
            })
            .take_while(|_| !self.failed.load(Ordering::Relaxed))
            .map(|leaf| (self.admit(), leaf))
            .par_bridge()
            .try_for_each(|(held, leaf)| self.fold_leaf(&tree, held, leaf, &recorded, progress));
        ran?;
        if skipped > 0 {
            self.resumed(skipped * leaves, 0);
        }
        self.complete_shard(&log)
    }

    /// The stage's tasks, output block by output block.
    fn leaves(&self) -> impl Iterator<Item = Leaf> + 'a {
        let leaves = leaves_per_block(self.stage);
        (0..self.stage.node.grid().num_blocks()).flat_map(move |o| (0..leaves).map(move |l| (o, l)))
    }

    /// Admits a task: its work and its partial, in that order.
    fn admit(&self) -> Held<'a> {
        let name = self.stage.node.name();
        let acc_bytes = match self.stage.kind {
            StageKind::Reduce { acc_bytes, .. } => acc_bytes,
            _ => 0,
        };
        let work_bytes = self.stage.task_bytes.saturating_sub(acc_bytes);
        let work = self.budget.acquire(name, work_bytes)?;
        Ok((work, self.budget.acquire(name, acc_bytes)?))
    }

    /// Folds one leaf, files its partial in `tree` (the root goes to
    /// `sink`) and counts the task.
    fn fold_leaf(
        &self,
        tree: &Tree<'_, 'a>,
        held: Held<'a>,
        (o, leaf): Leaf,
        sink: &Sink<'_>,
        progress: &StageBar,
    ) -> Result<()> {
        let (work, acc) = held?;
        let partial = tree
            .leaf(o, leaf, &self.context())
            .map_err(|(b, e)| self.fail(&b, e))?;
        drop(work);
        tree.insert(o, leaf, partial, acc, sink)
            .map_err(|(b, e)| self.fail(&b, e))?;
        self.tasks_run.fetch_add(1, Ordering::Relaxed);
        let node = &self.stage.node;
        let bytes = if self.observer.watched() || progress.shown() {
            leaf_bytes(node, o, leaf)
        } else {
            0
        };
        progress.task_done(bytes);
        self.observer.task_done(self.index, node.name(), bytes);
        Ok(())
    }

    /// Where a task stops reading: its last input block, as a linear
    /// index of the input's grid (how a joint group orders its tasks).
    fn last_block(&self, (o, leaf): Leaf) -> u64 {
        let NodeKind::Reduce {
            input,
            axes,
            keepdims,
            split_every,
            ..
        } = self.stage.node.kind()
        else {
            return 0;
        };
        let grid = input.grid();
        let Ok(out_index) = self.stage.node.grid().block_index(o) else {
            return 0;
        };
        let along: Vec<u64> = axes.iter().map(|&a| grid.axis(a).num_chunks()).collect();
        let total: u64 = along.iter().product();
        let j = ((leaf + 1) * (*split_every).max(2))
            .min(total)
            .saturating_sub(1);
        let index = input_block(&out_index, j, axes, &along, *keepdims, grid.ndim());
        grid.linear_index(&index).unwrap_or(0)
    }
}

/// A reduction stage's leaves (tasks) per output block, as planned.
fn leaves_per_block(stage: &Stage) -> u64 {
    match stage.kind {
        StageKind::Reduce {
            leaves_per_block, ..
        } => leaves_per_block,
        _ => 0,
    }
}

/// Runs the reduction stages of a joint group as one stream of tasks:
/// each stage's tasks in its own order, merged by the last input block
/// each reads, so the readers of a shared chunk run close together and
/// find it in the stage cache. The stages are ranked by how many blocks a
/// task reads, and each task is placed one block later per stage ranked
/// before its own: the readers of one chunk are then not side by side in
/// the stream (two workers would wait on one decode), and a task folding
/// many blocks comes after the short ones that read them first. Each
/// stage keeps its own tree.
pub(super) fn run_joint(runs: &[StageRun<'_>], sinks: &[Box<Sink<'_>>]) -> Result<()> {
    let names: Vec<&str> = runs.iter().map(|r| r.stage.node.name()).collect();
    let tasks: u64 = runs.iter().map(|r| r.stage.tasks).sum();
    let bytes = runs.iter().map(|r| stage_bytes(r.stage)).sum();
    let show = runs.iter().any(|r| r.show) && tasks > 1;
    let progress = StageBar::new(&names.join(" + "), bytes, show);
    let trees: Vec<Tree<'_, '_>> = runs.iter().map(|r| Tree::new(r.stage)).collect();
    let mut by_span: Vec<usize> = (0..runs.len()).collect();
    by_span.sort_by_key(|&k| leaf_span(runs[k].stage));
    let mut streams: Vec<Peekable<_>> = runs
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let delay = by_span.iter().position(|&m| m == k).unwrap_or(0) as u64;
            r.leaves()
                .map(move |leaf| (r.last_block(leaf).saturating_add(delay), leaf))
                .peekable()
        })
        .collect();
    let merged = std::iter::from_fn(move || {
        let k = (0..streams.len())
            .filter_map(|k| streams[k].peek().map(|&(at, _)| (at, k)))
            .min()?
            .1;
        streams[k].next().map(|(_, leaf)| (k, leaf))
    });
    let failed = || runs.iter().any(|r| r.failed.load(Ordering::Relaxed));
    let result = merged
        .take_while(|_| !failed())
        .map(|(k, leaf)| (runs[k].admit(), k, leaf))
        .par_bridge()
        .try_for_each(|(held, k, leaf)| {
            runs[k].fold_leaf(&trees[k], held, leaf, &*sinks[k], &progress)
        });
    progress.finish();
    if result.is_ok() {
        for run in runs {
            run.observer.stage_done(run.index, run.stage.node.name());
        }
    }
    result
}

/// Partial results of the output blocks being reduced, by
/// (output block, level, index); a group of `split_every` siblings is
/// combined, in index order, by whichever task delivers its last member.
pub(super) struct Tree<'a, 'b> {
    node: &'a Arc<Node>,
    leaves: u64,
    slots: Mutex<HashMap<Slot, (Block, Reservation<'b>)>>,
}

type Located = (Vec<u64>, Error);

/// (output block, tree level, index within the level).
type Slot = (u64, u32, u64);

impl<'a, 'b> Tree<'a, 'b> {
    /// The tree of a reduction stage: its leaves per output block are
    /// the plan's.
    fn new(stage: &'a Stage) -> Self {
        Self {
            node: &stage.node,
            leaves: leaves_per_block(stage),
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn parts(
        &self,
    ) -> (
        &Arc<Node>,
        &dyn crate::graph::Reduction,
        &[usize],
        bool,
        u64,
    ) {
        match self.node.kind() {
            NodeKind::Reduce {
                input,
                reduction,
                axes,
                keepdims,
                split_every,
            } => (
                input,
                reduction.as_ref(),
                axes,
                *keepdims,
                (*split_every).max(2),
            ),
            _ => unreachable!("a reduce stage's node is a reduction"),
        }
    }

    /// Folds the input blocks of one leaf, in block order.
    fn leaf(&self, o: u64, leaf: u64, ctx: &EvalContext<'_>) -> Result<Block, Located> {
        let (input, reduction, axes, keepdims, s) = self.parts();
        let out_index = self
            .node
            .grid()
            .block_index(o)
            .map_err(|e| (vec![o], e.into()))?;
        let along: Vec<u64> = axes
            .iter()
            .map(|&a| input.grid().axis(a).num_chunks())
            .collect();
        let total: u64 = along.iter().product();
        let mut acc: Option<Block> = None;
        for j in leaf * s..((leaf + 1) * s).min(total) {
            let index = input_block(&out_index, j, axes, &along, keepdims, input.grid().ndim());
            let previous = acc.take();
            let step = || -> Result<Block> {
                let region = input.grid().block_region(&index)?;
                let part = partial_lanes(input, reduction, axes, &region, ctx)?;
                match previous {
                    None => Ok(part),
                    Some(a) => reduction.combine(a, part),
                }
            };
            acc = Some(step().map_err(|e| (index.clone(), e))?);
        }
        acc.ok_or_else(|| (out_index, internal(self.node, LOST_PARTIAL)))
    }

    /// Files a leaf's partial; combines every group it completes, up to
    /// the root, which goes to `sink`.
    fn insert(
        &self,
        o: u64,
        leaf: u64,
        partial: Block,
        held: Reservation<'b>,
        sink: &Sink<'_>,
    ) -> Result<(), Located> {
        let (_, reduction, _, _, s) = self.parts();
        let (mut level, mut index, mut width) = (0u32, leaf, self.leaves);
        let mut item = (partial, held);
        let located = |e: Error| (vec![o], e);
        loop {
            if width == 1 {
                let grid = self.node.grid();
                let out_index = grid.block_index(o).map_err(|e| located(e.into()))?;
                let region = grid
                    .block_region(&out_index)
                    .map_err(|e| located(e.into()))?;
                let value = reduction
                    .finish(item.0, &shape_of(&region))
                    .map_err(|e| (out_index.clone(), e))?;
                return sink(&out_index, &region, value).map_err(|e| (out_index, e));
            }
            let group = index / s;
            let members = group * s..((group + 1) * s).min(width);
            let siblings = {
                let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
                slots.insert((o, level, index), item);
                if members.clone().all(|k| slots.contains_key(&(o, level, k))) {
                    members
                        .map(|k| slots.remove(&(o, level, k)))
                        .collect::<Option<Vec<_>>>()
                } else {
                    None
                }
            };
            let Some(siblings) = siblings else {
                return Ok(());
            };
            let mut siblings = siblings.into_iter();
            let Some((mut acc, held)) = siblings.next() else {
                return Err(located(internal(self.node, LOST_PARTIAL)));
            };
            for (other, other_held) in siblings {
                acc = reduction.combine(acc, other).map_err(located)?;
                drop(other_held);
            }
            item = (acc, held);
            index = group;
            level += 1;
            width = width.div_ceil(s);
        }
    }
}

/// The input block at position `j` (C order over the reduced axes) under
/// output block `out_index`.
fn input_block(
    out_index: &[u64],
    mut j: u64,
    axes: &[usize],
    along: &[u64],
    keepdims: bool,
    ndim: usize,
) -> Vec<u64> {
    let mut digits = vec![0u64; along.len()];
    for (d, &n) in digits.iter_mut().zip(along).rev() {
        *d = j % n;
        j /= n;
    }
    let mut kept = 0;
    (0..ndim)
        .map(|axis| match axes.iter().position(|&a| a == axis) {
            Some(k) => digits[k],
            None => {
                let at = if keepdims { axis } else { kept };
                kept += 1;
                out_index[at]
            }
        })
        .collect()
}

/// Bytes of the input blocks that leaf `leaf` of output block `o` folds.
fn leaf_bytes(node: &Node, o: u64, leaf: u64) -> u64 {
    let NodeKind::Reduce {
        input,
        axes,
        keepdims,
        split_every,
        ..
    } = node.kind()
    else {
        return 0;
    };
    let Ok(out_index) = node.grid().block_index(o) else {
        return 0;
    };
    let s = (*split_every).max(2);
    let grid = input.grid();
    let along: Vec<u64> = axes.iter().map(|&a| grid.axis(a).num_chunks()).collect();
    let total: u64 = along.iter().product();
    (leaf * s..((leaf + 1) * s).min(total))
        .map(|j| input_block(&out_index, j, axes, &along, *keepdims, grid.ndim()))
        .filter_map(|index| grid.block_region(&index).ok())
        .map(|r| r.num_elements() * input.itemsize())
        .sum()
}

const LOST_PARTIAL: &str = "a reduction tree lost a partial";
