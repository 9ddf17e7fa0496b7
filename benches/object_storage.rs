//! Object storage: does concurrency hide request latency? The same work (a
//! store of a smooth climate field, then the mean over time read back)
//! against local disk, a local S3 server (moto), and that server behind a
//! proxy adding 20 ms to every request, with the engine's default threads
//! for remote stores (`REMOTE_IO_THREADS`) and with one per core. Ratios
//! are against the local-disk run and against the server without added
//! latency, all in this process, in this run.
//!
//! moto is a Python server, and slow: its own throughput, not latency,
//! bounds the runs against it. With `NDCHUNK_S3S_FS=/path/to/s3s-fs` (a
//! Rust S3 server over a directory: `cargo install s3s-fs --features
//! binary`, Apache-2.0) the same runs go against it too.
//!
//! The local read is also timed from the disk itself, the page cache
//! dropped first (as root): what a read from local disk costs when the
//! data is not already in memory.
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

/// `s3s-fs` serving a temporary directory on a free port, killed when
/// dropped.
struct S3sFs {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl S3sFs {
    fn start(program: &str, bucket: &str) -> S3sFs {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        std::fs::create_dir(dir.path().join(bucket)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = std::process::Command::new(program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--access-key",
                s3::TEST_KEY,
                "--secret-key",
                s3::TEST_SECRET,
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed().as_secs() < 20, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        S3sFs {
            child,
            port,
            _dir: dir,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run: seconds to store the field, seconds to read its time mean,
/// and the CPU seconds the read took in this process and in the server.
struct Timing {
    name: String,
    write: f64,
    read: f64,
    read_cpu: f64,
    server_cpu: Option<f64>,
}

/// Writes back and drops the page cache (`/proc/sys/vm/drop_caches`,
/// root only), so that the next read comes from the disk; whether it could.
fn drop_page_cache() -> bool {
    let _ = std::process::Command::new("sync").status();
    std::fs::write("/proc/sys/vm/drop_caches", "3\n").is_ok()
}

/// CPU seconds (user and system) a process has used so far, from
/// `/proc/PID/stat` (`self` for this one): its own and its waited-for
/// children's.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name (which may hold spaces): utime,
    // stime, cutime, cstime are fields 14 to 17 of the line.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11..15]
        .iter()
        .map(|f| f.parse::<f64>().unwrap_or(0.0))
        .sum();
    let per_second = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some(ticks / per_second)
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
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let run = |name: &str,
               root: ZarrRoot,
               endpoint: &str,
               threads: Option<usize>,
               server: Option<u32>| {
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
        let server_cpu = || server.and_then(|pid| cpu_seconds(&pid.to_string()));
        let (cpu, served) = (cpu_seconds("self").unwrap_or(0.0), server_cpu());
        let t = Instant::now();
        let stored =
            Array::<f32>::from_store(Arc::new(ZarrStore::open_dir(&root).unwrap())).unwrap();
        let (mean, _) = stored.mean([0usize], false).compute_with(&options).unwrap();
        let read = t.elapsed().as_secs_f64();
        let read_cpu = cpu_seconds("self").unwrap_or(0.0) - cpu;
        let server_cpu = served
            .zip(server_cpu())
            .map(|(before, after)| after - before);
        assert!((mean[[0, 0]] - 280.0).abs() < 10.0);
        Timing {
            name: name.to_string(),
            write,
            read,
            read_cpu,
            server_cpu,
        }
    };

    let remote_threads = ndchunk::REMOTE_IO_THREADS.max(cores);
    let mut rows = vec![run(
        &format!("local disk ({cores} threads)"),
        ZarrRoot::from(dir.path().join("field.zarr")),
        &server.endpoint(),
        None,
        None,
    )];
    // The same read from the disk itself: the page cache written back and
    // dropped first (needs root; skipped, and said, otherwise).
    let from_disk = drop_page_cache().then(|| {
        let root = ZarrRoot::from(dir.path().join("field.zarr"));
        let t = Instant::now();
        let stored =
            Array::<f32>::from_store(Arc::new(ZarrStore::open_dir(&root).unwrap())).unwrap();
        let options = ComputeOptions::new().max_mem(256 << 20).progress(false);
        stored.mean([0usize], false).compute_with(&options).unwrap();
        t.elapsed().as_secs_f64()
    });
    let mut servers: Vec<(String, std::net::SocketAddr, String, u32)> = vec![(
        "moto".into(),
        server.addr(),
        server.endpoint(),
        server.pid(),
    )];
    let s3s = std::env::var("NDCHUNK_S3S_FS")
        .ok()
        .map(|program| S3sFs::start(&program, "bench"));
    if let Some(s3s) = &s3s {
        servers.push((
            "s3s-fs".into(),
            s3s.addr(),
            format!("http://{}", s3s.addr()),
            s3s.child.id(),
        ));
    }
    let mut proxies = Vec::new();
    for (name, addr, endpoint, pid) in &servers {
        let proxy = LatencyProxy::start(*addr, Duration::from_millis(20));
        let slow = proxy.endpoint();
        let url = |what: &str| ZarrRoot::parse(format!("s3://bench/{name}-{what}.zarr")).unwrap();
        rows.push(run(
            &format!("S3, {name} ({remote_threads} threads)"),
            url("direct"),
            endpoint,
            None,
            Some(*pid),
        ));
        rows.push(run(
            &format!("S3, {name} + 20 ms/request ({remote_threads} threads)"),
            url("latency"),
            &slow,
            None,
            Some(*pid),
        ));
        rows.push(run(
            &format!("S3, {name} + 20 ms/request ({cores} threads)"),
            url("latency-few"),
            &slow,
            Some(cores),
            Some(*pid),
        ));
        proxies.push((name.clone(), proxy));
    }
    let logical = (shape.iter().product::<u64>() * 4) as f64 / (1 << 20) as f64;
    // "x S3": against the same server without the added latency.
    println!(
        "\n| run | store | MiB/s | x local | x S3 | mean over time | MiB/s | x local | x S3 | \
         CPU s: client | server |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (k, row) in rows.iter().enumerate() {
        let base = if k == 0 { 0 } else { 1 + (k - 1) / 3 * 3 };
        println!(
            "| {} | {:.2} s | {:.0} | {:.2}x | {:.2}x | {:.2} s | {:.0} | {:.2}x | {:.2}x | {:.2} | {} |",
            row.name,
            row.write,
            logical / row.write,
            row.write / rows[0].write,
            row.write / rows[base].write,
            row.read,
            logical / row.read,
            row.read / rows[0].read,
            row.read / rows[base].read,
            row.read_cpu,
            row.server_cpu
                .map_or("–".to_string(), |cpu| format!("{cpu:.2}")),
        );
    }
    match from_disk {
        Some(cold) => {
            println!(
                "\nThe local read from disk (page cache dropped): {cold:.2} s ({:.0} MiB/s); \
                 the mean over time against it:\n",
                logical / cold
            );
            println!("| run | mean over time | x local, from disk |");
            println!("|---|---|---|");
            for row in &rows[1..] {
                println!(
                    "| {} | {:.2} s | {:.2}x |",
                    row.name,
                    row.read,
                    row.read / cold
                );
            }
        }
        None => println!("\n(no read from disk: dropping the page cache needs root)"),
    }
    for (name, proxy) in &proxies {
        println!(
            "requests through the 20 ms proxy to {name}: {} (on {} connections)",
            proxy.requests(),
            proxy.connections()
        );
    }
}
