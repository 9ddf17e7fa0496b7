//! Zarr read/write throughput: ndchunk's `ZarrStore` against the floor (a
//! plain zarrs decode-everything loop on all cores) and zarr-python, in the
//! same run on the same ~1 GiB blosc-zstd store.
//!
//! Run: `cargo bench --bench zarr_io` (set `NDCHUNK_BENCH_MIB` for another
//! size; zarr-python runs when a Python with zarr is found, see
//! tests/support).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Scalar, ZarrStore};
use rayon::prelude::*;
use zarrs::array::{Array, ArrayBytes, CodecOptions};
use zarrs::filesystem::FilesystemStore;

fn main() {
    let mib: u64 = std::env::var("NDCHUNK_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    // float32 (time, y, x) with 4 MiB chunks (8, 256, 512).
    let planes = (mib << 20) / (512 * 512 * 4);
    let shape = [planes, 512, 512];
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let src = dir.path().join("src.zarr");
    let grid = ChunkGrid::regular(&shape, &[8, 256, 512]).unwrap();
    let codec: ZarrCodec = "blosc:zstd:3:shuffle".parse().unwrap();
    let meta = ArrayMeta::new(grid.clone(), DType::Float32, Scalar::Float(f64::NAN));
    let spec = ZarrArraySpec::new(meta.clone(), ZarrFormat::V3, codec.clone());
    let store = ZarrStore::create(&src, "data", &spec).unwrap();
    let chunks: Vec<Vec<u64>> = grid.all_blocks().iter().collect();
    let logical = meta.logical_bytes() as f64;
    println!(
        "array {shape:?} float32, {} chunks of (8, 256, 512), blosc-zstd-3 shuffle, {:.2} GiB",
        chunks.len(),
        logical / (1u64 << 30) as f64
    );

    // A smooth field with noise: compresses like real data, not like zeros.
    let t = Instant::now();
    chunks.par_iter().for_each(|chunk| {
        let region = grid.block_region(chunk).unwrap();
        let bytes: Vec<u8> = (0..region.num_elements())
            .flat_map(|i| {
                let x = (i as f32 + region.start()[0] as f32 * 7.0) * 0.001;
                (x.sin() * 100.0 + ((i * 2_654_435_761) % 1000) as f32 * 0.01).to_ne_bytes()
            })
            .collect();
        store.write_chunk_bytes(chunk, &bytes).unwrap();
    });
    let write_s = t.elapsed().as_secs_f64();
    let (_, stored) = store.storage_summary().unwrap();
    println!(
        "stored {:.0} MiB ({:.2}x)\n",
        stored as f64 / 1048576.0,
        logical / stored as f64
    );

    let rate = |secs: f64| logical / secs / 1e9;
    let mut rows: Vec<(String, f64)> = Vec::new();

    // Floor: zarrs itself, one chunk per task, codec parallelism off.
    let storage = std::sync::Arc::new(FilesystemStore::new(&src).unwrap());
    let array = Array::open(storage, "/data").unwrap();
    let options = CodecOptions::default().with_concurrent_target(1);
    let floor = best_of(3, || {
        chunks.par_iter().for_each(|chunk| {
            let bytes: ArrayBytes<'static> = array.retrieve_chunk_opt(chunk, &options).unwrap();
            std::hint::black_box(bytes);
        })
    });
    rows.push(("read: zarrs decode loop (floor)".into(), floor));

    let ours = best_of(3, || {
        chunks.par_iter().for_each(|chunk| {
            std::hint::black_box(store.read_chunk_bytes(chunk).unwrap());
        })
    });
    rows.push(("read: ndchunk ZarrStore".into(), ours));

    let dst = dir.path().join("dst.zarr");
    let out = ZarrStore::create(&dst, "data", &spec).unwrap();
    let ours_write = best_of(2, || {
        chunks.par_iter().for_each(|chunk| {
            let bytes = store.read_chunk_bytes(chunk).unwrap();
            out.write_chunk_bytes(chunk, &bytes).unwrap();
        })
    });
    rows.push(("copy (read + write): ndchunk".into(), ours_write));
    rows.push((
        "write (first fill, incl. generating data): ndchunk".into(),
        write_s,
    ));

    if let Some(python) = support::python_peer() {
        for (label, secs) in zarr_python(&python, &src.join("data"), &dir.path().join("py.zarr")) {
            rows.push((label, secs));
        }
    }
    println!(
        "{:<52} {:>8} {:>10} {:>10}",
        "", "seconds", "GB/s", "vs floor"
    );
    for (label, secs) in &rows {
        println!(
            "{label:<52} {secs:>8.3} {:>10.2} {:>9.2}x",
            rate(*secs),
            secs / floor
        );
    }
}

fn best_of(n: usize, mut f: impl FnMut()) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// zarr-python reading the whole array, and copying it to a new store.
fn zarr_python(python: &Path, array: &Path, out: &Path) -> Vec<(String, f64)> {
    let script = r#"
import sys, time, json, zarr
a = zarr.open_array(sys.argv[1], mode="r")
best = min((lambda t: (a[...], time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
t = time.perf_counter()
b = zarr.create_array(store=sys.argv[2], shape=a.shape, chunks=a.chunks, dtype=a.dtype, compressors=a.compressors, fill_value=a.fill_value)
b[...] = a[...]
copy = time.perf_counter() - t
print(json.dumps([best, copy]))
"#;
    let output = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(array)
        .arg(out)
        .output()
        .unwrap();
    if !output.status.success() {
        eprintln!(
            "zarr-python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return Vec::new();
    }
    let times: Vec<f64> = serde_json::from_slice(&output.stdout).unwrap();
    vec![
        ("read: zarr-python a[...]".into(), times[0]),
        ("copy (read + write): zarr-python".into(), times[1]),
    ]
}
