//! Every reduction and scan of `Array` against an ndarray oracle with
//! numpy's edge semantics, on random shapes (empty and length-1 axes
//! included), random irregular chunkings, any set of axes, `keepdims` on
//! and off, NaN or not; bit-identical results for any thread count; numpy
//! itself as the oracle where the Python peers are installed.

#[path = "support/mod.rs"]
mod support;

#[path = "support/chunkings.rs"]
mod chunkings;

use chunkings::{grid_for, shape_up_to};
use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{Array, Chunks, ComputeOptions, ReduceOptions};
use proptest::prelude::*;

fn shape() -> impl Strategy<Value = Vec<usize>> {
    shape_up_to(8)
}

/// An array of `shape` with values in (-20, 20), about one in six NaN when
/// `with_nan`, and a chunking.
fn case() -> impl Strategy<Value = (ArrayD<f64>, ChunkGrid)> {
    (shape(), any::<bool>()).prop_flat_map(|(shape, with_nan)| {
        let n: usize = shape.iter().product();
        let value = if with_nan {
            prop_oneof![5 => -20.0f64..20.0, 1 => Just(f64::NAN)].boxed()
        } else {
            (-20.0f64..20.0).boxed()
        };
        (
            proptest::collection::vec(value, n),
            grid_for(&shape),
            Just(shape),
        )
            .prop_map(|(values, grid, shape)| {
                (ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(), grid)
            })
    })
}

/// Axes picked by the bits of `mask`.
fn axes_of(mask: u8, ndim: usize) -> Vec<usize> {
    (0..ndim).filter(|i| mask & (1 << i) != 0).collect()
}

/// `f` over the lanes of the reduced axes (moved last, in C order), in
/// numpy's output shape.
fn oracle<T: Copy, U>(
    x: &ArrayD<T>,
    axes: &[usize],
    keepdims: bool,
    f: impl Fn(&[T]) -> U,
) -> ArrayD<U> {
    let kept: Vec<usize> = (0..x.ndim()).filter(|i| !axes.contains(i)).collect();
    let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let moved = x
        .view()
        .permuted_axes(IxDyn(&order))
        .as_standard_layout()
        .into_owned();
    let mut lanes_shape: Vec<usize> = kept.iter().map(|&i| x.shape()[i]).collect();
    lanes_shape.push(axes.iter().map(|&i| x.shape()[i]).product());
    let lanes = moved.into_shape_with_order(IxDyn(&lanes_shape)).unwrap();
    let out = lanes.map_axis(Axis(kept.len()), |lane| f(&lane.to_vec()));
    if !keepdims {
        return out;
    }
    let shape: Vec<usize> = (0..x.ndim())
        .map(|i| if axes.contains(&i) { 1 } else { x.shape()[i] })
        .collect();
    out.into_shape_with_order(IxDyn(&shape)).unwrap()
}

/// Within 1e-9 relative (both NaN, or equal, counts): a wrong carry, a
/// wrong count or a lost block is off by far more.
fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter().zip(b.iter()).all(|(p, q)| {
            (p.is_nan() && q.is_nan())
                || p == q
                || (p - q).abs() <= 1e-9 * (1.0 + p.abs().max(q.abs()))
        })
}

/// Equal bits, or both NaN.
fn same_bits<T: Copy + Into<f64>>(a: &ArrayD<T>, b: &ArrayD<T>) -> bool {
    a.shape() == b.shape()
        && a.iter().zip(b.iter()).all(|(&p, &q)| {
            let (p, q): (f64, f64) = (p.into(), q.into());
            p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())
        })
}

fn valid(v: &[f64]) -> Vec<f64> {
    v.iter().copied().filter(|x| !x.is_nan()).collect()
}

fn mean_of(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn m2_of(v: &[f64]) -> f64 {
    let m = mean_of(v);
    v.iter().map(|x| (x - m) * (x - m)).sum()
}

/// numpy's `var`: M2 / max(n - ddof, 0).
fn np_var(v: &[f64], ddof: u64) -> f64 {
    m2_of(v) / (v.len() as f64 - ddof as f64).max(0.0)
}

/// numpy's `nanvar`: NaN where n - ddof <= 0.
fn np_nanvar(v: &[f64], ddof: u64) -> f64 {
    let v = valid(v);
    if v.len() as u64 <= ddof {
        return f64::NAN;
    }
    m2_of(&v) / (v.len() as f64 - ddof as f64)
}

/// numpy's `minimum.reduce` (NaN wins) or `fmin.reduce` (NaN skipped).
fn extreme(v: &[f64], less: bool, skip_nan: bool) -> f64 {
    let pick = |m: f64, x: f64| match (m.is_nan(), x.is_nan()) {
        (true, _) if !skip_nan => m,
        (_, true) if !skip_nan => x,
        (_, true) => m,
        (true, false) => x,
        _ if (less && x < m) || (!less && x > m) => x,
        _ => m,
    };
    v.iter().skip(1).fold(v[0], |m, &x| pick(m, x))
}

/// numpy's `argmin`/`argmax` (first occurrence; the first NaN wins) or
/// `nanargmin`/`nanargmax` (`None`: all NaN, which numpy refuses).
fn arg(v: &[f64], less: bool, skip_nan: bool) -> Option<i64> {
    if !skip_nan {
        if let Some(i) = v.iter().position(|x| x.is_nan()) {
            return Some(i as i64);
        }
    }
    let mut best: Option<(f64, usize)> = None;
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() {
            continue;
        }
        match best {
            Some((b, _)) if !((less && x < b) || (!less && x > b)) => {}
            _ => best = Some((x, i)),
        }
    }
    best.map(|(_, i)| i as i64)
}

/// A reduction that has no identity must be refused where some output
/// element would reduce nothing, else match `want`.
fn check_nonempty<U: PartialEq + std::fmt::Debug + Clone>(
    got: ndchunk::Result<ArrayD<U>>,
    empty: bool,
    want: impl FnOnce() -> ArrayD<U>,
    same: impl Fn(&ArrayD<U>, &ArrayD<U>) -> bool,
) -> Result<(), TestCaseError> {
    if empty {
        let err = got.expect_err("a zero-size reduction must be refused");
        prop_assert!(err.to_string().contains("zero-size"), "{err}");
    } else {
        let (got, want) = (got.unwrap(), want());
        prop_assert!(same(&got, &want), "\n{got:?}\n{want:?}");
    }
    Ok(())
}

fn options(threads: usize, max_mem: u64) -> ComputeOptions {
    // Built on the defaults so that options added later need no change here.
    let mut options = ComputeOptions::default().progress(false);
    options = options.max_mem(max_mem);
    options = options.threads(threads);
    options
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn float_reductions_match_ndarray(
        (x, grid) in case(),
        mask in any::<u8>(),
        keepdims in any::<bool>(),
        ddof in 0u64..3,
        split_every in 2u64..5,
    ) {
        let axes = axes_of(mask, x.ndim());
        let opts = ReduceOptions::default().keepdims(keepdims).split_every(split_every);
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(grid.clone())).unwrap();
        // Products of values near 1, so that no association overflows.
        let near_one = x.mapv(|v| 1.0 + v / 40.0);
        let p = Array::from_ndarray(near_one.clone(), Chunks::Grid(grid)).unwrap();
        let o = |f: &dyn Fn(&[f64]) -> f64| oracle(&x, &axes, keepdims, f);
        let cases: Vec<(&str, Array<f64>, ArrayD<f64>)> = vec![
            ("sum", a.sum_with(&axes, &opts), o(&|v| v.iter().sum())),
            ("nansum", a.nansum_with(&axes, &opts), o(&|v| valid(v).iter().sum())),
            ("prod", p.prod_with(&axes, &opts), oracle(&near_one, &axes, keepdims, |v| v.iter().product())),
            ("nanprod", p.nanprod_with(&axes, &opts), oracle(&near_one, &axes, keepdims, |v| valid(v).iter().product())),
            ("mean", a.mean_with(&axes, &opts), o(&mean_of)),
            ("nanmean", a.nanmean_with(&axes, &opts), o(&|v| mean_of(&valid(v)))),
            ("var", a.var_with(&axes, ddof, &opts), o(&|v| np_var(v, ddof))),
            ("nanvar", a.nanvar_with(&axes, ddof, &opts), o(&|v| np_nanvar(v, ddof))),
            ("std", a.std_with(&axes, ddof, &opts), o(&|v| np_var(v, ddof).sqrt())),
            ("nanstd", a.nanstd_with(&axes, ddof, &opts), o(&|v| np_nanvar(v, ddof).sqrt())),
        ];
        for (name, lazy, want) in cases {
            let got = lazy.compute().unwrap();
            prop_assert!(close(&got, &want), "{name} over {axes:?} keepdims={keepdims}\n{got:?}\n{want:?}");
        }
        let extent: usize = axes.iter().map(|&i| x.shape()[i]).product();
        let outputs: usize = (0..x.ndim()).filter(|i| !axes.contains(i)).map(|i| x.shape()[i]).product();
        let empty = extent == 0 && outputs > 0;
        for (lazy, less, skip) in [
            (a.min_with(&axes, &opts), true, false),
            (a.max_with(&axes, &opts), false, false),
            (a.nanmin_with(&axes, &opts), true, true),
            (a.nanmax_with(&axes, &opts), false, true),
        ] {
            check_nonempty(lazy.compute(), empty, || o(&|v| extreme(v, less, skip)), same_bits)?;
        }
        let nonzero = |v: &f64| *v != 0.0;
        prop_assert_eq!(a.any_with(&axes, &opts).compute().unwrap(), oracle(&x, &axes, keepdims, |v| v.iter().any(nonzero)));
        prop_assert_eq!(a.all_with(&axes, &opts).compute().unwrap(), oracle(&x, &axes, keepdims, |v| v.iter().all(nonzero)));
        prop_assert_eq!(
            a.count_nonzero_with(&axes, &opts).compute().unwrap(),
            oracle(&x, &axes, keepdims, |v| v.iter().filter(|v| nonzero(v)).count() as i64)
        );
    }

    #[test]
    fn argmin_and_argmax_match_numpy_semantics(
        (x, grid) in case(),
        axis in 0usize..3,
        keepdims in any::<bool>(),
        split_every in 2u64..5,
    ) {
        let axis = axis % x.ndim();
        let opts = ReduceOptions::default().keepdims(keepdims).split_every(split_every);
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(grid)).unwrap();
        let outputs: usize = (0..x.ndim()).filter(|&i| i != axis).map(|i| x.shape()[i]).product();
        let empty = x.shape()[axis] == 0 && outputs > 0;
        for (lazy, less) in [(a.argmin_with(axis, &opts), true), (a.argmax_with(axis, &opts), false)] {
            let want = || oracle(&x, &[axis], keepdims, |v| arg(v, less, false).unwrap());
            check_nonempty(lazy.compute(), empty, want, |g, w| g == w)?;
        }
        for (lazy, less) in [(a.nanargmin_with(axis, &opts), true), (a.nanargmax_with(axis, &opts), false)] {
            let want = oracle(&x, &[axis], keepdims, |v| if v.is_empty() { Some(0) } else { arg(v, less, true) });
            let got = lazy.compute();
            if empty {
                prop_assert!(got.unwrap_err().to_string().contains("zero-size"));
            } else if want.iter().any(Option::is_none) {
                let err = got.expect_err("an all-NaN slice must be refused");
                prop_assert!(err.to_string().contains("All-NaN"), "{err}");
            } else {
                prop_assert_eq!(got.unwrap(), want.mapv(Option::unwrap));
            }
        }
    }

    #[test]
    fn integer_reductions_are_exact(
        (x, grid) in case(),
        mask in any::<u8>(),
        keepdims in any::<bool>(),
        split_every in 2u64..5,
    ) {
        let x = x.mapv(|v| if v.is_nan() { 7 } else { v as i64 * 1_000_003 });
        let axes = axes_of(mask, x.ndim());
        let opts = ReduceOptions::default().keepdims(keepdims).split_every(split_every);
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(grid)).unwrap();
        let o = |f: &dyn Fn(&[i64]) -> i64| oracle(&x, &axes, keepdims, f);
        prop_assert_eq!(a.sum_with(&axes, &opts).compute().unwrap(), o(&|v| v.iter().fold(0, |s, &x| s.wrapping_add(x))));
        prop_assert_eq!(a.prod_with(&axes, &opts).compute().unwrap(), o(&|v| v.iter().fold(1, |s, &x| s.wrapping_mul(x))));
        prop_assert_eq!(a.nansum_with(&axes, &opts).compute().unwrap(), a.sum_with(&axes, &opts).compute().unwrap());
        let extent: usize = axes.iter().map(|&i| x.shape()[i]).product();
        if extent > 0 {
            prop_assert_eq!(a.min_with(&axes, &opts).compute().unwrap(), o(&|v| *v.iter().min().unwrap()));
            prop_assert_eq!(a.max_with(&axes, &opts).compute().unwrap(), o(&|v| *v.iter().max().unwrap()));
        }
        if let (Some(&axis), true) = (axes.first(), !x.is_empty()) {
            prop_assert_eq!(
                a.argmax(axis).compute().unwrap(),
                oracle(&x, &[axis], false, |v| v.iter().enumerate().fold(0, |b, (i, &x)| if x > v[b] { i } else { b }) as i64)
            );
        }
        prop_assert_eq!(a.count_nonzero_with(&axes, &opts).compute().unwrap(), o(&|v| v.iter().filter(|&&x| x != 0).count() as i64));
    }

    #[test]
    fn scans_match_ndarray_accumulate((x, grid) in case(), axis in 0usize..3) {
        let axis = axis % x.ndim();
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(grid.clone())).unwrap();
        let accumulate = |x: &ArrayD<f64>, f: fn(f64, f64) -> f64| {
            let mut out = x.clone();
            out.accumulate_axis_inplace(Axis(axis), |&prev, cur| *cur = f(prev, *cur));
            out
        };
        let no_nan = |x: &ArrayD<f64>, fill: f64| x.mapv(|v| if v.is_nan() { fill } else { v });
        let near_one = x.mapv(|v| 1.0 + v / 40.0);
        let p = Array::from_ndarray(near_one.clone(), Chunks::Grid(grid.clone())).unwrap();
        let cases = [
            ("cumsum", a.cumsum(axis), accumulate(&x, |s, v| s + v)),
            ("nancumsum", a.nancumsum(axis), accumulate(&no_nan(&x, 0.0), |s, v| s + v)),
            ("cumprod", p.cumprod(axis), accumulate(&near_one, |s, v| s * v)),
            ("nancumprod", p.nancumprod(axis), accumulate(&no_nan(&near_one, 1.0), |s, v| s * v)),
        ];
        for (name, lazy, want) in cases {
            prop_assert_eq!(lazy.shape(), a.shape());
            prop_assert_eq!(lazy.grid(), a.grid());
            let got = lazy.compute().unwrap();
            prop_assert!(close(&got, &want), "{name} along {axis}\n{got:?}\n{want:?}");
        }
        // Integers: exact, wrapping as the oracle does.
        let ints = x.mapv(|v| if v.is_nan() { 3 } else { v as i64 });
        let i = Array::from_ndarray(ints.clone(), Chunks::Grid(grid)).unwrap();
        let mut sums = ints.clone();
        sums.accumulate_axis_inplace(Axis(axis), |&p, c| *c = p.wrapping_add(*c));
        let mut prods = ints.clone();
        prods.accumulate_axis_inplace(Axis(axis), |&p, c| *c = p.wrapping_mul(*c));
        prop_assert_eq!(i.cumsum(axis).compute().unwrap(), sums);
        prop_assert_eq!(i.cumprod(axis).compute().unwrap(), prods);
    }

    #[test]
    fn a_scan_then_a_nan_reduction_chains((x, grid) in case(), keepdims in any::<bool>()) {
        prop_assume!(x.ndim() >= 2);
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(grid)).unwrap();
        let lazy = (&a * 2.0).cumsum(0).nanmean_with([1], &ReduceOptions::default().keepdims(keepdims));
        let mut scanned = x.mapv(|v| v * 2.0);
        scanned.accumulate_axis_inplace(Axis(0), |&p, c| *c += p);
        let want = oracle(&scanned, &[1], keepdims, |v| mean_of(&valid(v)));
        let got = lazy.compute().unwrap();
        prop_assert!(close(&got, &want), "\n{got:?}\n{want:?}");
    }
}

fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 499 == 13 {
                return f32::NAN;
            }
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1000.0
        })
        .collect()
}

#[test]
fn float_reductions_are_bit_identical_whatever_the_threads() {
    let shape = [37usize, 29, 23];
    let x = ArrayD::from_shape_vec(IxDyn(&shape), random_f32(37 * 29 * 23, 11)).unwrap();
    let grid =
        ChunkGrid::from_sizes(&[vec![5, 9, 7, 16], vec![3, 10, 9, 7], vec![11, 11, 1]]).unwrap();
    let a = Array::from_ndarray(x, grid).unwrap();
    type Reduce = fn(&Array<f32>, &[usize], &ReduceOptions) -> Array<f32>;
    let reductions: [(&str, Reduce); 14] = [
        ("sum", |a, x, o| a.sum_with(x, o)),
        ("nansum", |a, x, o| a.nansum_with(x, o)),
        ("prod", |a, x, o| (a / 5000.0 + 1.0).prod_with(x, o)),
        ("nanprod", |a, x, o| (a / 5000.0 + 1.0).nanprod_with(x, o)),
        ("mean", |a, x, o| a.mean_with(x, o)),
        ("nanmean", |a, x, o| a.nanmean_with(x, o)),
        ("var", |a, x, o| a.var_with(x, 1, o)),
        ("nanvar", |a, x, o| a.nanvar_with(x, 1, o)),
        ("std", |a, x, o| a.std_with(x, 0, o)),
        ("nanstd", |a, x, o| a.nanstd_with(x, 0, o)),
        ("min", |a, x, o| a.min_with(x, o)),
        ("nanmax", |a, x, o| a.nanmax_with(x, o)),
        ("cumsum", |a, x, _| a.nancumsum(x[0])),
        ("cumprod", |a, x, _| (a / 5000.0 + 1.0).nancumprod(x[0])),
    ];
    for axes in [vec![0usize], vec![1, 2], vec![0, 1, 2]] {
        for (name, f) in reductions {
            let mut by_split = Vec::new();
            for split_every in [2, 3, 8] {
                let opts = ReduceOptions::default().split_every(split_every);
                let lazy = f(&a, &axes, &opts);
                let (one, _) = lazy.compute_with(&options(1, 1 << 30)).unwrap();
                let (two, _) = lazy.compute_with(&options(2, 1 << 30)).unwrap();
                assert!(
                    same_bits(&one, &two),
                    "{name} over {axes:?}, split_every {split_every}: 2 threads differ from 1"
                );
                // Rebuilt from scratch, on 3 threads: the same bits again.
                let (again, _) = f(&a, &axes, &opts)
                    .compute_with(&options(3, 1 << 30))
                    .unwrap();
                assert!(same_bits(&one, &again), "{name} over {axes:?}");
                by_split.push(one);
            }
            // Another tree may round differently, but only just.
            let (x, y) = (by_split[0].mapv(f64::from), by_split[2].mapv(f64::from));
            assert!(
                x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| (p.is_nan() && q.is_nan())
                        || (p - q).abs() <= 1e-3 * (1.0 + p.abs().max(q.abs()))),
                "{name} over {axes:?}"
            );
        }
    }
}

#[test]
fn edge_semantics_follow_numpy() {
    let empty = Array::<f64>::zeros(&[0, 3], [1, 2]).unwrap();
    assert_eq!(
        empty.sum([0], false).compute().unwrap(),
        ArrayD::<f64>::zeros(IxDyn(&[3]))
    );
    assert_eq!(
        empty.prod([0], false).compute().unwrap(),
        ArrayD::<f64>::ones(IxDyn(&[3]))
    );
    assert!(empty
        .mean([0], false)
        .compute()
        .unwrap()
        .iter()
        .all(|v| v.is_nan()));
    assert_eq!(
        empty.count_nonzero([0], false).compute().unwrap(),
        ArrayD::<i64>::zeros(IxDyn(&[3]))
    );
    assert!(empty.all([0], false).compute().unwrap().iter().all(|&v| v));
    assert!(!empty.any([0], false).compute().unwrap().iter().any(|&v| v));
    // Reducing the non-empty axis of an empty array: an empty result.
    assert_eq!(empty.min([1], false).compute().unwrap().shape(), &[0]);
    assert_eq!(empty.argmax(1).compute().unwrap().shape(), &[0]);
    for lazy in [empty.min([0], false), empty.nanmax([0, 1], true)] {
        let err = lazy.plan().unwrap_err().to_string();
        assert!(err.contains("zero-size reduction"), "{err}");
    }
    let err = empty.argmin(0).plan().unwrap_err().to_string();
    assert!(
        err.starts_with("argmin:") && err.contains("zero-size"),
        "{err}"
    );

    let nan = f64::NAN;
    let x = ndarray::arr2(&[[nan, nan, nan], [1.0, nan, 3.0]]).into_dyn();
    let a = Array::from_ndarray(x, [1, 2]).unwrap();
    let m = a.nanmean([1], false).compute().unwrap();
    assert!(m[[0]].is_nan() && m[[1]] == 2.0, "{m:?}");
    let v = a.nanvar([1], false, 1).compute().unwrap();
    assert!(v[[0]].is_nan() && v[[1]] == 2.0, "{v:?}");
    assert!(a.nanmin([1], false).compute().unwrap()[[0]].is_nan());
    assert_eq!(a.nanmax([1], false).compute().unwrap()[[1]], 3.0);
    assert_eq!(
        a.argmax(1).compute().unwrap().into_raw_vec_and_offset().0,
        vec![0, 1]
    );
    assert_eq!(
        a.nansum([1], false)
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![0.0, 4.0]
    );
    assert_eq!(
        a.nanprod([1], false)
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1.0, 3.0]
    );
    assert_eq!(a.count_nonzero([0, 1], false).compute().unwrap()[[]], 6);
    let err = a.nanargmax(1).compute().unwrap_err().to_string();
    assert!(
        err.contains("nanargmax") && err.contains("All-NaN"),
        "{err}"
    );
    // Column 1 is all NaN too.
    assert!(a.nanargmax(0).compute().is_err());
    let b =
        Array::from_ndarray(ndarray::arr2(&[[nan, 2.0], [1.0, nan]]).into_dyn(), [1, 1]).unwrap();
    assert_eq!(
        b.nanargmax(0)
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1, 0]
    );
    assert_eq!(
        b.argmin(0).compute().unwrap().into_raw_vec_and_offset().0,
        vec![0, 1]
    );
}

#[test]
fn bad_arguments_are_reported_when_planned() {
    let a = Array::<f64>::ones(&[4, 6], [2, 3]).unwrap();
    let err = a
        .sum_with([0], &ReduceOptions::default().split_every(1))
        .plan()
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("sum:")
            && err.contains("split_every must be at least 2")
            && err.ends_with("got 1"),
        "{err}"
    );
    let err = a.argmax(2).plan().unwrap_err().to_string();
    assert!(
        err.starts_with("argmax:") && err.contains("axis 2"),
        "{err}"
    );
    let err = a.cumsum(2).plan().unwrap_err().to_string();
    assert!(
        err.starts_with("cumsum:") && err.contains("axis 2"),
        "{err}"
    );
    let err = a.mean([1, 1], false).plan().unwrap_err().to_string();
    assert!(err.contains("not distinct"), "{err}");
}

#[test]
fn explain_shows_the_scan_carries_and_their_bytes() {
    let a = Array::<f64>::ones(&[100, 40], [10, 20]).unwrap();
    let lazy = (&a * 2.0).cumsum(0).nanmean([1], false);
    let plan = lazy.plan().unwrap();
    assert_eq!(plan.stages().len(), 2, "{plan}");
    let carries = &plan.stages()[0];
    assert_eq!(carries.operation(), "cumsum carries");
    assert_eq!(carries.grid().shape(), vec![10, 40]);
    assert_eq!(
        carries.fused(),
        vec!["full(1.0)", "mul(2.0)", "cumsum carries"]
    );
    // 10 leaves folding the blocks along the axis, per output block of 10 x 20.
    assert_eq!(carries.tasks(), 2 * 2);
    assert!(carries.task_bytes() >= 10 * 20 * 8 * 2, "{plan}");
    let scan = &plan.stages()[1];
    assert_eq!(
        scan.fused(),
        vec![
            "full(1.0)",
            "mul(2.0)",
            "read cumsum carries",
            "cumsum",
            "nanmean"
        ]
    );
    let text = lazy.explain().unwrap();
    assert!(
        text.contains("STAGE 1/2: cumsum carries")
            && text.contains("read cumsum carries -> cumsum -> nanmean"),
        "{text}"
    );
    let got = lazy.compute().unwrap();
    let want: Vec<f64> = (1..=100).map(|i| 2.0 * i as f64).collect();
    assert_eq!(got.into_raw_vec_and_offset().0, want);
    // One chunk along the axis: no carries, one stage.
    let single = a.rechunk([100, 20]).cumsum(0);
    assert_eq!(single.plan().unwrap().stages().len(), 1);
    assert_eq!(single.compute().unwrap()[[99, 39]], 100.0);
}

#[test]
fn a_scan_of_data_ten_times_the_budget_completes_within_it() {
    let x = ArrayD::from_shape_fn(IxDyn(&[1000, 100, 100]), |i| (i[0] % 7) as f32);
    let a = Array::from_ndarray(x, [100, 20, 100]).unwrap();
    let max_mem = 4_000_000;
    assert!(1000 * 100 * 100 * 4 >= 10 * max_mem);
    let opts = options(2, max_mem);
    let (got, report) = a.cumsum(0).max([1, 2], false).compute_with(&opts).unwrap();
    assert!(report.peak_bytes <= max_mem, "{report:?}");
    let mut running = 0.0f32;
    for (i, &v) in got.iter().enumerate() {
        running += (i % 7) as f32;
        assert_eq!(v, running, "at {i}");
    }
}

/// numpy's own answers for the cases where its semantics are subtle.
#[test]
fn argmax_with_nan_and_nanvar_with_ddof_match_numpy() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let nan = f64::NAN;
    let rows = [
        [3.0, nan, 5.0, 5.0, 1.0, nan],
        [2.0, 2.0, 1.0, 7.0, 7.0, 0.5],
        [nan, nan, nan, nan, nan, 4.0],
        [1.0, nan, 1.0, nan, 1.0, 1.0],
    ];
    let x = ArrayD::from_shape_vec(IxDyn(&[4, 6]), rows.concat()).unwrap();
    let a = Array::from_ndarray(x, [3, 4]).unwrap();
    let script = r#"
import json, numpy as np
x = np.array(json.loads(__import__('sys').argv[1]), dtype=float)
print(json.dumps({
    'argmax1': np.argmax(x, axis=1).tolist(),
    'argmin0': np.argmin(x, axis=0).tolist(),
    'nanargmax1': np.nanargmax(x, axis=1).tolist(),
    'nanvar1': [None if np.isnan(v) else v for v in np.nanvar(x, axis=1, ddof=1).tolist()],
    'nanvar0': [None if np.isnan(v) else v for v in np.nanvar(x, axis=0, ddof=1).tolist()],
    'nanstd0': [None if np.isnan(v) else v for v in np.nanstd(x, axis=0, ddof=1).tolist()],
}))
"#;
    let json: Vec<Vec<Option<f64>>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| (!v.is_nan()).then_some(v)).collect())
        .collect();
    let out = support::run_python(&python, script, &[serde_json::to_string(&json).unwrap()]);
    let numpy: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let ints = |key: &str| -> Vec<i64> { serde_json::from_value(numpy[key].clone()).unwrap() };
    let floats =
        |key: &str| -> Vec<Option<f64>> { serde_json::from_value(numpy[key].clone()).unwrap() };
    let vec_of = |a: ArrayD<i64>| a.into_raw_vec_and_offset().0;
    assert_eq!(vec_of(a.argmax(1).compute().unwrap()), ints("argmax1"));
    assert_eq!(vec_of(a.argmin(0).compute().unwrap()), ints("argmin0"));
    assert_eq!(
        vec_of(a.nanargmax(1).compute().unwrap()),
        ints("nanargmax1")
    );
    for (lazy, key) in [
        (a.nanvar([1], false, 1), "nanvar1"),
        (a.nanvar([0], false, 1), "nanvar0"),
        (a.nanstd([0], false, 1), "nanstd0"),
    ] {
        let got = lazy.compute().unwrap();
        for (g, w) in got.iter().zip(floats(key)) {
            match w {
                None => assert!(g.is_nan(), "{key}: {g} where numpy has NaN"),
                Some(w) => assert!(
                    (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                    "{key}: {g} vs {w}"
                ),
            }
        }
    }
}

/// numpy's axis conventions: a negative axis counts from the end, and
/// `Axes::All` (numpy's `axis=None`) reduces every axis; bad axes are
/// errors naming the axis, never panics.
#[test]
fn negative_axes_and_all_axes_follow_numpy() {
    use ndchunk::{Axes, Error};
    let x = ArrayD::from_shape_fn(IxDyn(&[4, 5, 6]), |i| {
        (i[0] as f64 * 0.5).sin() + (i[1] * i[2]) as f64 * 0.25
    });
    let a = Array::from_ndarray(x.clone(), [3, 2, 4]).unwrap();
    for (negative, positive) in [
        (vec![-1], vec![2]),
        (vec![-3, -1], vec![0, 2]),
        (vec![-2], vec![1]),
    ] {
        let neg = a.sum(&negative[..], false).compute().unwrap();
        let pos = a.sum(&positive[..], false).compute().unwrap();
        assert_eq!(neg, pos, "{negative:?}");
        let neg = a.max(&negative[..], true).compute().unwrap();
        let pos = a.max(&positive[..], true).compute().unwrap();
        assert_eq!(neg, pos, "{negative:?}");
    }
    let all = a.mean(Axes::All, false).compute().unwrap();
    let listed = a.mean([0, 1, 2], false).compute().unwrap();
    assert_eq!(all, listed);
    assert!((all[[]] - x.mean().unwrap()).abs() < 1e-12);
    assert_eq!(a.std(Axes::All, true, 1).shape(), vec![1, 1, 1]);
    // Operations along one axis take a negative one too, and only one.
    assert_eq!(
        a.argmax(-1).compute().unwrap(),
        a.argmax(2).compute().unwrap()
    );
    assert_eq!(
        a.cumsum(-3).compute().unwrap(),
        a.cumsum(0).compute().unwrap()
    );
    for err in [
        a.argmin(Axes::All).compute().map(|_| ()),
        a.cumsum([0, 1]).compute().map(|_| ()),
    ] {
        assert!(
            matches!(&err, Err(Error::Invalid { message, .. }) if message.contains("one axis expected")),
            "{err:?}"
        );
    }
    for bad in [vec![3], vec![-4], vec![0, -3]] {
        match a.sum(&bad[..], false).compute() {
            Err(Error::Invalid { message, .. }) => {
                assert!(
                    message.contains("axis") || message.contains("axes"),
                    "{message}"
                )
            }
            other => panic!("{bad:?}: expected an Invalid error, got {other:?}"),
        }
    }
}

/// Integer `mean`/`var`/`std` give `f64` as numpy does: each element is
/// converted first, so large values neither wrap nor truncate.
#[test]
fn integer_moments_are_float64() {
    let x = ArrayD::from_shape_fn(IxDyn(&[6, 7]), |i| (i[0] * 7 + i[1]) as i32 * 37 % 101 - 50);
    let a = Array::from_ndarray(x.clone(), [4, 3]).unwrap();
    let xf = x.mapv(f64::from);
    let mean: ArrayD<f64> = a.mean(-1, false).compute().unwrap();
    let want = xf.mean_axis(Axis(1)).unwrap();
    for (g, w) in mean.iter().zip(want.iter()) {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{g} vs {w}");
    }
    for ddof in [0u64, 1] {
        let var: ArrayD<f64> = a.var(0, false, ddof).compute().unwrap();
        let std: ArrayD<f64> = a.std(0, false, ddof).compute().unwrap();
        let want = xf.var_axis(Axis(0), ddof as f64);
        for ((v, s), w) in var.iter().zip(std.iter()).zip(want.iter()) {
            assert!((v - w).abs() <= 1e-12 * w.abs().max(1.0), "{v} vs {w}");
            assert!((s - w.sqrt()).abs() <= 1e-12 * w.sqrt().max(1.0));
        }
    }
    // Values whose integer sum would wrap: the mean is still right.
    let big = Array::from_ndarray(ArrayD::from_elem(IxDyn(&[8]), i64::MAX - 1), [3]).unwrap();
    let m: ArrayD<f64> = big.mean(ndchunk::Axes::All, false).compute().unwrap();
    assert_eq!(m[[]], (i64::MAX - 1) as f64);
    // Over an empty axis: NaN, as numpy.
    let empty = Array::<u8>::from_ndarray(ArrayD::zeros(IxDyn(&[0, 3])), [1, 3]).unwrap();
    let m = empty.mean(0, false).compute().unwrap();
    assert!(m.iter().all(|v| v.is_nan()) && m.len() == 3);
}
