//! Zarr in S3-compatible object storage through the library, against a real
//! local S3 server (moto): what ndchunk writes to `s3://` xarray and
//! zarr-python read back through s3fs, what they write there ndchunk reads,
//! and a lazy expression over a remote array stored into another one.
//!
//! One server serves the whole binary; its address and credentials are set
//! once, in the standard AWS environment variables, before any test touches
//! S3, so that this process (object_store) and the Python peers it starts
//! (botocore) find it the way a user's programs would.

#[path = "support/s3.rs"]
mod s3;
mod support;
#[path = "support/xarray_dump.rs"]
mod xarray_dump;

use std::path::Path;
use std::sync::OnceLock;

use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat, ZarrRoot};
use ndchunk::io::{ArrayMeta, ChunkStore, ChunkStoreExt, DType, Region, Scalar, ZarrStore};
use ndchunk::{open_dataset, open_zarr, Array, ComputeOptions, DynArray};
use s3::S3Server;

/// The binary's server with its bucket `lib`, or `None` after a loud skip.
fn server() -> Option<&'static S3Server> {
    static SERVER: OnceLock<Option<S3Server>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let server = S3Server::start()?;
            server.create_bucket("lib");
            for (key, value) in server.env() {
                std::env::set_var(key, value);
            }
            Some(server)
        })
        .as_ref()
}

/// A smooth field `(time, y, x)`, as climate data is: a seasonal wave over
/// a spatial pattern.
fn field(times: u64, ny: u64, nx: u64, chunks: [u64; 3]) -> Array<f32> {
    let values =
        ndarray::Array3::from_shape_fn((times as usize, ny as usize, nx as usize), |(t, y, x)| {
            let (t, y, x) = (t as f32, y as f32, x as f32);
            280.0 + 10.0 * (t / 58.0).sin() + 5.0 * (y / 7.0).cos() * (x / 11.0).sin()
        });
    Array::from_ndarray(values.into_dyn(), chunks).unwrap()
}

fn zarr_spec(array: &Array<f32>, chunks: &[u64], format: ZarrFormat) -> ZarrArraySpec {
    let grid = ndchunk::chunking::ChunkGrid::regular(&array.shape(), chunks).unwrap();
    let mut meta = ArrayMeta::new(grid, DType::Float32, Scalar::Float(f64::NAN));
    meta.dimension_names = Some(vec![
        Some("time".into()),
        Some("y".into()),
        Some("x".into()),
    ]);
    ZarrArraySpec::new(meta, format, ZarrCodec::Zstd(3))
}

/// `data` stored at `url` in daily chunks, and the lazy array reading it
/// back from there.
fn in_bucket(url: &str, data: &Array<f32>) -> (ZarrStore, Array<f32>) {
    let root = ZarrRoot::parse(url).unwrap();
    let spec = zarr_spec(data, &[1, data.shape()[1], data.shape()[2]], ZarrFormat::V3);
    let store = ZarrStore::create(&root, "/", &spec).unwrap();
    DynArray::from(data.clone()).store(&store).unwrap();
    let remote =
        Array::<f32>::from_store(std::sync::Arc::new(ZarrStore::open_dir(&root).unwrap())).unwrap();
    (store, remote)
}

/// zarr-python's view of an array in the bucket: its chunks and the sum and
/// a few values of its data, as JSON.
const ZARR_READ: &str = r#"
import json, sys, zarr, numpy as np
a = zarr.open_array(sys.argv[1], mode="r", storage_options=json.loads(sys.argv[2]))
v = a[:].astype("float64")
print(json.dumps({"chunks": list(a.chunks), "sum": float(v.sum()),
                  "corner": float(v[0, 0, 0]), "last": float(v[-1, -1, -1])}))
"#;

#[test]
fn a_store_into_s3_reads_back_in_zarr_python_and_ndchunk() {
    let Some(s3) = server() else {
        return;
    };
    let python = support::python_peer().unwrap();
    let data = field(40, 30, 20, [1, 30, 20]);
    let expected = data.compute().unwrap();
    for (format, url) in [
        (ZarrFormat::V3, "s3://lib/field-v3.zarr"),
        (ZarrFormat::V2, "s3://lib/nested/field-v2.zarr"),
    ] {
        let root = ZarrRoot::parse(url).unwrap();
        let target =
            ZarrStore::create_unpublished(&root, "/", &zarr_spec(&data, &[40, 10, 10], format))
                .unwrap();
        assert!(target.is_remote());
        // The time series chunks, from daily maps: a rechunk in the graph.
        let report = DynArray::from(data.clone())
            .store_with(
                &target,
                &ComputeOptions::new().max_mem(4 << 20).progress(false),
            )
            .unwrap();
        assert!(report.tasks_run > 0);
        // Unpublished, the prefix is no array to anyone.
        let e = ZarrStore::open_dir(&root).unwrap_err().to_string();
        assert!(e.contains("no zarr.json or .zarray"), "{e}");
        target.publish().unwrap();
        assert_eq!(target.storage_summary().unwrap().0, 6);

        // zarr-python, through s3fs.
        let out = support::run_python(
            &python,
            ZARR_READ,
            &[url.to_string(), s3.storage_options_json()],
        );
        let theirs: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(theirs["chunks"], serde_json::json!([40, 10, 10]), "{url}");
        let sum: f64 = expected.iter().map(|&v| f64::from(v)).sum();
        assert!(
            (theirs["sum"].as_f64().unwrap() - sum).abs() < 1e-6 * sum.abs(),
            "{url}"
        );
        assert_eq!(
            theirs["corner"].as_f64().unwrap(),
            f64::from(expected[[0, 0, 0]])
        );
        assert_eq!(
            theirs["last"].as_f64().unwrap(),
            f64::from(expected[[39, 29, 19]])
        );

        // ndchunk, again from the bucket: every value.
        let back = ZarrStore::open_dir(ZarrRoot::parse(url).unwrap()).unwrap();
        let values = back
            .read_region::<f32>(&Region::from_shape(&[40, 30, 20]))
            .unwrap();
        assert_eq!(values, expected);
    }
}

#[test]
fn an_expression_over_a_remote_array_is_stored_into_another() {
    let Some(_s3) = server() else {
        return;
    };
    let data = field(30, 16, 16, [1, 16, 16]);
    let (_, remote) = in_bucket("s3://lib/expr-src.zarr", &data);
    // Anomalies from the time mean, to time series: read from the bucket,
    // written to it, nothing local.
    let anomaly = &remote - &remote.mean([0usize], true);
    let target = ZarrStore::create(
        ZarrRoot::parse("s3://lib/expr-anomaly.zarr").unwrap(),
        "/",
        &zarr_spec(&data, &[30, 4, 4], ZarrFormat::V3),
    )
    .unwrap();
    DynArray::from(anomaly).store(&target).unwrap();

    let local = &data - &data.mean([0usize], true);
    let expected = local.compute().unwrap();
    let stored = target
        .read_region::<f32>(&Region::from_shape(&[30, 16, 16]))
        .unwrap();
    let worst = stored
        .iter()
        .zip(expected.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst < 1e-4, "largest difference {worst}");
}

#[test]
fn xarray_reads_what_to_zarr_wrote_into_s3_and_open_zarr_reads_xarrays() {
    let Some(_s3) = server() else {
        return;
    };
    let python = support::python_peer().unwrap();
    let Some(nc) = support::fixture("netcdf/air_temperature_small.nc") else {
        return;
    };
    let ds = open_dataset(&nc).unwrap();
    let url = "s3://lib/air.zarr";
    ds.to_zarr(url).unwrap();
    // xarray opens it through s3fs, which finds the server by the
    // environment as this process did.
    let theirs = xarray_dump::dump(&python, Path::new(url), "decode", "zarr");
    xarray_dump::compare(&ds, theirs.path());
    // A store is never overwritten, in a bucket as on disk.
    let e = ds.to_zarr(url).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");

    // What xarray writes into the bucket, ndchunk opens there.
    let write = r#"
import sys, xarray as xr
xr.open_dataset(sys.argv[1]).to_zarr(sys.argv[2], mode="w-", consolidated=True)
"#;
    let xr_url = "s3://lib/air-by-xarray.zarr";
    support::run_python(&python, write, &[nc.display().to_string(), xr_url.into()]);
    let opened = open_zarr(xr_url).unwrap();
    let theirs = xarray_dump::dump(&python, Path::new(xr_url), "decode", "zarr");
    xarray_dump::compare(&opened, theirs.path());
}

/// Inside an `async fn` of the user's (a tokio runtime on this thread),
/// the synchronous API still works: it waits for its requests, as for any
/// blocking I/O, instead of panicking on a nested runtime.
#[test]
fn the_synchronous_api_works_inside_the_users_tokio_runtime() {
    let Some(_s3) = server() else {
        return;
    };
    let data = field(12, 9, 7, [4, 9, 7]);
    let users = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let read = users.block_on(async {
        let (_, remote) = in_bucket("s3://lib/in-async.zarr", &data);
        remote.compute().unwrap()
    });
    assert_eq!(read, data.compute().unwrap());
    let opened = users.block_on(async {
        let ds = ndchunk::Dataset::new()
            .with_var(
                "t",
                ndchunk::DataArray::new(data.clone(), &["time", "y", "x"]).unwrap(),
            )
            .unwrap();
        ds.to_zarr("s3://lib/in-async-ds.zarr").unwrap();
        open_zarr("s3://lib/in-async-ds.zarr").unwrap()
    });
    let t = opened.get("t").unwrap().values::<f32>().unwrap();
    assert_eq!(t, data.compute().unwrap());
}

#[test]
fn a_missing_bucket_and_a_bad_url_are_said_before_anything_is_written() {
    let Some(_s3) = server() else {
        return;
    };
    let e = ndchunk::open_zarr("s3://no-such-bucket/x.zarr")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no bucket `no-such-bucket`"), "{e}");
    let e = ndchunk::open_zarr("s3://lib/nothing-here.zarr")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no zarr.json, .zarray or .zgroup"), "{e}");
    for bad in ["gs://lib/x.zarr", "s3:///x.zarr", "s3://lib/../x.zarr"] {
        assert!(ZarrRoot::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_plan_file_over_buckets_runs_from_its_file_as_shards() {
    let Some(_s3) = server() else {
        return;
    };
    let data = field(24, 16, 16, [1, 16, 16]);
    let (source, remote) = in_bucket("s3://lib/plan-src.zarr", &data);
    // Converted to kelvin from tenths of a degree, to time series: a
    // rechunk whose passes are shard stages. Built-in operations only.
    let anomaly = &remote * 0.1 + 273.15;
    let options = ComputeOptions::new()
        .max_mem(1 << 20)
        .threads(2)
        .progress(false);
    let create = |url: &str| {
        ZarrStore::create(
            ZarrRoot::parse(url).unwrap(),
            "/",
            &zarr_spec(&data, &[24, 4, 4], ZarrFormat::V3),
        )
        .unwrap()
    };
    let whole = create("s3://lib/plan-whole.zarr");
    anomaly.store_with(&whole, &options).unwrap();

    let sharded = create("s3://lib/plan-sharded.zarr");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let saved = anomaly.save_plan(&sharded, &options, &path).unwrap();
    let stages = saved.shard_stages().len();
    assert!(stages >= 1);
    let journal = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.path().join("journal"));
    for stage in 1..=stages {
        for i in 0..2 {
            let plan = ndchunk::PlanFile::load(&path).unwrap();
            plan.run(&journal.clone().shard(stage, i, 2)).unwrap();
        }
    }
    ndchunk::PlanFile::load(&path)
        .unwrap()
        .run(&journal.finish_shards())
        .unwrap();
    let all = Region::from_shape(&[24, 16, 16]);
    assert_eq!(
        sharded.read_region::<f32>(&all).unwrap(),
        whole.read_region::<f32>(&all).unwrap()
    );

    // The same bucket reached at another endpoint (a proxy in front of
    // the same server): a process there refuses the file, as the endpoint
    // is part of where a store is.
    let proxy = s3::LatencyProxy::start(_s3.addr(), std::time::Duration::ZERO);
    let said = in_child(
        "child_loads_a_plan_file",
        PLAN_FOR_CHILD,
        path.as_os_str(),
        &proxy,
    );
    assert!(
        said.contains("refused:") && said.contains("was planned at"),
        "{said}"
    );

    // A source object rewritten since planning: the file refuses to load.
    let other = source
        .read_region::<f32>(&Region::from_shape(&[1, 16, 16]))
        .unwrap();
    source
        .write_chunk(&[5, 0, 0], (other.mapv(|v| v + 1.0)).view())
        .unwrap();
    let e = ndchunk::PlanFile::load(&path).unwrap_err().to_string();
    assert!(e.contains("changed"), "{e}");
}

/// What the ignored test `name` of this binary says (its stdout, then its
/// stderr), run as a child process with `var` set to `value` and S3
/// requests going through `proxy` (the endpoint is the process's).
fn in_child(name: &str, var: &str, value: &std::ffi::OsStr, proxy: &s3::LatencyProxy) -> String {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--nocapture"])
        .env(var, value)
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    )
}

/// The plan file a child process loads (see [`child_loads_a_plan_file`]).
const PLAN_FOR_CHILD: &str = "NDCHUNK_TEST_PLAN_FILE";

/// Run by `a_plan_file_over_buckets_runs_from_its_file_as_shards` as a
/// child process with another endpoint: says whether the file loads.
#[test]
#[ignore = "run as a child process by a_plan_file_over_buckets_runs_from_its_file_as_shards"]
fn child_loads_a_plan_file() {
    let Some(path) = std::env::var_os(PLAN_FOR_CHILD) else {
        return;
    };
    match ndchunk::PlanFile::load(path) {
        Ok(_) => println!("loaded"),
        Err(e) => println!("refused: {e}"),
    }
}

#[test]
fn a_chunk_is_read_with_one_request() {
    let Some(s3) = server() else {
        return;
    };
    let data = field(12, 16, 16, [1, 16, 16]);
    let (_, _) = in_bucket("s3://lib/requests.zarr", &data);
    // Counted by a proxy in front of the server, in a process of its own.
    let proxy = s3::LatencyProxy::start(s3.addr(), std::time::Duration::ZERO);
    let said = in_child(
        "child_reads_an_array",
        ARRAY_FOR_CHILD,
        "s3://lib/requests.zarr".as_ref(),
        &proxy,
    );
    let sum: f64 = said
        .lines()
        .find_map(|l| l.strip_prefix("sum "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    let expected = total(&data);
    assert!(
        (sum - expected).abs() <= 1e-5 * expected.abs(),
        "{sum} {expected}"
    );
    // 12 chunks: a GET each (not a HEAD for the size and a ranged GET),
    // plus the bucket's probe and the array's metadata.
    let requests = proxy.requests();
    assert!((12..=15).contains(&requests), "{requests} requests");
}

/// The array a child process reads (see [`child_reads_an_array`]).
const ARRAY_FOR_CHILD: &str = "NDCHUNK_TEST_ARRAY";

/// Run by `a_chunk_is_read_with_one_request` as a child process: reads
/// every chunk of an array and says its sum.
#[test]
#[ignore = "run as a child process by a_chunk_is_read_with_one_request"]
fn child_reads_an_array() {
    let Some(url) = std::env::var_os(ARRAY_FOR_CHILD) else {
        return;
    };
    let root = ZarrRoot::parse(url).unwrap();
    let array =
        Array::<f32>::from_store(std::sync::Arc::new(ZarrStore::open_dir(&root).unwrap())).unwrap();
    println!("sum {}", total(&array));
}

/// The sum of every value of `array`.
fn total(array: &Array<f32>) -> f64 {
    let sum = array.sum([0usize, 1, 2], false).compute().unwrap();
    sum.iter().map(|v| f64::from(*v)).sum()
}
