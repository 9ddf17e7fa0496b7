//! Dask's own chunk-normalisation cases from
//! `shared/fixtures/dask/chunking_cases.json` (`normalize_chunks`,
//! `blockdims_from_blockshape`, regular-chunk checks, `rechunk`'s target
//! chunks), with the values Dask 2026.8.0 computed. The rechunk-planning cases
//! of the same file run in `dask_rechunk_cases.rs`.
//!
//! Where ndchunk deliberately differs from Dask, the test says so in its
//! name and explains why, and asserts what ndchunk does instead.

use std::collections::BTreeMap;

use ndchunk_chunking::grid::is_regular_sizes;
use ndchunk_chunking::{
    balance_chunks, normalize_chunks, parse_bytes, AxisSpec, ChunkGrid, ChunkSpec, ChunkingError,
    NormalizeOptions,
};
use serde_json::Value;

#[path = "../../tests/support/mod.rs"]
mod support;

fn cases() -> Option<Vec<Value>> {
    support::dask_cases()
}

/// The cases of one kind; fails when the fixture has fewer than `at_least`,
/// so that a renamed or emptied fixture cannot pass by running nothing.
fn of_kind(cases: &[Value], func: &str, at_least: usize) -> Vec<Value> {
    let found: Vec<Value> = cases
        .iter()
        .filter(|c| c["func"] == func)
        .cloned()
        .collect();
    assert!(
        found.len() >= at_least,
        "fixture changed: expected at least {at_least} `{func}` cases, found {}",
        found.len()
    );
    found
}

/// True when a case has an unknown (NaN, JSON null) axis length or chunk
/// size. A null *chunk spec entry* is Dask's `None`, not an unknown size.
fn has_unknown(input: &Value) -> bool {
    fn any_null(v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::Array(items) => items.iter().any(any_null),
            _ => false,
        }
    }
    let nested = |v: &Value| {
        v.as_array()
            .is_some_and(|a| a.iter().any(|x| x.is_array() && any_null(x)))
    };
    any_null(&input["shape"]) || nested(&input["chunks"]) || nested(&input["previous_chunks"])
}

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|x| {
            x.as_u64()
                .unwrap_or_else(|| panic!("expected a size, got {x}"))
        })
        .collect()
}

fn sizes(v: &Value) -> Vec<Vec<u64>> {
    v.as_array().unwrap().iter().map(u64s).collect()
}

fn itemsize(dtype: &Value) -> u64 {
    match dtype.as_str().unwrap() {
        "uint8" | "int8" | "bool" => 1,
        "uint16" | "int16" | "float16" => 2,
        "uint32" | "int32" | "float32" => 4,
        "uint64" | "int64" | "float64" | "complex64" => 8,
        "complex128" => 16,
        other => panic!("unknown dtype {other}"),
    }
}

/// A byte limit as Dask takes it: an integer or a byte string.
fn limit(v: &Value) -> Option<u64> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(parse_bytes(s).unwrap()),
        other => Some(
            other
                .as_u64()
                .unwrap_or_else(|| panic!("bad limit {other}")),
        ),
    }
}

/// One axis of a Dask chunks value. `none` is what `None` means: the whole
/// axis in `normalize_chunks`, the previous chunks in `rechunk`.
fn axis_spec(v: &Value, none: &AxisSpec) -> AxisSpec {
    match v {
        Value::Null => none.clone(),
        Value::String(s) if s == "auto" => AxisSpec::Auto,
        Value::Number(n) if n.as_i64() == Some(-1) => AxisSpec::Whole,
        Value::Number(n) => {
            AxisSpec::Size(n.as_u64().unwrap_or_else(|| panic!("bad chunk size {n}")))
        }
        Value::Array(_) => AxisSpec::Sizes(u64s(v)),
        other => panic!("unsupported chunk value {other}"),
    }
}

/// A Dask `chunks=` value as a `ChunkSpec`. Dask reads a flat list of
/// numbers on a 1-d shape as that axis' sizes (`(3, 2)` for shape `(5,)`);
/// ndchunk's API makes the caller say `Sizes`, so the conversion does it here.
fn chunk_spec(v: &Value, shape: &[u64], none: &AxisSpec) -> ChunkSpec {
    match v {
        Value::Object(map) => ChunkSpec::ByAxis(
            map.iter()
                .map(|(k, v)| (k.parse::<i64>().unwrap(), axis_spec(v, none)))
                .collect::<BTreeMap<_, _>>(),
        ),
        Value::Array(items)
            if shape.len() == 1 && items.len() > 1 && items.iter().all(|i| !i.is_array()) =>
        {
            ChunkSpec::PerAxis(vec![AxisSpec::Sizes(u64s(v))])
        }
        Value::Array(items) => {
            ChunkSpec::PerAxis(items.iter().map(|i| axis_spec(i, none)).collect())
        }
        scalar => ChunkSpec::All(axis_spec(scalar, none)),
    }
}

/// Dask's `previous_chunks`: a chunk size or explicit sizes per axis.
fn previous_grid(v: &Value, shape: &[u64]) -> ChunkGrid {
    let axes: Vec<Vec<u64>> = v
        .as_array()
        .unwrap()
        .iter()
        .zip(shape)
        .map(|(axis, &len)| match axis {
            Value::Array(_) => u64s(axis),
            n => ChunkGrid::regular(&[len], &[n.as_u64().unwrap()])
                .unwrap()
                .to_sizes()
                .remove(0),
        })
        .collect();
    ChunkGrid::from_sizes(&axes).unwrap()
}

fn describe(case: &Value) -> String {
    format!(
        "case {} ({}): {}",
        case["id"], case["origin"], case["input"]
    )
}

#[test]
fn normalize_chunks_matches_dask() {
    let Some(cases) = cases() else { return };
    let cases = of_kind(&cases, "normalize_chunks", 16);
    for case in &cases {
        let input = &case["input"];
        assert!(
            !has_unknown(input),
            "unexpected unknown sizes in {}",
            describe(case)
        );
        let shape = u64s(&input["shape"]);
        let previous = (!input["previous_chunks"].is_null())
            .then(|| previous_grid(&input["previous_chunks"], &shape));
        let options = NormalizeOptions {
            limit: limit(&input["limit"]),
            itemsize: input.get("dtype").map(itemsize),
            previous: previous.as_ref(),
        };
        let spec = chunk_spec(&input["chunks"], &shape, &AxisSpec::Whole);
        let grid = normalize_chunks(&spec, &shape, &options)
            .unwrap_or_else(|e| panic!("{}: {e}", describe(case)));
        assert_eq!(
            grid.to_sizes(),
            sizes(&case["expected"]),
            "{}",
            describe(case)
        );
        assert_eq!(grid.shape(), shape);
    }
}

#[test]
fn normalize_chunks_errors_match_dask() {
    let Some(cases) = cases() else { return };
    let cases = of_kind(&cases, "normalize_chunks(error)", 2);
    let mut known = 0;
    for case in &cases {
        let input = &case["input"];
        if has_unknown(input) {
            // See `unknown_sizes_deliberately_unsupported`.
            continue;
        }
        known += 1;
        assert!(
            case["expected"].as_str().unwrap().starts_with("ValueError"),
            "{}",
            describe(case)
        );
        let shape = u64s(&input["shape"]);
        let spec = chunk_spec(&input["chunks"], &shape, &AxisSpec::Whole);
        let options = NormalizeOptions {
            limit: limit(&input["limit"]),
            itemsize: input.get("dtype").map(itemsize),
            previous: None,
        };
        let err = normalize_chunks(&spec, &shape, &options).expect_err(&describe(case));
        // The only known-size error case: sizes (10,) on an axis of 11.
        assert_eq!(
            err,
            ChunkingError::ChunksDoNotAddUp {
                axis: 0,
                sum: 10,
                len: 11
            },
            "{}",
            describe(case)
        );
    }
    assert!(known >= 1, "no known-size error case ran");
}

/// Dask allows unknown (NaN) axis lengths and raises a ValueError when
/// `auto` meets one. ndchunk deliberately has no unknown sizes: shapes are
/// `u64`, every array's length is known when it is created (ndchunk reads
/// stores whose metadata gives the shape), so the case cannot be written.
/// What ndchunk does instead: the same spec on any known length works.
#[test]
fn unknown_sizes_deliberately_unsupported() {
    let Some(cases) = cases() else { return };
    let unknown: Vec<Value> = cases
        .iter()
        .filter(|c| {
            matches!(
                c["func"].as_str(),
                Some("normalize_chunks" | "normalize_chunks(error)")
            ) && has_unknown(&c["input"])
        })
        .cloned()
        .collect();
    assert!(
        !unknown.is_empty(),
        "fixture changed: expected a case with an unknown (NaN) size"
    );
    for case in &unknown {
        assert_eq!(
            case["func"],
            "normalize_chunks(error)",
            "{}",
            describe(case)
        );
        assert!(
            case["expected"].as_str().unwrap().contains("auto"),
            "{}",
            describe(case)
        );
        // Same spec, limit and dtype, on a known length.
        let input = &case["input"];
        let options = NormalizeOptions {
            limit: limit(&input["limit"]),
            itemsize: input.get("dtype").map(itemsize),
            previous: None,
        };
        let spec = chunk_spec(&input["chunks"], &[100], &AxisSpec::Whole);
        let grid = normalize_chunks(&spec, &[100], &options).unwrap();
        assert_eq!(grid.to_sizes(), vec![vec![10; 10]], "{}", describe(case));
    }
}

#[test]
fn blockdims_from_blockshape_matches_dask() {
    let Some(cases) = cases() else { return };
    for case in of_kind(&cases, "blockdims_from_blockshape", 1) {
        let shape = u64s(&case["input"]["shape"]);
        let blockshape = u64s(&case["input"]["blockshape"]);
        let expected = sizes(&case["expected"]);
        assert_eq!(
            ChunkGrid::regular(&shape, &blockshape).unwrap().to_sizes(),
            expected,
            "{}",
            describe(&case)
        );
        let spec = ChunkSpec::PerAxis(blockshape.iter().map(|&b| AxisSpec::Size(b)).collect());
        let grid = normalize_chunks(&spec, &shape, &NormalizeOptions::default()).unwrap();
        assert_eq!(grid.to_sizes(), expected, "{}", describe(&case));
    }
}

/// Dask raises a TypeError when `blockdims_from_blockshape` gets `None` for
/// the block shape. ndchunk deliberately has no `None` to pass: the Rust
/// types require a block shape. The nearest input, an empty chunk spec for a
/// non-empty array, is an error that says how many axes were expected.
#[test]
fn missing_blockshape_deliberately_unrepresentable() {
    let Some(cases) = cases() else { return };
    for case in of_kind(&cases, "blockdims_from_blockshape(error)", 1) {
        assert!(case["input"]["blockshape"].is_null(), "{}", describe(&case));
        assert_eq!(case["expected"], "TypeError", "{}", describe(&case));
        let shape = u64s(&case["input"]["shape"]);
        let err = normalize_chunks(
            &ChunkSpec::PerAxis(vec![]),
            &shape,
            &NormalizeOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ChunkingError::NdimMismatch {
                what: "chunk spec",
                expected: shape.len(),
                got: 0
            }
        );
    }
}

#[test]
fn regular_chunks_check_matches_dask() {
    let Some(cases) = cases() else { return };
    for case in of_kind(
        &cases,
        "is_regular_chunks (all equal except smaller last)",
        4,
    ) {
        let chunks = sizes(&case["input"]["chunks"]);
        let regular = chunks.iter().all(|axis| is_regular_sizes(axis));
        assert_eq!(
            Value::Bool(regular),
            case["expected"],
            "{}",
            describe(&case)
        );
    }
}

/// Dask's `rechunk` target chunks: the input array's chunks are the previous
/// chunks (and fill axes a dict or `None` leaves out), the limit is
/// `block_size_limit` or the `array.chunk-size` setting, the itemsize the
/// array's dtype (`da.ones`' float64 unless given).
fn rechunk_target(case: &Value) -> ChunkGrid {
    let input = &case["input"];
    let shape = u64s(&input["shape"]);
    let old_spec = chunk_spec(&input["chunks"], &shape, &AxisSpec::Whole);
    let old = normalize_chunks(&old_spec, &shape, &NormalizeOptions::default()).unwrap();
    if !shape.is_empty() && shape.iter().all(|&s| s == 0) {
        // Dask's rechunk returns an all-empty array untouched.
        return old;
    }
    let new_spec = chunk_spec(&input["new"], &shape, &AxisSpec::Keep);
    let limit = limit(&input["block_size_limit"]).or_else(|| limit(&input["chunk_size"]));
    let options = NormalizeOptions {
        limit,
        itemsize: Some(input.get("dtype").map_or(8, itemsize)),
        previous: Some(&old),
    };
    normalize_chunks(&new_spec, &shape, &options)
        .unwrap_or_else(|e| panic!("{}: {e}", describe(case)))
}

#[test]
fn rechunk_chunks_match_dask() {
    let Some(cases) = cases() else { return };
    for case in of_kind(&cases, "rechunk", 12) {
        assert!(!has_unknown(&case["input"]), "{}", describe(&case));
        let grid = rechunk_target(&case);
        assert_eq!(
            grid.to_sizes(),
            sizes(&case["expected"]),
            "{}",
            describe(&case)
        );
    }
}

#[test]
fn balanced_rechunk_chunks_match_dask() {
    let Some(cases) = cases() else { return };
    for case in of_kind(&cases, "rechunk(balance=True)", 1) {
        assert_eq!(case["input"]["balance"], true);
        let grid = rechunk_target(&case);
        let balanced: Vec<Vec<u64>> = grid
            .to_sizes()
            .iter()
            .map(|axis| balance_chunks(axis))
            .collect();
        assert_eq!(balanced, sizes(&case["expected"]), "{}", describe(&case));
    }
}
