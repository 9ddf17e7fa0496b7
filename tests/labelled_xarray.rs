//! The labelled layer against xarray: every netCDF fixture opens to the
//! same dimensions, coordinates (times included), attributes, dtypes and
//! decoded values (NaN where masked) as `xr.open_dataset`; what ndchunk
//! writes, `xr.open_zarr` reads back the same; what xarray writes in each
//! calendar, ndchunk reads back the same.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use ndchunk::io::zarr::ZarrFormat;
use ndchunk::{open_dataset, open_dataset_with, open_zarr, Dataset, OpenOptions, Values};
use serde_json::{json, Value};

/// Dumps what xarray opens at argv[1] into the directory argv[2]:
/// `meta.json` (sizes, coords, data variables with dims, dtype, attrs)
/// and each variable's values as little-endian f64 in `<name>.bin`
/// (times as strings in the JSON). argv[3]: "decode" or "raw"
/// (decode_times=False); argv[4]: "netcdf" or "zarr"; argv[5], if
/// given, the group.
const DUMP: &str = r#"
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

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// A JSON attribute value equal to xarray's (numbers by value).
fn same_attr(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_attr(x, y))
        }
        _ => ours == theirs,
    }
}

fn check_attrs(what: &str, ours: &serde_json::Map<String, Value>, theirs: &Value) {
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
fn compare(ds: &Dataset, dir: &Path) {
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
                let expected = support::read_f64(&dir.join(format!("{name}.bin")));
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
        let expected = support::read_f64(&dir.join(format!("{name}.bin")));
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

fn coord_numbers(values: &Values) -> Vec<f64> {
    match values {
        Values::Float { data, .. } => data.iter().copied().collect(),
        Values::Int { data, .. } => data.iter().map(|&v| v as f64).collect(),
        Values::UInt { data, .. } => data.iter().map(|&v| v as f64).collect(),
        Values::Bool(data) => data.iter().map(|&v| f64::from(u8::from(v))).collect(),
        other => panic!("not numbers: {}", other.type_name()),
    }
}

fn json_strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn dump(python: &Path, path: &Path, mode: &str, engine: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    support::run_python(
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

/// A netCDF-4 file (`groups.nc`, by netCDF4-python) and a Zarr store
/// (`groups.zarr`, by xarray) with nested groups, in the directory argv[1].
const GROUPS: &str = r#"
import os, sys
import numpy as np, netCDF4, xarray as xr
out = sys.argv[1]
with netCDF4.Dataset(os.path.join(out, "groups.nc"), "w") as f:
    f.title = "root"
    f.createDimension("x", 3)
    f.createVariable("x", "f8", ("x",))[:] = [1.0, 2.0, 3.0]
    model = f.createGroup("model")
    model.source = "a model"
    model.createDimension("t", 2)
    model.createVariable("t", "i4", ("t",))[:] = [5, 6]
    run = model.createGroup("run1")
    run.member = 1
    w = run.createVariable("w", "f4", ("t", "x"))
    w[:] = np.arange(6).reshape(2, 3)
    w.units = "m"
root = xr.Dataset({"a": ("x", [1.0, 2.0])}, coords={"x": [0, 1]}, attrs={"title": "root"})
run = xr.Dataset({"w": (("t", "y"), np.arange(6.0).reshape(2, 3))}, coords={"t": [5, 6]},
                 attrs={"member": 1})
store = os.path.join(out, "groups.zarr")
root.to_zarr(store, zarr_format=2, consolidated=True)
run.to_zarr(store, group="model/run1", zarr_format=2, consolidated=True)
"#;

#[test]
fn a_group_opens_as_xarrays_group_argument_opens_it() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::run_python(&python, GROUPS, &[dir.path()]);
    let cases = [
        ("groups.nc", "netcdf", "model"),
        ("groups.nc", "netcdf", "model/run1"),
        ("groups.nc", "netcdf", "/model/run1/"),
        ("groups.zarr", "zarr", "model/run1"),
        ("groups.zarr", "zarr", "/"),
    ];
    for (file, engine, group) in cases {
        let path = dir.path().join(file);
        let theirs = tempfile::tempdir().unwrap();
        let args = [
            path.as_os_str(),
            theirs.path().as_os_str(),
            "decode".as_ref(),
            engine.as_ref(),
            group.as_ref(),
        ];
        support::run_python(&python, DUMP, &args);
        let ds = open_dataset_with(&path, &OpenOptions::new().group(group))
            .unwrap_or_else(|e| panic!("{file} {group}: {e}"));
        compare(&ds, theirs.path());
    }
    // A group that is not there, and names that are not plain, are errors
    // naming them (xarray: "group not found"); none reaches outside.
    for file in ["groups.nc", "groups.zarr"] {
        let path = dir.path().join(file);
        for group in [
            "nope",
            "model/nope",
            "..",
            "model/../model",
            "../groups.zarr",
            "model//run1",
        ] {
            let e = open_dataset_with(&path, &OpenOptions::new().group(group))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            let name = group.trim_matches('/');
            assert!(e.contains(name), "{file} {group}: {e}");
        }
    }
    // netCDF-3 has no groups.
    if let Some(path) = support::fixture("netcdf/hgt_djf.nc") {
        let options = OpenOptions::new().group("model");
        let e = open_dataset_with(path, &options).map(|_| ()).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("\"model\"") && e.contains("no such group"),
            "{e}"
        );
    }
}

/// HDF5 files whose datasets have no dimension scales (by h5py), some
/// beside netCDF dimensions (by netCDF4-python), in the directory argv[1].
const PHONY: &str = r#"
import os, sys
import numpy as np, h5py, netCDF4
out = sys.argv[1]
with h5py.File(os.path.join(out, "plain.h5"), "w") as f:
    f["a"] = np.arange(6.0).reshape(2, 3)
    f["b"] = np.arange(6.0).reshape(3, 2)
    f["c"] = np.arange(4.0).reshape(2, 2)
    f["z"] = np.arange(5.0)
    f.create_group("g")["v"] = np.arange(5.0)
    f.create_group("h")["v"] = np.arange(6.0)
    f["g"].create_group("k")["q"] = np.arange(7.0)
    f["m"] = np.arange(7.0)
mixed = os.path.join(out, "mixed.nc")
with netCDF4.Dataset(mixed, "w") as f:
    f.createDimension("x", 3)
    f.createVariable("x", "f8", ("x",))[:] = [1.0, 2.0, 3.0]
    g = f.createGroup("g")
    g.createDimension("y", 4)
    g.createVariable("u", "f8", ("x",))[:] = [1.0, 2.0, 3.0]
with h5py.File(mixed, "a") as f:
    f["raw"] = np.arange(12.0).reshape(3, 4)
    f["g"]["raw"] = np.arange(60.0).reshape(3, 4, 5)
"#;

#[test]
fn datasets_without_dimension_scales_get_netcdf_cs_phony_dimensions() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::run_python(&python, PHONY, &[dir.path()]);
    let cases = [
        ("plain.h5", "/"),
        ("plain.h5", "g"),
        ("plain.h5", "h"),
        ("plain.h5", "g/k"),
        ("mixed.nc", "/"),
        ("mixed.nc", "g"),
    ];
    for (file, group) in cases {
        let path = dir.path().join(file);
        let theirs = tempfile::tempdir().unwrap();
        let args = [
            path.as_os_str(),
            theirs.path().as_os_str(),
            "decode".as_ref(),
            "netcdf".as_ref(),
            group.as_ref(),
        ];
        support::run_python(&python, DUMP, &args);
        let ds = open_dataset_with(&path, &OpenOptions::new().group(group))
            .unwrap_or_else(|e| panic!("{file} {group}: {e}"));
        compare(&ds, theirs.path());
    }
}

/// HDF5 files with string datasets (by h5py), one a dimension scale, in
/// the directory argv[1]; prints each file's variables' dimensions as
/// xarray's netcdf4 engine (netCDF-C) names them.
const PHONY_STRINGS: &str = r#"
import json, os, sys
import numpy as np, h5py, xarray as xr
out = sys.argv[1]
with h5py.File(os.path.join(out, "scale.h5"), "w") as f:
    s = f.create_dataset("station", data=np.array([b"ab", b"cd"], dtype="S2"))
    s.make_scale("station")
    f["v"] = np.zeros((2, 3))
with h5py.File(os.path.join(out, "names.h5"), "w") as f:
    f["a_names"] = np.array([b"x", b"y", b"z"], dtype="S1")
    f["b"] = np.zeros((4,))
    f.create_group("g")["c"] = np.zeros((3, 5))
result = {}
for name in ["scale.h5", "names.h5"]:
    for group in [None, "g"] if name == "names.h5" else [None]:
        ds = xr.open_dataset(os.path.join(out, name), engine="netcdf4", group=group)
        result[f"{name}:{group or ''}"] = {k: list(v.dims) for k, v in ds.variables.items()}
print(json.dumps(result))
"#;

#[test]
fn phony_dimensions_count_string_datasets_and_scales_as_netcdf_c() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let theirs: Value =
        serde_json::from_slice(&support::run_python(&python, PHONY_STRINGS, &[dir.path()]))
            .unwrap();
    // netCDF-C: v(station, phony_dim_1) (the string scale is dimension 0);
    // g/c(phony_dim_0, phony_dim_1) first, then a_names(phony_dim_2), so
    // b(phony_dim_3).
    let expected = [
        ("scale.h5:", "v", ["station", "phony_dim_1"].as_slice()),
        ("names.h5:", "b", &["phony_dim_3"]),
        ("names.h5:g", "c", &["phony_dim_0", "phony_dim_1"]),
    ];
    for (case, var, dims) in expected {
        assert_eq!(
            json_strings(&theirs[case][var]),
            dims,
            "xarray {case} {var}"
        );
        let (file, group) = case.split_once(':').unwrap();
        let ds = open_dataset_with(dir.path().join(file), &OpenOptions::new().group(group))
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(ds.get(var).unwrap().dims(), dims, "ndchunk {case} {var}");
    }
}

const NETCDF: [&str; 5] = [
    "netcdf/A1B_north_america.nc",
    "netcdf/air_temperature_small.nc",
    "netcdf/hgt_djf.nc",
    "netcdf/uwnd_mean.nc",
    "netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc",
];

#[test]
fn every_netcdf_fixture_opens_as_xarray_opens_it() {
    let Some(python) = support::python_peer() else {
        return;
    };
    for file in NETCDF {
        let Some(path) = support::fixture(file) else {
            return;
        };
        let decoded = dump(&python, &path, "decode", "netcdf");
        let raw = dump(&python, &path, "raw", "netcdf");
        let ds = open_dataset(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        compare(&ds, decoded.path());
        let ds = open_dataset_with(&path, &OpenOptions::new().decode_times(false)).unwrap();
        compare(&ds, raw.path());
    }
}

#[test]
fn a_year_zero_reference_in_the_standard_calendar_is_refused_as_xarray_refuses_it() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let Some(path) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    // "hour since 0000-01-01": the standard calendar has no year 0.
    let e = open_dataset(&path).unwrap_err().to_string();
    assert!(e.contains("TIME"), "{e}");
    assert!(e.contains("year 0") || e.contains("year zero"), "{e}");
    // Without time decoding it opens, as xarray's decode_times=False.
    let raw = dump(&python, &path, "raw", "netcdf");
    let ds = open_dataset_with(&path, &OpenOptions::new().decode_times(false)).unwrap();
    compare(&ds, raw.path());
}

/// Writes a dataset with xarray in `calendar` to a Zarr store (v2 or v3).
const WRITE: &str = r#"
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

#[test]
fn what_xarray_writes_in_each_calendar_reads_back_the_same() {
    let Some(python) = support::python_peer() else {
        return;
    };
    for (calendar, format) in [
        ("standard", 2),
        ("noleap", 3),
        ("360_day", 2),
        ("all_leap", 3),
        ("julian", 3),
        ("proleptic_gregorian", 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("x.zarr");
        support::run_python(
            &python,
            WRITE,
            &[
                store.as_os_str(),
                calendar.as_ref(),
                format.to_string().as_ref(),
            ],
        );
        let ds = open_zarr(&store).unwrap_or_else(|e| panic!("{calendar}: {e}"));
        let theirs = dump(&python, &store, "decode", "zarr");
        compare(&ds, theirs.path());
        assert_eq!(
            ds.get("t").unwrap().data().grid().chunk_shape(),
            vec![5, 5, 4]
        );
    }
}

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
