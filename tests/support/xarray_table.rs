//! The xarray oracle table shared by `labelled_select.rs` and
//! `labelled_reduce.rs`: each case is a Python expression of `da` and the
//! same call in ndchunk, run by both on the netCDF fixtures and on Zarr
//! stores xarray writes (noleap, 360_day); dims, sizes, dtypes,
//! coordinates and data are compared (NaN equal to NaN; an error on both
//! sides counts as agreement). Included with `#[path]` beside `support`.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndchunk::{
    open_dataset, open_dataset_with, open_zarr, Coord, DataArray, Dataset, Label, OpenOptions,
    Values,
};
use serde_json::{json, Value};

/// Runs each case of the JSON list at argv[1] with xarray, writing
/// `results.json` to the directory argv[2] (one entry per case: `ok`, the
/// result's dims, shape, dtype and coordinates, or the error) and each
/// result's data as little-endian f64 in `<i>.bin`. A case names a file,
/// its engine, whether times are decoded (as cftime objects), a variable
/// and a Python expression of `da`.
pub const ORACLE: &str = r#"
import json, sys, os, datetime
import numpy as np, xarray as xr, cftime
cases = json.load(open(sys.argv[1]))
out = sys.argv[2]
coder = xr.coders.CFDatetimeCoder(use_cftime=True)
opened = {}
def open_(c):
    key = (c["path"], c["engine"], c["decode"])
    if key not in opened:
        times = coder if c["decode"] else False
        if c["engine"] == "zarr":
            opened[key] = xr.open_zarr(c["path"], decode_times=times)
        else:
            opened[key] = xr.open_dataset(c["path"], decode_times=times)
    return opened[key]
def tstr(t):
    s = f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return s + (f".{t.microsecond:06d}" if t.microsecond else "")
def entry(v):
    e = {"dims": list(v.dims), "shape": [int(n) for n in v.shape], "dtype": str(v.dtype)}
    vals = np.asarray(v.values)
    if vals.dtype == object:
        flat = vals.ravel()
        e["times"] = [tstr(t) for t in flat]
        e["calendar"] = flat[0].calendar if flat.size else None
    else:
        e["values"] = [None if x != x else float(x) for x in vals.astype("<f8").ravel()]
    return e
results = []
for i, c in enumerate(cases):
    try:
        da = open_(c)[c["var"]]
        env = {"da": da, "slice": slice, "cftime": cftime, "np": np,
               "timedelta": datetime.timedelta, "cal": c["cal"]}
        r = eval(c["expr"], env)
        res = {"ok": True, "data": entry(r.variable) | {"values": None},
               "coords": {k: entry(r[k].variable) for k in r.coords}}
        np.asarray(r.values, dtype="<f8").tofile(os.path.join(out, f"{i}.bin"))
    except Exception as e:
        res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    results.append(res)
json.dump(results, open(os.path.join(out, "results.json"), "w"))
"#;

/// Writes a small dataset with xarray to the Zarr store argv[1] in the
/// calendar argv[2]: 12-hourly times from 1999-12-25 over 80 days, an
/// int32 `level` index descending (1000, 850, 500), a float64 `lat`
/// index descending (45 to -45), float32 `t` with NaNs and int16 `count`.
pub const STORE: &str = r#"
import sys
import numpy as np, xarray as xr
out, calendar = sys.argv[1], sys.argv[2]
times = xr.date_range("1999-12-25", periods=160, freq="12h", calendar=calendar, use_cftime=True)
level = np.array([1000, 850, 500], dtype="int32")
lat = np.array([45.0, 15.0, -15.0, -45.0])
rng = np.random.default_rng(7)
t = rng.normal(size=(160, 3, 4)).astype("float32")
t[::7, 1, 2] = np.nan
t[5, :, :] = np.nan
count = (np.arange(160 * 3 * 4) % 1000).astype("int16").reshape(160, 3, 4)
ds = xr.Dataset(
    {"t": (("time", "level", "lat"), t, {"units": "K"}),
     "count": (("time", "level", "lat"), count)},
    coords={"time": times, "level": level, "lat": ("lat", lat, {"units": "degrees_north"})})
ds.chunk({"time": 50}).to_zarr(out, zarr_format=2, mode="w-")
"#;

/// The datasets the table runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Src {
    /// air_temperature_small.nc: 6-hourly times (standard calendar,
    /// float32 hours since 1800), `lat` float32 DESCENDING 75 to 15,
    /// `lon` float32 ascending.
    Air,
    /// A1B_north_america.nc: 240 yearly times (June 1st) in the 360_day
    /// calendar, `latitude`/`longitude` float32 ascending.
    A1b,
    /// uwnd_mean.nc: 12 monthly times of 1970, `latitude` descending
    /// 90 to -90.
    Uwnd,
    /// A Zarr store xarray writes in the noleap calendar (see [`STORE`]).
    NoLeap,
    /// The same in the 360_day calendar.
    Day360,
    /// coads_climatology.cdf with times not decoded (its reference year
    /// 0 does not exist in the standard calendar).
    Coads,
}

impl Src {
    pub fn engine(self) -> &'static str {
        match self {
            Src::NoLeap | Src::Day360 => "zarr",
            _ => "netcdf",
        }
    }

    pub fn decode(self) -> bool {
        self != Src::Coads
    }

    pub fn calendar(self) -> &'static str {
        match self {
            Src::A1b | Src::Day360 => "360_day",
            Src::NoLeap => "noleap",
            _ => "standard",
        }
    }
}

/// The files behind each [`Src`]; the Zarr stores live in `_dir`.
pub struct Sources {
    paths: BTreeMap<Src, PathBuf>,
    _dir: tempfile::TempDir,
}

impl Sources {
    /// `None` after a loud skip when a fixture is absent.
    pub fn new(python: &Path) -> Option<Sources> {
        let mut paths = BTreeMap::new();
        for (src, file) in [
            (Src::Air, "netcdf/air_temperature_small.nc"),
            (Src::A1b, "netcdf/A1B_north_america.nc"),
            (Src::Uwnd, "netcdf/uwnd_mean.nc"),
            (Src::Coads, "netcdf/coads_climatology.cdf"),
        ] {
            paths.insert(src, super::support::fixture(file)?);
        }
        let dir = tempfile::tempdir().unwrap();
        for src in [Src::NoLeap, Src::Day360] {
            let store = dir.path().join(format!("{}.zarr", src.calendar()));
            super::support::run_python(
                python,
                STORE,
                &[store.as_os_str(), src.calendar().as_ref()],
            );
            paths.insert(src, store);
        }
        Some(Sources { paths, _dir: dir })
    }

    pub fn open(&self, src: Src) -> Dataset {
        let path = &self.paths[&src];
        match src {
            Src::NoLeap | Src::Day360 => open_zarr(path),
            Src::Coads => open_dataset_with(path, &OpenOptions::new().decode_times(false)),
            _ => open_dataset(path),
        }
        .unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }
}

pub type Op = fn(&DataArray) -> ndchunk::Result<DataArray>;

/// One call run by both: `py` is a Python expression of `da` (with
/// `slice`, `cftime`, `np`, `timedelta`, and `cal`, the source's
/// calendar), `rs` the same call in ndchunk.
pub struct Case {
    pub src: Src,
    pub var: &'static str,
    pub py: &'static str,
    pub rs: Op,
    /// `None`: compared exactly; `Some(r)`: floats within `r` relative.
    pub tolerance: Option<f64>,
}

impl Case {
    pub fn name(&self) -> String {
        format!("{:?} {}: {}", self.src, self.var, self.py)
    }
}

#[macro_export]
macro_rules! cases {
    ($($src:ident $var:literal $py:literal => |$a:ident| $rs:expr;)*) => {
        vec![$($crate::xarray_table::Case {
            src: $crate::xarray_table::Src::$src,
            var: $var,
            py: $py,
            rs: |$a: &ndchunk::DataArray| $rs,
            tolerance: None,
        },)*]
    };
}

/// What xarray did for one case.
pub struct Theirs {
    result: Value,
    data: Option<Vec<f64>>,
}

pub fn run_oracle(python: &Path, sources: &Sources, cases: &[Case]) -> Vec<Theirs> {
    let dir = tempfile::tempdir().unwrap();
    let list: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "path": sources.paths[&c.src],
                "engine": c.src.engine(),
                "decode": c.src.decode(),
                "var": c.var,
                "expr": c.py,
                "cal": c.src.calendar(),
            })
        })
        .collect();
    let input = dir.path().join("cases.json");
    std::fs::write(&input, serde_json::to_vec(&list).unwrap()).unwrap();
    super::support::run_python(python, ORACLE, &[input.as_os_str(), dir.path().as_os_str()]);
    let results: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    results
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            let data = (result["ok"] == true)
                .then(|| crate::support::read_f64(&dir.path().join(format!("{i}.bin"))));
            Theirs { result, data }
        })
        .collect()
}

pub fn same(a: f64, b: f64, tolerance: Option<f64>) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    match tolerance {
        Some(r) => (a - b).abs() <= r * a.abs().max(b.abs()),
        None => false,
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

pub fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

pub fn shape_of(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

/// A coordinate against xarray's entry: dims, shape, dtype, values.
pub fn compare_coord(name: &str, coord: &Coord, theirs: &Value) -> Result<(), String> {
    if coord.dims() != strings(&theirs["dims"]) {
        return Err(format!(
            "coordinate {name}: dims {:?}, xarray {}",
            coord.dims(),
            theirs["dims"]
        ));
    }
    let shape: Vec<u64> = coord.values().shape().iter().map(|&n| n as u64).collect();
    if shape != shape_of(&theirs["shape"]) {
        return Err(format!(
            "coordinate {name}: shape {shape:?}, xarray {}",
            theirs["shape"]
        ));
    }
    match (coord.values(), theirs.get("times")) {
        (Values::Time(dates), Some(times)) => {
            let ours: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
            if ours != strings(times) {
                return Err(format!("coordinate {name}: times {ours:?}, xarray {times}"));
            }
            if let Some(first) = dates.iter().next() {
                if theirs["calendar"] != first.calendar.name() {
                    return Err(format!(
                        "coordinate {name}: calendar {}, xarray {}",
                        first.calendar.name(),
                        theirs["calendar"]
                    ));
                }
            }
        }
        (Values::Time(_), None) => {
            return Err(format!(
                "coordinate {name}: dates, xarray {}",
                theirs["dtype"]
            ))
        }
        (values, _) => {
            if values.type_name() != theirs["dtype"] {
                return Err(format!(
                    "coordinate {name}: dtype {}, xarray {}",
                    values.type_name(),
                    theirs["dtype"]
                ));
            }
            let ours: Vec<f64> = (0..values.len())
                .map(|flat| match values.get(&unravel(flat, values.shape())) {
                    Some(Label::Float(v)) => v,
                    Some(Label::Int(v)) => v as f64,
                    other => panic!("{name}: {other:?}"),
                })
                .collect();
            let expected = numbers(&theirs["values"]);
            if ours.len() != expected.len()
                || ours.iter().zip(&expected).any(|(a, b)| !same(*a, *b, None))
            {
                return Err(format!(
                    "coordinate {name}: values {ours:?}, xarray {expected:?}"
                ));
            }
        }
    }
    Ok(())
}

pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &len) in shape.iter().enumerate().rev() {
        if len > 0 {
            index[i] = flat % len;
            flat /= len;
        }
    }
    index
}

/// ndchunk's outcome of a case against xarray's: `Ok` when they agree
/// (both errors count), else what differs.
pub fn compare(
    ours: &ndchunk::Result<DataArray>,
    theirs: &Theirs,
    tolerance: Option<f64>,
) -> Result<(), String> {
    let r = &theirs.result;
    let ours = match (ours, r["ok"] == true) {
        (Err(_), false) => return Ok(()),
        (Err(e), true) => {
            return Err(format!(
                "ndchunk fails ({e}); xarray gives dims {} shape {}",
                r["data"]["dims"], r["data"]["shape"]
            ))
        }
        (Ok(a), false) => {
            return Err(format!(
                "xarray fails ({}); ndchunk gives dims {:?} shape {:?}",
                r["error"],
                a.dims(),
                a.shape()
            ))
        }
        (Ok(a), true) => a,
    };
    let data = &r["data"];
    if ours.dims() != strings(&data["dims"]) || ours.shape() != shape_of(&data["shape"]) {
        return Err(format!(
            "dims {:?} shape {:?}; xarray dims {} shape {}",
            ours.dims(),
            ours.shape(),
            data["dims"],
            data["shape"]
        ));
    }
    // A dtype that differs is reported with the values (compared as f64).
    let dtype = if ours.dtype().name() != data["dtype"] {
        format!("dtype {}; xarray {}; ", ours.dtype().name(), data["dtype"])
    } else {
        String::new()
    };
    let mut names: Vec<&String> = ours.coords().keys().collect();
    names.sort();
    let mut their_names: Vec<&String> = r["coords"].as_object().unwrap().keys().collect();
    their_names.sort();
    if names != their_names {
        return Err(format!("coordinates {names:?}; xarray {their_names:?}"));
    }
    for (name, coord) in ours.coords() {
        compare_coord(name, coord, &r["coords"][name.as_str()])?;
    }
    let values = ours
        .values::<f64>()
        .map_err(|e| format!("ndchunk fails computing: {e}"))?;
    let expected = theirs.data.as_ref().unwrap();
    let differ: Vec<(usize, f64, f64)> = values
        .iter()
        .zip(expected)
        .enumerate()
        .filter(|(_, (a, b))| !same(**a, **b, tolerance))
        .map(|(i, (a, b))| (i, *a, *b))
        .collect();
    if values.len() != expected.len() || !differ.is_empty() || !dtype.is_empty() {
        return Err(format!(
            "{dtype}{} of {} values differ (first (flat index, ndchunk, xarray): {:?})",
            differ.len(),
            expected.len(),
            &differ[..differ.len().min(3)]
        ));
    }
    Ok(())
}

/// Runs `cases` by both and checks the differences are the known ones.
pub fn check_table(cases: Vec<Case>, known_differences: &[&str]) {
    let Some(python) = super::support::python_peer() else {
        return;
    };
    let Some(sources) = Sources::new(&python) else {
        return;
    };
    let theirs = run_oracle(&python, &sources, &cases);
    let mut opened: BTreeMap<(Src, &str), DataArray> = BTreeMap::new();
    let mut differences: Vec<(String, String)> = Vec::new();
    for (case, theirs) in cases.iter().zip(&theirs) {
        let da = opened
            .entry((case.src, case.var))
            .or_insert_with(|| sources.open(case.src).get(case.var).unwrap());
        let ours = (case.rs)(da);
        if let Err(why) = compare(&ours, theirs, case.tolerance) {
            differences.push((case.name(), why));
        }
    }
    let report: Vec<String> = differences
        .iter()
        .map(|(name, why)| format!("{name}\n    {why}"))
        .collect();
    let unexpected: Vec<&String> = differences
        .iter()
        .filter(|(name, _)| !known_differences.contains(&name.as_str()))
        .map(|(name, _)| name)
        .collect();
    let names: Vec<String> = cases.iter().map(Case::name).collect();
    let fixed: Vec<&&str> = known_differences
        .iter()
        .filter(|k| names.iter().any(|n| n == *k))
        .filter(|k| !differences.iter().any(|(n, _)| n == *k))
        .collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "unexpected differences from xarray: {unexpected:#?}\nknown differences that no longer differ (remove them from the known differences): {fixed:#?}\nall differences:\n{}",
        report.join("\n")
    );
}
