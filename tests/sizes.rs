//! Sizes are checked before anything is allocated, and zero-length
//! dimensions work end to end.
//!
//! - Arrays whose metadata claims astronomical shapes (2^62 elements and
//!   more) are answered by the real `chunkctl` binary (`info`, `plan`,
//!   `rechunk --dry-run`, `rechunk`) with a plan or a clear error that
//!   names the problem: no panic, no abort on a memory allocation.
//! - Arrays with a zero-length axis are rechunked into Zarr arrays that
//!   zarr-python reads back, and the engine's reductions over them give
//!   numpy's answers (numpy itself is the oracle, through the Python peer).

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli::{chunkctl, s};
use ndarray::ArrayD;
use ndchunk::chunking::ChunkGrid;
use ndchunk::Array;
use serde_json::Value;

const HUGE: &str = "4611686018427387904"; // 2^62

/// A Zarr v3 array's metadata written by hand (no chunk files).
fn hand_written(dir: &Path, name: &str, shape: &[&str], chunks: &[&str], dtype: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(
        path.join("zarr.json"),
        format!(
            r#"{{"zarr_format":3,"node_type":"array","shape":[{}],"data_type":"{dtype}",
                "chunk_grid":{{"name":"regular","configuration":{{"chunk_shape":[{}]}}}},
                "chunk_key_encoding":{{"name":"default","configuration":{{"separator":"/"}}}},
                "fill_value":0,"codecs":[{{"name":"bytes","configuration":{{"endian":"little"}}}}],
                "attributes":{{}}}}"#,
            shape.join(","),
            chunks.join(",")
        ),
    )
    .unwrap();
    path
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Neither a panic nor an allocation abort: the process ended by itself.
fn no_crash(out: &Output) {
    let all = text(out);
    assert!(
        out.status
            .code()
            .is_some_and(|c| c == 0 || c == 1 || c == 2),
        "killed or crashed ({:?}): {all}",
        out.status
    );
    for bad in [
        "panicked",
        "memory allocation",
        "overflow at",
        "RUST_BACKTRACE",
    ] {
        assert!(!all.contains(bad), "{bad}: {all}");
    }
}

/// Succeeded, with `needle` in its output.
fn answers(args: &[&str], needle: &str) -> String {
    let out = chunkctl(args);
    no_crash(&out);
    let all = text(&out);
    assert!(out.status.success(), "{args:?} failed: {all}");
    assert!(all.contains(needle), "{args:?}: no {needle:?} in {all}");
    all
}

/// Failed with a one-line error naming the problem (`needle`).
fn refuses(args: &[&str], needle: &str) -> String {
    let out = chunkctl(args);
    no_crash(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} succeeded: {}", text(&out));
    assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: no {needle:?} in {stderr}"
    );
    stderr
}

/// A 2^62-element float32 array in chunks of one: 2^62 chunks, 2^64 bytes.
/// Listed and planned (in closed form, nothing per chunk), but a run is
/// refused: its bytes cannot be counted in 64 bits. The refused run leaves
/// no Zarr array behind.
#[test]
fn a_2_pow_62_shape_is_planned_but_a_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = hand_written(dir.path(), "huge.zarr", &[HUGE], &["1"], "float32");
    let info = answers(&["info", s(&src)], "4611686018427387904 chunks");
    // 2^64 bytes saturate: said as a lower bound, not as a wrong number.
    assert!(info.contains("16384.0 PiB or more"), "{info}");
    let dst = dir.path().join("out.zarr");
    for chunks in ["1000", "7", "auto"] {
        answers(
            &["rechunk", s(&src), s(&dst), "--chunks", chunks, "--dry-run"],
            "projected peak",
        );
    }
    answers(
        &[
            "plan",
            "--shape",
            HUGE,
            "--dims",
            "x",
            "--source-chunks",
            "1",
            "--chunks",
            "1000",
        ],
        "projected peak",
    );
    let err = refuses(
        &["rechunk", s(&src), s(&dst), "--chunks", "1000", "--quiet"],
        "shape [4611686018427387904] in 4-byte elements holds 2^63 bytes (8 EiB) or more",
    );
    assert!(!err.contains("18446744073709551615"), "{err}");
    assert!(!dst.join("zarr.json").exists());
}

/// Element counts past 2^64 (two axes of 2^62, or 2^62 x 16): `info` says
/// the array cannot be opened and why; `rechunk` (dry or not) and `plan`
/// refuse it the same way.
#[test]
fn an_element_count_past_2_pow_64_is_a_clear_error_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    for (name, shape) in [("square.zarr", [HUGE, HUGE]), ("wide.zarr", [HUGE, "16"])] {
        let src = hand_written(dir.path(), name, &shape, &["1", "1"], "float64");
        let needle = format!(
            "the array of shape [{}] has 2^64 elements or more",
            shape.join(", ")
        );
        let out = chunkctl(&["info", s(&src)]);
        no_crash(&out);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(&needle), "{}", text(&out));
        let dst = dir.path().join("out.zarr");
        for dry in [true, false] {
            let mut args = vec!["rechunk", s(&src), s(&dst), "--chunks", "1000,1000"];
            if dry {
                args.push("--dry-run");
            }
            refuses(&args, &needle);
            assert!(!dst.exists(), "a refused open leaves nothing");
        }
        refuses(
            &[
                "plan",
                "--shape",
                &shape.join(","),
                "--dims",
                "x,y",
                "--source-chunks",
                "1,1",
                "--chunks",
                "1000,1000",
            ],
            &needle,
        );
    }
}

/// One chunk of 2^64 bytes or more: refused as such (not as a budget
/// "needing 18446744073709551615 bytes"); an axis of u64::MAX elements in
/// chunks of one is planned without overflowing, and its run refused.
#[test]
fn a_chunk_too_large_to_count_and_a_u64_max_axis() {
    let dir = tempfile::tempdir().unwrap();
    let one = hand_written(dir.path(), "one.zarr", &[HUGE], &[HUGE], "float64");
    answers(&["info", s(&one)], "1 chunks");
    let dst = dir.path().join("out.zarr");
    let needle = "one chunk of shape [4611686018427387904] in 8-byte elements holds 2^63 bytes";
    for dry in [true, false] {
        let mut args = vec!["rechunk", s(&one), s(&dst), "--chunks", "1000"];
        if dry {
            args.push("--dry-run");
        }
        let err = refuses(&args, needle);
        assert!(!err.contains("18446744073709551615 bytes"), "{err}");
    }
    refuses(
        &[
            "plan",
            "--shape",
            HUGE,
            "--dims",
            "x",
            "--source-chunks",
            HUGE,
            "--chunks",
            "1000",
        ],
        "one chunk of shape [4611686018427387904] in 4-byte elements",
    );
    let max = u64::MAX.to_string();
    let widest = hand_written(dir.path(), "widest.zarr", &[&max], &["1"], "uint8");
    answers(&["info", s(&widest)], &format!("{max} chunks"));
    answers(
        &[
            "rechunk",
            s(&widest),
            s(&dst),
            "--chunks",
            "1000",
            "--dry-run",
        ],
        "projected peak",
    );
    let widest64 = hand_written(dir.path(), "widest64.zarr", &[&max], &["1"], "float64");
    answers(
        &[
            "rechunk",
            s(&widest64),
            s(&dst),
            "--chunks",
            "1000",
            "--dry-run",
        ],
        "projected peak",
    );
    refuses(
        &[
            "rechunk",
            s(&widest64),
            s(&dst),
            "--chunks",
            "1000",
            "--quiet",
        ],
        "in 8-byte elements holds 2^63 bytes",
    );
}

/// The library refuses too: opening, planning and computing say what does
/// not fit instead of allocating it.
#[test]
fn the_library_refuses_sizes_it_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let square = hand_written(
        dir.path(),
        "square.zarr",
        &[HUGE, HUGE],
        &["1", "1"],
        "float32",
    );
    let err = ndchunk::io::ZarrStore::open_dir(&square)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(err.contains("has 2^64 elements or more"), "{err}");

    // An engine array of 2^61 x 4 elements, each chunk small: planned,
    // but refused before running.
    let huge = Array::<f32>::zeros(&[1 << 61, 4], [1 << 20, 4]).unwrap();
    if let Err(e) = huge.plan() {
        panic!("{e}");
    }
    let err = huge.compute().unwrap_err().to_string();
    assert!(err.contains("2^63 bytes (8 EiB) or more"), "{err}");

    // 2^40 float64 elements (8 TiB): countable, but no machine running
    // these tests holds it; compute() says so instead of aborting.
    let big = Array::<f64>::zeros(&[1 << 40], [1 << 20]).unwrap();
    assert!(big.plan().is_ok());
    let err = (&big * 2.0).compute().unwrap_err().to_string();
    assert!(
        err.contains("8.0 TiB") || err.contains("8192.0 GiB"),
        "{err}"
    );
    assert!(err.contains("store() it instead"), "{err}");

    // The grid's own checks.
    let grid = ChunkGrid::regular(&[1 << 62, 1 << 62, 0], &[1, 1, 1]).unwrap();
    assert_eq!(grid.num_elements().unwrap(), 0);
    assert!(grid.checked_num_blocks().is_err());
}

#[test]
fn zero_length_arrays_are_rechunked_and_read_back_by_zarr_python() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // (shape, source chunks, format, target chunks, extra flags)
    let cases: [(&str, &str, u8, &str, &[&str]); 6] = [
        ("(0, 10)", "(5, 5)", 3, "5,5", &[]),
        ("(0, 10)", "(5, 5)", 2, "-1,3", &[]),
        ("(5, 0, 3)", "(2, 2, 2)", 3, "1,1,1", &[]),
        ("(5, 0, 3)", "(2, 2, 2)", 2, "3,-1,auto", &[]),
        ("(5, 0, 3)", "(2, 2, 2)", 3, "2,2,2", &["--shards", "4,4,2"]),
        ("(0,)", "(1,)", 3, "7", &["--format", "v2"]),
    ];
    for (i, (shape, chunks, format, target, extra)) in cases.iter().enumerate() {
        let src = dir.path().join(format!("src{i}.zarr"));
        let dst = dir.path().join(format!("dst{i}.zarr"));
        support::run_python(
            &python,
            &format!(
                "import sys, zarr\n\
                 zarr.create_array(sys.argv[1], shape={shape}, chunks={chunks}, dtype='i2',\n\
                 \x20                  zarr_format={format}, fill_value=7)\n"
            ),
            &[&src],
        );
        let mut args = vec!["rechunk", s(&src), s(&dst), "--chunks", target, "--quiet"];
        args.extend(extra.iter());
        let out = chunkctl(&args);
        no_crash(&out);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let read = support::run_python(
            &python,
            "import sys, zarr\n\
             a = zarr.open_array(sys.argv[1])\n\
             v = a[...]\n\
             print(a.shape, v.shape, v.size, v.dtype)\n",
            &[&dst],
        );
        let read = String::from_utf8_lossy(&read).trim().to_string();
        let py_shape = shape.to_string();
        assert_eq!(read, format!("{py_shape} {py_shape} 0 int16"), "{args:?}");
        // The result reads back through ndchunk too, as an empty array.
        let back = ndchunk::io::ZarrStore::open_dir(&dst).unwrap();
        let values = ndchunk::DynArray::from_store(std::sync::Arc::new(back))
            .unwrap()
            .typed::<i16>()
            .unwrap()
            .compute()
            .unwrap();
        assert_eq!(values.len(), 0);
    }
}

/// numpy's answer for `expr` over `np.zeros(shape)`: values and shape, or
/// `"error"` when numpy raises.
fn numpy_answers(python: &Path, shapes: &[Vec<u64>], exprs: &[&str]) -> Value {
    let script = format!(
        "import sys, json, warnings\n\
         import numpy as np\n\
         warnings.simplefilter('ignore')\n\
         out = []\n\
         for shape in {shapes:?}:\n\
         \x20   a = np.zeros(tuple(shape))\n\
         \x20   row = {{}}\n\
         \x20   for ax in list(range(len(shape))) + [None]:\n\
         \x20       for e in {exprs:?}:\n\
         \x20           try:\n\
         \x20               r = np.asarray(eval(e))\n\
         \x20               row[f'{{e}}@{{ax}}'] = {{'shape': list(r.shape),\n\
         \x20                   'values': ['nan' if x != x else float(x) for x in r.ravel().tolist()]}}\n\
         \x20           except Exception:\n\
         \x20               row[f'{{e}}@{{ax}}'] = 'error'\n\
         \x20   out.append(row)\n\
         print(json.dumps(out))\n"
    );
    let no_args: [&str; 0] = [];
    serde_json::from_slice(&support::run_python(python, &script, &no_args)).unwrap()
}

fn as_json<T: Copy + Into<f64>>(r: &ArrayD<T>) -> Value {
    serde_json::json!({
        "shape": r.shape(),
        "values": r.iter().map(|&x| {
            let x: f64 = x.into();
            if x.is_nan() { Value::from("nan") } else { Value::from(x) }
        }).collect::<Vec<_>>(),
    })
}

#[test]
fn reductions_of_zero_length_arrays_give_numpys_answers() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let shapes: Vec<Vec<u64>> = vec![vec![0], vec![0, 4], vec![3, 0], vec![2, 0, 5]];
    let exprs = [
        "a.sum(axis=ax)",
        "a.prod(axis=ax)",
        "a.mean(axis=ax)",
        "a.var(axis=ax)",
        "a.std(axis=ax, ddof=1)",
        "np.nansum(a, axis=ax)",
        "np.nanmean(a, axis=ax)",
        "a.min(axis=ax)",
        "a.max(axis=ax)",
        "np.nanmax(a, axis=ax)",
        "a.any(axis=ax)",
        "a.all(axis=ax)",
        "np.count_nonzero(a, axis=ax)",
    ];
    let expected = numpy_answers(&python, &shapes, &exprs);
    let mut checked = 0;
    for (row, shape) in shapes.iter().enumerate() {
        // Chunks that do not divide the shape, and whole axes.
        for chunks in [
            vec![2; shape.len()],
            shape.iter().map(|&n| n.max(1)).collect(),
        ] {
            let a = Array::<f64>::zeros(shape, chunks.clone()).unwrap();
            let all: Vec<usize> = (0..shape.len()).collect();
            let axes_list: Vec<(String, Vec<usize>)> = (0..shape.len())
                .map(|i| (i.to_string(), vec![i]))
                .chain([("None".to_string(), all)])
                .collect();
            for (name, axes) in &axes_list {
                let ours: Vec<Result<Value, String>> = vec![
                    a.sum(axes, false).compute().map(|r| as_json(&r)),
                    a.prod(axes, false).compute().map(|r| as_json(&r)),
                    a.mean(axes, false).compute().map(|r| as_json(&r)),
                    a.var(axes, false, 0).compute().map(|r| as_json(&r)),
                    a.std(axes, false, 1).compute().map(|r| as_json(&r)),
                    a.nansum(axes, false).compute().map(|r| as_json(&r)),
                    a.nanmean(axes, false).compute().map(|r| as_json(&r)),
                    a.min(axes, false).compute().map(|r| as_json(&r)),
                    a.max(axes, false).compute().map(|r| as_json(&r)),
                    a.nanmax(axes, false).compute().map(|r| as_json(&r)),
                    a.any(axes, false)
                        .compute()
                        .map(|r| as_json(&r.mapv(u8::from))),
                    a.all(axes, false)
                        .compute()
                        .map(|r| as_json(&r.mapv(u8::from))),
                    a.count_nonzero(axes, false)
                        .compute()
                        .map(|r| as_json(&r.mapv(|n| n as f64))),
                ]
                .into_iter()
                .map(|r| r.map_err(|e| e.to_string()))
                .collect();
                for (expr, got) in exprs.iter().zip(ours) {
                    let key = format!("{expr}@{name}");
                    let want = &expected[row][&key];
                    match (want.as_str(), got) {
                        (Some("error"), Err(message)) => {
                            assert!(message.contains("zero-size"), "{key} {shape:?}: {message}");
                        }
                        (Some("error"), Ok(v)) => {
                            panic!("{key} {shape:?} {chunks:?}: numpy raises, we gave {v}")
                        }
                        (_, Err(message)) => {
                            panic!("{key} {shape:?} {chunks:?}: numpy gives {want}, we failed: {message}")
                        }
                        (_, Ok(v)) => assert_eq!(&v, want, "{key} {shape:?} {chunks:?}"),
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 200, "{checked}");
}
