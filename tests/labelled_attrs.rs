//! Attributes through labelled operations, against xarray's defaults
//! (`keep_attrs`: one operand's kept, two operands' merged by
//! `"drop_conflicts"`): the result's name, attributes and each
//! coordinate's attributes, for reductions, groupby reductions and
//! arithmetic, resample, rolling, coarsen, weighted, `where`, comparisons,
//! shape operations, Dataset reductions and arithmetic (inner and outer
//! joins); and what `to_zarr` writes of computed results, as xarray reads
//! it back.

#[path = "support/attrs_json.rs"]
mod attrs_json;
mod support;

use attrs_json::{array_json, dataset_json, with_json};

use ndchunk::{Arith, CoarsenBoundary, DataArray, Dataset, Join};
use serde_json::{json, Value};

/// Writes the inputs to the store argv[1], then prints, for each case,
/// xarray's result: `{"name", "attrs", "coords": {name: attrs}}` for an
/// array, `{"attrs", "vars": {name: attrs}, "coords": ...}` for a dataset.
const XARRAY: &str = r#"
import json, sys
import numpy as np, pandas as pd, xarray as xr
time = pd.date_range("2000-01-30", periods=8, freq="D")
ds = xr.Dataset(
    {"t": (("time", "x"), np.arange(32.0).reshape(8, 4), {"units": "K", "long_name": "temp", "a": 1}),
     "u": (("time", "x"), np.ones((8, 4)), {"units": "m", "long_name": "temp", "b": 2}),
     "w": ("x", [1.0, 2.0, 3.0, 4.0], {"role": "weights"}),
     "p": ("x", [1.5, 2.5, 3.5, 4.5], {"units": "Pa"})},
    coords={"time": ("time", time, {"axis": "T"}),
            "x": ("x", [0.0, 1.0, 2.0, 3.0], {"units": "km"}),
            "kind": ("x", [1, 2, 1, 2], {"long_name": "kind"})},
    attrs={"title": "A", "k": 1})
ds.p.encoding = {"dtype": "int16", "scale_factor": 0.5}
ds.to_zarr(sys.argv[1], mode="w-", zarr_format=2, consolidated=True)
ds = xr.open_zarr(sys.argv[1]).load()
t, u, w = ds.t, ds.u, ds.w
clim = t.groupby("time.month").mean()
clim.attrs = {"units": "K", "c": 3}
a = xr.Dataset({"t": t, "u": u}, attrs={"title": "A", "k": 1})
b = xr.Dataset({"t": u, "u": u}, attrs={"title": "B", "j": 2})
b["u"].attrs = {"units": "m", "long_name": "other"}
with xr.set_options(arithmetic_join="outer"):
    outer = a.assign(w=w) + b
def with_attrs(x, attrs):
    x = x.copy()
    x.attrs = attrs
    return x
cases = {
    "mean": array(t.mean("time")),
    "std": array(t.std("x")),
    "quantile": array(t.quantile(0.5, dim="time")),
    "isel": array(t.isel(time=0)),
    "transpose": array(t.transpose("x", "time")),
    "rename": array(t.rename(x="y")),
    "expand_squeeze": array(t.expand_dims("run").squeeze()),
    "groupby_bins": array(t.groupby_bins("x", [-1.0, 1.5, 4.0]).mean()),
    "groupby_count": array(t.groupby("time.month").count()),
    "rolling_std": array(t.rolling(time=3).std()),
    "groupby_month_mean": array(t.groupby("time.month").mean()),
    "groupby_coord_max": array(t.groupby("kind").max()),
    "groupby_median": array(t.groupby("time.month").median()),
    "resample": array(t.resample(time="2D").mean()),
    "rolling": array(t.rolling(time=3).mean()),
    "coarsen": array(t.coarsen(time=2).mean()),
    "weighted_mean": array(t.weighted(w).mean("x")),
    "weighted_sum": array(t.weighted(w).sum("x")),
    "where": array(t.where(t > 3)),
    "greater": array(t > 3),
    "conflicting": array(t + u),
    "agreeing": array(t - with_attrs(t.mean("time"), {"units": "K", "c": 3})),
    "scalar": array(t * 2),
    "groupby_arith": array(t.groupby("time.month") - clim),
    "groupby_coord_arith": array(t.groupby("kind") - t.groupby("kind").mean()),
    "groupby_index_arith": array(t.groupby("x") - t.groupby("x").mean()),
    "ds_mean": dataset(a.mean("time")),
    "ds_std": dataset(a.std("x")),
    "ds_isel": dataset(a.isel(time=slice(0, 4))),
    "ds_groupby_mean": dataset(a.groupby("time.month").mean()),
    "ds_plus_ds": dataset(a + b),
    "ds_minus_da": dataset(a - with_attrs(clim.isel(month=0), {"units": "K", "c": 3})),
    "ds_plus_ds_outer": dataset(outer),
    "ds_groupby_arith": dataset(a.groupby("time.month") - b.groupby("time.month").mean()),
}
# Computed results as xarray writes them, for READ_BACK.
a.assign(p=ds.p).mean("time").assign(
    anomaly=(t.groupby("time.month") - clim).mean("time"),
    conflicting=(t + u).mean("time"),
).to_zarr(sys.argv[2], mode="w-", zarr_format=2, consolidated=True)
print(json.dumps(cases))
"#;

/// What xarray reads back from the store argv[1].
const READ_BACK: &str = r#"
import json, sys
import xarray as xr
ds = xr.open_zarr(sys.argv[1])
print(json.dumps({"attrs": dict(ds.attrs), "vars": {k: dict(v.attrs) for k, v in ds.data_vars.items()},
                  "coords": {k: dict(c.attrs) for k, c in ds.coords.items()},
                  "stored": {k: [str(v.encoding.get("dtype")), "scale_factor" in v.encoding]
                             for k, v in ds.variables.items()}}))
"#;

fn attrs(v: Value) -> ndchunk::Attrs {
    v.as_object().unwrap().clone()
}

/// `ours` and `theirs` agree (xarray's scalar `quantile` coordinate
/// included).
fn check(case: &str, ours: &Value, theirs: &Value) {
    assert_eq!(ours, theirs, "{case}: ours, then xarray's");
}

#[test]
fn attributes_follow_xarrays_keep_attrs_defaults() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("in.zarr");
    let theirs_written = dir.path().join("xarray.zarr");
    let want: Value = serde_json::from_slice(&support::run_python(
        &python,
        &with_json(XARRAY),
        &[&store, &theirs_written],
    ))
    .unwrap();
    let ds = ndchunk::open_zarr(&store).unwrap();
    let (t, u, w) = (
        ds.get("t").unwrap(),
        ds.get("u").unwrap(),
        ds.get("w").unwrap(),
    );
    let clim = t
        .groupby("time.month")
        .unwrap()
        .mean()
        .unwrap()
        .with_attrs(attrs(json!({"units": "K", "c": 3})));
    let a = Dataset::new()
        .with_var("t", t.clone())
        .unwrap()
        .with_var("u", u.clone())
        .unwrap()
        .with_attrs(attrs(json!({"title": "A", "k": 1})));
    let b = Dataset::new()
        .with_var("t", u.clone().with_name("t"))
        .unwrap()
        .with_var(
            "u",
            u.clone()
                .with_attrs(attrs(json!({"units": "m", "long_name": "other"}))),
        )
        .unwrap()
        .with_attrs(attrs(json!({"title": "B", "j": 2})));
    let k_and_c = attrs(json!({"units": "K", "c": 3}));
    let month = |da: &DataArray| da.groupby("time.month").unwrap();
    let arrays: Vec<(&str, DataArray)> = vec![
        ("mean", t.mean("time").unwrap()),
        ("std", t.std("x", 0).unwrap()),
        ("quantile", t.quantile(0.5, "time").unwrap()),
        ("isel", t.isel("time", 0).unwrap()),
        ("transpose", t.transpose(&["x", "time"]).unwrap()),
        ("rename", t.rename(&[("x", "y")]).unwrap()),
        (
            "expand_squeeze",
            t.expand_dims("run").unwrap().squeeze().unwrap(),
        ),
        (
            "groupby_bins",
            t.groupby_bins("x", &[-1.0, 1.5, 4.0])
                .unwrap()
                .mean()
                .unwrap(),
        ),
        ("groupby_count", month(&t).count().unwrap()),
        ("rolling_std", t.rolling("time", 3).unwrap().std().unwrap()),
        ("groupby_month_mean", month(&t).mean().unwrap()),
        (
            "groupby_coord_max",
            t.groupby("kind").unwrap().max().unwrap(),
        ),
        ("groupby_median", month(&t).median().unwrap()),
        (
            "resample",
            t.resample("time", "2D").unwrap().mean().unwrap(),
        ),
        ("rolling", t.rolling("time", 3).unwrap().mean().unwrap()),
        (
            "coarsen",
            t.coarsen(&[("time", 2)], CoarsenBoundary::Exact)
                .unwrap()
                .mean()
                .unwrap(),
        ),
        ("weighted_mean", t.weighted(&w).unwrap().mean("x").unwrap()),
        ("weighted_sum", t.weighted(&w).unwrap().sum("x").unwrap()),
        ("where", t.where_(&t.greater(3.0)).unwrap()),
        ("greater", t.greater(3.0)),
        ("conflicting", t.add(&u).unwrap()),
        (
            "agreeing",
            t.sub(&t.mean("time").unwrap().with_attrs(k_and_c.clone()))
                .unwrap(),
        ),
        ("scalar", &t * 2.0),
        ("groupby_arith", month(&t).sub(&clim).unwrap()),
        (
            "groupby_coord_arith",
            t.groupby("kind")
                .unwrap()
                .sub(&t.groupby("kind").unwrap().mean().unwrap())
                .unwrap(),
        ),
        (
            "groupby_index_arith",
            t.groupby("x")
                .unwrap()
                .sub(&t.groupby("x").unwrap().mean().unwrap())
                .unwrap(),
        ),
    ];
    let ds_minus_da = a
        .arith(
            Arith::Sub,
            &clim.isel("month", 0).unwrap().with_attrs(k_and_c),
            Join::Inner,
        )
        .unwrap();
    let datasets: Vec<(&str, Dataset)> = vec![
        ("ds_mean", a.mean("time").unwrap()),
        ("ds_std", a.std("x", 0).unwrap()),
        ("ds_isel", a.isel("time", 0..4).unwrap()),
        (
            "ds_groupby_mean",
            a.groupby("time.month").unwrap().mean().unwrap(),
        ),
        (
            "ds_plus_ds",
            a.arith_dataset(Arith::Add, &b, Join::Inner).unwrap(),
        ),
        ("ds_minus_da", ds_minus_da),
        (
            "ds_plus_ds_outer",
            a.clone()
                .with_var("w", w.clone())
                .unwrap()
                .arith_dataset(Arith::Add, &b, Join::Outer)
                .unwrap(),
        ),
        (
            "ds_groupby_arith",
            a.groupby("time.month")
                .unwrap()
                .arith(
                    Arith::Sub,
                    &b.groupby("time.month").unwrap().mean().unwrap(),
                )
                .unwrap(),
        ),
    ];
    let mut checked = 0;
    for (case, result) in &arrays {
        check(case, &array_json(result), &want[case]);
        checked += 1;
    }
    for (case, result) in &datasets {
        check(case, &dataset_json(result), &want[case]);
        checked += 1;
    }
    assert_eq!(
        checked,
        want.as_object().unwrap().len(),
        "every case checked"
    );

    // What to_zarr writes of computed results: their attributes (the
    // dataset's, each variable's), unpacked (a mean drops the encoding:
    // `p`, stored as int16 with a scale factor, is written as float64), as
    // xarray writes the same results.
    let computed = a
        .with_var("p", ds.get("p").unwrap())
        .unwrap()
        .mean("time")
        .unwrap()
        .with_var(
            "anomaly",
            month(&t).sub(&clim).unwrap().mean("time").unwrap(),
        )
        .unwrap()
        .with_var("conflicting", t.add(&u).unwrap().mean("time").unwrap())
        .unwrap();
    let out = dir.path().join("out.zarr");
    computed.to_zarr(&out).unwrap();
    let read = |path: &std::path::Path| -> Value {
        serde_json::from_slice(&support::run_python(&python, READ_BACK, &[path])).unwrap()
    };
    let (read, theirs) = (read(&out), read(&theirs_written));
    assert_eq!(
        read, theirs,
        "to_zarr: ours, then xarray's, as xarray reads them"
    );
    assert_eq!(read["stored"]["p"], json!(["float64", false]));
    assert_eq!(
        read["vars"]["t"],
        json!({"units": "K", "long_name": "temp", "a": 1})
    );
    assert_eq!(
        read["vars"]["anomaly"],
        json!({"units": "K", "long_name": "temp", "a": 1, "c": 3})
    );
    assert_eq!(
        read["vars"]["conflicting"],
        json!({"long_name": "temp", "a": 1, "b": 2})
    );
}
