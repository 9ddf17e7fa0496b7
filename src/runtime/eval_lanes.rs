//! A task's fused elementwise chain run lane by lane. Evaluating a chain
//! block by block makes every intermediate (`a * 2`, `+ b`, …) a pass over
//! memory that does not fit in cache, and copies each source block first.
//! Here the chain is compiled, once per task, into a small program: one
//! step per elementwise node that has a lane kernel, reading *leaves*, the
//! values the chain starts from, where they lie. The task's region is then
//! walked in runs that are contiguous in every leaf, cut into lanes of
//! [`LANE_ELEMENTS`], and each lane goes through every step while it is in
//! L1, the next lane's leaves prefetched meanwhile: memory is read once,
//! as by a hand-written loop, and no source is copied.
//!
//! A leaf is a source that lends its values (an in-memory array, one
//! decoded chunk of a store) or any other node (a `map_blocks`, a scan, a
//! layout operation, a rechunk, an earlier stage's result, a constant),
//! evaluated once over the whole task region as without lanes.
//!
//! Lanes depend only on the task's region and the leaves' boxes (so on the
//! grids), never on threads. An elementwise result is the same bits run by
//! lanes or not; a reduction folds lanes in their order, fixed by the grid.

use std::collections::HashMap;
use std::sync::Arc;

use ndchunk_chunking::Region;

use crate::error::{Error, Result};
use crate::graph::{MapRegions, Node, NodeKind, Reduction};
use crate::runtime::block::shape_of;
use crate::runtime::block::Block;
use crate::runtime::eval::{eval, shared_nodes, EvalContext};
use crate::runtime::lanes::{Held, LaneFn};
use crate::runtime::lanes::{Lane, LaneBuf};

/// Elements of one lane: 2 KiB of float64, so that a chain's lanes stay
/// in L1, and short enough that the loads of the next lane (prefetched
/// while this one computes) overlap the arithmetic as in a hand loop.
/// Measured on bench 4: 256 with prefetch ~1.1–1.2x a hand loop; 1024 or
/// more, or no prefetch, ~1.4–1.5x.
pub(crate) const LANE_ELEMENTS: usize = 256;

/// Inputs a step may read (elementwise kernels take one to three).
const MAX_ARGS: usize = 4;

/// `node` over `region`: the same values as [`eval`], lane by lane where
/// `node` is an elementwise node with a lane kernel and the region is
/// more than a lane.
pub(crate) fn eval_lanes(
    node: &Arc<Node>,
    region: &Region,
    ctx: &EvalContext<'_>,
) -> Result<Block> {
    if !worth_lanes(region) || !is_step(node, ctx) {
        return eval(node, region, ctx);
    }
    let mut program = Program::compile(node, region, ctx, None)?;
    let ty = node.block_type();
    let mut out = ty.lane_buffer(region.num_elements() as usize);
    program.run(region, &[], &mut |lane, at, _| out.write(at, lane))?;
    ty.buffer_into_block(out, &shape_of(region))
}

/// The partial result of `reduction` over `axes` of `input` over `region`
/// (a block of `input`'s grid): folded lane by lane where the reduction
/// has a lane fold, else from the whole block.
pub(crate) fn partial_lanes(
    input: &Arc<Node>,
    reduction: &dyn Reduction,
    axes: &[usize],
    region: &Region,
    ctx: &EvalContext<'_>,
) -> Result<Block> {
    // Whatever the input, so that the order of the sums never depends on
    // how the input is had (lent, read, or evaluated).
    let Some(fold) = reduction.lane_fold().filter(|_| worth_lanes(region)) else {
        // The whole block, made lane by lane from leaves lent where they
        // lie (a chunk as decoded, not a copy of it).
        return reduction.partial(eval_lanes(input, region, ctx)?, axes, region);
    };
    let reduced: Vec<bool> = (0..region.ndim()).map(|a| axes.contains(&a)).collect();
    let first = fold_run_axis(&reduced);
    let mut program = Program::compile(input, region, ctx, Some(first))?;
    let acc_shape: Vec<usize> = shape_of(region)
        .iter()
        .zip(&reduced)
        .map(|(&n, &r)| if r { 1 } else { n })
        .collect();
    let mut acc = fold.start(acc_shape.iter().product());
    program.run(region, &reduced, &mut |lane, at, across| {
        fold.fold(acc.as_mut(), at, lane, across)
    })?;
    fold.finish(acc, &acc_shape)
}

/// The first axis of a fold's runs: the trailing axes as reduced (or as
/// kept) as the last one. A fold's lanes, and so the order of its sums,
/// are cut from the region and these axes only, never from where its
/// leaves lie, so a result is the same bits whether an input is lent whole
/// or read as a block (as when an earlier result is spilled).
fn fold_run_axis(reduced: &[bool]) -> usize {
    let Some(&last) = reduced.last() else {
        return 0;
    };
    reduced.len() - reduced.iter().rev().take_while(|&&r| r == last).count()
}

/// Whether a region is large enough for lanes to pay for the program.
fn worth_lanes(region: &Region) -> bool {
    region.num_elements() > LANE_ELEMENTS as u64
}

/// Whether `node` becomes a step: an elementwise node with a lane kernel,
/// not computed by an earlier stage.
fn lane_kernel<'a>(node: &'a Node, ctx: &EvalContext<'_>) -> Option<&'a Arc<LaneFn>> {
    match node.kind() {
        NodeKind::Map {
            inputs,
            regions: MapRegions::Any,
            lanes: Some(f),
            ..
        } if inputs.len() <= MAX_ARGS && !ctx.materialised().contains_key(&node.id()) => Some(f),
        _ => None,
    }
}

fn is_step(node: &Node, ctx: &EvalContext<'_>) -> bool {
    lane_kernel(node, ctx).is_some()
}

/// Where a step reads an input.
#[derive(Clone, Copy)]
enum Arg {
    Leaf(usize),
    Step(usize),
}

struct Step {
    kernel: Arc<LaneFn>,
    args: Vec<Arg>,
    /// The step's values for the current lane.
    values: LaneBuf,
}

/// A compiled chain: leaves, then steps in an order where every step
/// comes after the steps it reads.
struct Program {
    leaves: Vec<Held>,
    steps: Vec<Step>,
    root: Arg,
}

impl Program {
    /// The program of `root` over `region`. With `runs_from` (a fold's
    /// first run axis), every leaf is contiguous over the axes from there:
    /// a lent leaf that is not is read as a block of the region instead.
    fn compile(
        root: &Arc<Node>,
        region: &Region,
        ctx: &EvalContext<'_>,
        runs_from: Option<usize>,
    ) -> Result<Program> {
        let mut program = Program {
            leaves: Vec::new(),
            steps: Vec::new(),
            root: Arg::Leaf(0),
        };
        let lane = LANE_ELEMENTS.min(region.num_elements() as usize);
        let mut seen = HashMap::new();
        let at = Where {
            region,
            ctx,
            runs_from,
        };
        program.root = program.add(root, &at, lane, &mut seen)?;
        Ok(program)
    }

    fn add(
        &mut self,
        node: &Arc<Node>,
        at: &Where<'_, '_>,
        lane: usize,
        seen: &mut HashMap<u64, Arg>,
    ) -> Result<Arg> {
        if let Some(&arg) = seen.get(&node.id()) {
            return Ok(arg);
        }
        let arg = match (lane_kernel(node, at.ctx), node.kind()) {
            (Some(kernel), NodeKind::Map { inputs, .. }) => {
                let args = inputs
                    .iter()
                    .map(|input| self.add(input, at, lane, seen))
                    .collect::<Result<Vec<_>>>()?;
                self.steps.push(Step {
                    kernel: kernel.clone(),
                    args,
                    values: node.block_type().lane_buffer(lane),
                });
                Arg::Step(self.steps.len() - 1)
            }
            _ => {
                self.leaves.push(leaf(node, at)?);
                Arg::Leaf(self.leaves.len() - 1)
            }
        };
        seen.insert(node.id(), arg);
        Ok(arg)
    }

    /// Runs the program over `region`, handing each lane of the root's
    /// values to `emit(lane, at, across)`. Without `reduced` (an empty
    /// slice), `at` is the lane's offset in the region (C order). With it
    /// (one flag per axis: reduced or not), `at` is the offset in the
    /// reduced shape (reduced axes of length 1) of the element the lane
    /// folds into, or, when `across`, of its first element, the lane's
    /// elements going to consecutive elements.
    fn run(
        &mut self,
        region: &Region,
        reduced: &[bool],
        emit: &mut dyn FnMut(Lane<'_>, usize, bool) -> Result<()>,
    ) -> Result<()> {
        let shape = region.shape();
        let ndim = shape.len();
        let boxes: Vec<(Vec<u64>, Vec<u64>)> = self
            .leaves
            .iter()
            .map(|h| (h.origin().to_vec(), h.shape().to_vec()))
            .collect();
        for (origin, box_shape) in &boxes {
            let inside = origin.len() == ndim
                && (0..ndim).all(|a| {
                    origin[a] <= region.start()[a] && region.stop()[a] <= origin[a] + box_shape[a]
                });
            if !inside {
                return Err(Error::Internal {
                    operation: "lanes".into(),
                    message: "a leaf that does not cover its task".into(),
                });
            }
        }
        // The run: axes `first..` flattened, contiguous in every leaf (each
        // leaf spans the region along every axis after `first`) and all
        // reduced or all kept.
        let across = reduced.last().is_none_or(|r| !r);
        let first = if reduced.is_empty() {
            // An elementwise result: its bits never depend on the lanes, so
            // runs go as far as every leaf is contiguous.
            let mut first = ndim;
            while first > 0 {
                first -= 1;
                if boxes.iter().any(|(_, s)| s[first] != shape[first]) {
                    break;
                }
            }
            first
        } else {
            fold_run_axis(reduced)
        };
        let contiguous = boxes
            .iter()
            .all(|(_, s)| (first + 1..ndim).all(|a| s[a] == shape[a]));
        if !contiguous {
            return Err(Error::Internal {
                operation: "lanes".into(),
                message: "a leaf not contiguous over its runs".into(),
            });
        }
        let run_len: u64 = shape[first..].iter().product();
        let leaf_strides: Vec<Vec<u64>> = boxes.iter().map(|(_, s)| strides(s)).collect();
        let region_strides = strides(&shape);
        let acc_strides = strides(
            &shape
                .iter()
                .enumerate()
                .map(|(a, &n)| if reduced.get(a) == Some(&true) { 1 } else { n })
                .collect::<Vec<_>>(),
        );
        let mut index = vec![0u64; first];
        let mut starts = vec![0usize; self.leaves.len()];
        loop {
            // Where the run starts in each leaf, the region and the result.
            for (i, (origin, _)) in boxes.iter().enumerate() {
                starts[i] = (0..ndim)
                    .map(|a| {
                        let at = index.get(a).copied().unwrap_or(0) + region.start()[a];
                        (at - origin[a]) * leaf_strides[i][a]
                    })
                    .sum::<u64>() as usize;
            }
            let mut at = 0u64;
            for (a, &i) in index.iter().enumerate() {
                at += if reduced.is_empty() {
                    i * region_strides[a]
                } else if reduced[a] {
                    0
                } else {
                    i * acc_strides[a]
                };
            }
            let mut done = 0usize;
            while (done as u64) < run_len {
                let len = LANE_ELEMENTS.min(run_len as usize - done);
                let next = (done + len) as u64;
                if next < run_len {
                    let ahead = LANE_ELEMENTS.min((run_len - next) as usize);
                    for (leaf, &start) in self.leaves.iter().zip(&starts) {
                        leaf.prefetch(start + next as usize, ahead);
                    }
                }
                let root = self.lane(&starts, done, len)?;
                let offset = at as usize
                    + if reduced.is_empty() || across {
                        done
                    } else {
                        0
                    };
                emit(root, offset, across)?;
                done += len;
            }
            // The next run: the index over axes `..first`, last fastest.
            let mut a = first;
            loop {
                if a == 0 {
                    return Ok(());
                }
                a -= 1;
                index[a] += 1;
                if index[a] < shape[a] {
                    break;
                }
                index[a] = 0;
            }
        }
    }

    /// Runs every step over the lane of `len` elements at `done` into
    /// the run starting at `starts` (per leaf); the root's values.
    fn lane(&mut self, starts: &[usize], done: usize, len: usize) -> Result<Lane<'_>> {
        let leaves = &self.leaves;
        let leaf = |i: usize| leaves[i].lane(starts[i] + done, len);
        for s in 0..self.steps.len() {
            let (before, rest) = self.steps.split_at_mut(s);
            let step = &mut rest[0];
            let mut ins = [Lane::new::<u8>(&[]); MAX_ARGS];
            for (slot, arg) in ins.iter_mut().zip(&step.args) {
                *slot = match *arg {
                    Arg::Leaf(i) => leaf(i),
                    Arg::Step(j) => before[j].values.lane(len),
                };
            }
            (step.kernel)(&ins[..step.args.len()], &mut step.values.lane_mut(0, len))?;
        }
        Ok(match self.root {
            Arg::Leaf(i) => leaf(i),
            Arg::Step(j) => self.steps[j].values.lane(len),
        })
    }
}

/// Where a program is compiled: the task's region, its context, and for
/// a fold the first axis of its runs.
struct Where<'a, 'b> {
    region: &'a Region,
    ctx: &'a EvalContext<'b>,
    runs_from: Option<usize>,
}

/// The values a chain starts from: lent by a source (or an earlier
/// stage's result) where it can, else `node` evaluated over the whole
/// region.
fn leaf(node: &Arc<Node>, at: &Where<'_, '_>) -> Result<Held> {
    let (region, done) = (at.region, at.ctx.materialised());
    let source = done.get(&node.id()).unwrap_or(node);
    // A chunk a joint group shares, lent as the store decoded it.
    if let Some(chunk) = at.ctx.shared_chunk(source, region)? {
        return Ok(chunk);
    }
    if let NodeKind::Source {
        hold: Some(hold), ..
    } = source.kind()
    {
        if let Some(held) = hold(region)? {
            let shape = region.shape();
            let fits = at
                .runs_from
                .is_none_or(|first| (first + 1..shape.len()).all(|a| held.shape()[a] == shape[a]));
            if fits {
                return Ok(held);
            }
        }
    }
    // Evaluated apart from the chain's sharing (the program reads a leaf
    // once, however many steps read it), with its own shared nodes.
    let shared = shared_nodes(&[node], done);
    let ctx = EvalContext::new(done, &shared).cached_by(at.ctx.cache());
    let values = eval(node, region, &ctx)?;
    node.block_type().hold(values, region)
}

/// C-order strides of `shape`, in elements.
fn strides(shape: &[u64]) -> Vec<u64> {
    let mut out = vec![1u64; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        out[a] = out[a + 1] * shape[a + 1];
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ndarray::{ArrayD, IxDyn};
    use proptest::prelude::*;

    use super::*;
    use crate::array::Array;
    use crate::ops::where_;
    use crate::runtime::block::take;

    /// Values of both signs (so that `sqrt` makes NaNs too), by position.
    fn values(shape: &[usize], seed: u64) -> ArrayD<f64> {
        let mut i = 0.0;
        ArrayD::from_shape_simple_fn(IxDyn(shape), || {
            i += 1.0;
            ((i * 0.618 + seed as f64) * 12.9898).sin() * 5.0 + 1.0
        })
    }

    fn f64s(block: Block) -> ArrayD<f64> {
        take::<f64>(block, "test").unwrap()
    }

    /// A shape up to 3-d (the last axis up to a few lanes long), a sub-box
    /// of it (the task's region) and a set of axes to reduce.
    fn case() -> impl Strategy<Value = (Vec<usize>, Region, Vec<usize>)> {
        (proptest::collection::vec(1usize..30, 0..3), 1usize..3000)
            .prop_map(|(mut shape, last)| {
                shape.push(last);
                shape
            })
            .prop_flat_map(|shape| {
                let boxes: Vec<_> = shape
                    .iter()
                    .map(|&n| (0..n).prop_flat_map(move |lo| (Just(lo), lo + 1..=n)))
                    .collect();
                let ndim = shape.len();
                (
                    Just(shape),
                    boxes,
                    proptest::collection::vec(any::<bool>(), ndim),
                )
            })
            .prop_map(|(shape, bounds, reduce)| {
                let (lo, hi): (Vec<u64>, Vec<u64>) =
                    bounds.iter().map(|&(l, h)| (l as u64, h as u64)).unzip();
                let axes = (0..shape.len()).filter(|&a| reduce[a]).collect();
                (shape, Region::new(lo, hi).unwrap(), axes)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Over any sub-box of in-memory arrays (runs cut where the box
        /// stops spanning them) and a block leaf (the square, evaluated
        /// whole), lanes give the same bits as blocks; folds over any axes
        /// give the same sums and means to rounding, the same extremes.
        #[test]
        fn lanes_equal_blocks_over_any_region((shape, region, axes) in case()) {
            let dims: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
            let a = Array::from_ndarray(values(&shape, 1), dims.clone()).unwrap();
            let b = Array::from_ndarray(values(&shape, 2), dims).unwrap();
            let square = a.map_blocks(|x, _| x.mapv(|v| v * v));
            let chain = where_(&a.greater(&b), &(&a * 2.0 + &b), &square).sqrt();
            let (done, shared) = (HashMap::new(), HashMap::new());
            let ctx = EvalContext::new(&done, &shared);
            if worth_lanes(&region) {
                let program = Program::compile(chain.node(), &region, &ctx, None).unwrap();
                // a, b and the square lent or held; greater, mul, add,
                // where and sqrt as steps.
                prop_assert_eq!((program.leaves.len(), program.steps.len()), (3, 5));
            }
            let want = f64s(eval(chain.node(), &region, &ctx).unwrap());
            let got = f64s(eval_lanes(chain.node(), &region, &ctx).unwrap());
            prop_assert_eq!(got.shape(), want.shape());
            prop_assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()));
            let folds = [
                chain.sum(&axes, true),
                chain.mean(&axes, true),
                chain.max(&axes, true),
                chain.nanmin(&axes, true),
            ];
            for lazy in folds {
                let NodeKind::Reduce { input, reduction, axes, .. } = lazy.node().kind() else {
                    unreachable!()
                };
                let out: Vec<usize> = shape_of(&region)
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| if axes.contains(&i) { 1 } else { n })
                    .collect();
                let finish = |part| f64s(reduction.finish(part, &out).unwrap());
                let whole = reduction
                    .partial(eval(input, &region, &ctx).unwrap(), axes, &region)
                    .unwrap();
                let want = finish(whole);
                let got = finish(partial_lanes(input, reduction.as_ref(), axes, &region, &ctx).unwrap());
                prop_assert_eq!(got.shape(), want.shape());
                for (g, w) in got.iter().zip(&want) {
                    let close = (g - w).abs() <= 1e-12 * (1.0 + w.abs());
                    prop_assert!(close || (g.is_nan() && w.is_nan()), "{} vs {}", g, w);
                }
            }
        }
    }
}
