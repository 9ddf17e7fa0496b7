//! Zarr interop with the real peers: stores zarr-python and xarray write
//! (v2 and v3, every codec, sharded, NaN fill, big-endian v2 dtypes) read in
//! ndchunk with identical values, dims and attributes; stores ndchunk writes
//! read by zarr-python and `xarray.open_zarr` identically.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::Path;

use ndchunk_io::zarr::{create_group, write_consolidated, ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Region, Scalar, ZarrStore};
use serde_json::Value;

fn run_python(python: &Path, script: &str, args: &[&Path]) -> String {
    String::from_utf8(support::run_python(python, script, args)).expect("python prints UTF-8")
}

/// Writes one store per case with zarr-python, plus the values it reads
/// back (`<name>.bin`, native C order) and a JSON list of the cases.
const WRITE_WITH_ZARR_PYTHON: &str = r#"
import json, sys, pathlib
import numpy as np, zarr, numcodecs
from zarr.codecs import BloscCodec, ZstdCodec, GzipCodec, Crc32cCodec, TransposeCodec, BytesCodec
out = pathlib.Path(sys.argv[1])
dtypes = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]
v2_compressors = {
    "none": None,
    "blosc_lz4": numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
    "blosc_zstd": numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE),
    "zstd": numcodecs.Zstd(level=3),
    "gzip": numcodecs.GZip(level=5),
    "zlib": numcodecs.Zlib(level=5),
}
v3_codecs = {
    "none": dict(compressors=None),
    "blosc": dict(compressors=[BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]),
    "zstd": dict(compressors=[ZstdCodec(level=3)]),
    "gzip": dict(compressors=[GzipCodec(level=5)]),
    "crc32c": dict(compressors=[ZstdCodec(level=1), Crc32cCodec()]),
    "transpose": dict(filters=[TransposeCodec(order=(1, 0))], compressors=[ZstdCodec(level=1)]),
    "sharded": dict(compressors=[BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")], shards=(10, 6)),
}
def values(dtype, shape):
    n = int(np.prod(shape))
    if dtype == "bool":
        return (np.arange(n) % 3 == 0).reshape(shape)
    v = (np.arange(n) * 7 % 251).astype(dtype).reshape(shape)
    if dtype.startswith("float"):
        v = v / 3
        v.flat[5] = np.inf
    return v
cases = []
def case(name, fmt, dtype, fill, **kw):
    shape, chunks = (13, 7), (5, 3)
    path = out / f"{name}.zarr"
    a = zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype=dtype, fill_value=fill,
                          zarr_format=fmt, dimension_names=None if fmt == 2 else ["y", "x"],
                          attributes={"units": "K", "scale": 0.5}, **kw)
    if fmt == 2:
        a.attrs["_ARRAY_DIMENSIONS"] = ["y", "x"]
    # Leave the last rows' chunks unwritten: they read as the fill value.
    a[:10] = values(dtype.lstrip("<>|"), shape)[:10]
    (out / f"{name}.bin").write_bytes(np.ascontiguousarray(a[...]).astype(a.dtype.newbyteorder("=")).tobytes())
    cases.append(dict(name=name, dtype=str(np.dtype(dtype).newbyteorder("=").name)))
for dtype in dtypes:
    fill = float("nan") if dtype.startswith("float") else (True if dtype == "bool" else 3)
    for cname, comp in v2_compressors.items():
        case(f"v2_{cname}_{dtype}", 2, dtype, fill, compressors=comp)
    for cname, kw in v3_codecs.items():
        case(f"v3_{cname}_{dtype}", 3, dtype, fill, **kw)
for dtype in [">i2", ">i4", ">u8", ">f4", ">f8"]:
    case("v2_bigendian_" + dtype[1:], 2, dtype, 0, compressors=numcodecs.Zstd(level=1))
print(json.dumps(cases))
"#;

#[test]
fn stores_written_by_zarr_python_read_identically() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Value> =
        serde_json::from_str(&run_python(&python, WRITE_WITH_ZARR_PYTHON, &[dir.path()])).unwrap();
    assert!(cases.len() >= 11 * 13 + 5);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let store = ZarrStore::open_dir(dir.path().join(format!("{name}.zarr")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let meta = store.meta();
        assert_eq!(meta.dtype.name(), case["dtype"].as_str().unwrap(), "{name}");
        assert_eq!(meta.shape(), vec![13, 7], "{name}");
        assert_eq!(
            meta.grid.chunk_shape(),
            if name.contains("sharded") {
                vec![10, 6]
            } else {
                vec![5, 3]
            },
            "{name}"
        );
        assert_eq!(
            meta.dimension_names,
            Some(vec![Some("y".into()), Some("x".into())]),
            "{name}"
        );
        assert_eq!(meta.attributes["units"], "K", "{name}");
        assert!(!meta.attributes.contains_key("_ARRAY_DIMENSIONS"), "{name}");
        if (meta.dtype == DType::Float32 || meta.dtype == DType::Float64)
            && !name.contains("bigendian")
        {
            assert!(
                matches!(meta.fill_value, Scalar::Float(f) if f.is_nan()),
                "{name}: {:?}",
                meta.fill_value
            );
        }
        let expected = std::fs::read(dir.path().join(format!("{name}.bin"))).unwrap();
        let got = store
            .read_region_bytes(&Region::from_shape(&[13, 7]))
            .unwrap();
        assert_eq!(got, expected, "{name}");
        // Chunk by chunk too (the last rows were never written).
        for chunk in meta.grid.all_blocks().iter() {
            store
                .read_chunk_bytes(&chunk)
                .unwrap_or_else(|e| panic!("{name} {chunk:?}: {e}"));
        }
    }
}

#[test]
fn datasets_written_by_xarray_read_with_their_dims() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys, numpy as np, xarray as xr
for fmt in (2, 3):
    ds = xr.Dataset(
        {"t": (("time", "lat", "lon"), np.arange(4 * 5 * 6, dtype="float32").reshape(4, 5, 6), {"units": "K"})},
        coords={"time": np.arange(4), "lat": np.linspace(-10, 10, 5), "lon": np.linspace(0, 50, 6)},
        attrs={"title": "demo"},
    )
    ds.to_zarr(f"{sys.argv[1]}/v{fmt}.zarr", zarr_format=fmt, encoding={"t": {"chunks": (2, 5, 3)}})
"#;
    run_python(&python, script, &[dir.path()]);
    for fmt in ["v2", "v3"] {
        let root = dir.path().join(format!("{fmt}.zarr"));
        let t = ZarrStore::open(&root, "t").unwrap();
        assert_eq!(
            t.meta().dims_or_default(),
            vec!["time", "lat", "lon"],
            "{fmt}"
        );
        assert_eq!(t.meta().attributes["units"], "K");
        assert_eq!(t.meta().grid.chunk_shape(), vec![2, 5, 3]);
        let values: Vec<f32> = f32_values(
            &t.read_region_bytes(&Region::from_shape(&[4, 5, 6]))
                .unwrap(),
        );
        assert_eq!(values, (0..120).map(|v| v as f32).collect::<Vec<_>>());
        let lat = ZarrStore::open(&root, "lat").unwrap();
        assert_eq!(lat.meta().dims_or_default(), vec!["lat"]);
        assert_eq!(lat.meta().dtype, DType::Float64);
    }
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
        .collect()
}

/// ndchunk writes every dtype in v2 and v3 with each codec (and v3 sharded);
/// zarr-python must read the same values, and xarray the same dims and
/// attributes.
#[test]
fn stores_written_by_ndchunk_read_identically_in_zarr_python_and_xarray() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out.zarr");
    let shape = [11u64, 9];
    let mut expected: Vec<(String, Vec<u8>)> = Vec::new();
    let codecs = [
        "none",
        "zstd:3",
        "gzip:4",
        "blosc:lz4:5:shuffle",
        "blosc:zstd:3:bitshuffle",
    ];
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let group = if format == ZarrFormat::V2 { "v2" } else { "v3" };
        let mut attrs = serde_json::Map::new();
        attrs.insert("title".into(), "written by ndchunk".into());
        create_group(&root, "", format, &serde_json::Map::new()).ok();
        create_group(&root, group, format, &attrs).unwrap();
        for dtype in DType::ALL {
            for (k, codec) in codecs.iter().enumerate() {
                for sharded in [false, true] {
                    if sharded && (format == ZarrFormat::V2 || k != 4) {
                        continue;
                    }
                    let name = format!(
                        "{}_{}{}",
                        dtype.name(),
                        codec.replace(':', "_"),
                        if sharded { "_sharded" } else { "" }
                    );
                    let grid = ChunkGrid::regular(&shape, if sharded { &[8, 6] } else { &[4, 3] })
                        .unwrap();
                    let fill = match dtype {
                        DType::Float32 | DType::Float64 => Scalar::Float(f64::NAN),
                        DType::Bool => Scalar::Bool(false),
                        _ => Scalar::Int(7),
                    };
                    let mut meta = ArrayMeta::new(grid.clone(), dtype, fill);
                    meta.dimension_names = Some(vec![Some("y".into()), Some("x".into())]);
                    meta.attributes.insert("units".into(), "m".into());
                    let mut spec =
                        ZarrArraySpec::new(meta, format, codec.parse::<ZarrCodec>().unwrap());
                    if sharded {
                        spec.inner_chunks = Some(vec![4, 3]);
                    }
                    let store =
                        ZarrStore::create(&root, &format!("{group}/{name}"), &spec).unwrap();
                    // Write all chunks but the last: it must read as the fill.
                    let last = grid.num_blocks() - 1;
                    let mut whole = vec![0u8; 0];
                    let fill_bytes = store.meta().fill_value.to_ne_bytes(dtype);
                    let n = (shape[0] * shape[1]) as usize;
                    let values: Vec<u8> = (0..n).flat_map(|i| element_bytes(dtype, i)).collect();
                    for (linear, chunk) in grid.all_blocks().iter().enumerate() {
                        if linear as u64 == last {
                            continue;
                        }
                        let region = grid.block_region(&chunk).unwrap();
                        store
                            .write_chunk_bytes(&chunk, &cut(&values, &shape, &region, dtype.size()))
                            .unwrap();
                    }
                    for i in 0..n {
                        let point = [i as u64 / shape[1], i as u64 % shape[1]];
                        let in_last = grid
                            .block_of(&point)
                            .map(|b| grid.linear_index(&b).unwrap())
                            == Some(last);
                        whole.extend(if in_last {
                            fill_bytes.clone()
                        } else {
                            element_bytes(dtype, i)
                        });
                    }
                    assert_eq!(
                        store
                            .read_region_bytes(&Region::from_shape(&shape))
                            .unwrap(),
                        whole,
                        "{name}"
                    );
                    expected.push((format!("{group}/{name}"), whole));
                }
            }
        }
    }
    write_consolidated(root.join("v2"), ZarrFormat::V2).unwrap();
    write_consolidated(root.join("v3"), ZarrFormat::V3).unwrap();
    let script = r#"
import sys, json, numpy as np, zarr, xarray as xr
root = sys.argv[1]
out = {}
for group in ("v2", "v3"):
    g = zarr.open_group(f"{root}/{group}", mode="r")
    for name, a in g.arrays():
        out[f"{group}/{name}"] = np.ascontiguousarray(a[...]).astype(a.dtype.newbyteorder("=")).tobytes().hex()
    # consolidated=True: an error, not a fallback, if ours were unreadable.
    ds = xr.open_zarr(f"{root}/{group}", consolidated=True)
    listed = zarr.open_consolidated(f"{root}/{group}", mode="r")
    out[f"{group}:listed"] = sorted(name for name, _ in listed.members(max_depth=None))
    v = ds["float32_zstd_3"]
    out[f"{group}:dims"] = list(v.dims)
    out[f"{group}:units"] = v.attrs["units"]
    out[f"{group}:title"] = ds.attrs["title"]
print(json.dumps(out))
"#;
    let seen: Value = serde_json::from_str(&run_python(&python, script, &[&root])).unwrap();
    for (name, bytes) in &expected {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            seen[name].as_str(),
            Some(hex.as_str()),
            "{name} as zarr-python reads it"
        );
    }
    for group in ["v2", "v3"] {
        assert_eq!(seen[format!("{group}:dims")], serde_json::json!(["y", "x"]));
        assert_eq!(seen[format!("{group}:units")], "m");
        assert_eq!(seen[format!("{group}:title")], "written by ndchunk");
        let listed: Vec<&str> = seen[format!("{group}:listed")]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut want: Vec<&str> = expected
            .iter()
            .filter_map(|(name, _)| name.strip_prefix(&format!("{group}/")))
            .collect();
        want.sort();
        assert_eq!(listed, want, "{group}: consolidated members");
    }
}

/// A deterministic element `i` of `dtype`, native bytes.
fn element_bytes(dtype: DType, i: usize) -> Vec<u8> {
    let v = (i * 7 % 251) as i64 - 50;
    match dtype {
        DType::Bool => vec![u8::from(i.is_multiple_of(3))],
        DType::Int8 => (v as i8).to_ne_bytes().to_vec(),
        DType::Int16 => (v as i16).wrapping_mul(300).to_ne_bytes().to_vec(),
        DType::Int32 => (v as i32 * 100_000).to_ne_bytes().to_vec(),
        DType::Int64 => (v * 10_000_000_000).to_ne_bytes().to_vec(),
        DType::UInt8 => (v as u8).to_ne_bytes().to_vec(),
        DType::UInt16 => (i as u16).wrapping_mul(300).to_ne_bytes().to_vec(),
        DType::UInt32 => (i as u32).wrapping_mul(100_000).to_ne_bytes().to_vec(),
        DType::UInt64 => (i as u64 * 10_000_000_000).to_ne_bytes().to_vec(),
        DType::Float32 => (v as f32 / 3.0).to_ne_bytes().to_vec(),
        DType::Float64 => (v as f64 / 3.0).to_ne_bytes().to_vec(),
    }
}

/// The bytes of `region` out of a C-order array of `shape`.
fn cut(values: &[u8], shape: &[u64], region: &Region, itemsize: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in region.range(0) {
        let row = (i * shape[1]) as usize;
        let (a, b) = (
            row + region.range(1).start as usize,
            row + region.range(1).end as usize,
        );
        out.extend_from_slice(&values[a * itemsize..b * itemsize]);
    }
    out
}

/// Consolidated metadata is read when present (v2 `.zmetadata` as xarray
/// writes it, v3 `consolidated_metadata` as zarr-python writes it) and
/// compared with the store's directories: the store wins, and a stale
/// listing is said.
#[test]
fn consolidated_metadata_lists_the_store() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys, numpy as np, xarray as xr, zarr
ds = xr.Dataset({"t": (("time", "x"), np.zeros((4, 3), "float32"))}, coords={"x": np.arange(3)})
ds.to_zarr(f"{sys.argv[1]}/v2.zarr", zarr_format=2, consolidated=True)
ds.to_zarr(f"{sys.argv[1]}/v3.zarr", zarr_format=3, consolidated=False)
zarr.consolidate_metadata(f"{sys.argv[1]}/v3.zarr")
"#;
    run_python(&python, script, &[dir.path()]);
    for fmt in ["v2", "v3"] {
        let root = dir.path().join(format!("{fmt}.zarr"));
        // An array the consolidated metadata does not list (stale metadata)
        // is listed, as the store holds it, and said.
        let meta = ArrayMeta::new(
            ChunkGrid::regular(&[2], &[2]).unwrap(),
            DType::UInt8,
            Scalar::UInt(0),
        );
        let format = if fmt == "v2" {
            ZarrFormat::V2
        } else {
            ZarrFormat::V3
        };
        ZarrStore::create(
            &root,
            "stray",
            &ZarrArraySpec::new(meta, format, ZarrCodec::None),
        )
        .unwrap();
        let tree = ndchunk_io::zarr::list_tree(&root).unwrap();
        let paths: Vec<String> = tree.nodes.into_iter().map(|n| n.path).collect();
        assert_eq!(paths, vec!["/", "/stray", "/t", "/x"], "{fmt}");
        assert!(
            tree.warnings
                .iter()
                .any(|w| w.starts_with("/stray: not in the consolidated metadata")),
            "{fmt}: {:?}",
            tree.warnings
        );
    }
}
