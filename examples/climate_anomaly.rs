//! The climate user's day: from hourly (time, lat, lon) data, the monthly
//! climatology, the standard deviation over time of the anomalies from it,
//! and the area-weighted global mean series, written as one xarray-readable
//! Zarr dataset in one run of the engine.
//!
//! ```text
//! cargo run --release --example climate_anomaly -- SRC OUT.zarr [--var t2m] [--max-mem 2GiB]
//! cargo run --release --example climate_anomaly [--hours 8760]   # on a built-in dataset
//! ```
//!
//! SRC is anything `open_dataset` reads (Zarr, netCDF-4/HDF5, netCDF-3)
//! whose variable has dimensions `(time, lat, lon)`. Without SRC, a
//! smooth climate-like year of hourly 1-degree data (2.3 GB of float32 in
//! daily chunks, blosc-zstd) is written first.
//!
//! In xarray:
//!
//! ```text
//! clim = x.groupby("time.month").mean()
//! anom_std = (x.groupby("time.month") - clim).std("time")
//! global_mean = x.weighted(np.cos(np.deg2rad(x.lat))).mean(["lat", "lon"])
//! ```

mod support;

use std::time::Instant;

use ndchunk::chunking::parse_bytes;
use ndchunk::{open_dataset, Array, ComputeOptions, DataArray, Dataset, Values, ZarrWriteOptions};

type Error = Box<dyn std::error::Error>;

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Error> {
    let args = support::ExampleArgs::from_env();
    let var = args.flag("--var").unwrap_or_else(|| "t2m".into());
    let mut options = ComputeOptions::new();
    if let Some(max_mem) = args.flag("--max-mem") {
        options = options.max_mem(parse_bytes(&max_mem)?);
    }
    let scratch = tempfile::tempdir()?;
    let (src, out) = match args.paths() {
        Some(paths) => paths,
        None => {
            let hours: u64 = args.flag("--hours").map_or(Ok(8760), |h| h.parse())?;
            let src = scratch.path().join("hourly.zarr");
            println!(
                "no SRC given: writing {hours} hours of 1-degree t2m to {}",
                src.display()
            );
            let started = Instant::now();
            support::write_climate_dataset(&src, hours)?;
            println!("  written in {:.1} s", started.elapsed().as_secs_f64());
            (src, scratch.path().join("climate.zarr"))
        }
    };

    let ds = open_dataset(&src)?;
    let x = ds.get(&var)?;
    let by_month = x.groupby("time.month")?;
    let clim = by_month.mean()?;
    let anom_std = by_month.sub(&clim)?.std("time", 0)?;
    let lat = match x.coord("lat")?.values() {
        Values::Float { data, .. } => data.mapv(|l| l.to_radians().cos()),
        _ => return Err("lat is not numeric".into()),
    };
    let chunk = [lat.len() as u64];
    let weights = DataArray::new(Array::from_ndarray(lat, chunk)?, &["lat"])?;
    let global_mean = x.weighted(&weights)?.mean(["lat", "lon"])?;

    let summary = Dataset::new()
        .with_var("clim", clim)?
        .with_var("anom_std", anom_std)?
        .with_var("global_mean", global_mean)?;
    let started = Instant::now();
    let write = ZarrWriteOptions::new().compute(options.progress(true));
    let report = summary.to_zarr_with(&out, &write)?;
    println!(
        "wrote {} in {:.1} s: {} tasks in {} stages, peak {} MiB of {} MiB budget",
        out.display(),
        started.elapsed().as_secs_f64(),
        report.tasks_run,
        report.stages,
        report.peak_bytes >> 20,
        report.max_mem >> 20
    );
    println!("{summary}");
    Ok(())
}
