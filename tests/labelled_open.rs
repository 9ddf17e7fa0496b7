//! Opening as xarray opens: every netCDF fixture opens to the same
//! dimensions, coordinates (times included), attributes, dtypes and
//! decoded values (NaN where masked) as `xr.open_dataset`; groups as
//! xarray's `group=`; HDF5 without dimension scales gets netCDF-C's
//! phony dimensions; what xarray writes in each calendar, ndchunk reads
//! back the same.

mod support;
#[path = "support/xarray_dump.rs"]
mod xarray_dump;

use ndchunk::{open_dataset, open_dataset_with, open_zarr, OpenOptions};
use serde_json::Value;
use xarray_dump::{compare, dump, json_strings, DUMP, WRITE};

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
