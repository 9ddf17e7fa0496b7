//! Shared by the `chunkctl rechunk` test crates: running the binary, and
//! source arrays whose values are a function of their position.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Region, Scalar, ZarrStore};

/// Runs the `chunkctl` binary of this build with `args`.
pub fn chunkctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(args)
        .output()
        .expect("chunkctl runs")
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A source array whose element `i` (C order) is a function of `i`.
pub fn make_source(
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

pub fn for_each_point(region: &Region, mut f: impl FnMut(&[u64])) {
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

/// The two Zarr arrays hold the same values, dtype, dims, attributes and fill.
pub fn assert_same_values(src: &Path, dst: &Path) {
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

/// A job slow enough to interrupt: `(times, 64, 64)` float64 in gzip-9
/// chunks of one time step, to time series of 8x8, one thread, 8 MiB.
/// Returns the source, the destination and the `chunkctl` arguments.
pub fn slow_job(dir: &Path, times: u64, dst: &str) -> (PathBuf, PathBuf, Vec<String>) {
    let src = slow_source(dir, times);
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
pub fn journaled_tasks(dst: &Path) -> usize {
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
pub fn kill_once_journaled(args: &[&str], dst: &Path, tasks: usize) {
    kill_once_journaled_with(&[], args, dst, tasks)
}

/// [`kill_once_journaled`] with `env` added to chunkctl's environment,
/// counting the tasks journaled under `journal` (DST, or a `--journal`).
pub fn kill_once_journaled_with(
    env: &[(String, String)],
    args: &[&str],
    journal: &Path,
    tasks: usize,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while journaled_tasks(journal) < tasks {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the job finished ({status}) before it could be killed; make it bigger");
        }
        assert!(started.elapsed().as_secs() < 120, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A float64 `(times, 64, 64)` source in chunks of one time step, gzip 9:
/// slow to rechunk into time series, so a run can be caught mid-way.
pub fn slow_source(dir: &Path, times: u64) -> PathBuf {
    make_source(
        dir,
        DType::Float64,
        &[times, 64, 64],
        &[1, 64, 64],
        ZarrFormat::V3,
        "gzip:9",
    )
}

/// A Zarr v3 group `group.zarr` in `dir` (with `attributes`) of two
/// arrays `a` and `b` from [`slow_source`]: a small first one, and a second
/// slow enough for a rechunk of the group to be killed in it.
pub fn two_array_group(
    dir: &Path,
    times: [u64; 2],
    attributes: &serde_json::Map<String, serde_json::Value>,
) -> PathBuf {
    let group = dir.join("group.zarr");
    ndchunk::io::zarr::create_group(&group, "", ZarrFormat::V3, attributes).unwrap();
    for (name, times) in ["a", "b"].into_iter().zip(times) {
        std::fs::rename(slow_source(dir, times), group.join(name)).unwrap();
    }
    group
}

/// Every file under `dir` but a finished rechunk's record, with its
/// bytes, by path: two stores written alike compare equal.
pub fn store_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if !path.ends_with(".ndchunk-rechunk.json") {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path.strip_prefix(dir).unwrap().to_path_buf(), bytes));
            }
        }
    }
    found.sort();
    found
}

/// A rechunk through an intermediate: [`slow_job`]'s at `budget`, done
/// once by `chunkctl rechunk` into `whole.zarr`, and planned into
/// `sharded.zarr` (`--plan-out plan.json`, whose stdout is returned).
/// Returns the source, the plan file, both destinations and that stdout.
pub fn planned_rechunk(
    dir: &Path,
    times: u64,
    budget: &str,
) -> (PathBuf, PathBuf, PathBuf, PathBuf, String) {
    let (src, whole, args) = slow_job(dir, times, "whole.zarr");
    let args: Vec<&str> = args
        .iter()
        .map(|a| if a == "8MiB" { budget } else { a.as_str() })
        .collect();
    assert!(chunkctl(&args).status.success());
    let sharded = dir.join("sharded.zarr");
    let plan = dir.join("plan.json");
    let mut plan_args = args.clone();
    plan_args[2] = s(&sharded);
    plan_args.extend(["--plan-out", s(&plan)]);
    let out = chunkctl(&plan_args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (src, plan, whole, sharded, stdout)
}

/// `kill -9`s `child`, a shard, once its journal `log` holds a finished
/// task; it must still be running then (a real interruption, mid-run).
pub fn kill_once_logged(child: &mut std::process::Child, log: &Path) {
    let started = std::time::Instant::now();
    while std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .count()
        < 1
    {
        assert!(started.elapsed().as_secs() < 120, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the shard finished before it could be killed; make the job bigger"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The engine's resumable store used by the library's kill tests:
/// `src * 2 + 1` of a (200, 64, 64) float64 array in time-step chunks
/// (gzip-9, made once in `dir`), stored into `dir/dst` as (200, 8, 8)
/// chunks in `codec`, within 4 MiB on one thread: a rechunk through an
/// intermediate. The store is created when `create`, else opened. The
/// options carry no journal.
pub fn doubled_store(
    dir: &Path,
    dst: &str,
    codec: ZarrCodec,
    create: bool,
) -> (ndchunk::Array<f64>, ZarrStore, ndchunk::ComputeOptions) {
    let src = dir.join("src-float64-V3.zarr");
    if !src.exists() {
        make_source(
            dir,
            DType::Float64,
            &[200, 64, 64],
            &[1, 64, 64],
            ZarrFormat::V3,
            "gzip:9",
        );
    }
    let source: std::sync::Arc<dyn ChunkStore> =
        std::sync::Arc::new(ZarrStore::open_dir(&src).unwrap());
    let array = ndchunk::Array::<f64>::from_store(source).unwrap() * 2.0 + 1.0;
    let dst = dir.join(dst);
    let grid = ChunkGrid::regular(&[200, 64, 64], &[200, 8, 8]).unwrap();
    let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(0.0));
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, codec);
    let target = if create {
        ZarrStore::create(&dst, "/", &spec).unwrap()
    } else {
        ZarrStore::open_dir(&dst).unwrap()
    };
    let options = ndchunk::ComputeOptions::default()
        .max_mem(4 << 20)
        .threads(1)
        .progress(false);
    (array, target, options)
}
