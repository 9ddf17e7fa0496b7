//! The climate user's workload of `examples/climate_anomaly`, against
//! xarray + Dask in the same run, on the same store: from a year of hourly
//! 1-degree float32 data (8760 x 180 x 360, 2.3 GB, daily chunks,
//! blosc-zstd; a smooth climate-like field), the monthly climatology, the
//! standard deviation over time of the anomalies from it, and the
//! cos(lat)-weighted global mean series, all written to one Zarr store.
//! Each contender runs in its own process under GNU time (wall, CPU, peak
//! RSS): ndchunk (this binary again), xarray + Dask without flox, and
//! xarray + flox when the peer Python has it.
//!
//! Run: `cargo bench --bench climate`. `NDCHUNK_BENCH_TIME=N` sets the
//! hours (default 8760); `NDCHUNK_BENCH_PEERS=0` skips Python;
//! `NDCHUNK_PYTHON=path/to/python` times the peers with that Python (the
//! tests' peer venv has no flox: give one that has it for the flox row).

#[path = "../src/bin/chunkctl/sample.rs"]
mod sample;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "support/timing.rs"]
mod timing;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ndchunk::{open_zarr, Array, DataArray, Dataset, Values};
use timing::timed;

/// The first argument that makes this binary run only ndchunk's row.
const CHILD: &str = "--climate-child";

/// The workload in xarray: argv[1] the store, argv[2] the output, argv[3]
/// "flox" or "dask".
const XARRAY: &str = r#"
import sys
import numpy as np, xarray as xr, dask
src, out, mode = sys.argv[1:4]
xr.set_options(use_flox=(mode == "flox"))
x = xr.open_zarr(src).t2m
clim = x.groupby("time.month").mean()
anom_std = (x.groupby("time.month") - clim).std("time")
global_mean = x.weighted(np.cos(np.deg2rad(x.lat))).mean(["lat", "lon"])
xr.Dataset({"clim": clim, "anom_std": anom_std, "global_mean": global_mean}).to_zarr(out, mode="w-")
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, src, out] = args.as_slice() {
        if flag == CHILD {
            summarise(Path::new(src), Path::new(out));
            return;
        }
    }
    let hours: u64 = std::env::var("NDCHUNK_BENCH_TIME")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8760);
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = work.path().join("hourly.zarr");
    let t = Instant::now();
    sample::write_climate_dataset(&data, hours).unwrap();
    println!(
        "wrote {hours} hours of 1-degree t2m in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut rows = vec![timed(
        "ndchunk",
        Command::new(std::env::current_exe().unwrap()).args([
            CHILD,
            path(&data),
            path(&work.path().join("ndchunk.zarr")),
        ]),
    )];
    if std::env::var("NDCHUNK_BENCH_PEERS").as_deref() != Ok("0") {
        if let Some(python) = support::python_peer() {
            let has_flox = Command::new(&python)
                .args(["-c", "import flox"])
                .output()
                .is_ok_and(|o| o.status.success());
            let mut modes = vec![("xarray + Dask (no flox)", "dask")];
            if has_flox {
                modes.push(("xarray + Dask + flox", "flox"));
            } else {
                println!(
                    "flox is not installed in {}: its row is left out",
                    python.display()
                );
            }
            for (name, mode) in modes {
                let out = work.path().join(format!("{mode}.zarr"));
                rows.push(timed(
                    name,
                    Command::new(&python).args(["-c", XARRAY, path(&data), path(&out), mode]),
                ));
            }
        }
    }
    timing::print_rows(&rows);
}

/// ndchunk's row: the three results in one run.
fn summarise(src: &Path, out: &Path) {
    let x = open_zarr(src).unwrap().get("t2m").unwrap();
    let by_month = x.groupby("time.month").unwrap();
    let clim = by_month.mean().unwrap();
    let anom_std = by_month.sub(&clim).unwrap().std("time", 0).unwrap();
    let Values::Float { data: lat, .. } = x.coord("lat").unwrap().values().clone() else {
        panic!("numeric latitudes expected")
    };
    let n = lat.len() as u64;
    let weights = DataArray::new(
        Array::from_ndarray(lat.mapv(|l| l.to_radians().cos()), [n]).unwrap(),
        &["lat"],
    )
    .unwrap();
    let global_mean = x.weighted(&weights).unwrap().mean(["lat", "lon"]).unwrap();
    Dataset::new()
        .with_var("clim", clim)
        .unwrap()
        .with_var("anom_std", anom_std)
        .unwrap()
        .with_var("global_mean", global_mean)
        .unwrap()
        .to_zarr(out)
        .unwrap();
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
