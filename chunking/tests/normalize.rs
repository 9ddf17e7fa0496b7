//! `normalize_chunks`, `balance_chunks`, `ChunkSpec::parse` and
//! `parse_bytes`: Dask's own test expectations (from dask/array/tests,
//! beyond the shared fixture), properties over random shapes, specs and
//! previous chunkings, error cases, and — when `NDCHUNK_PYTHON` names a
//! Python with Dask — a differential test against Dask on random cases.

use std::collections::BTreeMap;
use std::process::Command;

use ndchunk_chunking::grid::is_regular_sizes;
use ndchunk_chunking::{
    balance_chunks, normalize_chunks, parse_bytes, AxisSpec, ChunkGrid, ChunkSpec, ChunkingError,
    NormalizeOptions, DEFAULT_CHUNK_BYTES,
};
use proptest::prelude::*;
use serde_json::Value;

#[path = "../../tests/support/mod.rs"]
mod support;

use AxisSpec::{Auto, Keep, Size, Sizes, Whole};

fn options(
    limit: Option<u64>,
    itemsize: u64,
    previous: Option<&ChunkGrid>,
) -> NormalizeOptions<'_> {
    NormalizeOptions {
        limit,
        itemsize: Some(itemsize),
        previous,
    }
}

/// Dask's `normalize_chunks(spec, shape, limit=limit, dtype=…)`.
fn normalize(spec: &ChunkSpec, shape: &[u64], limit: u64, itemsize: u64) -> Vec<Vec<u64>> {
    normalize_chunks(spec, shape, &options(Some(limit), itemsize, None))
        .unwrap()
        .to_sizes()
}

/// Dask's `x.rechunk(spec, block_size_limit=limit)` target chunks, `x`
/// chunked as `previous`.
fn rechunk(spec: &ChunkSpec, previous: &[Vec<u64>], limit: u64, itemsize: u64) -> Vec<Vec<u64>> {
    let previous = ChunkGrid::from_sizes(previous).unwrap();
    normalize_chunks(
        spec,
        &previous.shape(),
        &options(Some(limit), itemsize, Some(&previous)),
    )
    .unwrap()
    .to_sizes()
}

fn all_auto() -> ChunkSpec {
    ChunkSpec::All(Auto)
}

fn by_axis(entries: &[(i64, AxisSpec)]) -> ChunkSpec {
    ChunkSpec::ByAxis(entries.iter().cloned().collect())
}

fn repeat(size: u64, times: usize) -> Vec<u64> {
    vec![size; times]
}

fn cat(parts: &[&[u64]]) -> Vec<u64> {
    parts.concat()
}

// ---------------------------------------------------------------------------
// Dask's own expectations (dask/array/tests/test_array_core.py, test_rechunk.py)
// ---------------------------------------------------------------------------

#[test]
fn dask_normalize_chunks_auto_1d() {
    for (len, limit, expected) in [
        (100, 10, repeat(10, 10)),
        (20, 10, vec![10, 10]),
        (20, 5, vec![5, 5, 5, 5]),
        (24, 5, vec![5, 5, 5, 5, 4]),
        (23, 5, vec![5, 5, 5, 5, 3]),
        (1000, 167, cat(&[&repeat(167, 5), &[165]])),
    ] {
        assert_eq!(
            normalize(&all_auto(), &[len], limit, 1),
            vec![expected],
            "{len} {limit}"
        );
    }
}

#[test]
fn dask_normalize_chunks_auto_2d_and_3d() {
    let spec = ChunkSpec::PerAxis(vec![Auto, Sizes(vec![2, 2, 2, 2, 2, 5, 5])]);
    assert_eq!(
        normalize(&spec, &[20, 20], 20, 1),
        vec![repeat(4, 5), vec![2, 2, 2, 2, 2, 5, 5]]
    );
    let spec = ChunkSpec::PerAxis(vec![Auto, Auto, Size(2)]);
    assert_eq!(
        normalize(&spec, &[20, 20, 20], 200, 1),
        vec![vec![10, 10], vec![10, 10], repeat(2, 10)]
    );
}

#[test]
fn dask_normalize_chunks_docstring() {
    let none = NormalizeOptions::default();
    let grid = normalize_chunks(&ChunkSpec::All(Size(10)), &[30, 5], &none).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![10, 10, 10], vec![5]]);
    let grid = normalize_chunks(&by_axis(&[(0, Size(2)), (1, Size(3))]), &[6, 6], &none).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![2, 2, 2], vec![3, 3]]);
    let grid =
        normalize_chunks(&ChunkSpec::PerAxis(vec![Size(5), Whole]), &[10, 10], &none).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![5, 5], vec![10]]);
    // normalize_chunks("auto", (2, 3), dtype=np.int32) == ((2,), (3,))
    let grid = normalize_chunks(&all_auto(), &[2, 3], &options(None, 4, None)).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![2], vec![3]]);
    // normalize_chunks((), ()) == ()
    assert_eq!(
        normalize_chunks(&ChunkSpec::PerAxis(vec![]), &[], &none)
            .unwrap()
            .ndim(),
        0
    );
}

#[test]
fn dask_auto_chunks_with_previous() {
    // test_auto_chunks
    let previous = vec![cat(&[&repeat(1264, 6), &[1045]]), vec![1264, 491]];
    let grid = ChunkGrid::from_sizes(&previous).unwrap();
    let got = normalize_chunks(&all_auto(), &grid.shape(), &options(None, 4, Some(&grid))).unwrap();
    assert_eq!(got.to_sizes(), vec![vec![8629], vec![1755]]);
    // test_align_chunks_to_previous_chunks, the cases not in the fixture
    let grid = ChunkGrid::regular(&[2000], &[128]).unwrap();
    let got = normalize_chunks(&all_auto(), &[2000], &options(Some(600), 1, Some(&grid))).unwrap();
    assert_eq!(got.to_sizes(), vec![vec![512, 512, 512, 464]]);
    let previous = vec![vec![36, 12], vec![720], vec![1440]];
    assert_eq!(rechunk(&all_auto(), &previous, 134_217_728, 4), previous);
    // test_single_element_tuple: Dask reads previous_chunks ((1,), (500,))
    // as chunk *sizes* 1 and 500; ndchunk takes that as a regular grid.
    let grid = ChunkGrid::regular(&[500, 500_000], &[1, 500]).unwrap();
    let spec = ChunkSpec::PerAxis(vec![Size(100), Auto]);
    let got = normalize_chunks(&spec, &[500, 500_000], &options(None, 8, Some(&grid))).unwrap();
    assert_eq!(
        got.to_sizes(),
        vec![repeat(100, 5), vec![167_500, 167_500, 165_000]]
    );
}

#[test]
fn dask_normalize_chunks_auto_2d_with_previous() {
    // test_rechunk.py::test_normalize_chunks_auto_2d (int8)
    let spec = by_axis(&[(0, Auto), (1, Auto)]);
    for (previous, limit, expected) in [
        (
            vec![vec![1, 1, 1], repeat(10, 8)],
            160,
            vec![vec![3], vec![50, 30]],
        ),
        (
            vec![vec![2, 2], vec![20]],
            5,
            vec![vec![1, 1, 1, 1], repeat(5, 4)],
        ),
        (
            vec![vec![1, 1], vec![20]],
            5,
            vec![vec![1, 1], repeat(5, 4)],
        ),
    ] {
        assert_eq!(
            rechunk(&spec, &previous, limit, 1),
            expected,
            "{previous:?}"
        );
    }
}

#[test]
fn dask_rechunk_auto_1d() {
    // test_rechunk_auto_1d: float64, block_size_limit = bs * 8
    let spec = by_axis(&[(0, Auto)]);
    for (previous, bs, expected) in [
        (repeat(1, 100), 10, repeat(10, 10)),
        (vec![50, 50], 10, repeat(10, 10)),
        (vec![100], 10, repeat(10, 10)),
        (vec![7, 7, 6], 10, vec![7, 7, 6]),
        (vec![1, 1, 1, 1, 6, 2, 1, 7], 5, vec![5, 5, 5, 5]),
        (repeat(1, 21), 10, vec![10, 10, 1]),
        (repeat(3, 10), 7, repeat(6, 5)),
        (vec![2, 2, 2, 9, 1, 2, 2], 5, repeat(4, 5)),
        (vec![10, 10], 4, repeat(4, 5)),
        (vec![10, 11], 4, vec![4, 4, 4, 4, 4, 1]),
        (vec![1, 18, 1], 5, repeat(5, 4)),
        (vec![10, 18, 10], 5, vec![5, 5, 5, 5, 5, 5, 5, 3]),
    ] {
        assert_eq!(
            rechunk(&spec, std::slice::from_ref(&previous), bs * 8, 8),
            vec![expected],
            "{previous:?}"
        );
    }
}

#[test]
fn dask_rechunk_auto_2d() {
    let twos = vec![repeat(2, 10), repeat(2, 10)];
    let spec = by_axis(&[(0, Whole), (1, Auto)]);
    assert_eq!(
        rechunk(&spec, &twos, 20 * 8, 8),
        vec![vec![20], repeat(1, 20)]
    );
    let spec = ChunkSpec::PerAxis(vec![Whole, Auto]);
    assert_eq!(
        rechunk(&spec, &twos, 80 * 8, 8),
        vec![vec![20], repeat(4, 5)]
    );
    let spec = by_axis(&[(0, Auto)]);
    assert_eq!(
        rechunk(&spec, &twos, 20 * 8, 8),
        vec![vec![10, 10], repeat(2, 10)]
    );
    let previous = vec![repeat(2, 10), vec![2, 2, 2, 2, 2, 5, 5]];
    assert_eq!(
        rechunk(&spec, &previous, 20 * 8, 8),
        vec![repeat(4, 5), vec![2, 2, 2, 2, 2, 5, 5]]
    );
}

#[test]
fn dask_rechunk_auto_image_stack_and_down() {
    let mib = 1 << 20;
    let stack = |n: usize| vec![repeat(1, n), vec![1000], vec![1000]];
    for n in [100, 1000] {
        let y = rechunk(&all_auto(), &stack(n), 10 * mib, 1);
        assert_eq!(y, vec![repeat(10, n / 10), vec![1000], vec![1000]]);
        assert_eq!(rechunk(&all_auto(), &y, 10 * mib, 1), y, "idempotent");
        let z = rechunk(&all_auto(), &stack(n), 7 * mib, 1);
        let expected = if n == 100 {
            cat(&[&repeat(7, 14), &[2]])
        } else {
            cat(&[&repeat(7, 142), &[6]])
        };
        assert_eq!(z, vec![expected, vec![1000], vec![1000]]);
        let z = rechunk(&all_auto(), &stack(n), mib, 8);
        assert_eq!(
            z,
            vec![repeat(1, n), vec![362, 362, 276], vec![362, 362, 276]]
        );
    }
    // test_rechunk_down: shrinking (the aliased `median_chunks` path).
    let y = vec![repeat(10, 10), vec![1000], vec![1000]];
    assert_eq!(
        rechunk(&all_auto(), &y, mib, 1),
        vec![repeat(4, 25), vec![511, 489], vec![511, 489]]
    );
    assert_eq!(
        rechunk(&by_axis(&[(0, Auto)]), &y, mib, 1),
        vec![repeat(1, 100), vec![1000], vec![1000]]
    );
    assert_eq!(
        rechunk(&by_axis(&[(1, Auto)]), &y, mib, 1),
        vec![repeat(10, 10), cat(&[&repeat(104, 9), &[64]]), vec![1000]]
    );
    // test_rechunk_zero: a 1-byte limit gives chunks of one element.
    assert_eq!(
        rechunk(&all_auto(), &[vec![5, 5]], 1, 8),
        vec![repeat(1, 10)]
    );
}

/// When shrinking, Dask's `auto_chunks` writes its results into the
/// `median_chunks` dict itself (`result = median_chunks`). An axis that then
/// grows past its length is made whole *and* stays in that dict, so its
/// length is counted twice in the next multiplier: here axis 1 gets about a
/// tenth of the budget left by axis 0 (10 elements) — 142 rather than ~1421.
/// ndchunk reproduces this, so that chunks match Dask's.
#[test]
fn dask_shrinking_counts_a_whole_axis_twice() {
    let previous = vec![vec![10], vec![1000, 1000, 1900, 1900]];
    for (limit, expected) in [
        (14_211, cat(&[&repeat(142, 40), &[120]])),
        (14_000, cat(&[&repeat(140, 41), &[60]])),
        (13_000, cat(&[&repeat(130, 44), &[80]])),
        (15_000, vec![1000, 1000, 1000, 1000, 1000, 800]),
    ] {
        assert_eq!(
            rechunk(&all_auto(), &previous, limit, 1),
            vec![vec![10], expected],
            "limit {limit}"
        );
    }
    let previous = vec![vec![10], vec![1000, 1000, 1900, 1900], vec![7]];
    assert_eq!(
        rechunk(&all_auto(), &previous, 14_211 * 7, 1),
        vec![vec![10], repeat(20, 290), vec![7]]
    );
}

#[test]
fn dask_rechunk_bad_keys() {
    let ones = vec![repeat(1, 2), repeat(1, 3), repeat(1, 4)];
    assert_eq!(
        rechunk(&by_axis(&[(-1, Size(4))]), &ones, DEFAULT_CHUNK_BYTES, 8),
        vec![vec![1, 1], vec![1, 1, 1], vec![4]]
    );
    // Dask raises for axis 100; so does ndchunk.
    let grid = ChunkGrid::from_sizes(&ones).unwrap();
    let err = normalize_chunks(
        &by_axis(&[(100, Size(4))]),
        &[2, 3, 4],
        &options(None, 8, Some(&grid)),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("axis 100 is out of range"),
        "{err}"
    );
}

#[test]
fn dask_balance() {
    // test_balance_basics, _small, _n_chunks_size, _raises, _basics_2d
    assert_eq!(balance_chunks(&[100, 100, 20]), vec![110, 110]);
    assert_eq!(balance_chunks(&[4, 4, 4, 1]), vec![5, 5, 3]);
    assert_eq!(balance_chunks(&[3, 3, 1]), vec![4, 3]);
    assert_eq!(
        balance_chunks(&cat(&[&repeat(12, 8), &[4]])),
        cat(&[&repeat(13, 7), &[9]])
    );
    let unbalanceable = cat(&[&repeat(9, 11), &[1]]);
    assert_eq!(balance_chunks(&unbalanceable), unbalanceable);
    assert_eq!(balance_chunks(&[100, 100, 10]), vec![105, 105]);
    assert_eq!(balance_chunks(&[210]), vec![210]);
    // test_balance_split_into_n_chunks
    for len in [
        991u64, 997, 1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069,
    ] {
        for n in 1..20 {
            let chunks = ChunkGrid::regular(&[len], &[len / n])
                .unwrap()
                .to_sizes()
                .remove(0);
            assert_eq!(balance_chunks(&chunks).len() as u64, n, "{len} / {n}");
        }
    }
}

/// Dask's `_balance_chunksizes`, literally: try every candidate size.
fn balance_by_search(sizes: &[u64]) -> Vec<u64> {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    } as u64;
    let total: u64 = sizes.iter().sum();
    let eps = median / 2;
    let mut n_chunks = n;
    if (sorted[0] as f64) <= 0.5 * sorted[n - 1] as f64 {
        n_chunks -= 1;
    }
    let mut best: Option<(u64, Vec<u64>)> = None;
    for size in (median - eps)..=(median + eps) {
        if size == 0 {
            continue; // Dask divides by zero here
        }
        let mut candidate = vec![size; (total / size) as usize];
        if !total.is_multiple_of(size) {
            candidate.push(total % size);
        }
        if candidate.len() != n_chunks || candidate.is_empty() {
            continue;
        }
        let spread = candidate.iter().max().unwrap() - candidate.iter().min().unwrap();
        if best.as_ref().is_none_or(|(s, _)| spread < *s) {
            best = Some((spread, candidate));
        }
    }
    best.map_or_else(|| sizes.to_vec(), |(_, c)| c)
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn bad_specs_are_errors_that_name_the_axis() {
    let none = NormalizeOptions::default();
    let err = normalize_chunks(&ChunkSpec::PerAxis(vec![Size(5)]), &[10, 10], &none).unwrap_err();
    assert_eq!(
        err,
        ChunkingError::NdimMismatch {
            what: "chunk spec",
            expected: 2,
            got: 1
        }
    );
    // Dask reads (3, 2) on a 1-d shape as one tuple; ndchunk wants Sizes.
    let err =
        normalize_chunks(&ChunkSpec::PerAxis(vec![Size(3), Size(2)]), &[5], &none).unwrap_err();
    assert!(matches!(
        err,
        ChunkingError::NdimMismatch {
            expected: 1,
            got: 2,
            ..
        }
    ));
    let err = normalize_chunks(
        &ChunkSpec::PerAxis(vec![Whole, Sizes(vec![4, 4])]),
        &[3, 9],
        &none,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ChunkingError::ChunksDoNotAddUp {
            axis: 1,
            sum: 8,
            len: 9
        }
    );
    let err = normalize_chunks(
        &ChunkSpec::PerAxis(vec![Whole, Sizes(vec![])]),
        &[3, 0],
        &none,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("axis 1") && err.to_string().contains("(0,)"),
        "{err}"
    );
    let err =
        normalize_chunks(&ChunkSpec::PerAxis(vec![Whole, Size(0)]), &[3, 4], &none).unwrap_err();
    assert_eq!(err, ChunkingError::ZeroChunk { axis: 1, len: 4 });
    let err =
        normalize_chunks(&ChunkSpec::PerAxis(vec![Size(2), Auto]), &[3, 4], &none).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("axis 1") && text.contains("itemsize"),
        "{text}"
    );
    let zero = NormalizeOptions {
        itemsize: Some(0),
        ..Default::default()
    };
    let err = normalize_chunks(&all_auto(), &[3, 4], &zero).unwrap_err();
    assert!(err.to_string().contains("is 0"), "{err}");
    let err = normalize_chunks(&ChunkSpec::PerAxis(vec![Whole, Keep]), &[3, 4], &none).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("axis 1") && text.contains("previous chunks"),
        "{text}"
    );
    let err = normalize_chunks(&by_axis(&[(2, Size(1))]), &[3, 4], &none).unwrap_err();
    assert!(
        err.to_string()
            .contains("axis 2 is out of range for an array with 2 axes"),
        "{err}"
    );
    let err = normalize_chunks(&by_axis(&[(-3, Size(1))]), &[3, 4], &none).unwrap_err();
    assert!(err.to_string().contains("axis -3 is out of range"), "{err}");
    let err =
        normalize_chunks(&by_axis(&[(-1, Size(1)), (1, Size(2))]), &[3, 4], &none).unwrap_err();
    assert!(err.to_string().contains("axis 1 is given twice"), "{err}");
    let previous = ChunkGrid::regular(&[3, 5], &[1, 1]).unwrap();
    let err =
        normalize_chunks(&all_auto(), &[3, 4], &options(None, 1, Some(&previous))).unwrap_err();
    assert!(matches!(err, ChunkingError::ShapeMismatch { .. }), "{err}");
    let previous = ChunkGrid::regular(&[3], &[1]).unwrap();
    let err =
        normalize_chunks(&all_auto(), &[3, 4], &options(None, 1, Some(&previous))).unwrap_err();
    assert!(
        matches!(
            err,
            ChunkingError::NdimMismatch {
                what: "previous chunks",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn missing_axes_keep_with_previous_and_are_whole_without() {
    let previous = ChunkGrid::regular(&[10, 10], &[3, 4]).unwrap();
    let spec = by_axis(&[(0, Size(5))]);
    let kept = normalize_chunks(&spec, &[10, 10], &options(None, 1, Some(&previous))).unwrap();
    assert_eq!(kept.to_sizes(), vec![vec![5, 5], vec![4, 4, 2]]);
    let whole = normalize_chunks(&spec, &[10, 10], &NormalizeOptions::default()).unwrap();
    assert_eq!(whole.to_sizes(), vec![vec![5, 5], vec![10]]);
}

#[test]
fn zero_length_axes_get_one_empty_chunk() {
    let none = NormalizeOptions::default();
    for spec in [
        ChunkSpec::All(Size(4)),
        ChunkSpec::All(Whole),
        ChunkSpec::PerAxis(vec![]),
    ] {
        assert_eq!(
            normalize_chunks(&spec, &[0, 0], &none).unwrap().to_sizes(),
            vec![vec![0], vec![0]],
            "{spec}"
        );
    }
    let grid = normalize_chunks(&all_auto(), &[0, 10], &options(None, 8, None)).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![0], vec![10]]);
    // Zero-size placeholders are kept (test_rechunk_with_zero_placeholders).
    let spec = ChunkSpec::PerAxis(vec![Sizes(vec![12, 12]), Sizes(vec![24, 0])]);
    assert_eq!(
        normalize_chunks(&spec, &[24, 24], &none)
            .unwrap()
            .to_sizes(),
        vec![vec![12, 12], vec![24, 0]]
    );
}

/// Regular previous chunks are summarised in O(1) (median, mode, greedy
/// merge), so an axis of 2^40 one-element chunks costs nothing; Dask's
/// answer is to merge them into 2^24-element chunks (128 MiB of f64).
#[test]
fn huge_regular_axes_stay_cheap() {
    let len = 1u64 << 40;
    let previous = ChunkGrid::regular(&[len], &[1]).unwrap();
    let grid = normalize_chunks(&all_auto(), &[len], &options(None, 8, Some(&previous))).unwrap();
    assert_eq!(grid.axis(0).regular_chunk(), Some(1 << 24));
    assert_eq!(grid.num_blocks(), 1 << 16);
    let grid = normalize_chunks(&all_auto(), &[len, len], &options(None, 8, None)).unwrap();
    assert_eq!(grid.chunk_shape(), vec![4096, 4096]);
    let grid = normalize_chunks(
        &ChunkSpec::PerAxis(vec![Keep, Size(1)]),
        &[len, len],
        &options(
            None,
            8,
            Some(&ChunkGrid::regular(&[len, len], &[1, 1]).unwrap()),
        ),
    )
    .unwrap();
    assert!(grid.is_regular());
}

/// Dask raises ZeroDivisionError for `auto` next to an explicit chunk size
/// of 0 (an empty array: every block holds nothing). ndchunk deliberately
/// answers instead: whole axes, since any chunking fits the budget.
#[test]
fn auto_beside_an_empty_axis_deliberately_gives_whole_axes() {
    let spec = ChunkSpec::PerAxis(vec![Auto, Size(0)]);
    let grid = normalize_chunks(&spec, &[10, 0], &options(Some(8), 8, None)).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![10], vec![0]]);
    let previous = ChunkGrid::regular(&[10, 0], &[1, 0]).unwrap();
    let spec = ChunkSpec::PerAxis(vec![Auto, Keep]);
    let grid = normalize_chunks(&spec, &[10, 0], &options(Some(8), 8, Some(&previous))).unwrap();
    assert_eq!(grid.to_sizes(), vec![vec![10], vec![0]]);
}

// ---------------------------------------------------------------------------
// The `--chunks` parser
// ---------------------------------------------------------------------------

const DIMS: [&str; 3] = ["time", "lat", "lon"];

fn parse_err(text: &str) -> (String, String) {
    match ChunkSpec::parse(text, &DIMS).unwrap_err() {
        ChunkingError::InvalidChunkSpec { spec, reason } => (spec, reason),
        other => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn chunks_argument_parses() {
    assert_eq!(
        ChunkSpec::parse("time=8760,lat=10,lon=auto", &DIMS).unwrap(),
        by_axis(&[(0, Size(8760)), (1, Size(10)), (2, Auto)])
    );
    assert_eq!(
        ChunkSpec::parse(" lon = -1 ", &DIMS).unwrap(),
        by_axis(&[(2, Whole)])
    );
    assert_eq!(
        ChunkSpec::parse("8760, 10,AUTO", &DIMS).unwrap(),
        ChunkSpec::PerAxis(vec![Size(8760), Size(10), Auto])
    );
    assert_eq!(
        ChunkSpec::parse("-1", &["x"]).unwrap(),
        ChunkSpec::PerAxis(vec![Whole])
    );
}

#[test]
fn chunks_argument_errors_name_the_bad_part() {
    let (spec, reason) = parse_err("time=10,depth=3");
    assert_eq!(spec, "depth=3");
    assert!(
        reason.contains("unknown dimension `depth`") && reason.contains("time, lat, lon"),
        "{reason}"
    );

    let (spec, reason) = parse_err("time=10,time=20");
    assert_eq!(spec, "time=20");
    assert!(
        reason.contains("`time` is given more than once"),
        "{reason}"
    );

    let (spec, reason) = parse_err("time=10,5");
    assert_eq!(spec, "5");
    assert!(reason.contains("cannot be mixed"), "{reason}");

    let (spec, reason) = parse_err("10,10");
    assert_eq!(spec, "10,10");
    assert!(
        reason.contains("2 values given, expected 3") && reason.contains("time, lat, lon"),
        "{reason}"
    );

    let (spec, reason) = parse_err("time=ten");
    assert_eq!(spec, "time=ten");
    assert!(
        reason.contains("`ten` for `time` is not a number"),
        "{reason}"
    );

    let (spec, reason) = parse_err("10,0,auto");
    assert_eq!(spec, "0");
    assert!(reason.contains("chunk size 0 for `lat`"), "{reason}");

    let (spec, reason) = parse_err("10,-5,auto");
    assert_eq!(spec, "-5");
    assert!(
        reason.contains("-5 for `lat` is negative") && reason.contains("-1"),
        "{reason}"
    );

    let (spec, reason) = parse_err("10,1.5,auto");
    assert_eq!(spec, "1.5");
    assert!(reason.contains("not a number"), "{reason}");

    let (_, reason) = parse_err("time=10,,lat=3");
    assert!(reason.contains("entry 2 of 3 is empty"), "{reason}");
    let (_, reason) = parse_err("10,10,");
    assert!(reason.contains("entry 3 of 3 is empty"), "{reason}");
    let (_, reason) = parse_err("");
    assert!(reason.contains("no chunks given"), "{reason}");

    let (spec, reason) = parse_err("time=");
    assert_eq!(spec, "time=");
    assert!(reason.contains("no value for dimension `time`"), "{reason}");

    let (spec, reason) = parse_err("=5");
    assert_eq!(spec, "=5");
    assert!(reason.contains("missing dimension name"), "{reason}");

    let (_, reason) = parse_err("99999999999999999999999,1,1");
    assert!(reason.contains("too large"), "{reason}");
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// Random sizes adding up to `len` (zero-size chunks included).
fn partition(len: u64) -> BoxedStrategy<Vec<u64>> {
    if len == 0 {
        return Just(vec![0]).boxed();
    }
    prop::collection::vec(0..=len, 0..6)
        .prop_map(move |mut cuts| {
            cuts.sort_unstable();
            let mut sizes = Vec::with_capacity(cuts.len() + 1);
            let mut at = 0;
            for cut in cuts.into_iter().chain([len]) {
                sizes.push(cut - at);
                at = cut;
            }
            sizes
        })
        .boxed()
}

/// A previous chunking of one axis: regular or explicit.
fn previous_axis(len: u64) -> BoxedStrategy<Vec<u64>> {
    prop_oneof![
        (1..=len.max(1)).prop_map(move |c| ChunkGrid::regular(&[len], &[c])
            .unwrap()
            .to_sizes()
            .remove(0)),
        partition(len),
    ]
    .boxed()
}

fn axis_spec(len: u64, with_keep: bool) -> BoxedStrategy<AxisSpec> {
    let size = if len == 0 { 0..=3u64 } else { 1..=len * 2 };
    let mut choices = vec![
        (4, Just(Auto).boxed()),
        (1, Just(Whole).boxed()),
        (2, size.prop_map(Size).boxed()),
        (1, partition(len).prop_map(Sizes).boxed()),
    ];
    if with_keep {
        choices.push((1, Just(Keep).boxed()));
    }
    prop::strategy::Union::new_weighted(choices).boxed()
}

fn shape() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        prop_oneof![1 => Just(0u64), 6 => 1..60u64, 2 => 60..5000u64],
        1..4,
    )
}

#[derive(Debug, Clone)]
struct Case {
    shape: Vec<u64>,
    previous: Option<Vec<Vec<u64>>>,
    specs: Vec<AxisSpec>,
    limit: u64,
    itemsize: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (shape(), any::<bool>()).prop_flat_map(|(shape, with_previous)| {
        let previous = if with_previous {
            shape
                .iter()
                .map(|&l| previous_axis(l))
                .collect::<Vec<_>>()
                .prop_map(Some)
                .boxed()
        } else {
            Just(None).boxed()
        };
        let specs: Vec<_> = shape.iter().map(|&l| axis_spec(l, with_previous)).collect();
        (
            Just(shape),
            previous,
            specs,
            prop_oneof![1..100u64, 100..100_000u64, 100_000..1_000_000_000u64],
            prop::sample::select(vec![1u64, 2, 4, 8, 16]),
        )
            .prop_map(|(shape, previous, specs, limit, itemsize)| Case {
                shape,
                previous,
                specs,
                limit,
                itemsize,
            })
    })
}

impl Case {
    fn run(&self) -> ChunkGrid {
        let previous = self
            .previous
            .as_ref()
            .map(|p| ChunkGrid::from_sizes(p).unwrap());
        normalize_chunks(
            &ChunkSpec::PerAxis(self.specs.clone()),
            &self.shape,
            &options(Some(self.limit), self.itemsize, previous.as_ref()),
        )
        .unwrap()
    }
}

/// Dask's `blockdims_from_blockshape` for one axis.
fn blockdims(len: u64, chunk: u64) -> Vec<u64> {
    if len == 0 {
        return vec![0];
    }
    let mut sizes = vec![chunk; (len / chunk) as usize];
    if !len.is_multiple_of(chunk) {
        sizes.push(len % chunk);
    }
    sizes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn result_covers_the_shape_and_honours_fixed_axes(case in case()) {
        let grid = case.run();
        prop_assert_eq!(grid.shape(), case.shape.clone());
        let sizes = grid.to_sizes();
        for (axis, spec) in case.specs.iter().enumerate() {
            let len = case.shape[axis];
            let expected = match spec {
                Whole => Some(vec![len]),
                Size(n) => Some(blockdims(len, *n)),
                Sizes(s) => Some(s.clone()),
                Keep => case.previous.as_ref().map(|p| p[axis].clone()),
                Auto => None,
            };
            if let Some(expected) = expected {
                prop_assert_eq!(&sizes[axis], &expected, "axis {}", axis);
            }
        }
    }

    /// Without previous chunks, `auto` keeps blocks within the limit unless
    /// the fixed axes alone exceed it (then the auto axes get chunks of 1,
    /// as in Dask); and the auto axes are regular.
    #[test]
    fn auto_without_previous_stays_within_the_limit(case in case()) {
        let case = Case { previous: None, specs: case.specs.into_iter().map(|s| if s == Keep { Auto } else { s }).collect(), ..case };
        let grid = case.run();
        let fixed: u128 = case.specs.iter().zip(&case.shape).map(|(s, &len)| match s {
            Auto | Keep => 1,
            Whole => u128::from(len),
            Size(n) => u128::from(*n),
            Sizes(v) => u128::from(*v.iter().max().unwrap()),
        }).product();
        let bytes = u128::from(grid.max_block_elements()) * u128::from(case.itemsize);
        prop_assert!(bytes <= u128::from(case.limit).max(fixed * u128::from(case.itemsize)),
            "{} bytes > limit {} ({:?})", bytes, case.limit, grid.to_sizes());
        for (axis, spec) in case.specs.iter().enumerate() {
            if *spec == Auto {
                prop_assert!(grid.axis(axis).is_regular());
            }
        }
    }

    /// Dask's claim (test_align_chunks_to_previous_chunks): with regular
    /// previous chunks of size c, `auto` keeps every chunk but the last a
    /// multiple of c, or splits below c.
    #[test]
    fn auto_with_regular_previous_aligns_to_it(case in case(), chunk_divisor in 1..8u64) {
        let previous: Vec<Vec<u64>> = case.shape.iter().map(|&len| {
            ChunkGrid::regular(&[len], &[(len / chunk_divisor).max(1)]).unwrap().to_sizes().remove(0)
        }).collect();
        let case = Case { previous: Some(previous.clone()), specs: vec![Auto; case.shape.len()], ..case };
        let grid = case.run();
        for (axis, sizes) in grid.to_sizes().iter().enumerate() {
            let c = previous[axis][0];
            if c == 0 {
                continue;
            }
            let aligned = sizes[..sizes.len() - 1].iter().all(|s| s % c == 0);
            let split = sizes.iter().all(|&s| s <= c);
            prop_assert!(aligned || split, "axis {}: previous chunk {}, got {:?}", axis, c, sizes);
        }
    }

    #[test]
    fn balance_is_dasks_search(sizes in prop::collection::vec(0..300u64, 1..12)) {
        let balanced = balance_chunks(&sizes);
        prop_assert_eq!(&balanced, &balance_by_search(&sizes));
        prop_assert_eq!(balanced.iter().sum::<u64>(), sizes.iter().sum::<u64>());
        if balanced != sizes {
            prop_assert!(is_regular_sizes(&balanced));
        }
    }

    #[test]
    fn parsed_named_entries_round_trip(
        values in prop::collection::vec(prop_oneof![Just(Auto), Just(Whole), (1..u64::MAX).prop_map(Size)], 3),
        keep in prop::collection::vec(any::<bool>(), 3),
    ) {
        let text = |v: &AxisSpec| match v { Size(n) => n.to_string(), other => other.to_string() };
        let entries: Vec<String> = DIMS.iter().zip(&values).zip(&keep)
            .filter(|(_, &k)| k)
            .map(|((d, v), _)| format!("{d}={}", text(v)))
            .collect();
        prop_assume!(!entries.is_empty());
        let expected: BTreeMap<i64, AxisSpec> = values.iter().zip(&keep).enumerate()
            .filter(|(_, (_, &k))| k)
            .map(|(i, (v, _))| (i as i64, v.clone()))
            .collect();
        prop_assert_eq!(ChunkSpec::parse(&entries.join(","), &DIMS).unwrap(), ChunkSpec::ByAxis(expected));
        let positional: Vec<String> = values.iter().map(text).collect();
        prop_assert_eq!(ChunkSpec::parse(&positional.join(","), &DIMS).unwrap(), ChunkSpec::PerAxis(values));
    }

    #[test]
    fn byte_sizes_with_units(n in 0..1_000_000u64, unit in prop::sample::select(vec![
        ("", 1u64), ("B", 1), ("kB", 1_000), ("k", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
        ("KiB", 1 << 10), ("kib", 1 << 10), ("MiB", 1 << 20), ("Mi", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]), space in any::<bool>()) {
        let text = format!("{n}{}{}", if space { " " } else { "" }, unit.0);
        prop_assert_eq!(parse_bytes(&text).unwrap(), n * unit.1);
    }
}

// ---------------------------------------------------------------------------
// Differential test against Dask
// ---------------------------------------------------------------------------

/// Generates random cases (fixed seed) and Dask's answers. Keys of a dict
/// spec are resolved as `rechunk` does (negative keys count from the end;
/// missing axes keep the previous chunks, or are whole without them).
const DASK_CASES: &str = r#"
import itertools, json, random, signal, sys
import numpy as np
from dask.array.core import normalize_chunks

N_CASES = int(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
DTYPES = {1: "u1", 2: "u2", 4: "f4", 8: "f8", 16: "c16"}

def rand_len():
    r = rng.random()
    if r < 0.05: return 0
    if r < 0.15: return 1
    if r < 0.5: return rng.randint(2, 60)
    if r < 0.8: return rng.randint(60, 5000)
    return rng.randint(5000, 3_000_000)

def partition(n):
    if n == 0: return [0]
    k = rng.randint(1, min(n, 12))
    cuts = sorted(rng.sample(range(1, n), k - 1)) if k > 1 else []
    b = [0] + cuts + [n]
    return [b[i + 1] - b[i] for i in range(k)]

def regular(n, c):
    if n == 0: return (0,)
    return (c,) * (n // c) + ((n % c,) if n % c else ())

def two_sizes(n):
    # A common size and a larger one: the median exceeds the mode, which
    # makes shrinking round down and later passes grow again.
    a = rng.randint(1, max(1, n // 8))
    b = rng.randint(a, max(a, n // 3))
    sizes = [a] * rng.randint(1, 4) + [b] * rng.randint(1, 4)
    if sum(sizes) > n: return partition(n)
    return sizes + ([n - sum(sizes)] if n > sum(sizes) else [])

def rand_prev(n):
    if n == 0: return [0], (0,)
    if n <= 5000 and rng.random() < 0.4:
        p = two_sizes(n) if rng.random() < 0.4 else partition(n)
        return p, tuple(p)
    if rng.random() < 0.3:
        c = rng.randint(max(1, n // 5000), n)
    else:
        c = max(1, n // rng.choice([1, 2, 3, 4, 7, 10, 30, 100, 1000]), n // 5000)
    return {"regular": c}, regular(n, c)

def rand_axis(n, has_prev):
    r = rng.random()
    if r < 0.55: return "auto"
    if r < 0.65: return -1
    if r < 0.8: return rng.randint(1, max(1, 2 * n)) if n else rng.randint(0, 5)
    if r < 0.9 and n <= 5000: return partition(n)
    if has_prev: return "keep"
    return "auto"

def to_python(a, prev_axis):
    if a == "keep": return prev_axis
    if isinstance(a, list): return tuple(a)
    return a

def timeout(signum, frame):
    raise TimeoutError()

signal.signal(signal.SIGALRM, timeout)
out = []
for _ in range(N_CASES):
    ndim = rng.randint(1, 4)
    shape = [rand_len() for _ in range(ndim)]
    itemsize = rng.choice([1, 2, 4, 8, 16])
    prev_json = prev_py = None
    if rng.random() < 0.7:
        pairs = [rand_prev(n) for n in shape]
        prev_json = [p[0] for p in pairs]
        prev_py = tuple(p[1] for p in pairs)
    axes = [rand_axis(n, prev_py is not None) for n in shape]
    r = rng.random()
    if r < 0.15:
        spec = {"kind": "all", "value": "auto"}
        chunks = "auto"
    elif r < 0.6:
        spec = {"kind": "tuple", "axes": axes}
        chunks = tuple(to_python(a, prev_py[i] if prev_py else None) for i, a in enumerate(axes))
    else:
        keys = sorted(rng.sample(range(ndim), rng.randint(1, ndim)))
        keyed = {(k - ndim if rng.random() < 0.3 else k): axes[k] for k in keys}
        spec = {"kind": "dict", "map": {str(k): v for k, v in keyed.items()}}
        filled = {k % ndim: v for k, v in keyed.items()}
        chunks = tuple(
            to_python(filled[i], prev_py[i] if prev_py else None) if i in filled
            else (prev_py[i] if prev_py else None)
            for i in range(ndim)
        )
    lr = rng.random()
    if lr < 0.1:
        limit = None
    elif lr < 0.5 and prev_py is not None:
        block = itemsize
        for axis in prev_py: block *= max(axis)
        limit = min(2**62, max(1, int(block * 10 ** rng.uniform(-2.5, 2.5))))
    else:
        limit = int(10 ** rng.uniform(0, 9.5))
    case = {"shape": shape, "itemsize": itemsize, "limit": limit, "previous": prev_json, "spec": spec}
    signal.alarm(10)
    try:
        result = normalize_chunks(chunks, tuple(shape), limit=limit, dtype=np.dtype(DTYPES[itemsize]), previous_chunks=prev_py)
        signal.alarm(0)
        case["expected"] = [[[int(s), len(list(g))] for s, g in itertools.groupby(axis)] for axis in result]
    except Exception as e:
        signal.alarm(0)
        case["error"] = type(e).__name__ + ": " + str(e)[:200]
    out.append(case)
json.dump(out, sys.stdout)
"#;

fn json_axis(v: &Value) -> AxisSpec {
    match v {
        Value::String(s) if s == "auto" => Auto,
        Value::String(s) if s == "keep" => Keep,
        Value::Number(n) if n.as_i64() == Some(-1) => Whole,
        Value::Number(n) => Size(n.as_u64().unwrap()),
        Value::Array(items) => Sizes(items.iter().map(|x| x.as_u64().unwrap()).collect()),
        other => panic!("unexpected axis spec {other}"),
    }
}

fn json_spec(v: &Value) -> ChunkSpec {
    match v["kind"].as_str().unwrap() {
        "all" => ChunkSpec::All(json_axis(&v["value"])),
        "tuple" => ChunkSpec::PerAxis(
            v["axes"]
                .as_array()
                .unwrap()
                .iter()
                .map(json_axis)
                .collect(),
        ),
        "dict" => ChunkSpec::ByAxis(
            v["map"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), json_axis(v)))
                .collect(),
        ),
        other => panic!("unexpected spec kind {other}"),
    }
}

/// Run-length encoding `[[size, count], ...]` of each axis.
fn runs(grid: &ChunkGrid) -> Value {
    Value::Array(
        grid.axes()
            .iter()
            .map(|axis| {
                let mut runs: Vec<(u64, u64)> = Vec::new();
                for size in axis.sizes() {
                    match runs.last_mut() {
                        Some((s, n)) if *s == size => *n += 1,
                        _ => runs.push((size, 1)),
                    }
                }
                serde_json::json!(runs.iter().map(|&(s, n)| [s, n]).collect::<Vec<_>>())
            })
            .collect(),
    )
}

/// 400 cases with a fixed seed; `NDCHUNK_DASK_CASES` and `NDCHUNK_DASK_SEED`
/// explore further.
#[test]
fn auto_matches_dask_on_random_cases() {
    let env_number = |name: &str, default: usize| {
        std::env::var(name).map_or(default, |v| v.parse().expect(name))
    };
    let cases_wanted = env_number("NDCHUNK_DASK_CASES", 400);
    let seed = env_number("NDCHUNK_DASK_SEED", 20_260_801);
    let Some(python) = support::python_peer() else {
        return;
    };
    let output = Command::new(&python)
        .arg("-c")
        .arg(DASK_CASES)
        .arg(cases_wanted.to_string())
        .arg(seed.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "the Dask case generator failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cases: Vec<Value> = serde_json::from_slice(&output.stdout).expect("generator prints JSON");
    assert_eq!(cases.len(), cases_wanted);
    let (mut compared, mut with_previous, mut dask_divided_by_zero) = (0, 0, 0);
    for case in &cases {
        let shape: Vec<u64> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        let previous = case["previous"].as_array().map(|axes| {
            let sizes: Vec<Vec<u64>> = axes
                .iter()
                .zip(&shape)
                .map(|(axis, &len)| match axis.get("regular") {
                    Some(c) => ChunkGrid::regular(&[len], &[c.as_u64().unwrap()])
                        .unwrap()
                        .to_sizes()
                        .remove(0),
                    None => axis
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_u64().unwrap())
                        .collect(),
                })
                .collect();
            ChunkGrid::from_sizes(&sizes).unwrap()
        });
        let spec = json_spec(&case["spec"]);
        let opts = NormalizeOptions {
            limit: case["limit"].as_u64(),
            itemsize: case["itemsize"].as_u64(),
            previous: previous.as_ref(),
        };
        let got = normalize_chunks(&spec, &shape, &opts);
        match case.get("error").and_then(Value::as_str) {
            None => {
                let grid = got
                    .unwrap_or_else(|e| panic!("ndchunk failed where Dask did not: {e}\n{case}"));
                assert_eq!(runs(&grid), case["expected"], "differs from Dask on {case}");
                compared += 1;
                with_previous += usize::from(previous.is_some());
            }
            Some(error) if error.starts_with("ZeroDivisionError") => {
                // Deliberate difference (see
                // auto_beside_an_empty_axis_deliberately_gives_whole_axes):
                // the array is empty, auto axes become whole.
                let grid = got.unwrap_or_else(|e| panic!("expected whole axes, got {e}\n{case}"));
                assert_eq!(grid.shape(), shape);
                let ndim = shape.len() as i64;
                let auto_axes: Vec<usize> = match &spec {
                    ChunkSpec::All(_) => (0..shape.len()).collect(),
                    ChunkSpec::PerAxis(axes) => {
                        (0..axes.len()).filter(|&i| axes[i] == Auto).collect()
                    }
                    ChunkSpec::ByAxis(map) => map
                        .iter()
                        .filter(|(_, v)| **v == Auto)
                        .map(|(&k, _)| ((k + ndim) % ndim) as usize)
                        .collect(),
                };
                for axis in auto_axes {
                    assert_eq!(
                        grid.axis(axis).num_chunks(),
                        1,
                        "auto axis {axis} not whole: {case}"
                    );
                }
                dask_divided_by_zero += 1;
            }
            Some(error) => panic!("Dask raised {error}; unexpected case {case}"),
        }
    }
    eprintln!(
        "compared {compared} random cases with Dask ({with_previous} with previous chunks; {dask_divided_by_zero} where Dask divides by zero)"
    );
    assert!(compared >= cases_wanted * 3 / 4 && with_previous >= cases_wanted / 3);
}
