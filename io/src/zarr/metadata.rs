//! Reading what a Zarr array says about itself, in ndchunk's terms: the
//! raw metadata document (to name codecs and recognise what zarrs refuses)
//! and the `ArrayMeta` built from it.

use serde_json::{Map, Value};
use zarrs::array::Array;
use zarrs::storage::ReadableWritableListableStorageTraits;

use ndchunk_chunking::grid::MAX_IRREGULAR_CHUNKS;
use ndchunk_chunking::{AxisChunks, ChunkGrid, ChunkingError};

use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::{ArrayMeta, Scalar};

use super::ZarrRoot;

/// The metadata document of one array as stored: v3 `zarr.json`, or v2
/// `.zarray` with its `.zattrs` merged in under `"attributes"`.
pub(super) struct RawMeta {
    pub(super) json: Value,
    pub(super) v2: bool,
}

impl RawMeta {
    /// The codec names, outermost last, as written in the document
    /// (including those inside a sharding codec).
    pub(super) fn codec_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if self.v2 {
            for f in self.json["filters"].as_array().into_iter().flatten() {
                names.extend(f["id"].as_str().map(String::from));
            }
            names.extend(self.json["compressor"]["id"].as_str().map(String::from));
        } else {
            collect_v3_codecs(&self.json["codecs"], &mut names);
        }
        names
    }
}

fn collect_v3_codecs(codecs: &Value, names: &mut Vec<String>) {
    for c in codecs.as_array().into_iter().flatten() {
        let name = c["name"].as_str().or_else(|| c.as_str()).unwrap_or("?");
        names.push(name.to_string());
        collect_v3_codecs(&c["configuration"]["codecs"], names);
        collect_v3_codecs(&c["configuration"]["index_codecs"], names);
    }
}

/// Reads the metadata document of the array at `path` under `root`.
pub(super) fn read_raw(root: &ZarrRoot, path: &str, location: &str) -> Result<RawMeta> {
    let node = path.trim_matches('/');
    let key = |file: &str| super::root::node_key(node, file);
    if let Some(json) = root.read_json(&key("zarr.json"))? {
        if !json["zarr_format"].is_u64() {
            return Err(IoError::Metadata {
                location: location.to_string(),
                reason: format!(
                    "zarr_format {} is a pre-release draft of Zarr v3 (the `meta/root` layout), \
                     which is not supported; rewrite the store as Zarr v2 or final v3",
                    json["zarr_format"]
                ),
            });
        }
        if json["node_type"] != "array" {
            return Err(IoError::Metadata {
                location: location.to_string(),
                reason: format!(
                    "this is a Zarr {} node, not an array",
                    json["node_type"].as_str().unwrap_or("unknown")
                ),
            });
        }
        return Ok(RawMeta { json, v2: false });
    }
    if let Some(mut json) = root.read_json(&key(".zarray"))? {
        let attrs = root
            .read_json(&key(".zattrs"))?
            .unwrap_or_else(|| Value::Object(Map::new()));
        json["attributes"] = attrs;
        return Ok(RawMeta { json, v2: true });
    }
    let reason = if root.has(&key(".zgroup")) {
        "this is a Zarr v2 group, not an array".to_string()
    } else if !root.node_exists(node) {
        "no such array".to_string()
    } else {
        "no zarr.json or .zarray here".to_string()
    };
    Err(IoError::Metadata {
        location: location.to_string(),
        reason,
    })
}

/// The raw metadata of documents about to be written (`zarr.json`, or
/// `.zarray` and `.zattrs`).
pub(super) fn raw_from_documents(documents: &[(String, Value)]) -> RawMeta {
    let name = |key: &String| key.rsplit('/').next().unwrap_or_default().to_string();
    let find = |wanted: &str| {
        documents
            .iter()
            .find(|(p, _)| name(p) == wanted)
            .map(|(_, d)| d.clone())
    };
    match find("zarr.json") {
        Some(json) => RawMeta { json, v2: false },
        None => {
            let mut json = find(".zarray").unwrap_or(Value::Null);
            json["attributes"] = find(".zattrs").unwrap_or_else(|| Value::Object(Map::new()));
            RawMeta { json, v2: true }
        }
    }
}

/// Turns zarrs' refusal into the most specific error: an unsupported codec
/// by name, an unsupported dtype, or the metadata message.
pub(super) fn open_error(location: &str, raw: &RawMeta, message: &str) -> IoError {
    let lower = message.to_lowercase();
    if let Some(codec) = raw
        .codec_names()
        .into_iter()
        .find(|c| lower.contains(&c.to_lowercase()))
    {
        if lower.contains("codec")
            || lower.contains("not supported")
            || lower.contains("unsupported")
        {
            return IoError::UnsupportedCodec {
                location: location.to_string(),
                codec,
            };
        }
    }
    let dtype = if raw.v2 {
        &raw.json["dtype"]
    } else {
        &raw.json["data_type"]
    };
    if let Some(d) = dtype.as_str() {
        if d.parse::<DType>().is_err() {
            return IoError::UnsupportedDType {
                dtype: d.to_string(),
            };
        }
    } else if !dtype.is_null() {
        return IoError::UnsupportedDType {
            dtype: dtype.to_string(),
        };
    }
    IoError::Metadata {
        location: location.to_string(),
        reason: message.to_string(),
    }
}

/// The `ArrayMeta` of an open array.
pub(super) fn array_meta(
    array: &Array<dyn ReadableWritableListableStorageTraits>,
    raw: &RawMeta,
    location: &str,
) -> Result<ArrayMeta> {
    let dtype_json = if raw.v2 {
        &raw.json["dtype"]
    } else {
        &raw.json["data_type"]
    };
    let dtype: DType = match dtype_json.as_str() {
        Some(d) => d.parse()?,
        None => {
            return Err(IoError::UnsupportedDType {
                dtype: dtype_json.to_string(),
            })
        }
    };
    let shape = array.shape().to_vec();
    let grid = grid_of(array, &shape, location)?;
    // Every size ndchunk computes over the array (elements, chunks) is a
    // u64: an array past that is refused here, where it is opened, rather
    // than overflowing later.
    grid.check_counts().map_err(|source| IoError::Grid {
        location: location.to_string(),
        source,
    })?;
    let fill_value =
        Scalar::from_ne_bytes(array.fill_value().as_ne_bytes(), dtype).ok_or_else(|| {
            IoError::Metadata {
                location: location.to_string(),
                reason: "the fill value does not fit the dtype".into(),
            }
        })?;
    let mut attributes = array.attributes().clone();
    let v2_dims = attributes.remove("_ARRAY_DIMENSIONS");
    super::cf_fill::decode(&mut attributes, dtype);
    let dimension_names = match array.dimension_names() {
        Some(names) => Some(
            names
                .iter()
                .map(|n| n.as_ref().map(|s| s.to_string()))
                .collect(),
        ),
        None => v2_dims.and_then(|v| {
            v.as_array().map(|names| {
                names
                    .iter()
                    .map(|n| n.as_str().map(String::from))
                    .collect::<Vec<_>>()
            })
        }),
    };
    let inner_chunk_shape = raw.json["codecs"].as_array().and_then(|codecs| {
        codecs
            .iter()
            .find(|c| c["name"] == "sharding_indexed")
            .and_then(|c| {
                c["configuration"]["chunk_shape"]
                    .as_array()
                    .map(|s| s.iter().filter_map(Value::as_u64).collect())
            })
    });
    Ok(ArrayMeta {
        grid,
        dtype,
        fill_value,
        dimension_names,
        attributes,
        codecs: codec_descriptions(raw),
        inner_chunk_shape,
        attribute_dtypes: Default::default(),
        fill_value_null: raw.v2 && raw.json.get("fill_value") == Some(&Value::Null),
    })
}

/// The chunk (or shard) grid: regular grids stay O(ndim); other grids are
/// read chunk by chunk along each axis.
fn grid_of(
    array: &Array<dyn ReadableWritableListableStorageTraits>,
    shape: &[u64],
    location: &str,
) -> Result<ChunkGrid> {
    let counts = array.chunk_grid_shape().to_vec();
    let ndim = shape.len();
    let zero = vec![0u64; ndim];
    let first = array.chunk_shape(&zero).map_err(|e| IoError::Metadata {
        location: location.to_string(),
        reason: e.to_string(),
    })?;
    let nominal: Vec<u64> = first.iter().map(|n| n.get()).collect();
    // A zero-length axis has no chunks for zarrs and one empty chunk for us
    // (Dask's rule): regular either way.
    let regular = (0..ndim)
        .all(|i| counts[i] == shape[i].div_ceil(nominal[i]) || (shape[i] == 0 && counts[i] <= 1));
    let grid = if regular {
        ChunkGrid::regular(shape, &nominal)
    } else {
        let mut axes = Vec::with_capacity(ndim);
        for axis in 0..ndim {
            // One size per chunk is held: refused past what memory holds.
            if counts[axis] > MAX_IRREGULAR_CHUNKS {
                return Err(IoError::Grid {
                    location: location.to_string(),
                    source: ChunkingError::TooManyChunks {
                        len: shape[axis],
                        chunks: counts[axis],
                        limit: MAX_IRREGULAR_CHUNKS,
                    },
                });
            }
            let mut sizes = Vec::with_capacity(counts[axis] as usize);
            for j in 0..counts[axis] {
                let mut index = zero.clone();
                index[axis] = j;
                let subset = array
                    .chunk_subset_bounded(&index)
                    .map_err(|e| IoError::Metadata {
                        location: location.to_string(),
                        reason: e.to_string(),
                    })?;
                sizes.push(subset.shape()[axis]);
            }
            axes.push(
                AxisChunks::from_sizes(&sizes).map_err(|e| IoError::Metadata {
                    location: location.to_string(),
                    reason: e.to_string(),
                })?,
            );
        }
        Ok(ChunkGrid::new(axes))
    };
    grid.map_err(|e| IoError::Metadata {
        location: location.to_string(),
        reason: e.to_string(),
    })
}

/// `name(key=value, …)` for each codec, outermost last.
fn codec_descriptions(raw: &RawMeta) -> Vec<String> {
    let describe = |name: &str, config: &Value| -> String {
        let params: Vec<String> = config
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| {
                !matches!(k.as_str(), "id" | "codecs" | "index_codecs" | "chunk_shape")
                    && !v.is_null()
            })
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.as_str().map_or_else(|| v.to_string(), String::from)
                )
            })
            .collect();
        if params.is_empty() {
            name.to_string()
        } else {
            format!("{name}({})", params.join(", "))
        }
    };
    let mut out = Vec::new();
    if raw.v2 {
        for f in raw.json["filters"].as_array().into_iter().flatten() {
            out.push(describe(f["id"].as_str().unwrap_or("?"), f));
        }
        if let Some(id) = raw.json["compressor"]["id"].as_str() {
            out.push(describe(id, &raw.json["compressor"]));
        }
        if raw.json["order"] == "F" {
            out.insert(0, "order=F".into());
        }
    } else {
        for c in raw.json["codecs"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("?");
            if name == "sharding_indexed" {
                let inner: Vec<String> = c["configuration"]["codecs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| describe(i["name"].as_str().unwrap_or("?"), &i["configuration"]))
                    .collect();
                out.push(format!("sharding_indexed[{}]", inner.join(", ")));
            } else {
                out.push(describe(name, &c["configuration"]));
            }
        }
    }
    out
}

/// The compressor of an array as a [`super::ZarrCodec`] ndchunk can write
/// again (`None` when it has none; the closest match for codecs ndchunk
/// does not write, e.g. with a checksum or transpose around them).
pub(super) fn compressor_of(raw: &RawMeta) -> super::ZarrCodec {
    use super::ZarrCodec;
    let from = |name: &str, c: &Value| -> Option<ZarrCodec> {
        let level = |key: &str, default: i64| c[key].as_i64().unwrap_or(default);
        Some(match name {
            "zstd" => ZarrCodec::Zstd(level("level", 3) as i32),
            "gzip" => ZarrCodec::Gzip(level("level", 5) as u32),
            "zlib" => ZarrCodec::Zlib(level("level", 5) as u32),
            "blosc" => ZarrCodec::Blosc {
                cname: c["cname"].as_str().unwrap_or("zstd").to_string(),
                clevel: level("clevel", 5) as u32,
                shuffle: match &c["shuffle"] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.as_u64() == Some(0) => "noshuffle".into(),
                    Value::Number(n) if n.as_u64() == Some(2) => "bitshuffle".into(),
                    _ => "shuffle".into(),
                },
            },
            _ => return None,
        })
    };
    if raw.v2 {
        return raw.json["compressor"]["id"]
            .as_str()
            .and_then(|id| from(id, &raw.json["compressor"]))
            .unwrap_or(ZarrCodec::None);
    }
    fn find(
        codecs: &Value,
        from: &dyn Fn(&str, &Value) -> Option<super::ZarrCodec>,
    ) -> Option<super::ZarrCodec> {
        codecs.as_array()?.iter().find_map(|c| {
            let name = c["name"].as_str()?;
            from(name, &c["configuration"]).or_else(|| find(&c["configuration"]["codecs"], from))
        })
    }
    find(&raw.json["codecs"], &from).unwrap_or(ZarrCodec::None)
}
