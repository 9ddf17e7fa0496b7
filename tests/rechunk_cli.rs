//! `chunkctl rechunk` end to end on real stores on disk: values, metadata,
//! formats, sharding, the intermediate path, an interrupted and resumed run,
//! and every refusal.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ndchunk::io::zarr::{create_group, ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Region, Scalar, ZarrStore};
use serde_json::Value;

fn chunkctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(args)
        .output()
        .expect("chunkctl runs")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A source array whose element `i` (C order) is a function of `i`.
fn make_source(
    dir: &Path,
    dtype: DType,
    shape: &[u64],
    chunks: &[u64],
    format: ZarrFormat,
    codec: &str,
) -> PathBuf {
    let path = dir.join(format!("src-{}-{format:?}.zarr", dtype.name()));
    let grid = ChunkGrid::regular(shape, chunks).unwrap();
    let fill = if matches!(dtype, DType::Float32 | DType::Float64) {
        Scalar::Float(f64::NAN)
    } else {
        Scalar::Int(0)
    };
    let mut meta = ArrayMeta::new(grid.clone(), dtype, fill);
    meta.dimension_names = Some(
        (0..shape.len())
            .map(|i| Some(["time", "lat", "lon"][i].to_string()))
            .collect(),
    );
    meta.attributes.insert("units".into(), "K".into());
    let store = ZarrStore::create(
        &path,
        "/",
        &ZarrArraySpec::new(meta, format, codec.parse::<ZarrCodec>().unwrap()),
    )
    .unwrap();
    let itemsize = dtype.size();
    for chunk in grid.all_blocks().iter() {
        let region = grid.block_region(&chunk).unwrap();
        let mut bytes = Vec::with_capacity(region.num_elements() as usize * itemsize);
        for_each_point(&region, |p| {
            let i = p.iter().zip(shape).fold(0u64, |acc, (x, n)| acc * n + x);
            let v = i.wrapping_mul(2_654_435_761) >> 7;
            bytes.extend_from_slice(&v.to_le_bytes()[..itemsize]);
            if dtype == DType::Bool {
                *bytes.last_mut().unwrap() &= 1;
            }
            if dtype == DType::Float32 {
                let n = bytes.len();
                bytes[n - 4..].copy_from_slice(&(i as f32 * 0.5).to_ne_bytes());
            }
            if dtype == DType::Float64 {
                let n = bytes.len();
                bytes[n - 8..].copy_from_slice(&(i as f64 * 0.25).to_ne_bytes());
            }
        });
        store.write_chunk_bytes(&chunk, &bytes).unwrap();
    }
    path
}

fn for_each_point(region: &Region, mut f: impl FnMut(&[u64])) {
    if region.is_empty() {
        return;
    }
    let mut p = region.start().to_vec();
    loop {
        f(&p);
        let mut axis = p.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            p[axis] += 1;
            if p[axis] < region.stop()[axis] {
                break;
            }
            p[axis] = region.start()[axis];
        }
    }
}

fn assert_same_values(src: &Path, dst: &Path) {
    let a = ZarrStore::open_dir(src).unwrap();
    let b = ZarrStore::open_dir(dst).unwrap();
    let whole = Region::from_shape(&a.meta().shape());
    assert_eq!(
        a.read_region_bytes(&whole).unwrap(),
        b.read_region_bytes(&whole).unwrap(),
        "{}",
        dst.display()
    );
    assert_eq!(a.meta().dtype, b.meta().dtype);
    assert_eq!(a.meta().dimension_names, b.meta().dimension_names);
    assert_eq!(a.meta().attributes, b.meta().attributes);
    assert_eq!(a.meta().fill_value, b.meta().fill_value);
}

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
    assert!(report["report"]["budget_peak_bytes"].as_u64().unwrap() <= 300 * 1024);
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
    err(
        &[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "30,3",
            "--max-mem",
            "100",
        ],
        "too small",
    );
    assert!(!dst.exists(), "nothing written by a refused job");
    // DST exists: refused, then replaced with --overwrite.
    std::fs::create_dir_all(&dst).unwrap();
    std::fs::write(dst.join("precious.txt"), "keep me").unwrap();
    err(
        &["rechunk", s(&src), s(&dst), "--chunks", "30,3", "--quiet"],
        "already exists",
    );
    assert!(dst.join("precious.txt").exists());
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "30,3",
        "--quiet",
        "--overwrite",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_values(&src, &dst);
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

/// A job slow enough to interrupt: `(times, 64, 64)` float64 in gzip-9
/// chunks of one time step, to time series of 8x8, one thread, 8 MiB.
/// Returns the source, the destination and the `chunkctl` arguments.
fn slow_job(dir: &Path, times: u64, dst: &str) -> (PathBuf, PathBuf, Vec<String>) {
    let src = make_source(
        dir,
        DType::Float64,
        &[times, 64, 64],
        &[1, 64, 64],
        ZarrFormat::V3,
        "gzip:9",
    );
    let dst = dir.join(dst);
    let args = [
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        &format!("{times},8,8"),
        "--max-mem",
        "8MiB",
        "--threads",
        "1",
        "--quiet",
    ]
    .map(String::from)
    .to_vec();
    (src, dst, args)
}

/// Tasks journaled as done anywhere under `dst` (an array's journal, or
/// those of a group's arrays).
fn journaled_tasks(dst: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dst) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                journaled_tasks(&path)
            } else if e.file_name().to_string_lossy().ends_with(".done") {
                std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .lines()
                    .count()
            } else {
                0
            }
        })
        .sum()
}

/// Starts `chunkctl ARGS` and `kill -9`s it once `tasks` tasks are
/// journaled under `dst`: a real interruption, mid-run.
fn kill_once_journaled(args: &[&str], dst: &Path, tasks: usize) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while journaled_tasks(dst) < tasks {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the job finished ({status}) before it could be killed; make it bigger");
        }
        assert!(started.elapsed().as_secs() < 120, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `kill -9` in the middle, then the same command again: it resumes (the
/// tasks done are not redone) and the result is exact.
#[test]
fn killed_run_resumes_and_ends_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, args) = slow_job(dir.path(), 400, "resumed.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_once_journaled(&args, &dst, 3);
    assert!(
        ZarrStore::open_dir(&dst).is_err(),
        "an interrupted DST must not look finished"
    );
    let out = chunkctl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("resumed as done"), "{text}");
    assert_same_values(&src, &dst);
    // A different job into the same unfinished DST is refused.
    let other = dir.path().join("other.zarr");
    std::fs::create_dir_all(other.join(".ndchunk-rechunk")).unwrap();
    std::fs::write(
        other.join(".ndchunk-rechunk/manifest.json"),
        r#"{"job": {"src": "elsewhere"}}"#,
    )
    .unwrap();
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&other),
        "--chunks",
        "400,8,8",
        "--quiet",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted rechunk of a different job"));
}

/// A dataset xarray wrote (v2 and v3, with coordinates and attributes):
/// after `chunkctl rechunk`, xarray opens the same dataset with new chunks.
#[test]
fn xarray_dataset_group_rechunks_to_the_same_dataset() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let make = r#"
import sys, numpy as np, xarray as xr
for fmt in (2, 3):
    ds = xr.Dataset(
        {
            "t": (("time", "lat", "lon"), np.random.default_rng(1).normal(280, 5, (48, 12, 20)).astype("float32"), {"units": "K"}),
            "land": (("lat", "lon"), (np.arange(240).reshape(12, 20) % 3 == 0)),
        },
        coords={"time": np.arange(48), "lat": np.linspace(-55, 55, 12), "lon": np.linspace(0, 342, 20), "height": 2.0},
        attrs={"title": "sample", "history": "made by the test"},
    )
    ds.to_zarr(f"{sys.argv[1]}/v{fmt}.zarr", zarr_format=fmt, encoding={"t": {"chunks": (1, 12, 20)}})
"#;
    support::run_python(&python, make, &[dir.path()]);
    for fmt in ["v2", "v3"] {
        let src = dir.path().join(format!("{fmt}.zarr"));
        let dst = dir.path().join(format!("{fmt}-rechunked.zarr"));
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "time=-1,lat=4,lon=5",
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!dst.join(".ndchunk-rechunk-group.json").exists());
        let check = r#"
import sys, xarray as xr
a = xr.open_zarr(sys.argv[1])
b = xr.open_zarr(sys.argv[2])
assert a.identical(b), (a, b)
assert b["t"].encoding["chunks"] == (48, 4, 5), b["t"].encoding["chunks"]
assert b["land"].encoding["chunks"] == (4, 5), b["land"].encoding["chunks"]
assert b.attrs["title"] == "sample"
"#;
        support::run_python(&python, check, &[&src, &dst]);
    }
    // --array: one variable with its coordinates is a dataset of its own.
    let src = dir.path().join("v3.zarr");
    let dst = dir.path().join("only-t.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "time=-1,lat=4,lon=5",
        "--array",
        "t",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = r#"
import sys, xarray as xr
a = xr.open_zarr(sys.argv[1])[["t"]]
b = xr.open_zarr(sys.argv[2])
assert sorted(b.variables) == ["height", "lat", "lon", "t", "time"], sorted(b.variables)
assert a.identical(b), (a, b)
"#;
    support::run_python(&python, check, &[&src, &dst]);
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dir.path().join("none.zarr")),
        "--chunks",
        "time=-1",
        "--array",
        "nope",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no array `nope`; it has"));
    // Chunks by position cannot apply to a group's different arrays.
    let out = chunkctl(&[
        "rechunk",
        s(&dir.path().join("v2.zarr")),
        s(&dir.path().join("x.zarr")),
        "--chunks",
        "48,4,5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("give chunks by name"));
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

/// HDF5 / netCDF-4 and netCDF-3 arrays convert to Zarr with new chunks and
/// the same values, dims and attributes.
#[test]
fn netcdf_files_convert_to_zarr() {
    let Some(netcdf) = support::fixture("netcdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (source, chunks) in [
        (
            "A1B_north_america.nc:/air_temperature",
            "time=-1,latitude=10,longitude=10",
        ),
        ("hgt_djf.nc:/z", "65,1,5,5"),
        ("coads_climatology.cdf:/SST", "TIME=-1,COADSY=30,COADSX=30"),
    ] {
        let src = format!("{}/{source}", netcdf.display());
        let dst = dir
            .path()
            .join(format!("{}.zarr", source.replace([':', '/', '.'], "_")));
        let out = chunkctl(&["rechunk", &src, s(&dst), "--chunks", chunks, "--quiet"]);
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let a = ndchunk::io::info::open_array(&src).unwrap();
        let b = ZarrStore::open_dir(&dst).unwrap();
        let whole = Region::from_shape(&a.meta().shape());
        assert_eq!(
            a.read_region_bytes(&whole).unwrap(),
            b.read_region_bytes(&whole).unwrap(),
            "{source}"
        );
        assert_eq!(
            a.meta().dimension_names,
            b.meta().dimension_names,
            "{source}"
        );
        assert_eq!(a.meta().attributes, b.meta().attributes, "{source}");
        assert_eq!(b.format(), ZarrFormat::V3);
    }
}

/// A whole netCDF file (netCDF-4 and netCDF-3, packed ints, CF times,
/// fill values, coordinates) becomes a Zarr group that xarray opens as the
/// same dataset, with the new chunks.
#[test]
fn whole_netcdf_files_convert_to_zarr_groups() {
    let Some(netcdf) = support::fixture("netcdf") else {
        return;
    };
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "A1B_north_america.nc",
            "time=-1,latitude=10,longitude=10",
            "air_temperature",
            vec![240, 10, 10],
        ),
        (
            "air_temperature_small.nc",
            "time=5,lat=-1,lon=-1",
            "air",
            vec![5, 25, 53],
        ),
        (
            "coads_climatology.cdf",
            "TIME=-1,COADSY=30,COADSX=30",
            "SST",
            vec![12, 30, 30],
        ),
        ("hgt_djf.nc", "time=-1,longitude=7", "z", vec![65, 1, 29, 7]),
    ];
    let check = r#"
import sys, json, xarray as xr
# COADS counts hours since year 0, which no calendar decodes: compare raw.
a = xr.open_dataset(sys.argv[1], decode_times=False)
b = xr.open_zarr(sys.argv[2], decode_times=False)
xr.testing.assert_identical(a, b.load())
var, chunks = sys.argv[3], tuple(json.loads(sys.argv[4]))
assert b[var].encoding["chunks"] == chunks, b[var].encoding["chunks"]
"#;
    for (file, spec, var, chunks) in cases {
        let src = netcdf.join(file);
        let dst = dir.path().join(format!("{file}.zarr"));
        // --dry-run: every variable's plan, nothing written.
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            spec,
            "--dry-run",
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plans: Value = serde_json::from_slice(&out.stdout).unwrap();
        let planned = plans["arrays"].as_array().unwrap();
        assert!(planned
            .iter()
            .any(|a| a["path"] == format!("/{var}") && a["plan"]["passes"].is_array()));
        assert!(!dst.exists(), "a dry run writes nothing");
        let out = chunkctl(&["rechunk", s(&src), s(&dst), "--chunks", spec, "--quiet"]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let chunks = serde_json::to_string(&chunks).unwrap();
        support::run_python(
            &python,
            check,
            &[
                src.as_os_str(),
                dst.as_os_str(),
                var.as_ref(),
                chunks.as_ref(),
            ],
        );
    }
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
            String::from_utf8_lossy(&out.stderr).contains("overlaps the source"),
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

/// An interrupted run whose source has changed since is another job: it is
/// refused rather than resumed into a mix of old and new data.
#[test]
fn a_changed_source_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    // A real interruption: start, kill once a task is journaled.
    let (big, dst, args) = slow_job(dir.path(), 300, "out.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_once_journaled(&args, &dst, 1);
    // The source's metadata changes (e.g. it was rewritten).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let meta = big.join("zarr.json");
    std::fs::write(&meta, std::fs::read(&meta).unwrap()).unwrap();
    let out = chunkctl(&args);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("interrupted rechunk of a different job"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A resumed job's stored plan is checked before it runs: a damaged one is
/// refused, not run into wrong data.
#[test]
fn a_damaged_stored_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_src, dst, args) = slow_job(dir.path(), 300, "out.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_once_journaled(&args, &dst, 1);
    let manifest = dst.join(".ndchunk-rechunk/manifest.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let passes = doc["plan"]["passes"].as_array_mut().unwrap();
    // The last pass's blocks no longer cover whole output chunks.
    let last = passes.last_mut().unwrap();
    last["blocks"] = last["input_chunks"].clone();
    std::fs::write(&manifest, doc.to_string()).unwrap();
    let out = chunkctl(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stored plan is damaged"), "{err}");
    assert!(ZarrStore::open_dir(&dst).is_err(), "nothing looks finished");
}

/// A group job killed mid-run resumes: finished arrays are kept, the one
/// interrupted resumes from its journal, and xarray reads the result.
#[test]
fn killed_group_run_resumes_and_ends_exact() {
    let dir = tempfile::tempdir().unwrap();
    let group = dir.path().join("group.zarr");
    create_group(&group, "", ZarrFormat::V3, &serde_json::Map::new()).unwrap();
    let mut arrays = Vec::new();
    // A small first array; a second big enough to be caught mid-run.
    for (name, times) in [("a", 40), ("b", 400)] {
        let array = make_source(
            dir.path(),
            DType::Float64,
            &[times, 64, 64],
            &[1, 64, 64],
            ZarrFormat::V3,
            "gzip:9",
        );
        let at = group.join(name);
        std::fs::rename(&array, &at).unwrap();
        arrays.push(at);
    }
    let dst = dir.path().join("out.zarr");
    let args = [
        "rechunk",
        s(&group),
        s(&dst),
        "--chunks",
        "time=200,lat=8,lon=8",
        "--max-mem",
        "8MiB",
        "--threads",
        "1",
        "--quiet",
    ];
    // Past the first array, into the second.
    kill_once_journaled(&args, &dst.join("b"), 1);
    assert!(
        ZarrStore::open_dir(&dst).is_err() && !dst.join("zarr.json").exists(),
        "an interrupted group must not look finished"
    );
    let out = chunkctl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/a: finished by an earlier run"), "{text}");
    assert!(text.contains("resumed"), "{text}");
    for (name, src) in ["a", "b"].iter().zip(&arrays) {
        assert_same_values(src, &dst.join(name));
    }
    assert!(dst.join("zarr.json").is_file());
    assert!(!dst.join(".ndchunk-rechunk-group.json").exists());
}
