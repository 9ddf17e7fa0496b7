//! Reductions over any set of axes, streamed into per-output-block
//! accumulators and combined in a tree of fan-in `split_every` whose shape
//! depends only on the chunk grid (see `plan::StageKind::Reduce`), so the
//! bits of a result do not depend on the number of threads.
//!
//! One module per kind of accumulator:
//!
//! | module | accumulator | operations |
//! |---|---|---|
//! | `fold` | one value per output element | `sum`, `prod`, `nansum`, `nanprod` |
//! | `logical` | the same, of another type | `any`, `all`, `count_nonzero` |
//! | `extreme` | the extreme so far | `min`, `max`, `nanmin`, `nanmax` |
//! | `moments` | count, mean, M2 (Chan et al.) | `mean`, `var`, `std` and their `nan` forms |
//! | `arg` | value and global index | `argmin`, `argmax`, `nanargmin`, `nanargmax` |
//! | `scan` | block totals, then a blockwise scan | `cumsum`, `cumprod` and their `nan` forms |
//!
//! Element types follow numpy where the typed API allows: `sum`/`prod`
//! (and the scans) of integers stay in the input type and wrap on overflow
//! (numpy widens small integers to `int64` first); `mean`/`var`/`std` of
//! integers give `f64`, of floats the same float ([`MeanElement`]); indices
//! and counts are `i64` (numpy's `intp`). Axes are numpy's ([`Axes`]):
//! negative ones count from the end, [`Axes::All`] is `axis=None`.

mod arg;
mod axes;
mod extreme;
mod fold;
mod grouped;
mod logical;
mod moments;
mod scan;

use std::any::Any;
use std::sync::Arc;

use ndarray::{ArrayD, Axis, IxDyn, Zip};
use ndchunk_io::Element;

use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::{Node, NodeKind, Reduction};
use crate::ops::elementwise::invalid;
use crate::runtime::block::block;
use crate::runtime::block::Block;
use crate::runtime::block_type::block_type;

pub use axes::Axes;
pub(crate) use grouped::GroupStat;
pub use moments::MeanElement;

/// Partial results combined at once in a reduction tree (Dask's default
/// `split_every` for most reductions is 4 to 32; 8 keeps trees shallow).
pub const DEFAULT_SPLIT_EVERY: u64 = 8;

/// How a reduction keeps its axes and combines its partial results.
///
/// ```
/// use ndchunk::{Array, ReduceOptions};
/// let a = Array::<f64>::arange(100, [10]).unwrap();
/// let opts = ReduceOptions::default().keepdims(true).split_every(2);
/// let s = a.sum_with(&[0], &opts);
/// assert_eq!(s.shape(), vec![1]);
/// assert_eq!(s.compute().unwrap()[[0]], 4950.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReduceOptions {
    /// Reduced axes stay as length-1 axes (numpy's `keepdims`).
    pub keepdims: bool,
    /// Partial results combined at once (Dask's `split_every`), at least
    /// 2. It fixes the tree, and so the bits of a float result: the same
    /// value always gives the same bits, whatever the threads.
    pub split_every: u64,
}

impl Default for ReduceOptions {
    fn default() -> Self {
        Self {
            keepdims: false,
            split_every: DEFAULT_SPLIT_EVERY,
        }
    }
}

impl ReduceOptions {
    /// With `keepdims` set.
    pub fn keepdims(mut self, keepdims: bool) -> Self {
        self.keepdims = keepdims;
        self
    }

    /// With `split_every` set (checked when the reduction is built).
    pub fn split_every(mut self, split_every: u64) -> Self {
        self.split_every = split_every;
        self
    }

    fn with_keepdims(keepdims: bool) -> Self {
        Self::default().keepdims(keepdims)
    }
}

/// True for NaN (a float that is not equal to itself); never for integers.
pub(crate) fn is_nan<T: PartialOrd>(x: T) -> bool {
    x.partial_cmp(&x).is_none()
}

/// An accumulator as an output block of `shape`.
fn reshape<T: Element>(a: ArrayD<T>, shape: &[usize], op: &str) -> Result<Block> {
    a.into_shape_with_order(IxDyn(shape))
        .map(block)
        .map_err(|e| Error::Internal {
            operation: op.into(),
            message: format!("accumulator does not fit the output block: {e}"),
        })
}

/// Two optional accumulators (`None`: an empty block, nothing reduced)
/// combined element by element with `pick(acc, other)`, in that order.
fn combine_optional<E: Copy + Send + Sync + 'static>(
    acc: Block,
    other: Block,
    op: &str,
    pick: impl Fn(E, E) -> E,
) -> Result<Block> {
    let merged = match (
        take_acc::<Option<ArrayD<E>>>(acc, op)?,
        take_acc::<Option<ArrayD<E>>>(other, op)?,
    ) {
        (Some(mut a), Some(b)) => {
            a.zip_mut_with(&b, |x, &y| *x = pick(*x, y));
            Some(a)
        }
        (a, None) => a,
        (None, b) => b,
    };
    Ok(Box::new(merged))
}

/// An accumulator of type `A` out of a block (an internal error when the
/// tree mixed accumulators up).
fn take_acc<A: 'static>(b: Block, op: &str) -> Result<A> {
    b.downcast::<A>()
        .map(|b| *b)
        .map_err(|_| wrong_accumulator(op))
}

/// A lane fold's accumulator as an `A` (see [`crate::runtime::lanes::LaneFold`]).
fn accumulator<'a, A: 'static>(acc: &'a mut dyn Any, op: &str) -> Result<&'a mut A> {
    acc.downcast_mut::<A>().ok_or_else(|| wrong_accumulator(op))
}

/// A lane fold's finished accumulator as an `A`.
fn finished<A: 'static>(acc: Box<dyn Any + Send>, op: &str) -> Result<A> {
    acc.downcast::<A>()
        .map(|b| *b)
        .map_err(|_| wrong_accumulator(op))
}

/// `values` (C order) as an array of `shape`.
fn shaped<A: Element>(values: Vec<A>, shape: &[usize], op: &str) -> Result<ArrayD<A>> {
    ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|_| wrong_accumulator(op))
}

fn wrong_accumulator(op: &str) -> Error {
    Error::Internal {
        operation: op.into(),
        message: "wrong accumulator".into(),
    }
}

/// `a` folded over `axes` (reduced axes kept as length 1): each element
/// lifted into the accumulator type by `lift`, then combined by `op` from
/// `init`, axis after axis in increasing order. `op` must be associative
/// and commutative (a sum, a product, a count): along the last axis the
/// elements are folded in [`LANES`] interleaved runs (see [`fold_run`]).
fn fold_axes<T: Element, A: Element>(
    a: &ArrayD<T>,
    axes: &[usize],
    init: A,
    lift: impl Fn(T) -> A,
    op: impl Fn(A, A) -> A,
) -> ArrayD<A> {
    let Some((&first, rest)) = axes.split_first() else {
        return a.mapv(lift);
    };
    let mut acc = fold_axis(a, first, init, |acc, &x| op(acc, lift(x)), &op);
    for &ax in rest {
        acc = fold_axis(&acc, ax, init, |acc, &x| op(acc, x), &op);
    }
    acc
}

/// `a` folded along one axis, the axis kept as length 1: in index order,
/// except along the last axis (see [`fold_run`]).
fn fold_axis<T: Element, A: Element>(
    a: &ArrayD<T>,
    ax: usize,
    init: A,
    f: impl Fn(A, &T) -> A,
    op: impl Fn(A, A) -> A,
) -> ArrayD<A> {
    let folded = if ax + 1 == a.ndim() {
        // Lanes along the last axis are contiguous: fold each one as a run
        // (ndarray's `fold_axis` would zip over one 0-d view per element).
        Zip::from(a.lanes(Axis(ax))).map_collect(|lane| match lane.as_slice() {
            Some(run) => fold_run(run, init, &f, &op),
            None => lane.fold(init, &f),
        })
    } else {
        a.fold_axis(Axis(ax), init, |&acc, x| f(acc, x))
    };
    folded.insert_axis(Axis(ax))
}

/// Interleaved accumulators of [`fold_run`].
const LANES: usize = 8;

/// A contiguous run folded as [`LANES`] interleaved runs (element `i`
/// into accumulator `i % LANES`), combined pairwise, then the tail in
/// order: independent chains the CPU overlaps and the compiler vectorises,
/// where one chain waits for each add (numpy's sum also splits its runs).
/// The order depends only on the run's length, never on threads.
fn fold_run<T, A: Copy>(run: &[T], init: A, f: impl Fn(A, &T) -> A, op: impl Fn(A, A) -> A) -> A {
    if run.len() < 2 * LANES {
        return run.iter().fold(init, f);
    }
    let mut acc = [init; LANES];
    let mut chunks = run.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a = f(*a, x);
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = op(acc[i], acc[i + width]);
        }
    }
    chunks.remainder().iter().fold(acc[0], f)
}

impl<T: Element> Array<T> {
    /// A reduction node over `axes` (each at most once, in range; negative
    /// ones count from the end) running `reduction`, whose finished blocks
    /// must be `ArrayD<U>`. Bad axes or a `split_every` below 2 become an
    /// error when the graph is planned.
    pub(crate) fn reduce<U: Element>(
        &self,
        name: &str,
        reduction: Arc<dyn Reduction>,
        axes: impl Into<Axes>,
        options: &ReduceOptions,
    ) -> Array<U> {
        match self.reduced_grid(&axes.into(), options) {
            Ok((sorted, grid)) => Array::from_node(Node::new(
                name,
                grid,
                block_type::<U>(),
                NodeKind::Reduce {
                    input: self.node().clone(),
                    reduction,
                    axes: sorted,
                    keepdims: options.keepdims,
                    split_every: options.split_every,
                },
            )),
            Err(message) => invalid(name, self.grid().clone(), message),
        }
    }

    /// [`Array::reduce`] for a reduction with no identity (`min`,
    /// `argmax`): refused when planned if some output element would reduce
    /// no element, as numpy refuses a zero-size reduction.
    fn reduce_nonempty<U: Element>(
        &self,
        name: &str,
        reduction: Arc<dyn Reduction>,
        axes: impl Into<Axes>,
        options: &ReduceOptions,
    ) -> Array<U> {
        let axes = axes.into();
        let shape = self.shape();
        let resolved = axes.resolve(shape.len()).unwrap_or_default();
        let extent: u64 = resolved.iter().map(|&a| shape[a]).product();
        let outputs: u64 = (0..shape.len())
            .filter(|a| !resolved.contains(a))
            .map(|a| shape[a])
            .product();
        if extent == 0 && outputs > 0 {
            return invalid(
                name,
                self.grid().clone(),
                format!(
                    "zero-size reduction over axes {resolved:?} of shape {shape:?} has no identity"
                ),
            );
        }
        self.reduce(name, reduction, axes, options)
    }

    /// The sorted axes and the output grid, or what is wrong.
    fn reduced_grid(
        &self,
        axes: &Axes,
        options: &ReduceOptions,
    ) -> std::result::Result<(Vec<usize>, ndchunk_chunking::ChunkGrid), String> {
        if options.split_every < 2 {
            return Err(format!(
                "split_every must be at least 2 (partials combined at once), got {}",
                options.split_every
            ));
        }
        let axes = axes.resolve(self.ndim())?;
        let mut sorted = axes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != axes.len() {
            return Err(format!("axes {axes:?} are not distinct"));
        }
        let grid = self
            .grid()
            .reduce_axes(&sorted, options.keepdims)
            .map_err(|e| e.to_string())?;
        Ok((sorted, grid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_run_folds_every_element_once() {
        for n in 0..70u64 {
            let run: Vec<u64> = (0..n).map(|i| 1 << (i % 60)).collect();
            // Wrapping integer sums are exact in any order.
            let want = run.iter().fold(0u64, |a, &x| a.wrapping_add(x));
            let got = fold_run(&run, 0u64, |a, &x| a.wrapping_add(x), u64::wrapping_add);
            assert_eq!(got, want, "length {n}");
            let count = fold_run(&run, 0u64, |a, _| a + 1, |a, b| a + b);
            assert_eq!(count, n);
        }
        // Floats: the order is fixed (interleaved runs, pairwise, then the
        // tail), so the bits are a function of the values alone.
        let run: Vec<f64> = (0..1001).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let sum = |r: &[f64]| fold_run(r, 0.0, |a, &x| a + x, |a, b| a + b);
        assert_eq!(sum(&run).to_bits(), sum(&run.clone()).to_bits());
        let exact: f64 = run.iter().sum();
        assert!((sum(&run) - exact).abs() < 1e-12);
    }
}
