//! The layout operations as the planner sees them: culling (a slice of a
//! result reads only the chunks under it), the bytes a layout task is
//! charged, every bad argument as an error at plan time, and numpy's
//! negative steps on a small case. Their values against an oracle:
//! `array_layout.rs`.

#[path = "support/counting.rs"]
mod counting;

use std::sync::Arc;

use counting::Counting;

use ndarray::{ArrayD, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::io::{ArrayMeta, DType, Scalar};
use ndchunk::{concatenate, stack, Array, Error, Index, PadMode};

fn values(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(|i| i as f64 * 0.5 - 3.0).collect()).unwrap()
}

// ------------------------------------------------------------------ culling

fn counting_store() -> (Arc<Counting>, ArrayD<f64>) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[100, 60], &[10, 20]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let x = values(&[100, 60]);
    (Counting::holding(meta, x.view()), x)
}

/// The chunks read since the last call, in order.
fn reads(store: &Counting) -> Vec<Vec<u64>> {
    store.take_reads().into_keys().collect()
}

#[test]
fn a_slice_of_a_result_reads_only_the_chunks_under_it() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let b = (&a + 1.0) * 2.0;

    let s = b.slice(&[(15..25).into(), Index::At(-3)]);
    let want = x.slice(ndarray::s![15..25, 57]).mapv(|v| (v + 1.0) * 2.0);
    assert_eq!(s.compute().unwrap(), want.into_dyn());
    assert_eq!(reads(&store), vec![vec![1, 2], vec![2, 2]]);
    let plan = s.plan().unwrap();
    assert_eq!(plan.stages().len(), 1);
    assert_eq!(
        plan.stages()[0].fused(),
        vec![
            "from_store(counting)",
            "add(1.0)",
            "mul(2.0)",
            "slice[15:25, -3]"
        ]
    );
    assert!(s
        .explain()
        .unwrap()
        .contains("mul(2.0) -> slice[15:25, -3]"));

    // Through a transpose, a take and a reduction.
    let t = b.t().take(&[3, 95], 1).sum([0], false);
    t.compute().unwrap();
    assert_eq!(
        reads(&store),
        vec![
            vec![0, 0],
            vec![0, 1],
            vec![0, 2],
            vec![9, 0],
            vec![9, 1],
            vec![9, 2]
        ]
    );

    // A strided slice skips the chunks between its elements.
    let strided = a.slice(&[Index::range(5, None, 40), Index::range(None, None, -50)]);
    strided.compute().unwrap();
    assert_eq!(
        reads(&store),
        vec![
            vec![0, 0],
            vec![0, 2],
            vec![4, 0],
            vec![4, 2],
            vec![8, 0],
            vec![8, 2]
        ]
    );

    // Broadcasting a row against the store reads the row's chunks once per need.
    let row = a.slice(&[Index::At(0), Index::NewAxis, Index::ALL]);
    (&b.slice(&[(0..10).into()]) - &row).compute().unwrap();
    assert_eq!(reads(&store), vec![vec![0, 0], vec![0, 1], vec![0, 2]]);
}

/// A reduction is a stage that computes its whole result, so a slice of
/// it (or of elementwise operations on it) is the reduction of the slice
/// of its input: only the chunks under the selected kept positions are
/// read, every one of them along the reduced axes.
#[test]
fn a_slice_of_a_reduction_reads_only_the_input_under_it() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let close = |got: ArrayD<f64>, want: ArrayD<f64>| {
        assert_eq!(got.shape(), want.shape());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-9 * (1.0 + w.abs()), "{g} vs {w}");
        }
    };
    let all_rows = |cols: std::ops::Range<u64>| -> Vec<Vec<u64>> {
        (0..10)
            .flat_map(|i| cols.clone().map(move |j| vec![i, j]))
            .collect()
    };

    // Columns 5..15 of the mean over rows: the first column of chunks.
    let mean = a.mean([0], false);
    let part = (&mean * 2.0).slice(&[(5..15).into()]);
    let want = x.mean_axis(ndarray::Axis(0)).unwrap().mapv(|v| v * 2.0);
    close(
        part.compute().unwrap(),
        want.slice(ndarray::s![5..15]).to_owned().into_dyn(),
    );
    assert_eq!(reads(&store), all_rows(0..1));
    assert_eq!(part.plan().unwrap().stages()[0].grid().shape(), vec![10]);

    // With keepdims, and `take` of two columns in two chunks.
    let sums = a.sum([0], true);
    let picked = sums.take(&[45, 3], 1);
    let want = x
        .sum_axis(ndarray::Axis(0))
        .select(ndarray::Axis(0), &[45, 3]);
    close(
        picked.compute().unwrap(),
        want.insert_axis(ndarray::Axis(0)).into_dyn(),
    );
    let chunks: Vec<Vec<u64>> = (0..10).flat_map(|i| [vec![i, 0], vec![i, 2]]).collect();
    assert_eq!(reads(&store), chunks);

    // An integer index of a kept axis drops it from the input too.
    let col = |j: usize| x.index_axis(ndarray::Axis(1), j).to_owned();
    let one = mean.slice(&[Index::At(-1)]);
    assert!((one.compute().unwrap()[[]] - col(59).mean().unwrap()).abs() < 1e-9);
    assert_eq!(reads(&store), all_rows(2..3));
    let kept = sums.slice(&[Index::ALL, Index::At(3)]);
    close(
        kept.compute().unwrap(),
        ndarray::arr1(&[col(3).sum()]).into_dyn(),
    );
    assert_eq!(reads(&store), all_rows(0..1));
    // Indexing the length-1 axis `keepdims` left: the whole reduction runs,
    // then the row is picked (correct, not culled).
    let row = sums.slice(&[Index::At(0)]);
    close(
        row.compute().unwrap(),
        x.sum_axis(ndarray::Axis(0)).into_dyn(),
    );
    assert_eq!(reads(&store), all_rows(0..3));
    // Anomalies from the mean: the slice goes through the broadcast of the
    // mean (its stretched axis kept whole) into the reduction.
    let anomaly = &a - &a.mean([0], true);
    let window = anomaly.slice(&[(3..7).into(), (5..15).into()]);
    let col_means = x.mean_axis(ndarray::Axis(0)).unwrap();
    let want = (&x - &col_means).slice(ndarray::s![3..7, 5..15]).to_owned();
    close(window.compute().unwrap(), want.into_dyn());
    assert_eq!(reads(&store), all_rows(0..1));
    let row = anomaly.slice(&[Index::At(4), (45..50).into()]);
    let want = (&x - &col_means).slice(ndarray::s![4, 45..50]).to_owned();
    close(row.compute().unwrap(), want.into_dyn());
    assert_eq!(reads(&store), all_rows(2..3));
    // The unsliced mean is unchanged.
    close(
        mean.compute().unwrap(),
        x.mean_axis(ndarray::Axis(0)).unwrap().into_dyn(),
    );
}

#[test]
fn layout_tasks_count_only_the_piece_they_pull() {
    let a = Array::<f64>::zeros(&[1000, 1000], [1000, 1000]).unwrap();
    let whole = (&a + 1.0).plan().unwrap().stages()[0].task_bytes();
    let head = (&a + 1.0).slice(&[(0..10).into()]);
    let bytes = head.plan().unwrap().stages()[0].task_bytes();
    assert!(bytes * 20 < whole, "{bytes} vs {whole}");
    let options = ndchunk::ComputeOptions::default()
        .max_mem(whole / 10)
        .progress(false);
    let (values, report) = head.compute_with(&options).unwrap();
    assert!(values.iter().all(|&v| v == 1.0));
    assert!(report.peak_bytes <= whole / 10);
    // A strided slice may pull a whole input chunk per task: counted.
    let strided = a.slice(&[Index::range(None, None, 100)]);
    assert!(strided.plan().unwrap().stages()[0].task_bytes() >= 8_000_000);
}

// ------------------------------------------------------------------- errors

fn graph_error<T: ndchunk::io::Element>(a: &Array<T>, operation: &str, says: &str) {
    match a.plan() {
        Err(Error::Invalid {
            operation: op,
            message,
        }) => {
            assert!(op.starts_with(operation), "{op} / {message}");
            assert!(message.contains(says), "{op}: {message}");
        }
        other => panic!("expected an error from {operation}, got {other:?}"),
    }
    assert!(a.compute().is_err());
}

#[test]
fn every_bad_layout_operation_is_an_error_at_plan_time() {
    let a = Array::<f64>::arange(12, [5]).unwrap();
    let m = a.rechunk([12]).reshape(&[3, 4]);
    graph_error(
        &a.slice(&[Index::At(12)]),
        "slice",
        "index 12 is out of bounds for axis 0 with size 12",
    );
    graph_error(&a.slice(&[Index::At(-13)]), "slice", "out of bounds");
    graph_error(
        &a.slice(&[Index::ALL, Index::ALL]),
        "slice",
        "too many indices",
    );
    graph_error(
        &a.slice(&[Index::range(None, None, 0)]),
        "slice",
        "step cannot be zero",
    );
    graph_error(
        &m.take(&[0], 2),
        "take",
        "axis 2 is out of bounds for array of dimension 2",
    );
    graph_error(
        &m.take(&[4], 1),
        "take",
        "index 4 is out of bounds for axis 1 with size 4",
    );
    graph_error(&m.take(&[-5], 1), "take", "out of bounds");
    graph_error(&m.transpose(&[0, 0]), "transpose", "not a permutation");
    graph_error(&m.transpose(&[1, 0, 2]), "transpose", "not a permutation");
    graph_error(&m.squeeze(Some(&[0])), "squeeze", "size 3");
    graph_error(&m.squeeze(Some(&[2])), "squeeze", "out of bounds");
    graph_error(&m.expand_dims(3), "expand_dims", "out of bounds");
    graph_error(
        &a.reshape(&[5, -1]),
        "reshape",
        "cannot reshape array of size 12 into shape [5, -1]",
    );
    graph_error(
        &a.reshape(&[-1, -1]),
        "reshape",
        "only specify one unknown dimension",
    );
    graph_error(&a.reshape(&[13]), "reshape", "cannot reshape");
    graph_error(
        &a.reshape(&[4, 3]),
        "reshape",
        "rechunk input axis 0 to a multiple of 3",
    );
    graph_error(
        &Array::<f64>::zeros(&[4, 6], [2, 3]).unwrap().reshape(&[24]),
        "reshape",
        "rechunk",
    );
    graph_error(
        &concatenate(&[m.clone(), a.clone()], 0),
        "concatenate",
        "dimensions except for the concatenation axis must match",
    );
    graph_error(
        &concatenate(&[m.clone(), m.t()], 0),
        "concatenate",
        "array 1 has shape [4, 3]",
    );
    graph_error(
        &concatenate(&[m.clone(), m.clone()], 2),
        "concatenate",
        "out of bounds",
    );
    graph_error(
        &concatenate::<f64>(&[], 0),
        "concatenate",
        "at least one array",
    );
    graph_error(&stack(&[m.clone(), m.t()], 0), "stack", "same shape");
    graph_error(&stack(&[m.clone(), m.clone()], 3), "stack", "out of bounds");
    graph_error(
        &m.pad(&[(1, 1), (1, 1), (1, 1)], PadMode::Edge),
        "pad",
        "3 pad widths",
    );
    graph_error(
        &Array::<f64>::zeros(&[0, 2], [1, 1])
            .unwrap()
            .pad(&[(1, 0)], PadMode::Reflect),
        "pad",
        "empty axis 0",
    );
    graph_error(&m.broadcast_to(&[3, 5]), "broadcast_to", "cannot broadcast");
    graph_error(&m.broadcast_to(&[4]), "broadcast_to", "cannot broadcast");
    graph_error(
        &(&m + &a),
        "add",
        "could not be broadcast together with shapes [3, 4] [12]",
    );
    graph_error(
        &m.less(a.slice(&[(0..3).into()])),
        "less",
        "could not be broadcast",
    );
    // An error deep in a chain names its own operation.
    graph_error(
        &((&m + 1.0).take(&[9], 0) * 2.0).sum([0], false),
        "take",
        "index 9",
    );
}

#[test]
fn negative_steps_and_newaxis_follow_numpy_on_a_small_case() {
    let a = Array::<i64>::arange(24, [12]).unwrap().reshape(&[4, 6]);
    assert_eq!(a.grid().to_sizes(), vec![vec![2, 2], vec![6]]);
    let got = a.slice(&[Index::range(None, None, -2), Index::range(None, None, -2)]);
    assert_eq!(got.shape(), vec![2, 3]);
    assert_eq!(
        got.compute().unwrap().into_raw_vec_and_offset().0,
        vec![23, 21, 19, 11, 9, 7]
    );
    let g = a.slice(&[Index::At(-1), Index::NewAxis, Index::range(-1, None, -2)]);
    assert_eq!(g.shape(), vec![1, 3]);
    assert_eq!(
        g.compute().unwrap().into_raw_vec_and_offset().0,
        vec![23, 21, 19]
    );
}
