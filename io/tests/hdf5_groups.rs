//! HDF5 / netCDF-4 groups and their attributes: `list_groups` and
//! `create_group` on both backends (round trips, one backend reading what
//! the other wrote), files with nested groups and every kind of attribute
//! written by h5py read as h5py reads them (compact and dense attribute
//! storage, hard-linked groups), files ndchunk writes read back by h5py,
//! netCDF4-python and xarray (global attributes = `Dataset.attrs`), the
//! netCDF-4 fixtures' global attributes as netCDF4-python and xarray report
//! them, and `inspect`'s tree. Writing groups safely (bad input, failed
//! writes, a store writing the same file) is in `hdf5_group_writes.rs`.

#[path = "../../tests/support/mod.rs"]
mod support;

mod hdf5_common;
use hdf5_common::{attrs, backends, serial, temperature_meta};

use std::path::Path;

use ndchunk_io::hdf5::{
    create_group, list_datasets, list_groups, list_groups_with, list_unsupported,
};
use ndchunk_io::hdf5::{Backend, Compression, Hdf5Store};
use ndchunk_io::info::inspect;
use ndchunk_io::{ChunkStore, IoError};
use serde_json::{json, Map, Value};

/// JSON with floats as their bits (`f:<hex>`), as the Python views spell
/// them, so nothing depends on decimal formatting.
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

/// `list_groups_with` as one JSON object, path → canonical attributes,
/// checking the order on the way: root first, each group before what is
/// below it.
fn groups_json(path: &Path, backend: Backend) -> Value {
    let groups = list_groups_with(path, backend)
        .unwrap_or_else(|e| panic!("{} ({backend}): {e}", path.display()));
    assert_eq!(groups.first().map(|g| g.0.as_str()), Some(""), "root first");
    for pair in groups.windows(2) {
        assert!(
            pair[0].0.split('/').lt(pair[1].0.split('/')),
            "order: {} before {}",
            pair[0].0,
            pair[1].0
        );
    }
    Value::Object(
        groups
            .into_iter()
            .map(|(name, a)| (name, canon(&Value::Object(a))))
            .collect(),
    )
}

/// The Python side's canonical form of attribute values (h5py's and
/// netCDF4-python's): floats as bits, non-finite ones spelled as ndchunk
/// spells them, one-element arrays unwrapped, references and compounds
/// `None` (left out).
const CANON: &str = r#"
import json, math, struct, sys
import numpy as np

HIDDEN = {"REFERENCE_LIST", "CLASS", "DIMENSION_LIST", "NAME", "_Netcdf4Dimid",
          "_Netcdf4Coordinates", "_nc3_strict", "_NCProperties"}

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
    if isinstance(v, (list, tuple)):
        items = [canon(x) for x in v]
        if any(x is None for x in items):
            return None
        return items[0] if len(items) == 1 else items
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "V" or v.dtype.fields is not None:
            return None
        return canon(list(v.ravel()))
    return None

def visible(pairs):
    out = {}
    for k, v in pairs:
        if k in HIDDEN:
            continue
        v = canon(v)
        if v is not None:
            out[k] = v
    return out
"#;

/// What h5py reads: every group (root `""`), `visititems` order, with its
/// attributes. Attributes h5py cannot read are left out.
const H5PY_GROUPS: &str = r#"
import h5py
path, out = sys.argv[1], sys.argv[2]

def read(obj):
    pairs = []
    for k in obj.attrs:
        try:
            pairs.append((k, obj.attrs[k]))
        except Exception:
            pass
    return visible(pairs)

with h5py.File(path, "r") as f:
    groups = {"": read(f)}
    def visit(name, obj):
        if isinstance(obj, h5py.Group):
            groups[name] = read(obj)
    f.visititems(visit)
json.dump(groups, open(out, "w"))
"#;

/// What netCDF4-python reads (every group's `ncattrs`) and what xarray
/// shows as the root's `Dataset.attrs`.
const NETCDF_GROUPS: &str = r#"
import netCDF4, xarray as xr
path, out = sys.argv[1], sys.argv[2]
groups = {}
def walk(g, name):
    groups[name] = visible((k, g.getncattr(k)) for k in g.ncattrs())
    for child, sub in g.groups.items():
        walk(sub, name + "/" + child if name else child)
with netCDF4.Dataset(path) as nc:
    walk(nc, "")
with xr.open_dataset(path, engine="netcdf4") as ds:
    xattrs = visible(ds.attrs.items())
json.dump({"netcdf4": groups, "xarray": xattrs}, open(out, "w"))
"#;

fn python_view(python: &Path, script: &str, file: &Path, scratch: &Path) -> Value {
    let out = scratch.join(format!(
        "view-{}.json",
        file.file_name().unwrap().to_string_lossy()
    ));
    support::run_python(python, &format!("{CANON}\n{script}"), &[file, &out]);
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// Every kind of attribute `create_group` writes, with what any reader
/// must give back (booleans become int8 0/1: netCDF has no boolean).
fn written_and_expected() -> (Map<String, Value>, Map<String, Value>) {
    let written = attrs(json!({
        "title": "ndchunk groups",
        "unicode": "température µm ✓",
        "empty": "",
        "count": 42,
        "negative": -7,
        "big": u64::MAX,
        "ratio": 0.1,
        "levels": [1, 2, 3],
        "bounds": [-1.5, 2.25],
        "one": [5],
        "flag": true,
        "flags": [true, false],
        "nested": {"a": 1},
    }));
    let mut expected = written.clone();
    expected.insert("flag".into(), json!(1));
    expected.insert("flags".into(), json!([1, 0]));
    expected.insert("one".into(), json!(5));
    expected.insert("nested".into(), json!("{\"a\":1}"));
    (written, expected)
}

/// Writes the test file with `writer`: root attributes, nested groups
/// (one made only as a parent), a dataset in a group, then more attributes
/// on an existing group (replacing one). Returns the expected listing.
fn write_tree(path: &Path, writer: Backend) -> Value {
    let (written, expected) = written_and_expected();
    create_group(path, "", &written, writer).unwrap();
    create_group(path, "/model/run1/", &attrs(json!({"member": 1})), writer).unwrap();
    create_group(path, "obs", &Map::new(), writer).unwrap();
    let store = Hdf5Store::create_with(
        path,
        "model/run1/temperature",
        &temperature_meta(),
        Compression::default(),
        writer,
    )
    .unwrap();
    let data =
        ndarray::ArrayD::<f32>::from_shape_vec(ndarray::IxDyn(&[2]), vec![1.0, 2.0]).unwrap();
    ndchunk_io::ChunkStoreExt::write_chunk(&store, &[0], data.view()).unwrap();
    store.flush().unwrap();
    drop(store);
    // Again on an existing group: one attribute replaced, one added, the
    // others kept.
    create_group(
        path,
        "model/run1",
        &attrs(json!({"member": 2, "experiment": "ssp245"})),
        writer,
    )
    .unwrap();
    json!({
        "": canon(&Value::Object(expected)),
        "model": {},
        "model/run1": {"member": 2, "experiment": "ssp245"},
        "obs": {},
    })
}

#[test]
fn groups_round_trip_on_every_backend_and_across_them() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for writer in backends() {
        let path = dir.path().join(format!("tree-{writer}.nc"));
        let expected = write_tree(&path, writer);
        for reader in backends() {
            assert_eq!(
                groups_json(&path, reader),
                expected,
                "written with {writer}, read with {reader}"
            );
            let datasets: Vec<String> = ndchunk_io::hdf5::list_datasets_with(&path, reader)
                .unwrap()
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert!(
                datasets.contains(&"model/run1/temperature".to_string()),
                "{writer} → {reader}: {datasets:?}"
            );
            let store = Hdf5Store::open_with(&path, "model/run1/temperature", reader).unwrap();
            assert_eq!(store.meta().attributes["units"], "K");
        }
    }
}

#[test]
fn arrays_of_strings_round_trip() {
    // Kept apart: the pure backend writes them as variable-length strings
    // that only HDF5 >= 2.0 reads, which the libhdf5 backend may not be.
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let path = dir.path().join(format!("strings-{backend}.h5"));
        let written = attrs(json!({"names": ["alpha", "béta", ""], "single": ["one"]}));
        create_group(&path, "g", &written, backend).unwrap();
        let groups = list_groups_with(&path, backend).unwrap();
        assert_eq!(groups[1].0, "g");
        assert_eq!(groups[1].1["names"], json!(["alpha", "béta", ""]));
        assert_eq!(groups[1].1["single"], json!("one"));
    }
}

/// h5py writes nested groups with every kind of attribute: variable- and
/// fixed-length strings, numbers of several widths and both byte orders,
/// one-element arrays, booleans, NaN, uint64, an object reference (left
/// out), bookkeeping ones (hidden), empty groups, a hard link to a group
/// (listed once), groups that track creation order, and (with
/// `libver="latest"`) groups with enough attributes to keep them in dense
/// storage.
const WRITE_H5PY: &str = r#"
import sys
import numpy as np, h5py
out = sys.argv[1]
with h5py.File(out + "/nested.h5", "w") as f:
    f.attrs["title"] = "nested groups"
    f.attrs["fixed"] = np.bytes_("fixed width")
    f.attrs["unicode"] = "µm ✓"
    f.attrs["version"] = np.int16(3)
    f.attrs["scale"] = np.float32(0.1)
    f.attrs["valid"] = np.array([1.5, -2.25])
    f.attrs["flag"] = np.bool_(True)
    f.attrs["names"] = ["x", "yy"]
    f.attrs["one"] = np.array([7], dtype=">i4")
    f.attrs["be"] = np.array([1, 2, 3], dtype=">u2")
    f.attrs["nan"] = np.float64("nan")
    f.attrs["big"] = np.uint64(2**64 - 1)
    f.attrs["_NCProperties"] = "version=2"
    f.attrs["ref"] = f.ref
    a = f.create_group("a")
    a.attrs["level"] = 1
    b = a.create_group("b")
    b.attrs["level"] = np.int8(2)
    b.attrs["units"] = np.bytes_("K")
    b.create_dataset("data", data=np.arange(4.0))
    a.create_group("empty")
    f["b_alias"] = b
    t = f.create_group("tracked", track_order=True)
    for i in range(12):
        t.attrs["k%02d" % i] = i
with h5py.File(out + "/dense.h5", "w", libver="latest") as f:
    for i in range(20):
        f.attrs["g%02d" % i] = "value %d" % i
    many = f.create_group("many")
    for i in range(40):
        many.attrs["attr%02d" % i] = np.arange(i + 1, dtype="f4")
    many.create_group("inner").attrs["x"] = 1
"#;

#[test]
fn groups_written_by_h5py_read_as_h5py_reads_them() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::run_python(&python, WRITE_H5PY, &[dir.path()]);
    for name in ["nested.h5", "dense.h5"] {
        let path = dir.path().join(name);
        let expected = python_view(&python, H5PY_GROUPS, &path, dir.path());
        for backend in backends() {
            assert_eq!(groups_json(&path, backend), expected, "{name} ({backend})");
        }
    }
    // A few values spelled out, so that a view both sides got wrong the
    // same way would still fail.
    let groups = list_groups(&dir.path().join("nested.h5")).unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.0.as_str()).collect();
    assert_eq!(names, ["", "a", "a/b", "a/empty", "tracked"]);
    let root = &groups[0].1;
    assert_eq!(root["fixed"], "fixed width");
    assert_eq!(root["one"], 7);
    assert_eq!(root["be"], json!([1, 2, 3]));
    assert_eq!(root["flag"], true);
    assert_eq!(root["nan"], "NaN");
    assert_eq!(root["big"], json!(u64::MAX));
    assert_eq!(root["scale"], json!(f64::from(0.1f32)));
    assert!(!root.contains_key("_NCProperties") && !root.contains_key("ref"));
    let dense = list_groups(&dir.path().join("dense.h5")).unwrap();
    assert_eq!(dense[0].1.len(), 20);
    assert_eq!(dense[1].1.len(), 40);
    assert_eq!(dense[1].1["attr00"], json!(0.0));
    assert_eq!(dense[1].1["attr02"], json!([0.0, 1.0, 2.0]));
}

#[test]
fn groups_written_by_ndchunk_read_the_same_in_h5py_netcdf4_and_xarray() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for writer in backends() {
        let path = dir.path().join(format!("written-{writer}.nc"));
        let expected = write_tree(&path, writer);
        let h5py = python_view(&python, H5PY_GROUPS, &path, dir.path());
        assert_eq!(h5py, expected, "h5py reading what {writer} wrote");
        let netcdf = python_view(&python, NETCDF_GROUPS, &path, dir.path());
        assert_eq!(
            netcdf["netcdf4"], expected,
            "netCDF4-python reading what {writer} wrote"
        );
        assert_eq!(
            netcdf["xarray"], expected[""],
            "xarray's Dataset.attrs of what {writer} wrote"
        );
    }
}

#[test]
fn netcdf4_fixtures_global_attributes_are_what_xarray_shows() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    for fixture in [
        "netcdf/A1B_north_america.nc",
        "netcdf/air_temperature_small.nc",
        "netcdf/uwnd_mean.nc",
        "netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc",
    ] {
        let Some(path) = support::fixture(fixture) else {
            return;
        };
        let view = python_view(&python, NETCDF_GROUPS, &path, scratch.path());
        assert!(
            !view["xarray"].as_object().unwrap().is_empty(),
            "{fixture}: no global attributes to compare"
        );
        for backend in backends() {
            let groups = groups_json(&path, backend);
            assert_eq!(groups, view["netcdf4"], "{fixture} ({backend}): groups");
            assert_eq!(
                groups[""], view["xarray"],
                "{fixture} ({backend}): ds.attrs"
            );
        }
    }
    // One value spelled out, from the fixture's own header.
    if let Some(path) = support::fixture("netcdf/A1B_north_america.nc") {
        let root = &list_groups(&path).unwrap()[0].1;
        assert_eq!(root["Conventions"], "CF-1.5");
    }
}

/// Checks that xarray reads the same data variables (values, dims,
/// attributes) from the two files.
const SAME_VARIABLES: &str = r#"
import sys
import xarray as xr
with xr.open_dataset(sys.argv[1], engine="netcdf4") as a, xr.open_dataset(sys.argv[2], engine="netcdf4") as b:
    assert sorted(a.variables) == sorted(b.variables), (list(a.variables), list(b.variables))
    for name in a.variables:
        xr.testing.assert_identical(a[name], b[name])
"#;

#[test]
fn groups_added_to_a_netcdf4_file_leave_its_variables_readable() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let Some(original) = support::fixture("netcdf/air_temperature_small.nc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let path = dir.path().join(format!("added-{backend}.nc"));
        std::fs::copy(&original, &path).unwrap();
        let mut expected = list_groups(&original).unwrap()[0].1.clone();
        let added = attrs(json!({"history": "regridded by ndchunk", "revision": 3}));
        create_group(&path, "", &added, backend).unwrap();
        create_group(
            &path,
            "provenance",
            &attrs(json!({"tool": "ndchunk"})),
            backend,
        )
        .unwrap();
        expected.extend(added);
        let expected = canon(&Value::Object(expected));
        for reader in backends() {
            let groups = groups_json(&path, reader);
            assert_eq!(groups[""], expected, "{backend} → {reader}");
            assert_eq!(groups["provenance"], json!({"tool": "ndchunk"}));
        }
        let view = python_view(&python, NETCDF_GROUPS, &path, dir.path());
        assert_eq!(
            view["xarray"], expected,
            "xarray after {backend} added attributes"
        );
        assert_eq!(view["netcdf4"]["provenance"], json!({"tool": "ndchunk"}));
        support::run_python(&python, SAME_VARIABLES, &[&original, &path]);
    }
}

#[test]
fn inspect_shows_an_hdf5_file_as_a_tree() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tree.nc");
    write_tree(&path, Backend::Pure);
    let nodes = inspect(&path).unwrap();
    let shown: Vec<(&str, &str)> = nodes.iter().map(|n| (n.path.as_str(), n.kind)).collect();
    assert_eq!(
        shown,
        [
            ("/", "group"),
            ("/model", "group"),
            ("/model/run1", "group"),
            ("/model/run1/temperature", "array"),
            ("/obs", "group"),
        ]
    );
    assert_eq!(nodes[0].attributes["title"], "ndchunk groups");
    assert_eq!(nodes[2].attributes["experiment"], "ssp245");
    assert!(nodes.iter().all(|n| n.format == "hdf5"));

    let one = inspect(Path::new(&format!(
        "{}:/model/run1/temperature",
        path.display()
    )))
    .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].path, "/model/run1/temperature");
    let below = inspect(Path::new(&format!("{}:/model", path.display()))).unwrap();
    let shown: Vec<&str> = below.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(shown, ["/model", "/model/run1", "/model/run1/temperature"]);
    let err = inspect(Path::new(&format!("{}:/nothing", path.display()))).unwrap_err();
    assert!(
        matches!(err, IoError::Metadata { .. })
            && err.to_string().contains("no dataset or group `nothing`"),
        "{err}"
    );
}

/// Datasets of element types ndchunk cannot hold, as h5py writes them, are
/// not arrays (`list_datasets` leaves them out) but are not hidden either:
/// `list_unsupported` names each with its type, and `inspect` lists them,
/// in place in the tree, with `unsupported_dtype` and an error.
#[test]
fn datasets_of_unsupported_types_are_listed_with_their_types() {
    let _serial = serial();
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinds.h5");
    let make = r#"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f["numbers"] = np.arange(4, dtype="f4")
    f["fixed"] = np.array([b"ab", b"cd"], dtype="S2")
    f.create_dataset("text", data=["one", "two"], dtype=h5py.string_dtype())
    g = f.create_group("g")
    g["pairs"] = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")])
    g.create_dataset("ragged", (2,), dtype=h5py.vlen_dtype(np.dtype("i2")))
    g["colour"] = np.array([0, 1], dtype=h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 2}, basetype="u1"))
    g["flags"] = np.array([True, False])
"#;
    support::run_python(&python, make, &[&path]);
    let arrays: Vec<String> = list_datasets(&path)
        .unwrap()
        .into_iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(arrays, ["g/flags", "numbers"]);
    let unsupported = list_unsupported(&path).unwrap();
    let expected = [
        ("fixed", "fixed-length string (2 bytes)"),
        ("g/colour", "enum of u8 (3 members)"),
        ("g/pairs", "compound {a: i32, b: f64}"),
        ("g/ragged", "variable-length sequence of i16"),
        ("text", "variable-length string"),
    ];
    let shown: Vec<(&str, &str)> = unsupported
        .iter()
        .map(|(name, dtype)| (name.as_str(), dtype.as_str()))
        .collect();
    assert_eq!(shown, expected);
    let nodes = inspect(&path).unwrap();
    let tree: Vec<(&str, Option<&str>)> = nodes
        .iter()
        .map(|n| (n.path.as_str(), n.unsupported_dtype.as_deref()))
        .collect();
    assert_eq!(
        tree,
        [
            ("/", None),
            ("/fixed", Some(expected[0].1)),
            ("/g", None),
            ("/g/colour", Some(expected[1].1)),
            ("/g/flags", None),
            ("/g/pairs", Some(expected[2].1)),
            ("/g/ragged", Some(expected[3].1)),
            ("/numbers", None),
            ("/text", Some(expected[4].1)),
        ]
    );
    for node in nodes.iter().filter(|n| n.unsupported_dtype.is_some()) {
        assert!(node.array.is_none() && node.kind == "array");
        let error = node.error.as_deref().unwrap_or_default();
        assert!(error.contains("unsupported dtype"), "{error}");
    }
    let one = inspect(Path::new(&format!("{}:/g/pairs", path.display()))).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].unsupported_dtype.as_deref(), Some(expected[2].1));
}
