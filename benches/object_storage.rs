//! Object storage: does concurrency hide request latency? The same work (a
//! store of a smooth climate field, then the mean over time read back)
//! against local disk, a local S3 server (moto), and that server behind a
//! proxy adding 20 ms to every request, with the engine's default threads
//! for remote stores (`REMOTE_IO_THREADS`) and with one per core. Ratios
//! are against the local-disk run and against the server without added
//! latency, all in this process, in this run.
//!
//! Run: `cargo bench --bench object_storage` (`NDCHUNK_BENCH_MIB` sets the
//! size, 128 by default). Needs the Python peers (moto), as the tests do.

#[path = "../tests/support/s3.rs"]
mod s3;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ndchunk::chunking::ChunkGrid;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat, ZarrRoot};
use ndchunk::io::{ArrayMeta, DType, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions, DynArray};
use s3::{LatencyProxy, S3Server};

/// One run: seconds to store the field, seconds to read its time mean.
struct Timing {
    name: String,
    write: f64,
    read: f64,
}

fn main() {
    let mib: u64 = std::env::var("NDCHUNK_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let (ny, nx) = (180u64, 360u64);
    let times = ((mib << 20) / (ny * nx * 4)).max(8);
    let chunks = [4, ny, nx];
    let shape = [times, ny, nx];
    // A seasonal wave over a spatial pattern: compresses like a real field.
    let values =
        ndarray::Array3::from_shape_fn((times as usize, ny as usize, nx as usize), |(t, y, x)| {
            let (t, y, x) = (t as f32, y as f32, x as f32);
            280.0 + 10.0 * (t / 58.0).sin() + 5.0 * (y / 17.0).cos() * (x / 23.0).sin()
        });
    let field = Array::<f32>::from_ndarray(values.into_dyn(), chunks).unwrap();
    let grid = ChunkGrid::regular(&shape, &chunks).unwrap();
    let meta = ArrayMeta::new(grid.clone(), DType::Float32, Scalar::Float(f64::NAN));
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    println!(
        "field {shape:?} float32 in {} chunks of {chunks:?} ({} KiB), zstd-3, {} MiB",
        grid.num_blocks(),
        (chunks.iter().product::<u64>() * 4) >> 10,
        (shape.iter().product::<u64>() * 4) >> 20
    );

    let Some(server) = S3Server::start() else {
        eprintln!("no S3 server (moto): nothing to compare");
        return;
    };
    server.create_bucket("bench");
    for (key, value) in server.env() {
        std::env::set_var(key, value);
    }
    let proxy = LatencyProxy::start(server.addr(), Duration::from_millis(20));
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let run = |name: &str, root: ZarrRoot, endpoint: &str, threads: Option<usize>| {
        std::env::set_var("AWS_ENDPOINT_URL", endpoint);
        let mut options = ComputeOptions::new().max_mem(256 << 20).progress(false);
        if let Some(threads) = threads {
            options = options.threads(threads);
        }
        let t = Instant::now();
        let store = ZarrStore::create(&root, "/", &spec).unwrap();
        DynArray::from(field.clone())
            .store_with(&store, &options)
            .unwrap();
        let write = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let stored =
            Array::<f32>::from_store(Arc::new(ZarrStore::open_dir(&root).unwrap())).unwrap();
        let (mean, _) = stored.mean([0usize], false).compute_with(&options).unwrap();
        let read = t.elapsed().as_secs_f64();
        assert!((mean[[0, 0]] - 280.0).abs() < 10.0);
        Timing {
            name: name.to_string(),
            write,
            read,
        }
    };

    let direct = server.endpoint();
    let slow = proxy.endpoint();
    let rows = [
        run(
            &format!("local disk ({cores} threads)"),
            ZarrRoot::from(dir.path().join("field.zarr")),
            &direct,
            None,
        ),
        run(
            &format!(
                "S3, moto ({} threads)",
                ndchunk::REMOTE_IO_THREADS.max(cores)
            ),
            ZarrRoot::parse("s3://bench/direct.zarr").unwrap(),
            &direct,
            None,
        ),
        run(
            &format!(
                "S3 + 20 ms/request ({} threads)",
                ndchunk::REMOTE_IO_THREADS.max(cores)
            ),
            ZarrRoot::parse("s3://bench/latency.zarr").unwrap(),
            &slow,
            None,
        ),
        run(
            &format!("S3 + 20 ms/request ({cores} threads)"),
            ZarrRoot::parse("s3://bench/latency-few.zarr").unwrap(),
            &slow,
            Some(cores),
        ),
    ];
    let logical = (shape.iter().product::<u64>() * 4) as f64 / (1 << 20) as f64;
    println!(
        "\n| run | store | MiB/s | x local | x S3 | mean over time | MiB/s | x local | x S3 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {:.2} s | {:.0} | {:.2}x | {:.2}x | {:.2} s | {:.0} | {:.2}x | {:.2}x |",
            row.name,
            row.write,
            logical / row.write,
            row.write / rows[0].write,
            row.write / rows[1].write,
            row.read,
            logical / row.read,
            row.read / rows[0].read,
            row.read / rows[1].read,
        );
    }
    println!(
        "\nrequests through the 20 ms proxy: {} (on {} connections)",
        proxy.requests(),
        proxy.connections()
    );
}
