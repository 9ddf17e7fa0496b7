//! `chunkctl rechunk` of single arrays end to end on real stores on disk:
//! values, metadata, every dtype and format pair, sharding, the
//! intermediate path, `--dry-run`, and every refusal. Groups and files:
//! `rechunk_datasets.rs`; interrupted runs: `rechunk_resume.rs`.

#[path = "support/cli.rs"]
mod cli;
mod support;

use cli::{assert_same_values, chunkctl, make_source, s};
use std::process::Command;

use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::{ChunkStore, DType, ZarrStore};
use serde_json::Value;

#[test]
fn every_dtype_and_format_pair_rechunks_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in DType::ALL {
        for (from, to) in [
            (ZarrFormat::V2, "v2"),
            (ZarrFormat::V3, "v3"),
            (ZarrFormat::V2, "v3"),
        ] {
            // 23 x 17 x 9 in (4, 17, 9): irregular last chunks on both sides.
            let src = make_source(dir.path(), dtype, &[23, 17, 9], &[4, 17, 9], from, "zstd:1");
            let dst = dir
                .path()
                .join(format!("dst-{}-{from:?}-{to}.zarr", dtype.name()));
            let out = chunkctl(&[
                "rechunk",
                s(&src),
                s(&dst),
                "--chunks",
                "time=-1,lat=5,lon=2",
                "--format",
                to,
                "--quiet",
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_same_values(&src, &dst);
            let b = ZarrStore::open_dir(&dst).unwrap();
            assert_eq!(b.meta().grid.chunk_shape(), vec![23, 5, 2]);
            assert_eq!(
                b.format(),
                if to == "v2" {
                    ZarrFormat::V2
                } else {
                    ZarrFormat::V3
                }
            );
            assert!(
                !dst.join(".ndchunk-rechunk").exists(),
                "the work directory is removed"
            );
        }
    }
}

#[test]
fn sharded_output_and_other_codecs() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Float32,
        &[40, 30, 20],
        &[1, 30, 20],
        ZarrFormat::V3,
        "blosc:lz4:5:shuffle",
    );
    let dst = dir.path().join("sharded.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "40,5,5",
        "--shards",
        "40,10,20",
        "--codec",
        "zstd:3",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_values(&src, &dst);
    let b = ZarrStore::open_dir(&dst).unwrap();
    assert_eq!(b.meta().grid.chunk_shape(), vec![40, 10, 20]);
    assert_eq!(b.meta().inner_chunk_shape, Some(vec![40, 5, 5]));
    if let Some(python) = support::python_peer() {
        support::run_python(
            &python,
            "import sys, zarr, numpy as np; a = zarr.open_array(sys.argv[1], mode='r'); b = zarr.open_array(sys.argv[2], mode='r'); assert a.shards is None and b.shards == (40, 10, 20) and b.chunks == (40, 5, 5); np.testing.assert_array_equal(a[...], b[...])",
            &[&src, &dst],
        );
    }
}

/// A budget too small for a direct copy of big slabs sends the job through
/// intermediate stores; the values still come out exact.
#[test]
fn tight_budget_goes_through_intermediates() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Float32,
        &[64, 64, 64],
        &[1, 64, 64],
        ZarrFormat::V2,
        "zstd:1",
    );
    let dst = dir.path().join("staged.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "64,4,4",
        "--max-mem",
        "300KiB",
        "--threads",
        "2",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_ne!(
        report["plan"]["strategy"], "direct",
        "{}",
        report["plan"]["strategy"]
    );
    assert!(report["plan"]["passes"].as_array().unwrap().len() >= 2);
    assert!(report["report"]["peak_bytes"].as_u64().unwrap() <= 300 * 1024);
    assert_same_values(&src, &dst);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Int16,
        &[50, 20],
        &[1, 20],
        ZarrFormat::V2,
        "none",
    );
    let dst = dir.path().join("dry.zarr");
    let out = chunkctl(&["rechunk", s(&src), s(&dst), "--chunks", "50,1", "--dry-run"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("strategy:") && text.contains("projected peak"),
        "{text}"
    );
    assert!(!dst.exists());
}

#[test]
fn refusals_are_clear_and_leave_nothing_that_looks_finished() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::UInt8,
        &[30, 30],
        &[3, 30],
        ZarrFormat::V2,
        "zstd:1",
    );
    let dst = dir.path().join("out.zarr");
    let err = |args: &[&str], expected: &str| {
        let out = chunkctl(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(expected),
            "{args:?}: expected `{expected}` in {text}"
        );
    };
    err(
        &["rechunk", "/no/such/src.zarr", s(&dst), "--chunks", "30,3"],
        "no such file or directory",
    );
    err(
        &["rechunk", s(&src), s(&dst), "--chunks", "depth=3"],
        "unknown dimension `depth`",
    );
    err(&["rechunk", s(&src), s(&dst), "--chunks", "3,3,3"], "3");
    err(
        &[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "30,3",
            "--codec",
            "lzma",
        ],
        "lzma",
    );
    // `rechunk SRC DST --chunks 30,3` and more arguments.
    let base = ["rechunk", s(&src), s(&dst), "--chunks", "30,3"];
    let with = |more: &[&'static str]| [&base[..], more].concat();
    err(&with(&["--max-mem", "100"]), "too small");
    assert!(!dst.exists(), "nothing written by a refused job");
    // The refusal names the smallest budget that works, and it does.
    let out = chunkctl(&with(&["--max-mem", "100"]));
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    let smallest = text
        .split("raise max_mem to ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("no smallest budget in {text}"))
        .replace(' ', "");
    let mut dry_run = base.to_vec();
    dry_run.extend(["--max-mem", &smallest, "--dry-run"]);
    let out = chunkctl(&dry_run);
    assert!(
        out.status.success(),
        "{smallest}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // DST exists: refused, then replaced with --overwrite.
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(dst.join("precious.txt"), "keep me").unwrap();
    err(
        &["rechunk", s(&src), s(&dst), "--chunks", "30,3", "--quiet"],
        "already exists",
    );
    assert!(dst.join("precious.txt").exists());
    // --overwrite replaces only a Zarr store or a folder chunkctl made.
    let overwrite = [
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "30,3",
        "--quiet",
        "--overwrite",
    ];
    err(&overwrite, "is not a Zarr store nor a folder chunkctl made");
    assert_eq!(std::fs::read(dst.join("precious.txt")).unwrap(), b"keep me");
    std::fs::remove_file(dst.join("precious.txt")).unwrap();
    // An empty folder is written into; a Zarr store is replaced.
    for _ in 0..2 {
        let out = chunkctl(&overwrite);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_same_values(&src, &dst);
    }
    // A corrupt source chunk: the error names it, DST is not a finished array.
    let bad_dst = dir.path().join("bad.zarr");
    std::fs::write(src.join("4.0"), b"garbage").unwrap();
    err(
        &[
            "rechunk",
            s(&src),
            s(&bad_dst),
            "--chunks",
            "30,3",
            "--quiet",
        ],
        "chunk [4, 0] is corrupt",
    );
    assert!(
        ZarrStore::open_dir(&bad_dst).is_err(),
        "an unfinished DST must not open as an array"
    );
}

/// A full disk: a clear error naming the file, a failing exit, and a DST
/// that does not look finished. Needs root to mount a tiny tmpfs; skipped
/// (loudly) where mounting is not allowed.
#[test]
fn disk_full_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Float64,
        &[64, 32, 32],
        &[1, 32, 32],
        ZarrFormat::V2,
        "none",
    );
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs"])
        .arg(&small)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        support::skip("disk-full test needs to mount a tmpfs (root)");
        return;
    }
    let dst = small.join("out.zarr");
    let out = chunkctl(&["rechunk", s(&src), s(&dst), "--chunks", "64,4,4", "--quiet"]);
    let _ = Command::new("umount").arg(&small).status();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("No space left on device"), "{err}");
}

/// The destination may not be the source or overlap it, even with
/// --overwrite: replacing it would destroy what is being read.
#[test]
fn destination_overlapping_the_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Int32,
        &[10, 10],
        &[5, 5],
        ZarrFormat::V2,
        "none",
    );
    for dst in [
        src.clone(),
        dir.path().to_path_buf(),
        src.join("inner.zarr"),
    ] {
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "10,1",
            "--overwrite",
            "--quiet",
        ]);
        assert!(!out.status.success(), "{}", dst.display());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("inside the source")
                || String::from_utf8_lossy(&out.stderr).contains("holds the source"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let again = ZarrStore::open_dir(&src).unwrap();
    assert_eq!(
        again.storage_summary().unwrap().0,
        4,
        "the source is intact"
    );
}
