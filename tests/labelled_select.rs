//! Selection and reduction by name against xarray as the oracle: a table
//! of `sel`/`isel` calls run by both on the shared netCDF fixtures and on
//! Zarr stores xarray writes in the noleap and 360_day calendars (dims,
//! sizes, dtypes, coordinates and data compared exactly, NaN equal to
//! NaN; an error on both sides counts as agreement); a property test that
//! `sel` by the labels at random positions picks what `isel` picks;
//! reductions by dimension name on a fixture with masked values; and the
//! errors bad input gives, each naming what was wrong.
//!
//! Where ndchunk and xarray disagree the case stays in the table and is
//! listed in [`KNOWN_DIFFERENCES`]: the test fails if a listed case stops
//! differing (so the list shrinks as they are fixed) or an unlisted one
//! starts to.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, Axis};
use ndchunk::{
    open_dataset, open_dataset_with, open_zarr, Array, Calendar, CfDatetime, Coord, DataArray,
    Dataset, Dims, Index, Label, OpenOptions, Reduction, Sel, Values,
};
use serde_json::{json, Value};

/// Runs each case of the JSON list at argv[1] with xarray, writing
/// `results.json` to the directory argv[2] (one entry per case: `ok`, the
/// result's dims, shape, dtype and coordinates, or the error) and each
/// result's data as little-endian f64 in `<i>.bin`. A case names a file,
/// its engine, whether times are decoded (as cftime objects), a variable
/// and a Python expression of `da`.
const ORACLE: &str = r#"
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
const STORE: &str = r#"
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
enum Src {
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
    fn engine(self) -> &'static str {
        match self {
            Src::NoLeap | Src::Day360 => "zarr",
            _ => "netcdf",
        }
    }

    fn decode(self) -> bool {
        self != Src::Coads
    }

    fn calendar(self) -> &'static str {
        match self {
            Src::A1b | Src::Day360 => "360_day",
            Src::NoLeap => "noleap",
            _ => "standard",
        }
    }
}

/// The files behind each [`Src`]; the Zarr stores live in `_dir`.
struct Sources {
    paths: BTreeMap<Src, PathBuf>,
    _dir: tempfile::TempDir,
}

impl Sources {
    /// `None` after a loud skip when a fixture is absent.
    fn new(python: &Path) -> Option<Sources> {
        let mut paths = BTreeMap::new();
        for (src, file) in [
            (Src::Air, "netcdf/air_temperature_small.nc"),
            (Src::A1b, "netcdf/A1B_north_america.nc"),
            (Src::Uwnd, "netcdf/uwnd_mean.nc"),
            (Src::Coads, "netcdf/coads_climatology.cdf"),
        ] {
            paths.insert(src, support::fixture(file)?);
        }
        let dir = tempfile::tempdir().unwrap();
        for src in [Src::NoLeap, Src::Day360] {
            let store = dir.path().join(format!("{}.zarr", src.calendar()));
            support::run_python(python, STORE, &[store.as_os_str(), src.calendar().as_ref()]);
            paths.insert(src, store);
        }
        Some(Sources { paths, _dir: dir })
    }

    fn open(&self, src: Src) -> Dataset {
        let path = &self.paths[&src];
        match src {
            Src::NoLeap | Src::Day360 => open_zarr(path),
            Src::Coads => open_dataset_with(path, &OpenOptions::new().decode_times(false)),
            _ => open_dataset(path),
        }
        .unwrap_or_else(|e| panic!("{src:?}: {e}"))
    }
}

type Op = fn(&DataArray) -> ndchunk::Result<DataArray>;

/// One call run by both: `py` is a Python expression of `da` (with
/// `slice`, `cftime`, `np`, `timedelta`, and `cal`, the source's
/// calendar), `rs` the same call in ndchunk.
struct Case {
    src: Src,
    var: &'static str,
    py: &'static str,
    rs: Op,
    /// `None`: compared exactly; `Some(r)`: floats within `r` relative.
    tolerance: Option<f64>,
}

impl Case {
    fn name(&self) -> String {
        format!("{:?} {}: {}", self.src, self.var, self.py)
    }
}

macro_rules! cases {
    ($($src:ident $var:literal $py:literal => |$a:ident| $rs:expr;)*) => {
        vec![$(Case {
            src: Src::$src,
            var: $var,
            py: $py,
            rs: |$a: &DataArray| $rs,
            tolerance: None,
        },)*]
    };
}

/// A date of the standard calendar.
fn std_t(year: i64, month: u32, day: u32, hour: u32) -> CfDatetime {
    CfDatetime::new(year, month, day, hour, 0, 0, 0, Calendar::Standard).unwrap()
}

/// A date of the calendar `a`'s `time` index is in.
fn cal_t(a: &DataArray, year: i64, month: u32, day: u32, hour: u32) -> CfDatetime {
    let calendar = match a.coord("time").unwrap().values() {
        Values::Time(t) => t.iter().next().unwrap().calendar,
        other => panic!("time is {}", other.type_name()),
    };
    CfDatetime::new(year, month, day, hour, 0, 0, 0, calendar).unwrap()
}

/// `start..stop` open at the start (`None`) or the stop.
fn open_range(start: Option<Label>, stop: Option<Label>) -> Sel {
    Sel::Range { start, stop }
}

fn selection_cases() -> Vec<Case> {
    cases! {
        // Exact float labels (float32 indexes hold them exactly).
        Air "air" "da.sel(lat=60.0)" => |a| a.sel("lat", 60.0);
        Air "air" "da.sel(lat=62.5)" => |a| a.sel("lat", 62.5);
        Air "air" "da.sel(lon=202.5)" => |a| a.sel("lon", 202.5);
        Air "air" "da.sel(lat=60)" => |a| a.sel("lat", 60i64);
        Air "air" "da.sel(lat=61.0)" => |a| a.sel("lat", 61.0);
        Uwnd "uwnd" "da.sel(latitude=0.0)" => |a| a.sel("latitude", 0.0);
        Uwnd "uwnd" "da.sel(latitude=-90)" => |a| a.sel("latitude", -90i64);
        A1b "air_temperature" "da.sel(longitude=226.875)" => |a| a.sel("longitude", 226.875);
        // Inclusive label slices, ascending and descending.
        Air "air" "da.sel(lat=slice(60, 30))" => |a| a.sel("lat", Sel::range(60.0, 30.0));
        Air "air" "da.sel(lat=slice(61, 29))" => |a| a.sel("lat", Sel::range(61.0, 29.0));
        Air "air" "da.sel(lat=slice(30, 60))" => |a| a.sel("lat", Sel::range(30.0, 60.0));
        Air "air" "da.sel(lat=slice(None, 50))" => |a| a.sel("lat", open_range(None, Some(50.0.into())));
        Air "air" "da.sel(lat=slice(50, None))" => |a| a.sel("lat", open_range(Some(50.0.into()), None));
        Air "air" "da.sel(lat=slice(100, 70))" => |a| a.sel("lat", Sel::range(100.0, 70.0));
        Air "air" "da.sel(lat=slice(10, 0))" => |a| a.sel("lat", Sel::range(10.0, 0.0));
        Air "air" "da.sel(lon=slice(210, 240))" => |a| a.sel("lon", Sel::range(210.0, 240.0));
        Air "air" "da.sel(lon=slice(211, 239.9))" => |a| a.sel("lon", Sel::range(211.0, 239.9));
        Air "air" "da.sel(lon=slice(240, 210))" => |a| a.sel("lon", Sel::range(240.0, 210.0));
        Air "air" "da.sel(lon=slice(330, 330))" => |a| a.sel("lon", Sel::range(330.0, 330.0));
        Uwnd "uwnd" "da.sel(latitude=slice(10, -10))" => |a| a.sel("latitude", Sel::range(10.0, -10.0));
        Uwnd "uwnd" "da.sel(latitude=slice(10, -10), longitude=slice(350, None))" => |a| a
            .sel("latitude", Sel::range(10.0, -10.0))?
            .sel("longitude", open_range(Some(350.0.into()), None));
        A1b "air_temperature" "da.sel(latitude=slice(30, 40))" => |a| a.sel("latitude", Sel::range(30i64, 40i64));
        Day360 "t" "da.sel(lat=slice(20, -20))" => |a| a.sel("lat", Sel::range(20.0, -20.0));
        // Integer indexes (int32, descending).
        Day360 "t" "da.sel(level=850)" => |a| a.sel("level", 850i64);
        Day360 "t" "da.sel(level=850.0)" => |a| a.sel("level", 850.0);
        Day360 "t" "da.sel(level=851)" => |a| a.sel("level", 851i64);
        Day360 "t" "da.sel(level=slice(900, 500))" => |a| a.sel("level", Sel::range(900i64, 500i64));
        Day360 "t" "da.sel(level=[500, 1000])" => |a| a.sel("level", vec![500i64, 1000]);
        // Lists of labels: kept in the order given, repeats kept.
        Air "air" "da.sel(lon=[330.0, 200.0, 250.0])" => |a| a.sel("lon", vec![330.0, 200.0, 250.0]);
        Air "air" "da.sel(lat=[15.0, 75.0, 15.0])" => |a| a.sel("lat", vec![15.0, 75.0, 15.0]);
        Air "air" "da.sel(lat=[40.0])" => |a| a.sel("lat", vec![40.0]);
        Air "air" "da.sel(lat=[40.0, 41.0])" => |a| a.sel("lat", vec![40.0, 41.0]);
        Uwnd "uwnd" "da.sel(longitude=[0, 357.5])" => |a| a.sel("longitude", Sel::Labels(vec![Label::Int(0), Label::Float(357.5)]));
        // Nearest, with and without tolerance; ties; beyond the ends.
        Air "air" "da.sel(lat=61, method='nearest')" => |a| a.sel("lat", Sel::nearest(61.0));
        Air "air" "da.sel(lat=61.25, method='nearest')" => |a| a.sel("lat", Sel::nearest(61.25));
        Air "air" "da.sel(lon=201.25, method='nearest')" => |a| a.sel("lon", Sel::nearest(201.25));
        Air "air" "da.sel(lat=100, method='nearest')" => |a| a.sel("lat", Sel::nearest(100.0));
        Air "air" "da.sel(lat=-5, method='nearest')" => |a| a.sel("lat", Sel::nearest(-5.0));
        Air "air" "da.sel(lon=1000, method='nearest')" => |a| a.sel("lon", Sel::nearest(1000.0));
        Air "air" "da.sel(lat=61, method='nearest', tolerance=1.5)" => |a| a.sel("lat", Sel::nearest(61.0).tolerance(1.5));
        Air "air" "da.sel(lat=61, method='nearest', tolerance=1.0)" => |a| a.sel("lat", Sel::nearest(61.0).tolerance(1.0));
        Air "air" "da.sel(lat=61, method='nearest', tolerance=0.5)" => |a| a.sel("lat", Sel::nearest(61.0).tolerance(0.5));
        Air "air" "da.sel(lat=80, method='nearest', tolerance=1)" => |a| a.sel("lat", Sel::nearest(80.0).tolerance(1.0));
        Day360 "t" "da.sel(level=700, method='nearest')" => |a| a.sel("level", Sel::nearest(700i64));
        Day360 "t" "da.sel(level=675, method='nearest')" => |a| a.sel("level", Sel::nearest(675i64));
        Day360 "t" "da.sel(lat=0, method='nearest')" => |a| a.sel("lat", Sel::nearest(0.0));
        Air "air" "da.sel(time=cftime.datetime(2014, 2, 25, 7, calendar=cal), method='nearest')" => |a| a.sel("time", Sel::nearest(std_t(2014, 2, 25, 7)));
        Air "air" "da.sel(time=cftime.datetime(2014, 2, 25, 3, calendar=cal), method='nearest')" => |a| a.sel("time", Sel::nearest(std_t(2014, 2, 25, 3)));
        Air "air" "da.sel(time=cftime.datetime(2014, 2, 25, 7, calendar=cal), method='nearest', tolerance=timedelta(hours=2))" => |a| a.sel("time", Sel::nearest(std_t(2014, 2, 25, 7)).tolerance(7200.0));
        Air "air" "da.sel(time=cftime.datetime(2014, 2, 25, 9, calendar=cal), method='nearest', tolerance=timedelta(hours=2))" => |a| a.sel("time", Sel::nearest(std_t(2014, 2, 25, 9)).tolerance(7200.0));
        Air "air" "da.sel(time='2014-02-25T07', method='nearest')" => |a| a.sel("time", Sel::nearest("2014-02-25T07"));
        NoLeap "t" "da.sel(time=cftime.datetime(2000, 1, 1, 18, calendar=cal), method='nearest')" => |a| a.sel("time", Sel::nearest(cal_t(a, 2000, 1, 1, 18)));
        Day360 "t" "da.sel(time=cftime.datetime(2000, 2, 30, 18, calendar=cal), method='nearest')" => |a| a.sel("time", Sel::nearest(cal_t(a, 2000, 2, 30, 18)));
        // Dates: cftime labels, full and partial date strings, slices.
        Air "air" "da.sel(time=cftime.datetime(2014, 2, 25, 6, calendar=cal))" => |a| a.sel("time", std_t(2014, 2, 25, 6));
        Air "air" "da.sel(time=[cftime.datetime(2014, 2, 26, 0, calendar=cal), cftime.datetime(2014, 2, 24, 18, calendar=cal)])" => |a| a.sel("time", vec![std_t(2014, 2, 26, 0), std_t(2014, 2, 24, 18)]);
        Air "air" "da.sel(time='2014-02-25')" => |a| a.sel("time", "2014-02-25");
        Air "air" "da.sel(time='2014-02')" => |a| a.sel("time", "2014-02");
        Air "air" "da.sel(time='2014')" => |a| a.sel("time", "2014");
        Air "air" "da.sel(time='2014-02-25T06')" => |a| a.sel("time", "2014-02-25T06");
        Air "air" "da.sel(time='2014-02-25 06:00')" => |a| a.sel("time", "2014-02-25 06:00");
        Air "air" "da.sel(time='2014-02-25T06:00:00')" => |a| a.sel("time", "2014-02-25T06:00:00");
        Air "air" "da.sel(time='2014-02-25T03')" => |a| a.sel("time", "2014-02-25T03");
        Air "air" "da.sel(time='2015')" => |a| a.sel("time", "2015");
        Air "air" "da.sel(time='2014-02-25T06:30')" => |a| a.sel("time", "2014-02-25T06:30");
        Air "air" "da.sel(time='20140225')" => |a| a.sel("time", "20140225");
        Air "air" "da.sel(time='2014-2-25')" => |a| a.sel("time", "2014-2-25");
        Air "air" "da.sel(time='2014-02-25T06:00:00.000000')" => |a| a.sel("time", "2014-02-25T06:00:00.000000");
        Air "air" "da.sel(time=['2014-02-25T06:00:00', '2014-02-24T00:00:00'])" => |a| a.sel("time", vec!["2014-02-25T06:00:00", "2014-02-24T00:00:00"]);
        Air "air" "da.sel(time=slice('2014-02-25', '2014-02-26'))" => |a| a.sel("time", Sel::range("2014-02-25", "2014-02-26"));
        Air "air" "da.sel(time=slice('2014-02-25T06', '2014-02-26T12:00:00'))" => |a| a.sel("time", Sel::range("2014-02-25T06", "2014-02-26T12:00:00"));
        Air "air" "da.sel(time=slice('2014-02-27', None))" => |a| a.sel("time", open_range(Some("2014-02-27".into()), None));
        Air "air" "da.sel(time=slice(None, '2014-02-24T12'))" => |a| a.sel("time", open_range(None, Some("2014-02-24T12".into())));
        Air "air" "da.sel(time=slice('2014-02-26', '2014-02-25'))" => |a| a.sel("time", Sel::range("2014-02-26", "2014-02-25"));
        Air "air" "da.sel(time=slice(cftime.datetime(2014, 2, 25, 3, calendar=cal), cftime.datetime(2014, 2, 25, 13, calendar=cal)))" => |a| a.sel("time", Sel::range(std_t(2014, 2, 25, 3), std_t(2014, 2, 25, 13)));
        A1b "air_temperature" "da.sel(time='2000')" => |a| a.sel("time", "2000");
        A1b "air_temperature" "da.sel(time='2000-06')" => |a| a.sel("time", "2000-06");
        A1b "air_temperature" "da.sel(time='2000-06-01')" => |a| a.sel("time", "2000-06-01");
        A1b "air_temperature" "da.sel(time='2000-07')" => |a| a.sel("time", "2000-07");
        A1b "air_temperature" "da.sel(time='2000-07-16')" => |a| a.sel("time", "2000-07-16");
        A1b "air_temperature" "da.sel(time=slice('1990', '2000'))" => |a| a.sel("time", Sel::range("1990", "2000"));
        A1b "air_temperature" "da.sel(time=slice('1990-07', '2000-05-30'))" => |a| a.sel("time", Sel::range("1990-07", "2000-05-30"));
        A1b "air_temperature" "da.sel(time=cftime.datetime(2000, 6, 1, calendar=cal))" => |a| a.sel("time", cal_t(a, 2000, 6, 1, 0));
        Uwnd "uwnd" "da.sel(time='1970-07')" => |a| a.sel("time", "1970-07");
        Uwnd "uwnd" "da.sel(time=slice('1970-03', '1970-05'))" => |a| a.sel("time", Sel::range("1970-03", "1970-05"));
        Uwnd "uwnd" "da.sel(time='1970-07-16')" => |a| a.sel("time", "1970-07-16");
        NoLeap "t" "da.sel(time='2000-02')" => |a| a.sel("time", "2000-02");
        NoLeap "t" "da.sel(time='2000-02-28')" => |a| a.sel("time", "2000-02-28");
        NoLeap "t" "da.sel(time='2000-02-29')" => |a| a.sel("time", "2000-02-29");
        NoLeap "t" "da.sel(time='2000')" => |a| a.sel("time", "2000");
        NoLeap "t" "da.sel(time='1999-12-31T12')" => |a| a.sel("time", "1999-12-31T12");
        NoLeap "t" "da.sel(time=slice('2000-02-27', '2000-03-01'))" => |a| a.sel("time", Sel::range("2000-02-27", "2000-03-01"));
        NoLeap "t" "da.sel(time=cftime.datetime(2000, 3, 1, 12, calendar=cal))" => |a| a.sel("time", cal_t(a, 2000, 3, 1, 12));
        Day360 "t" "da.sel(time='2000-02')" => |a| a.sel("time", "2000-02");
        Day360 "t" "da.sel(time='2000-02-30')" => |a| a.sel("time", "2000-02-30");
        Day360 "t" "da.sel(time='2000-01-31')" => |a| a.sel("time", "2000-01-31");
        Day360 "t" "da.sel(time=slice('2000-02-29', '2000-03-01'))" => |a| a.sel("time", Sel::range("2000-02-29", "2000-03-01"));
        Day360 "t" "da.sel(time=slice('2000-02-28T12', None))" => |a| a.sel("time", open_range(Some("2000-02-28T12".into()), None));
        Day360 "t" "da.sel(time=[cftime.datetime(2000, 2, 30, 12, calendar=cal), cftime.datetime(1999, 12, 30, calendar=cal)])" => |a| a.sel("time", vec![cal_t(a, 2000, 2, 30, 12), cal_t(a, 1999, 12, 30, 0)]);
        // Positions: negative indices, steps, empty and out of bounds.
        Air "air" "da.isel(time=-1)" => |a| a.isel("time", -1);
        Air "air" "da.isel(lat=0)" => |a| a.isel("lat", 0);
        Air "air" "da.isel(time=slice(-5, None, 2))" => |a| a.isel("time", Index::range(-5, None, 2));
        Air "air" "da.isel(lat=slice(None, None, -3))" => |a| a.isel("lat", Index::range(None, None, -3));
        Air "air" "da.isel(lon=slice(10, 2, -2))" => |a| a.isel("lon", Index::range(10, 2, -2));
        Air "air" "da.isel(lat=slice(-3, -20, -4))" => |a| a.isel("lat", Index::range(-3, -20, -4));
        Air "air" "da.isel(time=slice(3, 9))" => |a| a.isel("time", 3..9);
        Air "air" "da.isel(time=slice(100, 200))" => |a| a.isel("time", 100..200);
        Air "air" "da.isel(time=slice(-100, 2))" => |a| a.isel("time", -100..2);
        Air "air" "da.isel(time=20)" => |a| a.isel("time", 20);
        Air "air" "da.isel(time=-21)" => |a| a.isel("time", -21);
        A1b "air_temperature" "da.isel(time=slice(None, None, -40))" => |a| a.isel("time", Index::range(None, None, -40));
        Day360 "count" "da.isel(level=-1, lat=slice(1, None, 2))" => |a| a.isel("level", -1)?.isel("lat", Index::range(1, None, 2));
        // Chains.
        Air "air" "da.sel(lat=slice(60, 30)).isel(time=-1).sel(lon=[250.0, 200.0])" => |a| a
            .sel("lat", Sel::range(60.0, 30.0))?
            .isel("time", -1)?
            .sel("lon", vec![250.0, 200.0]);
        Air "air" "da.isel(lat=slice(None, None, -1)).sel(lat=slice(30, 60))" => |a| a
            .isel("lat", Index::range(None, None, -1))?
            .sel("lat", Sel::range(30.0, 60.0));
        Air "air" "da.isel(time=slice(None, None, -1)).sel(time='2014-02-25')" => |a| a
            .isel("time", Index::range(None, None, -1))?
            .sel("time", "2014-02-25");
        Air "air" "da.isel(time=slice(None, None, -1)).sel(time=slice('2014-02-26', '2014-02-25'))" => |a| a
            .isel("time", Index::range(None, None, -1))?
            .sel("time", Sel::range("2014-02-26", "2014-02-25"));
        Air "air" "da.isel(time=slice(None, None, -1)).sel(time=slice(cftime.datetime(2014, 2, 26, 0, calendar=cal), cftime.datetime(2014, 2, 25, 0, calendar=cal)))" => |a| a
            .isel("time", Index::range(None, None, -1))?
            .sel("time", Sel::range(std_t(2014, 2, 26, 0), std_t(2014, 2, 25, 0)));
        A1b "air_temperature" "da.sel(time=slice('1990', '1995')).isel(latitude=slice(None, None, 9)).sel(longitude=300, method='nearest')" => |a| a
            .sel("time", Sel::range("1990", "1995"))?
            .isel("latitude", Index::range(None, None, 9))?
            .sel("longitude", Sel::nearest(300i64));
        // Errors on both sides.
        Air "air" "da.sel(depth=1.0)" => |a| a.sel("depth", 1.0);
        Air "air" "da.isel(depth=0)" => |a| a.isel("depth", 0);
        Air "air" "da.sel(lat='2000-07')" => |a| a.sel("lat", "2000-07");
        Air "air" "da.sel(time='2014-13')" => |a| a.sel("time", "2014-13");
        Air "air" "da.sel(time='20x4')" => |a| a.sel("time", "20x4");
    }
}

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

/// Cases where ndchunk and xarray disagree (by [`Case::name`]). The
/// tests assert each of these still differs, and nothing else does; the
/// failure message of a table shows what each side gives.
const KNOWN_DIFFERENCES: &[&str] = &[
    // Date strings in a list: xarray compares them with the dates as
    // strings and fails (KeyError); ndchunk reads each as the start of its
    // period (a deliberate extension).
    "Air air: da.sel(time=['2014-02-25T06:00:00', '2014-02-24T00:00:00'])",
    // A date string with method="nearest": xarray fails (TypeError, str
    // against cftime); ndchunk takes the period's start (a deliberate
    // extension).
    "Air air: da.sel(time='2014-02-25T07', method='nearest')",
];

/// What xarray did for one case.
struct Theirs {
    result: Value,
    data: Option<Vec<f64>>,
}

fn run_oracle(python: &Path, sources: &Sources, cases: &[Case]) -> Vec<Theirs> {
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
    support::run_python(python, ORACLE, &[input.as_os_str(), dir.path().as_os_str()]);
    let results: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap()).unwrap();
    results
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            let data =
                (result["ok"] == true).then(|| read_f64(&dir.path().join(format!("{i}.bin"))));
            Theirs { result, data }
        })
        .collect()
}

fn read_f64(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn same(a: f64, b: f64, tolerance: Option<f64>) -> bool {
    if a == b || (a.is_nan() && b.is_nan()) {
        return true;
    }
    match tolerance {
        Some(r) => (a - b).abs() <= r * a.abs().max(b.abs()),
        None => false,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn shape_of(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

/// A coordinate against xarray's entry: dims, shape, dtype, values.
fn compare_coord(name: &str, coord: &Coord, theirs: &Value) -> Result<(), String> {
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

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
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
fn compare(
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
fn check_table(cases: Vec<Case>) {
    let Some(python) = support::python_peer() else {
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
        .filter(|(name, _)| !KNOWN_DIFFERENCES.contains(&name.as_str()))
        .map(|(name, _)| name)
        .collect();
    let names: Vec<String> = cases.iter().map(Case::name).collect();
    let fixed: Vec<&&str> = KNOWN_DIFFERENCES
        .iter()
        .filter(|k| names.iter().any(|n| n == *k))
        .filter(|k| !differences.iter().any(|(n, _)| n == *k))
        .collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "unexpected differences from xarray: {unexpected:#?}\nknown differences that no longer differ (remove them from KNOWN_DIFFERENCES): {fixed:#?}\nall differences:\n{}",
        report.join("\n")
    );
}

#[test]
fn selections_agree_with_xarray() {
    check_table(selection_cases());
}

#[test]
fn reductions_by_dimension_name_agree_with_xarray() {
    check_table(reduction_cases());
}

/// The labels of `a`'s index along `dim`.
fn labels(a: &DataArray, dim: &str) -> Vec<Label> {
    let values = a.coord(dim).unwrap().values();
    (0..values.len())
        .map(|i| values.get(&[i]).unwrap())
        .collect()
}

/// `full`'s values at `positions` along `axis`, without the axis when
/// `drop`.
fn pick(full: &ArrayD<f64>, axis: usize, positions: &[usize], drop: bool) -> ArrayD<f64> {
    let picked = full.select(Axis(axis), positions);
    if drop {
        picked.index_axis(Axis(axis), 0).to_owned()
    } else {
        picked
    }
}

fn same_array(a: &ArrayD<f64>, b: &ArrayD<f64>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| same(*x, *y, None))
}

/// A label a little off `labels[p]` (less than a third of the way to
/// either neighbour), for `nearest`; a date is returned as it is.
fn near(labels: &[Label], p: usize, bits: u64) -> Label {
    let Label::Float(v) = labels[p] else {
        return labels[p].clone();
    };
    let gap = |q: usize| match labels[q] {
        Label::Float(w) => (w - v).abs(),
        _ => unreachable!(),
    };
    let mut spacing = f64::INFINITY;
    if p > 0 {
        spacing = spacing.min(gap(p - 1));
    }
    if p + 1 < labels.len() {
        spacing = spacing.min(gap(p + 1));
    }
    if !spacing.is_finite() {
        return labels[p].clone();
    }
    let off = spacing * ((bits % 1000) as f64 / 3000.0);
    Label::Float(if bits & 1 == 0 { v + off } else { v - off })
}

/// A deterministic random sequence (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        ndchunk::splitmix64(0x5e1e_c7ed, self.0)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn sel_by_the_labels_at_random_positions_picks_what_isel_picks() {
    let mut arrays: Vec<(DataArray, ArrayD<f64>, Vec<&str>)> = Vec::new();
    for (file, var, dims) in [
        (
            "netcdf/air_temperature_small.nc",
            "air",
            vec!["time", "lat", "lon"],
        ),
        (
            "netcdf/uwnd_mean.nc",
            "uwnd",
            vec!["time", "latitude", "longitude"],
        ),
        (
            "netcdf/A1B_north_america.nc",
            "air_temperature",
            vec!["time", "latitude", "longitude"],
        ),
    ] {
        let Some(path) = support::fixture(file) else {
            return;
        };
        let da = open_dataset(&path).unwrap().get(var).unwrap();
        let full = da.values::<f64>().unwrap();
        arrays.push((da, full, dims));
    }
    let mut rng = Rng(0);
    for case in 0..400 {
        let (da, full, dims) = &arrays[rng.below(arrays.len())];
        let dim = dims[rng.below(dims.len())];
        let axis = da.dims().iter().position(|d| d == dim).unwrap();
        let index = labels(da, dim);
        let n = index.len();
        let (a, b) = (rng.below(n), rng.below(n));
        let (lo, hi) = (a.min(b), a.max(b));
        let kind = rng.below(6);
        let what = format!("case {case}: {dim} kind {kind} positions {a}, {b}");
        // (by label, by position, the positions, dimension dropped)
        let (by_label, by_position, positions, drop) = match kind {
            0 => (
                da.sel(dim, index[a].clone()),
                Some(da.isel(dim, a as i64)),
                vec![a],
                true,
            ),
            1 => (
                da.sel(dim, Sel::range(index[lo].clone(), index[hi].clone())),
                Some(da.isel(dim, lo as i64..hi as i64 + 1)),
                (lo..=hi).collect(),
                false,
            ),
            2 => {
                let count = 1 + rng.below(6);
                let positions: Vec<usize> = (0..count).map(|_| rng.below(n)).collect();
                let sel = Sel::Labels(positions.iter().map(|&p| index[p].clone()).collect());
                (da.sel(dim, sel), None, positions, false)
            }
            3 => (
                da.sel(dim, Sel::nearest(near(&index, a, rng.next()))),
                Some(da.isel(dim, a as i64)),
                vec![a],
                true,
            ),
            4 => {
                // A negative step from hi down to lo, by label list.
                let step = 1 + rng.below(4);
                let positions: Vec<usize> = (lo..=hi).rev().step_by(step).collect();
                let sel = Sel::Labels(positions.iter().map(|&p| index[p].clone()).collect());
                let stop = lo as i64 - 1;
                let isel = Index::range(hi as i64, (stop >= 0).then_some(stop), -(step as i64));
                (da.sel(dim, sel), Some(da.isel(dim, isel)), positions, false)
            }
            _ => {
                // Negative positions by isel; a date as its full string,
                // which names a period of one second and keeps the
                // dimension (xarray's CFTimeIndex).
                let back = a as i64 - n as i64;
                match &index[a] {
                    Label::Time(t) => (
                        da.sel(dim, Label::Text(t.to_string())),
                        Some(da.isel(
                            dim,
                            Index::range(back, (back + 1 < 0).then_some(back + 1), 1),
                        )),
                        vec![a],
                        false,
                    ),
                    other => (
                        da.sel(dim, other.clone()),
                        Some(da.isel(dim, back)),
                        vec![a],
                        true,
                    ),
                }
            }
        };
        let by_label = by_label.unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = by_label.values::<f64>().unwrap();
        assert!(
            same_array(&got, &pick(full, axis, &positions, drop)),
            "{what}: sel's data differs from the positions'"
        );
        if let Some(by_position) = by_position {
            let by_position = by_position.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(by_label.dims(), by_position.dims(), "{what}");
            assert_eq!(by_label.coords(), by_position.coords(), "{what}");
            assert!(
                same_array(&got, &by_position.values::<f64>().unwrap()),
                "{what}: sel and isel differ"
            );
        } else {
            let picked: Vec<Label> = positions.iter().map(|&p| index[p].clone()).collect();
            assert_eq!(labels(&by_label, dim), picked, "{what}");
        }
    }
}

/// The error of `result`, as text.
fn error(result: ndchunk::Result<DataArray>) -> String {
    match result {
        Ok(a) => panic!(
            "expected an error, got dims {:?} shape {:?}",
            a.dims(),
            a.shape()
        ),
        Err(e) => e.to_string(),
    }
}

fn assert_names(message: &str, names: &[&str]) {
    for name in names {
        assert!(
            message.contains(name),
            "the error {message:?} does not name {name:?}"
        );
    }
}

/// A 1-D array along `x` with the index `index`.
fn along_x(index: &[f64]) -> DataArray {
    let data = ndarray::Array1::from_iter((0..index.len()).map(|i| i as f64)).into_dyn();
    let x = Coord::new(&["x"], Values::float(ndarray::arr1(index).into_dyn())).unwrap();
    DataArray::new(Array::from_ndarray(data, [2]).unwrap(), &["x"])
        .unwrap()
        .with_coord("x", x)
        .unwrap()
}

#[test]
fn bad_input_gives_an_error_naming_what_was_wrong() {
    let Some(path) = support::fixture("netcdf/air_temperature_small.nc") else {
        return;
    };
    let air = open_dataset(&path).unwrap().get("air").unwrap();

    // Unknown dimensions: named, with the ones there are.
    let e = error(air.isel("depth", 0));
    assert_names(&e, &["depth", "time", "lat", "lon"]);
    let e = error(air.sel("depth", 1.0));
    assert_names(&e, &["depth", "time", "lat", "lon"]);
    let e = error(air.mean("depth"));
    assert_names(&e, &["depth", "time", "lat", "lon"]);
    let e = error(air.std(["lat", "depth"], 1));
    assert_names(&e, &["depth"]);
    let e = error(air.reduce(Reduction::Max, "level", Some(false)));
    assert_names(&e, &["level"]);

    // Positions out of bounds and a zero step.
    let e = error(air.isel("time", 20));
    assert_names(&e, &["time", "20"]);
    let e = error(air.isel("lat", -26));
    assert_names(&e, &["lat", "-26"]);
    let e = error(air.isel("lon", Index::range(None, None, 0)));
    assert_names(&e, &["lon", "step"]);

    // A label not there, alone or in a list.
    let e = error(air.sel("lat", 61.0));
    assert_names(&e, &["61", "lat", "not found"]);
    let e = error(air.sel("lon", vec![200.0, 201.0]));
    assert_names(&e, &["201", "lon", "not found"]);
    let e = error(air.sel("time", std_t(2014, 2, 25, 3)));
    assert_names(&e, &["2014-02-25 03:00:00", "time"]);

    // Nearest beyond the tolerance: the label, the tolerance, the distance.
    let e = error(air.sel("lat", Sel::nearest(61.0).tolerance(0.5)));
    assert_names(&e, &["lat", "61", "0.5", "1"]);
    let e = error(air.sel("time", Sel::nearest(std_t(2014, 3, 1, 0)).tolerance(3600.0)));
    assert_names(&e, &["time", "3600"]);

    // Dates on a numeric index and numbers on a time index.
    let e = error(air.sel("lat", "2000-07"));
    assert_names(&e, &["2000-07", "lat", "time index"]);
    let e = error(air.sel("lon", Sel::range("2000", "2001")));
    assert_names(&e, &["2000", "lon"]);
    let e = error(air.sel("lat", std_t(2014, 2, 25, 6)));
    assert_names(&e, &["2014-02-25", "lat"]);
    let e = error(air.sel("time", 5.0));
    assert_names(&e, &["time", "5"]);

    // Malformed date strings, and dates the calendar does not have: each
    // names the string and the dimension.
    for bad in [
        "20x4",
        "2014-02-25T",
        "2014-02-25T06:00:00:00",
        "2014/02/25",
        "",
        "2014-13",
        "2014-02-30",
        "2014-02-25T25",
        "2014-02-25T06:61",
    ] {
        let e = error(air.sel("time", bad));
        let named = e.contains("\"time\"") && e.contains(&format!("{bad:?}"));
        assert!(named, "the error {e:?} does not name \"time\" and {bad:?}");
    }

    // An index that is not monotonic: exact labels and lists work (as in
    // xarray), slices and nearest are refused naming the dimension.
    let x = along_x(&[3.0, 1.0, 2.0, 0.5]);
    assert_eq!(
        x.sel("x", 2.0)
            .unwrap()
            .values::<f64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![2.0]
    );
    assert_eq!(
        x.sel("x", vec![0.5, 3.0])
            .unwrap()
            .values::<f64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![3.0, 0.0]
    );
    let e = error(x.sel("x", Sel::range(1.0, 2.0)));
    assert_names(&e, &["\"x\"", "monotonic", "slice"]);
    let e = error(x.sel("x", Sel::nearest(1.2)));
    assert_names(&e, &["\"x\"", "monotonic", "nearest"]);
    let e = error(x.sel("x", 7.0));
    assert_names(&e, &["7", "\"x\"", "not found"]);
    // NaN in an index makes it unsorted too.
    let e = error(along_x(&[0.0, f64::NAN, 2.0]).sel("x", Sel::range(0.0, 2.0)));
    assert_names(&e, &["\"x\"", "monotonic"]);

    // A dimension without an index: select it by position.
    let plain = DataArray::new(
        Array::from_ndarray(ndarray::Array1::<f64>::zeros(3).into_dyn(), [3]).unwrap(),
        &["y"],
    )
    .unwrap();
    let e = error(plain.sel("y", 1.0));
    assert_names(&e, &["\"y\"", "no index", "isel"]);
}
