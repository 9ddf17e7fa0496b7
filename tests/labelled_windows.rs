//! Window operations against xarray on the daily store of
//! `support/labelled_stores.rs`: `resample` (labels and edges), `coarsen`
//! (every boundary), `weighted` means and sums, and `rolling` (centred or
//! not, `min_periods`), with NaNs, over irregular chunks.

#[path = "support/labelled_stores.rs"]
mod labelled_stores;
mod support;

use labelled_stores::{daily_store, irregular, labels_of, same_dims_and_dtype, same_values};
use ndchunk::{open_zarr, DataArray, Values};
use serde_json::Value;

/// The same store as [`labelled_stores::XARRAY`]'s, then xarray's resample, coarsen and
/// weighted results (the time labels of resampled results as strings).
const XARRAY_WINDOWS: &str = r#"
import json, sys, os
import numpy as np, xarray as xr
store, out = sys.argv[1:3]
ds = xr.open_zarr(store, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
da = ds.t
w = np.cos(np.deg2rad(da.lat))
cases = {
    "resample_MS": da.resample(time="MS").mean(),
    "resample_QS-DEC": da.resample(time="QS-DEC").max(),
    "resample_YS": da.resample(time="YS").sum(),
    "resample_5D": da.resample(time="5D").mean(),
    "resample_12h": da.resample(time="12h").mean(),
    "coarsen_lon": da.coarsen(lon=2).mean(),
    # (xarray cannot average cftime dates: the time coordinate is dropped.)
    "coarsen_time_trim": da.drop_vars("time").coarsen(time=7, boundary="trim").max(),
    "coarsen_time_pad": da.drop_vars("time").coarsen(time=7, boundary="pad").mean(),
    "coarsen_lat_lon": da.coarsen(lat=3, lon=2).sum(),
    "weighted_mean": da.weighted(w).mean(["lat", "lon"]),
    "weighted_sum": da.weighted(w).sum("lat"),
}
def tstr(t):
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
meta = {}
for name, r in cases.items():
    m = {"dims": list(r.dims), "dtype": str(r.dtype)}
    if "time" in r.coords and name.startswith("resample"):
        m["times"] = [tstr(t) for t in r.time.values]
    if "lon" in r.coords:
        m["lon"] = r.lon.values.tolist()
    meta[name] = m
    np.asarray(r.values, dtype="<f8").tofile(os.path.join(out, name + ".bin"))
json.dump(meta, open(os.path.join(out, "meta.json"), "w"))
"#;

#[test]
fn resample_coarsen_and_weighted_match_xarray() {
    use ndchunk::CoarsenBoundary;
    let Some(python) = support::python_peer() else {
        return;
    };
    for calendar in ["noleap", "360_day", "standard"] {
        let (dir, store, _) = daily_store(&python, calendar);
        let out = dir.path().join("windows");
        std::fs::create_dir(&out).unwrap();
        support::run_python(
            &python,
            XARRAY_WINDOWS,
            &[store.as_os_str(), out.as_os_str()],
        );
        let meta: Value =
            serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
        let t = irregular(&open_zarr(&store).unwrap().get("t").unwrap());
        let lat = t.coord("lat").unwrap().values().clone();
        let Values::Float { data: lat, .. } = lat else {
            panic!("float latitudes expected")
        };
        let w = DataArray::new(
            ndchunk::Array::from_ndarray(lat.mapv(|l| l.to_radians().cos()), [3]).unwrap(),
            &["lat"],
        )
        .unwrap();
        let no_time = t.drop_vars(&["time"]).unwrap();
        let cases: Vec<(&str, DataArray)> = vec![
            (
                "resample_MS",
                t.resample("time", "MS").unwrap().mean().unwrap(),
            ),
            (
                "resample_QS-DEC",
                t.resample("time", "QS-DEC").unwrap().max().unwrap(),
            ),
            (
                "resample_YS",
                t.resample("time", "YS").unwrap().sum().unwrap(),
            ),
            (
                "resample_5D",
                t.resample("time", "5D").unwrap().mean().unwrap(),
            ),
            (
                "resample_12h",
                t.resample("time", "12h").unwrap().mean().unwrap(),
            ),
            (
                "coarsen_lon",
                t.coarsen(&[("lon", 2)], CoarsenBoundary::Exact)
                    .unwrap()
                    .mean()
                    .unwrap(),
            ),
            (
                "coarsen_time_trim",
                no_time
                    .coarsen(&[("time", 7)], CoarsenBoundary::Trim)
                    .unwrap()
                    .max()
                    .unwrap(),
            ),
            (
                "coarsen_time_pad",
                no_time
                    .coarsen(&[("time", 7)], CoarsenBoundary::Pad)
                    .unwrap()
                    .mean()
                    .unwrap(),
            ),
            (
                "coarsen_lat_lon",
                t.coarsen(&[("lat", 3), ("lon", 2)], CoarsenBoundary::Exact)
                    .unwrap()
                    .sum()
                    .unwrap(),
            ),
            (
                "weighted_mean",
                t.weighted(&w).unwrap().mean(["lat", "lon"]).unwrap(),
            ),
            ("weighted_sum", t.weighted(&w).unwrap().sum("lat").unwrap()),
        ];
        for (name, ours) in cases {
            let what = format!("{calendar} {name}");
            let theirs = &meta[name];
            same_dims_and_dtype(&what, &ours, theirs);
            if let Some(times) = theirs.get("times") {
                let Values::Time(dates) = ours.coord("time").unwrap().values().clone() else {
                    panic!("{what}: dates expected")
                };
                let ours: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
                let want: Vec<String> = serde_json::from_value(times.clone()).unwrap();
                assert_eq!(ours, want, "{what}: times");
            }
            if let Some(lon) = theirs.get("lon") {
                let want: Vec<f64> = serde_json::from_value(lon.clone()).unwrap();
                assert_eq!(
                    labels_of(ours.coord("lon").unwrap().values()),
                    want,
                    "{what}: lon"
                );
            }
            let rel = if name.contains("max") || name.contains("QS") {
                0.0
            } else {
                1e-6
            };
            same_values(&what, &ours, &out.join(format!("{name}.bin")), rel);
        }
    }
    // Bad input: an unknown frequency, a window larger than the dimension,
    // weights with NaN or a sum not above zero.
    let (_dir, store, _out) = daily_store(&python, "noleap");
    let t = open_zarr(&store).unwrap().get("t").unwrap();
    let e = t.resample("time", "fortnightly").unwrap_err().to_string();
    assert!(
        e.contains("unknown frequency") && e.contains("fortnightly"),
        "{e}"
    );
    let e = t
        .coarsen(&[("lat", 4)], CoarsenBoundary::Trim)
        .unwrap_err()
        .to_string();
    assert!(e.contains("window of 4") && e.contains("lat"), "{e}");
    let e = t
        .coarsen(&[("lon", 3)], CoarsenBoundary::Exact)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a multiple of 3"), "{e}");
    let weights = |v: [f64; 3]| {
        DataArray::new(
            ndchunk::Array::from_ndarray(ndarray::arr1(&v).into_dyn(), [3]).unwrap(),
            &["lat"],
        )
        .unwrap()
    };
    let e = t
        .weighted(&weights([1.0, f64::NAN, 1.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaN"), "{e}");
    let e = t
        .weighted(&weights([1.0, -3.0, 1.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("sum to -1"), "{e}");
}

/// xarray's rolling results on the store of [`labelled_stores::XARRAY`] (argv[1]) into
/// argv[2]: `<case>.bin`, f64s.
const XARRAY_ROLLING: &str = r#"
import sys, os
import numpy as np, xarray as xr
store, out = sys.argv[1:3]
da = xr.open_zarr(store, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).t.load()
cases = {
    "mean7": da.rolling(time=7).mean(),
    "mean8_center": da.rolling(time=8, center=True).mean(),
    "mean7_center_min3": da.rolling(time=7, center=True, min_periods=3).mean(),
    "sum30_min1": da.rolling(time=30, min_periods=1).sum(),
    "std5": da.rolling(time=5).std(),
    "lon_mean2": da.rolling(lon=2).mean(),
    "max7": da.rolling(time=7).max(),
    "min8_center_min3": da.rolling(time=8, center=True, min_periods=3).min(),
    "max40_min1": da.rolling(time=40, min_periods=1).max(),
    "lon_max3_center": da.rolling(lon=3, center=True).max(),
}
for name, r in cases.items():
    np.asarray(r.values, dtype="<f8").tofile(os.path.join(out, name + ".bin"))
"#;

#[test]
fn rolling_matches_xarray() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let (_dir, store, out) = daily_store(&python, "noleap");
    support::run_python(
        &python,
        XARRAY_ROLLING,
        &[store.as_os_str(), out.as_os_str()],
    );
    let t = irregular(&open_zarr(&store).unwrap().get("t").unwrap());
    let roll = |dim: &str, n: u64| t.rolling(dim, n).unwrap();
    let cases: Vec<(&str, DataArray)> = vec![
        ("mean7", roll("time", 7).mean().unwrap()),
        ("mean8_center", roll("time", 8).center(true).mean().unwrap()),
        (
            "mean7_center_min3",
            roll("time", 7).center(true).min_periods(3).mean().unwrap(),
        ),
        ("sum30_min1", roll("time", 30).min_periods(1).sum().unwrap()),
        ("std5", roll("time", 5).std().unwrap()),
        ("lon_mean2", roll("lon", 2).mean().unwrap()),
    ];
    for (name, ours) in cases {
        assert_eq!(ours.dims(), t.dims(), "{name}");
        // Running sums in f64 against bottleneck's: within float32 steps.
        same_values(name, &ours, &out.join(format!("{name}.bin")), 1e-5);
    }
    // Extremes are values of the array: exact.
    let extremes: Vec<(&str, DataArray)> = vec![
        ("max7", roll("time", 7).max().unwrap()),
        (
            "min8_center_min3",
            roll("time", 8).center(true).min_periods(3).min().unwrap(),
        ),
        ("max40_min1", roll("time", 40).min_periods(1).max().unwrap()),
        (
            "lon_max3_center",
            roll("lon", 3).center(true).max().unwrap(),
        ),
    ];
    for (name, ours) in extremes {
        assert_eq!(ours.dims(), t.dims(), "{name}");
        same_values(name, &ours, &out.join(format!("{name}.bin")), 0.0);
    }
    let e = t.rolling("lat", 4).unwrap_err().to_string();
    assert!(e.contains("window of 4"), "{e}");
}
