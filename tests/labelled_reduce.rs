//! Reductions by dimension name against xarray as the oracle (the table
//! of `support/xarray_table.rs`): means, sums, standard deviations,
//! variances, minima and maxima over one, several or all dimensions, NaNs
//! skipped or not, on COADS's masked sea-surface temperature and the
//! stores xarray writes; result dtypes included.

mod support;
#[path = "support/xarray_table.rs"]
mod xarray_table;

use ndchunk::{Dims, Reduction, Sel};
use xarray_table::{check_table, Case};

/// Reductions by dimension name. Floats from sums, means, variances and
/// standard deviations are compared within [`REDUCE_TOLERANCE`]; minima
/// and maxima exactly.
fn reduction_cases() -> Vec<Case> {
    let mut cases = cases! {
        Coads "SST" "da.mean('TIME')" => |a| a.mean("TIME");
        Coads "SST" "da.mean(['COADSY', 'COADSX'])" => |a| a.mean(["COADSY", "COADSX"]);
        Coads "SST" "da.mean()" => |a| a.mean(Dims::All);
        Coads "SST" "da.sum('TIME')" => |a| a.sum("TIME");
        Coads "SST" "da.sum(['COADSY', 'COADSX'])" => |a| a.sum(["COADSY", "COADSX"]);
        Coads "SST" "da.sum()" => |a| a.sum(Dims::All);
        Coads "SST" "da.std('TIME')" => |a| a.std("TIME", 0);
        Coads "SST" "da.std('TIME', ddof=1)" => |a| a.std("TIME", 1);
        Coads "SST" "da.std(['COADSY', 'COADSX'])" => |a| a.std(["COADSY", "COADSX"], 0);
        Coads "SST" "da.std(['COADSY', 'COADSX'], ddof=1)" => |a| a.std(["COADSY", "COADSX"], 1);
        Coads "SST" "da.std()" => |a| a.std(Dims::All, 0);
        Coads "SST" "da.std(ddof=1)" => |a| a.std(Dims::All, 1);
        Coads "SST" "da.var('TIME', ddof=1)" => |a| a.var("TIME", 1);
        Coads "SST" "da.min('TIME')" => |a| a.min("TIME");
        Coads "SST" "da.min(['COADSY', 'COADSX'])" => |a| a.min(["COADSY", "COADSX"]);
        Coads "SST" "da.min()" => |a| a.min(Dims::All);
        Coads "SST" "da.max('TIME')" => |a| a.max("TIME");
        Coads "SST" "da.max(['COADSY', 'COADSX'])" => |a| a.max(["COADSY", "COADSX"]);
        Coads "SST" "da.max()" => |a| a.max(Dims::All);
        Coads "SST" "da.mean('TIME', skipna=False)" => |a| a.reduce(Reduction::Mean, "TIME", Some(false));
        Coads "SST" "da.max(['COADSY', 'COADSX'], skipna=False)" => |a| a.reduce(Reduction::Max, ["COADSY", "COADSX"], Some(false));
        Coads "SST" "da.sum('TIME', skipna=True)" => |a| a.reduce(Reduction::Sum, "TIME", Some(true));
        Coads "SST" "da.sel(COADSY=slice(-20, 20)).mean(['TIME', 'COADSX'])" => |a| a
            .sel("COADSY", Sel::range(-20i64, 20i64))?
            .mean(["TIME", "COADSX"]);
        Air "air" "da.mean('time')" => |a| a.mean("time");
        Air "air" "da.std(['lat', 'lon'], ddof=1)" => |a| a.std(["lat", "lon"], 1);
        Air "air" "da.max()" => |a| a.max(Dims::All);
        NoLeap "t" "da.mean('time')" => |a| a.mean("time");
        NoLeap "t" "da.min(['level', 'lat'])" => |a| a.min(["level", "lat"]);
        // Integers: the result dtypes numpy gives.
        NoLeap "count" "da.mean('time')" => |a| a.mean("time");
        NoLeap "count" "da.sum('time')" => |a| a.sum("time");
        NoLeap "count" "da.sum()" => |a| a.sum(Dims::All);
        NoLeap "count" "da.max(['level', 'lat'])" => |a| a.max(["level", "lat"]);
        NoLeap "count" "da.min()" => |a| a.min(Dims::All);
        NoLeap "count" "da.std('time', ddof=1)" => |a| a.std("time", 1);
        // An unknown dimension: an error on both sides.
        Coads "SST" "da.mean('depth')" => |a| a.mean("depth");
        Coads "SST" "da.mean(['TIME', 'depth'])" => |a| a.mean(["TIME", "depth"]);
    };
    for case in &mut cases {
        let exact = case.py.contains(".min(") || case.py.contains(".max(");
        if !exact {
            case.tolerance = Some(REDUCE_TOLERANCE);
        }
    }
    cases
}

/// Sums, means and standard deviations of float32 are accumulated in a
/// different order by numpy (pairwise, in float32) and ndchunk (per chunk,
/// then combined), so the last bits differ: compared within 1e-6
/// relative. Minima and maxima are compared exactly.
const REDUCE_TOLERANCE: f64 = 1e-6;

#[test]
fn reductions_by_dimension_name_agree_with_xarray() {
    check_table(reduction_cases(), &[]);
}

/// xarray's `Dataset` reductions over `t`, of variables with and without
/// it, as `{"mean": {"b": ["float64", [0.0, null, 2.0]], …}, …}`.
const DATASET_REDUCTIONS: &str = r#"
import json, warnings
import numpy as np, xarray as xr
warnings.simplefilter("ignore")
ds = xr.Dataset({
    "a": (("t", "x"), np.array([[0.0, 1.0, np.nan], [3.0, 4.0, 5.0]])),
    "b": ("x", np.array([0.0, np.nan, 2.0])),
    "c": ("x", np.arange(3, dtype="int16")),
    "f": ("x", np.arange(3, dtype="float32")),
    "bo": ("x", np.array([True, False, True])),
})
calls = {
    "mean": lambda: ds.mean("t"), "sum": lambda: ds.sum("t"),
    "min": lambda: ds.min("t"), "max": lambda: ds.max("t"),
    "std0": lambda: ds.std("t"), "std1": lambda: ds.std("t", ddof=1),
    "var0": lambda: ds.var("t"), "var1": lambda: ds.var("t", ddof=1),
    "mean_keepna": lambda: ds.mean("t", skipna=False),
    "std0_keepna": lambda: ds.std("t", skipna=False),
}
out = {}
for name, call in calls.items():
    r = call()
    out[name] = {k: [str(v.dtype), [None if x != x else float(x) for x in v.values.ravel().tolist()]]
                 for k, v in r.data_vars.items()}
print(json.dumps(out))
"#;

#[test]
fn dataset_reductions_reduce_variables_without_the_dimension_over_no_axis_as_xarray() {
    use ndchunk::{Array, DataArray, Dataset, DynArray};
    let Some(python) = support::python_peer() else {
        return;
    };
    let want: serde_json::Value = serde_json::from_slice(&support::run_python(
        &python,
        DATASET_REDUCTIONS,
        &[] as &[&str],
    ))
    .unwrap();
    let var = |data: DynArray, dims: &[&str]| DataArray::new(data, dims).unwrap();
    let nan = f64::NAN;
    let a = ndarray::arr2(&[[0.0, 1.0, nan], [3.0, 4.0, 5.0]]).into_dyn();
    let b = ndarray::arr1(&[0.0, nan, 2.0]).into_dyn();
    let ds = Dataset::new()
        .with_var(
            "a",
            var(Array::from_ndarray(a, [1, 2]).unwrap().into(), &["t", "x"]),
        )
        .unwrap()
        .with_var(
            "b",
            var(Array::from_ndarray(b, [2]).unwrap().into(), &["x"]),
        )
        .unwrap()
        .with_var(
            "c",
            var(Array::<i16>::arange(3, [2]).unwrap().into(), &["x"]),
        )
        .unwrap()
        .with_var(
            "f",
            var(Array::<f32>::arange(3, [2]).unwrap().into(), &["x"]),
        )
        .unwrap()
        .with_var(
            "bo",
            var(
                Array::from_ndarray(ndarray::arr1(&[true, false, true]).into_dyn(), [3])
                    .unwrap()
                    .into(),
                &["x"],
            ),
        )
        .unwrap();
    let reduce = |name: &str| -> Dataset {
        let (reduction, skipna) = match name {
            "mean" => (Reduction::Mean, None),
            "sum" => (Reduction::Sum, None),
            "min" => (Reduction::Min, None),
            "max" => (Reduction::Max, None),
            "std0" => (Reduction::Std { ddof: 0 }, None),
            "std1" => (Reduction::Std { ddof: 1 }, None),
            "var0" => (Reduction::Var { ddof: 0 }, None),
            "var1" => (Reduction::Var { ddof: 1 }, None),
            "mean_keepna" => (Reduction::Mean, Some(false)),
            _ => (Reduction::Std { ddof: 0 }, Some(false)),
        };
        ds.reduce(reduction, "t", skipna).unwrap()
    };
    for (call, vars) in want.as_object().unwrap() {
        let got = reduce(call);
        for (name, want) in vars.as_object().unwrap() {
            let da = got.get(name).unwrap();
            let what = format!("{call} of {name}");
            assert_eq!(
                da.dtype().name(),
                want[0].as_str().unwrap(),
                "{what}: dtype"
            );
            let values: Vec<f64> = da.values::<f64>().unwrap().iter().copied().collect();
            let expected: Vec<Option<f64>> = serde_json::from_value(want[1].clone()).unwrap();
            assert_eq!(values.len(), expected.len(), "{what}");
            for (v, w) in values.iter().zip(&expected) {
                match w {
                    None => assert!(v.is_nan(), "{what}: {v} where xarray has NaN"),
                    Some(w) => assert!((v - w).abs() < 1e-12, "{what}: {v} vs {w}"),
                }
            }
        }
    }
}
