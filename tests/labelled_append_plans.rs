//! Appends and region writes saved as plan files (`Dataset::save_plan`
//! with `ZarrWriteOptions::append`/`region`): a store xarray wrote gets
//! twenty more days from a netCDF file through a plan file run as two
//! shards in separate processes (this test binary started again), one
//! killed with `kill -9` and run again. Until the finishing run the store
//! reads as before in xarray; after it, it is byte for byte the store the
//! same append made in this process with `to_zarr_with`, and xarray reads
//! the appended values. A region write through a plan file is byte for
//! byte `to_zarr_with`'s. A store appended to by someone else meanwhile is
//! refused, and a misaligned region is refused before anything is written.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cli::{kill_once_logged, store_files};
use ndchunk::{open_dataset, ComputeOptions, PlanFile, ZarrWriteOptions};

const DIR: &str = "NDCHUNK_APPEND_PLAN_TEST_DIR";
const RUN: &str = "NDCHUNK_APPEND_PLAN_TEST_RUN";

/// Writes into argv[1]: `base.zarr` (xarray's, 40 days of a smooth daily
/// field in chunks of 2 days), `more.nc` (the next 20 days) and
/// `region.nc` (days 10 to 19 again, one kelvin warmer).
const WRITE: &str = r#"
import sys, numpy as np, pandas as pd, xarray as xr
out = sys.argv[1]
time = pd.date_range("2000-01-01", periods=60, freq="D")
lat = np.linspace(-44.5, 44.5, 90)
lon = np.linspace(0.0, 358.0, 180)
tt, yy, xx = np.meshgrid(np.arange(60), lat, lon, indexing="ij")
t = (280 + 10 * np.sin(tt / 9.0) + 5 * np.cos(yy / 17.0) * np.sin(xx / 23.0)).astype("float32")
ds = xr.Dataset({"t": (("time", "lat", "lon"), t, {"units": "K"})},
                coords={"time": time, "lat": lat, "lon": lon}, attrs={"title": "append"})
ds.isel(time=slice(0, 40)).to_zarr(out + "/base.zarr", encoding={"t": {"chunks": (2, 45, 90)}})
ds.isel(time=slice(40, 60)).to_netcdf(out + "/more.nc", encoding={"t": {"chunksizes": (2, 45, 90)}})
region = ds.isel(time=slice(10, 20))
region["t"] = region["t"] + 1
region.to_netcdf(out + "/region.nc")
"#;

/// What xarray reads of argv[1]: its times and the sum of `t`, as JSON.
const READ: &str = r#"
import json, sys, xarray as xr
ds = xr.open_zarr(sys.argv[1])
print(json.dumps({"times": int(ds.sizes["time"]), "last": str(ds.time.values[-1])[:10],
                  "sum": float(ds.t.astype("float64").sum())}))
"#;

/// The files, once per test into `dir` (`None` without Python).
fn inputs(dir: &Path) -> Option<PathBuf> {
    let python = support::python_peer()?;
    support::run_python(&python, WRITE, &[dir]);
    Some(python)
}

fn read(python: &Path, store: &Path) -> serde_json::Value {
    serde_json::from_slice(&support::run_python(python, READ, &[store])).unwrap()
}

/// A copy of `from` at `to`.
fn copy(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// xarray's store, and two copies of it: for `to_zarr_with` in this
/// process, and for the plan file.
fn copies(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let base = dir.join("base.zarr");
    let (whole, planned) = (dir.join("whole.zarr"), dir.join("planned.zarr"));
    copy(&base, &whole);
    copy(&base, &planned);
    (base, whole, planned)
}

fn options() -> ComputeOptions {
    ComputeOptions::new()
        .max_mem(64 << 20)
        .threads(1)
        .progress(false)
}

/// The child: loads the plan file and runs shard `i/n` of stage `s`
/// (`RUN`: `s/i/n`).
#[test]
#[ignore = "run as a child process by the tests below"]
fn child_runs_the_append_plan() {
    let (Some(dir), Ok(run)) = (std::env::var_os(DIR), std::env::var(RUN)) else {
        return;
    };
    let dir = Path::new(&dir);
    let [stage, index, count]: [u64; 3] = run
        .split('/')
        .map(|n| n.parse().unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let options = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"))
        .shard(stage as usize, index, count);
    PlanFile::load(dir.join("plan.json"))
        .unwrap()
        .run(&options)
        .unwrap();
}

fn spawn(dir: &Path, run: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_runs_the_append_plan",
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

#[test]
fn an_append_through_a_plan_file_is_to_zarrs_and_unseen_until_finished() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(python) = inputs(dir) else {
        return;
    };
    let (base, whole, planned) = copies(dir);
    let more = open_dataset(dir.join("more.nc")).unwrap();
    let append = ZarrWriteOptions::new().compute(options()).append("time");
    more.to_zarr_with(&whole, &append).unwrap();

    let saved = more
        .save_plan(&planned, &append, dir.join("plan.json"))
        .unwrap();
    // The data variable's chunks, and the grown time coordinate (on a
    // grid of its own): written by the plan, nothing at saving.
    let stages = saved.shard_stages();
    assert_eq!(saved.destinations().len(), 2, "{}", saved.explain());
    let data_stage = (0..stages.len()).max_by_key(|&s| stages[s].tasks).unwrap();
    assert!(stages[data_stage].tasks >= 8, "{stages:?}");
    assert_eq!(store_files(&planned), store_files(&base));
    let before = read(&python, &base);
    assert_eq!(before["times"], 40, "{before}");

    let count = 2;
    for stage in 0..stages.len() {
        let run = |i: u64| format!("{}/{i}/{count}", stage + 1);
        let mut children: Vec<Child> = (0..count).map(|i| spawn(dir, &run(i))).collect();
        if stage == data_stage {
            let log = format!("journal/stage-{stage}-blocks-shard-0-of-2.done");
            kill_once_logged(&mut children[0], &dir.join(log));
            assert_eq!(read(&python, &planned), before, "seen before finished");
            children[0] = spawn(dir, &run(0));
        }
        for mut child in children {
            assert!(child.wait().unwrap().success(), "a shard failed");
        }
    }
    assert_eq!(
        read(&python, &planned),
        before,
        "the shards publish nothing"
    );
    let finish = options().journal_dir(dir.join("journal")).finish_shards();
    PlanFile::load(dir.join("plan.json"))
        .unwrap()
        .run(&finish)
        .unwrap();

    let (ours, theirs) = (store_files(&planned), store_files(&whole));
    assert_eq!(ours.len(), theirs.len());
    for ((path, a), (other, b)) in ours.iter().zip(&theirs) {
        assert_eq!(path, other);
        assert!(a == b, "{} differs from to_zarr_with's", path.display());
    }
    let after = read(&python, &planned);
    assert_eq!(after["times"], 60, "{after}");
    assert_eq!(after["last"], "2000-02-29", "{after}");
    let added: f64 = more
        .get("t")
        .unwrap()
        .values::<f32>()
        .unwrap()
        .iter()
        .map(|&v| f64::from(v))
        .sum();
    let sums = |v: &serde_json::Value| v["sum"].as_f64().unwrap();
    assert!(
        (sums(&after) - sums(&before) - added).abs() <= 1e-6 * sums(&after),
        "{after} {before} {added}"
    );

    // Run again once finished: an append is made once.
    let e = PlanFile::load(dir.join("plan.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("appended to by this plan's finished run"), "{e}");
    assert_eq!(store_files(&planned), ours);
}

#[test]
fn a_region_write_through_a_plan_file_is_to_zarrs() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(python) = inputs(dir) else {
        return;
    };
    let (base, whole, planned) = copies(dir);
    let region = open_dataset(dir.join("region.nc")).unwrap();
    let into = ZarrWriteOptions::new()
        .compute(options())
        .region("time", 10..20);
    region.to_zarr_with(&whole, &into).unwrap();
    region
        .save_plan(&planned, &into, dir.join("plan.json"))
        .unwrap();
    PlanFile::load(dir.join("plan.json"))
        .unwrap()
        .run(&options())
        .unwrap();
    assert_eq!(store_files(&planned), store_files(&whole));
    let (before, after) = (read(&python, &base), read(&python, &planned));
    assert_eq!(after["times"], 40);
    // One kelvin more over 10 days of 90 x 180 values.
    let grew = after["sum"].as_f64().unwrap() - before["sum"].as_f64().unwrap();
    assert!((grew - 10.0 * 90.0 * 180.0).abs() < 1.0, "{grew}");
}

#[test]
fn a_store_changed_meanwhile_or_a_misaligned_region_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    if inputs(dir).is_none() {
        return;
    }
    let store = dir.join("store.zarr");
    copy(&dir.join("base.zarr"), &store);
    let more = open_dataset(dir.join("more.nc")).unwrap();
    let append = ZarrWriteOptions::new().compute(options()).append("time");
    more.save_plan(&store, &append, dir.join("plan.json"))
        .unwrap();
    // Saving writes nothing into the store: a second plan of another
    // append does not change what the first writes.
    assert_eq!(store_files(&store), store_files(&dir.join("base.zarr")));
    // Someone else appends first: the plan is refused, and the store is
    // theirs as they left it.
    more.to_zarr_with(&store, &append).unwrap();
    let theirs = store_files(&store);
    let e = PlanFile::load(dir.join("plan.json"))
        .and_then(|plan| plan.run(&options()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("it was changed meanwhile"), "{e}");
    assert!(e.contains("by someone else"), "{e}");
    assert_eq!(store_files(&store), theirs);

    // A region off the chunks (of two days): refused at save, nothing
    // written.
    let region = open_dataset(dir.join("region.nc")).unwrap();
    let misaligned = ZarrWriteOptions::new()
        .compute(options())
        .region("time", 11..20);
    let fresh = dir.join("fresh.zarr");
    copy(&dir.join("base.zarr"), &fresh);
    let files = store_files(&fresh);
    let e = region
        .isel("time", 1..10)
        .unwrap()
        .save_plan(&fresh, &misaligned, dir.join("misaligned.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not fall on its chunks"), "{e}");
    assert_eq!(store_files(&fresh), files);
    assert!(!dir.join("misaligned.json").exists());
}
