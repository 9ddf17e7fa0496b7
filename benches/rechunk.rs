//! The rechunk users fight most: a year of hourly climate data stored one
//! day per chunk, rechunked to time series, within 1 GiB. In one run, on the
//! same store: the copy floor (decode and re-encode every chunk with zarrs
//! on all cores), `chunkctl rechunk`, Dask (`rechunk().to_zarr()`) and
//! Rechunker (`max_mem="1GB"`), and `zarrs_reencode` where installed, each
//! timed by GNU time (wall, CPU, peak RSS); and the same rechunk through the
//! engine's library API (`Array::from_store(..).store_with(..)`).
//!
//! Run: `cargo bench --bench rechunk`. `NDCHUNK_BENCH_PEERS=0` skips the
//! Python peers; `NDCHUNK_BENCH_TIME=N` sets the number of hours (default 8760).
//!
//! `NDCHUNK_BENCH_BUDGETS=1` measures the memory promise instead: the same
//! `chunkctl rechunk` at budgets from the smallest it accepts to 1 GiB,
//! each row's peak RSS against its `--max-mem` (the README promises at most
//! `--max-mem` + 16 MiB).

#[path = "../src/bin/chunkctl/sample.rs"]
mod sample;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "support/timing.rs"]
mod timing;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use timing::{settle, timed, Row};

use ndchunk::io::zarr::{ZarrArraySpec, ZarrFormat};
use ndchunk::io::{ChunkGrid, ChunkStore, ZarrStore};
use rayon::prelude::*;
use zarrs::array::{Array, ArrayBytes, CodecOptions};
use zarrs::filesystem::FilesystemStore;

/// The first argument that makes this binary run only the engine's row.
const ENGINE_CHILD: &str = "--engine-rechunk-child";

fn main() {
    // The engine row runs in a child process (this binary again), so that
    // GNU time measures its own RSS.
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, src, dst, hours] = args.as_slice() {
        if flag == ENGINE_CHILD {
            engine_rechunk(Path::new(src), Path::new(dst), hours.parse().unwrap());
            return;
        }
    }
    let hours: u64 = std::env::var("NDCHUNK_BENCH_TIME")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8760);
    // Smooth by default, as real temperature is; `NDCHUNK_BENCH_FIELD=noisy`
    // for the noise-like field (compresses worse, copies slower).
    let noisy = std::env::var("NDCHUNK_BENCH_FIELD").as_deref() == Ok("noisy");
    let (field, kind) = if noisy {
        (sample::Field::Noisy, "noisy")
    } else {
        (sample::Field::Smooth, "smooth")
    };
    let shape = [hours, 180, 360];
    let data = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("bench-climate-{kind}-{hours}.zarr"));
    let grid = ChunkGrid::regular(&shape, &[24, 180, 360]).unwrap();
    if !data.join(".zarray").exists() {
        // Zarr v2, which every peer (Rechunker needs zarr 2) reads.
        sample::write_climate(&data, hours, ZarrFormat::V2, field).unwrap();
    }
    let src = ZarrStore::open_dir(&data).unwrap();
    let logical = src.meta().logical_bytes();
    let (_, stored) = src.storage_summary().unwrap();
    println!(
        "source {shape:?} float32 ({kind} field) in (24, 180, 360) chunks, blosc-zstd-3 shuffle, Zarr v2: {:.2} GB logical, {:.2} GB stored",
        logical as f64 / 1e9,
        stored as f64 / 1e9
    );
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if std::env::var("NDCHUNK_BENCH_BUDGETS").as_deref() == Ok("1") {
        budgets(&data, hours, work.path());
        return;
    }
    println!("target chunks ({hours}, 10, 10), max_mem 1 GiB, 2 cores\n");
    let mut rows = Vec::new();

    // The floor: same chunks out, every chunk decoded and encoded once.
    let floor_dst = work.path().join("floor.zarr");
    let spec = ZarrArraySpec::new(src.meta().clone(), ZarrFormat::V2, src.compressor().clone());
    ZarrStore::create(&floor_dst, "/", &spec).unwrap();
    let array_in = Array::open(
        std::sync::Arc::new(FilesystemStore::new(&data).unwrap()),
        "/",
    )
    .unwrap();
    let array_out = Array::open(
        std::sync::Arc::new(FilesystemStore::new(&floor_dst).unwrap()),
        "/",
    )
    .unwrap();
    let options = CodecOptions::default().with_concurrent_target(1);
    let chunks: Vec<Vec<u64>> = grid.all_blocks().iter().collect();
    settle();
    let t = Instant::now();
    chunks.par_iter().for_each(|c| {
        let bytes: ArrayBytes<'static> = array_in.retrieve_chunk_opt(c, &options).unwrap();
        array_out.store_chunk_opt(c, bytes, &options).unwrap();
    });
    rows.push(Row {
        name: "copy floor (zarrs, same chunks, 2 threads)".into(),
        wall: t.elapsed().as_secs_f64(),
        cpu: None,
        rss: None,
        output: String::new(),
    });

    let dst = work.path().join("ndchunk.zarr");
    let chunks_arg = format!("{hours},10,10");
    rows.push(timed(
        "chunkctl rechunk --max-mem 1GiB",
        Command::new(env!("CARGO_BIN_EXE_chunkctl")).args([
            "rechunk",
            path(&data),
            path(&dst),
            "--chunks",
            &chunks_arg,
            "--max-mem",
            "1GiB",
            "--quiet",
        ]),
    ));
    let check = ZarrStore::open_dir(&dst).unwrap();
    assert_eq!(check.meta().grid.chunk_shape(), vec![hours, 10, 10]);

    let engine_dst = work.path().join("engine.zarr");
    rows.push(timed(
        "Array::from_store().store_with(), 1 GiB",
        Command::new(std::env::current_exe().unwrap()).args([
            ENGINE_CHILD,
            path(&data),
            path(&engine_dst),
            &hours.to_string(),
        ]),
    ));
    let check = ZarrStore::open_dir(&engine_dst).unwrap();
    assert_eq!(check.meta().grid.chunk_shape(), vec![hours, 10, 10]);

    if std::env::var("NDCHUNK_BENCH_PEERS").as_deref() != Ok("0") {
        if let Some(python) = support::python_peer() {
            let script = r#"
import sys, dask, dask.array as da
dask.config.set(scheduler="threads", num_workers=2)
a = da.from_zarr(sys.argv[1])
a.rechunk((int(sys.argv[3]), 10, 10)).to_zarr(sys.argv[2], zarr_format=2)
"#;
            rows.push(timed(
                "dask rechunk().to_zarr() (zarr-python 3)",
                Command::new(&python).args([
                    "-c",
                    script,
                    path(&data),
                    path(&work.path().join("dask.zarr")),
                    &hours.to_string(),
                ]),
            ));
        }
        if let Some(python) = rechunker_python() {
            let script = r#"
import sys, zarr, dask
from rechunker import rechunk
dask.config.set(scheduler="threads", num_workers=2)
src = zarr.open(sys.argv[1], mode="r")
plan = rechunk(src, (int(sys.argv[4]), 10, 10), "1GB", sys.argv[2], temp_store=sys.argv[3])
plan.execute()
"#;
            rows.push(timed(
                "rechunker max_mem=1GB (zarr 2, dask threads)",
                Command::new(&python).args([
                    "-c",
                    script,
                    path(&data),
                    path(&work.path().join("rechunker.zarr")),
                    path(&work.path().join("rechunker-tmp.zarr")),
                    &hours.to_string(),
                ]),
            ));
        }
    }

    // zarrs_reencode (from `cargo install zarrs_tools`), where installed,
    // with a cache of the whole decoded array, and (NDCHUNK_BENCH_SLOW=1)
    // with the 1 GB the others get. Without a cache it would decode every
    // source chunk once per target chunk.
    if let Some(reencode) = zarrs_reencode() {
        let mut caches = vec![("whole-array cache", logical)];
        if std::env::var("NDCHUNK_BENCH_SLOW").as_deref() == Ok("1") {
            caches.push(("--cache-size 1GB", 1_000_000_000));
        }
        for (label, cache) in caches {
            let out = work.path().join(format!("reencode-{cache}.zarr"));
            rows.push(timed(
                &format!("zarrs_reencode ({label})"),
                Command::new(&reencode).args([
                    "--chunk-shape",
                    &chunks_arg,
                    "--cache-size",
                    &cache.to_string(),
                    path(&data),
                    path(&out),
                ]),
            ));
        }
    } else {
        println!("zarrs_reencode not installed (cargo install zarrs_tools): its row is left out");
    }

    let floor = rows[0].wall;
    println!(
        "{:<46} {:>8} {:>8} {:>10} {:>9}",
        "", "wall s", "CPU s", "peak RSS", "vs floor"
    );
    for r in &rows {
        println!(
            "{:<46} {:>8.2} {:>8} {:>10} {:>8.2}x",
            r.name,
            r.wall,
            r.cpu.map_or("-".into(), |c| format!("{c:.1}")),
            r.rss
                .map_or("-".into(), |b| format!("{:.2} GB", b as f64 / 1e9)),
            r.wall / floor
        );
    }
}

/// The fixed overhead over `--max-mem` the README promises.
const PROMISED_OVERHEAD: u64 = 16 << 20;

/// `chunkctl rechunk` at budgets from the smallest it accepts (asked of
/// the tool itself: a too-small budget is refused with the smallest that
/// works) to 1 GiB; peak RSS against each budget.
fn budgets(data: &Path, hours: u64, work: &Path) {
    let chunks_arg = format!("{hours},10,10");
    let rechunk = |dst: &Path, max_mem: &str, dry_run: bool| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chunkctl"));
        command.args([
            "rechunk",
            path(data),
            path(dst),
            "--chunks",
            &chunks_arg,
            "--max-mem",
            max_mem,
            "--quiet",
        ]);
        if dry_run {
            command.arg("--dry-run");
        }
        command
    };
    let refused = rechunk(&work.join("none.zarr"), "1MiB", true)
        .output()
        .unwrap();
    let message = String::from_utf8_lossy(&refused.stderr).to_string();
    let smallest = message
        .split("raise max_mem to ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .map(|size| size.replace(' ', ""))
        .unwrap_or_else(|| panic!("no smallest budget in: {message}"));
    println!("target chunks ({hours}, 10, 10); the smallest budget chunkctl accepts: {smallest}\n");
    println!(
        "{:>10} {:>8} {:>10} {:>12}",
        "--max-mem", "wall s", "peak RSS", "RSS - budget"
    );
    for max_mem in [smallest.as_str(), "32MiB", "64MiB", "256MiB", "1GiB"] {
        let budget = ndchunk::chunking::parse_bytes(max_mem).unwrap();
        let dst = work.join(format!("budget-{max_mem}.zarr"));
        let row = timed(max_mem, &mut rechunk(&dst, max_mem, false));
        let rss = row.rss.unwrap_or(0);
        let over = rss as i64 - budget as i64;
        println!(
            "{:>10} {:>8.2} {:>7.1} MiB {:>8.1} MiB{}",
            max_mem,
            row.wall,
            rss as f64 / 1048576.0,
            over as f64 / 1048576.0,
            if over > PROMISED_OVERHEAD as i64 {
                "  OVER THE PROMISE"
            } else {
                ""
            }
        );
    }
}

/// The same rechunk through the engine's library API: the source as a lazy
/// array, stored into a Zarr array of the new chunks within 1 GiB.
fn engine_rechunk(src: &Path, dst: &Path, hours: u64) {
    let source = ZarrStore::open_dir(src).unwrap();
    let mut meta = source.meta().clone();
    meta.grid = ChunkGrid::regular(&meta.shape(), &[hours, 10, 10]).unwrap();
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V2, source.compressor().clone());
    let target = ZarrStore::create(dst, "/", &spec).unwrap();
    let options = ndchunk::ComputeOptions::default()
        .max_mem(1 << 30)
        .progress(false);
    ndchunk::Array::<f32>::from_store(std::sync::Arc::new(source))
        .unwrap()
        .store_with(&target, &options)
        .unwrap();
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `zarrs_reencode` on the PATH or in cargo's bin directory.
fn zarrs_reencode() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/zarrs_reencode"));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("zarrs_reencode"))
        .chain(cargo_bin)
        .find(|p| p.is_file())
}

/// Rechunker needs zarr < 3: a venv of its own, made on first use.
fn rechunker_python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("py-rechunker");
    let python = venv.join("bin/python");
    if python.exists()
        && Command::new(&python)
            .args(["-c", "import rechunker"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    {
        return Some(python);
    }
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
        && Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "rechunker==0.5.4",
                "zarr<3",
                "numcodecs<0.16",
                "dask==2026.8.0",
                "numpy<2.4",
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if ok {
        Some(python)
    } else {
        support::skip("rechunker peer unavailable");
        None
    }
}
