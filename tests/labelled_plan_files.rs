//! Plan files of labelled pipelines (`Dataset::save_plan`): a CF-encoded
//! netCDF-4 file written by xarray (a packed `int16` temperature with a
//! fill value, a `float32` precipitation with its own) is opened and
//! decoded, smoothed by rolling windows, masked by a comparison (`where`),
//! and saved as a plan file; three shards run in separate processes (this
//! test binary started again) that load only the file, one killed with
//! `kill -9` and run again; the finishing run writes the group and its
//! consolidated metadata last. The store is byte for byte what `to_zarr`
//! writes in this process, xarray opens it only once finished, and its
//! values are xarray's own computation's. A plan of several stages
//! (anomalies from the time mean, monthly climatologies by `groupby`)
//! runs whole from its file in another process. Closures and in-memory
//! data are refused before anything is created, naming the operation; a
//! source changed after planning is refused when loading.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cli::{kill_once_logged, store_files};
use ndchunk::{
    open_dataset, open_zarr, Arith, Array, ComputeOptions, DataArray, Dataset, Join, PlanFile,
    ZarrWriteOptions,
};

const DIR: &str = "NDCHUNK_LABELLED_PLAN_TEST_DIR";
const RUN: &str = "NDCHUNK_LABELLED_PLAN_TEST_RUN";

/// Writes argv[1]: a daily (time, lat, lon) dataset, two years, CF-encoded
/// as xarray writes netCDF-4: `t2m` packed into `int16` (scale_factor,
/// add_offset, _FillValue), `pr` `float32` with a `_FillValue`, NaNs in
/// both, chunks of the whole time axis.
const WRITE_SOURCE: &str = r#"
import sys
import numpy as np, pandas as pd, xarray as xr
path = sys.argv[1]
rng = np.random.default_rng(7)
nt, ny, nx = 730, 40, 60
time = pd.date_range("2001-01-01", periods=nt, freq="D")
doy = np.arange(nt) % 365
t = (282 + 12 * np.cos(2 * np.pi * (doy - 200) / 365)[:, None, None]
     + np.linspace(-8, 8, ny)[None, :, None] + 2 * np.sin(np.arange(nx) / 7)[None, None, :]
     + rng.normal(0, 1.5, (nt, ny, nx)))
t[rng.random(t.shape) < 0.03] = np.nan
pr = rng.gamma(0.6, 3.0, (nt, ny, nx)).astype("float32")
pr[rng.random(pr.shape) < 0.02] = np.nan
ds = xr.Dataset(
    {"t2m": (("time", "lat", "lon"), t, {"units": "K", "long_name": "2 m temperature"}),
     "pr": (("time", "lat", "lon"), pr, {"units": "mm/day"})},
    coords={"time": time, "lat": np.linspace(-58.5, 58.5, ny), "lon": np.arange(nx) * 6.0},
    attrs={"title": "plan file test", "Conventions": "CF-1.8"})
chunks = (nt, 5, 6)
enc = {"t2m": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 280.0,
               "_FillValue": np.int16(-32767), "zlib": True, "chunksizes": chunks},
       "pr": {"_FillValue": np.float32(-9999.0), "zlib": True, "chunksizes": chunks},
       "time": {"units": "days since 2001-01-01", "calendar": "standard"}}
ds.to_netcdf(path, engine="netcdf4", encoding=enc)
"#;

/// argv[1] the netCDF source, argv[2] the store, argv[3] which pipeline:
/// prints, per variable, whether the store's values are xarray's own
/// computation's (NaN where xarray's are), and the largest difference.
const COMPARE: &str = r#"
import sys, json
import numpy as np, xarray as xr
src, store, which = sys.argv[1:4]
ds = xr.open_dataset(src)
if which == "windows":
    smooth = ds.t2m.rolling(time=5, min_periods=3).mean()
    expected = {"t2m_warm": smooth.where(smooth > 283.0011),
                "pr_3day": ds.pr.rolling(time=3).sum(),
                "t2m": ds.t2m}
else:
    anomaly = ds - ds.mean("time")
    clim = ds.groupby("time.month").mean()
    expected = {"t2m": anomaly.t2m, "pr": anomaly.pr,
                "t2m_clim": clim.t2m, "pr_clim": clim.pr,
                "t2m_max7": ds.t2m.rolling(time=7).max(),
                "pr_median": ds.pr.groupby("time.month").median(),
                "pr_q90": ds.pr.quantile(0.9, "time")}
ours = xr.open_zarr(store)
out = {"attrs": ours.attrs, "coords": sorted(ours.coords)}
for name, theirs in expected.items():
    mine = ours[name]
    a, b = mine.values.astype("f8"), theirs.values.astype("f8")
    same_nan = bool((np.isnan(a) == np.isnan(b)).all())
    both = ~np.isnan(a) & ~np.isnan(b)
    diff = float(np.max(np.abs(a[both] - b[both]) / np.maximum(1.0, np.abs(b[both]))))
    out[name] = {"dims": list(mine.dims), "dtype": str(mine.dtype), "same_nan": same_nan,
                 "rel": diff, "present": int(both.sum())}
    if which == "windows" and name == "t2m":
        out[name]["encoding"] = {k: str(mine.encoding.get(k)) for k in ("dtype", "scale_factor")}
print(json.dumps(out))
"#;

/// Whether xarray opens argv[1]: prints `opened` or `refused`.
const OPENS: &str = r#"
import sys
import xarray as xr
try:
    xr.open_zarr(sys.argv[1]).load()
    print("opened")
except Exception:
    print("refused")
"#;

/// The source, written once per test into `dir` (`None` without Python).
fn source(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let python = support::python_peer()?;
    let path = dir.join("source.nc");
    support::run_python(&python, WRITE_SOURCE, &[&path]);
    Some((python, path))
}

/// The sharded pipeline: CF-decoded data smoothed over five days (at
/// least three present), kept where warm; three-day precipitation sums
/// (every day present); the packed temperature as it is (written back
/// packed). Every variable on the source's grid: one stage.
fn windows(src: &Path) -> Dataset {
    let ds = open_dataset(src).unwrap();
    let t = ds.get("t2m").unwrap();
    let smooth = t.rolling("time", 5).unwrap().min_periods(3).mean().unwrap();
    let warm = smooth.where_(&smooth.greater(283.0011)).unwrap();
    let pr = ds
        .get("pr")
        .unwrap()
        .rolling("time", 3)
        .unwrap()
        .sum()
        .unwrap();
    Dataset::new()
        .with_var("t2m_warm", warm)
        .unwrap()
        .with_var("pr_3day", pr)
        .unwrap()
        .with_var("t2m", t)
        .unwrap()
        .with_attrs(ds.attrs().clone())
}

/// The pipeline of several stages: anomalies from the time mean and
/// monthly climatologies (a grouped reduction), every variable; weekly
/// maxima (rolling extremes), monthly medians (a group median) and the
/// 90th percentile over time.
fn anomalies(src: &Path) -> Dataset {
    let ds = open_dataset(src).unwrap();
    let anomaly = ds
        .arith_dataset(Arith::Sub, &ds.mean("time").unwrap(), Join::Inner)
        .unwrap();
    let clim = ds.groupby("time.month").unwrap().mean().unwrap();
    let (t, pr) = (ds.get("t2m").unwrap(), ds.get("pr").unwrap());
    anomaly
        .with_var("t2m_clim", clim.get("t2m").unwrap())
        .unwrap()
        .with_var("pr_clim", clim.get("pr").unwrap())
        .unwrap()
        .with_var("t2m_max7", t.rolling("time", 7).unwrap().max().unwrap())
        .unwrap()
        .with_var(
            "pr_median",
            pr.groupby("time.month").unwrap().median().unwrap(),
        )
        .unwrap()
        .with_var("pr_q90", pr.quantile(0.9, "time").unwrap())
        .unwrap()
}

fn write_options() -> ZarrWriteOptions {
    ZarrWriteOptions::new().compute(
        ComputeOptions::new()
            .max_mem(64 << 20)
            .threads(1)
            .progress(false),
    )
}

/// The child: loads the plan file and runs what `RUN` says (`s/i/n`,
/// shard `i` of `n` of stage `s`; `whole`); nothing of the pipeline is
/// built here.
#[test]
#[ignore = "run as a child process by the tests below"]
fn child_runs_the_plan_file() {
    let (Some(dir), Ok(run)) = (std::env::var_os(DIR), std::env::var(RUN)) else {
        return;
    };
    let dir = Path::new(&dir);
    let plan = PlanFile::load(dir.join("plan.json")).unwrap();
    let options = ComputeOptions::new().progress(false);
    if run == "whole" {
        plan.run(&options).unwrap();
        return;
    }
    let [stage, index, count]: [u64; 3] = run
        .split('/')
        .map(|n| n.parse().unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let options = options
        .journal_dir(dir.join("journal"))
        .shard(stage as usize, index, count);
    plan.run(&options).unwrap();
}

fn spawn(dir: &Path, run: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_runs_the_plan_file",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(DIR, dir)
        .env(RUN, run)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn compare(python: &Path, src: &Path, store: &Path, which: &str) -> serde_json::Value {
    let out = support::run_python(python, COMPARE, &[src, store, Path::new(which)]);
    serde_json::from_slice(&out).unwrap()
}

fn opens(python: &Path, store: &Path) -> String {
    let out = support::run_python(python, OPENS, &[store]);
    String::from_utf8_lossy(&out).trim().to_string()
}

#[test]
fn shards_of_a_dataset_plan_write_what_to_zarr_writes() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some((python, src)) = source(dir) else {
        return;
    };
    let whole = dir.join("whole.zarr");
    windows(&src)
        .to_zarr_with(&whole, &write_options())
        .unwrap();

    let dst = dir.join("sharded.zarr");
    let saved = windows(&src)
        .save_plan(&dst, &write_options(), dir.join("plan.json"))
        .unwrap();
    let stages = saved.shard_stages();
    assert_eq!(stages.len(), 1, "{}", saved.explain());
    assert_eq!(saved.destinations().len(), 3, "the data variables");
    // What the file holds: the kernels by name, the source by path, no
    // Rust closure.
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("plan.json")).unwrap()).unwrap();
    let kernels: Vec<&str> = file["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["op"] == "kernel")
        .map(|s| s["args"]["kernel"].as_str().unwrap())
        .collect();
    for kernel in [
        "cf_decode",
        "fillna",
        "notnull",
        "window_mean",
        "window_sum",
        "cf_encode",
    ] {
        assert!(kernels.contains(&kernel), "{kernel} not in {kernels:?}");
    }
    assert_eq!(file["sources"][0]["kind"], "hdf5", "{}", file["sources"]);
    assert_eq!(file["destination"].as_array().unwrap().len(), 3);
    assert_eq!(file["publish"]["zarr_format"], 3);
    assert_eq!(file["publish"]["attributes"]["title"], "plan file test");

    // Saved, not run: the coordinates are written, the data is not, and
    // the store is no group yet: xarray does not open it.
    assert!(dst.join("time").is_dir() && dst.join("t2m_warm").is_dir());
    assert!(!dst.join("zarr.json").exists());
    assert_eq!(opens(&python, &dst), "refused");

    let count = 3;
    let tasks = stages[0].tasks;
    assert!(tasks >= 4 * count, "{stages:?}");
    let mut children: Vec<Child> = (0..count)
        .map(|i| spawn(dir, &format!("1/{i}/{count}")))
        .collect();
    // Shard 0 is killed once it has done a task, then run again: it does
    // only what is left.
    let log = dir.join("journal/stage-0-blocks-shard-0-of-3.done");
    kill_once_logged(&mut children[0], &log);
    assert_eq!(opens(&python, &dst), "refused", "published before finished");
    children[0] = spawn(dir, &format!("1/0/{count}"));
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a shard failed");
    }
    assert!(
        !dst.join("zarr.json").exists(),
        "the shards publish nothing"
    );
    let finish = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"))
        .finish_shards();
    PlanFile::load(dir.join("plan.json"))
        .unwrap()
        .run(&finish)
        .unwrap();
    assert!(!dir.join("journal").exists());

    let (sharded, whole) = (store_files(&dst), store_files(&whole));
    assert!(whole.len() > 3 * tasks as usize, "{} files", whole.len());
    let names = |files: &[(PathBuf, Vec<u8>)]| -> Vec<PathBuf> {
        files.iter().map(|(p, _)| p.clone()).collect()
    };
    assert_eq!(names(&sharded), names(&whole));
    for ((path, ours), (_, theirs)) in sharded.iter().zip(&whole) {
        assert!(ours == theirs, "{} differs from to_zarr's", path.display());
    }

    let found = compare(&python, &src, &dst, "windows");
    assert_eq!(found["attrs"]["title"], "plan file test", "{found}");
    assert_eq!(found["coords"], serde_json::json!(["lat", "lon", "time"]));
    for (name, rel) in [("t2m_warm", 1e-9), ("pr_3day", 1e-5), ("t2m", 0.0)] {
        let case = &found[name];
        assert_eq!(case["same_nan"], true, "{name}: {case}");
        assert!(
            case["present"].as_u64().unwrap() > 100_000,
            "{name}: {case}"
        );
        assert!(case["rel"].as_f64().unwrap() <= rel, "{name}: {case}");
    }
    assert_eq!(found["t2m"]["encoding"]["dtype"], "int16", "{found}");
    assert_eq!(found["pr_3day"]["dtype"], "float32", "{found}");
}

#[test]
fn a_plan_of_several_stages_runs_whole_and_as_shards_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some((python, src)) = source(dir) else {
        return;
    };
    let whole = dir.join("whole.zarr");
    anomalies(&src)
        .to_zarr_with(&whole, &write_options())
        .unwrap();
    let dst = dir.join("planned.zarr");
    let saved = anomalies(&src)
        .save_plan(&dst, &write_options(), dir.join("plan.json"))
        .unwrap();
    assert!(saved.shard_stages().len() > 1, "{}", saved.explain());
    let file = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    for op in ["grouped", "rolling_extremes", "group_quantiles", "quantile"] {
        assert!(file.contains(&format!("\"op\": \"{op}\"")), "{op}");
    }
    assert!(!dst.join("zarr.json").exists());

    assert!(spawn(dir, "whole").wait().unwrap().success());
    assert!(
        store_files(&dst) == store_files(&whole),
        "the plan file's run differs from to_zarr's"
    );
    let found = compare(&python, &src, &dst, "anomalies");
    for name in [
        "t2m",
        "pr",
        "t2m_clim",
        "pr_clim",
        "t2m_max7",
        "pr_median",
        "pr_q90",
    ] {
        let case = &found[name];
        assert_eq!(case["same_nan"], true, "{name}: {case}");
        assert!(case["rel"].as_f64().unwrap() <= 1e-5, "{name}: {case}");
    }
    assert_eq!(
        found["t2m_clim"]["dims"],
        serde_json::json!(["month", "lat", "lon"])
    );

    // The same plan as shards, stage by stage, two processes each: the
    // results kept between stages (the climatologies the anomalies
    // subtract) pass through the shards' journal.
    let sharded = dir.join("sharded.zarr");
    let saved = anomalies(&src)
        .save_plan(&sharded, &write_options(), dir.join("plan.json"))
        .unwrap();
    for stage in 1..=saved.shard_stages().len() {
        let children: Vec<Child> = (0..2)
            .map(|i| spawn(dir, &format!("{stage}/{i}/2")))
            .collect();
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a shard of stage {stage} failed"
            );
        }
    }
    let finish = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"))
        .finish_shards();
    PlanFile::load(dir.join("plan.json"))
        .unwrap()
        .run(&finish)
        .unwrap();
    assert!(!dir.join("journal").exists());
    assert!(
        store_files(&sharded) == store_files(&whole),
        "the plan file's shards differ from to_zarr's"
    );

    // The source rewritten after planning: refused.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bytes = std::fs::read(&src).unwrap();
    std::fs::write(&src, bytes).unwrap();
    let e = PlanFile::load(dir.join("plan.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has changed since the plan was made"), "{e}");
}

/// Saving `ds` into `dir/refused.zarr`: the error; nothing is created.
fn refusal(ds: &Dataset, dir: &Path) -> String {
    let dst = dir.join("refused.zarr");
    let e = ds
        .save_plan(&dst, &write_options(), dir.join("refused.json"))
        .unwrap_err()
        .to_string();
    assert!(!dst.exists(), "{e}: the store was created");
    assert!(!dir.join("refused.json").exists());
    e
}

#[test]
fn local_operations_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some((_, src)) = source(dir) else {
        return;
    };
    let ds = open_dataset(&src).unwrap();
    let t = ds.get("t2m").unwrap();
    let celsius = t.data().as_f64().map("kelvin_to_celsius", |k| k - 273.15);
    let closure = DataArray::new(celsius, &["time", "lat", "lon"]).unwrap();
    let e = refusal(&Dataset::new().with_var("c", closure).unwrap(), dir);
    assert!(
        e.contains(
            "`kelvin_to_celsius` runs a Rust closure: this plan can only run in this process"
        ),
        "{e}"
    );
    let memory = Array::<f64>::zeros(&[730, 40, 60], [730, 5, 6])
        .unwrap()
        .compute()
        .unwrap();
    let in_memory = DataArray::new(
        Array::from_ndarray(memory, [730, 5, 6]).unwrap(),
        &["time", "lat", "lon"],
    )
    .unwrap();
    let e = refusal(&Dataset::new().with_var("m", in_memory).unwrap(), dir);
    assert!(
        e.contains("`from_ndarray` reads an array in this process's memory"),
        "{e}"
    );
    // Coordinates alone: nothing to plan.
    let lat = t.coord("lat").unwrap().clone();
    let e = refusal(&Dataset::new().with_coord("lat", lat).unwrap(), dir);
    assert!(e.contains("no data variables"), "{e}");
    // A plan file with no folder to go into.
    let dst = dir.join("nowhere.zarr");
    let e = ds
        .save_plan(&dst, &write_options(), dir.join("missing/plan.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no such folder for the plan file"), "{e}");
    assert!(!dst.exists());
    // An append goes into an existing store.
    let e = ds
        .save_plan(
            dir.join("x.zarr"),
            &write_options().append("time"),
            dir.join("x.json"),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("there is no store here"), "{e}");
    assert!(!dir.join("x.json").exists());
    // The same pipelines run in this process.
    let written = dir.join("here.zarr");
    Dataset::new()
        .with_var(
            "c",
            DataArray::new(
                t.data().as_f64().map("k", |k| k - 273.15),
                &["time", "lat", "lon"],
            )
            .unwrap(),
        )
        .unwrap()
        .isel("time", 0..2)
        .unwrap()
        .to_zarr_with(&written, &write_options())
        .unwrap();
    assert!(open_zarr(&written).is_ok());
}

/// Each of `arrays`, as the one variable of a dataset, saved as a plan
/// file, loaded and run: the store is byte for byte what `to_zarr` writes.
fn same_through_a_file(dir: &Path, cases: Vec<(&str, DataArray)>) {
    for (name, array) in cases {
        let ds = Dataset::new().with_var(name, array).unwrap();
        let here = dir.join(format!("{name}-here.zarr"));
        ds.to_zarr_with(&here, &write_options()).unwrap();
        let there = dir.join(format!("{name}-file.zarr"));
        let path = dir.join(format!("{name}.json"));
        ds.save_plan(&there, &write_options(), &path)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        PlanFile::load(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .run(&ComputeOptions::new().progress(false))
            .unwrap();
        assert!(
            store_files(&here) == store_files(&there),
            "{name}: the plan file's run differs from to_zarr's"
        );
    }
}

#[test]
fn the_labelled_operations_come_back_from_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some((_, src)) = source(dir) else {
        return;
    };
    let ds = open_dataset(&src).unwrap();
    let (t, pr) = (ds.get("t2m").unwrap(), ds.get("pr").unwrap());
    let clim = t.groupby("time.month").unwrap().mean().unwrap();
    let south = t.isel("lat", 0..30).unwrap();
    let north = t.isel("lat", 10..40).unwrap();
    let lon = ds.get("lon").unwrap();
    let cases = vec![
        (
            "resample",
            t.resample("time", "MS").unwrap().mean().unwrap(),
        ),
        (
            "coarsen",
            pr.coarsen(&[("lat", 4), ("lon", 6)], ndchunk::CoarsenBoundary::Exact)
                .unwrap()
                .mean()
                .unwrap(),
        ),
        ("weighted", pr.weighted(&lon).unwrap().mean("lon").unwrap()),
        (
            "rolling_std",
            t.rolling("time", 4).unwrap().center(true).std().unwrap(),
        ),
        (
            "groupby_arith",
            t.groupby("time.month").unwrap().sub(&clim).unwrap(),
        ),
        (
            "outer_join",
            south.arith(Arith::Add, &north, Join::Outer).unwrap(),
        ),
        ("coordinate", lon.arith_scalar(Arith::Mul, 2.0)),
        ("less", pr.less(0.5)),
        ("std", t.std("time", 1).unwrap()),
        // Dates' numbers, NaT as NaN, averaged.
        ("time_mean", ds.get("time").unwrap().mean("time").unwrap()),
        // A variable without the reduced dimension: its spread alone.
        (
            "spread_of_one",
            Dataset::new()
                .with_var("t", t.clone())
                .unwrap()
                .with_var("m", t.mean("time").unwrap())
                .unwrap()
                .std("time", 0)
                .unwrap()
                .get("m")
                .unwrap(),
        ),
    ];
    same_through_a_file(dir, cases);
}

/// A dataset read from a netCDF-3 file (FERRET's COADS climatology):
/// decoded, its anomaly from the annual mean saved as a plan file and run
/// from it, byte for byte `to_zarr`'s.
#[test]
fn a_netcdf3_dataset_comes_back_from_its_file() {
    let Some(fixture) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = dir.join("coads.cdf");
    std::fs::copy(&fixture, &src).unwrap();
    // Its times count from year 0, which the standard calendar lacks.
    let options = ndchunk::OpenOptions::default().decode_times(false);
    let ds = ndchunk::open_dataset_with(&src, &options).unwrap();
    let sst = ds.get("SST").unwrap();
    let anomaly = sst
        .arith(Arith::Sub, &sst.mean("TIME").unwrap(), Join::Inner)
        .unwrap();
    same_through_a_file(dir, vec![("sst_anomaly", anomaly)]);
}
