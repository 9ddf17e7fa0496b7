//! What is in a store or file: the tree `chunkctl info` prints, as data a
//! library caller can use too.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

use crate::zarr::{list_nodes, ZarrFormat, ZarrNodeKind, ZarrStore};

/// One group or array of a store.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    /// Path inside the store or file (`/`, `/group/array`).
    pub path: String,
    /// `group` or `array`.
    pub kind: &'static str,
    /// The format (`zarr v2`, `zarr v3`, `hdf5`, `netcdf3`).
    pub format: String,
    /// For arrays: the metadata.
    pub array: Option<ArrayMeta>,
    /// For arrays that cannot be opened: why.
    pub error: Option<String>,
    /// For groups: their attributes (arrays carry theirs in `array`).
    pub attributes: Map<String, Value>,
    /// Chunks (shards) stored, where the format can tell.
    pub chunks_written: Option<u64>,
    /// Bytes the stored chunks take, where the format can tell.
    pub stored_bytes: Option<u64>,
}

/// Describes the Zarr store (a directory) at `path`.
pub fn inspect(path: &Path) -> Result<Vec<NodeInfo>> {
    if !path.exists() {
        return Err(IoError::NotAStore {
            path: path.display().to_string(),
            reason: "no such file or directory".into(),
        });
    }
    if !path.is_dir() {
        return Err(IoError::NotAStore {
            path: path.display().to_string(),
            reason: "not a Zarr directory".into(),
        });
    }
    let mut out = Vec::new();
    for node in list_nodes(path)? {
        let format = match node.format {
            ZarrFormat::V2 => "zarr v2",
            ZarrFormat::V3 => "zarr v3",
        }
        .to_string();
        out.push(match node.kind {
            ZarrNodeKind::Group(attributes) => NodeInfo {
                path: node.path,
                kind: "group",
                format,
                array: None,
                error: None,
                attributes,
                chunks_written: None,
                stored_bytes: None,
            },
            ZarrNodeKind::Array(meta) => {
                let summary = meta
                    .as_ref()
                    .ok()
                    .and_then(|_| ZarrStore::open(path, &node.path).ok())
                    .and_then(|s| s.storage_summary().ok());
                NodeInfo {
                    path: node.path,
                    kind: "array",
                    format,
                    error: meta.as_ref().err().map(ToString::to_string),
                    array: meta.ok(),
                    attributes: Map::new(),
                    chunks_written: summary.map(|s| s.0),
                    stored_bytes: summary.map(|s| s.1),
                }
            }
        });
    }
    Ok(out)
}

impl NodeInfo {
    /// The node's own chunks total (shards, if sharded).
    pub fn chunks_total(&self) -> Option<u64> {
        self.array.as_ref().map(|m| m.grid.num_blocks())
    }
}
