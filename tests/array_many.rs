//! Several outputs in one run (`compute_many`, `store_many`): the same
//! values as one run each, with each source chunk they share read once.

#[path = "support/counting.rs"]
mod counting;

use std::sync::Arc;

use counting::Counting;
use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk::chunking::{ChunkGrid, Region};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, ChunkStoreExt, DType, Scalar, ZarrStore};
use ndchunk::{compute_many, store_many, Array, ComputeOptions, DynArray};

/// A smooth (100, 60) field in (10, 20) chunks, in a store counting reads.
fn field() -> (Arc<Counting>, ArrayD<f64>) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[100, 60], &[10, 20]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let x = ArrayD::from_shape_fn(IxDyn(&[100, 60]), |i| {
        (i[0] as f64 * 0.1).sin() * 20.0 + (i[1] as f64 * 0.05).cos() * 5.0
    });
    (Counting::holding(meta, x.view()), x)
}

/// Equal to rounding (the engine's sums run in another order).
fn close(got: &ArrayD<f64>, want: &ArrayD<f64>) {
    assert_eq!(got.shape(), want.shape());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-12 * w.abs().max(1.0), "{g} {w}");
    }
}

fn options(threads: usize) -> ComputeOptions {
    ComputeOptions::new()
        .threads(threads)
        .max_mem(256 << 20)
        .progress(false)
}

/// Every chunk read exactly `times` times since the last call.
fn every_chunk_read(store: &Counting, times: usize) {
    let reads = store.take_reads();
    assert_eq!(reads.len(), 10 * 3, "{reads:?}");
    assert!(reads.values().all(|&n| n == times), "{reads:?}");
}

#[test]
fn outputs_on_one_grid_read_each_chunk_once() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let scaled = &a * 2.0;
    let shifted = (&a + 1.0).abs().sqrt();
    let (values, report) = compute_many(&[&scaled, &shifted, &a], &options(2)).unwrap();
    every_chunk_read(&store, 1);
    assert_eq!(values[0], &x * 2.0);
    assert_eq!(values[1], (&x + 1.0).mapv(|v| v.abs().sqrt()));
    assert_eq!(values[2], x);
    assert_eq!(report.tasks_run, 30, "one task per block makes all three");
    // One at a time, the source is read once per output.
    for output in [&scaled, &shifted, &a] {
        output.compute_with(&options(2)).unwrap();
    }
    every_chunk_read(&store, 3);
}

#[test]
fn a_shared_stage_runs_once_and_an_output_read_by_another_is_kept() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let mean = a.mean([0], true);
    let anomaly = &a - &mean;
    let spread = anomaly.std([0], false, 0);
    let (values, _) = compute_many(&[&mean, &anomaly, &spread], &options(2)).unwrap();
    // The mean's stage reads the source, the anomaly (and the spread's
    // partials, made by the same stage when it can) once more.
    let reads = store.take_reads();
    assert!(reads.values().all(|&n| n <= 3), "{reads:?}");
    let want_mean = x.mean_axis(Axis(0)).unwrap().insert_axis(Axis(0));
    let want_anomaly = &x - &want_mean;
    close(&values[0], &want_mean);
    close(&values[1], &want_anomaly);
    close(&values[2], &want_anomaly.std_axis(Axis(0), 0.0));
    // The same bits on one thread, and run one at a time.
    let (one, _) = compute_many(&[&mean, &anomaly, &spread], &options(1)).unwrap();
    assert_eq!(one, values);
    assert_eq!(spread.compute_with(&options(2)).unwrap().0, values[2]);
}

#[test]
fn outputs_given_twice_or_on_other_grids() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store).unwrap();
    let total = a.sum([1], false);
    let coarse = (&a * 3.0).rechunk([50, 60]);
    let fine = &a * 3.0;
    let (values, _) =
        compute_many(&[&total, &coarse, &total, &fine, &coarse], &options(2)).unwrap();
    close(&values[0], &x.sum_axis(Axis(1)));
    assert_eq!(values[2], values[0]);
    assert_eq!(values[1], &x * 3.0);
    assert_eq!(values[3], &x * 3.0);
    assert_eq!(values[4], &x * 3.0);
}

#[test]
fn store_many_writes_zarr_stores_read_back_and_each_chunk_read_once() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let create = |name: &str, chunks: [u64; 2], dtype: DType| {
        let meta = ArrayMeta::new(
            ChunkGrid::regular(&[100, 60], &chunks).unwrap(),
            dtype,
            Scalar::Float(0.0),
        );
        let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(1));
        ZarrStore::create(dir.path().join(name), "/", &spec).unwrap()
    };
    let doubled = create("doubled.zarr", [10, 20], DType::Float64);
    let as_f32 = create("f32.zarr", [10, 20], DType::Float32);
    let outputs = [
        (DynArray::from(&a * 2.0), &doubled as &dyn ChunkStore),
        (
            DynArray::from(a.astype::<f32>()),
            &as_f32 as &dyn ChunkStore,
        ),
    ];
    let pairs: Vec<(&DynArray, &dyn ChunkStore)> = outputs.iter().map(|(a, s)| (a, *s)).collect();
    let report = store_many(&pairs, &options(2)).unwrap();
    assert_eq!(report.tasks_run, 30);
    every_chunk_read(&store, 1);
    let whole = Region::from_shape(&[100, 60]);
    let reopened = ZarrStore::open_dir(dir.path().join("doubled.zarr")).unwrap();
    assert_eq!(reopened.read_region::<f64>(&whole).unwrap(), &x * 2.0);
    let reopened = ZarrStore::open_dir(dir.path().join("f32.zarr")).unwrap();
    assert_eq!(
        reopened.read_region::<f32>(&whole).unwrap(),
        x.mapv(|v| v as f32)
    );
    // Two arrays into one store are refused.
    let twice = [
        (&outputs[0].0, &doubled as &dyn ChunkStore),
        (&outputs[0].0, &doubled as &dyn ChunkStore),
    ];
    assert!(store_many(&twice, &options(2))
        .unwrap_err()
        .to_string()
        .contains("two arrays are to be stored into"));
    // Also when the second is the same directory spelled otherwise.
    let again = ZarrStore::open_dir(dir.path().join(".").join("doubled.zarr")).unwrap();
    let respelled = [
        (&outputs[0].0, &doubled as &dyn ChunkStore),
        (&outputs[1].0, &again as &dyn ChunkStore),
    ];
    assert!(store_many(&respelled, &options(2))
        .unwrap_err()
        .to_string()
        .contains("two arrays are to be stored into"));
    // A store of the wrong dtype is refused before anything is written.
    let wrong = [(&outputs[0].0, &as_f32 as &dyn ChunkStore)];
    assert!(store_many(&wrong, &options(2))
        .unwrap_err()
        .to_string()
        .contains("f32.zarr"));
}

#[test]
fn outputs_in_any_order_keep_what_later_stages_read() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store).unwrap();
    let total = a.sum([0], false);
    let mean = a.mean([0], true);
    let anomaly = &a - &mean;
    let spread = &a - &a.max([0], true);
    let doubled = &total * 2.0;
    let cases: [Vec<&Array<f64>>; 3] = [
        vec![&total, &doubled],
        vec![&anomaly, &mean],
        vec![&anomaly, &spread, &mean],
    ];
    for outputs in cases {
        let (values, _) = compute_many(&outputs, &options(2)).unwrap();
        for (got, array) in values.iter().zip(&outputs) {
            close(got, &array.compute_with(&options(1)).unwrap().0);
        }
    }
    close(
        &compute_many(&[&total], &options(2)).unwrap().0[0],
        &x.sum_axis(Axis(0)),
    );
}

#[test]
fn a_slice_of_an_output_reads_the_output_not_the_source_again() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let mean = a.mean([0], false);
    let part = mean.slice(&[(5..25).into()]);
    let (values, report) = compute_many(&[&mean, &part], &options(2)).unwrap();
    every_chunk_read(&store, 1);
    close(&values[0], &x.mean_axis(Axis(0)).unwrap());
    assert_eq!(
        values[1],
        values[0].slice(ndarray::s![5..25]).to_owned().into_dyn()
    );
    // The mean once (kept), then the blocks stages copying it and its slice.
    assert_eq!(report.stages, 3);
    // Alone, the slice is still pushed into the mean: only its columns.
    part.compute_with(&options(2)).unwrap();
    assert_eq!(
        store.take_reads().len(),
        10 * 2,
        "columns 5..25 lie in 2 of 3 column chunks"
    );
}

#[test]
fn reductions_of_one_source_over_other_axes_read_each_chunk_once() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let across = a.sum([1], false);
    let scaled = (&a * 0.5).mean([1], true);
    let top = a.max([0, 1], false);
    let outputs = [&across, &scaled, &top];
    // The three run together, sharing each chunk. (Counted on one thread:
    // on two, a worker delayed by the OS can fall behind the other by more
    // than the plan's cache holds, and a chunk is read again.)
    let (values, _) = compute_many(&outputs, &options(1)).unwrap();
    every_chunk_read(&store, 1);
    close(&values[0], &x.sum_axis(Axis(1)));
    let half = (&x * 0.5).mean_axis(Axis(1)).unwrap().insert_axis(Axis(1));
    close(&values[1], &half);
    let max = x.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(values[2][[]], max);
    // The same bits on two threads, and each run alone.
    let (two, _) = compute_many(&outputs, &options(2)).unwrap();
    assert_eq!(two, values);
    for (output, together) in outputs.iter().zip(&values) {
        assert_eq!(&output.compute_with(&options(2)).unwrap().0, together);
    }
    store.take_reads();
    // A reduction over the outer axis of chunks split along the inner one
    // reads them in another order: it runs alone, the others together.
    let down = a.sum([0], false);
    let (values, _) = compute_many(&[&across, &down, &top], &options(1)).unwrap();
    every_chunk_read(&store, 2);
    close(&values[1], &x.sum_axis(Axis(0)));
}

#[test]
fn a_corrupt_chunk_stops_reductions_running_together_naming_it() {
    let (_, x) = field();
    let dir = tempfile::tempdir().unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[100, 60], &[10, 20]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(1));
    let path = dir.path().join("x.zarr");
    let store = ZarrStore::create(&path, "/", &spec).unwrap();
    Array::from_ndarray(x, [10, 20])
        .unwrap()
        .store(&store)
        .unwrap();
    std::fs::write(path.join("c/3/1"), b"not zstd").unwrap();
    let a = Array::<f64>::from_store(Arc::new(ZarrStore::open_dir(&path).unwrap())).unwrap();
    let outputs = [&a.sum([1], false), &a.mean([0, 1], false)];
    let e = compute_many(&outputs, &options(2)).unwrap_err().to_string();
    assert!(e.contains("chunk [3, 1] is corrupt"), "{e}");
}

#[test]
fn reductions_running_together_within_a_small_budget_give_the_same_values() {
    let (store, x) = field();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let across = a.sum([1], true);
    let top = a.max([0, 1], true);
    // Later stages read both: they are kept (or spilled) meanwhile.
    let anomaly = (&a - &across) / &top;
    let want = (&x - &x.sum_axis(Axis(1)).insert_axis(Axis(1)))
        / x.iter().copied().fold(f64::MIN, f64::max);
    for max_mem in [64 << 10, 256 << 20] {
        let options = ComputeOptions::new()
            .threads(2)
            .max_mem(max_mem)
            .progress(false);
        let (values, report) = compute_many(&[&anomaly, &across], &options).unwrap();
        close(&values[0], &want);
        assert!(report.peak_bytes <= max_mem, "{report:?}");
    }
}
