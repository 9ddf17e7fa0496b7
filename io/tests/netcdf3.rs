//! The netCDF-3 backend against netCDF4-python (the netCDF-C library): the
//! shared fixtures and files netCDF4-python writes here in every netCDF-3
//! format read bit for bit as it reads them (values, dims, attributes,
//! fill values); any chunking and any region read like the whole variable.
//! Bad files are tested in `netcdf3_bad_input`.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use ndchunk_io::copy::copy_box;
use ndchunk_io::netcdf3::{global_attributes, list_variables, Netcdf3Format, Netcdf3Store};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, DType, IoError, Region, Scalar};
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// The peer: what netCDF4-python reads.

/// Dumps a file as netCDF4-python reads it, raw (no masking, no scaling):
/// `meta.json` (format, global attributes, and per variable dims, shape,
/// dtype, attributes, fill value bytes) and one `.bin` of native-order
/// values per numeric variable. Floats are written as their bits, so the
/// comparison never depends on decimal parsing.
const DUMP: &str = r#"
import json, math, struct, sys
import numpy as np, netCDF4

path, out = sys.argv[1], sys.argv[2]

def num(x):
    if isinstance(x, float):
        if x != x:
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return {"f64": struct.pack(">d", x).hex()}
    return x

def attr(v):
    if isinstance(v, str):
        return v
    a = np.asarray(v)
    if a.ndim == 0:
        return num(a.item())
    return [num(x) for x in a.tolist()]

ds = netCDF4.Dataset(path)
meta = {"format": ds.file_format,
        "global": {k: attr(ds.getncattr(k)) for k in ds.ncattrs()},
        "vars": []}
for i, (name, v) in enumerate(ds.variables.items()):
    v.set_auto_maskandscale(False)
    entry = {"name": name, "dims": list(v.dimensions), "shape": list(v.shape),
             "attrs": {k: attr(v.getncattr(k)) for k in v.ncattrs()}}
    if v.dtype.kind == "S":
        entry["dtype"] = "char"
    else:
        native = v.dtype.newbyteorder("=")
        entry["dtype"] = v.dtype.str
        np.asarray(v[...]).astype(native).tofile(f"{out}/{i}.bin")
        entry["data"] = f"{i}.bin"
        fill = v.getncattr("_FillValue") if "_FillValue" in v.ncattrs() \
            else netCDF4.default_fillvals[v.dtype.str[1:]]
        entry["fill"] = np.array(fill).astype(native).tobytes().hex()
    meta["vars"].append(entry)
json.dump(meta, open(f"{out}/meta.json", "w"))
"#;

/// Writes the test files: each netCDF-3 format with every dtype it has as
/// fixed and record variables (extreme integers, NaN, ±inf, -0.0), records
/// left to the fill value, `_FillValue`s (NaN too), default fills, a
/// scalar, a variable using one dimension twice, a `char` variable and
/// attributes of every kind; and the layouts that only some files have: a
/// single record variable of shorts or bytes (records not padded) and an
/// unlimited dimension with no records.
const WRITE: &str = r#"
import sys
import numpy as np, netCDF4

out = sys.argv[1]
rng = np.random.default_rng(7)

def values(t, shape):
    dt = np.dtype(t)
    if dt.kind == "f":
        a = (rng.standard_normal(shape) * 1000).astype(dt)
        flat = a.reshape(-1)
        flat[:4] = [np.nan, np.inf, -np.inf, -0.0][:flat.size]
        return a
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    a.reshape(-1)[:2] = [info.min, info.max]
    return a

base = ["i1", "i2", "i4", "f4", "f8"]
for fmt, types in [("NETCDF3_CLASSIC", base), ("NETCDF3_64BIT_OFFSET", base),
                   ("NETCDF3_64BIT_DATA", base + ["u1", "u2", "u4", "i8", "u8"])]:
    ds = netCDF4.Dataset(f"{out}/{fmt}.nc", "w", format=fmt)
    ds.set_auto_maskandscale(False)
    ds.title = "ndchunk netCDF-3 test"
    ds.unicode = "Müller – 1°C"
    ds.empty_text = ""
    ds.setncattr("int_attr", np.int32(-3))
    ds.setncattr("float_attr", np.float32(0.1))
    ds.setncattr("doubles", np.array([0.5, np.nan, np.inf, -np.inf]))
    ds.setncattr("bytes", np.array([-1, 2, 3], "i1"))
    ds.setncattr("shorts", np.array([-32768, 32767], "i2"))
    ds.createDimension("time", None)
    ds.createDimension("y", 5)
    ds.createDimension("x", 7)
    ds.createDimension("odd", 3)
    ds.createDimension("strlen", 8)
    for t in types:
        v = ds.createVariable(f"fixed_{t}", t, ("y", "x"))
        v.valid_range = np.array([0, 100], t)
        v.units = "1"
        v[:] = values(t, (5, 7))
        r = ds.createVariable(f"rec_{t}", t, ("time", "odd"))
        r[0:4] = values(t, (4, 3))
    ds.createVariable("time", "f8", ("time",))[0:4] = np.arange(4) * 6.0
    ds.createVariable("late", "f4", ("time", "x"))[0:2] = values("f4", (2, 7))
    v = ds.createVariable("with_fill", "f4", ("y", "x"), fill_value=np.float32(-999))
    v[0:2] = values("f4", (2, 7))
    ds.createVariable("default_fill", "f8", ("y", "x"))[0, 0] = np.nan
    ds.createVariable("nan_fill", "f4", ("x",), fill_value=np.float32(np.nan))[0:3] = 1
    ds.createVariable("int_fill", "i2", ("odd",), fill_value=np.int16(-1))[0] = 5
    ds.createVariable("scalar", "f8", ()).assignValue(3.25)
    ds.createVariable("cov", "f4", ("x", "x"))[:] = values("f4", (7, 7))
    text = ds.createVariable("text", "S1", ("y", "strlen"))
    text[:] = netCDF4.stringtochar(np.array(["hello"] * 5, "S8"))
    ds.close()

for name, t, n in [("one_record_short", "i2", 3), ("one_record_byte", "i1", 5)]:
    ds = netCDF4.Dataset(f"{out}/{name}.nc", "w", format="NETCDF3_CLASSIC")
    ds.set_auto_maskandscale(False)
    ds.createDimension("time", None)
    ds.createDimension("n", n)
    ds.createVariable("v", t, ("time", "n"))[0:5] = values(t, (5, n))
    ds.close()

ds = netCDF4.Dataset(f"{out}/no_records.nc", "w", format="NETCDF3_CLASSIC")
ds.createDimension("time", None)
ds.createDimension("x", 7)
ds.createVariable("v", "f4", ("time", "x"))
ds.createVariable("w", "i4", ("x",))[:] = np.arange(7)
ds.close()
"#;

fn run_python(python: &Path, script: &str, args: &[&Path]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("script.py");
    std::fs::write(&file, script).unwrap();
    let out = Command::new(python).arg(&file).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Floats as their bits and nested containers walked, like `DUMP` writes them.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => {
            json!({"f64": hex(&n.as_f64().unwrap_or(f64::NAN).to_be_bytes())})
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
    }
}

/// `ArrayMeta` equality with the fill value compared by its bytes: the
/// derived `==` says a NaN fill differs from itself.
fn same_meta(a: &ArrayMeta, b: &ArrayMeta) -> bool {
    let fill = |m: &ArrayMeta| m.fill_value.to_ne_bytes(m.dtype);
    let rest = |m: &ArrayMeta| {
        let mut m = m.clone();
        m.fill_value = Scalar::Int(0);
        m
    };
    fill(a) == fill(b) && rest(a) == rest(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn whole(store: &dyn ChunkStore) -> Vec<u8> {
    store
        .read_region_bytes(&Region::from_shape(&store.meta().shape()))
        .unwrap()
}

/// Every chunk of the store's grid, put together.
fn assembled(store: &dyn ChunkStore) -> Vec<u8> {
    let meta = store.meta();
    let shape = meta.shape();
    let itemsize = meta.dtype.size();
    let mut out = vec![0u8; shape.iter().product::<u64>() as usize * itemsize];
    for chunk in meta.grid.all_blocks().iter() {
        let region = meta.grid.block_region(&chunk).unwrap();
        let bytes = store.read_chunk_bytes(&chunk).unwrap();
        assert_eq!(bytes.len(), region.num_elements() as usize * itemsize);
        let local = Region::from_shape(&region.shape());
        copy_box(
            &bytes,
            &region.shape(),
            &local,
            &mut out,
            &shape,
            region.start(),
            itemsize,
        );
    }
    out
}

/// Checks the file against netCDF4-python's dump of it; returns how many
/// numeric variables were compared.
fn check_against_peer(python: &Path, file: &Path) -> usize {
    let dump = tempfile::tempdir().unwrap();
    run_python(python, DUMP, &[file, dump.path()]);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dump.path().join("meta.json")).unwrap())
            .unwrap();
    let label = file.display();

    let format = match meta["format"].as_str().unwrap() {
        "NETCDF3_CLASSIC" => Netcdf3Format::Classic,
        "NETCDF3_64BIT_OFFSET" => Netcdf3Format::Offset64,
        "NETCDF3_64BIT_DATA" => Netcdf3Format::Data64,
        other => panic!("{label}: unexpected format {other}"),
    };
    assert_eq!(
        canonical(&Value::Object(global_attributes(file).unwrap())),
        meta["global"],
        "{label}: global attributes"
    );

    let listed = list_variables(file).unwrap();
    let mut numeric = Vec::new();
    for var in meta["vars"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap();
        let what = format!("{label}: {name}");
        if var["dtype"] == "char" {
            match Netcdf3Store::open(file, name, None) {
                Err(IoError::UnsupportedDType { dtype }) => assert!(dtype.contains("char")),
                other => panic!("{what}: char variable gave {other:?}"),
            }
            continue;
        }
        numeric.push(name.to_string());
        let store = Netcdf3Store::open(file, name, None).unwrap();
        assert_eq!(store.format(), format, "{what}");
        let m = store.meta();
        let dtype: DType = var["dtype"].as_str().unwrap().parse().unwrap();
        assert_eq!(m.dtype, dtype, "{what}");
        let shape: Vec<u64> = serde_json::from_value(var["shape"].clone()).unwrap();
        assert_eq!(m.shape(), shape, "{what}");
        let dims: Vec<Option<String>> = serde_json::from_value(var["dims"].clone()).unwrap();
        assert_eq!(m.dimension_names.as_ref(), Some(&dims), "{what}");
        assert_eq!(
            canonical(&Value::Object(m.attributes.clone())),
            var["attrs"],
            "{what}: attributes"
        );
        assert_eq!(
            hex(&m.fill_value.to_ne_bytes(dtype)),
            var["fill"].as_str().unwrap(),
            "{what}: fill value {}",
            m.fill_value
        );
        assert!(m.codecs.is_empty(), "{what}");

        let expected = std::fs::read(dump.path().join(var["data"].as_str().unwrap())).unwrap();
        let got = whole(&store);
        assert!(got == expected, "{what}: values differ from netCDF4-python");
        assert!(assembled(&store) == expected, "{what}: chunks differ");
        let listed_meta = listed.iter().find(|(n, _)| n == name).map(|(_, m)| m);
        assert!(
            listed_meta.is_some_and(|l| same_meta(l, m)),
            "{what}: list_variables"
        );
    }
    let listed_names: Vec<&String> = listed.iter().map(|(n, _)| n).collect();
    assert_eq!(listed_names, numeric.iter().collect::<Vec<_>>(), "{label}");
    numeric.len()
}

#[test]
fn hgt_djf_reads_as_netcdf4_python_reads_it() {
    let (Some(file), Some(python)) = (
        support::fixture("netcdf/hgt_djf.nc"),
        support::python_peer(),
    ) else {
        return;
    };
    assert_eq!(check_against_peer(&python, &file), 8);
    let z = Netcdf3Store::open(&file, "z", None).unwrap();
    assert_eq!(z.meta().shape(), vec![65, 1, 29, 49]);
    assert_eq!(z.meta().dtype, DType::Float64);
}

#[test]
fn coads_climatology_reads_as_netcdf4_python_reads_it() {
    let (Some(file), Some(python)) = (
        support::fixture("netcdf/coads_climatology.cdf"),
        support::python_peer(),
    ) else {
        return;
    };
    assert_eq!(check_against_peer(&python, &file), 10);
    let sst = Netcdf3Store::open(&file, "SST", None).unwrap();
    assert_eq!(sst.meta().shape(), vec![12, 90, 180]);
    assert_eq!(
        sst.meta().fill_value.to_ne_bytes(DType::Float32),
        (-1e34f32).to_ne_bytes()
    );
    assert_eq!(
        sst.meta().attributes["missing_value"],
        json!(f64::from(-1e34f32))
    );
}

#[test]
fn files_written_by_netcdf4_python_in_every_netcdf3_format_read_identically() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_python(&python, WRITE, &[dir.path()]);
    let mut counts = Vec::new();
    for name in [
        "NETCDF3_CLASSIC",
        "NETCDF3_64BIT_OFFSET",
        "NETCDF3_64BIT_DATA",
        "one_record_short",
        "one_record_byte",
        "no_records",
    ] {
        counts.push(check_against_peer(
            &python,
            &dir.path().join(format!("{name}.nc")),
        ));
    }
    // Types × (fixed, record) + 9 others; one variable each; two.
    assert_eq!(counts, vec![18, 18, 28, 1, 1, 2]);
    let empty = Netcdf3Store::open(&dir.path().join("no_records.nc"), "v", None).unwrap();
    assert_eq!(empty.meta().shape(), vec![0, 7]);
    assert!(whole(&empty).is_empty());
}

#[test]
fn a_streaming_record_count_is_taken_from_the_file_size() {
    let Some(file) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[4..8].copy_from_slice(&[0xff; 4]);
    let streaming = dir.path().join("streaming.cdf");
    std::fs::write(&streaming, bytes).unwrap();
    let a = Netcdf3Store::open(&file, "SST", None).unwrap();
    let b = Netcdf3Store::open(&streaming, "SST", None).unwrap();
    assert_eq!(b.meta().shape(), vec![12, 90, 180]);
    assert!(whole(&a) == whole(&b));
}

#[test]
fn default_grids_are_whole_records_up_to_16_mib() {
    let Some(file) = support::fixture("netcdf/hgt_djf.nc") else {
        return;
    };
    // An 11 KiB record: all 65 records in one chunk.
    let z = Netcdf3Store::open(&file, "z", None).unwrap();
    assert_eq!(z.meta().grid.chunk_shape(), vec![65, 1, 29, 49]);
    let time = Netcdf3Store::open(&file, "time", None).unwrap();
    assert_eq!(time.meta().grid.chunk_shape(), vec![65]);
    assert!(time.meta().grid.is_regular());
}

#[test]
fn reads_from_many_threads_at_once_agree() {
    let Some(file) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    let grid = ChunkGrid::regular(&[12, 90, 180], &[1, 45, 60]).unwrap();
    let store = Netcdf3Store::open(&file, "AIRT", Some(grid)).unwrap();
    let blocks: Vec<Vec<u64>> = store.meta().grid.all_blocks().iter().collect();
    let sequential: Vec<Vec<u8>> = blocks
        .iter()
        .map(|b| store.read_chunk_bytes(b).unwrap())
        .collect();
    let store: Box<dyn ChunkStore> = Box::new(store);
    let parallel: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = blocks
            .chunks(blocks.len() / 4)
            .map(|part| {
                let store = &store;
                s.spawn(move || {
                    part.iter()
                        .map(|b| store.read_chunk_bytes(b).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(sequential == parallel);
}

// ---------------------------------------------------------------------------
// Any chunking, any region.

/// Variables of every layout in the fixtures: 4-D and 1-D record variables
/// (the 1-D one element per record), 3-D records of 7 interleaved
/// variables, 1-D and 2-D fixed variables.
const VARIABLES: &[(&str, &str)] = &[
    ("netcdf/hgt_djf.nc", "z"),
    ("netcdf/hgt_djf.nc", "time"),
    ("netcdf/hgt_djf.nc", "bounds_time"),
    ("netcdf/hgt_djf.nc", "bounds_latitude"),
    ("netcdf/coads_climatology.cdf", "SST"),
    ("netcdf/coads_climatology.cdf", "COADSX"),
];

/// A fixture looked up once per test binary, so that a property test
/// announces a missing fixture once, not once per case.
fn fixture_once(relative: &'static str) -> Option<PathBuf> {
    static FOUND: Mutex<BTreeMap<&str, Option<PathBuf>>> = Mutex::new(BTreeMap::new());
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    found
        .entry(relative)
        .or_insert_with(|| support::fixture(relative))
        .clone()
}

/// A deterministic stream of numbers from a seed (splitmix64).
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A grid over `shape`: per axis regular or irregular, at most 6 chunks.
fn random_grid(shape: &[u64], seed: &mut u64) -> ChunkGrid {
    let sizes: Vec<Vec<u64>> = shape
        .iter()
        .map(|&len| {
            if len == 0 {
                return vec![0];
            }
            let smallest = len.div_ceil(6);
            if next(seed).is_multiple_of(2) {
                let chunk = smallest + next(seed) % (len - smallest + 1);
                let mut sizes = vec![chunk; (len / chunk) as usize];
                if len % chunk != 0 {
                    sizes.push(len % chunk);
                }
                sizes
            } else {
                let mut sizes = Vec::new();
                let mut left = len;
                while left > 0 {
                    let s = (1 + next(seed) % (2 * smallest)).min(left);
                    sizes.push(s);
                    left -= s;
                }
                sizes
            }
        })
        .collect();
    ChunkGrid::from_sizes(&sizes).unwrap()
}

fn random_region(shape: &[u64], seed: &mut u64) -> Region {
    let (start, stop): (Vec<u64>, Vec<u64>) = shape
        .iter()
        .map(|&len| {
            let a = next(seed) % (len + 1);
            let b = a + next(seed) % (len + 1 - a);
            (a, b)
        })
        .unzip();
    Region::new(start, stop).unwrap()
}

fn cut(whole: &[u8], shape: &[u64], region: &Region, itemsize: usize) -> Vec<u8> {
    let mut out = vec![0u8; region.num_elements() as usize * itemsize];
    copy_box(
        whole,
        shape,
        region,
        &mut out,
        &region.shape(),
        &vec![0; shape.len()],
        itemsize,
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_grid_and_any_region_read_like_the_whole_variable(
        which in 0..VARIABLES.len(),
        seed in any::<u64>(),
    ) {
        let (fixture, name) = VARIABLES[which];
        let Some(file) = fixture_once(fixture) else {
            return Ok(());
        };
        let reference = whole(&Netcdf3Store::open(&file, name, None).unwrap());
        let shape = Netcdf3Store::open(&file, name, None).unwrap().meta().shape();
        let mut seed = seed;
        let grid = random_grid(&shape, &mut seed);
        let store = Netcdf3Store::open(&file, name, Some(grid.clone())).unwrap();
        prop_assert_eq!(&store.meta().grid, &grid);
        let itemsize = store.meta().dtype.size();
        prop_assert!(assembled(&store) == reference);
        for _ in 0..8 {
            let region = random_region(&shape, &mut seed);
            let got = store.read_region_bytes(&region).unwrap();
            prop_assert!(got == cut(&reference, &shape, &region, itemsize), "region {}", region);
        }
    }
}

#[test]
fn stores_are_send_sync_trait_objects() {
    fn check<T: Send + Sync + 'static>() {}
    check::<Netcdf3Store>();
    let _: Option<Box<dyn ChunkStore>> = None::<Netcdf3Store>.map(|s| Box::new(s) as _);
}
