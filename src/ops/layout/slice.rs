//! Basic slicing with numpy's semantics: ranges with steps (negative too),
//! negative indices, integer indices that drop an axis, `newaxis`.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::{Range, RangeFrom, RangeFull, RangeTo};
use std::sync::Arc;

use ndchunk_io::Element;

use super::gather::{gather_grid, AxisMap, Gather, OutAxis};
use super::{check_index, layout};
use crate::array::Array;
use crate::graph::{Node, NodeKind};
use crate::ops::elementwise::invalid;
use crate::plan::is_stage;
use crate::with_dtype;

/// One entry of a slice, as in numpy's `a[1:5:2, -1, np.newaxis]`.
/// Missing trailing entries take the whole axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// `start:stop:step` (Python's rules: negative positions count from
    /// the end, `None` is the natural end for the step's direction, out of
    /// range positions are clipped; `step` must not be 0).
    Range {
        /// First position (`None`: the start for the step's direction).
        start: Option<i64>,
        /// Past-the-last position.
        stop: Option<i64>,
        /// Distance between positions; negative walks backwards.
        step: i64,
    },
    /// One position (negative counts from the end); the axis is dropped.
    At(i64),
    /// A new length-1 axis (`np.newaxis`).
    NewAxis,
}

impl Index {
    /// The whole axis, `:`.
    pub const ALL: Index = Index::Range {
        start: None,
        stop: None,
        step: 1,
    };

    /// `start:stop:step`.
    pub fn range(start: impl Into<Option<i64>>, stop: impl Into<Option<i64>>, step: i64) -> Index {
        Index::Range {
            start: start.into(),
            stop: stop.into(),
            step,
        }
    }

    /// This range with another step (`(2..).into()` then `.step(3)` is `2::3`).
    pub fn step(self, step: i64) -> Index {
        match self {
            Index::Range { start, stop, .. } => Index::Range { start, stop, step },
            other => other,
        }
    }
}

impl From<Range<i64>> for Index {
    fn from(r: Range<i64>) -> Self {
        Index::range(r.start, r.end, 1)
    }
}

impl From<RangeFrom<i64>> for Index {
    fn from(r: RangeFrom<i64>) -> Self {
        Index::range(r.start, None, 1)
    }
}

impl From<RangeTo<i64>> for Index {
    fn from(r: RangeTo<i64>) -> Self {
        Index::range(None, r.end, 1)
    }
}

impl From<RangeFull> for Index {
    fn from(_: RangeFull) -> Self {
        Index::ALL
    }
}

impl From<i64> for Index {
    fn from(i: i64) -> Self {
        Index::At(i)
    }
}

/// Python's `slice(start, stop, step).indices(len)`: the first position
/// and the number of positions.
fn resolve(start: Option<i64>, stop: Option<i64>, step: i64, len: u64) -> (u64, u64) {
    let (len, step) = (i128::from(len), i128::from(step));
    let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
    let clip = |v: Option<i64>, default: i128| match v {
        None => default,
        Some(v) if v < 0 => (i128::from(v) + len).max(lower),
        Some(v) => i128::from(v).min(upper),
    };
    let first = clip(start, if step > 0 { lower } else { upper });
    let end = clip(stop, if step > 0 { upper } else { lower });
    let count = if step > 0 && end > first {
        (end - first + step - 1) / step
    } else if step < 0 && first > end {
        (first - end - step - 1) / -step
    } else {
        0
    };
    (first.max(0) as u64, count as u64)
}

fn describe(indices: &[Index]) -> String {
    let part = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let items: Vec<String> = indices
        .iter()
        .map(|i| match i {
            Index::Range { start, stop, step } if *step == 1 => {
                format!("{}:{}", part(*start), part(*stop))
            }
            Index::Range { start, stop, step } => {
                format!("{}:{}:{step}", part(*start), part(*stop))
            }
            Index::At(i) => i.to_string(),
            Index::NewAxis => "newaxis".into(),
        })
        .collect();
    format!("slice[{}]", items.join(", "))
}

impl<T: Element> Array<T> {
    /// numpy's basic indexing `a[...]`: one [`Index`] per axis (missing
    /// trailing ones take the whole axis), plus any number of
    /// [`Index::NewAxis`]. The output chunks are the slices of the input
    /// chunks (Dask's); evaluating the result reads only the input chunks
    /// the slice touches. A bad index is reported when planned.
    ///
    /// ```
    /// use ndchunk::{Array, Index};
    /// let a = Array::<i64>::arange(10, [4]).unwrap();
    /// let b = a.slice(&[Index::range(-2, None, -3)]);
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![8, 5, 2]);
    /// let c = a.slice(&[Index::NewAxis, (2..5).into()]);
    /// assert_eq!(c.shape(), vec![1, 3]);
    /// assert_eq!(a.slice(&[Index::At(-1)]).compute().unwrap().into_raw_vec_and_offset().0, vec![9]);
    /// ```
    pub fn slice(&self, indices: &[Index]) -> Array<T> {
        let name = describe(indices);
        let shape = self.shape();
        let used = indices.iter().filter(|i| **i != Index::NewAxis).count();
        if used > shape.len() {
            return invalid(
                &name,
                self.grid().clone(),
                format!(
                    "too many indices for array: array is {}-dimensional, but {used} were indexed",
                    shape.len()
                ),
            );
        }
        let mut fixed = vec![None; shape.len()];
        let mut out = Vec::new();
        let mut axis = 0;
        let rest = (used..shape.len()).map(|_| Index::ALL);
        for index in indices.iter().copied().chain(rest) {
            match index {
                Index::NewAxis => out.push(OutAxis::New { len: 1 }),
                Index::At(i) => {
                    match check_index(i, axis, shape[axis]) {
                        Ok(at) => fixed[axis] = Some(at),
                        Err(message) => return invalid(&name, self.grid().clone(), message),
                    }
                    axis += 1;
                }
                Index::Range { start, stop, step } => {
                    if step == 0 {
                        return invalid(
                            &name,
                            self.grid().clone(),
                            "slice step cannot be zero".into(),
                        );
                    }
                    let (first, len) = resolve(start, stop, step, shape[axis]);
                    let map = AxisMap::Strided { start: first, step };
                    out.push(OutAxis::From { axis, map, len });
                    axis += 1;
                }
            }
        }
        if fixed.iter().all(Option::is_none)
            && out.len() == shape.len()
            && out.iter().zip(&shape).all(|(o, &n)| {
                matches!(o, OutAxis::From { map: AxisMap::Strided { start: 0, step: 1 }, len, .. } if *len == n)
            })
        {
            return self.clone();
        }
        select(self, name, fixed, out)
    }
}

/// A gather that only selects (a slice, a `take`) over `array`. A stage
/// computes its whole result, so a selection is pushed into it: over a
/// rechunk it is the rechunk of the selection, to the chunks the
/// selection of the rechunk would have, which then moves only what is
/// selected; over a reduction (a selection of ranges and `take`s of its
/// kept axes) it is the reduction of the selection, which then reads only
/// the input under it. Over elementwise operations or a broadcast on a
/// stage, it is the same operations on the selections of their inputs, or
/// the broadcast of the selection of its input, down to the stage
/// (anything else is culled by the region its consumer asks for).
pub(super) fn select<T: Element>(
    array: &Array<T>,
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<OutAxis>,
) -> Array<T> {
    if reaches_stage(array.node()) {
        let selection = Selection { name, fixed, out };
        return Array::from_node(select_node(array.node(), &selection, &mut HashMap::new()));
    }
    select_here(array, name, fixed, out)
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
    match node.kind() {
        NodeKind::Rechunk { .. } | NodeKind::Reduce { .. } => is_stage(node),
        NodeKind::Map {
            inputs,
            per_block: false,
            ..
        } => inputs.iter().any(reaches_stage),
        NodeKind::Layout { inputs, .. } if broadcast_axes(node).is_some() => {
            inputs.iter().any(reaches_stage)
        }
        _ => false,
    }
}

/// The output axes of `node` when it is a broadcast (`broadcast_to`: a
/// gather that only adds leading axes and stretches length-1 axes).
fn broadcast_axes(node: &Node) -> Option<Vec<OutAxis>> {
    let NodeKind::Layout { op, .. } = node.kind() else {
        return None;
    };
    let op = op.as_any()?;
    let (fixed, out) = with_dtype!(node.block_type().dtype(), T => {
        let gather = op.downcast_ref::<Gather<T>>()?;
        (&gather.fixed, &gather.out)
    });
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
    (fixed.iter().all(Option::is_none) && next == fixed.len()).then(|| out.clone())
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
            per_block: false,
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
                    per_block: false,
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
        } => match through_reduction(selection, &input.grid().shape(), axes, *keepdims) {
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
            None => select_whole(node, selection),
        },
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
                    with_dtype!(node.block_type().dtype(), T => {
                        let over = Array::<T>::from_node(selected);
                        gather(&over, name, fixed, stretch, T::default()).node().clone()
                    })
                }
                None => select_whole(node, selection),
            }
        }
        _ => select_whole(node, selection),
    };
    done.insert(node.id(), selected.clone());
    selected
}

/// The selection of `node` as an operation that reports `message`.
fn invalid_node(node: &Node, selection: &Selection, message: String) -> Arc<Node> {
    with_dtype!(node.block_type().dtype(), T => {
        invalid::<T>(&selection.name, node.grid().clone(), message).node().clone()
    })
}

/// [`select_here`] for a node of any element type.
fn select_whole(node: &Arc<Node>, selection: &Selection) -> Arc<Node> {
    let (name, fixed, out) = (
        selection.name.clone(),
        selection.fixed.clone(),
        selection.out.clone(),
    );
    with_dtype!(node.block_type().dtype(), T => {
        select_here(&Array::<T>::from_node(node.clone()), name, fixed, out).node().clone()
    })
}

/// The selection of `array` as one node: over a rechunk, the rechunk of
/// the selection; else a gather.
fn select_here<T: Element>(
    array: &Array<T>,
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<OutAxis>,
) -> Array<T> {
    let NodeKind::Rechunk { input } = array.node().kind() else {
        return gather(array, name, fixed, out, T::default());
    };
    let chunks = gather(
        array,
        name.clone(),
        fixed.clone(),
        out.clone(),
        T::default(),
    );
    if matches!(chunks.node().kind(), NodeKind::Invalid { .. }) {
        return chunks;
    }
    let selected = gather(
        &Array::from_node(input.clone()),
        name,
        fixed,
        out,
        T::default(),
    );
    selected.rechunk(chunks.grid().clone())
}

/// The gather node over `array`.
pub(super) fn gather<T: Element>(
    array: &Array<T>,
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<OutAxis>,
    fill: T,
) -> Array<T> {
    let grid = match gather_grid(array.grid(), &out) {
        Ok(grid) => grid,
        Err(e) => return invalid(&name, array.grid().clone(), e.to_string()),
    };
    let op = Gather {
        fixed,
        out,
        fill,
        input: array.grid().clone(),
        name: name.clone(),
        _t: PhantomData,
    };
    layout(name, grid, vec![array.node().clone()], op)
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn resolve_follows_python() {
        // (start, count) of list(range(10))[a:b:c]
        assert_eq!(resolve(None, None, 1, 10), (0, 10));
        assert_eq!(resolve(Some(-3), None, 1, 10), (7, 3));
        assert_eq!(resolve(None, None, -1, 10), (9, 10));
        assert_eq!(resolve(Some(-2), None, -3, 10), (8, 3));
        assert_eq!(resolve(Some(20), Some(-20), -4, 10), (9, 3));
        assert_eq!(resolve(Some(5), Some(2), 1, 10), (5, 0));
        assert_eq!(resolve(None, None, -1, 0), (0, 0));
        assert_eq!(resolve(Some(-100), Some(100), 3, 10), (0, 4));
    }
}
