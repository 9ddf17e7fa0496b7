//! Selection by label and position against xarray as the oracle: a table
//! of `sel`/`isel` calls run by both (see `support/xarray_table.rs`); a
//! property test that `sel` by the labels at random positions picks what
//! `isel` picks; and the errors bad input gives, each naming what was
//! wrong.
//!
//! Where ndchunk and xarray disagree the case stays in the table and is
//! listed in [`KNOWN_DIFFERENCES`]: the test fails if a listed case stops
//! differing (so the list shrinks as they are fixed) or an unlisted one
//! starts to.

#[path = "support/random.rs"]
mod random;
mod support;
#[path = "support/xarray_table.rs"]
mod xarray_table;

use ndarray::{ArrayD, Axis};
use ndchunk::{
    open_dataset, Array, Calendar, CfDatetime, Coord, DataArray, Index, Label, Reduction, Sel,
    Values,
};
use random::Random;
use xarray_table::{check_table, same, Case};

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

#[test]
fn selections_agree_with_xarray() {
    check_table(selection_cases(), KNOWN_DIFFERENCES);
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
    let mut rng = Random::new(0x5e1e_c7ed);
    for case in 0..400 {
        let (da, full, dims) = &arrays[rng.index(arrays.len())];
        let dim = dims[rng.index(dims.len())];
        let axis = da.dims().iter().position(|d| d == dim).unwrap();
        let index = labels(da, dim);
        let n = index.len();
        let (a, b) = (rng.index(n), rng.index(n));
        let (lo, hi) = (a.min(b), a.max(b));
        let kind = rng.index(6);
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
                let count = 1 + rng.index(6);
                let positions: Vec<usize> = (0..count).map(|_| rng.index(n)).collect();
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
                let step = 1 + rng.index(4);
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

/// A `time` index `[NaT, 2000-01-01, 2000-01-02]` over `[0, 1, 2]`.
fn with_nat_first() -> (DataArray, Vec<CfDatetime>) {
    let times = vec![
        CfDatetime::nat(Calendar::Standard),
        std_t(2000, 1, 1, 0),
        std_t(2000, 1, 2, 0),
    ];
    let data = Array::from_ndarray(ndarray::arr1(&[0.0, 1.0, 2.0]).into_dyn(), [3]).unwrap();
    let coord = Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn())).unwrap();
    let t = DataArray::new(data, &["time"])
        .unwrap()
        .with_coord("time", coord)
        .unwrap();
    (t, times)
}

fn picked(a: &DataArray) -> Vec<f64> {
    a.values::<f64>().unwrap().into_raw_vec_and_offset().0
}

#[test]
fn nat_is_not_the_earliest_date_of_an_index() {
    // As pandas: an index holding NaT is not sorted, so a label slice is a
    // KeyError there and an error naming NaT here (not [NaT, 2000-01-01]).
    let (t, times) = with_nat_first();
    let upto = Sel::Range {
        start: None,
        stop: Some(Label::from(times[1])),
    };
    let err = t.sel("time", upto).unwrap_err().to_string();
    assert!(
        err.contains("not monotonic") && err.contains("NaT"),
        "{err}"
    );
    let since = Sel::Range {
        start: Some(Label::from(times[2])),
        stop: None,
    };
    assert!(t.sel("time", since).is_err());
    // An exact label is found past the NaT (xarray: 1.0 and 2.0).
    assert_eq!(
        picked(&t.sel("time", Sel::At(Label::from(times[1]))).unwrap()),
        [1.0]
    );
    assert_eq!(
        picked(&t.sel("time", Sel::At(Label::from("2000-01-02"))).unwrap()),
        [2.0]
    );
    // NaT is never nearest: a label before every date picks the first date.
    let before = Label::from(std_t(1999, 12, 31, 0));
    assert_eq!(picked(&t.sel("time", Sel::nearest(before)).unwrap()), [1.0]);
    let after = Label::from(std_t(2000, 1, 5, 0));
    assert_eq!(picked(&t.sel("time", Sel::nearest(after)).unwrap()), [2.0]);
    // NaT sorts after every date (numpy's order), in any calendar.
    let nat = CfDatetime::nat(Calendar::ProlepticGregorian);
    let bc = CfDatetime::new(-1, 1, 1, 0, 0, 0, 0, Calendar::ProlepticGregorian).unwrap();
    let late = CfDatetime::new(9999, 1, 1, 0, 0, 0, 0, Calendar::ProlepticGregorian).unwrap();
    assert!(nat > bc && nat > late);
}
