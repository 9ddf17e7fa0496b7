//! `map_overlap` against an in-memory oracle (the whole array padded at
//! once, the stencil run on it, the middle kept), on random irregular
//! chunkings, with every boundary mode; each source chunk decoded once
//! when the budget holds the neighbours; its errors.

#[path = "support/chunkings.rs"]
mod chunkings;
#[path = "support/counting.rs"]
mod counting;

use std::sync::Arc;

use ndarray::{ArrayD, Dimension, IxDyn};
use ndchunk::chunking::{ChunkGrid, Region};
use ndchunk::io::{ArrayMeta, DType, Scalar};
use ndchunk::{Array, ComputeOptions, PadMode};
use proptest::prelude::*;

use chunkings::{grid_for, shape_up_to};
use counting::Counting;

/// Smooth values with some structure: a product of waves and a ramp.
fn values(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |ix| {
        let mut v = 1.0;
        for (a, &i) in ix.slice().iter().enumerate() {
            v *= (i as f64 * 0.7 + a as f64).sin() + 1.5;
        }
        v + ix.slice().iter().sum::<usize>() as f64 * 0.25
    })
}

/// The sum over the box of `radius` around each element, clipped to the
/// array it is given (so it needs no boundary of its own).
fn box_sum(x: &ArrayD<f64>, radius: &[u64]) -> ArrayD<f64> {
    let shape = x.shape().to_vec();
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let lo: Vec<usize> = (0..shape.len())
            .map(|a| ix[a].saturating_sub(radius[a] as usize))
            .collect();
        let hi: Vec<usize> = (0..shape.len())
            .map(|a| (ix[a] + radius[a] as usize + 1).min(shape[a]))
            .collect();
        let window = Region::new(
            lo.iter().map(|&n| n as u64).collect(),
            hi.iter().map(|&n| n as u64).collect(),
        )
        .unwrap();
        let mut sum = 0.0;
        for i in 0..window.num_elements() {
            let mut rest = i;
            let mut at = vec![0usize; shape.len()];
            for a in (0..shape.len()).rev() {
                let n = (hi[a] - lo[a]) as u64;
                at[a] = lo[a] + (rest % n) as usize;
                rest /= n;
            }
            sum += x[IxDyn(&at)];
        }
        sum
    })
}

const MODES: [Option<PadMode<f64>>; 6] = [
    None,
    Some(PadMode::Constant(-2.5)),
    Some(PadMode::Edge),
    Some(PadMode::Reflect),
    Some(PadMode::Symmetric),
    Some(PadMode::Wrap),
];

/// The oracle: the whole array padded in one piece, the stencil, the middle.
fn oracle(x: &ArrayD<f64>, depth: &[u64], mode: Option<PadMode<f64>>) -> ArrayD<f64> {
    let Some(mode) = mode else {
        return box_sum(x, depth);
    };
    let shape: Vec<u64> = x.shape().iter().map(|&n| n as u64).collect();
    let whole = Array::from_ndarray(x.clone(), shape.clone()).unwrap();
    let widths: Vec<(u64, u64)> = depth.iter().map(|&d| (d, d)).collect();
    let padded = whole.pad(&widths, mode).compute().unwrap();
    let summed = box_sum(&padded, depth);
    let middle = Region::new(
        depth.to_vec(),
        depth.iter().zip(&shape).map(|(d, n)| d + n).collect(),
    )
    .unwrap();
    let slice: Vec<ndarray::SliceInfoElem> = (0..shape.len())
        .map(|a| ndarray::SliceInfoElem::Slice {
            start: middle.start()[a] as isize,
            end: Some(middle.stop()[a] as isize),
            step: 1,
        })
        .collect();
    summed.slice(slice.as_slice()).to_owned()
}

fn case() -> impl Strategy<Value = (Vec<usize>, ChunkGrid, Vec<u64>, usize)> {
    shape_up_to(10).prop_flat_map(|shape| {
        let n = shape.len();
        (
            Just(shape.clone()),
            grid_for(&shape),
            proptest::collection::vec(0u64..4, n),
            0usize..MODES.len(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Any chunking, any depth (wider than the chunks too), every mode.
    #[test]
    fn equals_the_whole_array_padded_at_once((shape, grid, depth, mode) in case()) {
        let mode = MODES[mode];
        let x = values(&shape);
        let a = Array::from_ndarray(x.clone(), grid).unwrap();
        let radius = depth.clone();
        let got = a.map_overlap(&depth, mode, move |b, _| box_sum(&b, &radius));
        let empty_padded = shape.iter().zip(&depth).any(|(&n, &d)| n == 0 && d > 0)
            && !matches!(mode, None | Some(PadMode::Constant(_)));
        let too_deep = mode.is_none() && shape.iter().zip(&depth).any(|(&n, &d)| d as usize > n);
        if empty_padded || too_deep {
            prop_assert!(got.compute().is_err());
            return Ok(());
        }
        let got = got.compute().unwrap();
        let want = oracle(&x, &depth, mode);
        prop_assert_eq!(got.shape(), want.shape());
        for (g, w) in got.iter().zip(want.iter()) {
            prop_assert!((g - w).abs() <= 1e-9 * w.abs().max(1.0), "{} vs {}", g, w);
        }
    }
}

fn counting_volume(shape: [u64; 3], chunks: [u64; 3]) -> (Arc<Counting>, ArrayD<f64>) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&shape, &chunks).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
    let x = values(&dims);
    (Counting::holding(meta, x.view()), x)
}

#[test]
fn each_chunk_is_decoded_once_when_the_budget_holds_the_neighbours() {
    let (store, x) = counting_volume([32, 32, 32], [8, 8, 8]);
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let blurred = a.map_overlap(&[1], Some(PadMode::Symmetric), |b, _| {
        box_sum(&b, &[1, 1, 1])
    });
    let options = ComputeOptions::new()
        .max_mem(64 << 20)
        .threads(2)
        .progress(false);
    let plan = blurred.plan_with(&options).unwrap();
    assert!(plan.stages()[0].cache_bytes() > 0, "{plan}");
    assert!(plan.to_string().contains("cache:"), "{plan}");
    let (got, _) = blurred.compute_with(&options).unwrap();
    let reads = store.take_reads();
    // 64 chunks, each decoded once (Dask's overlap decodes each up to 27
    // times, once per neighbour).
    assert_eq!(reads.len(), 64);
    assert!(reads.values().all(|&n| n == 1), "{reads:?}");
    let want = oracle(&x, &[1, 1, 1], Some(PadMode::Symmetric));
    assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-9));

    // In a reduction (a blur, then a count above a threshold), too.
    let count = blurred
        .greater(Array::full(&[32, 32, 32], 40.0, [8, 8, 8]).unwrap())
        .count_nonzero(ndchunk::Axes::All, false);
    let (n, _) = count.compute_with(&options).unwrap();
    assert!(store.take_reads().values().all(|&n| n == 1));
    let want_n = want.iter().filter(|&&v| v > 40.0).count();
    assert_eq!(n[[]] as usize, want_n);
}

#[test]
fn a_budget_too_small_for_the_neighbours_decodes_again_with_the_same_values() {
    let (store, x) = counting_volume([32, 32, 32], [8, 8, 8]);
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let blurred = a.map_overlap(&[1], Some(PadMode::Edge), |b, _| box_sum(&b, &[1, 1, 1]));
    // Room for two tasks and a quarter of the blocks the cache wants.
    let roomy = ComputeOptions::new().max_mem(1 << 30).threads(2);
    let stage = blurred.plan_with(&roomy).unwrap().stages()[0].clone();
    let (window, task) = (stage.cache_bytes(), stage.required_bytes());
    let max_mem = 2 * task + window / 4;
    let options = ComputeOptions::new()
        .max_mem(max_mem)
        .threads(2)
        .progress(false);
    let cache = blurred.plan_with(&options).unwrap().stages()[0].cache_bytes();
    assert!(cache > 0 && cache <= window / 4, "{cache} of {window}");
    let (got, report) = blurred.compute_with(&options).unwrap();
    assert!(report.peak_bytes <= max_mem);
    let decodes: usize = store.take_reads().values().sum();
    assert!(decodes > 64, "{decodes}");
    let want = oracle(&x, &[1, 1, 1], Some(PadMode::Edge));
    assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-9));
}

#[test]
fn bad_depths_and_shapes_are_clear_errors() {
    let a = Array::<f64>::arange(10, [4]).unwrap();
    let e = a
        .map_overlap(&[11], None, |b, _| b)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("depth 11 along axis 0 is larger than the axis (10)"),
        "{e}"
    );
    // A boundary mode supplies what the axis lacks.
    let wrapped = a.map_overlap(&[11], Some(PadMode::Wrap), |b, _| b);
    assert_eq!(
        wrapped.compute().unwrap().into_raw_vec_and_offset().0,
        (0..10).map(f64::from).collect::<Vec<_>>()
    );
    let e = a
        .map_overlap(&[1, 1], None, |b, _| b)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 depths for a 1-dimensional array"), "{e}");
    let e = a
        .map_overlap(&[1], Some(PadMode::Edge), |b, _| {
            let n = b.len();
            b.slice(ndarray::s![1..n - 1]).to_owned().into_dyn()
        })
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("map_overlap") && e.contains("must return the shape"),
        "{e}"
    );
}
