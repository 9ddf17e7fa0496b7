//! Time-valued data variables against xarray: a netCDF-4 file written by
//! xarray with time bounds (which take the time's units, as xarray gives
//! them) and a variable of its own `days since` units, in the `noleap`
//! and `standard` calendars, opens to the same dates; selections, `where`,
//! min, max and mean over time give xarray's dates; `to_zarr` writes them
//! back as they were stored (units, calendar, dtype, fill value), which
//! xarray reads back identical; and what is not defined on dates is
//! refused. (A masked time in a non-standard calendar is not among the
//! cases: xarray's cftime decoding fails on it.)

mod support;

use std::path::Path;

use ndchunk::{open_dataset, open_dataset_with, DataArray, Dataset, OpenOptions};
use serde_json::Value;

/// Writes `<argv[1]>/<calendar>.nc` for each calendar, then prints
/// xarray's dates (cftime, as strings; "NaT" where missing) of each case.
const XARRAY: &str = r#"
import json, os, sys
import numpy as np, xarray as xr
out = sys.argv[1]
cftime = xr.coders.CFDatetimeCoder(use_cftime=True)
def tstr(t):
    if not hasattr(t, "year"):
        return "NaT"
    s = f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return s + (f".{t.microsecond:06d}" if t.microsecond else "")
def times(v):
    return [tstr(t) for t in np.asarray(v.values).ravel()]
result = {}
for cal in ["noleap", "standard"]:
    ds = xr.Dataset(
        {"time_bnds": (("time", "nv"), np.array([[0, 31], [31, 59], [59, 90], [90, 120]], dtype="f8")),
         "frost": (("time", "x"), np.array([[10, 11, 40], [12, 13, 59], [15, 17, 60], [16, 19, 61]], dtype="i4"),
                   {"units": "days since 2000-02-01", "calendar": cal, "long_name": "first frost"}),
         "thaw": (("time", "x"), np.array([[70, 74, 80], [71, 75, 79.5], [72, 76, 81], [73, 77, 82]]),
                  {"units": "hours since 2000-03-01 06:00", "calendar": cal}),
         "t": (("time", "x"), np.arange(12.0).reshape(4, 3), {"units": "K"})},
        coords={"time": ("time", [15.5, 45.0, 74.5, 105.0],
                         {"units": "days since 2000-01-01", "calendar": cal, "bounds": "time_bnds"}),
                "x": ("x", [1.0, 2.0, 3.0])},
        attrs={"title": cal})
    ds.thaw.encoding = {"dtype": "int16", "_FillValue": -1}
    path = os.path.join(out, cal + ".nc")
    ds.to_netcdf(path, format="NETCDF4")
    o = xr.open_dataset(path, decode_times=cftime).load()
    f, b = o.frost, o.time_bnds
    result[cal] = {
        "frost": times(f), "time_bnds": times(b),
        "frost_attrs": dict(f.attrs), "time_bnds_attrs": dict(b.attrs),
        "frost_min": times(f.min("time")), "frost_max": times(f.max("time")),
        "frost_mean": times(f.mean("time")), "frost_mean_x": times(f.mean("x")),
        "bnds_min": times(b.min("time")), "bnds_max": times(b.max("time")),
        "bnds_mean": times(b.mean("time")),
        "frost_isel": times(f.isel(x=2)), "frost_sel": times(f.sel(x=slice(2.0, 3.0))),
        "frost_where": times(f.where(o.x > 1.5)),
        "frost_transposed": times(f.transpose("x", "time")),
        "ds_mean_bnds": times(o.mean("time").time_bnds),
        "thaw": times(o.thaw), "thaw_isel": times(o.thaw.isel(time=0)),
    }
    if cal == "standard":
        # Default decoding: numpy datetime64, the same instants.
        d = xr.open_dataset(path).load()
        assert d.frost.dtype.kind == "M", d.frost.dtype
        import pandas as pd
        result[cal]["frost_mean_default"] = [
            tstr(pd.Timestamp(t)) for t in d.frost.mean("time").values.ravel()]
print(json.dumps(result))
"#;

/// What ndchunk wrote to argv[2] from argv[1], read back by xarray, is
/// identical to the file as xarray reads it, each time variable stored
/// with the file's units, calendar and dtype.
const ROUND_TRIP: &str = r#"
import sys
import xarray as xr
cftime = xr.coders.CFDatetimeCoder(use_cftime=True)
nc = xr.open_dataset(sys.argv[1], decode_times=cftime).load()
back = xr.open_zarr(sys.argv[2], decode_times=cftime).load()
xr.testing.assert_identical(back, nc)
for name in ["frost", "time_bnds", "time", "thaw"]:
    ours, theirs = back[name].encoding, nc[name].encoding
    for key in ["units", "calendar", "dtype"] + (["_FillValue"] if name == "thaw" else []):
        assert ours[key] == theirs[key], (name, key, ours.get(key), theirs.get(key))
raw = xr.open_zarr(sys.argv[2], decode_cf=False)
assert raw.frost.attrs["units"] == "days since 2000-02-01", raw.frost.attrs
"#;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn dates(a: &DataArray) -> Vec<String> {
    a.times().unwrap().iter().map(|d| d.to_string()).collect()
}

fn xarray_cases(python: &Path, dir: &Path) -> Value {
    serde_json::from_slice(&support::run_python(python, XARRAY, &[dir])).unwrap()
}

#[test]
fn time_variables_decode_select_and_reduce_as_xarray() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let want = xarray_cases(&python, dir.path());
    for calendar in ["noleap", "standard"] {
        let want = &want[calendar];
        let ds = open_dataset(dir.path().join(format!("{calendar}.nc"))).unwrap();
        let (frost, bnds) = (ds.get("frost").unwrap(), ds.get("time_bnds").unwrap());
        assert!(frost.is_time() && bnds.is_time() && !ds.get("t").unwrap().is_time());
        let (units, cal) = frost.time_units().unwrap();
        assert_eq!(units.to_string(), "days since 2000-02-01");
        assert_eq!(cal.name(), calendar);
        // time_bnds has no units of its own: it takes the time's.
        assert_eq!(
            bnds.time_units().unwrap().0.to_string(),
            "days since 2000-01-01"
        );
        let mut cases: Vec<(&str, DataArray)> = vec![
            ("frost", frost.clone()),
            ("time_bnds", bnds.clone()),
            ("frost_min", frost.min("time").unwrap()),
            ("frost_max", frost.max("time").unwrap()),
            ("frost_mean", frost.mean("time").unwrap()),
            ("frost_mean_x", frost.mean("x").unwrap()),
            ("bnds_min", bnds.min("time").unwrap()),
            ("bnds_max", bnds.max("time").unwrap()),
            ("bnds_mean", bnds.mean("time").unwrap()),
            ("frost_isel", frost.isel("x", 2).unwrap()),
            (
                "frost_sel",
                frost.sel("x", ndchunk::Sel::range(2.0, 3.0)).unwrap(),
            ),
            (
                "frost_where",
                frost.where_(&ds.get("x").unwrap().greater(1.5)).unwrap(),
            ),
            ("frost_transposed", frost.transpose(&["x", "time"]).unwrap()),
            (
                "ds_mean_bnds",
                ds.mean("time").unwrap().get("time_bnds").unwrap(),
            ),
        ];
        let thaw = ds.get("thaw").unwrap();
        cases.push(("thaw", thaw.clone()));
        cases.push(("thaw_isel", thaw.isel("time", 0).unwrap()));
        if calendar == "standard" {
            cases.push(("frost_mean_default", frost.mean("time").unwrap()));
        }
        for (case, result) in &cases {
            assert!(result.is_time(), "{calendar} {case}: still dates");
            assert_eq!(dates(result), strings(&want[case]), "{calendar} {case}");
        }
        // Attributes as xarray's: units and calendar are the encoding's.
        assert_eq!(Value::Object(frost.attrs().clone()), want["frost_attrs"]);
        assert_eq!(Value::Object(bnds.attrs().clone()), want["time_bnds_attrs"]);
        assert_eq!(frost.encoding()["units"], "days since 2000-02-01");
        // A renamed time variable is one still, and shows as dates.
        let renamed = frost.rename(&[("x", "station")]).unwrap();
        assert_eq!(dates(&renamed), strings(&want["frost"]));
        let shown = ds.to_string();
        assert!(
            shown.contains(&format!(
                "frost     (time, x) datetime ({calendar}) chunks=(4, 3)"
            )),
            "{shown}"
        );
        assert!(frost.to_string().contains("datetime"), "{frost}");
    }
}

#[test]
fn to_zarr_writes_time_variables_back_as_they_were_stored() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    xarray_cases(&python, dir.path());
    for calendar in ["noleap", "standard"] {
        let nc = dir.path().join(format!("{calendar}.nc"));
        let out = dir.path().join(format!("{calendar}.zarr"));
        open_dataset(&nc).unwrap().to_zarr(&out).unwrap();
        support::run_python(&python, ROUND_TRIP, &[&nc, &out]);
        // And ndchunk reads back the same dates.
        let back = ndchunk::open_zarr(&out).unwrap();
        let first = open_dataset(&nc).unwrap();
        for name in ["frost", "time_bnds", "thaw"] {
            assert_eq!(
                dates(&back.get(name).unwrap()),
                dates(&first.get(name).unwrap()),
                "{calendar} {name}"
            );
        }
        // A computed mean (fractional days) is written in the units it
        // counts in and read back to the same dates.
        let mean_out = dir.path().join(format!("{calendar}-mean.zarr"));
        let mean = first.get("frost").unwrap().mean("time").unwrap();
        Dataset::new()
            .with_var("frost", mean.clone())
            .unwrap()
            .to_zarr(&mean_out)
            .unwrap();
        let read = ndchunk::open_zarr(&mean_out).unwrap().get("frost").unwrap();
        assert_eq!(dates(&read), dates(&mean));
    }
}

#[test]
fn what_is_not_defined_on_dates_is_refused_naming_the_variable() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    xarray_cases(&python, dir.path());
    let ds = open_dataset(dir.path().join("noleap.nc")).unwrap();
    let frost = ds.get("frost").unwrap();
    let t = ds.get("t").unwrap();
    let refused = |what: &str, err: ndchunk::Error, op: &str| {
        let text = err.to_string();
        assert!(
            text.contains("\"frost\" is a time variable") && text.contains(op),
            "{what}: {text}"
        );
    };
    refused("sum", frost.sum("time").unwrap_err(), "sum");
    refused("std", frost.std("time", 0).unwrap_err(), "std");
    refused("var", frost.var("x", 1).unwrap_err(), "var");
    refused("add", frost.add(&t).unwrap_err(), "add");
    refused("add, right", t.add(&frost).unwrap_err(), "add");
    refused(
        "quantile",
        frost.quantile(0.5, "time").unwrap_err(),
        "quantile",
    );
    refused("rolling", frost.rolling("time", 2).unwrap_err(), "rolling");
    refused("where", t.where_(&frost).unwrap_err(), "where");
    let values = frost.values::<f64>().unwrap_err().to_string();
    assert!(
        values.contains("\"frost\"") && values.contains("times()"),
        "{values}"
    );
    refused("ds.std", ds.std("time", 0).unwrap_err(), "std");
    refused(
        "ds.sum",
        ds.reduce(ndchunk::Reduction::Sum, "time", None)
            .unwrap_err(),
        "sum",
    );
    // Operations that cannot fail when called give arrays that fail when
    // computed: never numbers computed from the stored day counts.
    for (what, result) in [
        ("scalar", &frost * 2.0),
        ("greater", frost.greater(3.0)),
        ("groupby", frost.groupby("x").unwrap().mean().unwrap()),
    ] {
        assert!(!result.is_time(), "{what}");
        let err = result.values::<f64>().unwrap_err().to_string();
        assert!(
            err.contains("time variable (dates in days since 2000-02-01, noleap)"),
            "{what}: {err}"
        );
    }
    // Selections stay dates.
    assert!(frost.isel("time", 0..2).unwrap().is_time());
    // Undecoded, it is numbers.
    let raw = open_dataset_with(
        dir.path().join("noleap.nc"),
        &OpenOptions::new().decode_times(false),
    )
    .unwrap();
    let numbers = raw.get("frost").unwrap();
    assert!(!numbers.is_time());
    assert_eq!(numbers.values::<i32>().unwrap()[[0, 0]], 10);
    assert_eq!(numbers.attrs()["units"], "days since 2000-02-01");
    let raw_bnds = raw.get("time_bnds").unwrap();
    assert!(!raw_bnds.is_time() && raw_bnds.attrs().is_empty());
    assert!(numbers.sum("time").is_ok());
    assert!(frost.times().is_ok() && t.times().is_err());
}

#[test]
fn a_time_coordinate_taken_as_an_array_is_a_time_variable() {
    use ndchunk::{Array, Calendar, CfDatetime, Coord, Values};
    let day = |d| CfDatetime::new(2001, 2, d, 6, 0, 0, 0, Calendar::Day360).unwrap();
    let dates = ndarray::arr1(&[day(28), day(29), day(30)]).into_dyn();
    let data = Array::<f64>::ones(&[3], [2]).unwrap();
    let time = Coord::new(&["time"], Values::Time(dates.clone())).unwrap();
    let t = DataArray::new(data, &["time"])
        .unwrap()
        .with_coord("time", time)
        .unwrap();
    let ds = Dataset::new().with_var("t", t).unwrap();
    // As xarray's ds["time"]: the dates, and what is defined on them.
    let time = ds.get("time").unwrap();
    assert!(time.is_time());
    assert_eq!(time.times().unwrap(), dates);
    assert_eq!(time.max("time").unwrap().times().unwrap()[[]], day(30));
    assert_eq!(time.mean("time").unwrap().times().unwrap()[[]], day(29));
    assert!(time.sum("time").is_err());
    // NaT (stored as int64's smallest) is skipped, as xarray's skipna.
    let with_nat = ndarray::arr1(&[day(29), CfDatetime::nat(Calendar::Day360), day(28)]);
    let time = Coord::new(&["time"], Values::Time(with_nat.into_dyn())).unwrap();
    let t = DataArray::new(Array::<f64>::ones(&[3], [3]).unwrap(), &["time"])
        .unwrap()
        .with_coord("time", time)
        .unwrap();
    let time = Dataset::new()
        .with_var("t", t)
        .unwrap()
        .get("time")
        .unwrap();
    assert_eq!(time.min("time").unwrap().times().unwrap()[[]], day(28));
    assert_eq!(time.max("time").unwrap().times().unwrap()[[]], day(29));
    assert!(time.times().unwrap()[[1]].is_nat());
}

/// Writes argv[1]/tf.nc with netCDF4-python: float times with a finite
/// `_FillValue`, not whole in their units, one of them masked.
const FLOAT_FILL_TIMES: &str = r#"
import sys, os
import numpy as np, netCDF4
with netCDF4.Dataset(os.path.join(sys.argv[1], "tf.nc"), "w") as d:
    d.createDimension("time", 3)
    t = d.createVariable("time", "f8", ("time",), fill_value=-9999.0)
    t.units = "days since 2000-01-01"
    t[:] = np.ma.masked_array([0.0, 0.5, 0.0], mask=[False, False, True])
    d.createVariable("v", "f4", ("time",))[:] = [1.0, 2.0, 3.0]
"#;

/// xarray reads the store argv[2] with the same times as the file argv[1]
/// (the masked one NaT) and its NaT not as the fill number.
const SAME_TIMES: &str = r#"
import sys
import numpy as np, xarray as xr
nc = xr.open_dataset(sys.argv[1]).load()
back = xr.open_zarr(sys.argv[2]).load()
assert np.isnat(nc.time.values[2]), nc.time.values
np.testing.assert_array_equal(back.time.values, nc.time.values)
raw = xr.open_zarr(sys.argv[2], decode_cf=False, mask_and_scale=False)
assert np.isnan(raw.time.values[2]), raw.time.values
"#;

#[test]
fn nat_in_float_times_with_a_finite_fill_stays_nat_through_to_zarr() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::run_python(&python, FLOAT_FILL_TIMES, &[dir.path()]);
    let nc = dir.path().join("tf.nc");
    let out = dir.path().join("tf.zarr");
    let ds = open_dataset(&nc).unwrap();
    ds.to_zarr(&out).unwrap();
    support::run_python(&python, SAME_TIMES, &[&nc, &out]);
    let back = ndchunk::open_zarr(&out).unwrap();
    let ndchunk::Values::Time(t) = back.coords()["time"].values().clone() else {
        panic!("time is not dates");
    };
    assert!(t[[2]].is_nat(), "NaT came back as {}", t[[2]]);
    assert_eq!(t[[1]].to_string(), "2000-01-01 12:00:00");
    // Taken as an array, the time's numbers mark NaT as NaN too.
    let time = ds.get("time").unwrap();
    assert!(time.times().unwrap()[[2]].is_nat());
}

/// `[0, 1, 2]` along `time` at `times`.
fn along(times: &[ndchunk::CfDatetime]) -> Dataset {
    use ndchunk::{Array, Coord, Values};
    let n = times.len() as u64;
    let data = Array::<f64>::ones(&[n], [n]).unwrap();
    let dates = ndarray::Array1::from(times.to_vec()).into_dyn();
    let time = Coord::new(&["time"], Values::Time(dates)).unwrap();
    let v = DataArray::new(data, &["time"])
        .unwrap()
        .with_coord("time", time)
        .unwrap();
    Dataset::new().with_var("v", v).unwrap()
}

/// Writes the store argv[1] with xarray: two whole days kept as float64
/// numbers (the time's encoding), in chunks of 2.
const FLOAT_DAYS: &str = r#"
import sys
import numpy as np, pandas as pd, xarray as xr
ds = xr.Dataset({"v": ("time", np.ones(2))},
                coords={"time": pd.date_range("2000-01-01", periods=2)})
ds.time.encoding = {"dtype": "float64", "units": "days since 2000-01-01"}
ds.chunk({"time": 2}).to_zarr(sys.argv[1], zarr_format=2, consolidated=True)
"#;

/// xarray reads the store argv[1] back with NaT last.
const NAT_LAST: &str = r#"
import sys
import numpy as np, xarray as xr
t = xr.open_zarr(sys.argv[1]).time.values
assert str(t[2]).startswith("2000-01-03T00:00:00") and np.isnat(t[3]), t
"#;

#[test]
fn nat_appended_into_float_times_stays_nat() {
    use ndchunk::{Calendar, CfDatetime};
    let Some(python) = support::python_peer() else {
        return;
    };
    let day = |d| CfDatetime::new(2000, 1, d, 0, 0, 0, 0, Calendar::ProlepticGregorian).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.zarr");
    support::run_python(&python, FLOAT_DAYS, &[&out]);
    // Whole days with a NaT: encoded as int64, NaT as int64's smallest,
    // which the float store must hold as NaN.
    along(&[day(3), CfDatetime::nat(Calendar::ProlepticGregorian)])
        .to_zarr_with(&out, &ndchunk::ZarrWriteOptions::new().append("time"))
        .unwrap();
    let back = ndchunk::open_zarr(&out).unwrap();
    let ndchunk::Values::Time(times) = back.coords()["time"].values().clone() else {
        panic!("time is not dates");
    };
    assert_eq!(times[[2]], day(3));
    assert!(times[[3]].is_nat(), "NaT came back as {}", times[[3]]);
    support::run_python(&python, NAT_LAST, &[&out]);
}
