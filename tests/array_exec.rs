//! The executor: fusion seen in the plan, bit-identical reductions across
//! thread counts, data larger than the budget, refused plans, bad chunks.

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, ChunkStoreExt, DType, MemoryStore, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions, Error};

fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1000.0
        })
        .collect()
}

fn options(threads: usize, max_mem: u64) -> ComputeOptions {
    ComputeOptions::default()
        .max_mem(max_mem)
        .threads(threads)
        .progress(false)
}

#[test]
fn a_chain_of_five_ops_is_one_stage_and_a_reduction_adds_one() {
    let a = Array::<f64>::ones(&[100, 100], [10, 10]).unwrap();
    let chain = ((&a + 1.0) * 2.0 - 3.0).sqrt().abs();
    let plan = chain.plan().unwrap();
    assert_eq!(plan.stages().len(), 1);
    assert_eq!(
        plan.stages()[0].fused(),
        vec![
            "full(1.0)",
            "add(1.0)",
            "mul(2.0)",
            "sub(3.0)",
            "sqrt",
            "abs"
        ]
    );
    assert_eq!(plan.stages()[0].tasks(), 100);
    let text = chain.explain().unwrap();
    assert!(
        text.contains("STAGE 1/1") && text.contains("add(1.0) -> mul(2.0)"),
        "{text}"
    );
    let reduced = (chain.sum([0], false) + 1.0).compute().unwrap();
    assert!(reduced.iter().all(|&v| v == 101.0));
    assert_eq!(
        (chain.sum([0], false) + 1.0).plan().unwrap().stages().len(),
        2
    );
}

#[test]
fn a_million_chunk_graph_is_a_handful_of_nodes() {
    let a = Array::<f64>::ones(&[10_000, 10_000, 100], [10, 10, 100]).unwrap();
    let plan = (a + 1.0).sum([0], false).plan().unwrap();
    assert_eq!(plan.stages().len(), 1);
    assert_eq!(plan.stages()[0].tasks(), 1000 * 125);
}

#[test]
fn float32_sums_are_bit_identical_whatever_the_threads() {
    let shape = [61usize, 47, 33];
    let x = ArrayD::from_shape_vec(IxDyn(&shape), random_f32(61 * 47 * 33, 7)).unwrap();
    let grid = ChunkGrid::from_sizes(&[
        vec![5, 9, 7, 20, 20],
        vec![10; 4].into_iter().chain([7]).collect(),
        vec![11, 11, 11],
    ])
    .unwrap();
    let a = Array::from_ndarray(x.clone(), grid).unwrap();
    for (axes, keepdims) in [
        (vec![0usize], false),
        (vec![0, 2], true),
        (vec![0, 1, 2], false),
    ] {
        let sum = a.sum(&axes, keepdims);
        let mean = a.mean(&axes, keepdims);
        let (one, _) = sum.compute_with(&options(1, 1 << 30)).unwrap();
        for threads in [2, 3, 8] {
            let (many, _) = sum.compute_with(&options(threads, 1 << 30)).unwrap();
            assert!(one
                .iter()
                .zip(many.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits()));
            let (m1, _) = mean.compute_with(&options(1, 1 << 30)).unwrap();
            let (mn, _) = mean.compute_with(&options(threads, 1 << 30)).unwrap();
            assert!(m1
                .iter()
                .zip(mn.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits()));
        }
    }
}

#[test]
fn data_ten_times_the_budget_completes_within_it() {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[1000, 100, 100], &[10, 100, 100]).unwrap(),
        DType::Float32,
        Scalar::Float(0.0),
    );
    let source = Arc::new(MemoryStore::new("big", meta.clone()));
    for chunk in meta.grid.all_blocks().iter() {
        let values = ArrayD::from_elem(IxDyn(&[10, 100, 100]), chunk[0] as f32);
        source.write_chunk(&chunk, values.view()).unwrap();
    }
    let max_mem = 3_500_000;
    assert!(meta.logical_bytes() >= 10 * max_mem);
    let a = Array::<f32>::from_store(source.clone()).unwrap();
    let (mean, report) = a
        .mean([0], false)
        .compute_with(&options(4, max_mem))
        .unwrap();
    assert!(
        report.peak_bytes <= max_mem && report.peak_bytes > 0,
        "{report:?}"
    );
    assert!(mean.iter().all(|&v| v == 49.5), "{}", mean[[0, 0]]);
    // A blockwise result written chunk by chunk, also within the budget.
    let out = MemoryStore::new("out", meta.clone());
    let report = (&a * 2.0 + 1.0)
        .store_with(&out, &options(4, max_mem))
        .unwrap();
    assert!(report.peak_bytes <= max_mem, "{report:?}");
    assert_eq!(out.read_chunk::<f32>(&[7, 0, 0]).unwrap()[[0, 0, 0]], 15.0);
}

#[test]
fn a_task_larger_than_the_budget_is_refused_before_running() {
    let a = Array::<f64>::ones(&[1000, 1000], [1000, 1000]).unwrap();
    match (a + 1.0).compute_with(&options(2, 1 << 20)) {
        Err(Error::TaskTooLarge {
            operation,
            needed,
            limit,
            suggestion,
        }) => {
            assert_eq!(operation, "add(1.0)");
            assert!(needed > limit);
            assert!(suggestion.contains("rechunk"), "{suggestion}");
        }
        other => panic!("expected TaskTooLarge, got {other:?}"),
    }
}

#[test]
fn mismatched_shapes_are_reported_by_the_operation() {
    let a = Array::<f64>::ones(&[4, 4], [2, 2]).unwrap();
    let b = Array::<f64>::ones(&[4, 5], [2, 2]).unwrap();
    let err = (a + b).compute().unwrap_err().to_string();
    assert!(err.starts_with("add:") && err.contains("[4, 5]"), "{err}");
}

#[test]
fn a_corrupt_zarr_chunk_stops_the_run_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[6, 4], &[3, 2]).unwrap(),
        DType::Float32,
        Scalar::Float(0.0),
    );
    let store = ZarrStore::create(
        dir.path(),
        "a",
        &ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3)),
    )
    .unwrap();
    for chunk in store.meta().grid.all_blocks().iter() {
        store
            .write_chunk(&chunk, ArrayD::from_elem(IxDyn(&[3, 2]), 1.0f32).view())
            .unwrap();
    }
    let store: Arc<dyn ChunkStore> = Arc::new(store);
    let a = Array::<f32>::from_store(store.clone()).unwrap();
    assert_eq!(
        a.sum(ndchunk::Axes::All, false).compute().unwrap()[[]],
        24.0
    );
    std::fs::write(dir.path().join("a/c/1/0"), b"not zstd").unwrap();
    match (&a * 2.0).compute() {
        Err(Error::Task { block, source, .. }) => {
            assert_eq!(block, vec![1, 0]);
            assert!(source.to_string().contains("[1, 0]"), "{source}");
        }
        other => panic!("expected a task error, got {other:?}"),
    }
    match a.sum([0], false).compute() {
        Err(Error::Task {
            operation, block, ..
        }) => {
            assert_eq!(operation, "sum");
            assert_eq!(block, vec![1, 0]);
        }
        other => panic!("expected a task error, got {other:?}"),
    }
}

#[test]
fn store_rechunks_to_the_store_grid() {
    let dir = tempfile::tempdir().unwrap();
    let x = ArrayD::from_shape_fn(IxDyn(&[9, 7]), |i| (i[0] * 7 + i[1]) as f64);
    let a = Array::from_ndarray(x.clone(), [4, 3]).unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[9, 7], &[2, 5]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let out = ZarrStore::create(
        dir.path(),
        "b",
        &ZarrArraySpec::new(meta, ZarrFormat::V2, ZarrCodec::None),
    )
    .unwrap();
    a.store(&out).unwrap();
    let back = Array::<f64>::from_store(Arc::new(out))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(back, x);
}

/// A reduction that later stages read is kept in memory, counted in the
/// budget, when it fits beside their tasks, and spilled to disk when it
/// does not: the values are the same and the budget holds either way.
#[test]
fn intermediate_results_too_big_for_the_budget_are_spilled() {
    let shape = [400usize, 400, 8];
    let values = random_f32(shape.iter().product(), 7);
    let data = ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap();
    let a = Array::<f32>::from_ndarray(data, [50, 50, 8]).unwrap();
    // Stage 1: a (400, 400) float32 result (640 kB) read by stage 2.
    let means = a.mean([2], false);
    let result = (&means - means.mean([0, 1], true)).sum([1], false);
    let expected = result.compute_with(&options(2, 1 << 30)).unwrap();
    assert_eq!(
        expected.1.spilled_bytes, 0,
        "a roomy budget keeps it in memory"
    );
    // Fits one task of each stage, not the whole intermediate beside them.
    let tight = 400_000;
    // The plan decides it, and says so.
    let roomy = result.plan_with(&options(2, 1 << 30)).unwrap().to_string();
    assert!(
        roomy.contains("result: kept in memory (625.0 KiB"),
        "{roomy}"
    );
    let plan = result.plan_with(&options(2, tight)).unwrap().to_string();
    assert!(
        plan.contains("result: spilled to disk (625.0 KiB") && plan.contains("freed after stage"),
        "{plan}"
    );
    let (got, report) = result.compute_with(&options(2, tight)).unwrap();
    assert!(report.spilled_bytes >= 400 * 400 * 4, "{report:?}");
    assert!(report.peak_bytes <= tight, "{report:?}");
    assert_eq!(got, expected.0, "spilling changes no bit");
}

/// A kept result is freed once the last stage that reads it has run, so a
/// later result can take its place in the budget instead of spilling.
#[test]
fn kept_results_are_freed_after_their_last_reader() {
    let shape = [400usize, 400, 8];
    let data =
        ArrayD::from_shape_vec(IxDyn(&shape), random_f32(shape.iter().product(), 3)).unwrap();
    let a = Array::<f32>::from_ndarray(data, [50, 50, 8]).unwrap();
    // Two (400, 400) float32 intermediates (640 kB each), read one after
    // the other.
    let first = a.mean([2], false).sum([1], false).sum([0], false);
    let second = a.max([2], false).sum([1], false).sum([0], false);
    let both = &first + &second;
    let plan = both.plan().unwrap();
    let largest = plan
        .stages()
        .iter()
        .map(|s| s.required_bytes())
        .max()
        .unwrap();
    // Room for one intermediate beside any task, not for two.
    let budget = 640_000 + largest + 100_000;
    assert!(2 * 640_000 + largest > budget);
    let (got, report) = both.compute_with(&options(2, budget)).unwrap();
    assert_eq!(report.spilled_bytes, 0, "{report:?}\n{plan}");
    assert!(report.peak_bytes <= budget);
    let (want, _) = both.compute_with(&options(1, 1 << 30)).unwrap();
    assert_eq!(got, want);
}

/// A node read by several elementwise consumers in one stage is computed
/// once per region and kept until its last consumer has read it.
#[test]
fn a_shared_input_is_computed_once_per_region() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let a = Array::<f64>::arange(1000, [64]).unwrap();
    let b = a.map("counted", move |x: f64| {
        counter.fetch_add(1, Ordering::Relaxed);
        x * 0.01
    });
    let diamond = &(&b.sin() * &b.cos()) + &b;
    let got = diamond.compute().unwrap();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1000,
        "b computed once per element"
    );
    let want = ArrayD::from_shape_fn(IxDyn(&[1000]), |i| {
        let x = i[0] as f64 * 0.01;
        x.sin() * x.cos() + x
    });
    assert_eq!(got, want);
    // Through a reduction stage too.
    calls.store(0, Ordering::Relaxed);
    let total = (&b * &b + &b).sum([0], false).compute().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1000);
    let want: f64 = (0..1000).map(|i| i as f64 * 0.01).map(|x| x * x + x).sum();
    assert!((total[[]] - want).abs() < 1e-9 * want);
}

#[test]
fn a_chain_of_diamonds_is_planned_by_its_nodes_not_its_paths() {
    // x = x + x * 0.5, 64 times: 2^64 paths from the root to the source,
    // 129 distinct nodes. The plan prices each node once.
    let mut x = Array::<f64>::ones(&[40, 40], [10, 10]).unwrap();
    for _ in 0..64 {
        x = &x + &(&x * 0.5);
    }
    let plan = x.plan().unwrap();
    assert_eq!(plan.stages().len(), 1);
    let block = 10 * 10 * 8;
    // Each of the chain's 129 nodes held once, plus its kept copy at most.
    assert!(plan.stages()[0].task_bytes() <= 2 * 130 * block);
    let (value, _) = x.compute_with(&options(2, 64 << 20)).unwrap();
    let expected = 1.5f64.powi(64);
    assert!(value
        .iter()
        .all(|&v| (v - expected).abs() <= expected * 1e-12));
}
