//! The daily stores and comparisons shared by the grouped-operation tests
//! (`labelled_groupby.rs`, `labelled_windows.rs`, `labelled_quantiles.rs`):
//! a (time, lat, lon) float32 store with NaNs that xarray writes in any
//! calendar, with xarray's groupby results beside it, and the checks of
//! our results against xarray's dump. Included with `#[path]` beside
//! `support`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};

use ndchunk::chunking::ChunkGrid;
use ndchunk::{Chunks, DataArray, Values};
use serde_json::Value;

/// Writes a daily (time, lat, lon) float32 store with NaNs in `calendar`
/// (argv[2]) to argv[1], then dumps xarray's groupby results into argv[3]:
/// `meta.json` (per case: dims, dtype, labels) and `<case>.bin` (f64).
pub const XARRAY: &str = r#"
import json, sys, os
import numpy as np, xarray as xr
store, calendar, out = sys.argv[1:4]
times = xr.date_range("2000-01-01", periods=800, freq="D", calendar=calendar, use_cftime=True)
rng = np.random.default_rng(3)
doy = np.arange(800) % 360
t = (280 + 10 * np.cos(2 * np.pi * doy / 360)[:, None, None]
     + np.linspace(-5, 5, 3)[None, :, None] + rng.normal(size=(800, 3, 4))).astype("float32")
t[rng.random(t.shape) < 0.05] = np.nan
ds = xr.Dataset({"t": (("time", "lat", "lon"), t)},
                coords={"time": times, "lat": [-30.0, 0.0, 30.0], "lon": np.arange(4) * 90.0})
ds.chunk({"time": 100}).to_zarr(store, zarr_format=3, mode="w-")
ds = xr.open_zarr(store, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
da = ds.t
clim = da.groupby("time.month").mean()
cases = {
    "month_mean": clim,
    "season_mean": da.groupby("time.season").mean(),
    "season_anomaly": da.groupby("time.season") - da.groupby("time.season").mean(),
    "month_sum": da.groupby("time.month").sum(),
    "month_count": da.groupby("time.month").count(),
    "month_std": da.groupby("time.month").std(),
    "month_var1": da.groupby("time.month").var(ddof=1),
    "month_min": da.groupby("time.month").min(),
    "month_max": da.groupby("time.month").max(),
    "year_sum": da.groupby("time.year").sum(),
    "doy_mean": da.groupby("time.dayofyear").mean(),
    "lat_mean": da.groupby("lat").mean(),
    "anomaly": da.groupby("time.month") - clim,
    "anom_std": (da.groupby("time.month") - clim).std("time"),
    "lat_bins_mean": da.groupby_bins("lat", [-60.0, -45.0, 0.0, 45.0]).mean(),
}
meta = {}
for name, r in cases.items():
    key = [d for d in r.dims if d in ("month", "year", "dayofyear", "lat", "season", "lat_bins")]
    labels = [v if isinstance(v, (int, float, str)) else str(v) for v in r[key[0]].values.tolist()] if key else None
    meta[name] = {"dims": list(r.dims), "dtype": str(r.dtype), "key": key[0] if key else None,
                  "labels": labels if "anomaly" not in name else None}
    np.asarray(r.values, dtype="<f8").tofile(os.path.join(out, name + ".bin"))
json.dump(meta, open(os.path.join(out, "meta.json"), "w"))
"#;

/// Equal, NaN as NaN, within `rel` (float32 sums and moments are
/// accumulated in another order by numpy).
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * b.abs().max(1.0)
}

/// [`XARRAY`]'s store in `calendar` and its dump: the directory holding
/// both (kept while the test runs), the store, the dump's folder.
pub fn daily_store(python: &Path, calendar: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("daily.zarr");
    let out = dir.path().join("xarray");
    std::fs::create_dir(&out).unwrap();
    super::support::run_python(
        python,
        XARRAY,
        &[store.as_os_str(), calendar.as_ref(), out.as_os_str()],
    );
    (dir, store, out)
}

/// `t` on irregular time chunks that months straddle.
pub fn irregular(t: &DataArray) -> DataArray {
    let mut sizes = Vec::new();
    let mut left = t.shape()[0];
    for k in [7u64, 45, 13, 90, 31, 60].iter().cycle() {
        let k = (*k).min(left);
        sizes.push(k);
        left -= k;
        if left == 0 {
            break;
        }
    }
    let grid = ChunkGrid::from_sizes(&[sizes, vec![3], vec![2, 2]]).unwrap();
    t.chunk(Chunks::Grid(grid))
}

/// Our result's dims and dtype are xarray's (in `theirs`); the dims.
pub fn same_dims_and_dtype(what: &str, ours: &DataArray, theirs: &Value) -> Vec<String> {
    let dims: Vec<String> = serde_json::from_value(theirs["dims"].clone()).unwrap();
    assert_eq!(ours.dims(), dims, "{what}: dims");
    assert_eq!(
        ours.dtype().name(),
        theirs["dtype"].as_str().unwrap(),
        "{what}: dtype"
    );
    dims
}

/// Our result's values are xarray's (f64s at `path`) within `rel`.
pub fn same_values(what: &str, ours: &DataArray, path: &Path, rel: f64) {
    let expected = super::support::read_f64(path);
    let got: Vec<f64> = ours.values::<f64>().unwrap().iter().copied().collect();
    assert_eq!(got.len(), expected.len(), "{what}: size");
    let bad: Vec<String> = got
        .iter()
        .zip(&expected)
        .enumerate()
        .filter(|(_, (a, b))| !close(**a, **b, rel))
        .take(5)
        .map(|(i, (a, b))| format!("[{i}] {a} vs {b}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: values differ from xarray's: {bad:?}"
    );
}

pub fn labels_of(values: &Values) -> Vec<f64> {
    match values {
        Values::Int { data, .. } => data.iter().map(|&v| v as f64).collect(),
        Values::Float { data, .. } => data.iter().copied().collect(),
        other => panic!("unexpected labels {}", other.type_name()),
    }
}
