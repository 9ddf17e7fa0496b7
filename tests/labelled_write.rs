//! Writing as xarray writes: what ndchunk writes with `to_zarr`,
//! `xr.open_zarr` reads back the same (appended along time and written
//! into a region too); masked times and non-index time coordinates are
//! written back as xarray writes them.

mod support;
#[path = "support/xarray_dump.rs"]
mod xarray_dump;

use std::path::Path;

use ndchunk::io::zarr::ZarrFormat;
use ndchunk::{open_dataset, open_dataset_with, open_zarr, Dataset, OpenOptions, Values};
use serde_json::{json, Value};
use xarray_dump::{compare, dump, DUMP, WRITE};

#[test]
fn what_ndchunk_writes_xarray_reads_back_the_same() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let raw_times = OpenOptions::new().decode_times(false);
    for (file, options) in [
        ("netcdf/air_temperature_small.nc", OpenOptions::new()),
        (
            "netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc",
            OpenOptions::new(),
        ),
        ("netcdf/coads_climatology.cdf", raw_times),
    ] {
        let Some(path) = support::fixture(file) else {
            return;
        };
        let ds = open_dataset_with(&path, &options).unwrap();
        for format in [ZarrFormat::V2, ZarrFormat::V3] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out.zarr");
            ds.to_zarr_with(&out, &ndchunk::ZarrWriteOptions::new().format(format))
                .unwrap();
            // xarray reads back what ndchunk opened...
            // (COADS's year-0 times stay numbers on both sides.)
            let decode_times = !file.contains("coads");
            let theirs = match decode_times {
                true => dump(&python, &out, "decode", "zarr"),
                false => dump(&python, &out, "raw", "zarr"),
            };
            compare(&ds, theirs.path());
            // ...and ndchunk reads back what it wrote.
            let again = ndchunk::open_zarr_with(&out, &options).unwrap();
            compare(&again, theirs.path());
            // Packed data is written packed, as xarray writes it.
            if file.contains("air_temperature") {
                let stored =
                    ndchunk::open_zarr_with(&out, &OpenOptions::new().decode_cf(false)).unwrap();
                let air = stored.get("air").unwrap();
                assert_eq!(air.dtype(), ndchunk::io::DType::Int16);
                assert_eq!(air.attrs()["scale_factor"], 0.01);
            }
        }
        // A store is never overwritten.
        let dir = tempfile::tempdir().unwrap();
        let e = ds.to_zarr(dir.path()).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
    }
}

/// `n` noleap days from day `t0` of a field `t(time, x)` = 10 * day + x,
/// chunked by 5 days.
fn days(t0: u64, n: u64) -> Dataset {
    use ndchunk::{Array, Calendar, Coord, DataArray, TimeUnits};
    let units: TimeUnits = "days since 2000-01-01".parse().unwrap();
    let times: Vec<_> = (t0..t0 + n)
        .map(|d| units.decode(d as f64, Calendar::NoLeap).unwrap())
        .collect();
    let values = ndarray::Array::from_shape_fn((n as usize, 4), |(t, x)| {
        (10 * (t0 as usize + t) + x) as f32
    });
    let mut attrs = ndchunk::Attrs::new();
    attrs.insert("units".into(), "K".into());
    let t = DataArray::new(
        Array::from_ndarray(values.into_dyn(), [5, 4]).unwrap(),
        &["time", "x"],
    )
    .unwrap()
    .with_attrs(attrs)
    .with_coord(
        "time",
        Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn())).unwrap(),
    )
    .unwrap()
    .with_coord(
        "x",
        Coord::new(
            &["x"],
            Values::float(ndarray::arr1(&[0.0, 1.0, 2.0, 3.0]).into_dyn()),
        )
        .unwrap(),
    )
    .unwrap();
    Dataset::new().with_var("t", t).unwrap()
}

#[test]
fn appending_along_time_and_writing_a_region_read_back_as_xarray_reads_them() {
    let Some(python) = support::python_peer() else {
        return;
    };
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("days.zarr");
        let write = ndchunk::ZarrWriteOptions::new().format(format);
        days(0, 10).to_zarr_with(&store, &write).unwrap();
        days(10, 7)
            .to_zarr_with(&store, &ndchunk::ZarrWriteOptions::new().append("time"))
            .unwrap();
        // xarray and ndchunk read the 17 days as if written at once.
        let theirs = dump(&python, &store, "decode", "zarr");
        compare(&days(0, 17), theirs.path());
        compare(&open_zarr(&store).unwrap(), theirs.path());
        // The last chunk is now partial: a further append would rewrite it.
        let e = days(17, 3)
            .to_zarr_with(&store, &ndchunk::ZarrWriteOptions::new().append("time"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("inside a chunk of 5"), "{e}");

        // A region replaces days 5..10 and nothing else; its coordinates
        // must be the store's there.
        let e = days(100, 5)
            .to_zarr_with(
                &store,
                &ndchunk::ZarrWriteOptions::new().region("time", 5..10),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("coordinate \"time\" differs"), "{e}");
        let replaced = days(5, 5).arith_scalar_all(1000.0);
        let region = ndchunk::ZarrWriteOptions::new().region("time", 5..10);
        let e = days(3, 5)
            .to_zarr_with(
                &store,
                &ndchunk::ZarrWriteOptions::new().region("time", 3..8),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not fall on its chunks of 5"), "{e}");
        replaced.to_zarr_with(&store, &region).unwrap();
        let back = open_zarr(&store).unwrap().get("t").unwrap();
        let values = back.values::<f32>().unwrap();
        assert_eq!(values[[4, 0]], 40.0);
        assert_eq!(values[[5, 1]], 1051.0);
        assert_eq!(values[[10, 3]], 103.0);
        let Values::Time(times) = back.coord("time").unwrap().values().clone() else {
            panic!("times expected")
        };
        assert_eq!(times[[5]].to_string(), "2000-01-06 00:00:00");
    }
    // Appending to a store xarray wrote: in its units, dtype and calendar.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("x.zarr");
    support::run_python(
        &python,
        WRITE,
        &[store.as_os_str(), "noleap".as_ref(), "3".as_ref()],
    );
    let ds = open_zarr(&store).unwrap();
    let more = ds.isel("time", ndchunk::Index::range(0, 5, 1)).unwrap();
    let e = more
        .to_zarr_with(&store, &ndchunk::ZarrWriteOptions::new().append("time"))
        .unwrap_err()
        .to_string();
    // 14 months in chunks of 5: the store ends inside a chunk.
    assert!(e.contains("inside a chunk"), "{e}");
    let missing = dir.path().join("nothing.zarr");
    let e = more
        .to_zarr_with(&missing, &ndchunk::ZarrWriteOptions::new().append("time"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no store here"), "{e}");
}

trait PlusAll {
    fn arith_scalar_all(&self, v: f64) -> Dataset;
}

impl PlusAll for Dataset {
    /// The dataset with `v` added to `t` (its attributes kept, as xarray's).
    fn arith_scalar_all(&self, v: f64) -> Dataset {
        let t = self.get("t").unwrap();
        let plus = &t + v;
        assert_eq!(plus.attrs(), t.attrs());
        Dataset::new().with_var("t", plus).unwrap()
    }
}

/// Times with missing values, in the directory argv[1]: `nat.nc` (a float
/// time with `_FillValue` -999, by netCDF4-python) and `nat.zarr` (a
/// datetime64 coordinate with NaT, by xarray: int64's smallest, no fill).
const NAT_FILES: &str = r#"
import os, sys
import numpy as np, netCDF4, xarray as xr
out = sys.argv[1]
with netCDF4.Dataset(os.path.join(out, "nat.nc"), "w") as f:
    f.createDimension("time", 3)
    t = f.createVariable("time", "f8", ("time",), fill_value=-999.0)
    t.units = "days since 2000-01-01"
    t[:] = [0.0, -999.0, 2.0]
    f.createVariable("v", "f4", ("time",))[:] = [1.0, 2.0, 3.0]
times = np.array(["2000-01-01", "NaT", "2000-01-03T12"], dtype="datetime64[ns]")
xr.Dataset({"v": ("time", [1.0, 2.0, 3.0])}, coords={"time": times}).to_zarr(
    os.path.join(out, "nat.zarr"), zarr_format=2, consolidated=True)
"#;

/// What xarray reads at argv[1] (engine argv[2]): the time strings (NaT
/// as "NaT") and the raw stored numbers with the fill value.
const NAT_READ: &str = r#"
import json, sys
import numpy as np, pandas as pd, xarray as xr
path, engine = sys.argv[1:3]
ds = xr.open_zarr(path) if engine == "zarr" else xr.open_dataset(path)
raw = xr.open_zarr(path, decode_cf=False) if engine == "zarr" else xr.open_dataset(path, decode_cf=False)
def s(t):
    return "NaT" if pd.isna(t) else pd.Timestamp(t).strftime("%Y-%m-%d %H:%M:%S")
print(json.dumps({"times": [s(t) for t in ds.time.values],
                  "monthly": ds.v.groupby("time.month").mean().values.tolist(),
                  "raw": [None if v != v else float(v) for v in raw.time.values.tolist()],
                  "fill": raw.time.attrs.get("_FillValue", raw.time.encoding.get("_FillValue"))},
                 default=float))
"#;

fn nat_read(python: &Path, path: &Path, engine: &str) -> Value {
    let args = [path.as_os_str(), engine.as_ref()];
    serde_json::from_slice(&support::run_python(python, NAT_READ, &args)).unwrap()
}

fn time_strings(ds: &Dataset) -> Vec<String> {
    let Values::Time(times) = ds.coords()["time"].values() else {
        panic!("time is not decoded: {:?}", ds.coords()["time"].values())
    };
    times.iter().map(ToString::to_string).collect()
}

#[test]
fn masked_times_are_nat_and_are_written_back_as_xarray_writes_them() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::run_python(&python, NAT_FILES, &[dir.path()]);
    for (file, engine) in [("nat.nc", "netcdf"), ("nat.zarr", "zarr")] {
        let path = dir.path().join(file);
        let theirs = nat_read(&python, &path, engine);
        let ds = open_dataset(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            json!(time_strings(&ds)),
            theirs["times"],
            "{file}: decoded times"
        );
        // NaT is in no group.
        let monthly = ds.get("v").unwrap().groupby("time.month").unwrap().mean();
        let monthly = monthly.unwrap().values::<f64>().unwrap();
        assert_eq!(
            json!(monthly.into_raw_vec_and_offset().0),
            theirs["monthly"],
            "{file}"
        );
        // What ndchunk writes, xarray reads as the same times, NaT written
        // as the fill value the file had (else int64's smallest, as xarray).
        for format in [ZarrFormat::V2, ZarrFormat::V3] {
            let out = dir.path().join(format!("{file}.{format:?}.zarr"));
            ds.to_zarr_with(&out, &ndchunk::ZarrWriteOptions::new().format(format))
                .unwrap();
            let written = nat_read(&python, &out, "zarr");
            assert_eq!(
                written["times"], theirs["times"],
                "{file} {format:?}: times"
            );
            let nat = written["raw"][1].as_f64();
            if file == "nat.nc" {
                assert_eq!(
                    nat,
                    Some(-999.0),
                    "{file} {format:?}: NaT stored as the fill"
                );
                assert_eq!(written["fill"].as_f64(), Some(-999.0), "{file} {format:?}");
            } else {
                assert_eq!(nat, Some(i64::MIN as f64), "{file} {format:?}: NaT stored");
            }
            let again = open_zarr(&out).unwrap();
            assert_eq!(time_strings(&again), time_strings(&ds), "{file} {format:?}");
        }
    }
}

/// A non-index time coordinate (named by a `coordinates` attribute, in
/// the 360_day calendar, with a masked value), in the file argv[1].
const TIME_COORD: &str = r#"
import sys
import netCDF4
with netCDF4.Dataset(sys.argv[1], "w") as f:
    f.createDimension("step", 3)
    f.createVariable("step", "i4", ("step",))[:] = [0, 1, 2]
    vt = f.createVariable("valid_time", "f8", ("step",), fill_value=-1.0)
    vt.units = "hours since 2000-02-29 00:00"
    vt.calendar = "360_day"
    vt[:] = [12.0, -1.0, 36.0]
    v = f.createVariable("v", "f4", ("step",))
    v.coordinates = "valid_time"
    v[:] = [1.0, 2.0, 3.0]
"#;

#[test]
fn a_non_index_time_coordinate_is_decoded_and_written_back_as_xarray() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("valid_time.nc");
    support::run_python(&python, TIME_COORD, &[&path]);
    let ds = open_dataset(&path).unwrap();
    let Values::Time(times) = ds.coords()["valid_time"].values() else {
        panic!("valid_time is not decoded")
    };
    let shown: Vec<String> = times.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["2000-02-29 12:00:00", "NaT", "2000-02-30 12:00:00"]);
    // The same as xarray's, NaT aside (xarray's cftime path shows the
    // reference date there): compared on the stores without the NaT.
    let ds = ds.isel("step", ndchunk::Index::range(0, 3, 2)).unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.zarr");
    ds.to_zarr(&out).unwrap();
    support::run_python(
        &python,
        DUMP,
        &[
            out.as_os_str(),
            theirs.path().as_os_str(),
            "decode".as_ref(),
            "zarr".as_ref(),
        ],
    );
    compare(&ds, theirs.path());
    compare(&open_zarr(&out).unwrap(), theirs.path());
}
