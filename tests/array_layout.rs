//! The layout operations (slice, take, transpose, squeeze, expand_dims,
//! broadcast_to, pad, reshape, concatenate, stack) and numpy broadcasting
//! against an ndarray oracle, on random shapes (empty and length-1 axes
//! included) and random irregular chunkings, alone and in random chains with
//! elementwise operations and reductions. What they read, what their tasks
//! cost and how they fail: `array_layout_plan.rs`.

#[path = "support/chunkings.rs"]
mod chunkings;

use std::collections::BTreeSet;

use chunkings::{grid_for, shape_up_to};
use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{concatenate, stack, Array, Chunks, Index, PadMode};
use proptest::prelude::*;

// ---------------------------------------------------------------- strategies

fn shape() -> impl Strategy<Value = Vec<usize>> {
    shape_up_to(7)
}

/// Distinct values, so that a misplaced element shows.
fn values(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f64 * 0.5 - 3.0).collect()).unwrap()
}

/// An array with its oracle, on a random chunking, plus a random seed.
fn case() -> impl Strategy<Value = (ArrayD<f64>, ChunkGrid, u64)> {
    shape().prop_flat_map(|shape| (Just(values(&shape)), grid_for(&shape), any::<u64>()))
}

fn lazy(x: &ArrayD<f64>, grid: &ChunkGrid) -> Array<f64> {
    Array::from_ndarray(x.clone(), Chunks::Grid(grid.clone())).unwrap()
}

/// A small deterministic generator, so that one proptest seed drives ops
/// whose parameters depend on the shape reached so far.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn random_grid(shape: &[usize], rng: &mut Rng) -> ChunkGrid {
    let sizes: Vec<Vec<u64>> = shape
        .iter()
        .map(|&len| {
            if len == 0 {
                return vec![0];
            }
            let mut sizes = vec![1u64];
            for _ in 1..len {
                if rng.chance(40) {
                    sizes.push(1);
                } else if let Some(last) = sizes.last_mut() {
                    *last += 1;
                }
            }
            sizes
        })
        .collect();
    ChunkGrid::from_sizes(&sizes).unwrap()
}

// ------------------------------------------------------------------- oracles

/// Python's `range(len)[start:stop:step]`, by its own rules.
fn py_slice(len: usize, start: Option<i64>, stop: Option<i64>, step: i64) -> Vec<usize> {
    let n = len as i64;
    let mut out = Vec::new();
    if step > 0 {
        let norm = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
        let (mut i, end) = (start.map_or(0, norm), stop.map_or(n, norm));
        while i < end {
            out.push(i as usize);
            i += step;
        }
    } else {
        let norm = |v: i64| if v < 0 { (v + n).max(-1) } else { v.min(n - 1) };
        let (mut i, end) = (start.map_or(n - 1, norm), stop.map_or(-1, norm));
        while i > end {
            out.push(i as usize);
            i += step;
        }
    }
    out
}

fn oracle_slice(x: &ArrayD<f64>, indices: &[Index]) -> ArrayD<f64> {
    let mut out = x.clone();
    let mut axis = 0;
    let used = indices.iter().filter(|i| **i != Index::NewAxis).count();
    let rest = (used..x.ndim()).map(|_| Index::ALL);
    for index in indices.iter().copied().chain(rest) {
        match index {
            Index::NewAxis => {
                out = out.insert_axis(Axis(axis));
                axis += 1;
            }
            Index::At(k) => {
                let len = out.shape()[axis] as i64;
                let k = if k < 0 { k + len } else { k };
                out = out.index_axis(Axis(axis), k as usize).to_owned();
            }
            Index::Range { start, stop, step } => {
                let picked = py_slice(out.shape()[axis], start, stop, step);
                out = select(&out, axis, &picked);
                axis += 1;
            }
        }
    }
    out
}

/// The chunks Dask gives a slice: per range, the number of picks in each
/// input chunk (in the order picked, empty ones dropped); `[1]` per new axis.
fn slice_chunks(g: &ChunkGrid, shape: &[usize], indices: &[Index]) -> Vec<Vec<u64>> {
    let used = indices.iter().filter(|i| **i != Index::NewAxis).count();
    let rest = (used..shape.len()).map(|_| Index::ALL);
    let mut axis = 0;
    let mut out = Vec::new();
    for index in indices.iter().copied().chain(rest) {
        match index {
            Index::NewAxis => out.push(vec![1]),
            Index::At(_) => axis += 1,
            Index::Range { start, stop, step } => {
                let picked = py_slice(shape[axis], start, stop, step);
                let mut sizes: Vec<(u64, u64)> = Vec::new();
                for &i in &picked {
                    let c = g.axis(axis).chunk_of(i as u64).unwrap();
                    match sizes.last_mut() {
                        Some((last, n)) if *last == c => *n += 1,
                        _ => sizes.push((c, 1)),
                    }
                }
                let sizes: Vec<u64> = sizes.into_iter().map(|(_, n)| n).collect();
                let whole = picked.len() == shape[axis] && step == 1;
                out.push(if whole {
                    g.axis(axis).sizes().collect()
                } else if sizes.is_empty() {
                    vec![0]
                } else {
                    sizes
                });
                axis += 1;
            }
        }
    }
    out
}

fn select(x: &ArrayD<f64>, axis: usize, picked: &[usize]) -> ArrayD<f64> {
    let views: Vec<_> = picked
        .iter()
        .map(|&i| x.slice_axis(Axis(axis), (i..=i).into()))
        .collect();
    if views.is_empty() {
        let mut shape = x.shape().to_vec();
        shape[axis] = 0;
        return ArrayD::zeros(IxDyn(&shape));
    }
    ndarray::concatenate(Axis(axis), &views).unwrap()
}

/// numpy's pad on one axis, as numpy computes it: constant and edge by
/// position, reflect by reflecting the padded array again and again.
fn pad_positions(
    len: usize,
    before: usize,
    after: usize,
    mode: &PadMode<f64>,
) -> Vec<Option<usize>> {
    match mode {
        PadMode::Constant(_) => (0..before)
            .map(|_| None)
            .chain((0..len).map(Some))
            .chain((0..after).map(|_| None))
            .collect(),
        PadMode::Edge => (0..before)
            .map(|_| Some(0))
            .chain((0..len).map(Some))
            .chain((0..after).map(|_| Some(len - 1)))
            .collect(),
        PadMode::Reflect => {
            let mut idx: Vec<usize> = (0..len).collect();
            if len == 1 {
                return vec![Some(0); before + len + after];
            }
            let (mut left, mut right) = (before, after);
            while left > 0 || right > 0 {
                let cur = idx.clone();
                let k = left.min(len - 1);
                let mut front: Vec<usize> = cur[1..=k].iter().rev().copied().collect();
                front.extend(&cur);
                idx = front;
                left -= k;
                let n = idx.len();
                let k = right.min(len - 1);
                let back: Vec<usize> = idx[n - 1 - k..n - 1].iter().rev().copied().collect();
                idx.extend(back);
                right -= k;
            }
            idx.into_iter().map(Some).collect()
        }
        // numpy pads symmetric in steps of at most the axis length, each
        // mirroring what is there so far, edge included.
        PadMode::Symmetric => {
            let mut idx: Vec<usize> = (0..len).collect();
            let (mut left, mut right) = (before, after);
            while left > 0 || right > 0 {
                let k = left.min(len);
                let mut front: Vec<usize> = idx[..k].iter().rev().copied().collect();
                front.extend(&idx);
                idx = front;
                left -= k;
                let n = idx.len();
                let k = right.min(len);
                let back: Vec<usize> = idx[n - k..].iter().rev().copied().collect();
                idx.extend(back);
                right -= k;
            }
            idx.into_iter().map(Some).collect()
        }
        PadMode::Wrap => (0..before + len + after)
            .map(|i| Some((i as i64 - before as i64).rem_euclid(len as i64) as usize))
            .collect(),
    }
}

fn oracle_pad(x: &ArrayD<f64>, widths: &[(u64, u64)], mode: &PadMode<f64>) -> ArrayD<f64> {
    let maps: Vec<Vec<Option<usize>>> = x
        .shape()
        .iter()
        .zip(widths)
        .map(|(&n, &(b, a))| pad_positions(n, b as usize, a as usize, mode))
        .collect();
    let shape: Vec<usize> = maps.iter().map(Vec::len).collect();
    let fill = match mode {
        PadMode::Constant(v) => *v,
        _ => 0.0,
    };
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let src: Option<Vec<usize>> = (0..shape.len()).map(|k| maps[k][ix[k]]).collect();
        src.map_or(fill, |s| x[IxDyn(&s)])
    })
}

fn same(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits())
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter().zip(b.iter()).all(|(p, q)| {
            (p.is_nan() && q.is_nan()) || (p - q).abs() <= 1e-9 * (1.0 + p.abs().max(q.abs()))
        })
}

fn random_indices(shape: &[usize], rng: &mut Rng) -> Vec<Index> {
    let mut out = Vec::new();
    let keep = if rng.chance(20) {
        rng.below(shape.len() as u64 + 1) as usize
    } else {
        shape.len()
    };
    for &len in &shape[..keep] {
        if rng.chance(15) {
            out.push(Index::NewAxis);
        }
        let n = len as i64;
        if len > 0 && rng.chance(25) {
            out.push(Index::At(rng.int(-n, n - 1)));
            continue;
        }
        let opt = |rng: &mut Rng| rng.chance(70).then(|| rng.int(-n - 2, n + 2));
        let (start, stop) = (opt(rng), opt(rng));
        let step = match rng.int(-3, 3) {
            0 => 1,
            s => s,
        };
        out.push(Index::Range { start, stop, step });
    }
    if rng.chance(15) {
        out.push(Index::NewAxis);
    }
    out
}

// ------------------------------------------------------- one op at a time

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn slice_matches_numpy((x, g, seed) in case()) {
        let mut rng = Rng(seed);
        let indices = random_indices(x.shape(), &mut rng);
        let got = lazy(&x, &g).slice(&indices);
        let want = oracle_slice(&x, &indices);
        prop_assert_eq!(got.shape(), want.shape().iter().map(|&n| n as u64).collect::<Vec<_>>());
        let values = got.compute().unwrap();
        prop_assert!(same(&values, &want), "{indices:?}\n{values:?}\n{want:?}");
        // Dask's chunks: per kept axis, the picks of each input chunk.
        prop_assert_eq!(got.grid().to_sizes(), slice_chunks(&g, x.shape(), &indices));
    }

    #[test]
    fn take_matches_numpy((x, g, seed) in case()) {
        let mut rng = Rng(seed);
        let axis = rng.below(x.ndim() as u64) as usize;
        let n = x.shape()[axis] as i64;
        let count = if n == 0 { 0 } else { rng.below(9) };
        let indices: Vec<i64> = (0..count).map(|_| rng.int(-n, n - 1)).collect();
        let picked: Vec<usize> = indices.iter().map(|&i| if i < 0 { (i + n) as usize } else { i as usize }).collect();
        let got = lazy(&x, &g).take(&indices, axis);
        let values = got.compute().unwrap();
        prop_assert!(same(&values, &select(&x, axis, &picked)));
        // Dask's grouping: each output chunk along the axis reads one input chunk.
        let out_chunks: Vec<u64> = got.grid().axis(axis).sizes().collect();
        prop_assert_eq!(out_chunks.iter().sum::<u64>(), count);
        let mut at = 0usize;
        for size in out_chunks {
            let sources: BTreeSet<_> = picked[at..at + size as usize].iter().map(|&i| g.axis(axis).chunk_of(i as u64)).collect();
            prop_assert!(sources.len() <= 1);
            at += size as usize;
        }
    }

    #[test]
    fn transpose_squeeze_expand_dims_match_numpy((x, g, seed) in case()) {
        let mut rng = Rng(seed);
        let a = lazy(&x, &g);
        let mut perm: Vec<usize> = (0..x.ndim()).collect();
        for i in (1..perm.len()).rev() {
            perm.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let t = a.transpose(&perm);
        let want = x.view().permuted_axes(IxDyn(&perm)).to_owned();
        prop_assert!(same(&t.compute().unwrap(), &want));
        let sizes: Vec<Vec<u64>> = perm.iter().map(|&p| g.axis(p).sizes().collect()).collect();
        prop_assert_eq!(t.grid().to_sizes(), sizes);
        prop_assert!(same(&a.t().compute().unwrap(), &x.t().to_owned()));

        let squeezed = a.squeeze(None);
        let mut s = x.clone();
        for axis in (0..x.ndim()).rev().filter(|&k| x.shape()[k] == 1) {
            s = s.index_axis_move(Axis(axis), 0);
        }
        prop_assert!(same(&squeezed.compute().unwrap(), &s));

        let axis = rng.below(x.ndim() as u64 + 1) as usize;
        let e = a.expand_dims(axis);
        prop_assert!(same(&e.compute().unwrap(), &x.clone().insert_axis(Axis(axis))));
        prop_assert_eq!(e.grid().axis(axis).sizes().collect::<Vec<_>>(), vec![1]);
        prop_assert!(same(&e.squeeze(Some(&[axis])).compute().unwrap(), &x));
    }

    #[test]
    fn reshape_matches_numpy_or_asks_for_a_rechunk((x, g, seed) in case()) {
        let mut rng = Rng(seed);
        let mut target: Vec<u64> = x.shape().iter().map(|&n| n as u64).collect();
        for _ in 0..=rng.below(3) {
            match rng.below(4) {
                0 if target.len() > 1 => {
                    let i = rng.below(target.len() as u64 - 1) as usize;
                    let merged = target[i] * target[i + 1];
                    target.splice(i..i + 2, [merged]);
                }
                1 if !target.is_empty() => {
                    let i = rng.below(target.len() as u64) as usize;
                    let n = target[i];
                    if let Some(d) = (2..n).find(|d| n.is_multiple_of(*d) && rng.chance(60)) {
                        target.splice(i..=i, [d, n / d]);
                    }
                }
                2 => {
                    let i = rng.below(target.len() as u64 + 1) as usize;
                    target.insert(i, 1);
                }
                _ => {
                    if let Some(i) = target.iter().position(|&n| n == 1) {
                        target.remove(i);
                    }
                }
            }
        }
        let shape: Vec<i64> = target.iter().map(|&n| n as i64).collect();
        let want_shape: Vec<usize> = target.iter().map(|&n| n as usize).collect();
        let want = x.clone().into_shape_with_order(IxDyn(&want_shape)).unwrap();
        let a = lazy(&x, &g);
        match a.reshape(&shape).compute() {
            Ok(values) => prop_assert!(same(&values, &want), "{target:?}"),
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains("reshape") && text.contains("rechunk"), "{text}");
            }
        }
        // With whole-axis chunks every reshape is allowed.
        let whole: Vec<u64> = x.shape().iter().map(|&n| n.max(1) as u64).collect();
        let r = a.rechunk(whole).reshape(&shape);
        prop_assert!(same(&r.compute().unwrap(), &want));
        // And back, through a grid the reshape made (any region of it).
        let back: Vec<i64> = x.shape().iter().map(|&n| n as i64).collect();
        prop_assert!(same(&r.reshape(&back).compute().unwrap(), &x));
    }

    #[test]
    fn concatenate_and_stack_match_numpy(shape in shape(), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let axis = rng.below(shape.len() as u64) as usize;
        let n = 2 + rng.below(2) as usize;
        let mut xs = Vec::new();
        let mut arrays = Vec::new();
        for k in 0..n {
            let mut s = shape.clone();
            s[axis] = rng.below(4) as usize;
            let x = values(&s).mapv(|v| v + 100.0 * k as f64);
            arrays.push(lazy(&x, &random_grid(&s, &mut rng)));
            xs.push(x);
        }
        let c = concatenate(&arrays, axis);
        let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let want = ndarray::concatenate(Axis(axis), &views).unwrap();
        prop_assert!(same(&c.compute().unwrap(), &want));
        let joined: Vec<u64> = arrays.iter().flat_map(|a| a.grid().axis(axis).sizes().collect::<Vec<_>>()).filter(|&s| s > 0).collect();
        if !joined.is_empty() {
            prop_assert_eq!(c.grid().axis(axis).sizes().collect::<Vec<_>>(), joined);
        }

        let same_shape: Vec<Array<f64>> = (0..n).map(|k| lazy(&xs[0].mapv(|v| v * k as f64), &random_grid(xs[0].shape(), &mut rng))).collect();
        let at = rng.below(shape.len() as u64 + 1) as usize;
        let st = stack(&same_shape, at);
        let owned: Vec<ArrayD<f64>> = (0..n).map(|k| xs[0].mapv(|v| v * k as f64)).collect();
        let views: Vec<_> = owned.iter().map(|x| x.view()).collect();
        prop_assert!(same(&st.compute().unwrap(), &ndarray::stack(Axis(at), &views).unwrap()));
        prop_assert!(st.grid().axis(at).sizes().all(|s| s == 1));
    }

    #[test]
    fn pad_matches_numpy((x, g, seed) in case()) {
        let mut rng = Rng(seed);
        let widths: Vec<(u64, u64)> = (0..x.ndim()).map(|_| (rng.below(6), rng.below(6))).collect();
        let mode = match rng.below(5) {
            0 => PadMode::Constant(-7.5),
            1 => PadMode::Edge,
            2 => PadMode::Symmetric,
            3 => PadMode::Wrap,
            _ => PadMode::Reflect,
        };
        let a = lazy(&x, &g).pad(&widths, mode);
        let extends_empty = x.shape().iter().zip(&widths).any(|(&n, &(b, f))| n == 0 && b + f > 0);
        if extends_empty && !matches!(mode, PadMode::Constant(_)) {
            let e = a.compute().unwrap_err().to_string();
            prop_assert!(e.contains("pad") && e.contains("empty axis"), "{e}");
        } else {
            let want = oracle_pad(&x, &widths, &mode);
            prop_assert!(same(&a.compute().unwrap(), &want), "{widths:?} {mode:?}");
            // The widths go to the edge chunks.
            for (k, &(b, f)) in widths.iter().enumerate() {
                let sizes: Vec<u64> = a.grid().axis(k).sizes().collect();
                let mut input: Vec<u64> = g.axis(k).sizes().collect();
                input[0] += b;
                *input.last_mut().unwrap() += f;
                input.retain(|&s| s > 0);
                if input.is_empty() { input.push(0); }
                prop_assert_eq!(sizes, input);
            }
        }
    }

    #[test]
    fn broadcasting_matches_numpy(out in proptest::collection::vec(0usize..5, 0..=3), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let mut operand = |k: f64| {
            let drop = rng.below(out.len() as u64 + 1) as usize;
            let shape: Vec<usize> = out[drop..].iter().map(|&n| if rng.chance(35) { 1 } else { n }).collect();
            let x = values(&shape).mapv(|v| v * k);
            (lazy(&x, &random_grid(&shape, &mut rng)), x)
        };
        let (a, x) = operand(1.0);
        let (b, y) = operand(-0.25);
        let shape: Vec<usize> = {
            let n = x.ndim().max(y.ndim());
            (0..n).map(|i| {
                let at = |s: &[usize]| (i + s.len()).checked_sub(n).map_or(1, |k| s[k]);
                if at(x.shape()) == 1 { at(y.shape()) } else { at(x.shape()) }
            }).collect()
        };
        let (xb, yb) = (x.broadcast(IxDyn(&shape)).unwrap(), y.broadcast(IxDyn(&shape)).unwrap());
        prop_assert!(same(&(&a + &b).compute().unwrap(), &(&xb + &yb)));
        prop_assert!(same(&(&b * &a).compute().unwrap(), &(&yb * &xb)));
        prop_assert_eq!(a.greater(&b).compute().unwrap(), ndarray::Zip::from(&xb).and(&yb).map_collect(|p, q| p > q));
        let target: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
        prop_assert!(same(&a.broadcast_to(&target).compute().unwrap(), &xb.to_owned()));
        prop_assert_eq!((&a + &b).plan().unwrap().stages().len(), 1);
    }
}

// ------------------------------------------------------------------- chains

#[derive(Debug, Clone, Copy)]
enum Step {
    Slice,
    Take,
    Transpose,
    Pad,
    ExpandDims,
    Squeeze,
    ConcatSelf,
    Reshape,
    Rechunk,
    AddScalar,
    AddRow,
    Sqrt,
    Sum,
    Anomaly,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Slice),
        Just(Step::Take),
        Just(Step::Transpose),
        Just(Step::Pad),
        Just(Step::ExpandDims),
        Just(Step::Squeeze),
        Just(Step::ConcatSelf),
        Just(Step::Reshape),
        Just(Step::Rechunk),
        Just(Step::AddScalar),
        Just(Step::AddRow),
        Just(Step::Sqrt),
        Just(Step::Sum),
        Just(Step::Anomaly),
    ]
}

fn apply(step: Step, a: &Array<f64>, x: &ArrayD<f64>, rng: &mut Rng) -> (Array<f64>, ArrayD<f64>) {
    let ndim = x.ndim();
    match step {
        Step::Slice => {
            let indices = random_indices(x.shape(), rng);
            (a.slice(&indices), oracle_slice(x, &indices))
        }
        Step::Take if ndim > 0 && x.shape().iter().all(|&n| n > 0) => {
            let axis = rng.below(ndim as u64) as usize;
            let n = x.shape()[axis] as i64;
            let idx: Vec<i64> = (0..rng.below(5)).map(|_| rng.int(-n, n - 1)).collect();
            let picked: Vec<usize> = idx.iter().map(|&i| ((i + n) % n) as usize).collect();
            (a.take(&idx, axis), select(x, axis, &picked))
        }
        Step::Transpose => (a.t(), x.t().to_owned()),
        Step::Pad => {
            let widths: Vec<(u64, u64)> = (0..ndim).map(|_| (rng.below(3), rng.below(3))).collect();
            let mode = if x.is_empty() {
                PadMode::Constant(1.5)
            } else {
                [
                    PadMode::Constant(1.5),
                    PadMode::Edge,
                    PadMode::Reflect,
                    PadMode::Symmetric,
                    PadMode::Wrap,
                ][rng.below(5) as usize]
            };
            (a.pad(&widths, mode), oracle_pad(x, &widths, &mode))
        }
        Step::ExpandDims if ndim < 4 => {
            let axis = rng.below(ndim as u64 + 1) as usize;
            (a.expand_dims(axis), x.clone().insert_axis(Axis(axis)))
        }
        Step::Squeeze => {
            let mut s = x.clone();
            for axis in (0..ndim).rev().filter(|&k| x.shape()[k] == 1) {
                s = s.index_axis_move(Axis(axis), 0);
            }
            (a.squeeze(None), s)
        }
        Step::ConcatSelf if ndim > 0 => {
            let axis = rng.below(ndim as u64) as usize;
            let other = a.rechunk(random_grid(x.shape(), rng)) * 2.0;
            let y = x.mapv(|v| v * 2.0);
            (
                concatenate(&[a.clone(), other], axis),
                ndarray::concatenate(Axis(axis), &[x.view(), y.view()]).unwrap(),
            )
        }
        Step::Reshape => {
            let flat = x.len() as i64;
            let whole: Vec<u64> = x.shape().iter().map(|&n| n.max(1) as u64).collect();
            let target: Vec<usize> = if flat > 1 && flat % 2 == 0 {
                vec![2, x.len() / 2]
            } else {
                vec![x.len()]
            };
            let shape: Vec<i64> = target.iter().map(|&n| n as i64).collect();
            (
                a.rechunk(whole).reshape(&shape),
                x.as_standard_layout()
                    .into_owned()
                    .into_shape_with_order(IxDyn(&target))
                    .unwrap(),
            )
        }
        Step::Rechunk => (a.rechunk(random_grid(x.shape(), rng)), x.clone()),
        Step::AddScalar => (a + 1.25, x.mapv(|v| v + 1.25)),
        Step::AddRow if ndim > 0 => {
            let n = x.shape()[ndim - 1];
            let row = values(&[n]);
            let lazy_row = lazy(&row, &random_grid(&[n], rng));
            (a + &lazy_row, x + &row.broadcast(x.raw_dim()).unwrap())
        }
        Step::Sqrt => (a.abs().sqrt(), x.mapv(|v| v.abs().sqrt())),
        Step::Sum if ndim > 0 => {
            let axis = rng.below(ndim as u64) as usize;
            let keepdims = rng.chance(50);
            let mut s = x.sum_axis(Axis(axis));
            if keepdims {
                s = s.insert_axis(Axis(axis));
            }
            (a.sum([axis], keepdims), s)
        }
        // A reduction broadcast back: a later slice goes through the
        // broadcast into the reduction.
        Step::Anomaly if ndim > 0 => {
            let axis = rng.below(ndim as u64) as usize;
            let sum = x.sum_axis(Axis(axis)).insert_axis(Axis(axis));
            (
                a - &a.sum([axis], true),
                x - &sum.broadcast(x.raw_dim()).unwrap(),
            )
        }
        _ => (a.clone(), x.clone()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 240, ..ProptestConfig::default() })]

    #[test]
    fn chains_of_layout_elementwise_and_reductions_match_numpy((x, g, seed) in case(), steps in proptest::collection::vec(step(), 2..=5)) {
        let mut rng = Rng(seed);
        let (mut a, mut o) = (lazy(&x, &g), x);
        for &s in &steps {
            let (next_a, next_o) = apply(s, &a, &o, &mut rng);
            a = next_a;
            o = next_o;
            prop_assume!(o.len() < 20_000);
        }
        let got = a.compute().unwrap();
        prop_assert!(close(&got, &o), "{steps:?}\n{got:?}\n{o:?}");
    }
}
