//! Creating Zarr arrays: the metadata document ndchunk writes for v2 and v3
//! (clean and exactly what zarr-python and xarray expect), then opened by
//! zarrs like any other array.

use std::str::FromStr;

use serde_json::{json, Value};

use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::{ArrayMeta, Scalar};

use super::ZarrRoot;

/// Which Zarr format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZarrFormat {
    /// Zarr v2 (`.zarray`, `_ARRAY_DIMENSIONS`).
    V2,
    /// Zarr v3 (`zarr.json`, `dimension_names`, sharding).
    V3,
}

/// The compressor of a new array, as `chunkctl --codec` spells it:
/// `none`, `zstd:LEVEL`, `gzip:LEVEL`, `zlib:LEVEL` (v2 only),
/// `blosc:CNAME:LEVEL:SHUFFLE` with CNAME `lz4`/`lz4hc`/`zstd`/`zlib` and
/// SHUFFLE `noshuffle`/`shuffle`/`bitshuffle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZarrCodec {
    /// Raw bytes.
    None,
    /// Zstandard at a level (1–22).
    Zstd(i32),
    /// Gzip at a level (0–9).
    Gzip(u32),
    /// Zlib at a level (0–9); Zarr v2 only.
    Zlib(u32),
    /// Blosc with an inner compressor, level and shuffle.
    Blosc {
        /// `lz4`, `lz4hc`, `zstd` or `zlib`.
        cname: String,
        /// 0–9.
        clevel: u32,
        /// `noshuffle`, `shuffle` or `bitshuffle`.
        shuffle: String,
    },
}

impl FromStr for ZarrCodec {
    type Err = IoError;

    fn from_str(text: &str) -> Result<Self> {
        let bad = |reason: &str| IoError::Metadata {
            location: "--codec".into(),
            reason: format!("`{text}`: {reason}"),
        };
        let parts: Vec<&str> = text.trim().split(':').collect();
        let level = |s: Option<&&str>, max: i64, default: i64| -> Result<i64> {
            match s {
                None => Ok(default),
                Some(s) => match s.parse::<i64>() {
                    Ok(n) if (0..=max).contains(&n) => Ok(n),
                    _ => Err(bad(&format!("level `{s}` is not a number from 0 to {max}"))),
                },
            }
        };
        match parts[0] {
            "none" | "raw" if parts.len() == 1 => Ok(ZarrCodec::None),
            "zstd" if parts.len() <= 2 => Ok(ZarrCodec::Zstd(level(parts.get(1), 22, 3)? as i32)),
            "gzip" if parts.len() <= 2 => Ok(ZarrCodec::Gzip(level(parts.get(1), 9, 5)? as u32)),
            "zlib" if parts.len() <= 2 => Ok(ZarrCodec::Zlib(level(parts.get(1), 9, 5)? as u32)),
            "blosc" if parts.len() <= 4 => {
                let cname = parts.get(1).copied().unwrap_or("zstd");
                if !["lz4", "lz4hc", "zstd", "zlib"].contains(&cname) {
                    return Err(bad(&format!("blosc compressor `{cname}` is not lz4, lz4hc, zstd or zlib")));
                }
                let shuffle = parts.get(3).copied().unwrap_or("shuffle");
                if !["noshuffle", "shuffle", "bitshuffle"].contains(&shuffle) {
                    return Err(bad(&format!("shuffle `{shuffle}` is not noshuffle, shuffle or bitshuffle")));
                }
                Ok(ZarrCodec::Blosc {
                    cname: cname.into(),
                    clevel: level(parts.get(2), 9, 5)? as u32,
                    shuffle: shuffle.into(),
                })
            }
            _ => Err(bad("expected none, zstd[:LEVEL], gzip[:LEVEL], zlib[:LEVEL] or blosc[:CNAME[:LEVEL[:SHUFFLE]]]")),
        }
    }
}

/// Everything needed to create an array.
#[derive(Debug, Clone)]
pub struct ZarrArraySpec {
    /// Shape and chunks (the grid must be regular; for a sharded array these
    /// are the shards), dtype, fill value, dimension names, attributes.
    pub meta: ArrayMeta,
    /// v2 or v3.
    pub format: ZarrFormat,
    /// The compressor.
    pub codec: ZarrCodec,
    /// Chunks inside each shard (v3 only): the grid's chunks become shards.
    pub inner_chunks: Option<Vec<u64>>,
    /// Zarr v2 only: write `"fill_value": null` ("no fill value"), as
    /// zarr-python does for integer arrays xarray writes; xarray would
    /// otherwise mask the fill value (e.g. 0) as missing. Unwritten chunks
    /// still read as `meta.fill_value`.
    pub v2_null_fill: bool,
    /// Zarr v2 only: chunk keys with `/` between indices (nested
    /// directories, `"dimension_separator": "/"`), as OME-Zarr 0.4
    /// requires; `.` otherwise.
    pub v2_nested_keys: bool,
}

impl ZarrArraySpec {
    /// A spec with the given format and codec and no sharding.
    pub fn new(meta: ArrayMeta, format: ZarrFormat, codec: ZarrCodec) -> Self {
        Self {
            meta,
            format,
            codec,
            inner_chunks: None,
            v2_null_fill: false,
            v2_nested_keys: false,
        }
    }
}

/// A fill value as Zarr's JSON writes it (`"NaN"`, `"Infinity"` for floats).
fn fill_json(fill: Scalar, dtype: DType) -> Value {
    // Normalise through the dtype first (e.g. 1.5 into an int array).
    let value = Scalar::from_ne_bytes(&fill.to_ne_bytes(dtype), dtype).unwrap_or(fill);
    match value {
        Scalar::Bool(b) => json!(b),
        Scalar::Int(v) => json!(v),
        Scalar::UInt(v) => json!(v),
        Scalar::Float(v) if v.is_nan() => json!("NaN"),
        Scalar::Float(v) if v == f64::INFINITY => json!("Infinity"),
        Scalar::Float(v) if v == f64::NEG_INFINITY => json!("-Infinity"),
        Scalar::Float(v) => json!(v),
    }
}

/// numpy's typestr for Zarr v2 (`<f4`, `|u1`, `|b1`).
fn v2_dtype(dtype: DType) -> String {
    let order = if dtype.size() == 1 { '|' } else { '<' };
    let kind = match dtype {
        DType::Bool => 'b',
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => 'i',
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => 'u',
        DType::Float32 | DType::Float64 => 'f',
    };
    format!("{order}{kind}{}", dtype.size())
}

fn v3_compressor(codec: &ZarrCodec, itemsize: usize) -> Result<Option<Value>> {
    Ok(match codec {
        ZarrCodec::None => None,
        ZarrCodec::Zstd(level) => {
            Some(json!({"name": "zstd", "configuration": {"level": level, "checksum": false}}))
        }
        ZarrCodec::Gzip(level) => Some(json!({"name": "gzip", "configuration": {"level": level}})),
        ZarrCodec::Zlib(_) => {
            return Err(IoError::Metadata {
                location: "--codec".into(),
                reason: "zlib is a Zarr v2 compressor; for v3 use gzip, zstd or blosc".into(),
            })
        }
        ZarrCodec::Blosc {
            cname,
            clevel,
            shuffle,
        } => Some(json!({"name": "blosc", "configuration": {
            "cname": cname, "clevel": clevel, "shuffle": shuffle, "typesize": itemsize, "blocksize": 0}})),
    })
}

fn v2_compressor(codec: &ZarrCodec) -> Value {
    match codec {
        ZarrCodec::None => Value::Null,
        ZarrCodec::Zstd(level) => json!({"id": "zstd", "level": level}),
        ZarrCodec::Gzip(level) => json!({"id": "gzip", "level": level}),
        ZarrCodec::Zlib(level) => json!({"id": "zlib", "level": level}),
        ZarrCodec::Blosc {
            cname,
            clevel,
            shuffle,
        } => {
            let shuffle = match shuffle.as_str() {
                "noshuffle" => 0,
                "bitshuffle" => 2,
                _ => 1,
            };
            json!({"id": "blosc", "cname": cname, "clevel": clevel, "shuffle": shuffle, "blocksize": 0})
        }
    }
}

/// The metadata documents of a new array (key, content), and the
/// array's directory, created.
pub(super) fn metadata_documents(
    root: &ZarrRoot,
    path: &str,
    spec: &ZarrArraySpec,
) -> Result<Vec<(String, Value)>> {
    let location = root.location(path);
    let meta = &spec.meta;
    let grid = &meta.grid;
    if !grid.is_regular() {
        return Err(IoError::Metadata {
            location,
            reason: "Zarr arrays need a regular chunk grid".into(),
        });
    }
    let chunk_shape: Vec<u64> = grid
        .axes()
        .iter()
        .map(|a| a.regular_chunk().unwrap_or(1).max(1))
        .collect();
    root.create_dir(path)?;
    let key = |file: &str| super::root::node_key(path, file);
    let names: Option<Vec<Value>> = meta.dimension_names.as_ref().map(|n| {
        n.iter()
            .map(|d| d.as_ref().map_or(Value::Null, |s| json!(s)))
            .collect()
    });
    match spec.format {
        ZarrFormat::V3 => {
            let bytes = json!({"name": "bytes", "configuration": {"endian": "little"}});
            let mut codecs = vec![bytes.clone()];
            codecs.extend(v3_compressor(&spec.codec, meta.dtype.size())?);
            if let Some(given) = &spec.inner_chunks {
                // Zarr has no chunk of size 0: on an empty axis (where any
                // chunk holds nothing) the inner chunk is 1, which divides
                // any shard.
                let inner: Vec<u64> = given
                    .iter()
                    .zip(grid.axes())
                    .map(|(&i, a)| if a.is_empty() { 1 } else { i })
                    .collect();
                if given.len() != chunk_shape.len()
                    || inner
                        .iter()
                        .zip(&chunk_shape)
                        .any(|(&i, &s)| i == 0 || s % i != 0)
                {
                    return Err(IoError::Metadata {
                        location,
                        reason: format!(
                            "inner chunks {inner:?} must divide the shard shape {chunk_shape:?}"
                        ),
                    });
                }
                codecs = vec![json!({"name": "sharding_indexed", "configuration": {
                    "chunk_shape": inner,
                    "codecs": codecs,
                    "index_codecs": [bytes, {"name": "crc32c"}],
                    "index_location": "end"}})];
            }
            let mut doc = json!({
                "zarr_format": 3,
                "node_type": "array",
                "shape": grid.shape(),
                "data_type": meta.dtype.name(),
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk_shape}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": fill_json(meta.fill_value, meta.dtype),
                "codecs": codecs,
                "attributes": super::cf_fill::encode(&meta.attributes, meta.dtype, ZarrFormat::V3),
            });
            if let Some(names) = names {
                doc["dimension_names"] = Value::Array(names);
            }
            Ok(vec![(key("zarr.json"), doc)])
        }
        ZarrFormat::V2 => {
            if spec.inner_chunks.is_some() {
                return Err(IoError::Metadata {
                    location,
                    reason: "sharding needs Zarr v3".into(),
                });
            }
            let doc = json!({
                "zarr_format": 2,
                "shape": grid.shape(),
                "chunks": chunk_shape,
                "dtype": v2_dtype(meta.dtype),
                "compressor": v2_compressor(&spec.codec),
                "fill_value": if spec.v2_null_fill { Value::Null } else { fill_json(meta.fill_value, meta.dtype) },
                "order": "C",
                "filters": null,
                "dimension_separator": if spec.v2_nested_keys { "/" } else { "." },
            });
            let mut attrs = super::cf_fill::encode(&meta.attributes, meta.dtype, ZarrFormat::V2);
            if let Some(names) = names {
                attrs.insert("_ARRAY_DIMENSIONS".into(), Value::Array(names));
            }
            // `.zattrs` first: a writer killed in between leaves no array
            // without its `_ARRAY_DIMENSIONS`.
            Ok(vec![
                (key(".zattrs"), Value::Object(attrs)),
                (key(".zarray"), doc),
            ])
        }
    }
}
