//! `Array::rechunk` through the rechunk planner: a rechunk that cuts input
//! chunks is a stage of its own that reads every input chunk once per pass
//! (not once per new block it meets), goes through intermediate stores on
//! disk when the budget is small, and writes straight into a store's chunks;
//! a rechunk that only merges whole chunks stays fused.

#[path = "support/chunkings.rs"]
mod chunkings;
#[path = "support/counting.rs"]
mod counting;
mod support;

use std::sync::{Arc, Mutex};

use chunkings::{grid_for, shape_up_to};
use counting::Counting;
use ndarray::{ArrayD, IxDyn};
use ndchunk::chunking::{ChunkGrid, Region};
use ndchunk::io::hdf5::{Compression, Hdf5Store};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::ZarrStore;
use ndchunk::io::{ArrayMeta, ChunkStoreExt, DType, Scalar};
use ndchunk::StageKind;
use ndchunk::{Array, Chunks, ComputeOptions, Error, Index, ProgressCallback};
use proptest::prelude::*;

fn values(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(
        IxDyn(shape),
        (0..n).map(|i| i as f64 * 0.25 - 7.0).collect(),
    )
    .unwrap()
}

fn options(threads: usize, max_mem: u64) -> ComputeOptions {
    ComputeOptions::default()
        .max_mem(max_mem)
        .threads(threads)
        .progress(false)
}

/// A (240, 180) float64 array in chunks of (240, 1): "daily maps" to be
/// read as "time series" (1, 180).
fn counting_store() -> (Arc<Counting>, ArrayD<f64>) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[240, 180], &[240, 1]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let x = values(&[240, 180]);
    (Counting::holding(meta, x.view()), x)
}

fn rechunk_passes(a: &Array<f64>, options: &ComputeOptions) -> usize {
    let plan = a.plan_with(options).unwrap();
    plan.stages()
        .iter()
        .map(|s| match &s.kind() {
            StageKind::Rechunk { plan, .. } => plan.passes.len(),
            _ => 0,
        })
        .sum()
}

#[test]
fn every_input_chunk_is_read_once_by_a_rechunk() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let b = (&a * 2.0).rechunk([1, 180]) + 1.0;
    let roomy = options(2, 1 << 30);
    assert_eq!(rechunk_passes(&b, &roomy), 1);
    let (got, report) = b.compute_with(&roomy).unwrap();
    assert_eq!(got, x.mapv(|v| v * 2.0 + 1.0));
    let reads = store.take_reads();
    assert_eq!(reads.len(), 180, "every chunk read");
    assert!(
        reads.values().all(|&n| n == 1),
        "a chunk read more than once: {reads:?}"
    );
    assert!(report.peak_bytes <= 1 << 30);
}

/// A slice (or `take`) of a rechunk is the rechunk of the slice: only the
/// chunks under it are read, and the rechunk stage moves only the slice.
#[test]
fn a_slice_of_a_rechunk_reads_only_what_it_selects() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let b = (&a * 2.0).rechunk([1, 180]);
    let part = b.slice(&[Index::from(10..12), Index::from(5..20)]);
    assert_eq!(part.grid().to_sizes(), vec![vec![1, 1], vec![15]]);
    let plan = part.plan().unwrap();
    assert_eq!(plan.stages()[0].grid().shape(), vec![2, 15], "{plan}");
    let expected = x.slice(ndarray::s![10..12, 5..20]).mapv(|v| v * 2.0);
    assert_eq!(part.compute().unwrap(), expected.into_dyn());
    let reads = store.take_reads();
    assert_eq!(
        reads.keys().cloned().collect::<Vec<_>>(),
        (5..20).map(|j| vec![0, j]).collect::<Vec<_>>()
    );
    assert!(reads.values().all(|&n| n == 1), "{reads:?}");
    let picked = b.take(&[7, 3], 0);
    assert_eq!(
        picked.plan().unwrap().stages()[0].grid().shape(),
        vec![2, 180]
    );
    let expected = x.select(ndarray::Axis(0), &[7, 3]).mapv(|v| v * 2.0);
    assert_eq!(picked.compute().unwrap(), expected);
}

/// A slice of elementwise operations over a rechunk is those operations
/// over the rechunk of the slice: the slice reaches the source reads, and
/// a rechunk read twice by the chain stays one rechunk (one stage, each
/// chunk under the slice read once). Other arrays built from the same
/// rechunk are not changed.
#[test]
fn a_slice_of_elementwise_operations_on_a_rechunk_reads_only_what_it_selects() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let b = (&a * 2.0).rechunk([1, 180]);
    let other = Array::from_ndarray(values(&[240, 180]), [60, 60]).unwrap();
    let chain = (&b + 1.0).abs().sqrt() * &b + &other;
    let part = chain.slice(&[Index::from(10..12), Index::from(5..20)]);
    let plan = part.plan().unwrap();
    assert_eq!(
        plan.stages().len(),
        2,
        "one rechunk stage, then the chain: {plan}"
    );
    assert_eq!(plan.stages()[0].grid().shape(), vec![2, 15], "{plan}");
    let y = values(&[240, 180]);
    let want = x.mapv(|v| v * 2.0).mapv(|v| (v + 1.0).abs().sqrt() * v) + &y;
    let expected = want.slice(ndarray::s![10..12, 5..20]).to_owned().into_dyn();
    assert_eq!(part.compute().unwrap(), expected);
    let reads = store.take_reads();
    assert_eq!(
        reads.keys().cloned().collect::<Vec<_>>(),
        (5..20).map(|j| vec![0, j]).collect::<Vec<_>>()
    );
    assert!(reads.values().all(|&n| n == 1), "{reads:?}");
    // The chain itself is unchanged, and a row picked with `take` too.
    assert_eq!(chain.compute().unwrap(), want.clone().into_dyn());
    let row = chain.take(&[7], 0);
    assert_eq!(row.compute().unwrap(), want.select(ndarray::Axis(0), &[7]));
}

#[test]
fn a_small_budget_goes_through_intermediate_stores_on_disk() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store.clone()).unwrap();
    let b = a.rechunk([1, 180]);
    // A source chunk and a target chunk are 1.9 kB and 1.4 kB; the whole
    // array is 346 kB. 40 kB forces intermediates.
    let tight = options(2, 40_000);
    let passes = rechunk_passes(&b, &tight);
    assert!(passes >= 2, "{}", b.plan_with(&tight).unwrap());
    let text = b.plan_with(&tight).unwrap().to_string();
    assert!(text.contains("intermediate 1 (disk)"), "{text}");
    let (got, report) = b.compute_with(&tight).unwrap();
    assert_eq!(got, x);
    assert!(report.peak_bytes <= 40_000, "{report:?}");
    let reads = store.take_reads();
    assert!(reads.values().all(|&n| n == 1), "{reads:?}");
}

/// Intermediates go under `temp_dir` while the run needs them and are
/// removed by its end.
#[test]
fn intermediates_live_in_temp_dir_until_the_run_ends() {
    let (store, x) = counting_store();
    let a = Array::<f64>::from_store(store).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let most_seen = Arc::new(Mutex::new(0usize));
    let (watched, seen) = (dir.path().to_path_buf(), most_seen.clone());
    let options = options(1, 40_000)
        .temp_dir(dir.path().to_path_buf())
        .on_progress(
            ProgressCallback::new(move |_| {
                let n = std::fs::read_dir(&watched).unwrap().count();
                let mut most = seen.lock().unwrap();
                *most = (*most).max(n);
            })
            .with_interval(std::time::Duration::ZERO),
        );
    assert_eq!(a.rechunk([1, 180]).compute_with(&options).unwrap().0, x);
    assert!(
        *most_seen.lock().unwrap() >= 1,
        "nothing was written under temp_dir"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "left behind"
    );
}

#[test]
fn a_merge_stays_fused_and_a_cut_is_its_own_stage() {
    let a = Array::<f64>::from_ndarray(values(&[40, 30]), [4, 3]).unwrap();
    let merged = (&a + 1.0).rechunk([8, 30]) * 2.0;
    let plan = merged.plan().unwrap();
    assert_eq!(plan.stages().len(), 1, "{plan}");
    assert!(plan.stages()[0].fused().contains(&"rechunk".to_string()));
    let cut = (&a + 1.0).rechunk([5, 5]) * 2.0;
    let plan = cut.plan().unwrap();
    assert_eq!(plan.stages().len(), 2, "{plan}");
    assert!(matches!(plan.stages()[0].kind(), StageKind::Rechunk { .. }));
    assert_eq!(plan.stages()[1].fused(), vec!["read rechunk", "mul(2.0)"]);
    assert_eq!(
        cut.compute().unwrap(),
        values(&[40, 30]).mapv(|v| (v + 1.0) * 2.0)
    );
}

#[test]
fn a_rechunk_of_a_rechunk_is_one_rechunk_of_the_original() {
    let a = Array::<f64>::from_ndarray(values(&[40, 30]), [4, 3]).unwrap();
    let twice = (&a + 1.0).rechunk([5, 5]).rechunk([40, 1]);
    let plan = twice.plan().unwrap();
    assert_eq!(plan.stages().len(), 1, "{plan}");
    assert_eq!(
        plan.stages()[0].fused(),
        vec!["from_ndarray", "add(1.0)", "rechunk (1 pass)"]
    );
    assert_eq!(
        twice.compute().unwrap(),
        values(&[40, 30]).mapv(|v| v + 1.0)
    );
    // Back to the original grid: no rechunk left.
    let back = (&a + 1.0).rechunk([5, 5]).rechunk([4, 3]);
    assert_eq!(
        back.plan().unwrap().stages()[0].fused(),
        vec!["from_ndarray", "add(1.0)"]
    );
}

#[test]
fn a_rechunk_read_by_a_reduction_and_by_another_array() {
    let x = values(&[60, 50]);
    let a = Array::<f64>::from_ndarray(x.clone(), [60, 1]).unwrap();
    let b = a.rechunk([7, 50]);
    // Read twice: by the sum, and by the difference with another chunking.
    let other = Array::<f64>::from_ndarray(x.clone(), [13, 17]).unwrap();
    let result = (&b - &other).sum([1], false) + b.sum([1], false);
    let expected = x.sum_axis(ndarray::Axis(1));
    for max_mem in [1 << 30, 60_000] {
        let (got, report) = result.compute_with(&options(2, max_mem)).unwrap();
        assert_eq!(got, expected, "max_mem {max_mem}");
        assert!(report.peak_bytes <= max_mem, "{report:?}");
    }
}

#[test]
fn store_writes_a_rechunk_straight_into_the_store_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let (source, x) = counting_store();
    let a = Array::<f64>::from_store(source).unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[240, 180], &[1, 180]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let out = ZarrStore::create(
        dir.path(),
        "t",
        &ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(1)),
    )
    .unwrap();
    let tight = options(2, 60_000);
    let report = a.store_with(&out, &tight).unwrap();
    assert!(report.peak_bytes <= 60_000, "{report:?}");
    // One stage: the rechunk's last pass writes the store's chunks.
    assert_eq!(report.stages, 1);
    let back = Array::<f64>::from_store(Arc::new(out))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(back, x);
}

/// The same into an HDF5 file (chunked differently from the source), read
/// back by h5py.
#[test]
fn store_rechunks_into_an_hdf5_dataset_h5py_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.h5");
    let x = values(&[240, 180]);
    let a = Array::<f64>::from_ndarray(x.clone(), [240, 1]).unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[240, 180], &[7, 180]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let out = Hdf5Store::create(&file, "t", &meta, Compression::default()).unwrap();
    let report = (&a * 3.0).store_with(&out, &options(2, 100_000)).unwrap();
    assert!(report.peak_bytes <= 100_000, "{report:?}");
    drop(out);
    let back = Array::<f64>::from_store(Arc::new(Hdf5Store::open(&file, "t").unwrap()))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(back, x.mapv(|v| v * 3.0));
    let Some(python) = support::python_peer() else {
        return;
    };
    let script = "import sys, h5py, numpy as np\n\
        d = h5py.File(sys.argv[1])['t']\n\
        x = np.arange(240 * 180).reshape(240, 180) * 0.25 - 7.0\n\
        assert d.chunks == (7, 180), d.chunks\n\
        assert (d[...] == x * 3.0).all()\n\
        print('ok')";
    let out = support::run_python(&python, script, &[&file]);
    assert_eq!(String::from_utf8_lossy(&out).trim(), "ok");
}

/// A corrupt source chunk stops a rechunk with an error naming the pass,
/// the pass's block and (in its source) the chunk.
#[test]
fn a_corrupt_chunk_stops_a_rechunk_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[40, 30], &[40, 1]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    let store = ZarrStore::create(dir.path(), "a", &spec).unwrap();
    store
        .write_region(&Region::from_shape(&[40, 30]), values(&[40, 30]).view())
        .unwrap();
    std::fs::write(dir.path().join("a/c/0/7"), b"not zstd").unwrap();
    let a = Array::<f64>::from_store(Arc::new(store)).unwrap();
    match a.rechunk([1, 30]).compute_with(&options(2, 1 << 30)) {
        Err(Error::Task {
            operation, source, ..
        }) => {
            assert!(operation.starts_with("rechunk (pass 1/"), "{operation}");
            assert!(source.to_string().contains("[0, 7]"), "{source}");
        }
        other => panic!("expected a task error, got {other:?}"),
    }
}

#[test]
fn a_rechunk_that_cannot_fit_the_budget_is_refused_before_running() {
    let a = Array::<f64>::from_ndarray(values(&[100, 100]), [100, 1]).unwrap();
    let err = a
        .rechunk([1, 100])
        .compute_with(&options(1, 1_000))
        .unwrap_err();
    match err {
        Error::TaskTooLarge {
            operation,
            suggestion,
            needed,
            ..
        } => {
            assert_eq!(operation, "rechunk");
            assert!(suggestion.contains("[100, 1]"), "{suggestion}");
            // The budget named is one that works, and within 1% (or 4 KiB)
            // of the smallest that does.
            let (got, report) = a
                .rechunk([1, 100])
                .compute_with(&options(2, needed))
                .unwrap();
            assert_eq!(got, values(&[100, 100]));
            assert!(report.peak_bytes <= needed);
            let less = needed - (needed / 100).max(4 << 10);
            assert!(matches!(
                a.rechunk([1, 100]).compute_with(&options(2, less)),
                Err(Error::TaskTooLarge { .. })
            ));
        }
        other => panic!("expected TaskTooLarge, got {other}"),
    }
}

fn case() -> impl Strategy<Value = (ArrayD<f64>, ChunkGrid, ChunkGrid)> {
    shape_up_to(24).prop_flat_map(|shape| {
        let x = values(&shape);
        (Just(x), grid_for(&shape), grid_for(&shape))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any chunking to any other, with a budget from roomy to barely
    /// enough: the values never change and the budget always holds.
    #[test]
    fn any_rechunk_within_any_budget_keeps_the_values(
        (x, from, to) in case(),
        budget_scale in 0u32..4,
        threads in 1usize..3,
    ) {
        let a = Array::from_ndarray(x.clone(), Chunks::Grid(from.clone())).unwrap();
        let b = (&a + 0.5).rechunk(Chunks::Grid(to.clone())) - 0.5;
        let minimum = ndchunk::chunking::rechunk::minimum_budget(&from, &to, 8);
        let max_mem = (minimum * 4) << (budget_scale * 3);
        match b.compute_with(&options(threads, max_mem)) {
            Ok((got, report)) => {
                prop_assert_eq!(got, x);
                prop_assert!(report.peak_bytes <= max_mem);
            }
            // Only a too-small budget may refuse, and it says so.
            Err(e @ Error::TaskTooLarge { .. }) => prop_assert!(budget_scale == 0, "{e}"),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
