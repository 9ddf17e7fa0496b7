//! `persist`: a result computed once, kept in memory or spilled to disk
//! within the budget, and read by later computations instead of its
//! inputs; and `compute` not holding the whole output before it has any.

#[path = "support/counting.rs"]
mod counting;

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk::io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Scalar};
use ndchunk::{Array, ComputeOptions};

use counting::Counting;

fn options(max_mem: u64, temp: &std::path::Path) -> ComputeOptions {
    ComputeOptions::default()
        .max_mem(max_mem)
        .threads(2)
        .progress(false)
        .temp_dir(temp.to_path_buf())
}

/// A (200, 300) float64 source in (20, 300) chunks that counts its reads.
fn source() -> (Arc<Counting>, ArrayD<f64>) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[200, 300], &[20, 300]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let x = ArrayD::from_shape_fn(IxDyn(&[200, 300]), |i| (i[0] * 300 + i[1]) as f64 * 0.5);
    (Counting::holding(meta, x.view()), x)
}

#[test]
fn a_persisted_array_is_computed_once_in_memory_or_spilled() {
    let temp = tempfile::tempdir().unwrap();
    for (max_mem, spilled) in [(64 << 20, false), (400_000, true)] {
        let (store, x) = source();
        let a = Array::<f64>::from_store(store.clone() as Arc<dyn ChunkStore>).unwrap();
        let (kept, report) = (a.sqrt() * 3.0)
            .persist_with(&options(max_mem, temp.path()))
            .unwrap();
        assert_eq!(report.spilled_bytes > 0, spilled, "{report:?}");
        let read_once = store.take_reads();
        assert_eq!(read_once.len(), 10);
        assert!(read_once.values().all(|&n| n == 1), "{read_once:?}");
        assert_eq!(kept.grid(), a.grid(), "the chunks stay");
        // Two computations over the persisted array read no source chunk.
        let expected = x.mapv(|v| v.sqrt() * 3.0);
        let opts = options(max_mem, temp.path());
        assert_eq!(kept.compute_with(&opts).unwrap().0, expected);
        assert_eq!(
            (&kept + &kept).compute_with(&opts).unwrap().0,
            &expected + &expected
        );
        assert!(store.take_reads().is_empty());
        let on_disk = || std::fs::read_dir(temp.path()).unwrap().count();
        assert_eq!(on_disk() > 0, spilled);
        drop(kept);
        assert_eq!(on_disk(), 0, "the spill goes with the last array over it");
    }
}

/// `compute` allocates its output when the first block arrives: a run
/// whose first task fails never holds it (here 8 TB, which no machine
/// could allocate).
#[test]
fn a_failing_compute_does_not_allocate_its_output_first() {
    let huge = Array::<f64>::zeros(&[1_000_000, 1_000_000], [100, 100]).unwrap();
    let failing = huge.map_blocks(|_, _| ArrayD::<f64>::zeros(IxDyn(&[1])));
    let options = ComputeOptions::default().threads(1).progress(false);
    let err = failing.compute_with(&options).unwrap_err().to_string();
    assert!(err.contains("the function returned shape"), "{err}");
}
