//! Large blocks, whose fused chains a task runs lane by lane (`plan/
//! fused_eval/lanes.rs`): the same values as the ndarray oracle, bit for
//! bit for elementwise chains (lanes never change an element's
//! arithmetic), and bit-identical reductions for any thread count. Chains
//! mix what runs in lanes (elementwise maps over in-memory arrays and
//! store chunks, read where they lie) with what is evaluated whole as a
//! leaf (a rechunk, `map_blocks`, a broadcast reduction); a node read by
//! two consumers is one step.

#[path = "support/chunkings.rs"]
#[allow(dead_code)] // only `axis_chunks` is used here
mod chunkings;

use std::sync::Arc;

use chunkings::axis_chunks;
use ndarray::{ArrayD, Axis, IxDyn, Zip};
use ndchunk::chunking::ChunkGrid;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, ChunkStoreExt, DType, MemoryStore, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions, Error};
use proptest::prelude::*;

fn options(threads: usize) -> ComputeOptions {
    let mut options = ComputeOptions::default().progress(false);
    options = options.max_mem(1 << 30);
    options = options.threads(threads);
    options
}

fn values(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut state = seed;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 10.0 - 2.0
    })
}

fn same_bits(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan()))
}

/// A large shape (up to 3-d, 100k to 400k elements) and two random
/// chunkings of it with few, large chunks.
fn case() -> impl Strategy<Value = (Vec<usize>, ChunkGrid, ChunkGrid)> {
    prop_oneof![
        (100_000usize..400_000).prop_map(|n| vec![n]),
        (30usize..400, 300usize..1100).prop_map(|(a, b)| vec![a, b]),
        (2usize..9, 3usize..70, 200usize..800).prop_map(|(a, b, c)| vec![a, b, c]),
    ]
    .prop_flat_map(|shape| {
        let grid = |shape: &[usize]| {
            shape
                .iter()
                .map(|&n| axis_chunks(n).prop_map(move |c| coarse(c, n)))
                .collect::<Vec<_>>()
                .prop_map(|sizes| ChunkGrid::from_sizes(&sizes).unwrap())
        };
        (grid(&shape), grid(&shape), Just(shape))
    })
    .prop_map(|(a, b, shape)| (shape, a, b))
}

/// Random chunk sizes of an axis merged into at most three chunks, so
/// that blocks hold many lanes.
fn coarse(sizes: Vec<u64>, len: usize) -> Vec<u64> {
    if len == 0 {
        return sizes;
    }
    let cut = sizes.len().div_ceil(3);
    let mut out: Vec<u64> = sizes.chunks(cut).map(|c| c.iter().sum()).collect();
    out.retain(|&n| n > 0);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// `sqrt(|a * 2 + b|) - a` with `b` in another chunking: elementwise,
    /// so the result by lanes equals the oracle bit for bit.
    #[test]
    fn elementwise_chains_equal_the_oracle_bit_for_bit((shape, ga, gb) in case()) {
        let (x, y) = (values(&shape, 1), values(&shape, 2));
        let a = Array::from_ndarray(x.clone(), ga).unwrap();
        let b = Array::from_ndarray(y.clone(), gb).unwrap();
        let lazy = ((&a * 2.0 + &b).abs().sqrt() - &a).rechunk(a.grid().clone());
        let want = Zip::from(&x).and(&y).map_collect(|&p, &q| (p * 2.0 + q).abs().sqrt() - p);
        let (got, _) = lazy.compute_with(&options(2)).unwrap();
        prop_assert!(same_bits(&got, &want));
    }

    /// Sums and means over every set of axes, folded lane by lane: close to the oracle,
    /// and the same bits on 1 and 3 threads.
    #[test]
    fn lane_folds_are_bit_identical_whatever_the_threads((shape, ga, gb) in case()) {
        let (x, y) = (values(&shape, 3), values(&shape, 4));
        let a = Array::from_ndarray(x.clone(), ga).unwrap();
        let b = Array::from_ndarray(y.clone(), gb).unwrap();
        let chain = &a * 3.0 - &b;
        let oracle = Zip::from(&x).and(&y).map_collect(|&p, &q| p * 3.0 - q);
        let ndim = shape.len();
        let subsets: Vec<Vec<usize>> = (1u32..(1 << ndim))
            .map(|m| (0..ndim).filter(|&i| m & (1 << i) != 0).collect())
            .collect();
        for axes in subsets {
            let mut want_sum = oracle.clone();
            for &ax in axes.iter().rev() {
                want_sum = want_sum.sum_axis(Axis(ax));
            }
            let count: usize = axes.iter().map(|&ax| shape[ax]).product();
            for (name, lazy, want) in [
                ("sum", chain.sum(&axes, false), want_sum.clone()),
                ("mean", chain.mean(&axes, false), want_sum.mapv(|s| s / count as f64)),
            ] {
                let (one, _) = lazy.compute_with(&options(1)).unwrap();
                let (three, _) = lazy.compute_with(&options(3)).unwrap();
                prop_assert!(same_bits(&one, &three), "{name} over {axes:?}");
                prop_assert_eq!(one.shape(), want.shape());
                for (g, w) in one.iter().zip(want.iter()) {
                    prop_assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()), "{name} over {axes:?}: {g} vs {w}");
                }
            }
        }
    }
}

/// A chain whose inputs are evaluated whole once per task (a store,
/// `map_blocks`, a reduction broadcast back) and a node read by two
/// consumers, over blocks of 2^18 elements.
#[test]
fn leaves_and_shared_nodes_in_a_chain() {
    let shape = [600usize, 1000];
    let (x, y) = (values(&shape, 5), values(&shape, 6));
    let grid = ChunkGrid::regular(&[600, 1000], &[256, 1000]).unwrap();
    let store = MemoryStore::new(
        "y",
        ArrayMeta::new(grid.clone(), DType::Float64, Scalar::Float(f64::NAN)),
    );
    for i in 0..grid.axis(0).num_chunks() {
        let region = grid.block_region(&[i, 0]).unwrap();
        let (lo, hi) = (region.start()[0] as usize, region.stop()[0] as usize);
        store
            .write_chunk(&[i, 0], y.slice(ndarray::s![lo..hi, ..]).into_dyn())
            .unwrap();
    }
    let a = Array::from_ndarray(x.clone(), [256, 1000]).unwrap();
    let b = Array::<f64>::from_store(Arc::new(store)).unwrap();
    let doubled = a.map_blocks(|block, _| block.mapv(|v| v * 2.0));
    let shared = &a + &b;
    let lazy = (&shared * &doubled) + (&shared - a.mean([0], true)).abs() + shared.abs().sqrt();
    let col_mean = x.mean_axis(Axis(0)).unwrap().insert_axis(Axis(0));
    let s = &x + &y;
    let want = &s * &(&x * 2.0) + (&s - &col_mean).mapv(f64::abs) + s.mapv(|v| v.abs().sqrt());
    for threads in [1, 2] {
        let (got, _) = lazy.compute_with(&options(threads)).unwrap();
        assert_eq!(got.shape(), want.shape());
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(
                g.to_bits() == w.to_bits() || (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{g} vs {w}"
            );
        }
        // The same chain summed: folded lane by lane, close to the oracle.
        let (total, _) = lazy
            .sum([0, 1], false)
            .compute_with(&options(threads))
            .unwrap();
        let want_total: f64 = want.sum();
        assert!((total[[]] - want_total).abs() <= 1e-9 * want_total.abs());
    }
}

/// Argmax and cumsum (whose carries keep one total per block, so they are
/// never folded lane by lane) over large blocks.
#[test]
fn argmax_and_cumsum_over_large_blocks() {
    let shape = [700usize, 900];
    let x = values(&shape, 7);
    let a = Array::from_ndarray(x.clone(), [300, 900]).unwrap() + 1.0;
    let shifted = x.mapv(|v| v + 1.0);
    for axis in [0usize, 1] {
        let got = a.argmax(axis).compute().unwrap();
        let want = shifted.map_axis(Axis(axis), |lane| {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                if v > lane[best] {
                    best = i;
                }
            }
            best as i64
        });
        assert_eq!(got, want, "argmax along {axis}");
        let got = a.cumsum(axis).compute().unwrap();
        let mut want = shifted.clone();
        want.accumulate_axis_inplace(Axis(axis), |&prev, cur| *cur += prev);
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(
                (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
                "cumsum along {axis}"
            );
        }
    }
}

/// Reductions of a Zarr store fold each chunk from the buffer zarrs
/// decoded it into (no copy): sums and means, NaN-skipping or not, over
/// the outer or the inner axes, alone and under a chain; the same bits on
/// 1 and 2 threads. A corrupt chunk read this way stops the run naming it.
#[test]
fn store_chunks_fold_where_they_were_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let shape = [40usize, 30, 50];
    let mut x = values(&shape, 8).mapv(|v| v as f32);
    for (i, v) in x.iter_mut().enumerate() {
        if i % 97 == 0 {
            *v = f32::NAN;
        }
    }
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[40, 30, 50], &[10, 30, 50]).unwrap(),
        DType::Float32,
        Scalar::Float(0.0),
    );
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(1));
    let store = ZarrStore::create(dir.path(), "x", &spec).unwrap();
    for i in 0..4u64 {
        let lo = i as usize * 10;
        let chunk = x.slice(ndarray::s![lo..lo + 10, .., ..]).into_dyn();
        store.write_chunk(&[i, 0, 0], chunk).unwrap();
    }
    let store: Arc<dyn ChunkStore> = Arc::new(store);
    let a = Array::<f32>::from_store(store).unwrap();
    let x64 = x.mapv(f64::from);
    let nan_free = x64.mapv(|v| if v.is_nan() { 0.0 } else { v });
    let counts = x64.mapv(|v| if v.is_nan() { 0.0 } else { 1.0 });
    for axes in [vec![0usize], vec![1, 2]] {
        let fold = |b: &ArrayD<f64>| {
            let mut out = b.clone();
            for &ax in axes.iter().rev() {
                out = out.sum_axis(Axis(ax));
            }
            out
        };
        let (sums, n) = (fold(&nan_free), fold(&counts));
        let cases = [
            ("nansum", a.nansum(&axes, false), sums.clone()),
            ("nanmean", a.nanmean(&axes, false), &sums / &n),
            (
                "chain",
                (&a * 2.0 + 1.0).nansum(&axes, false),
                &sums * 2.0 + &n,
            ),
        ];
        for (name, lazy, want) in cases {
            let (one, _) = lazy.compute_with(&options(1)).unwrap();
            let (two, _) = lazy.compute_with(&options(2)).unwrap();
            assert!(one
                .iter()
                .zip(&two)
                .all(|(p, q)| p.to_bits() == q.to_bits()));
            for (g, w) in one.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{name} over {axes:?}: {g} vs {w}"
                );
            }
        }
        // `sum` and `mean` see the NaNs.
        let (sum, _) = a.sum(&axes, false).compute_with(&options(2)).unwrap();
        assert!(sum.iter().any(|v| v.is_nan()));
    }
    std::fs::write(dir.path().join("x/c/2/0/0"), b"not zstd").unwrap();
    match a.mean([0], false).compute_with(&options(2)) {
        Err(Error::Task { block, source, .. }) => {
            assert_eq!(block, vec![2, 0, 0]);
            assert!(source.to_string().contains("[2, 0, 0]"), "{source}");
        }
        other => panic!("expected a task error, got {other:?}"),
    }
}

/// An earlier stage's result is lent whole to the lanes of the stages that
/// read it when it is kept in memory, and read block by block when it is
/// spilled: a fold over it is the same bits either way (its lanes are cut
/// from the task's region, never from where its input lies).
#[test]
fn a_result_lent_or_spilled_folds_to_the_same_bits() {
    let shape = [400usize, 600, 4];
    let x = values(&shape, 10);
    let a = Array::from_ndarray(x.clone(), [100, 150, 4]).unwrap();
    let sums = a.sum([2], false);
    let total = (&sums * 2.0 + 1.0).sum([0, 1], false);
    let lent = |max_mem: u64| {
        let mut o = options(2);
        o = o.max_mem(max_mem);
        total.compute_with(&o).unwrap()
    };
    let (roomy, kept) = lent(1 << 30);
    assert_eq!(kept.spilled_bytes, 0);
    let (tight, spilled) = lent(1_500_000);
    assert!(spilled.spilled_bytes > 0, "{spilled:?}");
    assert_eq!(roomy[[]].to_bits(), tight[[]].to_bits());
    let want = x.sum() * 2.0 + (400 * 600) as f64;
    assert!((roomy[[]] - want).abs() <= 1e-9 * want.abs());
}
