//! xarray's view of a dataset as the labelled tests compare ours with
//! it (`labelled_open.rs`, `labelled_write.rs`): a script dumping what
//! `xr.open_dataset`/`xr.open_zarr` opens (dims, coordinates, attributes,
//! dtypes, values), and the comparison of a `Dataset` with that dump.
//! Included with `#[path]` beside `support`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;
use std::path::Path;

use ndchunk::{Dataset, Values};
use serde_json::Value;

/// Dumps what xarray opens at argv[1] into the directory argv[2]:
/// `meta.json` (sizes, coords, data variables with dims, dtype, attrs)
/// and each variable's values as little-endian f64 in `<name>.bin`
/// (times as strings in the JSON). argv[3]: "decode" or "raw"
/// (decode_times=False); argv[4]: "netcdf" or "zarr"; argv[5], if
/// given, the group.
pub const DUMP: &str = r#"
import json, sys, os
import numpy as np, xarray as xr
path, out, mode, engine = sys.argv[1:5]
group = sys.argv[5] if len(sys.argv) > 5 else None
times = xr.coders.CFDatetimeCoder(use_cftime=True) if mode == "decode" else False
if engine == "zarr":
    ds = xr.open_zarr(path, decode_times=times, group=group)
else:
    ds = xr.open_dataset(path, decode_times=times, group=group)
def tstr(t):
    s = f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return s + (f".{t.microsecond:06d}" if t.microsecond else "")
def jattr(v):
    if isinstance(v, np.ndarray):
        v = v.tolist()
        return v[0] if len(v) == 1 else v
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return "NaN"
    return v
def var(name, v):
    d = {"dims": list(v.dims), "dtype": str(v.dtype),
         "attrs": {k: jattr(a) for k, a in v.attrs.items()}}
    vals = v.values
    if vals.dtype == object or np.issubdtype(vals.dtype, np.datetime64):
        if np.issubdtype(vals.dtype, np.datetime64):
            import pandas as pd
            vals = np.vectorize(lambda x: pd.Timestamp(x), otypes=[object])(vals)
        d["times"] = [tstr(t) for t in vals.ravel()]
    else:
        np.asarray(vals, dtype="<f8").tofile(os.path.join(out, name + ".bin"))
    return d
meta = {"sizes": {k: int(n) for k, n in ds.sizes.items()},
        "coords": {k: var(k, ds[k].variable) for k in ds.coords},
        "data_vars": {k: var(k, ds[k].variable) for k in ds.data_vars},
        "attrs": {k: jattr(a) for k, a in ds.attrs.items()}}
json.dump(meta, open(os.path.join(out, "meta.json"), "w"))
"#;

pub fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A JSON attribute value equal to xarray's (numbers by value).
pub fn same_attr(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_attr(x, y))
        }
        _ => ours == theirs,
    }
}

pub fn check_attrs(what: &str, ours: &serde_json::Map<String, Value>, theirs: &Value) {
    let theirs = theirs.as_object().unwrap();
    let ours_keys: Vec<&String> = ours.keys().collect();
    let their_keys: Vec<&String> = theirs.keys().collect();
    let mut a = ours_keys.clone();
    let mut b = their_keys.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "{what}: attribute names");
    for (k, v) in theirs {
        assert!(
            same_attr(&ours[k], v),
            "{what}: attribute {k}: {} vs {v}",
            ours[k]
        );
    }
}

/// ndchunk's dataset against xarray's dump in `dir` (time-valued data
/// variables, such as time bounds, as dates on both sides).
pub fn compare(ds: &Dataset, dir: &Path) {
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let sizes: BTreeMap<String, u64> = ds.sizes().into_iter().collect();
    let their_sizes: BTreeMap<String, u64> = serde_json::from_value(meta["sizes"].clone()).unwrap();
    assert_eq!(sizes, their_sizes, "sizes");
    let mut coord_names: Vec<&String> = ds.coords().keys().collect();
    coord_names.sort();
    let mut their_coords: Vec<&String> = meta["coords"].as_object().unwrap().keys().collect();
    their_coords.sort();
    // A data variable of dates is a coordinate... no: compare names as sets.
    assert_eq!(coord_names, their_coords, "coordinate names");
    for (name, theirs) in meta["coords"].as_object().unwrap() {
        let coord = &ds.coords()[name];
        assert_eq!(coord.dims(), json_strings(&theirs["dims"]), "{name}: dims");
        check_attrs(name, coord.attrs(), &theirs["attrs"]);
        match (coord.values(), theirs.get("times")) {
            (Values::Time(dates), Some(times)) => {
                let ours: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
                assert_eq!(ours, json_strings(times), "{name}: times");
            }
            (values, None) => {
                assert_eq!(
                    values.type_name(),
                    theirs["dtype"].as_str().unwrap(),
                    "{name}: dtype"
                );
                let expected = super::support::read_f64(&dir.join(format!("{name}.bin")));
                let data = coord_numbers(values);
                assert_eq!(data.len(), expected.len(), "{name}: length");
                assert!(
                    data.iter().zip(&expected).all(|(a, b)| same(*a, *b)),
                    "{name}: values differ"
                );
            }
            (values, Some(_)) => panic!("{name}: xarray has dates, ndchunk {}", values.type_name()),
        }
    }
    let mut names: Vec<&str> = ds.data_vars().collect();
    names.sort();
    let mut theirs_names: Vec<&String> = meta["data_vars"].as_object().unwrap().keys().collect();
    theirs_names.sort();
    assert_eq!(names, theirs_names, "data variable names");
    for (name, theirs) in meta["data_vars"].as_object().unwrap() {
        let var = ds.get(name).unwrap();
        assert_eq!(var.dims(), json_strings(&theirs["dims"]), "{name}: dims");
        check_attrs(name, var.attrs(), &theirs["attrs"]);
        if let Some(times) = theirs.get("times") {
            // Dates in xarray, and in ndchunk: a time-valued data variable
            // (time_bnds) is decoded as xarray decodes it.
            assert!(var.is_time(), "{name}: xarray has dates, ndchunk numbers");
            let ours: Vec<String> = var.times().unwrap().iter().map(|d| d.to_string()).collect();
            assert_eq!(ours, json_strings(times), "{name}: times");
            continue;
        }
        assert!(!var.is_time(), "{name}: ndchunk has dates, xarray numbers");
        let values = var.values::<f64>().unwrap();
        let values: Vec<f64> = values.iter().copied().collect();
        let expected = super::support::read_f64(&dir.join(format!("{name}.bin")));
        assert_eq!(
            var.dtype().name(),
            theirs["dtype"].as_str().unwrap(),
            "{name}: dtype"
        );
        assert_eq!(values.len(), expected.len(), "{name}: length");
        let differ = values
            .iter()
            .zip(&expected)
            .filter(|(a, b)| !same(**a, **b))
            .count();
        assert_eq!(differ, 0, "{name}: {differ} values differ from xarray's");
    }
    check_attrs("global", ds.attrs(), &meta["attrs"]);
}

pub fn coord_numbers(values: &Values) -> Vec<f64> {
    match values {
        Values::Float { data, .. } => data.iter().copied().collect(),
        Values::Int { data, .. } => data.iter().map(|&v| v as f64).collect(),
        Values::UInt { data, .. } => data.iter().map(|&v| v as f64).collect(),
        Values::Bool(data) => data.iter().map(|&v| f64::from(u8::from(v))).collect(),
        other => panic!("not numbers: {}", other.type_name()),
    }
}

pub fn json_strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

pub fn dump(python: &Path, path: &Path, mode: &str, engine: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    super::support::run_python(
        python,
        DUMP,
        &[
            path.as_os_str(),
            dir.path().as_os_str(),
            mode.as_ref(),
            engine.as_ref(),
        ],
    );
    dir
}

/// Writes a dataset with xarray in `calendar` to a Zarr store (v2 or v3).
pub const WRITE: &str = r#"
import sys
import numpy as np, xarray as xr, cftime
out, calendar, fmt = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = xr.date_range("1999-12-01", periods=14, freq="MS", calendar=calendar, use_cftime=True)
lat = np.linspace(-60, 60, 5, dtype="float32")
rng = np.random.default_rng(0)
t = 15 + 10 * np.cos(np.deg2rad(lat))[None, :, None] + rng.normal(size=(14, 5, 8))
t[3, 2, 1] = np.nan
q = (np.arange(14 * 5 * 8, dtype="int16").reshape(14, 5, 8))
ds = xr.Dataset(
    {"t": (("time", "lat", "lon"), t.astype("float32"), {"units": "K", "long_name": "temperature"}),
     "count": (("time", "lat", "lon"), q)},
    coords={"time": times, "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": np.arange(8) * 45.0},
    attrs={"title": "calendars", "version": 3})
ds = ds.chunk({"time": 5, "lat": 5, "lon": 4})
ds.to_zarr(out, zarr_format=fmt, mode="w-")
"#;
