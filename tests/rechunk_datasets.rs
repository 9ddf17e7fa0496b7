//! `chunkctl rechunk` of whole datasets: Zarr groups written by xarray and
//! HDF5/netCDF files (one variable, or the whole file as a group), read back
//! with xarray: the same dataset, with the new chunks.

#[path = "support/cli.rs"]
mod cli;
mod support;

use cli::{chunkctl, s};

use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::{ChunkStore, Region, ZarrStore};
use serde_json::Value;

/// A dataset xarray wrote (v2 and v3, with coordinates and attributes):
/// after `chunkctl rechunk`, xarray opens the same dataset with new chunks.
#[test]
fn xarray_dataset_group_rechunks_to_the_same_dataset() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let make = r#"
import sys, numpy as np, xarray as xr
for fmt in (2, 3):
    ds = xr.Dataset(
        {
            "t": (("time", "lat", "lon"), np.random.default_rng(1).normal(280, 5, (48, 12, 20)).astype("float32"), {"units": "K"}),
            "land": (("lat", "lon"), (np.arange(240).reshape(12, 20) % 3 == 0)),
        },
        coords={"time": np.arange(48), "lat": np.linspace(-55, 55, 12), "lon": np.linspace(0, 342, 20), "height": 2.0},
        attrs={"title": "sample", "history": "made by the test"},
    )
    ds.to_zarr(f"{sys.argv[1]}/v{fmt}.zarr", zarr_format=fmt, encoding={"t": {"chunks": (1, 12, 20)}})
"#;
    support::run_python(&python, make, &[dir.path()]);
    for fmt in ["v2", "v3"] {
        let src = dir.path().join(format!("{fmt}.zarr"));
        let dst = dir.path().join(format!("{fmt}-rechunked.zarr"));
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "time=-1,lat=4,lon=5",
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!dst.join(".ndchunk-rechunk-group.json").exists());
        let check = r#"
import sys, xarray as xr
a = xr.open_zarr(sys.argv[1])
b = xr.open_zarr(sys.argv[2])
assert a.identical(b), (a, b)
assert b["t"].encoding["chunks"] == (48, 4, 5), b["t"].encoding["chunks"]
assert b["land"].encoding["chunks"] == (4, 5), b["land"].encoding["chunks"]
assert b.attrs["title"] == "sample"
"#;
        support::run_python(&python, check, &[&src, &dst]);
    }
    // --array: one variable with its coordinates is a dataset of its own.
    let src = dir.path().join("v3.zarr");
    let dst = dir.path().join("only-t.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "time=-1,lat=4,lon=5",
        "--array",
        "t",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = r#"
import sys, xarray as xr
a = xr.open_zarr(sys.argv[1])[["t"]]
b = xr.open_zarr(sys.argv[2])
assert sorted(b.variables) == ["height", "lat", "lon", "t", "time"], sorted(b.variables)
assert a.identical(b), (a, b)
"#;
    support::run_python(&python, check, &[&src, &dst]);
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dir.path().join("none.zarr")),
        "--chunks",
        "time=-1",
        "--array",
        "nope",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no array `nope`; it has"));
    // Chunks by position cannot apply to a group's different arrays.
    let out = chunkctl(&[
        "rechunk",
        s(&dir.path().join("v2.zarr")),
        s(&dir.path().join("x.zarr")),
        "--chunks",
        "48,4,5",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("give chunks by name"));
}

/// HDF5 / netCDF-4 and netCDF-3 arrays convert to Zarr with new chunks and
/// the same values, dims and attributes.
#[test]
fn netcdf_files_convert_to_zarr() {
    let Some(netcdf) = support::fixture("netcdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (source, chunks) in [
        (
            "A1B_north_america.nc:/air_temperature",
            "time=-1,latitude=10,longitude=10",
        ),
        ("hgt_djf.nc:/z", "65,1,5,5"),
        ("coads_climatology.cdf:/SST", "TIME=-1,COADSY=30,COADSX=30"),
    ] {
        let src = format!("{}/{source}", netcdf.display());
        let dst = dir
            .path()
            .join(format!("{}.zarr", source.replace([':', '/', '.'], "_")));
        let out = chunkctl(&["rechunk", &src, s(&dst), "--chunks", chunks, "--quiet"]);
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let a = ndchunk::io::info::open_array(&src).unwrap();
        let b = ZarrStore::open_dir(&dst).unwrap();
        let whole = Region::from_shape(&a.meta().shape());
        assert_eq!(
            a.read_region_bytes(&whole).unwrap(),
            b.read_region_bytes(&whole).unwrap(),
            "{source}"
        );
        assert_eq!(
            a.meta().dimension_names,
            b.meta().dimension_names,
            "{source}"
        );
        assert_eq!(a.meta().attributes, b.meta().attributes, "{source}");
        assert_eq!(b.format(), ZarrFormat::V3);
    }
}

/// A whole netCDF file (netCDF-4 and netCDF-3, packed ints, CF times,
/// fill values, coordinates) becomes a Zarr group that xarray opens as the
/// same dataset, with the new chunks.
#[test]
fn whole_netcdf_files_convert_to_zarr_groups() {
    let Some(netcdf) = support::fixture("netcdf") else {
        return;
    };
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "A1B_north_america.nc",
            "time=-1,latitude=10,longitude=10",
            "air_temperature",
            vec![240, 10, 10],
        ),
        (
            "air_temperature_small.nc",
            "time=5,lat=-1,lon=-1",
            "air",
            vec![5, 25, 53],
        ),
        (
            "coads_climatology.cdf",
            "TIME=-1,COADSY=30,COADSX=30",
            "SST",
            vec![12, 30, 30],
        ),
        ("hgt_djf.nc", "time=-1,longitude=7", "z", vec![65, 1, 29, 7]),
    ];
    let check = r#"
import sys, json, xarray as xr
# COADS counts hours since year 0, which no calendar decodes: compare raw.
a = xr.open_dataset(sys.argv[1], decode_times=False)
b = xr.open_zarr(sys.argv[2], decode_times=False)
xr.testing.assert_identical(a, b.load())
var, chunks = sys.argv[3], tuple(json.loads(sys.argv[4]))
assert b[var].encoding["chunks"] == chunks, b[var].encoding["chunks"]
"#;
    for (file, spec, var, chunks) in cases {
        let src = netcdf.join(file);
        let dst = dir.path().join(format!("{file}.zarr"));
        // --dry-run: every variable's plan, nothing written.
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            spec,
            "--dry-run",
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let plans: Value = serde_json::from_slice(&out.stdout).unwrap();
        let planned = plans["arrays"].as_array().unwrap();
        assert!(planned
            .iter()
            .any(|a| a["path"] == format!("/{var}") && a["plan"]["passes"].is_array()));
        assert!(!dst.exists(), "a dry run writes nothing");
        let out = chunkctl(&["rechunk", s(&src), s(&dst), "--chunks", spec, "--quiet"]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let chunks = serde_json::to_string(&chunks).unwrap();
        support::run_python(
            &python,
            check,
            &[
                src.as_os_str(),
                dst.as_os_str(),
                var.as_ref(),
                chunks.as_ref(),
            ],
        );
    }
}

/// A file or group whose variables ndchunk cannot all move (netCDF-4
/// strings and compounds, netCDF-3 `char`, a Zarr string coordinate as
/// xarray writes it) is refused, naming each such variable and
/// its type, so nothing is lost unseen; `--skip-unsupported` converts the
/// others (a warning per variable left out; `--dry-run --json` and the
/// `--json` report list them) into a dataset xarray opens as the source
/// without them.
#[test]
fn files_with_unsupported_variables_are_refused_or_converted_without_them() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let make = r#"
import sys, numpy as np, netCDF4
with netCDF4.Dataset(f"{sys.argv[1]}/mixed.nc", "w") as nc:
    nc.title = "stations"
    nc.createDimension("time", 6)
    nc.createDimension("station", 3)
    t = nc.createVariable("time", "f8", ("time",))
    t[:] = np.arange(6)
    t.units = "days since 2000-01-01"
    temp = nc.createVariable("temp", "f4", ("time", "station"), chunksizes=(2, 3))
    temp[:] = np.arange(18).reshape(6, 3) * 0.5
    temp.units = "K"
    names = nc.createVariable("station_name", str, ("station",))
    names[:] = np.array(["Aberdeen", "Brest", "Cádiz"], dtype=object)
    obs_t = nc.createCompoundType(np.dtype([("flag", "i4"), ("quality", "f4")]), "obs_t")
    obs = nc.createVariable("obs", obs_t, ("time",))
    values = np.zeros(6, obs_t.dtype)
    values["flag"] = np.arange(6)
    obs[:] = values
with netCDF4.Dataset(f"{sys.argv[1]}/classic.nc", "w", format="NETCDF3_CLASSIC") as nc:
    nc.createDimension("station", 3)
    nc.createDimension("nchar", 8)
    label = nc.createVariable("label", "S1", ("station", "nchar"))
    label[:] = netCDF4.stringtochar(np.array(["north", "south", "east"], dtype="S8"))
    depth = nc.createVariable("depth", "i2", ("station",))
    depth[:] = [10, 20, 30]
import xarray as xr
xr.Dataset(
    {"t": (("x",), np.arange(4.0))},
    coords={"x": [1, 2, 3, 4], "name": ("x", np.array(["a", "b", "c", "d"]))},
).to_zarr(f"{sys.argv[1]}/strings.zarr", zarr_format=2)
"#;
    support::run_python(&python, make, &[dir.path()]);
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).to_string();
    for (file, spec, unsupported, kept) in [
        (
            "mixed.nc",
            "time=3",
            vec![
                ("/obs", "compound {flag: i32, quality: f32}"),
                ("/station_name", "variable-length string"),
            ],
            vec!["/temp", "/time"],
        ),
        (
            "classic.nc",
            "station=2",
            vec![("/label", "char (text)")],
            vec!["/depth"],
        ),
        (
            "strings.zarr",
            "x=2",
            vec![("/name", "<U1")],
            vec!["/t", "/x"],
        ),
    ] {
        let src = dir.path().join(file);
        let dst = dir.path().join(format!("{file}-rechunked.zarr"));
        // Refused by default, dry run included, naming every variable.
        for extra in [&[][..], &["--dry-run"][..]] {
            let mut args = vec!["rechunk", s(&src), s(&dst), "--chunks", spec, "--quiet"];
            args.extend_from_slice(extra);
            let out = chunkctl(&args);
            assert!(!out.status.success(), "{file} {extra:?}: not refused");
            let err = stderr(&out);
            for (path, dtype) in &unsupported {
                assert!(
                    err.contains(&format!("  {path}: {dtype}\n")),
                    "{file}: {err}"
                );
            }
            assert!(
                err.contains("would be lost") && err.contains("--skip-unsupported"),
                "{file}: {err}"
            );
            assert!(!dst.exists(), "{file}: a refused job writes nothing");
        }
        // Naming one of them is an error even with the opt-in.
        let (path, dtype) = unsupported[0];
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            spec,
            "--array",
            path,
            "--skip-unsupported",
        ]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains(&format!("holds {dtype}, which ndchunk cannot move")),
            "{file}: {}",
            stderr(&out)
        );
        // The dry run with the opt-in lists them as skipped.
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            spec,
            "--skip-unsupported",
            "--dry-run",
            "--json",
        ]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let plans: Value = serde_json::from_slice(&out.stdout).unwrap();
        let planned: Vec<&str> = plans["arrays"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["path"].as_str().unwrap())
            .collect();
        assert_eq!(planned, kept, "{file}");
        let skipped: Vec<(&str, &str)> = plans["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["path"].as_str().unwrap(), a["dtype"].as_str().unwrap()))
            .collect();
        assert_eq!(skipped, unsupported, "{file}");
        assert!(!dst.exists(), "a dry run writes nothing");
        // The run: one warning per variable left out, the others converted.
        let out = chunkctl(&[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            spec,
            "--skip-unsupported",
            "--json",
        ]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let err = stderr(&out);
        for (path, dtype) in &unsupported {
            assert_eq!(
                err.matches(&format!(
                    "warning: {path}: skipped, its element type ({dtype})"
                ))
                .count(),
                1,
                "{file}: {err}"
            );
        }
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["skipped"].as_array().map(Vec::len),
            Some(unsupported.len()),
            "{report}"
        );
        let dropped: Vec<&str> = unsupported
            .iter()
            .map(|(p, _)| p.trim_start_matches('/'))
            .collect();
        let dropped = serde_json::to_string(&dropped).unwrap();
        let check = r#"
import os, sys, json, xarray as xr
dropped = json.loads(sys.argv[3])
open_src = xr.open_zarr if os.path.isdir(sys.argv[1]) else xr.open_dataset
a = open_src(sys.argv[1], drop_variables=dropped)
b = xr.open_zarr(sys.argv[2])
assert not set(dropped) & set(b.variables), sorted(b.variables)
xr.testing.assert_identical(a.load(), b.load())
"#;
        support::run_python(
            &python,
            check,
            &[src.as_os_str(), dst.as_os_str(), dropped.as_ref()],
        );
    }
}
