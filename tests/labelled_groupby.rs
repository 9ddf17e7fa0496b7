//! Groupby against xarray: by month, year and day of year in every
//! calendar, over irregular chunks that groups straddle, with NaNs; groupby
//! arithmetic; the mean of a group equals the mean of its selection; the
//! bits do not depend on the thread count.

#[path = "support/counting.rs"]
mod counting;
mod support;

use std::path::{Path, PathBuf};

use ndchunk::chunking::ChunkGrid;
use ndchunk::{open_zarr, Chunks, ComputeOptions, DataArray, Values};
use serde_json::Value;

/// Writes a daily (time, lat, lon) float32 store with NaNs in `calendar`
/// (argv[2]) to argv[1], then dumps xarray's groupby results into argv[3]:
/// `meta.json` (per case: dims, dtype, labels) and `<case>.bin` (f64).
const XARRAY: &str = r#"
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
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * b.abs().max(1.0)
}

/// [`XARRAY`]'s store in `calendar` and its dump: the directory holding
/// both (kept while the test runs), the store, the dump's folder.
fn daily_store(python: &Path, calendar: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("daily.zarr");
    let out = dir.path().join("xarray");
    std::fs::create_dir(&out).unwrap();
    support::run_python(
        python,
        XARRAY,
        &[store.as_os_str(), calendar.as_ref(), out.as_os_str()],
    );
    (dir, store, out)
}

/// `t` on irregular time chunks that months straddle.
fn irregular(t: &DataArray) -> DataArray {
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
fn same_dims_and_dtype(what: &str, ours: &DataArray, theirs: &Value) -> Vec<String> {
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
fn same_values(what: &str, ours: &DataArray, path: &Path, rel: f64) {
    let expected = support::read_f64(path);
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

fn labels_of(values: &Values) -> Vec<f64> {
    match values {
        Values::Int { data, .. } => data.iter().map(|&v| v as f64).collect(),
        Values::Float { data, .. } => data.iter().copied().collect(),
        other => panic!("unexpected labels {}", other.type_name()),
    }
}

#[test]
fn groupby_matches_xarray_in_every_calendar() {
    let Some(python) = support::python_peer() else {
        return;
    };
    for calendar in ["standard", "noleap", "360_day", "all_leap", "julian"] {
        let (_dir, store, out) = daily_store(&python, calendar);
        let meta: Value =
            serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
        let t = irregular(&open_zarr(&store).unwrap().get("t").unwrap());
        let by_month = t.groupby("time.month").unwrap();
        let clim = by_month.mean().unwrap();
        let cases: Vec<(&str, DataArray)> = vec![
            ("month_mean", clim.clone()),
            (
                "season_mean",
                t.groupby("time.season").unwrap().mean().unwrap(),
            ),
            ("season_anomaly", {
                let by_season = t.groupby("time.season").unwrap();
                by_season.sub(&by_season.mean().unwrap()).unwrap()
            }),
            ("month_sum", by_month.sum().unwrap()),
            ("month_count", by_month.count().unwrap()),
            ("month_std", by_month.std(0).unwrap()),
            ("month_var1", by_month.var(1).unwrap()),
            ("month_min", by_month.min().unwrap()),
            ("month_max", by_month.max().unwrap()),
            ("year_sum", t.groupby("time.year").unwrap().sum().unwrap()),
            (
                "doy_mean",
                t.groupby("time.dayofyear").unwrap().mean().unwrap(),
            ),
            ("lat_mean", t.groupby("lat").unwrap().mean().unwrap()),
            ("anomaly", by_month.sub(&clim).unwrap()),
            (
                "lat_bins_mean",
                t.groupby_bins("lat", &[-60.0, -45.0, 0.0, 45.0])
                    .unwrap()
                    .mean()
                    .unwrap(),
            ),
        ];
        // A Dataset groups each variable with the dimension, keeps the others.
        let lat_only = t
            .isel("time", 0)
            .unwrap()
            .isel("lon", 0)
            .unwrap()
            .drop_vars(&["time", "lon"])
            .unwrap();
        let ds = ndchunk::Dataset::new()
            .with_var("t", t.clone())
            .unwrap()
            .with_var("profile", lat_only.clone())
            .unwrap();
        let by_month_ds = ds.groupby("time.month").unwrap();
        let means = by_month_ds.mean().unwrap();
        assert_eq!(
            means.get("t").unwrap().values::<f64>().unwrap(),
            clim.values::<f64>().unwrap()
        );
        assert_eq!(means.get("profile").unwrap().dims(), ["lat"]);
        let anomalies = by_month_ds.arith(ndchunk::Arith::Sub, &means).unwrap();
        let (a, b) = (
            anomalies.get("t").unwrap().values::<f64>().unwrap(),
            by_month.sub(&clim).unwrap().values::<f64>().unwrap(),
        );
        assert!(a.iter().zip(b.iter()).all(|(x, y)| close(*x, *y, 0.0)));
        // Seasons are text labels, selected as such.
        let seasons = t.groupby("time.season").unwrap().mean().unwrap();
        let djf = seasons
            .sel("season", "DJF")
            .unwrap()
            .values::<f32>()
            .unwrap();
        let first = seasons.isel("season", 0).unwrap().values::<f32>().unwrap();
        assert_eq!(djf, first);
        for (name, ours) in cases {
            let what = format!("{calendar} {name}");
            let theirs = &meta[name];
            same_dims_and_dtype(&what, &ours, theirs);
            if let Some(labels) = theirs["labels"].as_array() {
                let key = theirs["key"].as_str().unwrap();
                let ours: Vec<Value> = match ours.coord(key).unwrap().values() {
                    Values::Text(data) => data.iter().map(|t| Value::from(t.as_str())).collect(),
                    values => labels_of(values).into_iter().map(Value::from).collect(),
                };
                let want: Vec<Value> = labels
                    .iter()
                    .map(|v| v.as_f64().map_or(v.clone(), Value::from))
                    .collect();
                assert_eq!(ours, want, "{what}: labels");
            }
            // Minima, maxima and counts exactly; sums and moments within
            // float32 rounding of numpy's other summation order (1e-6
            // relative); an anomaly (a difference of values near 280, whose
            // climatology numpy sums in float32) within twice that of 280.
            let rel = match name {
                "month_count" | "month_min" | "month_max" => 0.0,
                "anomaly" | "season_anomaly" => 2e-6 * 280.0,
                _ => 1e-6,
            };
            same_values(&what, &ours, &out.join(format!("{name}.bin")), rel);
        }
    }
}

#[test]
fn a_group_mean_is_the_mean_of_its_selection_on_any_thread_count() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let (_dir, store, _out) = daily_store(&python, "noleap");
    let t = irregular(&open_zarr(&store).unwrap().get("t").unwrap());
    let monthly = t.groupby("time.month").unwrap().mean().unwrap();
    let means = monthly.values::<f32>().unwrap();
    // March and August of both years, selected by date strings: the mean
    // of their values (NaNs skipped) is the group's.
    for (k, month) in [(2usize, "03"), (7, "08")] {
        let mut sums = ndarray::Array2::<f64>::zeros((3, 4));
        let mut counts = ndarray::Array2::<f64>::zeros((3, 4));
        for year in ["2000", "2001", "2002"] {
            // The 800 days end in March 2002.
            let Ok(part) = t.sel("time", format!("{year}-{month}").as_str()) else {
                continue;
            };
            for day in part.values::<f64>().unwrap().outer_iter() {
                for ((s, c), &x) in sums.iter_mut().zip(counts.iter_mut()).zip(day.iter()) {
                    if !x.is_nan() {
                        *s += x;
                        *c += 1.0;
                    }
                }
            }
        }
        let got = means.index_axis(ndarray::Axis(0), k);
        for ((x, s), c) in got.iter().zip(sums.iter()).zip(counts.iter()) {
            let y = s / c;
            assert!(
                (f64::from(*x) - y).abs() <= 1e-4 * y.abs(),
                "month {month}: {x} vs {y}"
            );
        }
    }
    // The same bits on one and two threads.
    let run = |threads: usize| {
        let options = ComputeOptions::new().threads(threads).progress(false);
        let std = t.groupby("time.month").unwrap().std(1).unwrap();
        std.data().as_f64().compute_with(&options).unwrap().0
    };
    let (one, two) = (run(1), run(2));
    assert!(one
        .iter()
        .zip(two.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits()));
}

#[test]
fn grouping_by_what_is_not_there_is_a_clear_error() {
    let t = DataArray::new(ndchunk::Array::<f64>::zeros(&[4], [2]).unwrap(), &["time"]).unwrap();
    let e = t.groupby("time.month").unwrap_err().to_string();
    assert!(e.contains("\"time\""), "{e}");
    let with_x = t
        .with_coord(
            "time",
            ndchunk::Coord::new(
                &["time"],
                Values::float(ndarray::arr1(&[1.0, 2.0, 1.0, 2.0]).into_dyn()),
            )
            .unwrap(),
        )
        .unwrap();
    let e = with_x.groupby("time.month").unwrap_err().to_string();
    assert!(e.contains("no dates"), "{e}");
    let grouped = with_x.groupby("time").unwrap().mean().unwrap();
    assert_eq!(grouped.shape(), vec![2]);
}

/// The same store as [`XARRAY`]'s, then xarray's resample, coarsen and
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
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("daily.zarr");
        let first = dir.path().join("groupby");
        let out = dir.path().join("windows");
        std::fs::create_dir(&first).unwrap();
        std::fs::create_dir(&out).unwrap();
        support::run_python(
            &python,
            XARRAY,
            &[store.as_os_str(), calendar.as_ref(), first.as_os_str()],
        );
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

/// The three results of `examples/climate_anomaly` over a store that
/// counts its chunk reads: one run of the engine reads each source chunk
/// a bounded number of times (one per reduction that reads the source:
/// the climatology, the anomalies' spread, the weighted sum and the sum of
/// the weights present).
#[test]
fn the_climate_summary_reads_each_source_chunk_four_times() {
    use ndchunk::io::{ArrayMeta, DType, Scalar};
    use ndchunk::{Array, Calendar, Coord, TimeUnits};
    let (nt, ny, nx) = (96usize, 6usize, 8usize);
    let values = ndarray::Array::from_shape_fn((nt, ny, nx), |(t, y, x)| {
        280.0 + (t as f64 * 0.26).sin() * 5.0 + y as f64 - x as f64 * 0.1
    })
    .into_dyn();
    let grid = ChunkGrid::regular(&[nt as u64, ny as u64, nx as u64], &[24, 6, 8]).unwrap();
    let store = counting::Counting::holding(
        ArrayMeta::new(grid, DType::Float64, Scalar::Float(f64::NAN)),
        values.view(),
    );
    let units: TimeUnits = "hours since 2001-01-30".parse().unwrap();
    let times: Vec<_> = (0..nt)
        .map(|h| units.decode(h as f64, Calendar::Standard).unwrap())
        .collect();
    let lat: Vec<f64> = (0..ny).map(|i| -50.0 + 20.0 * i as f64).collect();
    let x = DataArray::new(
        ndchunk::DynArray::from_store(store.clone()).unwrap(),
        &["time", "lat", "lon"],
    )
    .unwrap()
    .with_coord(
        "time",
        Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn())).unwrap(),
    )
    .unwrap()
    .with_coord(
        "lat",
        Coord::new(&["lat"], Values::float(ndarray::arr1(&lat).into_dyn())).unwrap(),
    )
    .unwrap();
    let by_month = x.groupby("time.month").unwrap();
    let clim = by_month.mean().unwrap();
    let anom_std = by_month.sub(&clim).unwrap().std("time", 0).unwrap();
    let w = DataArray::new(
        Array::from_ndarray(
            ndarray::arr1(&lat)
                .mapv(|l: f64| l.to_radians().cos())
                .into_dyn(),
            [ny as u64],
        )
        .unwrap(),
        &["lat"],
    )
    .unwrap();
    let global = x.weighted(&w).unwrap().mean(["lat", "lon"]).unwrap();
    let summary = ndchunk::Dataset::new()
        .with_var("clim", clim)
        .unwrap()
        .with_var("anom_std", anom_std)
        .unwrap()
        .with_var("global_mean", global)
        .unwrap();
    store.take_reads();
    let computed = summary.persist().unwrap();
    let reads = store.take_reads();
    assert_eq!(reads.len(), 4, "every chunk is read");
    assert!(reads.values().all(|&n| n == 4), "{reads:?}");
    // January's two days and February's two: the months' means.
    let clim = computed.get("clim").unwrap().values::<f64>().unwrap();
    let jan: f64 = (0..48).map(|t| values[[t, 0, 0]]).sum::<f64>() / 48.0;
    assert!((clim[[0, 0, 0]] - jan).abs() < 1e-9);
}

/// xarray's quantiles of the store of [`XARRAY`] (argv[1]) over time, at
/// the qs of argv[2] (JSON), into argv[3] as f64s, `<k>.bin` for the k-th.
const XARRAY_QUANTILES: &str = r#"
import json, sys, os
import numpy as np, xarray as xr
store, qs, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
da = xr.open_zarr(store, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).t.load()
for k, q in enumerate(qs):
    np.asarray(da.quantile(q, "time").values, dtype="<f8").tofile(os.path.join(out, f"{k}.bin"))
"#;

#[test]
fn quantiles_match_xarray_and_a_split_dimension_is_refused_naming_the_rechunk() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let (_dir, store, out) = daily_store(&python, "noleap");
    let qs = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0];
    support::run_python(
        &python,
        XARRAY_QUANTILES,
        &[
            store.as_os_str(),
            serde_json::json!(qs).to_string().as_ref(),
            out.as_os_str(),
        ],
    );
    let t = open_zarr(&store).unwrap().get("t").unwrap();
    let e = t.quantile(0.5, "time").unwrap_err().to_string();
    assert!(e.contains("da.chunk([800, 3, 4])"), "{e}");
    let whole = t.chunk([800, 3, 2]);
    for (k, q) in qs.into_iter().enumerate() {
        let ours = whole.quantile(q, "time").unwrap();
        assert_eq!(ours.dims(), ["lat", "lon"]);
        let got: Vec<f64> = ours.values::<f64>().unwrap().iter().copied().collect();
        let want = support::read_f64(&out.join(format!("{k}.bin")));
        assert_eq!(got, want, "q = {q}");
    }
}

/// xarray's rolling results on the store of [`XARRAY`] (argv[1]) into
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

/// A daily store in `calendar` (argv[2]) at argv[1] with three variables
/// over (time, lat, lon): `t` float32 with NaNs and one column all NaN in
/// every February, `n` int32, `x` float64 with ties; then xarray's group
/// medians and quantiles into argv[3] (`meta.json`: per case dims, dtype,
/// the groups' dimension and labels; `<case>.bin`, f64s).
const XARRAY_MEDIANS: &str = r#"
import json, sys, os, warnings
import numpy as np, xarray as xr
warnings.simplefilter("ignore")
store, calendar, out = sys.argv[1:4]
times = xr.date_range("2000-01-01", periods=500, freq="D", calendar=calendar, use_cftime=True)
rng = np.random.default_rng(11)
dims = ("time", "lat", "lon")
t = (280 + 5 * rng.normal(size=(500, 3, 4))).astype("float32")
t[rng.random(t.shape) < 0.1] = np.nan
t[np.array([d.month == 2 for d in times]), 1, 2] = np.nan
n = rng.integers(-50, 50, size=(500, 3, 4)).astype("int32")
x = rng.normal(size=(500, 3, 4))
x[:, 0, :] = np.round(x[:, 0, :] * 2)
ds = xr.Dataset({"t": (dims, t), "n": (dims, n), "x": (dims, x)},
                coords={"time": times, "lat": [-30.0, 0.0, 30.0], "lon": np.arange(4) * 90.0})
ds.chunk({"time": 100}).to_zarr(store, zarr_format=3, mode="w-")
ds = xr.open_zarr(store, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
cases = {
    "t_month_median": ds.t.groupby("time.month").median(),
    "t_season_median": ds.t.groupby("time.season").median(),
    "t_lat_median": ds.t.groupby("lat").median(),
    "n_month_median": ds.n.groupby("time.month").median(),
    "x_dayofyear_median": ds.x.groupby("time.dayofyear").median(),
    "t_month_quantile": ds.t.groupby("time.month").quantile(0.9),
    "x_season_quantile": ds.x.groupby("time.season").quantile(0.25),
    "t_resample_median": ds.t.resample(time="MS").median(),
    "x_resample_median": ds.x.resample(time="5D").median(),
}
def label(v):
    return v if isinstance(v, (int, float, str)) else f"{v.year:04d}-{v.month:02d}-{v.day:02d} 00:00:00"
meta = {}
for name, r in cases.items():
    key = [d for d in r.dims if d not in ("lat", "lon")] if "lat_" not in name else ["lat"]
    meta[name] = {"dims": list(r.dims), "dtype": str(r.dtype), "key": key[0],
                  "labels": [label(v) for v in r[key[0]].values.tolist()]}
    np.asarray(r.values, dtype="<f8").tofile(os.path.join(out, name + ".bin"))
json.dump(meta, open(os.path.join(out, "meta.json"), "w"))
"#;

/// A way to chunk an array.
type Chunking = fn(&DataArray) -> DataArray;

/// Our group medians and quantiles of `ds` ([`XARRAY_MEDIANS`]'s), each
/// variable chunked by `chunk`, by the names of that script's cases.
fn medians(ds: &ndchunk::Dataset, chunk: &Chunking) -> Vec<(&'static str, DataArray)> {
    let var = |name: &str| chunk(&ds.get(name).unwrap());
    let (t, n, x) = (var("t"), var("n"), var("x"));
    vec![
        (
            "t_month_median",
            t.groupby("time.month").unwrap().median().unwrap(),
        ),
        (
            "t_season_median",
            t.groupby("time.season").unwrap().median().unwrap(),
        ),
        ("t_lat_median", t.groupby("lat").unwrap().median().unwrap()),
        (
            "n_month_median",
            n.groupby("time.month").unwrap().median().unwrap(),
        ),
        (
            "x_dayofyear_median",
            x.groupby("time.dayofyear").unwrap().median().unwrap(),
        ),
        (
            "t_month_quantile",
            t.groupby("time.month").unwrap().quantile(0.9).unwrap(),
        ),
        (
            "x_season_quantile",
            x.groupby("time.season").unwrap().quantile(0.25).unwrap(),
        ),
        (
            "t_resample_median",
            t.resample("time", "MS").unwrap().median().unwrap(),
        ),
        (
            "x_resample_median",
            x.resample("time", "5D").unwrap().median().unwrap(),
        ),
    ]
}

#[test]
fn group_medians_and_quantiles_match_xarray_on_any_chunking() {
    let Some(python) = support::python_peer() else {
        return;
    };
    for calendar in ["noleap", "360_day"] {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("daily.zarr");
        let out = dir.path().join("xarray");
        std::fs::create_dir(&out).unwrap();
        support::run_python(
            &python,
            XARRAY_MEDIANS,
            &[store.as_os_str(), calendar.as_ref(), out.as_os_str()],
        );
        let meta: Value =
            serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
        let ds = open_zarr(&store).unwrap();
        // As stored (100 days a chunk, which months straddle), irregular
        // chunks along every dimension, time whole with lon split, and
        // chunks of one day.
        let chunkings: [(&str, Chunking); 4] = [
            ("stored", |a| a.clone()),
            ("irregular", irregular),
            ("time whole", |a| {
                let grid = ChunkGrid::from_sizes(&[vec![500], vec![2, 1], vec![3, 1]]).unwrap();
                a.chunk(Chunks::Grid(grid))
            }),
            ("daily", |a| a.chunk([1, 3, 4])),
        ];
        for (chunking, chunk) in &chunkings {
            for (name, ours) in medians(&ds, chunk) {
                let what = format!("{calendar} {chunking} {name}");
                let theirs = &meta[name];
                same_dims_and_dtype(&what, &ours, theirs);
                let key = theirs["key"].as_str().unwrap();
                let labels: Vec<Value> = match ours.coord(key).unwrap().values() {
                    Values::Text(data) => data.iter().map(|t| Value::from(t.as_str())).collect(),
                    Values::Time(dates) => {
                        dates.iter().map(|d| Value::from(d.to_string())).collect()
                    }
                    values => labels_of(values).into_iter().map(Value::from).collect(),
                };
                let want: Vec<Value> = theirs["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().map_or(v.clone(), Value::from))
                    .collect();
                assert_eq!(labels, want, "{what}: labels");
                // numpy's arithmetic, so the same bits.
                same_values(&what, &ours, &out.join(format!("{name}.bin")), 0.0);
            }
        }
        // A Dataset's groups: each variable's.
        let by_month = ds.groupby("time.month").unwrap().median().unwrap();
        let as_stored = medians(&ds, &chunkings[0].1);
        assert_eq!(as_stored[3].0, "n_month_median");
        assert_eq!(
            by_month.get("n").unwrap().values::<f64>().unwrap(),
            as_stored[3].1.values::<f64>().unwrap()
        );
        // February's group at (lat 0, lon 180) is all NaN: NaN, and the
        // other columns have a value.
        let feb = medians(&ds, &chunkings[1].1)[0]
            .1
            .isel("month", 1)
            .unwrap()
            .values::<f64>()
            .unwrap();
        assert!(feb[[1, 2]].is_nan());
        assert_eq!(feb.iter().filter(|v| v.is_nan()).count(), 1, "{feb:?}");
    }
}

/// Daily values over `(time, lat, lon)` in the 360-day calendar, chunked
/// `chunks`, built by `value(t, y, x)`.
fn daily_360(
    shape: [usize; 3],
    chunks: [u64; 3],
    value: impl Fn(usize, usize, usize) -> f32,
) -> DataArray {
    use ndchunk::{Array, Calendar, Coord, TimeUnits};
    let units: TimeUnits = "days since 2001-01-01".parse().unwrap();
    let days: Vec<_> = (0..shape[0])
        .map(|d| units.decode(d as f64, Calendar::Day360).unwrap())
        .collect();
    let values = ndarray::Array::from_shape_fn(shape, |(t, y, x)| value(t, y, x)).into_dyn();
    DataArray::new(
        Array::from_ndarray(values, chunks).unwrap(),
        &["time", "lat", "lon"],
    )
    .unwrap()
    .with_coord(
        "time",
        Coord::new(&["time"], Values::Time(ndarray::arr1(&days).into_dyn())).unwrap(),
    )
    .unwrap()
}

#[test]
fn a_group_median_over_the_budget_names_the_chunks_that_fit() {
    // Each task holds all 720 days of its chunk of (lat, lon): 720 x 20 x
    // 50 float32 is 2.8 MiB.
    let value = |d: usize, y: usize, x: usize| ((d * 7 + y * 13 + x) % 101) as f32;
    let t = daily_360([720, 20, 50], [100, 20, 50], value);
    let small = ComputeOptions::new().max_mem(1 << 20).progress(false);
    let median = |a: &DataArray| a.groupby("time.month").unwrap().median().unwrap();
    let e = median(&t)
        .data()
        .as_f64()
        .compute_with(&small)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("groupby(\"month\").median along \"time\" reads all of axis 0 (720 elements) in each task")
            && e.contains("rechunk its input from chunks of [100, 20, 50] to about [100, 20, 13]"),
        "{e}"
    );
    // The chunks it names fit, and give the same medians.
    let fits = median(&t.chunk([100, 20, 13]))
        .data()
        .as_f64()
        .compute_with(&small)
        .unwrap()
        .0;
    assert_eq!(fits, median(&t).values::<f64>().unwrap());
    // Nothing fits when one column of the whole dimension does not.
    let tiny = ComputeOptions::new().max_mem(2 << 10).progress(false);
    let e = median(&daily_360([720, 20, 50], [100, 1, 1], value))
        .data()
        .as_f64()
        .compute_with(&tiny)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot hold even with one element of the others"),
        "{e}"
    );
}

#[test]
fn a_group_median_is_one_node_reading_each_chunk_once_whatever_the_groups() {
    use ndchunk::io::{ArrayMeta, DType, Scalar};
    let (nt, ny, nx) = (96usize, 6usize, 8usize);
    let values = ndarray::Array::from_shape_fn((nt, ny, nx), |(t, y, x)| {
        ((t * 31 + y * 7 + x * 3) % 17) as f64
    })
    .into_dyn();
    let grid = ChunkGrid::regular(&[nt as u64, ny as u64, nx as u64], &[24, 3, 4]).unwrap();
    let store = counting::Counting::holding(
        ArrayMeta::new(grid, DType::Float64, Scalar::Float(f64::NAN)),
        values.view(),
    );
    let source = daily_360(
        [nt, ny, nx],
        [nt as u64, ny as u64, nx as u64],
        |_, _, _| 0.0,
    );
    let x = DataArray::new(
        ndchunk::DynArray::from_store(store.clone()).unwrap(),
        &["time", "lat", "lon"],
    )
    .unwrap()
    .with_coord("time", source.coord("time").unwrap().clone())
    .unwrap();
    for (key, groups) in [
        ("time.season", 2),
        ("time.month", 4),
        ("time.dayofyear", 96),
    ] {
        let median = x.groupby(key).unwrap().median().unwrap();
        assert_eq!(median.shape(), [groups as u64, 6, 8], "{key}");
        let plan = median.data().plan().unwrap();
        assert_eq!(plan.stages().len(), 1, "{key}");
        assert_eq!(
            plan.stages()[0].tasks(),
            4,
            "{key}: one per chunk of (lat, lon)"
        );
        store.take_reads();
        let got = median.values::<f64>().unwrap();
        let reads = store.take_reads();
        assert_eq!(reads.len(), 16, "{key}: every chunk is read");
        assert!(reads.values().all(|&n| n == 1), "{key}: {reads:?}");
        // Each group's median by hand at one point: in 30-day months,
        // day d is in month d / 30 + 1 (DJF for January and February).
        let group_of = |d: usize| match key {
            "time.season" => usize::from(d >= 60),
            "time.month" => d / 30,
            _ => d,
        };
        for g in 0..groups {
            let mut v: Vec<f64> = (0..nt)
                .filter(|&d| group_of(d) == g)
                .map(|d| values[[d, 2, 5]])
                .collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let want = if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            };
            assert_eq!(got[[g, 2, 5]], want, "{key} group {g}");
        }
    }
}

/// xarray's coarsened time coordinate of six times with NaT, as strings.
const COARSEN_NAT: &str = r#"
import json
import numpy as np, pandas as pd, xarray as xr
t = np.array(["2000-01-01", "NaT", "2000-01-03", "2000-01-04T12", "NaT", "NaT"], dtype="datetime64[ns]")
da = xr.DataArray(np.arange(6.0), dims="time", coords={"time": t})
out = da.coarsen(time=2).mean().time.values
print(json.dumps(["NaT" if pd.isna(x) else pd.Timestamp(x).strftime("%Y-%m-%d %H:%M:%S") for x in out]))
"#;

#[test]
fn nat_is_skipped_by_coarsen_and_refused_by_resample_as_xarray() {
    use ndchunk::{Array, Calendar, CfDatetime, CoarsenBoundary, Coord};
    let Some(python) = support::python_peer() else {
        return;
    };
    let want: Value =
        serde_json::from_slice(&support::run_python(&python, COARSEN_NAT, &[] as &[&str])).unwrap();
    let std = Calendar::Standard;
    let day = |d, h| CfDatetime::new(2000, 1, d, h, 0, 0, 0, std).unwrap();
    let nat = CfDatetime::nat(std);
    let times = [day(1, 0), nat, day(3, 0), day(4, 12), nat, nat];
    let data = Array::from_ndarray(ndarray::Array1::range(0.0, 6.0, 1.0).into_dyn(), [4]).unwrap();
    let time = Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn())).unwrap();
    let da = DataArray::new(data, &["time"])
        .unwrap()
        .with_coord("time", time)
        .unwrap();
    let coarse = da
        .coarsen(&[("time", 2)], CoarsenBoundary::Exact)
        .unwrap()
        .mean()
        .unwrap();
    let Values::Time(got) = coarse.coord("time").unwrap().values() else {
        panic!("no time coordinate")
    };
    let got: Vec<String> = got.iter().map(ToString::to_string).collect();
    assert_eq!(serde_json::json!(got), want);
    let e = da
        .resample("time", "1D")
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("NaT"), "{e}");
}
