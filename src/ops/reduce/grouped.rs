//! Reductions by group along one axis, in one pass over the data: each
//! input block folds its elements into per-group partials (counts, sums,
//! sums of squared deviations, extremes), and the partials combine in the
//! reduction tree like any other, so the bits do not depend on the thread
//! count, and the graph is one node whatever the number of groups (the
//! map-reduce that `flox` brings to xarray). The output has the axis
//! replaced by one of `groups` positions, in one chunk.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};

use super::{take_acc, wrong_accumulator};
use num_traits::AsPrimitive;

use crate::array::Array;
use crate::error::Result;
use crate::graph::{Node, NodeKind, Reduction};
use crate::ops::elementwise::invalid;
use crate::ops::Numeric;
use crate::runtime::block::{block, take, Block};
use crate::runtime::block_type::block_type;

/// What a grouped reduction computes per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupStat {
    Count,
    Sum,
    Mean,
    Var { ddof: u64 },
    Std { ddof: u64 },
    Min,
    Max,
}

impl GroupStat {
    fn name(self) -> &'static str {
        match self {
            GroupStat::Count => "count",
            GroupStat::Sum => "sum",
            GroupStat::Mean => "mean",
            GroupStat::Var { .. } => "var",
            GroupStat::Std { .. } => "std",
            GroupStat::Min => "min",
            GroupStat::Max => "max",
        }
    }
}

/// For each group a block touched (a daily block touches one month), per
/// element of the other axes: the count of values, and their sum and sum
/// of squared deviations from the mean (Chan et al.), or their extreme.
/// Groups a block does not touch take no memory.
struct Partial {
    groups: BTreeMap<u32, Cells>,
}

/// One group's cells, `outer * inner` each, C order.
struct Cells {
    count: Vec<f64>,
    sum: Vec<f64>,
    /// Sums of squared deviations (variances) or extremes (min, max).
    second: Vec<f64>,
}

struct Grouped<T> {
    _element: std::marker::PhantomData<fn() -> T>,
    /// The group of each position along the axis (`u32::MAX`: none).
    group_of: Arc<[u32]>,
    groups: usize,
    axis: usize,
    stat: GroupStat,
    skipna: bool,
}

impl<T> Grouped<T> {
    fn op(&self) -> String {
        format!("groupby.{}", self.stat.name())
    }

    /// The block as (outer, along, inner): C order around `axis`.
    fn dims(&self, shape: &[usize]) -> (usize, usize, usize) {
        let outer = shape[..self.axis].iter().product();
        let inner = shape[self.axis + 1..].iter().product();
        (outer, shape[self.axis], inner)
    }

    fn empty(&self, n: usize) -> Cells {
        let second = match self.stat {
            GroupStat::Min => f64::INFINITY,
            GroupStat::Max => f64::NEG_INFINITY,
            _ => 0.0,
        };
        Cells {
            count: vec![0.0; n],
            sum: vec![0.0; n],
            second: vec![second; n],
        }
    }

    /// The statistic of one cell.
    fn stat(&self, n: f64, sum: f64, second: f64) -> f64 {
        match self.stat {
            GroupStat::Count => n,
            GroupStat::Sum => sum,
            GroupStat::Mean => sum / n,
            GroupStat::Var { ddof } | GroupStat::Std { ddof } if n <= ddof as f64 => f64::NAN,
            GroupStat::Var { ddof } => second / (n - ddof as f64),
            GroupStat::Std { ddof } => (second / (n - ddof as f64)).sqrt(),
            GroupStat::Min | GroupStat::Max if n == 0.0 && !second.is_nan() => f64::NAN,
            GroupStat::Min | GroupStat::Max => second,
        }
    }
}

impl<T: Numeric + AsPrimitive<f64>> Reduction for Grouped<T> {
    fn partial(&self, block: Block, _axes: &[usize], region: &Region) -> Result<Block> {
        let op = self.op();
        let data = take::<T>(block, &op)?;
        let data = data.as_standard_layout();
        let values = data.as_slice().ok_or_else(|| wrong_accumulator(&op))?;
        let (outer, along, inner) = self.dims(data.shape());
        let start = region.start()[self.axis] as usize;
        let mut groups: BTreeMap<u32, Cells> = BTreeMap::new();
        for o in 0..outer {
            for p in 0..along {
                let g = self.group_of[start + p];
                if g == u32::MAX {
                    continue;
                }
                let cells = groups.entry(g).or_insert_with(|| self.empty(outer * inner));
                let at = o * inner;
                let row = &values[(o * along + p) * inner..][..inner];
                let count = &mut cells.count[at..at + inner];
                let sum = &mut cells.sum[at..at + inner];
                let second = &mut cells.second[at..at + inner];
                match self.stat {
                    GroupStat::Min | GroupStat::Max => {
                        let min = self.stat == GroupStat::Min;
                        for ((&x, n), e) in row.iter().zip(count.iter_mut()).zip(second) {
                            let x: f64 = x.as_();
                            if x.is_nan() {
                                if !self.skipna {
                                    *e = f64::NAN;
                                }
                                continue;
                            }
                            *n += 1.0;
                            let better = if min { x < *e } else { x > *e };
                            if better {
                                *e = x;
                            }
                        }
                    }
                    _ => {
                        // Without branches, so that it vectorises: a
                        // skipped NaN counts 0 and adds 0.
                        let skipna = self.skipna;
                        for ((&x, n), s) in row.iter().zip(count.iter_mut()).zip(sum) {
                            let x: f64 = x.as_();
                            let skip = skipna && x.is_nan();
                            *n += if skip { 0.0 } else { 1.0 };
                            *s += if skip { 0.0 } else { x };
                        }
                    }
                }
            }
        }
        if matches!(self.stat, GroupStat::Var { .. } | GroupStat::Std { .. }) {
            // Second pass: squared deviations from this block's group means.
            for o in 0..outer {
                for p in 0..along {
                    let g = self.group_of[start + p];
                    let Some(cells) = groups.get_mut(&g) else {
                        continue;
                    };
                    let at = o * inner;
                    let row = &values[(o * along + p) * inner..][..inner];
                    let sums = &cells.sum[at..at + inner];
                    let counts = &cells.count[at..at + inner];
                    let m2s = &mut cells.second[at..at + inner];
                    for (k, &x) in row.iter().enumerate() {
                        let x: f64 = x.as_();
                        if self.skipna && x.is_nan() {
                            continue;
                        }
                        let mean = sums[k] / counts[k];
                        m2s[k] += (x - mean) * (x - mean);
                    }
                }
            }
        }
        Ok(Box::new(Partial { groups }))
    }

    fn combine(&self, acc: Block, other: Block) -> Result<Block> {
        let op = self.op();
        let mut a = take_acc::<Partial>(acc, &op)?;
        let b = take_acc::<Partial>(other, &op)?;
        for (g, cb) in b.groups {
            let ca = match a.groups.entry(g) {
                Entry::Vacant(slot) => {
                    slot.insert(cb);
                    continue;
                }
                Entry::Occupied(slot) => slot.into_mut(),
            };
            if ca.count.len() != cb.count.len() {
                return Err(wrong_accumulator(&op));
            }
            for k in 0..ca.count.len() {
                let (na, nb) = (ca.count[k], cb.count[k]);
                match self.stat {
                    GroupStat::Min => ca.second[k] = pick(ca.second[k], cb.second[k], |x, y| x < y),
                    GroupStat::Max => ca.second[k] = pick(ca.second[k], cb.second[k], |x, y| x > y),
                    GroupStat::Var { .. } | GroupStat::Std { .. } if na > 0.0 && nb > 0.0 => {
                        let delta = cb.sum[k] / nb - ca.sum[k] / na;
                        ca.second[k] += cb.second[k] + delta * delta * na * nb / (na + nb);
                    }
                    GroupStat::Var { .. } | GroupStat::Std { .. } if na == 0.0 => {
                        ca.second[k] = cb.second[k];
                    }
                    _ => {}
                }
                ca.count[k] = na + nb;
                ca.sum[k] += cb.sum[k];
            }
        }
        Ok(Box::new(a))
    }

    fn finish(&self, acc: Block, out_shape: &[usize]) -> Result<Block> {
        let op = self.op();
        let acc = take_acc::<Partial>(acc, &op)?;
        let (outer, _, inner) = self.dims(out_shape);
        let empty = self.stat(0.0, 0.0, self.empty(1).second[0]);
        let mut values = vec![empty; outer * self.groups * inner];
        for (&g, cells) in &acc.groups {
            for o in 0..outer {
                let to = (o * self.groups + g as usize) * inner;
                for i in 0..inner {
                    let k = o * inner + i;
                    values[to + i] = self.stat(cells.count[k], cells.sum[k], cells.second[k]);
                }
            }
        }
        ArrayD::from_shape_vec(IxDyn(out_shape), values)
            .map(block)
            .map_err(|_| wrong_accumulator(&op))
    }

    fn acc_bytes_per_element(&self) -> u64 {
        24
    }
}

/// The extreme of two, NaN winning (a NaN kept when NaNs are not skipped).
fn pick(x: f64, y: f64, better: impl Fn(f64, f64) -> bool) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else if better(y, x) {
        y
    } else {
        x
    }
}

impl<T: Numeric + AsPrimitive<f64>> Array<T> {
    /// `stat` of the values along `axis` by group: position `p` belongs to
    /// group `group_of[p]` (`u32::MAX`: to none) of `groups`; NaNs skipped
    /// when `skipna`. The axis becomes one of length `groups`, one chunk.
    /// An empty group gives NaN (0 for counts and sums).
    pub(crate) fn grouped(
        &self,
        axis: usize,
        group_of: Arc<[u32]>,
        groups: usize,
        stat: GroupStat,
        skipna: bool,
    ) -> Array<f64> {
        let name = format!("groupby.{}(axis={axis}, {groups} groups)", stat.name());
        let shape = self.shape();
        let fail = |message: String| invalid(&name, self.grid().clone(), message);
        if axis >= shape.len() {
            return fail(format!(
                "axis {axis} is out of bounds for {} dimensions",
                shape.len()
            ));
        }
        if group_of.len() as u64 != shape[axis] {
            return fail(format!(
                "{} group labels for an axis of {}",
                group_of.len(),
                shape[axis]
            ));
        }
        if groups == 0
            || group_of
                .iter()
                .any(|&g| g != u32::MAX && g as usize >= groups)
        {
            return fail(format!(
                "group numbers must be below {groups} (and there must be one)"
            ));
        }
        let mut axes: Vec<AxisChunks> = self.grid().axes().to_vec();
        axes[axis] = match AxisChunks::from_sizes(&[groups as u64]) {
            Ok(a) => a,
            Err(e) => return fail(e.to_string()),
        };
        let reduction = Grouped::<T> {
            _element: std::marker::PhantomData,
            group_of,
            groups,
            axis,
            stat,
            skipna,
        };
        Array::from_node(Node::new(
            &name,
            ChunkGrid::new(axes),
            block_type::<f64>(),
            NodeKind::Reduce {
                input: self.node().clone(),
                reduction: Arc::new(reduction),
                axes: vec![axis],
                keepdims: true,
                split_every: super::DEFAULT_SPLIT_EVERY,
            },
        ))
    }
}
