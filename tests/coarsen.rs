//! `Array::coarsen` against a window-by-window oracle on random irregular
//! chunkings (chunks not at multiples of the factors included), for every
//! reduction and boundary; its errors.

#[path = "support/chunkings.rs"]
mod chunkings;
#[path = "support/random.rs"]
mod random;

use ndarray::{ArrayD, Dimension, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{Array, CoarsenBoundary, Downsample};
use proptest::prelude::*;

use chunkings::grid_for;
use random::Random;

/// The windows of `x` (factors per axis, the last partial window kept)
/// reduced one by one.
fn oracle(x: &ArrayD<u16>, factors: &[u64], how: Downsample) -> ArrayD<u16> {
    let out: Vec<usize> = x
        .shape()
        .iter()
        .zip(factors)
        .map(|(&n, &f)| n.div_ceil(f as usize))
        .collect();
    ArrayD::from_shape_fn(IxDyn(&out), |o| {
        let mut window: Vec<u16> = x
            .indexed_iter()
            .filter(|(ix, _)| (0..o.ndim()).all(|a| ix[a] / factors[a] as usize == o[a]))
            .map(|(_, &v)| v)
            .collect();
        window.sort_unstable();
        match how {
            Downsample::Mean => {
                let mean = window.iter().map(|&v| f64::from(v)).sum::<f64>() / window.len() as f64;
                mean.round_ties_even() as u16
            }
            Downsample::Max => *window.last().unwrap(),
            Downsample::Min => window[0],
            _ => {
                // The most frequent, the smallest of ties.
                let mut best = (0usize, 0u16);
                for &v in &window {
                    let n = window.iter().filter(|&&w| w == v).count();
                    if n > best.0 {
                        best = (n, v);
                    }
                }
                best.1
            }
        }
    })
}

const HOW: [Downsample; 4] = [
    Downsample::Mean,
    Downsample::Max,
    Downsample::Min,
    Downsample::Mode,
];

fn case() -> impl Strategy<Value = (Vec<usize>, ChunkGrid, Vec<u64>, usize, u64)> {
    proptest::collection::vec(1usize..14, 1..=3).prop_flat_map(|shape| {
        let n = shape.len();
        (
            Just(shape.clone()),
            grid_for(&shape),
            proptest::collection::vec(1u64..5, n),
            0usize..4,
            any::<u64>(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn windows_reduced_as_one_by_one((shape, grid, factors, how, seed) in case()) {
        let how = HOW[how];
        let mut rng = Random::new(seed);
        // Few distinct values, so the mode has ties to break.
        let x = ArrayD::from_shape_fn(IxDyn(&shape), |_| rng.below(6) as u16 * 1000 + 7);
        let a = Array::from_ndarray(x.clone(), grid).unwrap();
        let padded = a.coarsen(&factors, how, CoarsenBoundary::Pad).compute().unwrap();
        prop_assert_eq!(&padded, &oracle(&x, &factors, how));
        let exact = a.coarsen(&factors, how, CoarsenBoundary::Exact).compute();
        let divisible = shape.iter().zip(&factors).all(|(&n, &f)| (n as u64).is_multiple_of(f));
        prop_assert_eq!(exact.is_ok(), divisible);
        // Trim: the windows that are whole.
        let trimmed = a.coarsen(&factors, how, CoarsenBoundary::Trim).compute().unwrap();
        let whole: Vec<usize> = shape.iter().zip(&factors).map(|(&n, &f)| n / f as usize).collect();
        prop_assert_eq!(trimmed.shape(), whole.as_slice());
        for (ix, v) in trimmed.indexed_iter() {
            prop_assert_eq!(*v, padded[&ix]);
        }
    }
}

#[test]
fn floats_and_errors() {
    let x = Array::<f32>::arange(8, [3]).unwrap();
    let mean = x.coarsen(&[4], Downsample::Mean, CoarsenBoundary::Exact);
    assert_eq!(
        mean.compute().unwrap().into_raw_vec_and_offset().0,
        vec![1.5, 5.5]
    );
    let e = x
        .coarsen(&[2], Downsample::Mode, CoarsenBoundary::Exact)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("coarsen") && e.contains("mode of float32"),
        "{e}"
    );
    let e = x
        .coarsen(&[3], Downsample::Max, CoarsenBoundary::Exact)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a multiple of 3"), "{e}");
    let e = x
        .coarsen(&[0], Downsample::Max, CoarsenBoundary::Pad)
        .compute()
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least 1"), "{e}");
}
