//! Order statistics against xarray: `quantile` along a dimension (and its
//! refusal, naming the rechunk, when the dimension is split), and the
//! group `median`/`quantile` on any chunking, within the budget, as one
//! node reading each chunk once.

#[path = "support/counting.rs"]
mod counting;
#[path = "support/labelled_stores.rs"]
mod labelled_stores;
mod support;

use labelled_stores::{daily_store, irregular, labels_of, same_dims_and_dtype, same_values};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{open_zarr, Chunks, ComputeOptions, DataArray, Values};
use serde_json::Value;

/// xarray's quantiles of the store of [`labelled_stores::XARRAY`] (argv[1]) over time, at
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
