//! HDF5 chunk reads: a 512 MiB gzip-chunked float32 volume read chunk by
//! chunk with the pure-Rust backend on 1 thread and on all cores, and by
//! h5py (the C library) in the same run.
//!
//! Run: `cargo bench --bench hdf5_io`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Instant;

use ndchunk::io::hdf5::{Compression, Hdf5Store};
use ndchunk::io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Scalar};
use rayon::prelude::*;

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().join("volume.h5");
    // (512, 512, 512) float32 = 512 MiB in (32, 128, 512) chunks of 8 MiB.
    let grid = ChunkGrid::regular(&[512, 512, 512], &[32, 128, 512]).unwrap();
    let meta = ArrayMeta::new(grid.clone(), DType::Float32, Scalar::Float(0.0));
    let chunks: Vec<Vec<u64>> = grid.all_blocks().iter().collect();
    {
        let store = Hdf5Store::create(
            &path,
            "volume",
            &meta,
            Compression::deflate(4).with_shuffle(),
        )
        .unwrap();
        chunks.par_iter().for_each(|chunk| {
            let region = grid.block_region(chunk).unwrap();
            let bytes: Vec<u8> = (0..region.num_elements())
                .flat_map(|i| ((i as f32 * 0.01).sin() * 100.0 + (i % 7) as f32).to_ne_bytes())
                .collect();
            store.write_chunk_bytes(chunk, &bytes).unwrap();
        });
        store.flush().unwrap();
    }
    let stored = std::fs::metadata(&path).unwrap().len();
    println!("volume (512, 512, 512) float32, chunks (32, 128, 512), shuffle + deflate 4: {:.0} MiB on disk\n", stored as f64 / 1048576.0);
    let store = Hdf5Store::open(&path, "volume").unwrap();
    let read_all = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        (0..3)
            .map(|_| {
                let t = Instant::now();
                pool.install(|| {
                    chunks.par_iter().for_each(|c| {
                        drop(std::hint::black_box(store.read_chunk_bytes(c).unwrap()))
                    })
                });
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let one = read_all(1);
    let all = read_all(cores);
    let logical = 512.0 * 1048576.0;
    println!(
        "{:<40} {:>8} {:>8} {:>10}",
        "", "seconds", "MB/s", "speed-up"
    );
    println!(
        "{:<40} {one:>8.3} {:>8.0} {:>9.2}x",
        "ndchunk pure HDF5, 1 thread",
        logical / one / 1e6,
        1.0
    );
    println!(
        "{:<40} {all:>8.3} {:>8.0} {:>9.2}x",
        format!("ndchunk pure HDF5, {cores} threads"),
        logical / all / 1e6,
        one / all
    );
    if let Some(python) = support::python_peer() {
        let script = "import sys, time, h5py\nf = h5py.File(sys.argv[1], 'r')\nd = f['volume']\nbest = 1e9\nfor _ in range(3):\n    t = time.perf_counter(); d[...]; best = min(best, time.perf_counter() - t)\nprint(best)";
        let out = Command::new(python)
            .args(["-c", script])
            .arg(&path)
            .output()
            .unwrap();
        if let Ok(secs) = String::from_utf8_lossy(&out.stdout).trim().parse::<f64>() {
            println!(
                "{:<40} {secs:>8.3} {:>8.0} {:>9.2}x",
                "h5py d[...] (C library)",
                logical / secs / 1e6,
                one / secs
            );
        }
    }
}
