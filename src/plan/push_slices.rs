//! Slice push-down, an optimiser pass run as a plan is made.
//!
//! A stage computes its whole result, so a selection (a gather that only
//! picks positions: a slice, a `take`, an integer index) over a stage is
//! pushed into it: over a rechunk it is the rechunk of the selection, to
//! the chunks the selection of the rechunk would have, which then moves
//! only what is selected; over a reduction (a selection of ranges and
//! `take`s of its kept axes) it is the reduction of the selection, which
//! then reads only the input under it. Over elementwise operations or a
//! broadcast on a stage, it is the same operations on the selections of
//! their inputs, or the broadcast of the selection of its input, down to
//! the stage. Anything else needs no pass: evaluation pulls only the
//! region a consumer asks for, so a selection of a fused chain reads only
//! the source chunks under it.
//!
//! The pass rebuilds only what it changes: the nodes on the way from a
//! pushed selection to the root, each with the grid it had, so the root's
//! grid (which a store's chunks or a result follow) is unchanged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::is_stage;
use crate::graph::{MapRegions, Node, NodeKind};
use crate::ops::layout::gather::{gather_any, gather_axes, gather_grid, AxisMap, OutAxis};

/// The graphs under `roots` with every selection over a stage pushed into
/// it (a node they share stays shared); each root keeps its grid.
pub(crate) fn push_slices_many(roots: &[Arc<Node>]) -> Vec<Arc<Node>> {
    let consumers = consumers(roots);
    let mut done = HashMap::new();
    roots
        .iter()
        .map(|root| rewrite(root, &consumers, &mut done))
        .collect()
}

/// How many consumers each node under `roots` has (each root counts as
/// one, as the run's output).
fn consumers(roots: &[Arc<Node>]) -> HashMap<u64, usize> {
    fn visit(node: &Arc<Node>, seen: &mut HashSet<u64>, counts: &mut HashMap<u64, usize>) {
        if !seen.insert(node.id()) {
            return;
        }
        for input in node.inputs() {
            *counts.entry(input.id()).or_default() += 1;
            visit(input, seen, counts);
        }
    }
    let (mut seen, mut counts) = (HashSet::new(), HashMap::new());
    for root in roots {
        *counts.entry(root.id()).or_default() += 1;
        visit(root, &mut seen, &mut counts);
    }
    counts
}

/// Whether pushing a selection into `input` would build a second copy of
/// a stage that is still needed whole: some node on the way down to the
/// stages it reaches (the stages included) has a consumer outside what
/// the selection reads (a node read twice inside it is selected once, and
/// stays one).
fn would_duplicate(input: &Arc<Node>, consumers: &HashMap<u64, usize>) -> bool {
    if !reaches_stage(input) {
        return false;
    }
    // Consumers inside the selection's graph; the selection reads `input`.
    let mut inside = HashMap::from([(input.id(), 1usize)]);
    let mut seen = HashSet::new();
    let mut stack = vec![input.clone()];
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id()) {
            continue;
        }
        for child in node.inputs() {
            *inside.entry(child.id()).or_default() += 1;
            stack.push(child.clone());
        }
    }
    // Each node once: a chain of diamonds is linear, not exponential.
    let mut checked = HashSet::new();
    let mut stack = vec![input.clone()];
    while let Some(node) = stack.pop() {
        if !checked.insert(node.id()) || !reaches_stage(&node) {
            continue;
        }
        let id = node.id();
        if consumers.get(&id).copied().unwrap_or(0) > inside.get(&id).copied().unwrap_or(0) {
            return true;
        }
        stack.extend(node.inputs().into_iter().cloned());
    }
    false
}

/// `node` over its inputs rewritten, then pushed into its input when it
/// is a selection (unless a stage it would push into is needed whole
/// elsewhere: then the stage runs once and the selection reads its
/// result); memoised by node so that a shared node stays shared.
fn rewrite(
    node: &Arc<Node>,
    consumers: &HashMap<u64, usize>,
    done: &mut HashMap<u64, Arc<Node>>,
) -> Arc<Node> {
    if let Some(rewritten) = done.get(&node.id()) {
        return rewritten.clone();
    }
    let old: Vec<&Arc<Node>> = node.inputs();
    let inputs: Vec<Arc<Node>> = old
        .iter()
        .map(|input| rewrite(input, consumers, done))
        .collect();
    let shared = old
        .first()
        .is_some_and(|input| would_duplicate(input, consumers));
    let rebuilt = if inputs
        .iter()
        .zip(&old)
        .any(|(new, old)| !Arc::ptr_eq(new, old))
    {
        node.with_inputs(inputs)
    } else {
        node.clone()
    };
    let pushed = match selection_of(&rebuilt).filter(|_| !shared) {
        Some((input, selection)) if reaches_stage(&input) => {
            select_node(&input, &selection, &mut HashMap::new())
        }
        Some((input, selection)) if matches!(input.kind(), NodeKind::Rechunk { .. }) => {
            select_here(&input, &selection)
        }
        _ => rebuilt,
    };
    // The consumers of `node` (and a store, a result) were built for its grid.
    let pushed = if pushed.grid() == node.grid() {
        pushed
    } else {
        pushed.rechunked(node.grid().clone())
    };
    done.insert(node.id(), pushed.clone());
    pushed
}

/// `node`'s input and the selection it makes of it, when `node` is a
/// gather that only picks positions (no padding, no broadcasting).
fn selection_of(node: &Arc<Node>) -> Option<(Arc<Node>, Selection)> {
    let (fixed, out) = gather_axes(node)?;
    let picks = out.iter().all(|o| match o {
        OutAxis::New { .. } => true,
        OutAxis::From { map, .. } => matches!(map, AxisMap::Strided { .. } | AxisMap::Table(_)),
    });
    let input = node.inputs().first().map(|&i| i.clone())?;
    picks.then(|| {
        let selection = Selection {
            name: node.name().to_string(),
            fixed: fixed.to_vec(),
            out: out.to_vec(),
        };
        (input, selection)
    })
}

/// A selection, in the coordinates of the arrays it applies to.
struct Selection {
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<OutAxis>,
}

/// Whether `node` is, or is an elementwise operation over (at any depth),
/// a stage: a reduction, or a rechunk that is a stage of its own.
fn reaches_stage(node: &Arc<Node>) -> bool {
    // Each node once: a chain of diamonds is linear, not exponential.
    let mut seen = HashSet::new();
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if !seen.insert(node.id()) {
            continue;
        }
        match node.kind() {
            NodeKind::Rechunk { .. } | NodeKind::Reduce { .. } if is_stage(node) => return true,
            NodeKind::Map {
                inputs,
                regions: MapRegions::Any,
                ..
            } => stack.extend(inputs),
            NodeKind::Layout { inputs, .. } if broadcast_axes(node).is_some() => {
                stack.extend(inputs)
            }
            _ => {}
        }
    }
    false
}

/// The output axes of `node` when it is a broadcast (`broadcast_to`: a
/// gather that only adds leading axes and stretches length-1 axes).
fn broadcast_axes(node: &Node) -> Option<Vec<OutAxis>> {
    let (fixed, out) = gather_axes(node)?;
    let mut next = 0;
    for axis in out {
        match axis {
            OutAxis::New { .. } if next == 0 => {}
            OutAxis::From {
                axis,
                map: AxisMap::Broadcast | AxisMap::Strided { start: 0, step: 1 },
                ..
            } if *axis == next => next += 1,
            _ => return None,
        }
    }
    (fixed.iter().all(Option::is_none) && next == fixed.len()).then(|| out.to_vec())
}

/// A selection of a broadcast as the broadcast of a selection of its
/// input: the selection of the input (positions of its own axes; a
/// stretched axis kept whole, as its length 1), and the broadcast over it
/// (its fixed axes: the stretched axes the selection drops; its output
/// axes). `None` unless the selection keeps the broadcast's axes in order.
fn through_broadcast(
    selection: &Selection,
    broadcast: &[OutAxis],
    input_ndim: usize,
) -> Option<(Selection, Vec<Option<u64>>, Vec<OutAxis>)> {
    let lead = broadcast.len() - input_ndim;
    // Where each axis of the broadcast's output is picked by the selection.
    let mut picked_at = vec![None; broadcast.len()];
    let mut last = None;
    for (r, o) in selection.out.iter().enumerate() {
        if let OutAxis::From { axis, .. } = o {
            if last.is_some_and(|l| l >= *axis) {
                return None;
            }
            last = Some(*axis);
            picked_at[*axis] = Some(r);
        }
    }
    let stretched = |k: usize| {
        matches!(
            broadcast[k],
            OutAxis::From {
                map: AxisMap::Broadcast,
                ..
            }
        )
    };
    let mut fixed = vec![None; input_ndim];
    let mut out = Vec::new();
    // Each input axis's place among the selected input's axes.
    let mut place = vec![None; input_ndim];
    let mut dropped = Vec::new();
    for i in 0..input_ndim {
        let k = lead + i;
        if let (Some(position), false) = (selection.fixed[k], stretched(k)) {
            fixed[i] = Some(position);
            continue;
        }
        place[i] = Some(out.len());
        if selection.fixed[k].is_some() {
            // Kept whole here (a reduction's `keepdims` axis may be one),
            // dropped by the broadcast.
            dropped.push(out.len());
            out.push(OutAxis::From {
                axis: i,
                map: AxisMap::Strided { start: 0, step: 1 },
                len: 1,
            });
            continue;
        }
        let OutAxis::From { map, len, .. } = &selection.out[picked_at[k]?] else {
            return None;
        };
        out.push(if stretched(k) {
            OutAxis::From {
                axis: i,
                map: AxisMap::Strided { start: 0, step: 1 },
                len: 1,
            }
        } else {
            OutAxis::From {
                axis: i,
                map: map.clone(),
                len: *len,
            }
        });
    }
    let stretch = selection
        .out
        .iter()
        .map(|o| match o {
            OutAxis::New { len } => Some(OutAxis::New { len: *len }),
            OutAxis::From { axis, len, .. } if *axis < lead => Some(OutAxis::New { len: *len }),
            OutAxis::From { axis, len, .. } => Some(OutAxis::From {
                axis: place[*axis - lead]?,
                map: if stretched(*axis) {
                    AxisMap::Broadcast
                } else {
                    AxisMap::Strided { start: 0, step: 1 }
                },
                len: *len,
            }),
        })
        .collect::<Option<Vec<_>>>()?;
    let mut stretch_fixed = vec![None; out.len()];
    for axis in dropped {
        stretch_fixed[axis] = Some(0);
    }
    let inner = Selection {
        name: selection.name.clone(),
        fixed,
        out,
    };
    Some((inner, stretch_fixed, stretch))
}

/// The selection of a reduction's input that `selection` of its result
/// reads (the same positions of the kept axes, every position of the
/// reduced ones), and the reduced axes of the selected input (an integer
/// index drops an axis). `None` unless `selection` keeps the result's
/// axes in order (ranges, steps, `take`, integer indices; no new axis)
/// and each length-1 axis of `keepdims` whole.
fn through_reduction(
    selection: &Selection,
    input_shape: &[u64],
    axes: &[usize],
    keepdims: bool,
) -> Option<(Selection, Vec<usize>)> {
    let mut picked = selection.out.iter();
    let mut result_axes = 0..selection.fixed.len();
    let mut fixed = vec![None; input_shape.len()];
    let mut out = Vec::with_capacity(input_shape.len());
    let mut new_axes = Vec::with_capacity(axes.len());
    for (i, &len) in input_shape.iter().enumerate() {
        let whole = OutAxis::From {
            axis: i,
            map: AxisMap::Strided { start: 0, step: 1 },
            len,
        };
        let dropped_before = fixed.iter().filter(|f| f.is_some()).count();
        let reduced = axes.contains(&i);
        if reduced {
            new_axes.push(i - dropped_before);
        }
        if reduced && !keepdims {
            out.push(whole);
            continue;
        }
        let k = result_axes.next()?;
        if let Some(position) = selection.fixed[k] {
            // An integer index of a kept axis drops it from the input too.
            if reduced {
                return None;
            }
            fixed[i] = Some(position);
            continue;
        }
        let OutAxis::From { axis, map, len: n } = picked.next()? else {
            return None;
        };
        if *axis != k {
            return None;
        }
        if reduced {
            let identity = matches!(map, AxisMap::Strided { start: 0, step: 1 }) && *n == 1;
            out.push(identity.then_some(whole)?);
        } else {
            out.push(OutAxis::From {
                axis: i,
                map: map.clone(),
                len: *n,
            });
        }
    }
    let selection = Selection {
        name: selection.name.clone(),
        fixed,
        out,
    };
    picked.next().is_none().then_some((selection, new_axes))
}

/// `node` selected: elementwise operations rebuilt over their inputs
/// selected (a node read twice is selected once, so it stays shared),
/// anything else by [`select_here`].
fn select_node(
    node: &Arc<Node>,
    selection: &Selection,
    done: &mut HashMap<u64, Arc<Node>>,
) -> Arc<Node> {
    if let Some(selected) = done.get(&node.id()) {
        return selected.clone();
    }
    let selected = match node.kind() {
        NodeKind::Map {
            inputs,
            kernel,
            regions: MapRegions::Any,
            lanes,
        } if reaches_stage(node) => match gather_grid(node.grid(), &selection.out) {
            Ok(grid) => Node::new(
                node.name(),
                grid,
                node.block_type().clone(),
                NodeKind::Map {
                    inputs: inputs
                        .iter()
                        .map(|input| select_node(input, selection, done))
                        .collect(),
                    kernel: kernel.clone(),
                    regions: MapRegions::Any,
                    lanes: lanes.clone(),
                },
            ),
            Err(e) => invalid_node(node, selection, e.to_string()),
        },
        NodeKind::Reduce {
            input,
            reduction,
            axes,
            keepdims,
            split_every,
        } => {
            // A grouped reduction keeps its axis with one place per group:
            // a selection there picks groups, not input positions.
            let shape = node.grid().shape();
            let grouped = *keepdims && axes.iter().any(|&a| shape[a] != 1);
            let through = (!grouped)
                .then(|| through_reduction(selection, &input.grid().shape(), axes, *keepdims))
                .flatten();
            match through {
                Some((inner, axes)) => {
                    let selected = select_node(input, &inner, &mut HashMap::new());
                    match selected.grid().reduce_axes(&axes, *keepdims) {
                        Ok(grid) => Node::new(
                            node.name(),
                            grid,
                            node.block_type().clone(),
                            NodeKind::Reduce {
                                input: selected,
                                reduction: reduction.clone(),
                                axes,
                                keepdims: *keepdims,
                                split_every: *split_every,
                            },
                        ),
                        Err(e) => invalid_node(node, selection, e.to_string()),
                    }
                }
                None => select_here(node, selection),
            }
        }
        NodeKind::Layout { inputs, .. } => {
            let input = &inputs[0];
            let broadcast = broadcast_axes(node)
                .filter(|_| reaches_stage(input))
                .and_then(|b| through_broadcast(selection, &b, input.grid().ndim()));
            match broadcast {
                Some((inner, fixed, stretch)) => {
                    let selected = select_node(input, &inner, &mut HashMap::new());
                    let shape: Vec<u64> = stretch
                        .iter()
                        .map(|o| match o {
                            OutAxis::New { len } | OutAxis::From { len, .. } => *len,
                        })
                        .collect();
                    let name = format!("broadcast_to({shape:?})");
                    gather_any(&selected, name, fixed, stretch)
                }
                None => select_here(node, selection),
            }
        }
        _ => select_here(node, selection),
    };
    done.insert(node.id(), selected.clone());
    selected
}

/// The selection of `node` as an operation that reports `message`.
fn invalid_node(node: &Node, selection: &Selection, message: String) -> Arc<Node> {
    Node::new(
        selection.name.clone(),
        node.grid().clone(),
        node.block_type().clone(),
        NodeKind::Invalid { message },
    )
}

/// The selection of `node` as one node: over a rechunk, the rechunk of
/// the selection (to the chunks the selection of the rechunk has); else a
/// gather.
fn select_here(node: &Arc<Node>, selection: &Selection) -> Arc<Node> {
    let gather = |over: &Arc<Node>| {
        gather_any(
            over,
            selection.name.clone(),
            selection.fixed.clone(),
            selection.out.clone(),
        )
    };
    let NodeKind::Rechunk { input } = node.kind() else {
        return gather(node);
    };
    let chunks = gather(node);
    if matches!(chunks.kind(), NodeKind::Invalid { .. }) {
        return chunks;
    }
    gather(input).rechunked(chunks.grid().clone())
}
