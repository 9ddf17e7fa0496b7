//! `map_blocks` as Dask's: several inputs broadcast and unified, axes
//! dropped (each call gets them whole), new axes, output blocks of other
//! shapes, and the errors of a function or a spec that does not fit.

use ndarray::{s, Array2, ArrayD, Axis, IxDyn};
use ndchunk::{map_blocks, Array, BlockSpec, ComputeOptions, Error};

/// A (rows, cols) array of distinct, structured values in `chunks`.
fn grid_values(rows: usize, cols: usize, chunks: [u64; 2]) -> (Array<f64>, ArrayD<f64>) {
    let values = Array2::from_shape_fn((rows, cols), |(i, j)| {
        (i as f64 * 0.37).sin() * 10.0 + j as f64 * 0.5
    })
    .into_dyn();
    (Array::from_ndarray(values.clone(), chunks).unwrap(), values)
}

#[test]
fn inputs_of_different_chunks_meet_on_the_union_of_their_cuts() {
    let (a, av) = grid_values(10, 7, [4, 3]);
    let (b, bv) = grid_values(10, 7, [3, 7]);
    let b = &b * 2.0;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let c = map_blocks("mul", &[&a, &b], &BlockSpec::new(), move |v, info| {
        log.lock().unwrap().push(info.region.shape());
        &v[0] * &v[1]
    });
    // Rows: cuts at 4, 8 and 3, 6, 9; columns at 3, 6.
    assert_eq!(
        c.grid().to_sizes(),
        vec![vec![3, 1, 2, 2, 1, 1], vec![3, 3, 1]]
    );
    assert_eq!(c.compute().unwrap(), &av * &(&bv * 2.0));
    // One call per block, each over exactly that block.
    let mut shapes = seen.lock().unwrap().clone();
    shapes.sort();
    assert_eq!(shapes.len(), 6 * 3);
    assert!(shapes.iter().all(|s| s[0] <= 3 && s[1] <= 3));
}

#[test]
fn inputs_broadcast_as_numpy() {
    let (a, av) = grid_values(6, 5, [4, 2]);
    let row = Array::<f64>::arange(5, [5]).unwrap();
    let c = map_blocks("add row", &[&a, &row], &BlockSpec::new(), |v, _| {
        &v[0] + &v[1]
    });
    let want = &av + &ndarray::Array1::from_iter((0..5).map(|x| x as f64));
    assert_eq!(c.compute().unwrap(), want);
    assert_eq!(c.shape(), vec![6, 5]);
}

#[test]
fn a_dropped_axis_comes_whole_to_each_call() {
    // Axis 1 has three chunks; each call must see all 7 columns.
    let (a, av) = grid_values(9, 7, [4, 3]);
    let sums = map_blocks(
        "row sums",
        &[&a],
        &BlockSpec::new().drop_axis([-1]),
        |v, info| {
            assert_eq!(v[0].shape()[1], 7, "block {:?}", info.index);
            v[0].sum_axis(Axis(1))
        },
    );
    assert_eq!(sums.grid().to_sizes(), vec![vec![4, 4, 1]]);
    assert_eq!(sums.compute().unwrap(), av.sum_axis(Axis(1)));
    // A task holds whole rows of the input: counted in the plan.
    let plan = sums.plan().unwrap();
    let task = plan.stages().last().unwrap().task_bytes();
    assert!(task >= 4 * 7 * 8, "{plan}");
}

#[test]
fn a_new_axis_and_other_block_shapes() {
    let (a, av) = grid_values(8, 6, [4, 3]);
    // Each (4, 3) block becomes the means of its pairs of rows, (2, 3).
    let halves = map_blocks(
        "row pairs",
        &[&a],
        &BlockSpec::new().block_shape([2, 3]),
        |v, _| {
            let b = &v[0];
            let n = b.shape()[0] / 2;
            let mut out = ArrayD::zeros(IxDyn(&[n, b.shape()[1]]));
            for i in 0..n {
                let pair = (&b.slice(s![2 * i, ..]) + &b.slice(s![2 * i + 1, ..])) / 2.0;
                out.slice_mut(s![i, ..]).assign(&pair);
            }
            out
        },
    );
    assert_eq!(halves.grid().to_sizes(), vec![vec![2, 2], vec![3, 3]]);
    let got = halves.compute().unwrap();
    for i in 0..4 {
        for j in 0..6 {
            let want = (av[[2 * i, j]] + av[[2 * i + 1, j]]) / 2.0;
            assert_eq!(got[[i, j]], want);
        }
    }
    // A new leading axis of length 1 per block; explicit sizes per axis.
    let stacked = map_blocks("expand", &[&a], &BlockSpec::new().new_axis([0]), |v, _| {
        v[0].clone().insert_axis(Axis(0))
    });
    assert_eq!(stacked.shape(), vec![1, 8, 6]);
    assert_eq!(stacked.compute().unwrap(), av.clone().insert_axis(Axis(0)));
    let spec = BlockSpec::new().chunks(vec![vec![1, 1], vec![3, 3]]);
    let firsts = map_blocks("first of each block", &[&a], &spec, |v, _| {
        v[0].slice(s![0..1, ..]).to_owned().into_dyn()
    });
    assert_eq!(firsts.shape(), vec![2, 6]);
    let got = firsts.compute().unwrap();
    assert_eq!(got.slice(s![0, ..]), av.slice(s![0, ..]));
    assert_eq!(got.slice(s![1, ..]), av.slice(s![4, ..]));
}

#[test]
fn the_same_bits_on_one_and_two_threads_under_a_reduction() {
    let (a, _) = grid_values(40, 30, [7, 9]);
    let (b, _) = grid_values(40, 30, [10, 30]);
    let c = map_blocks("mix", &[&a, &b], &BlockSpec::new(), |v, _| {
        v[0].mapv(f64::cos) * &v[1]
    });
    let total = c.sum([0], false);
    let run = |threads| {
        let options = ComputeOptions::new().threads(threads).progress(false);
        total.compute_with(&options).unwrap().0
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn a_function_or_spec_that_does_not_fit_is_a_clear_error() {
    let (a, _) = grid_values(8, 6, [4, 3]);
    let wrong = map_blocks("shrink", &[&a], &BlockSpec::new(), |v, _| {
        v[0].slice(s![0..1, ..]).to_owned().into_dyn()
    });
    match wrong.compute() {
        Err(Error::Task { block, source, .. }) => {
            assert_eq!(block, vec![0, 0]);
            assert!(
                source
                    .to_string()
                    .contains("returned shape [1, 3] for block [0, 0] of shape [4, 3]"),
                "{source}"
            );
        }
        other => panic!("expected a task error, got {other:?}"),
    }
    let plan_error = |spec: BlockSpec, says: &str| {
        let bad = map_blocks("bad", &[&a], &spec, |v, _| v[0].clone());
        match bad.plan() {
            Err(Error::Invalid { operation, message }) => {
                assert_eq!(operation, "bad");
                assert!(message.contains(says), "{message}");
            }
            other => panic!("expected {says:?}, got {other:?}"),
        }
    };
    plan_error(
        BlockSpec::new().drop_axis([2]),
        "drop_axis: axis 2 is out of bounds",
    );
    plan_error(
        BlockSpec::new().drop_axis([0, -2]),
        "drop_axis: repeated axis -2",
    );
    plan_error(
        BlockSpec::new().new_axis([3]),
        "new_axis: axis 3 is out of bounds",
    );
    plan_error(
        BlockSpec::new().block_shape([4]),
        "chunks [4] has 1 axes, the output 2",
    );
    plan_error(
        BlockSpec::new().chunks(vec![vec![4, 4], vec![6]]),
        "chunks along output axis 1: 1 sizes, but the inputs have 2 blocks along it",
    );
    let b = Array::<f64>::zeros(&[3, 6], [3, 3]).unwrap();
    let mismatch = map_blocks("pair", &[&a, &b], &BlockSpec::new(), |v, _| v[0].clone());
    assert!(mismatch
        .plan()
        .unwrap_err()
        .to_string()
        .contains("could not be broadcast together with shapes [[8, 6], [3, 6]]"));
}
