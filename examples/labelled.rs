//! The labelled layer, as an xarray user writes it: open a dataset (CF
//! decoded, times in their calendar), select by label, reduce and subtract
//! by dimension name, write the results as one xarray-readable Zarr store.
//!
//! ```text
//! cargo run --release --example labelled -- SRC OUT.zarr [--var t2m]
//! cargo run --release --example labelled     # on a built-in dataset
//! ```
//!
//! SRC is anything `open_dataset` reads (Zarr, netCDF-4/HDF5, netCDF-3)
//! whose variable has dimensions `(time, lat, lon)` (named so). Without
//! arguments, two years of a smooth daily field in the `noleap` calendar
//! are written first, with ndchunk itself.

mod support;

use std::path::{Path, PathBuf};

use ndchunk::{
    open_dataset, Array, Calendar, CfDatetime, Coord, DataArray, Dataset, Sel, TimeUnits, Values,
};

type Error = Box<dyn std::error::Error>;

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let var = flag("--var").unwrap_or_else(|| "t2m".into());
    let scratch = tempfile::tempdir()?;
    let (src, out) = match (args.first(), args.get(1)) {
        (Some(src), Some(out)) if !src.starts_with("--") => {
            (PathBuf::from(src), PathBuf::from(out))
        }
        _ => {
            let src = scratch.path().join("daily.zarr");
            println!(
                "no SRC given: writing two noleap years of daily t2m to {}",
                src.display()
            );
            sample(&src)?;
            (src, scratch.path().join("summary.zarr"))
        }
    };

    let ds = open_dataset(&src)?;
    println!("{ds}");
    let t = ds.get(&var)?;
    // The climatology over all times, and summer 2001's departure from it:
    // a partial date string selects the whole months, and the subtraction
    // broadcasts the map over time by dimension name.
    let first_year = match t.coord("time")?.values().get(&[0]) {
        Some(ndchunk::Label::Time(first)) => first.year,
        _ => return Err("the time coordinate holds no dates".into()),
    };
    let clim = t.mean("time")?;
    let summer = t.sel(
        "time",
        Sel::range(
            format!("{}-06", first_year + 1).as_str(),
            format!("{}-08", first_year + 1).as_str(),
        ),
    )?;
    let anomaly = summer.sub(&clim)?.mean("time")?;
    let tropics = t
        .sel("lat", Sel::range(-30.0, 30.0))
        .or_else(|_| t.sel("lat", Sel::range(30.0, -30.0)))?
        .mean(["lat", "lon"])?;
    println!("{anomaly}");

    let summary = Dataset::new()
        .with_var("clim", clim)?
        .with_var("summer_anomaly", anomaly)?
        .with_var("tropical_mean", tropics)?;
    let report = summary.to_zarr(&out)?;
    println!(
        "wrote {} ({} tasks, peak {} MiB)",
        out.display(),
        report.tasks_run,
        report.peak_bytes >> 20
    );
    Ok(())
}

/// Two noleap years of a smooth daily field on a 1-degree grid, chunked by
/// month, as a model writes it.
fn sample(path: &Path) -> Result<(), Error> {
    let (nt, nlat, nlon) = (730u64, 90u64, 180u64);
    let days = Array::<f32>::arange(nt, [30])?.reshape(&[nt as i64, 1, 1]);
    let season = (&days * (2.0 * std::f32::consts::PI / 365.0)).cos() * -8.0;
    let lat: Vec<f64> = (0..nlat).map(|i| -89.0 + 2.0 * i as f64).collect();
    let lon: Vec<f64> = (0..nlon).map(|i| 2.0 * i as f64).collect();
    let profile = ndarray::Array::from_shape_fn((1, nlat as usize, 1), |(_, i, _)| {
        (288.0 - 30.0 * (lat[i].to_radians().sin()).powi(2)) as f32
    });
    let waves = ndarray::Array::from_shape_fn((1, 1, nlon as usize), |(_, _, j)| {
        (3.0 * (3.0 * lon[j].to_radians()).sin()) as f32
    });
    let field = &season
        + Array::from_ndarray(profile.into_dyn(), [1, nlat, 1])?
        + Array::from_ndarray(waves.into_dyn(), [1, 1, nlon])?;
    let field = field.rechunk([30, nlat, nlon]);
    let units: TimeUnits = "days since 2000-01-01".parse()?;
    let times = (0..nt)
        .map(|d| units.decode(d as f64, Calendar::NoLeap))
        .collect::<ndchunk::Result<Vec<CfDatetime>>>()?;
    let attrs = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect::<ndchunk::Attrs>()
    };
    let t2m = DataArray::new(field, &["time", "lat", "lon"])?
        .with_attrs(attrs(&[("units", "K"), ("long_name", "2 m temperature")]))
        .with_coord(
            "time",
            Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn()))?,
        )?
        .with_coord(
            "lat",
            Coord::new(&["lat"], Values::float(ndarray::arr1(&lat).into_dyn()))?
                .with_attrs(attrs(&[("units", "degrees_north")])),
        )?
        .with_coord(
            "lon",
            Coord::new(&["lon"], Values::float(ndarray::arr1(&lon).into_dyn()))?
                .with_attrs(attrs(&[("units", "degrees_east")])),
        )?;
    Dataset::new()
        .with_var("t2m", t2m)?
        .with_attrs(attrs(&[("title", "ndchunk sample")]))
        .to_zarr(path)?;
    Ok(())
}
