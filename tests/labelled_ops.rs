//! Arithmetic between labelled arrays: alignment by index (every `join`)
//! and broadcasting by dimension name, against a hand-written join and
//! against xarray; `where`, transpose and the errors of bad input.

#[path = "support/random.rs"]
mod random;
mod support;

use random::Random;

use ndchunk::{Arith, Array, Coord, DataArray, Join, Values};
use serde_json::{json, Value};

/// A sorted subset of 0..n as float labels.
fn labels(random: &mut Random, n: u64) -> Vec<f64> {
    (0..n)
        .filter(|_| random.below(3) != 0)
        .map(|v| v as f64 * 0.5)
        .collect()
}

fn array_1d(labels: &[f64], values: &[f64], chunk: u64) -> DataArray {
    let data = Array::from_ndarray(ndarray::arr1(values).into_dyn(), [chunk.max(1)]).unwrap();
    let x = Coord::new(&["x"], Values::float(ndarray::arr1(labels).into_dyn())).unwrap();
    DataArray::new(data, &["x"])
        .unwrap()
        .with_coord("x", x)
        .unwrap()
}

/// The join written out plainly: the labels, and each side's value at each.
fn reference(a: (&[f64], &[f64]), b: (&[f64], &[f64]), join: Join) -> Vec<(f64, f64)> {
    let find = |labels: &[f64], values: &[f64], l: f64| {
        labels
            .iter()
            .position(|&x| x == l)
            .map_or(f64::NAN, |i| values[i])
    };
    let labels: Vec<f64> = match join {
        Join::Inner => a.0.iter().copied().filter(|l| b.0.contains(l)).collect(),
        Join::Left => a.0.to_vec(),
        Join::Right => b.0.to_vec(),
        Join::Outer => {
            let mut all: Vec<f64> = a.0.iter().chain(b.0).copied().collect();
            all.sort_by(f64::total_cmp);
            all.dedup();
            all
        }
        _ => unreachable!(),
    };
    labels
        .into_iter()
        .map(|l| (l, find(a.0, a.1, l) - find(b.0, b.1, l)))
        .collect()
}

#[test]
fn alignment_matches_a_hand_written_join_on_random_indexes() {
    let mut rng = Random::new(7);
    for case in 0..200 {
        let (la, lb) = (labels(&mut rng, 12), labels(&mut rng, 12));
        let va: Vec<f64> = la.iter().map(|_| rng.below(100) as f64).collect();
        let vb: Vec<f64> = lb.iter().map(|_| rng.below(100) as f64).collect();
        let a = array_1d(&la, &va, 1 + rng.below(4));
        let b = array_1d(&lb, &vb, 1 + rng.below(4));
        for join in [Join::Inner, Join::Outer, Join::Left, Join::Right] {
            let expected = reference((&la, &va), (&lb, &vb), join);
            let out = a.arith(Arith::Sub, &b, join).unwrap();
            let Values::Float { data: labels, .. } = out.coord("x").unwrap().values() else {
                panic!("float labels expected")
            };
            let labels: Vec<f64> = labels.iter().copied().collect();
            let values: Vec<f64> = out.values::<f64>().unwrap().iter().copied().collect();
            let want_labels: Vec<f64> = expected.iter().map(|p| p.0).collect();
            assert_eq!(labels, want_labels, "case {case} {join:?}: labels");
            for (k, (v, (_, w))) in values.iter().zip(&expected).enumerate() {
                assert!(
                    v == w || (v.is_nan() && w.is_nan()),
                    "case {case} {join:?} at {k}: {v} vs {w}"
                );
            }
        }
    }
}

/// Builds the arrays of argv[1] in xarray, runs the operations and prints
/// each result: dims, coords, dtype, values (NaN as null).
const XARRAY_OPS: &str = r#"
import json, sys
import numpy as np, xarray as xr
spec = json.loads(sys.argv[1])
def build(a):
    data = np.array(a["values"], dtype=a["dtype"]).reshape(a["shape"])
    coords = {d: np.array(v, dtype="float64") for d, v in a["coords"].items()}
    return xr.DataArray(data, dims=a["dims"], coords=coords, name=a.get("name"))
arrays = {k: build(v) for k, v in spec["arrays"].items()}
out = []
for left, op, right, join in spec["ops"]:
    a, b = arrays[left], arrays[right]
    with xr.set_options(arithmetic_join=join):
        r = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]
    out.append({"dims": list(r.dims), "dtype": str(r.dtype), "name": r.name,
                "coords": {k: r[k].values.tolist() for k in r.coords},
                "values": [None if v != v else v for v in r.values.ravel().tolist()]})
print(json.dumps(out))
"#;

fn spec_array(name: &str, dims: &[&str], coords: &[(&str, Vec<f64>)], dtype: &str) -> Value {
    let shape: Vec<usize> = dims
        .iter()
        .map(|d| {
            coords
                .iter()
                .find(|(c, _)| c == d)
                .map_or(2, |(_, v)| v.len())
        })
        .collect();
    let n: usize = shape.iter().product();
    let values: Vec<f64> = (0..n).map(|i| ((i * 7) % 11) as f64 + 1.0).collect();
    json!({"name": name, "dims": dims, "shape": shape, "dtype": dtype,
           "coords": coords.iter().map(|(d, v)| (d.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
           "values": values})
}

fn from_spec(spec: &Value) -> DataArray {
    let dims: Vec<&str> = spec["dims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let shape: Vec<usize> = serde_json::from_value(spec["shape"].clone()).unwrap();
    let values: Vec<f64> = serde_json::from_value(spec["values"].clone()).unwrap();
    let values = ndarray::ArrayD::from_shape_vec(shape.clone(), values).unwrap();
    let chunks: Vec<u64> = shape
        .iter()
        .map(|&s| (s as u64).div_ceil(2).max(1))
        .collect();
    let data: ndchunk::DynArray = match spec["dtype"].as_str().unwrap() {
        "float32" => Array::from_ndarray(values.mapv(|v| v as f32), chunks)
            .unwrap()
            .into(),
        "int32" => Array::from_ndarray(values.mapv(|v| v as i32), chunks)
            .unwrap()
            .into(),
        _ => Array::from_ndarray(values, chunks).unwrap().into(),
    };
    let mut out = DataArray::new(data, &dims)
        .unwrap()
        .with_name(spec["name"].as_str().unwrap());
    for (dim, labels) in spec["coords"].as_object().unwrap() {
        let labels: Vec<f64> = serde_json::from_value(labels.clone()).unwrap();
        let coord = Coord::new(&[dim], Values::float(ndarray::arr1(&labels).into_dyn())).unwrap();
        out = out.with_coord(dim, coord).unwrap();
    }
    out
}

#[test]
fn arithmetic_aligns_and_broadcasts_as_xarray() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let arrays = json!({
        "tl": spec_array("t", &["time", "lat"], &[("time", vec![0.0, 1.0, 2.0, 3.0]), ("lat", vec![10.0, 20.0, 30.0])], "float32"),
        "ll": spec_array("t", &["lat", "lon"], &[("lat", vec![20.0, 30.0, 40.0]), ("lon", vec![0.0, 90.0])], "float32"),
        "lat_desc": spec_array("w", &["lat"], &[("lat", vec![30.0, 20.0, 10.0])], "float64"),
        "ints": spec_array("n", &["time", "lat"], &[("time", vec![1.0, 2.0, 3.0, 4.0]), ("lat", vec![10.0, 20.0, 30.0])], "int32"),
        "nolabel": spec_array("z", &["lon", "extra"], &[], "float64"),
    });
    let ops = json!([
        ["tl", "add", "ll", "inner"],
        ["tl", "sub", "ll", "outer"],
        ["tl", "mul", "ll", "left"],
        ["ll", "div", "tl", "right"],
        ["tl", "sub", "lat_desc", "inner"],
        ["lat_desc", "mul", "tl", "outer"],
        ["tl", "add", "ints", "inner"],
        ["ints", "div", "ints", "inner"],
        ["ints", "sub", "ints", "inner"],
        ["ll", "add", "nolabel", "inner"],
    ]);
    let spec = json!({"arrays": arrays, "ops": ops});
    let out = support::run_python(&python, XARRAY_OPS, &[spec.to_string()]);
    let expected: Vec<Value> = serde_json::from_slice(&out).unwrap();
    for (op, want) in ops.as_array().unwrap().iter().zip(&expected) {
        let [left, name, right, join] = [0, 1, 2, 3].map(|i| op[i].as_str().unwrap());
        let (a, b) = (from_spec(&arrays[left]), from_spec(&arrays[right]));
        let arith = match name {
            "add" => Arith::Add,
            "sub" => Arith::Sub,
            "mul" => Arith::Mul,
            _ => Arith::Div,
        };
        let join = match join {
            "inner" => Join::Inner,
            "outer" => Join::Outer,
            "left" => Join::Left,
            _ => Join::Right,
        };
        let got = a.arith(arith, &b, join).unwrap();
        let what = format!("{op}");
        let dims: Vec<String> = serde_json::from_value(want["dims"].clone()).unwrap();
        assert_eq!(got.dims(), dims, "{what}: dims");
        assert_eq!(
            got.dtype().name(),
            want["dtype"].as_str().unwrap(),
            "{what}: dtype"
        );
        assert_eq!(got.name(), want["name"].as_str(), "{what}: name");
        for (coord, labels) in want["coords"].as_object().unwrap() {
            let Some(values) = got.coord(coord).unwrap().values().clone().float_values() else {
                panic!("{what}: {coord} not numeric")
            };
            let labels: Vec<f64> = serde_json::from_value(labels.clone()).unwrap();
            assert_eq!(values, labels, "{what}: coordinate {coord}");
        }
        let values: Vec<f64> = got.values::<f64>().unwrap().iter().copied().collect();
        let want_values: Vec<Option<f64>> = serde_json::from_value(want["values"].clone()).unwrap();
        assert_eq!(values.len(), want_values.len(), "{what}: size");
        for (v, w) in values.iter().zip(&want_values) {
            match w {
                None => assert!(v.is_nan(), "{what}: {v} where xarray has NaN"),
                Some(w) => assert_eq!(v, w, "{what}"),
            }
        }
    }
}

trait FloatValues {
    fn float_values(self) -> Option<Vec<f64>>;
}

impl FloatValues for Values {
    fn float_values(self) -> Option<Vec<f64>> {
        match self {
            Values::Float { data, .. } => Some(data.iter().copied().collect()),
            Values::Int { data, .. } => Some(data.iter().map(|&v| v as f64).collect()),
            _ => None,
        }
    }
}

#[test]
fn where_masks_and_scalars_keep_float32() {
    let a = array_1d(&[0.0, 1.0, 2.0, 3.0], &[5.0, -1.0, 7.0, -2.0], 2);
    let kept = a.where_(&a.greater(0.0)).unwrap();
    let v = kept.values::<f64>().unwrap();
    assert_eq!(v[[0]], 5.0);
    assert!(v[[1]].is_nan());
    assert_eq!(kept.name(), a.name());
    let single = DataArray::new(Array::<f32>::ones(&[2], [2]).unwrap(), &["x"]).unwrap();
    let scaled = &(&single * 2.5) + 1.0;
    assert_eq!(scaled.dtype(), ndchunk::io::DType::Float32);
    assert_eq!(scaled.values::<f32>().unwrap()[[1]], 3.5);
}

#[test]
fn indexes_that_cannot_align_are_clear_errors() {
    let a = array_1d(&[0.0, 1.0, 2.0], &[1.0, 2.0, 3.0], 3);
    let b = array_1d(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 3);
    let e = a
        .arith(Arith::Add, &b, Join::Exact)
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"x\"") && e.contains("exact"), "{e}");
    let short = array_1d(&[0.0, 1.0], &[1.0, 2.0], 2);
    let e = a
        .arith(Arith::Add, &short, Join::Override)
        .unwrap_err()
        .to_string();
    assert!(e.contains("override") && e.contains("3 and 2"), "{e}");
    // Without indexes, sizes must agree.
    let plain = |n: u64| DataArray::new(Array::<f64>::zeros(&[n], [n]).unwrap(), &["y"]).unwrap();
    let e = plain(3).add(&plain(4)).unwrap_err().to_string();
    assert!(e.contains("\"y\"") && e.contains("3 and 4"), "{e}");
    let e = a.transpose(&["x", "y"]).unwrap_err().to_string();
    assert!(e.contains("\"y\""), "{e}");
    let e = a.mean("time").unwrap_err().to_string();
    assert!(e.contains("\"time\"") && e.contains("\"x\""), "{e}");
    let e = a.coord("lat").unwrap_err().to_string();
    assert!(e.contains("\"lat\""), "{e}");
}

/// A store whose `time` coordinate says `units` and `calendar`.
fn store_with_time_attrs(dir: &std::path::Path, units: &str, calendar: &str) -> std::path::PathBuf {
    let mut attrs = ndchunk::Attrs::new();
    attrs.insert("units".into(), units.into());
    attrs.insert("calendar".into(), calendar.into());
    let time = Coord::new(
        &["time"],
        Values::float(ndarray::arr1(&[0.0, 1.0]).into_dyn()),
    )
    .unwrap()
    .with_attrs(attrs);
    let t = DataArray::new(Array::<f32>::zeros(&[2], [2]).unwrap(), &["time"])
        .unwrap()
        .with_coord("time", time)
        .unwrap();
    let path = dir.join(format!("{calendar}.zarr"));
    ndchunk::Dataset::new()
        .with_var("t", t)
        .unwrap()
        .to_zarr(&path)
        .unwrap();
    path
}

#[test]
fn an_unknown_calendar_or_malformed_units_is_an_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with_time_attrs(dir.path(), "days since 2000-01-01", "klingon");
    let e = ndchunk::open_zarr(&path).unwrap_err().to_string();
    assert!(e.contains("\"time\"") && e.contains("klingon"), "{e}");
    let path = store_with_time_attrs(dir.path(), "fortnights since 2000-01-01", "noleap");
    let e = ndchunk::open_zarr(&path).unwrap_err().to_string();
    assert!(e.contains("\"time\"") && e.contains("fortnights"), "{e}");
    // Without time decoding both open, the numbers as stored.
    let raw = ndchunk::OpenOptions::new().decode_times(false);
    let ds = ndchunk::open_zarr_with(&path, &raw).unwrap();
    assert_eq!(
        ds.coords()["time"].attrs()["units"],
        "fortnights since 2000-01-01"
    );
}

#[test]
fn display_shows_dims_coords_variables_and_attributes_as_xarray() {
    let dir = tempfile::tempdir().unwrap();
    let path = store_with_time_attrs(dir.path(), "days since 2000-12-30", "360_day");
    let ds = ndchunk::open_zarr(&path).unwrap();
    assert_eq!(
        ds.to_string(),
        "<ndchunk.Dataset>\n\
         Dimensions:  (time: 2)\n\
         Coordinates:\n  \
         * time (time) datetime (360_day) 2000-12-30 00:00:00 2001-01-01 00:00:00\n\
         Data variables:\n    \
         t    (time) float32 chunks=(2)\n"
    );
    let t = ds.get("t").unwrap().with_attrs(
        serde_json::json!({"units": "K", "valid_range": [0, 400]})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert_eq!(
        t.to_string(),
        "<ndchunk.DataArray \"t\" (time: 2)>\n\
         float32 chunks=(2)\n\
         Coordinates:\n  \
         * time (time) datetime (360_day) 2000-12-30 00:00:00 2001-01-01 00:00:00\n\
         Attributes:\n    \
         units:       K\n    \
         valid_range: [0,400]\n"
    );
}

/// `values` along `time`, labelled by noleap days `days`.
fn timed(days: &[f64], values: &[f64]) -> DataArray {
    let units: ndchunk::TimeUnits = "days since 2000-01-01".parse().unwrap();
    let dates: Vec<_> = days
        .iter()
        .map(|&d| units.decode(d, ndchunk::Calendar::NoLeap).unwrap())
        .collect();
    let data = Array::from_ndarray(
        ndarray::arr1(values).into_dyn(),
        [values.len().max(1) as u64],
    )
    .unwrap();
    DataArray::new(data, &["time"])
        .unwrap()
        .with_coord(
            "time",
            Coord::new(&["time"], Values::Time(ndarray::arr1(&dates).into_dyn())).unwrap(),
        )
        .unwrap()
}

#[test]
fn joins_keep_date_indexes_and_survive_empty_ones() {
    let (a, b) = (
        timed(&[1.0, 2.0], &[1.0, 2.0]),
        timed(&[2.0, 3.0], &[10.0, 20.0]),
    );
    let outer = a.arith(Arith::Add, &b, Join::Outer).unwrap();
    let Values::Time(dates) = outer.coord("time").unwrap().values().clone() else {
        panic!("the joined index is dates")
    };
    assert_eq!(dates.len(), 3);
    let v = outer.values::<f64>().unwrap();
    assert!(v[[0]].is_nan() && v[[1]] == 12.0 && v[[2]].is_nan());
    // An empty index joins to NaN, not a panic.
    let empty = array_1d(&[], &[], 1);
    let b = array_1d(&[1.0, 2.0], &[1.0, 2.0], 2);
    for join in [Join::Outer, Join::Right] {
        let out = empty.arith(Arith::Add, &b, join).unwrap();
        assert_eq!(out.shape(), vec![2]);
        assert!(out.values::<f64>().unwrap().iter().all(|x| x.is_nan()));
    }
    assert_eq!(
        b.arith(Arith::Add, &empty, Join::Left).unwrap().shape(),
        vec![2]
    );
    // Integer labels of different dtypes are one index.
    let int = |dtype32: bool| {
        let labels = ndarray::arr1(&[0i64, 1, 2]).into_dyn();
        let values = if dtype32 {
            Values::Int {
                data: labels,
                dtype: ndchunk::io::DType::Int32,
            }
        } else {
            Values::Int {
                data: labels,
                dtype: ndchunk::io::DType::Int64,
            }
        };
        DataArray::new(Array::<f64>::ones(&[3], [3]).unwrap(), &["x"])
            .unwrap()
            .with_coord("x", Coord::new(&["x"], values).unwrap())
            .unwrap()
    };
    let same = int(true)
        .arith(Arith::Add, &int(false), Join::Exact)
        .unwrap();
    assert_eq!(same.shape(), vec![3]);
}

#[test]
fn refused_renames_dates_and_group_keys() {
    let a = DataArray::new(Array::<f64>::zeros(&[2, 3], [2, 3]).unwrap(), &["x", "y"]).unwrap();
    let e = a.rename(&[("x", "y")]).unwrap_err().to_string();
    assert!(e.contains("\"y\" twice"), "{e}");
    let t = timed(&[1.0, 2.0], &[1.0, 2.0]);
    let e = t.sel("time", "200é0").unwrap_err().to_string();
    assert!(e.contains("200é0"), "{e}");
    // A position whose group key is NaN gets NaN from groupby arithmetic.
    let k = Coord::new(
        &["x"],
        Values::float(ndarray::arr1(&[f64::NAN, 1.0, 2.0]).into_dyn()),
    )
    .unwrap();
    let data = Array::from_ndarray(ndarray::arr1(&[10.0, 20.0, 30.0]).into_dyn(), [3]).unwrap();
    let x = DataArray::new(data, &["x"])
        .unwrap()
        .with_coord("k", k)
        .unwrap();
    let by_k = x.groupby("k").unwrap();
    let anomaly = by_k.sub(&by_k.mean().unwrap()).unwrap();
    let v = anomaly.values::<f64>().unwrap();
    assert!(v[[0]].is_nan() && v[[1]] == 0.0 && v[[2]] == 0.0, "{v}");
}

#[test]
fn writes_that_cannot_be_done_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Text (season labels) cannot be written: refused before the store exists.
    let t = timed(&[0.0, 40.0, 100.0, 200.0], &[1.0, 2.0, 3.0, 4.0]);
    let seasons = t.groupby("time.season").unwrap().mean().unwrap();
    let path = dir.path().join("seasons.zarr");
    let e = ndchunk::Dataset::new()
        .with_var("t", seasons)
        .unwrap()
        .to_zarr(&path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("text"), "{e}");
    assert!(!path.exists());
    // An append must bring every array along the dimension, in whole units.
    let path = dir.path().join("days.zarr");
    let first = ndchunk::Dataset::new()
        .with_var("v", timed(&[0.0, 1.0], &[1.0, 2.0]))
        .unwrap();
    first.to_zarr(&path).unwrap();
    let before = ndchunk::open_zarr(&path)
        .unwrap()
        .get("v")
        .unwrap()
        .values::<f64>()
        .unwrap();
    let bare = DataArray::new(Array::<f64>::ones(&[2], [2]).unwrap(), &["time"]).unwrap();
    let append = ndchunk::ZarrWriteOptions::new().append("time");
    let e = ndchunk::Dataset::new()
        .with_var("v", bare)
        .unwrap()
        .to_zarr_with(&path, &append)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"time\"") && e.contains("does not bring"),
        "{e}"
    );
    let e = ndchunk::Dataset::new()
        .with_var("v", timed(&[2.5, 3.5], &[3.0, 4.0]))
        .unwrap()
        .to_zarr_with(&path, &append)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not whole"), "{e}");
    let after = ndchunk::open_zarr(&path)
        .unwrap()
        .get("v")
        .unwrap()
        .values::<f64>()
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_label_held_twice_keeps_the_dimension_as_pandas() {
    let a = array_1d(&[1.0, 2.0, 2.0, 3.0], &[10.0, 20.0, 21.0, 30.0], 2);
    let twice = a.sel("x", 2.0).unwrap();
    assert_eq!(twice.dims(), ["x"]);
    assert_eq!(
        twice.values::<f64>().unwrap().into_raw_vec_and_offset().0,
        vec![20.0, 21.0]
    );
    let once = a.sel("x", 3.0).unwrap();
    assert!(once.dims().is_empty());
}

/// numpy's result of `a + b`, `a - b`, `a * b` and `a / b` for every
/// pair of dtypes of ones, booleans included, as `{"int8,uint8": [["int16",
/// 2.0], …], …}` in that order of operators; `null` where numpy raises
/// (a boolean minus a boolean).
const NUMPY_PROMOTION: &str = r#"
import json, itertools, operator
import numpy as np
names = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]
out = {}
for a, b in itertools.product(names, names):
    x, y = np.ones(1, a), np.ones(1, b)
    row = []
    for op in [operator.add, operator.sub, operator.mul, operator.truediv]:
        try:
            r = op(x, y)
            row.append([str(r.dtype), float(r[0])])
        except TypeError:
            row.append(None)
    out[f"{a},{b}"] = row
print(json.dumps(out))
"#;

#[test]
fn arithmetic_result_dtypes_and_values_are_numpys_booleans_included() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let table: serde_json::Map<String, Value> = serde_json::from_slice(&support::run_python(
        &python,
        NUMPY_PROMOTION,
        &[] as &[&str],
    ))
    .unwrap();
    let ones = |name: &str| -> DataArray {
        let dtype: ndchunk::io::DType = name.parse().unwrap();
        let ones = ndchunk::DynArray::from(Array::<f64>::ones(&[2], [2]).unwrap());
        let data = ndchunk::with_dtype!(dtype, T => ndchunk::DynArray::from(ones.astype::<T>()));
        DataArray::new(data, &["x"]).unwrap()
    };
    for (pair, want) in &table {
        let (a, b) = pair.split_once(',').unwrap();
        for (op, want) in [Arith::Add, Arith::Sub, Arith::Mul, Arith::Div]
            .into_iter()
            .zip(want.as_array().unwrap())
        {
            let got = ones(a).arith(op, &ones(b), Join::Inner);
            if want.is_null() {
                let e = got.unwrap_err().to_string();
                assert!(e.contains("boolean"), "{pair} {op:?}: {e}");
                continue;
            }
            let got = got.unwrap_or_else(|e| panic!("{pair} {op:?}: {e}"));
            assert_eq!(
                got.dtype().name(),
                want[0].as_str().unwrap(),
                "{pair} {op:?}"
            );
            let value = got.values::<f64>().unwrap()[[0]];
            assert_eq!(value, want[1].as_f64().unwrap(), "{pair} {op:?}");
        }
    }
}

/// xarray's `d1 <op> d2` for each `arithmetic_join`, of datasets with
/// variables only one of them has, as `{"outer": {"x": [...], "vars":
/// {"a": ["float64", [...]], …}}, …}` (variables in xarray's order).
const DATASET_ARITHMETIC: &str = r#"
import json, warnings
import numpy as np, xarray as xr
warnings.simplefilter("ignore")
d1 = xr.Dataset({"a": ("x", [1.0, 2.0, 3.0]), "b": ("x", np.array([1, 2, 3], "float32")),
                 "i": ("x", np.array([1, 2, 3], "int32"))}, coords={"x": [0.0, 1.0, 2.0]})
d2 = xr.Dataset({"a": ("x", [10.0, 20.0, 30.0]), "c": ("x", np.array([1, 2, 3], "int16"))},
                coords={"x": [1.0, 2.0, 3.0]})
out = {}
for join in ["inner", "outer", "left", "right"]:
    with xr.set_options(arithmetic_join=join):
        r = d1 - d2
    out[join] = {"x": r.x.values.tolist(),
                 "vars": {k: [str(v.dtype), [None if e != e else e for e in v.values.tolist()]]
                          for k, v in r.data_vars.items()}}
print(json.dumps(out))
"#;

#[test]
fn dataset_arithmetic_keeps_the_variables_one_side_has_by_the_join_as_xarray() {
    use ndchunk::Dataset;
    let Some(python) = support::python_peer() else {
        return;
    };
    let want: Value = serde_json::from_slice(&support::run_python(
        &python,
        DATASET_ARITHMETIC,
        &[] as &[&str],
    ))
    .unwrap();
    let var = |data: ndchunk::DynArray, x: &[f64]| {
        let x = Coord::new(&["x"], Values::float(ndarray::arr1(x).into_dyn())).unwrap();
        DataArray::new(data, &["x"])
            .unwrap()
            .with_coord("x", x)
            .unwrap()
    };
    let (x1, x2) = ([0.0, 1.0, 2.0], [1.0, 2.0, 3.0]);
    let floats = |v: [f64; 3]| Array::from_ndarray(ndarray::arr1(&v).into_dyn(), [2]).unwrap();
    let d1 = Dataset::new()
        .with_var("a", var(floats([1.0, 2.0, 3.0]).into(), &x1))
        .unwrap()
        .with_var(
            "b",
            var(floats([1.0, 2.0, 3.0]).astype::<f32>().into(), &x1),
        )
        .unwrap()
        .with_var(
            "i",
            var(floats([1.0, 2.0, 3.0]).astype::<i32>().into(), &x1),
        )
        .unwrap();
    let d2 = Dataset::new()
        .with_var("a", var(floats([10.0, 20.0, 30.0]).into(), &x2))
        .unwrap()
        .with_var(
            "c",
            var(floats([1.0, 2.0, 3.0]).astype::<i16>().into(), &x2),
        )
        .unwrap();
    for (join, want) in want.as_object().unwrap() {
        let j = match join.as_str() {
            "inner" => Join::Inner,
            "outer" => Join::Outer,
            "left" => Join::Left,
            _ => Join::Right,
        };
        let got = d1.arith_dataset(Arith::Sub, &d2, j).unwrap();
        let names: Vec<&str> = want["vars"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let want_x = &want["x"];
        assert_eq!(
            got.data_vars().collect::<Vec<_>>(),
            names,
            "{join}: variables"
        );
        for (name, want) in want["vars"].as_object().unwrap() {
            let da = got.get(name).unwrap();
            assert_eq!(
                da.dtype().name(),
                want[0].as_str().unwrap(),
                "{join} {name}"
            );
            let x = da
                .coord("x")
                .unwrap()
                .values()
                .clone()
                .float_values()
                .unwrap();
            let want_x: Vec<f64> = serde_json::from_value(want_x.clone()).unwrap();
            assert_eq!(x, want_x, "{join} {name}: x");
            let values: Vec<f64> = da.values::<f64>().unwrap().iter().copied().collect();
            let expected: Vec<Option<f64>> = serde_json::from_value(want[1].clone()).unwrap();
            assert_eq!(values.len(), expected.len(), "{join} {name}");
            for (v, w) in values.iter().zip(&expected) {
                match w {
                    None => assert!(v.is_nan(), "{join} {name}: {v} where xarray has NaN"),
                    Some(w) => assert_eq!(v, w, "{join} {name}"),
                }
            }
        }
    }
}
