//! The HDF5 / netCDF-4 backend against h5py, netCDF4-python and xarray:
//! every netCDF-4 fixture, and files h5py and netCDF4-python write here
//! (every dtype in both byte orders, chunked with gzip and shuffle and
//! unwritten chunks, contiguous, NaN fill, groups, every kind of
//! attribute), read exactly as h5py reads them on every backend (values
//! bit for bit, shape, chunking, dims, attributes, fill value, filters);
//! and files ndchunk writes read back by h5py with the same values and
//! attributes, and by xarray with the right dimensions.

#[path = "../../tests/support/mod.rs"]
mod support;

mod hdf5_common;
use hdf5_common::{backends, serial};

use std::path::Path;
use std::process::Command;

use ndchunk_io::hdf5::{contiguous_chunks, list_datasets_with, Compression, Hdf5Store};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Region, Scalar};
use serde_json::{json, Value};

/// Dumps every dataset of an HDF5 file as h5py reads it into `out`:
/// `dump.json` (per dataset: dtype, shape, chunks, filters, fill value, the
/// dimension names h5netcdf gives, attributes without the bookkeeping ones
/// h5netcdf hides) and `<n>.bin`, the values in native byte order. Floats
/// are written as their bits (`f:<hex>`), so nothing depends on decimal
/// parsing; one-element attribute arrays are unwrapped, as netCDF4-python
/// and xarray show them.
const DUMP: &str = r#"
import json, math, struct, sys
import numpy as np, h5py

path, out = sys.argv[1], sys.argv[2]
HIDDEN = {"REFERENCE_LIST", "CLASS", "DIMENSION_LIST", "NAME", "_Netcdf4Dimid",
          "_Netcdf4Coordinates", "_nc3_strict", "_NCProperties"}
CODECS = {1: lambda v: "deflate(%d)" % v[0], 2: lambda v: "shuffle", 3: lambda v: "fletcher32"}

def canon(v):
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if f != f:
            return "NaN"
        if math.isinf(f):
            return "Infinity" if f > 0 else "-Infinity"
        return "f:" + struct.pack(">d", f).hex()
    if isinstance(v, np.ndarray):
        if v.dtype.kind in "V" or (v.dtype.kind == "O" and v.size and isinstance(v.flat[0], h5py.Reference)):
            return None
        items = [canon(x) for x in v.ravel()]
        return items[0] if len(items) == 1 else items
    return None

def supported(d):
    return d.dtype.kind in "biuf" and d.dtype.fields is None and d.dtype.itemsize in (1, 2, 4, 8) \
        and not (d.dtype.kind == "f" and d.dtype.itemsize < 4) and h5py.check_enum_dtype(d.dtype) is None \
        or d.dtype == np.bool_

def dims(f, d):
    a = d.attrs
    if a.get("CLASS") in (b"DIMENSION_SCALE", "DIMENSION_SCALE") and d.ndim == 1:
        return [d.name.split("/")[-1]]
    if "DIMENSION_LIST" in a:
        names = [f[refs[-1]].name.split("/")[-1] if len(refs) else None for refs in a["DIMENSION_LIST"]]
        return None if all(n is None for n in names) else names
    return None

f = h5py.File(path, "r")
found = {}
def visit(name, d):
    if not isinstance(d, h5py.Dataset):
        return
    entry = {"supported": bool(supported(d))}
    found[name] = entry
    if not entry["supported"]:
        return
    plist = d.id.get_create_plist()
    codecs = []
    for i in range(plist.get_nfilters()):
        code, _, values, _ = plist.get_filter(i)
        codecs.append(CODECS.get(code, lambda v: "filter(%d)" % code)(values))
    attrs = {}
    for k in d.attrs:
        if k in HIDDEN:
            continue
        v = canon(d.attrs[k])
        if v is not None:
            attrs[k] = v
    fill = attrs["_FillValue"] if "_FillValue" in attrs else canon(d.fillvalue)
    a = d[()]
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
    n = len(found)
    with open("%s/%d.bin" % (out, n), "wb") as w:
        w.write(a.tobytes())
    name_attr = d.attrs.get("NAME", b"")
    entry.update({
        "dtype": np.dtype(d.dtype.str.replace(">", "<")).name if d.dtype != np.bool_ else "bool",
        "shape": list(d.shape), "chunks": list(d.chunks) if d.chunks else None,
        "codecs": codecs, "fill": fill, "dims": dims(f, d), "attrs": attrs, "data": "%d.bin" % n,
        "dimension_only": bytes(name_attr if isinstance(name_attr, bytes) else str(name_attr).encode()).startswith(
            b"This is a netCDF dimension but not a netCDF variable"),
    })
f.visititems(visit)
json.dump(found, open(out + "/dump.json", "w"))
"#;

fn run_python(python: &Path, script: &str, args: &[&Path]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What h5py reads of every dataset of `file`.
fn h5py_view(python: &Path, file: &Path, scratch: &Path) -> Vec<(String, Value, Vec<u8>)> {
    std::fs::create_dir_all(scratch).unwrap();
    run_python(python, DUMP, &[file, scratch]);
    let dump: Value =
        serde_json::from_str(&std::fs::read_to_string(scratch.join("dump.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (name, entry) in dump.as_object().unwrap() {
        let data = match entry.get("data").and_then(Value::as_str) {
            Some(f) => std::fs::read(scratch.join(f)).unwrap(),
            None => Vec::new(),
        };
        out.push((name.clone(), entry.clone(), data));
    }
    out
}

/// JSON with floats as the dump spells them.
fn canon(v: &Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => Value::String(format!(
            "f:{:016x}",
            n.as_f64().unwrap_or(f64::NAN).to_bits()
        )),
        Value::Array(items) => Value::Array(items.iter().map(canon).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), canon(v))).collect())
        }
        other => other.clone(),
    }
}

fn canon_scalar(s: Scalar) -> Value {
    match s {
        Scalar::Bool(b) => json!(b),
        Scalar::Int(i) => json!(i),
        Scalar::UInt(u) => json!(u),
        Scalar::Float(f) if f.is_nan() => json!("NaN"),
        Scalar::Float(f) if f.is_infinite() => {
            json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
        }
        Scalar::Float(f) => json!(format!("f:{:016x}", f.to_bits())),
    }
}

/// Checks that every backend reads every dataset of `file` as h5py does,
/// and lists exactly the numeric datasets that are not netCDF
/// dimension-only scales. Returns how many datasets were compared.
fn compare_with_h5py(python: &Path, file: &Path, scratch: &Path) -> usize {
    let view = h5py_view(python, file, scratch);
    let mut compared = 0;
    for backend in backends() {
        let listed: Vec<(String, ArrayMeta)> = list_datasets_with(file, backend).unwrap();
        let mut expected_list: Vec<&str> = view
            .iter()
            .filter(|(_, e, _)| e["supported"] == json!(true) && e["dimension_only"] != json!(true))
            .map(|(n, _, _)| n.as_str())
            .collect();
        expected_list.sort();
        let listed_names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            listed_names,
            expected_list,
            "{}: {backend} lists",
            file.display()
        );
        for (name, entry, data) in &view {
            let case = format!("{}:{name} ({backend})", file.display());
            if entry["supported"] != json!(true) {
                let err = Hdf5Store::open_with(file, name, backend).unwrap_err();
                assert!(
                    matches!(err, ndchunk_io::IoError::UnsupportedDType { .. }),
                    "{case}: {err}"
                );
                continue;
            }
            let store =
                Hdf5Store::open_with(file, name, backend).unwrap_or_else(|e| panic!("{case}: {e}"));
            let meta = store.meta();
            if let Some((_, listed_meta)) = listed.iter().find(|(n, _)| n == name) {
                assert_eq!(listed_meta, meta, "{case}: listing and open differ");
            }
            assert_eq!(json!(meta.dtype.name()), entry["dtype"], "{case}");
            let shape: Vec<u64> = serde_json::from_value(entry["shape"].clone()).unwrap();
            assert_eq!(meta.shape(), shape, "{case}");
            let chunks: Vec<u64> = match entry["chunks"].as_array() {
                Some(c) => c.iter().map(|v| v.as_u64().unwrap()).collect(),
                None => contiguous_chunks(&shape, meta.dtype.size()),
            };
            assert_eq!(
                meta.grid,
                ChunkGrid::regular(&shape, &chunks).unwrap(),
                "{case}"
            );
            assert_eq!(json!(meta.codecs), entry["codecs"], "{case}");
            assert_eq!(
                canon_scalar(meta.fill_value),
                entry["fill"],
                "{case}: fill value"
            );
            assert_eq!(json!(meta.dimension_names), entry["dims"], "{case}: dims");
            assert_eq!(
                canon(&Value::Object(meta.attributes.clone())),
                entry["attrs"],
                "{case}: attributes"
            );
            let bytes = store
                .read_region_bytes(&Region::from_shape(&shape))
                .unwrap();
            assert!(bytes == *data, "{case}: values differ from h5py's");
            compared += 1;
        }
    }
    compared
}

#[test]
fn every_netcdf4_fixture_reads_as_h5py_reads_it() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    for (k, fixture) in [
        "netcdf/A1B_north_america.nc",
        "netcdf/air_temperature_small.nc",
        "netcdf/uwnd_mean.nc",
        "netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc",
        "netcdf/nemo/nemo_1m_20150201-20150301_grid-T.nc",
        "netcdf/nemo/nemo_1m_20150301-20150401_grid-T.nc",
    ]
    .iter()
    .enumerate()
    {
        let Some(path) = support::fixture(fixture) else {
            return;
        };
        let n = compare_with_h5py(&python, &path, &scratch.path().join(k.to_string()));
        assert!(
            n >= backends().len() * 4,
            "{fixture}: only {n} datasets compared"
        );
    }
}

/// Writes files with h5py and netCDF4-python: every dtype in both byte
/// orders, chunked (gzip + shuffle, partial edge chunks, one chunk never
/// written, NaN fill) and contiguous; booleans, a scalar, strings and a
/// compound (unsupported); attributes of every kind; groups; a netCDF-4
/// file with coordinate variables, a dimension without one, an unlimited
/// dimension and a group using its parent's dimension.
const WRITE_PEERS: &str = r#"
import sys
import numpy as np, h5py, netCDF4

out = sys.argv[1]
rng = np.random.default_rng(7)
with h5py.File(out + "/h5py.h5", "w") as f:
    for kind in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"]:
        for order, tag in (("<", "le"), (">", "be")):
            dt = np.dtype(order + kind)
            if kind[0] == "f":
                data = rng.standard_normal((13, 7)).astype(dt)
                data[0, 0], data[0, 1], data[0, 2], data[0, 3] = np.nan, np.inf, -np.inf, -0.0
                fill = np.nan
            else:
                info = np.iinfo(dt)
                data = rng.integers(info.min, info.max, size=(13, 7), endpoint=True, dtype=np.dtype(kind)).astype(dt)
                data[0, 0], data[0, 1] = info.min, info.max
                fill = 7
            ds = f.create_dataset("chunked/%s%s" % (kind, tag), shape=(13, 7), dtype=dt, chunks=(5, 3),
                                  compression="gzip", compression_opts=6, shuffle=True, fillvalue=fill)
            ds[0:5, :] = data[0:5]
            ds[10:13, :] = data[10:13]
            ds[5:10, 0:3] = data[5:10, 0:3]
            ds[5:10, 6:7] = data[5:10, 6:7]   # chunk (1, 1) is never written
            ds.attrs["units"] = "m s-1"
            ds.attrs["valid_range"] = np.array([data.min(), data.max()], dtype=dt)
            f.create_dataset("contiguous/%s%s" % (kind, tag), data=data)
    flags = f.create_dataset("flags", data=rng.integers(0, 2, (9, 4)).astype(bool), chunks=(4, 4), compression="gzip")
    f.create_dataset("scalar", data=np.float64(3.25))
    f.create_dataset("names", data=["a", "bb"], dtype=h5py.string_dtype())
    f.create_dataset("pairs", data=np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]))
    a = f.create_dataset("attrs", data=np.arange(6, dtype="i4").reshape(2, 3))
    a.attrs["text"] = "hello"
    a.attrs["fixed"] = np.bytes_(b"abc")
    a.attrs["texts"] = ["x", "yy"]
    a.attrs["fixed_texts"] = np.array([b"ab", b"c"], dtype="S3")
    a.attrs["ints"] = np.array([1, -2, 3], dtype=">i2")
    a.attrs["int"] = np.int64(-5)
    a.attrs["big"] = np.uint64(2**63 + 5)
    a.attrs["floats"] = np.array([0.1, np.nan, np.inf], dtype=">f8")
    a.attrs["f32"] = np.float32(0.1)
    a.attrs["flag"] = np.bool_(True)
    a.attrs["one"] = np.array([42], dtype="i4")
    f.create_dataset("deep/er/still", data=np.arange(10, dtype="u2"), chunks=(4,), fletcher32=True)
    big = f.create_dataset("big", shape=(200, 300), dtype="f4", chunks=(16, 32), compression="gzip", shuffle=True)
    big[...] = rng.standard_normal((200, 300))

with netCDF4.Dataset(out + "/netcdf4.nc", "w") as nc:
    nc.title = "written by netCDF4-python"
    nc.createDimension("time", None)
    nc.createDimension("lat", 5)
    nc.createDimension("lon", 8)
    nc.createDimension("nv", 2)
    t = nc.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01"
    t[:] = np.arange(4)
    lat = nc.createVariable("lat", "f4", ("lat",))
    lat[:] = np.linspace(-60, 60, 5)
    v = nc.createVariable("tas", "f4", ("time", "lat", "lon"), zlib=True, complevel=4, shuffle=True,
                          chunksizes=(1, 5, 4), fill_value=-999.0)
    v.long_name = "near-surface air temperature"
    v.valid_range = np.array([-100, 100], "f4")
    v[:] = rng.standard_normal((4, 5, 8)).astype("f4")
    v[2, 1, 1] = np.ma.masked
    b = nc.createVariable("lat_bnds", "f8", ("lat", "nv"))
    b[:] = rng.standard_normal((5, 2))
    c = nc.createVariable("count", "i8", ("lon",), fill_value=False)
    c[:] = np.arange(8) * 10**12
    s = nc.createVariable("station", str, ("lat",))
    g = nc.createGroup("sub")
    g.createDimension("x", 3)
    u = g.createVariable("u", "i2", ("time", "x"), zlib=True)
    u[:] = np.arange(12).reshape(4, 3)
"#;

#[test]
fn files_written_by_h5py_and_netcdf4_read_as_h5py_reads_them() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_python(&python, WRITE_PEERS, &[dir.path()]);
    let n = compare_with_h5py(
        &python,
        &dir.path().join("h5py.h5"),
        &dir.path().join("dump-h5py"),
    );
    assert!(n >= backends().len() * 45, "only {n} datasets compared");
    let n = compare_with_h5py(
        &python,
        &dir.path().join("netcdf4.nc"),
        &dir.path().join("dump-nc"),
    );
    assert!(n >= backends().len() * 6, "only {n} datasets compared");
    // The netCDF-4 dimensions, as xarray names them.
    for backend in backends() {
        let nc = dir.path().join("netcdf4.nc");
        let tas = Hdf5Store::open_with(&nc, "tas", backend).unwrap();
        assert_eq!(tas.meta().dims_or_default(), ["time", "lat", "lon"]);
        assert_eq!(tas.meta().fill_value, Scalar::Float(-999.0));
        let u = Hdf5Store::open_with(&nc, "sub/u", backend).unwrap();
        assert_eq!(u.meta().dims_or_default(), ["time", "x"]);
    }
}

/// What h5py and xarray read of a file ndchunk wrote: for each variable
/// of the root and of group `grp`, xarray's dims and dtype, and its values
/// (undecoded) in `<group>-<name>.xr.bin`.
const XARRAY_VIEW: &str = r#"
import json, sys
import numpy as np, xarray as xr

path, out = sys.argv[1], sys.argv[2]
seen = {}
for group in (None, "grp"):
    ds = xr.open_dataset(path, engine="netcdf4", group=group, mask_and_scale=False, decode_times=False)
    for name, var in ds.variables.items():
        key = (group + "/" if group else "") + name
        a = np.ascontiguousarray(var.values)
        a = a.astype(a.dtype.newbyteorder("="))
        with open("%s/%s.xr.bin" % (out, key.replace("/", "-")), "wb") as w:
            w.write(a.tobytes())
        seen[key] = {"dims": list(var.dims), "dtype": str(a.dtype), "attrs": sorted(var.attrs)}
    ds.close()
json.dump(seen, open(out + "/xarray.json", "w"))
"#;

#[test]
fn files_written_by_ndchunk_read_identically_in_h5py_and_xarray() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for writer in backends() {
        let path = dir.path().join(format!("ndchunk-{writer}.nc"));
        let mut expected: Vec<(String, Vec<String>, Vec<u8>)> = Vec::new();
        // Coordinate variables first: they become the dimension scales.
        let mut time = ArrayMeta::new(
            ChunkGrid::regular(&[6], &[6]).unwrap(),
            DType::Float64,
            Scalar::Float(0.0),
        );
        time.dimension_names = Some(vec![Some("time".into())]);
        time.attributes
            .insert("units".into(), json!("days since 2000-01-01"));
        time.attributes.insert("calendar".into(), json!("standard"));
        let values: Vec<u8> = (0..6)
            .flat_map(|i| (f64::from(i) * 0.5).to_ne_bytes())
            .collect();
        let store =
            Hdf5Store::create_with(&path, "time", &time, Compression::NONE, writer).unwrap();
        store.write_chunk_bytes(&[0], &values).unwrap();
        drop(store);
        expected.push(("time".into(), vec!["time".into()], values));
        // A data variable: partial edge chunks, one chunk never written,
        // NaN fill declared as _FillValue, gzip + shuffle, a dimension
        // with no coordinate variable.
        let mut tas = ArrayMeta::new(
            ChunkGrid::regular(&[6, 5, 7], &[4, 5, 3]).unwrap(),
            DType::Float32,
            Scalar::Float(f64::NAN),
        );
        tas.dimension_names = Some(vec![
            Some("time".into()),
            Some("lat".into()),
            Some("lon".into()),
        ]);
        tas.attributes.insert("_FillValue".into(), json!("NaN"));
        tas.attributes.insert("units".into(), json!("K"));
        tas.attributes.insert("scale_factor".into(), json!(0.5));
        tas.attributes
            .insert("valid_range".into(), json!([-1.5, 300.25]));
        tas.attributes.insert("levels".into(), json!([1, 2, 3]));
        let store =
            Hdf5Store::create_with(&path, "tas", &tas, Compression::default(), writer).unwrap();
        let mut all = vec![0u8; 6 * 5 * 7 * 4];
        for (n, block) in tas.grid.all_blocks().iter().enumerate() {
            let region = tas.grid.block_region(&block).unwrap();
            let count = region.num_elements() as usize;
            let chunk: Vec<u8> = (0..count)
                .flat_map(|i| ((n * 100 + i) as f32 - 3.5).to_ne_bytes())
                .collect();
            if n != 2 {
                store.write_chunk_bytes(&block, &chunk).unwrap();
            }
        }
        let region = Region::from_shape(&[6, 5, 7]);
        all.copy_from_slice(&store.read_region_bytes(&region).unwrap());
        drop(store);
        expected.push((
            "tas".into(),
            vec!["time".into(), "lat".into(), "lon".into()],
            all,
        ));
        // Every dtype, in a group, on dimensions of the group.
        for &dtype in DType::ALL.iter().filter(|d| **d != DType::Bool) {
            let mut meta = ArrayMeta::new(
                ChunkGrid::regular(&[3, 4], &[2, 3]).unwrap(),
                dtype,
                Scalar::Int(3),
            );
            meta.dimension_names = Some(vec![Some("y".into()), Some("x".into())]);
            meta.attributes.insert("kind".into(), json!(dtype.name()));
            let name = format!("grp/{dtype}");
            let store =
                Hdf5Store::create_with(&path, &name, &meta, Compression::deflate(3), writer)
                    .unwrap();
            let values: Vec<u8> = (0..12)
                .flat_map(|i| Scalar::Int(i * 9 - 40).to_ne_bytes(dtype))
                .collect();
            store
                .write_region_bytes(&Region::from_shape(&[3, 4]), &values)
                .unwrap();
            drop(store);
            expected.push((name, vec!["y".into(), "x".into()], values));
        }
        // h5py reads what every backend reads.
        compare_with_h5py(&python, &path, &dir.path().join(format!("dump-{writer}")));
        // xarray (netCDF-C) sees the dimensions and the values.
        let view_dir = dir.path().join(format!("xr-{writer}"));
        std::fs::create_dir_all(&view_dir).unwrap();
        run_python(&python, XARRAY_VIEW, &[&path, &view_dir]);
        let seen: Value =
            serde_json::from_str(&std::fs::read_to_string(view_dir.join("xarray.json")).unwrap())
                .unwrap();
        for (name, dims, values) in &expected {
            let entry = &seen[name.as_str()];
            assert_eq!(
                entry["dims"],
                json!(dims),
                "{writer}: xarray dims of {name}"
            );
            let got =
                std::fs::read(view_dir.join(format!("{}.xr.bin", name.replace('/', "-")))).unwrap();
            assert!(got == *values, "{writer}: xarray values of {name}");
        }
        let tas_attrs = &seen["tas"]["attrs"];
        for key in [
            "_FillValue",
            "units",
            "scale_factor",
            "valid_range",
            "levels",
        ] {
            assert!(
                tas_attrs.as_array().unwrap().contains(&json!(key)),
                "{writer}: xarray lacks {key}"
            );
        }
        // Dimension-only scales are not variables to xarray.
        assert!(
            seen.get("lon").is_none() && seen.get("lat").is_none(),
            "{seen}"
        );
    }
}
