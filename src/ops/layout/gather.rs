//! The engine behind the orthogonal layout operations (slice, take,
//! transpose, squeeze, expand_dims, broadcast_to, pad): every output axis is
//! either a new axis or one input axis read through a per-axis index map;
//! every other input axis is read at one fixed index.
//!
//! An output region is cut, per axis, into runs of consecutive output
//! positions whose inputs lie in one input chunk; each combination of runs
//! pulls one input piece (at most one input chunk, fewer elements for a
//! plain slice), transforms it with views (drop fixed axes, permute, insert
//! new axes), picks the mapped positions and copies it into the output.

use std::marker::PhantomData;
use std::ops::Range;
use std::sync::Arc;

use ndarray::{ArrayD, Axis, CowArray, IxDyn, SliceInfoElem};
use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};
use ndchunk_io::copy::copy_box;
use ndchunk_io::Element;

use crate::error::{Error, Result};
use crate::graph::{LayoutOp, Node, NodeKind, PullFn};
use crate::runtime::block::{block, take, Block};
use crate::runtime::block_type::block_type;
use crate::with_dtype;

/// How an output axis reads its input axis.
#[derive(Debug, Clone)]
pub(crate) enum AxisMap {
    /// Input `start + step * i` (numpy's basic slicing).
    Strided { start: u64, step: i64 },
    /// Input `table[i]` (`take`).
    Table(Arc<[u64]>),
    /// Input 0: a length-1 axis stretched (broadcasting).
    Broadcast,
    /// Input `i - before` inside `[0, len)`; outside it by `rule`.
    Pad {
        before: u64,
        len: u64,
        rule: PadRule,
    },
}

/// What a padded axis reads outside the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PadRule {
    /// Nothing: the fill value.
    Constant,
    /// The nearest edge element.
    Edge,
    /// The mirror image without repeating the edge (numpy's `reflect`).
    Reflect,
    /// The mirror image repeating the edge (numpy's `symmetric`).
    Symmetric,
    /// The other end of the axis (numpy's `wrap`).
    Wrap,
}

impl AxisMap {
    /// The input index of output position `i`; `None` for the fill value.
    fn at(&self, i: u64) -> Option<u64> {
        match self {
            AxisMap::Strided { start, step } => {
                Some((i128::from(*start) + i128::from(*step) * i128::from(i)) as u64)
            }
            AxisMap::Table(table) => table.get(i as usize).copied(),
            AxisMap::Broadcast => Some(0),
            AxisMap::Pad { before, len, rule } => {
                let at = i as i128 - *before as i128;
                let n = *len as i128;
                if (0..n).contains(&at) {
                    return Some(at as u64);
                }
                match rule {
                    PadRule::Constant => None,
                    _ if n == 0 => None,
                    PadRule::Edge => Some(at.clamp(0, n - 1) as u64),
                    PadRule::Reflect if n == 1 => Some(0),
                    PadRule::Reflect => {
                        let period = 2 * (n - 1);
                        let m = at.rem_euclid(period);
                        Some(if m >= n { period - m } else { m } as u64)
                    }
                    PadRule::Symmetric => {
                        let m = at.rem_euclid(2 * n);
                        Some(if m >= n { 2 * n - 1 - m } else { m } as u64)
                    }
                    PadRule::Wrap => Some(at.rem_euclid(n) as u64),
                }
            }
        }
    }

    /// The input stride of consecutive outputs, if bounded (for bytes).
    fn stride(&self) -> Option<u64> {
        match self {
            AxisMap::Strided { step, .. } => Some(step.unsigned_abs().max(1)),
            AxisMap::Table(_) => None,
            AxisMap::Broadcast | AxisMap::Pad { .. } => Some(1),
        }
    }

    fn is_identity(&self, len: u64, input: &AxisChunks) -> bool {
        matches!(self, AxisMap::Strided { start: 0, step: 1 }) && len == input.len()
    }
}

/// One output axis.
#[derive(Debug, Clone)]
pub(crate) enum OutAxis {
    /// An axis that no input axis feeds (`newaxis`, `expand_dims`, the
    /// leading axes of `broadcast_to`): every position reads the same input.
    New { len: u64 },
    /// Input axis `axis` read through `map`; `len` output positions.
    From { axis: usize, map: AxisMap, len: u64 },
}

/// The output grid, Dask's way: a mapped axis's chunks are the runs of
/// output positions that read one input chunk; a new axis is one chunk.
pub(crate) fn gather_grid(input: &ChunkGrid, out: &[OutAxis]) -> Result<ChunkGrid> {
    let axes = out
        .iter()
        .map(|o| match o {
            OutAxis::New { len } => AxisChunks::from_sizes(&[*len]),
            OutAxis::From { axis, map, len } => {
                let chunks = input.axis(*axis);
                if map.is_identity(*len, chunks) {
                    return Ok(chunks.clone());
                }
                AxisChunks::from_sizes(&mapped_chunks(chunks, map, *len))
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(ChunkGrid::new(axes))
}

fn mapped_chunks(chunks: &AxisChunks, map: &AxisMap, len: u64) -> Vec<u64> {
    let sizes: Vec<u64> = match map {
        AxisMap::Strided { start, step } => strided_chunks(chunks, *start, *step, len),
        AxisMap::Broadcast => vec![len],
        AxisMap::Pad { before, len: n, .. } => {
            let mut sizes: Vec<u64> = chunks.sizes().collect();
            let after = len - before - n;
            if let Some(first) = sizes.first_mut() {
                *first += before;
            }
            if let Some(last) = sizes.last_mut() {
                *last += after;
            }
            sizes
        }
        AxisMap::Table(table) => {
            let mut sizes = Vec::new();
            let mut current = None;
            for &i in table.iter() {
                let c = chunks.chunk_of(i);
                match sizes.last_mut() {
                    Some(n) if c == current => *n += 1,
                    _ => sizes.push(1),
                }
                current = c;
            }
            sizes
        }
    };
    let sizes: Vec<u64> = sizes.into_iter().filter(|&n| n > 0).collect();
    if sizes.is_empty() {
        vec![0]
    } else {
        sizes
    }
}

/// Per input chunk (in output order), how many of `start + step·k`,
/// `k < count`, it holds; O(chunks), not O(elements).
fn strided_chunks(chunks: &AxisChunks, start: u64, step: i64, count: u64) -> Vec<u64> {
    if count == 0 {
        return vec![0];
    }
    let (first, s, n) = (i128::from(start), i128::from(step), i128::from(count));
    let last = first + s * (n - 1);
    let (lo, hi) = (first.min(last) as u64, first.max(last) as u64);
    let range = chunks.chunks_overlapping(lo..hi + 1);
    let per_chunk = |c: u64| {
        let r = chunks.chunk_range(c);
        let (cs, ce) = (i128::from(r.start), i128::from(r.end));
        let (k_lo, k_hi) = if s > 0 {
            (
                (cs - first + s - 1).div_euclid(s),
                (ce - first + s - 1).div_euclid(s),
            )
        } else {
            let a = -s;
            (
                (first - ce).div_euclid(a) + 1,
                (first - cs).div_euclid(a) + 1,
            )
        };
        (k_hi.min(n) - k_lo.max(0)).max(0) as u64
    };
    if s > 0 {
        range.map(per_chunk).collect()
    } else {
        range.rev().map(per_chunk).collect()
    }
}

/// The gather node over `input`: positions that read nothing (constant
/// padding) hold `fill`; a bad output grid is an invalid node.
pub(crate) fn gather_node<T: Element>(
    input: &Arc<Node>,
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<OutAxis>,
    fill: T,
) -> Arc<Node> {
    let kind = match gather_grid(input.grid(), &out) {
        Ok(grid) => {
            let op = Gather {
                fixed,
                out,
                fill,
                input: input.grid().clone(),
                name: name.clone(),
                _t: PhantomData,
            };
            return Node::new(
                name,
                grid,
                block_type::<T>(),
                NodeKind::Layout {
                    inputs: vec![input.clone()],
                    op: Arc::new(op),
                },
            );
        }
        Err(e) => NodeKind::Invalid {
            message: e.to_string(),
        },
    };
    Node::new(name, input.grid().clone(), block_type::<T>(), kind)
}

/// [`gather_node`] for an input of any element type, filling with the
/// type's default.
pub(crate) fn gather_any(
    input: &Arc<Node>,
    name: String,
    fixed: Vec<Option<u64>>,
    out: Vec<OutAxis>,
) -> Arc<Node> {
    with_dtype!(input.block_type().dtype(), T => gather_node(input, name, fixed, out, T::default()))
}

/// The fixed input axes and the output axes of a gather node (`None` for
/// any other node).
pub(crate) fn gather_axes(node: &Node) -> Option<(&[Option<u64>], &[OutAxis])> {
    let NodeKind::Layout { op, .. } = node.kind() else {
        return None;
    };
    let op = op.as_any()?;
    with_dtype!(node.block_type().dtype(), T => {
        let gather = op.downcast_ref::<Gather<T>>()?;
        Some((gather.fixed.as_slice(), gather.out.as_slice()))
    })
}

/// The gather itself, typed so that pieces are transformed as views.
pub(super) struct Gather<T> {
    /// Per input axis: `Some(i)` when read at the single index `i`.
    pub fixed: Vec<Option<u64>>,
    /// The output axes.
    pub out: Vec<OutAxis>,
    /// The value of positions that read nothing (constant padding).
    pub fill: T,
    /// The input's grid: runs never cross its chunk boundaries.
    pub input: ChunkGrid,
    /// The operation's name, for errors.
    pub name: String,
    pub _t: PhantomData<fn() -> T>,
}

/// Consecutive output positions (local to the region) and what they read.
struct Run {
    out: Range<usize>,
    src: RunSrc,
}

enum RunSrc {
    /// The fill value.
    Fill,
    /// A new axis: no input axis.
    New,
    /// Input `range`; output position `k` of the run reads `range.start + offsets[k]`.
    Pull {
        range: Range<u64>,
        offsets: Vec<usize>,
    },
}

impl<T: Element> Gather<T> {
    fn runs(&self, out_axis: &OutAxis, range: Range<u64>) -> Vec<Run> {
        let (axis, map) = match out_axis {
            OutAxis::New { .. } => {
                let n = (range.end - range.start) as usize;
                return vec![Run {
                    out: 0..n,
                    src: RunSrc::New,
                }];
            }
            OutAxis::From { axis, map, .. } => (*axis, map),
        };
        let chunks = self.input.axis(axis);
        let mut runs: Vec<Run> = Vec::new();
        // The chunk each run reads (`None`: the fill value).
        let mut keys: Vec<Option<u64>> = Vec::new();
        // A run reads its chunk in one direction: a mirrored edge (pad's
        // reflect, symmetric) is a run of its own, so the rest of the
        // chunk stays a plain box.
        let mut last: Option<u64> = None;
        let mut step: Option<i64> = None;
        for (k, i) in range.enumerate() {
            let src = map.at(i);
            let key = src.map(|s| chunks.chunk_of(s).unwrap_or(u64::MAX));
            let next_step = src.zip(last).map(|(s, l)| s as i64 - l as i64);
            let same_direction = match (step, next_step) {
                _ if !matches!(map, AxisMap::Pad { .. }) => true,
                (_, None) => true,
                // An edge repeated (step 0) stays one run too.
                (None, Some(d)) => d.abs() <= 1,
                (Some(a), Some(d)) => a == d,
            };
            let continues = keys.last() == Some(&key) && same_direction;
            step = if continues { step.or(next_step) } else { None };
            last = src;
            match (runs.last_mut(), src) {
                (Some(run), _) if continues => {
                    run.out.end = k + 1;
                    if let (RunSrc::Pull { range, offsets }, Some(s)) = (&mut run.src, src) {
                        // Input indices for now; made relative to the
                        // run's lowest input below.
                        offsets.push(s as usize);
                        range.start = range.start.min(s);
                        range.end = range.end.max(s + 1);
                    }
                }
                _ => {
                    keys.push(key);
                    runs.push(Run {
                        out: k..k + 1,
                        src: match src {
                            None => RunSrc::Fill,
                            Some(s) => RunSrc::Pull {
                                range: s..s + 1,
                                offsets: vec![s as usize],
                            },
                        },
                    });
                }
            }
        }
        for run in &mut runs {
            if let RunSrc::Pull { range, offsets } = &mut run.src {
                let lo = range.start as usize;
                offsets.iter_mut().for_each(|o| *o -= lo);
            }
        }
        runs
    }

    /// The input axes left after dropping fixed ones, in the order the
    /// output's mapped axes read them.
    fn permutation(&self) -> Vec<usize> {
        let kept: Vec<usize> = (0..self.fixed.len())
            .filter(|&a| self.fixed[a].is_none())
            .collect();
        self.out
            .iter()
            .filter_map(|o| match o {
                OutAxis::From { axis, .. } => kept.iter().position(|k| k == axis),
                OutAxis::New { .. } => None,
            })
            .collect()
    }

    fn internal(&self, what: &str) -> Error {
        Error::Internal {
            operation: self.name.clone(),
            message: what.to_string(),
        }
    }
}

impl<T: Element> LayoutOp for Gather<T> {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn eval(&self, region: &Region, pull: &mut PullFn<'_>) -> Result<Block> {
        let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
        let mut dst = ArrayD::from_elem(IxDyn(&shape), self.fill);
        if region.is_empty() {
            return Ok(block(dst));
        }
        let runs: Vec<Vec<Run>> = self
            .out
            .iter()
            .enumerate()
            .map(|(j, o)| self.runs(o, region.range(j)))
            .collect();
        let perm = self.permutation();
        let identity_perm = perm.iter().enumerate().all(|(k, &p)| k == p);
        let mut pick = vec![0usize; runs.len()];
        'combos: loop {
            let chosen: Vec<&Run> = pick.iter().zip(&runs).map(|(&k, r)| &r[k]).collect();
            if !chosen.iter().any(|r| matches!(r.src, RunSrc::Fill)) {
                let mut start = Vec::with_capacity(self.fixed.len());
                let mut stop = Vec::with_capacity(self.fixed.len());
                for (axis, fixed) in self.fixed.iter().enumerate() {
                    let r = match fixed {
                        Some(i) => *i..*i + 1,
                        None => self
                            .out
                            .iter()
                            .zip(&chosen)
                            .find_map(|(o, run)| match (o, &run.src) {
                                (OutAxis::From { axis: a, .. }, RunSrc::Pull { range, .. })
                                    if *a == axis =>
                                {
                                    Some(range.clone())
                                }
                                _ => None,
                            })
                            .ok_or_else(|| self.internal("an input axis nothing reads"))?,
                    };
                    start.push(r.start);
                    stop.push(r.end);
                }
                let piece = take::<T>(pull(0, &Region::new(start, stop)?)?, &self.name)?;
                let plain = chosen.iter().all(|r| match &r.src {
                    RunSrc::Pull { range, offsets } => {
                        offsets.len() as u64 == range.end - range.start
                            && offsets.iter().enumerate().all(|(k, &o)| k == o)
                    }
                    _ => false,
                });
                let direct = plain
                    && identity_perm
                    && self.fixed.iter().all(Option::is_none)
                    && self.out.iter().all(|o| matches!(o, OutAxis::From { .. }));
                if direct && piece.shape() == shape.as_slice() {
                    return Ok(block(piece));
                }
                // A box of the input in the same axes: one memcpy per row
                // (most of an overlap's expanded block).
                if let (true, Some(from), Some(to)) = (direct, piece.as_slice(), dst.as_slice_mut())
                {
                    let extent: Vec<u64> = piece.shape().iter().map(|&n| n as u64).collect();
                    let to_shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
                    let at: Vec<u64> = chosen.iter().map(|r| r.out.start as u64).collect();
                    let whole = Region::from_shape(&extent);
                    copy_box(from, &extent, &whole, to, &to_shape, &at, 1);
                } else {
                    let mut view = piece.view();
                    for axis in (0..self.fixed.len()).rev() {
                        if self.fixed[axis].is_some() {
                            view = view.index_axis_move(Axis(axis), 0);
                        }
                    }
                    let mut view = view.permuted_axes(IxDyn(&perm));
                    for (j, o) in self.out.iter().enumerate() {
                        if let OutAxis::New { .. } = o {
                            view = view.insert_axis(Axis(j));
                        }
                    }
                    let mut values = CowArray::from(view);
                    for (j, run) in chosen.iter().enumerate() {
                        let RunSrc::Pull { range, offsets } = &run.src else {
                            continue;
                        };
                        let whole = offsets.len() as u64 == range.end - range.start
                            && offsets.iter().enumerate().all(|(k, &o)| k == o);
                        // A single input position broadcasts in `assign`.
                        if !whole && range.end - range.start > 1 {
                            values = CowArray::from(values.select(Axis(j), offsets));
                        }
                    }
                    let at: Vec<SliceInfoElem> = chosen
                        .iter()
                        .map(|r| SliceInfoElem::Slice {
                            start: r.out.start as isize,
                            end: Some(r.out.end as isize),
                            step: 1,
                        })
                        .collect();
                    let mut target = dst.slice_mut(at.as_slice());
                    if values.broadcast(target.raw_dim()).is_none() {
                        return Err(self.internal("a piece that does not fit its place"));
                    }
                    target.assign(&values);
                }
            }
            // Next combination, C order.
            for j in (0..pick.len()).rev() {
                pick[j] += 1;
                if pick[j] < runs[j].len() {
                    continue 'combos;
                }
                pick[j] = 0;
            }
            break;
        }
        Ok(block(dst))
    }

    fn pull_elements(&self, _input: usize, elements: u64) -> u64 {
        let most = self.input.max_block_elements();
        let mut factor = 1u64;
        for o in &self.out {
            if let OutAxis::From { map, .. } = o {
                match map.stride() {
                    Some(s) => factor = factor.saturating_mul(s),
                    None => return most,
                }
            }
        }
        elements.saturating_mul(factor).min(most)
    }
}
