//! `normalize_chunks`, `balance_chunks`, `ChunkSpec::parse` and
//! `parse_bytes`: Dask's own test expectations (from dask/array/tests,
//! beyond the shared fixture) and error cases; properties over random
//! shapes, specs and previous chunkings are in `normalize_props`. The differential test against Dask
//! on random cases is in `normalize_vs_dask`.

use ndchunk_chunking::{
    balance_chunks, normalize_chunks, AxisSpec, ChunkGrid, ChunkSpec, ChunkingError,
    NormalizeOptions, DEFAULT_CHUNK_BYTES,
};

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
