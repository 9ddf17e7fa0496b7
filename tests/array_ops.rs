//! Every operation of `Array` against an ndarray oracle, on random shapes
//! (empty and length-1 axes included) and random irregular chunkings, alone
//! and in random chains.

#[path = "support/chunkings.rs"]
mod chunkings;

use chunkings::{grid_for, shape_up_to};
use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{Array, Chunks};
use ndchunk::{Stage, StageKind};
use proptest::prelude::*;

fn shape() -> impl Strategy<Value = Vec<usize>> {
    shape_up_to(8)
}

/// A shape, an array of it, and two chunkings of it.
fn case() -> impl Strategy<Value = (ArrayD<f64>, ChunkGrid, ChunkGrid)> {
    shape().prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        (
            proptest::collection::vec(-20.0f64..20.0, n),
            grid_for(&shape),
            grid_for(&shape),
            Just(shape),
        )
            .prop_map(|(values, a, b, shape)| {
                (ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap(), a, b)
            })
    })
}

#[derive(Debug, Clone)]
enum Op {
    AddScalar(f64),
    SubScalar(f64),
    MulScalar(f64),
    DivScalar(f64),
    Abs,
    Sqrt,
    Exp,
    Ln,
    Powf(f64),
    Trig(usize),
    Clip(f64, f64),
    AddArray,
    MulArray,
    Rechunk,
    MapBlocks,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (-5.0f64..5.0).prop_map(Op::AddScalar),
        (-5.0f64..5.0).prop_map(Op::SubScalar),
        (-3.0f64..3.0).prop_map(Op::MulScalar),
        (0.5f64..3.0).prop_map(Op::DivScalar),
        Just(Op::Abs),
        Just(Op::Sqrt),
        Just(Op::Exp),
        Just(Op::Ln),
        (0.5f64..2.5).prop_map(Op::Powf),
        (0usize..TRIG.len()).prop_map(Op::Trig),
        (-5.0f64..5.0, -5.0f64..5.0).prop_map(|(a, b)| Op::Clip(a, b)),
        Just(Op::AddArray),
        Just(Op::MulArray),
        Just(Op::Rechunk),
        Just(Op::MapBlocks),
    ]
}

/// A lazy float function and its std counterpart.
type Unary = (fn(&Array<f64>) -> Array<f64>, fn(f64) -> f64);

/// The float functions with their std counterparts (numpy's names).
const TRIG: [Unary; 15] = [
    (Array::sin, f64::sin),
    (Array::cos, f64::cos),
    (Array::tan, f64::tan),
    (Array::arcsin, f64::asin),
    (Array::arccos, f64::acos),
    (Array::arctan, f64::atan),
    (Array::sinh, f64::sinh),
    (Array::cosh, f64::cosh),
    (Array::tanh, f64::tanh),
    (Array::log10, f64::log10),
    (Array::log2, f64::log2),
    (Array::log1p, f64::ln_1p),
    (Array::expm1, f64::exp_m1),
    (Array::deg2rad, f64::to_radians),
    (Array::rad2deg, f64::to_degrees),
];

/// Applies `op` lazily and to the oracle; `other` is a second array of the
/// same shape on another chunking.
fn apply(
    op: &Op,
    a: &Array<f64>,
    x: &ArrayD<f64>,
    other: &Array<f64>,
    y: &ArrayD<f64>,
) -> (Array<f64>, ArrayD<f64>) {
    match *op {
        Op::AddScalar(s) => (a + s, x.mapv(|v| v + s)),
        Op::SubScalar(s) => (a - s, x.mapv(|v| v - s)),
        Op::MulScalar(s) => (a * s, x.mapv(|v| v * s)),
        Op::DivScalar(s) => (a / s, x.mapv(|v| v / s)),
        Op::Abs => (a.abs(), x.mapv(f64::abs)),
        Op::Sqrt => (a.sqrt(), x.mapv(f64::sqrt)),
        Op::Exp => (a.exp(), x.mapv(f64::exp)),
        Op::Ln => (a.log(), x.mapv(f64::ln)),
        Op::Powf(p) => (a.powf(p), x.mapv(|v| v.powf(p))),
        Op::Trig(k) => {
            let (lazy, f) = TRIG[k];
            (lazy(a), x.mapv(f))
        }
        Op::Clip(lo, hi) => (
            a.clip(lo, hi),
            x.mapv(|v| if v < lo { lo } else { v })
                .mapv(|v| if v > hi { hi } else { v }),
        ),
        Op::AddArray => (a + other, x + y),
        Op::MulArray => (a * other, x * y),
        Op::Rechunk => (a.rechunk(other.grid().clone()), x.clone()),
        Op::MapBlocks => (
            a.map_blocks(|block, info| {
                assert_eq!(block.shape().len(), info.region.ndim());
                block.mapv(|v| v * 2.0 - 1.0)
            }),
            x.mapv(|v| v * 2.0 - 1.0),
        ),
    }
}

/// Equal bits, or both NaN: elementwise kernels do the oracle's arithmetic.
fn same(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()))
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter().zip(b.iter()).all(|(p, q)| {
            (p.is_nan() && q.is_nan())
                || p == q
                || (p - q).abs() <= 1e-9 * (1.0 + p.abs().max(q.abs()))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn chains_of_blockwise_ops_match_ndarray((x, g1, g2) in case(), ops in proptest::collection::vec(op(), 1..=5)) {
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(g1)).unwrap();
        let y = x.mapv(|v| v * 0.5 + 1.0);
        let other = Array::from_ndarray(y.clone(), Chunks::Grid(g2)).unwrap();
        let (mut lazy, mut oracle) = (a, x);
        for op in &ops {
            let (l, o) = apply(op, &lazy, &oracle, &other, &y);
            lazy = l;
            oracle = o;
        }
        // Fused into one stage, besides one stage per rechunk that cuts
        // chunks.
        let plan = lazy.plan().unwrap();
        let n = plan.stages().len();
        let fused = |i: usize, s: &Stage| match s.kind() {
            StageKind::Rechunk { .. } => true,
            StageKind::Blocks => i + 1 == n,
            _ => false,
        };
        prop_assert!(plan.stages().iter().enumerate().all(|(i, s)| fused(i, s)), "{}", plan);
        let got = lazy.compute().unwrap();
        prop_assert!(same(&got, &oracle), "{ops:?}\n{got:?}\n{oracle:?}");
    }

    #[test]
    fn comparisons_and_astype_match_ndarray((x, g1, g2) in case(), s in -10.0f64..10.0) {
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(g1)).unwrap();
        let b = Array::from_ndarray(x.mapv(|v| -v), Chunks::Grid(g2)).unwrap();
        prop_assert_eq!(a.greater(s).compute().unwrap(), x.mapv(|v| v > s));
        prop_assert_eq!(a.less_equal(&b).compute().unwrap(), ndarray::Zip::from(&x).map_collect(|&v| v <= -v));
        prop_assert_eq!(a.equal(&a).compute().unwrap(), x.mapv(|_| true));
        prop_assert_eq!(a.not_equal(s).compute().unwrap(), x.mapv(|v| v != s));
        prop_assert_eq!(a.astype::<i32>().compute().unwrap(), x.mapv(|v| v as i32));
        let ints = a.astype::<i64>();
        prop_assert_eq!((&ints * 3 - 1).abs().compute().unwrap(), x.mapv(|v| ((v as i64) * 3 - 1).abs()));
    }

    #[test]
    fn reductions_match_ndarray((x, g1, _g2) in case(), mask in any::<u8>(), keepdims in any::<bool>(), ddof in 0u64..2) {
        let ndim = x.ndim();
        let axes: Vec<usize> = (0..ndim).filter(|i| mask & (1 << i) != 0).collect();
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(g1)).unwrap();
        let extent: usize = axes.iter().map(|&i| x.shape()[i]).product();
        let out_empty = (0..ndim).any(|i| !axes.contains(&i) && x.shape()[i] == 0);
        let n = extent as f64;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / n;
        let var = |v: &[f64]| {
            let m = mean(v);
            v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - ddof as f64).max(0.0)
        };
        let cases: Vec<(Array<f64>, ArrayD<f64>)> = vec![
            (a.sum(&axes, keepdims), oracle(&x, &axes, keepdims, |v| v.iter().sum())),
            (a.mean(&axes, keepdims), oracle(&x, &axes, keepdims, mean)),
            (a.var(&axes, keepdims, ddof), oracle(&x, &axes, keepdims, var)),
            (a.std(&axes, keepdims, ddof), oracle(&x, &axes, keepdims, |v| var(v).sqrt())),
        ];
        for (lazy, want) in cases {
            let got = lazy.compute().unwrap();
            prop_assert!(close(&got, &want), "{axes:?} keepdims={keepdims}\n{got:?}\n{want:?}");
        }
        for (lazy, pick) in [(a.min(&axes, keepdims), f64::min as fn(f64, f64) -> f64), (a.max(&axes, keepdims), f64::max)] {
            if extent == 0 && !out_empty {
                prop_assert!(lazy.compute().is_err());
            } else {
                let want = oracle(&x, &axes, keepdims, |v| v.iter().copied().fold(v.first().copied().unwrap_or(0.0), pick));
                prop_assert!(same(&lazy.compute().unwrap(), &want));
            }
        }
    }
}

/// `f` over the lanes of the reduced axes (moved last), numpy's shapes.
fn oracle(
    x: &ArrayD<f64>,
    axes: &[usize],
    keepdims: bool,
    f: impl Fn(&[f64]) -> f64,
) -> ArrayD<f64> {
    let kept: Vec<usize> = (0..x.ndim()).filter(|i| !axes.contains(i)).collect();
    let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let moved = x
        .view()
        .permuted_axes(IxDyn(&order))
        .as_standard_layout()
        .into_owned();
    let kept_shape: Vec<usize> = kept.iter().map(|&i| x.shape()[i]).collect();
    let extent: usize = axes.iter().map(|&i| x.shape()[i]).product();
    let mut lanes_shape = kept_shape.clone();
    lanes_shape.push(extent);
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

/// `powf` follows numpy's `**` fast paths: `** 0.5` is `sqrt` (so `-0.0`
/// stays `-0.0` and `-inf` gives NaN, where `pow` would give `+0.0` and
/// `+inf`), `** 2` is `x * x`; other exponents are `pow`.
#[test]
fn powf_matches_numpys_power_fast_paths() {
    let values = vec![
        -0.0f64,
        0.0,
        2.25,
        -4.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
    ];
    let n = values.len();
    let a = Array::<f64>::from_ndarray(
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[n]), values.clone()).unwrap(),
        [3],
    )
    .unwrap();
    let bits = |v: Vec<f64>| v.into_iter().map(f64::to_bits).collect::<Vec<_>>();
    let half = a.powf(0.5).compute().unwrap().into_raw_vec_and_offset().0;
    assert_eq!(bits(half), bits(values.iter().map(|x| x.sqrt()).collect()));
    let square = a.powf(2.0).compute().unwrap().into_raw_vec_and_offset().0;
    assert_eq!(bits(square), bits(values.iter().map(|x| x * x).collect()));
    let cube = a.powf(3.0).compute().unwrap().into_raw_vec_and_offset().0;
    assert_eq!(
        bits(cube),
        bits(values.iter().map(|x| x.powf(3.0)).collect())
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// `where_`, logical operators, `isnan`/`isinf`/`isfinite` and
    /// `blockwise`, with a broadcast row and irregular chunkings.
    #[test]
    fn selections_and_logic_match_ndarray((x, g1, g2) in case(), s in -10.0f64..10.0) {
        let x = x.mapv(|v| if v > 15.0 { f64::NAN } else if v < -18.0 { f64::NEG_INFINITY } else { v });
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(g1)).unwrap();
        let b = Array::from_ndarray(x.mapv(|v| -v), Chunks::Grid(g2)).unwrap();
        // The last axis alone, broadcast against the whole array.
        let last = x.ndim() - 1;
        let row_oracle = if x.shape()[0] > 0 {
            x.index_axis(Axis(0), 0).to_owned()
        } else {
            ArrayD::zeros(IxDyn(&x.shape()[1..]))
        };
        let row = Array::from_ndarray(row_oracle.clone(), [2u64; 8][..last].to_vec()).unwrap();
        let picked = ndchunk::where_(&a.greater(s), &a, &b).compute().unwrap();
        let want = ndarray::Zip::from(&x).map_collect(|&v| if v > s { v } else { -v });
        prop_assert!(same(&picked, &want), "{picked:?} {want:?}");
        let scalar = ndchunk::where_(&a.isnan(), 0.0, &a).compute().unwrap();
        let want = x.mapv(|v| if v.is_nan() { 0.0 } else { v });
        prop_assert!(same(&scalar, &want), "{scalar:?} {want:?}");
        let logic = (a.greater(s) & b.greater(s)) | !a.isfinite() ^ a.isinf();
        let want = x.mapv(|v| (v > s && -v > s) | (!v.is_finite() ^ v.is_infinite()));
        prop_assert_eq!(logic.compute().unwrap(), want);
        let fused = ndchunk::blockwise("a*row-b", &[&a, &row, &b], |v| &v[0] * &v[1] - &v[2]).compute().unwrap();
        let want = &x * &row_oracle.broadcast(x.shape()).unwrap() - &x.mapv(|v| -v);
        prop_assert!(same(&fused, &want), "{fused:?} {want:?}");
    }
}

#[test]
fn selections_refuse_shapes_that_do_not_broadcast() {
    let a = Array::<f64>::zeros(&[3, 4], [2, 2]).unwrap();
    let b = Array::<f64>::zeros(&[5], [2]).unwrap();
    let err = ndchunk::where_(&a.greater(0.0), &a, &b)
        .compute()
        .unwrap_err();
    assert!(err.to_string().contains("could not be broadcast"), "{err}");
    let err = ndchunk::blockwise("f", &[&a, &b], |v| v[0].to_owned())
        .compute()
        .unwrap_err();
    assert!(err.to_string().contains("could not be broadcast"), "{err}");
    let bad = ndchunk::blockwise("shape", &[&a], |_| ArrayD::<f64>::zeros(IxDyn(&[1])))
        .compute()
        .unwrap_err();
    assert!(bad.to_string().contains("returned shape"), "{bad}");
}
