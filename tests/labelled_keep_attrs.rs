//! `KeepAttrs::set(false)` against `xr.set_options(keep_attrs=False)`:
//! the name, attributes and coordinates' attributes of reductions,
//! arithmetic, comparisons, groupby, rolling, weighted, `where`,
//! selections and Dataset results; and quantile's scalar `quantile`
//! coordinate (of an array and of groups), as xarray adds it, checked by
//! `xr.testing.assert_identical` on what ndchunk writes.

#[path = "support/attrs_json.rs"]
mod attrs_json;
mod support;

use attrs_json::{array_json, dataset_json, with_json};

use ndchunk::{Arith, DataArray, Dataset, Join, KeepAttrs, Values};
use serde_json::Value;

/// Writes the inputs to the store argv[1], then prints xarray's results
/// under `keep_attrs=False`: `{"name", "attrs", "coords": {name: attrs}}`
/// for an array, `{"attrs", "vars", "coords"}` for a dataset.
const XARRAY: &str = r#"
import json, sys
import numpy as np, pandas as pd, xarray as xr
time = pd.date_range("2000-01-30", periods=8, freq="D")
ds = xr.Dataset(
    {"t": (("time", "x"), np.arange(32.0).reshape(8, 4), {"units": "K", "a": 1}),
     "u": (("time", "x"), np.ones((8, 4)), {"units": "m", "b": 2}),
     "w": ("x", [1.0, 2.0, 3.0, 4.0], {"role": "weights"})},
    coords={"time": ("time", time, {"axis": "T"}),
            "x": ("x", [0.0, 1.0, 2.0, 3.0], {"units": "km"})},
    attrs={"title": "A"})
ds.to_zarr(sys.argv[1], mode="w-", zarr_format=2, consolidated=True)
ds = xr.open_zarr(sys.argv[1]).load()
t, u, w = ds.t, ds.u, ds.w
a = ds[["t", "u"]]
with xr.set_options(keep_attrs=False):
    cases = {
        "mean": array(t.mean("time")),
        "std": array(t.std("x")),
        "quantile": array(t.quantile(0.5, dim="time")),
        "add": array(t + u),
        "sub_self": array(t - t.mean("time")),
        "scalar": array(t * 2),
        "greater": array(t > 3),
        "where": array(t.where(t > 3)),
        "isel": array(t.isel(time=0)),
        "transpose": array(t.transpose("x", "time")),
        "groupby_mean": array(t.groupby("time.month").mean()),
        "groupby_arith": array(t.groupby("time.month") - t.groupby("time.month").mean()),
        "rolling": array(t.rolling(time=3).mean()),
        "weighted_mean": array(t.weighted(w).mean("x")),
        "ds_mean": dataset(a.mean("time")),
        "ds_plus_ds": dataset(a + a),
        "ds_groupby_mean": dataset(a.groupby("time.month").mean()),
    }
print(json.dumps(cases))
"#;

#[test]
fn keep_attrs_false_drops_attributes_where_xarray_drops_them() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("in.zarr");
    let want: Value =
        serde_json::from_slice(&support::run_python(&python, &with_json(XARRAY), &[&store]))
            .unwrap();
    let ds = ndchunk::open_zarr(&store).unwrap();
    let (t, u, w) = (
        ds.get("t").unwrap(),
        ds.get("u").unwrap(),
        ds.get("w").unwrap(),
    );
    let a = Dataset::new()
        .with_var("t", t.clone())
        .unwrap()
        .with_var("u", u.clone())
        .unwrap()
        .with_attrs(ds.attrs().clone());
    let month = |da: &DataArray| da.groupby("time.month").unwrap();
    let (arrays, datasets) = {
        let _keep = KeepAttrs::set(false);
        let arrays: Vec<(&str, DataArray)> = vec![
            ("mean", t.mean("time").unwrap()),
            ("std", t.std("x", 0).unwrap()),
            ("quantile", t.quantile(0.5, "time").unwrap()),
            ("add", t.add(&u).unwrap()),
            ("sub_self", t.sub(&t.mean("time").unwrap()).unwrap()),
            ("scalar", &t * 2.0),
            ("greater", t.greater(3.0)),
            ("where", t.where_(&t.greater(3.0)).unwrap()),
            ("isel", t.isel("time", 0).unwrap()),
            ("transpose", t.transpose(&["x", "time"]).unwrap()),
            ("groupby_mean", month(&t).mean().unwrap()),
            (
                "groupby_arith",
                month(&t).sub(&month(&t).mean().unwrap()).unwrap(),
            ),
            ("rolling", t.rolling("time", 3).unwrap().mean().unwrap()),
            ("weighted_mean", t.weighted(&w).unwrap().mean("x").unwrap()),
        ];
        let datasets: Vec<(&str, Dataset)> = vec![
            ("ds_mean", a.mean("time").unwrap()),
            (
                "ds_plus_ds",
                a.arith_dataset(Arith::Add, &a, Join::Inner).unwrap(),
            ),
            (
                "ds_groupby_mean",
                a.groupby("time.month").unwrap().mean().unwrap(),
            ),
        ];
        (arrays, datasets)
    };
    let mut checked = 0;
    for (case, result) in &arrays {
        assert_eq!(
            array_json(result),
            want[case],
            "{case}: ours, then xarray's"
        );
        checked += 1;
    }
    for (case, result) in &datasets {
        assert_eq!(
            dataset_json(result),
            want[case],
            "{case}: ours, then xarray's"
        );
        checked += 1;
    }
    assert_eq!(
        checked,
        want.as_object().unwrap().len(),
        "every case checked"
    );
    // The guard's scope ended: the default (keep) is back.
    assert_eq!(t.mean("time").unwrap().attrs(), t.attrs());
    assert!(!t.attrs().is_empty());
}

/// Writes the input store argv[1]; then, given ndchunk's results in
/// argv[2] (a store), checks them identical to xarray's after loading.
const QUANTILE: &str = r#"
import sys
import numpy as np, pandas as pd, xarray as xr
if sys.argv[1] == "make":
    time = pd.date_range("2000-01-01", periods=90, freq="D")
    rng = np.random.default_rng(7)
    ds = xr.Dataset({"t": (("time", "x"), rng.normal(size=(90, 3)), {"units": "K"})},
                    coords={"time": time, "x": [10.0, 20.0, 30.0]}, attrs={"title": "q"})
    ds.to_zarr(sys.argv[2], mode="w-", zarr_format=2, consolidated=True)
    sys.exit()
ds = xr.open_zarr(sys.argv[2]).load()
t = ds.t
want = xr.Dataset({
    "q": t.quantile(0.25, dim="time").drop_vars("quantile"),
    "gq": t.groupby("time.month").quantile(0.25).drop_vars("quantile"),
}, coords={"quantile": 0.25}, attrs={"title": "q"})
got = xr.open_zarr(sys.argv[3]).load()
for v in got.variables.values():
    v.encoding = {}
xr.testing.assert_identical(got, want)
assert float(got["quantile"]) == 0.25 and got["quantile"].dims == ()
"#;

#[test]
fn quantiles_have_xarrays_scalar_quantile_coordinate() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("in.zarr");
    support::run_python(&python, QUANTILE, &["make".as_ref(), store.as_os_str()]);
    let ds = ndchunk::open_zarr(&store).unwrap();
    let t = ds.get("t").unwrap();
    let q = t.quantile(0.25, "time").unwrap();
    let scalar = Values::float(ndarray::arr0(0.25).into_dyn());
    assert_eq!(q.coord("quantile").unwrap().values(), &scalar);
    assert!(q.coord("quantile").unwrap().dims().is_empty());
    let gq = t.groupby("time.month").unwrap().quantile(0.25).unwrap();
    assert_eq!(gq.coord("quantile").unwrap().values(), &scalar);
    let dsq = Dataset::new()
        .with_var("t", t.clone())
        .unwrap()
        .groupby("time.month")
        .unwrap()
        .quantile(0.25)
        .unwrap();
    assert_eq!(dsq.coords()["quantile"].values(), &scalar);
    let out = dir.path().join("out.zarr");
    Dataset::new()
        .with_var("q", q)
        .unwrap()
        .with_var("gq", gq)
        .unwrap()
        .with_attrs(ds.attrs().clone())
        .to_zarr(&out)
        .unwrap();
    support::run_python(
        &python,
        QUANTILE,
        &["check".as_ref(), store.as_os_str(), out.as_os_str()],
    );
}
