//! CF time against Python's cftime: random values decoded and random dates
//! encoded, in every calendar, with references from year -2000 to 3000
//! (year 1 and the standard calendar's 1582 switch included).

#[path = "support/random.rs"]
mod random;
mod support;

use random::Random;

use ndchunk::{time_encoding, Calendar, CfDatetime, TimeUnits};
use serde_json::{json, Value};

const CALENDARS: [&str; 8] = [
    "standard",
    "gregorian",
    "proleptic_gregorian",
    "noleap",
    "all_leap",
    "360_day",
    "julian",
    "365_day",
];

const UNITS: [&str; 5] = ["days", "hours", "minutes", "seconds", "milliseconds"];

/// A date that `calendar` has, in years -2000 to 3000; one in eight
/// near the standard calendar's switch or year 1.
fn random_date(random: &mut Random, calendar: Calendar) -> CfDatetime {
    loop {
        let year = match random.below(8) {
            0 => 1582,
            1 => 1 + random.below(3) as i64 - 1,
            _ => random.below(5001) as i64 - 2000,
        };
        let month = 1 + random.below(12) as u32;
        let day = 1 + random.below(31) as u32;
        let (h, m, s) = (
            random.below(24) as u32,
            random.below(60) as u32,
            random.below(60) as u32,
        );
        if let Ok(date) = CfDatetime::new(year, month, day, h, m, s, 0, calendar) {
            return date;
        }
    }
}

fn fields(d: &CfDatetime) -> Vec<i64> {
    vec![
        d.year,
        d.month.into(),
        d.day.into(),
        d.hour.into(),
        d.minute.into(),
        d.second.into(),
        d.microsecond.into(),
    ]
}

const ORACLE: &str = r#"
import json, sys, cftime
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    try:
        if c["op"] == "decode":
            d = cftime.num2date(c["value"], c["units"], c["calendar"])
            out.append([d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond])
        else:
            y, mo, da, h, mi, s, us = c["date"]
            d = cftime.datetime(y, mo, da, h, mi, s, us, calendar=c["calendar"])
            out.append(float(cftime.date2num(d, c["units"], c["calendar"])))
    except Exception as e:
        out.append("error: " + str(e))
print(json.dumps(out))
"#;

#[test]
fn decode_and_encode_agree_with_cftime_in_every_calendar() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let mut random = Random::new(20261204);
    let mut cases = Vec::new();
    let mut ours = Vec::new();
    for i in 0..4000 {
        let name = CALENDARS[i % CALENDARS.len()];
        let calendar: Calendar = name.parse().unwrap();
        let reference = random_date(&mut random, calendar);
        let unit = UNITS[random.below(UNITS.len() as u64) as usize];
        let units_text = format!(
            "{unit} since {:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            reference.year,
            reference.month,
            reference.day,
            reference.hour,
            reference.minute,
            reference.second
        );
        let units: TimeUnits = units_text.parse().unwrap();
        if i % 2 == 0 {
            // Whole and quarter units, up to about 3000 years of days.
            let span: i64 = match unit {
                "days" => 1_100_000,
                "hours" => 26_000_000,
                "minutes" => 1_500_000_000,
                _ => 90_000_000_000,
            };
            let value =
                (random.below(2 * span as u64) as i64 - span) as f64 + random.below(4) as f64 / 4.0;
            cases.push(
                json!({"op": "decode", "value": value, "units": units_text, "calendar": name}),
            );
            ours.push(units.decode(value, calendar).map(|d| json!(fields(&d))));
        } else {
            let date = random_date(&mut random, calendar);
            cases.push(json!({"op": "encode", "date": fields(&date), "units": units_text, "calendar": name}));
            ours.push(units.encode(&date).map(|v| json!(v)));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.json");
    std::fs::write(&path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let out = support::run_python(&python, ORACLE, &[&path]);
    let theirs: Vec<Value> = serde_json::from_slice(&out).unwrap();
    assert_eq!(theirs.len(), ours.len());
    let mut compared = 0;
    for ((case, ours), theirs) in cases.iter().zip(&ours).zip(&theirs) {
        match (ours, theirs) {
            (Ok(Value::Array(a)), Value::Array(b)) => {
                assert_eq!(a, b, "{case}");
                compared += 1;
            }
            (Ok(Value::Number(a)), Value::Number(b)) => {
                let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{case}: {a} vs {b}"
                );
                compared += 1;
            }
            (ours, theirs) => panic!("{case}: ours {ours:?}, cftime {theirs}"),
        }
    }
    assert_eq!(compared, cases.len());
}

#[test]
fn what_cftime_refuses_is_a_clear_error() {
    let year_zero: TimeUnits = "days since 0000-01-01".parse().unwrap();
    let e = year_zero
        .decode(1.0, Calendar::Standard)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no year zero in the standard calendar"), "{e}");
    // Proleptic Gregorian has a year zero.
    assert_eq!(
        year_zero
            .decode(1.5, Calendar::ProlepticGregorian)
            .unwrap()
            .to_string(),
        "0000-01-02 12:00:00"
    );
    let gap: TimeUnits = "days since 1582-10-10".parse().unwrap();
    let e = gap.decode(0.0, Calendar::Standard).unwrap_err().to_string();
    assert!(e.contains("do not exist in the standard calendar"), "{e}");
    let e = "days since 2000-02-31"
        .parse::<TimeUnits>()
        .unwrap()
        .decode(0.0, Calendar::NoLeap)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("month 2 has 28 days in the noleap calendar"),
        "{e}"
    );
    let e = "months since 2000-01-01"
        .parse::<TimeUnits>()
        .unwrap()
        .decode(1.0, Calendar::Standard)
        .unwrap_err()
        .to_string();
    assert!(e.contains("360_day calendar only"), "{e}");
    let e = "tropical".parse::<Calendar>().unwrap_err().to_string();
    assert!(e.contains("unknown calendar \"tropical\""), "{e}");
    let e = "days from 2000-01-01"
        .parse::<TimeUnits>()
        .unwrap_err()
        .to_string();
    assert!(e.contains("<unit> since <date>"), "{e}");
}

/// Every variable of the netCDF fixtures whose units are a time, decoded
/// as xarray (with cftime) decodes it.
#[test]
fn the_time_axes_of_real_files_decode_as_xarray_decodes_them() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let files = [
        "netcdf/A1B_north_america.nc",
        "netcdf/air_temperature_small.nc",
        "netcdf/uwnd_mean.nc",
        "netcdf/hgt_djf.nc",
        "netcdf/coads_climatology.cdf",
        "netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc",
    ];
    let mut checked = 0;
    for relative in files {
        let Some(path) = support::fixture(relative) else {
            return;
        };
        for node in ndchunk::io::info::inspect(&path).unwrap() {
            if node.kind != "array" {
                continue;
            }
            let spec = format!("{}:{}", path.display(), node.path);
            let store = ndchunk::io::info::open_array(&spec).unwrap();
            let Some((units, calendar)) = time_encoding(&store.meta().attributes).unwrap() else {
                continue;
            };
            let values = ndchunk::DynArray::from_store(std::sync::Arc::from(store))
                .unwrap()
                .as_f64()
                .compute()
                .unwrap();
            // COADS's "hour since 0000-01-01" (Ferret's climatological
            // year) has no date in the standard calendar: xarray refuses
            // it, and so do we, saying why; in the proleptic Gregorian
            // calendar, which has a year zero, it decodes as cftime does.
            let first = values.iter().next().copied().unwrap_or(0.0);
            let calendar = match units.decode(first, calendar) {
                Err(e) => {
                    let e = e.to_string();
                    assert!(
                        e.contains("no year zero in the standard calendar"),
                        "{spec}: {e}"
                    );
                    let refused = support::run_python(
                        &python,
                        "import sys, xarray as xr\ntry:\n    xr.open_dataset(sys.argv[1], decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))\n    print('decoded')\nexcept ValueError:\n    print('refused')",
                        &[path.to_str().unwrap()],
                    );
                    assert_eq!(
                        String::from_utf8_lossy(&refused).trim(),
                        "refused",
                        "{spec}"
                    );
                    Calendar::ProlepticGregorian
                }
                Ok(_) => calendar,
            };
            let ours: Vec<String> = values
                .iter()
                .map(|&v| units.decode(v, calendar).unwrap().to_string())
                .collect();
            let script = r#"
import sys, json, cftime, xarray as xr
name, calendar = sys.argv[2], sys.argv[3]
if calendar == "proleptic_gregorian":
    raw = xr.open_dataset(sys.argv[1], decode_times=False)[name]
    times = cftime.num2date(raw.values.ravel(), raw.attrs["units"], calendar)
else:
    ds = xr.open_dataset(sys.argv[1], decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    times = ds[name].values.ravel()
print(json.dumps([t.strftime("%Y-%m-%d %H:%M:%S") + (".%06d" % t.microsecond if t.microsecond else "") for t in times]))
"#;
            let name = node.path.trim_start_matches('/');
            let out = support::run_python(
                &python,
                script,
                &[path.to_str().unwrap(), name, calendar.name()],
            );
            let theirs: Vec<String> = serde_json::from_slice(&out).unwrap();
            // cftime's strftime writes years below 1000 without padding.
            let theirs: Vec<String> = theirs
                .iter()
                .map(|t| {
                    let (year, rest) = t.split_once('-').unwrap();
                    format!("{:04}-{rest}", year.parse::<i64>().unwrap())
                })
                .collect();
            assert_eq!(ours, theirs, "{spec} ({units}, {calendar})");
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} time axes found");
}
