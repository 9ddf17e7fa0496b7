//! What is in a store or file: the tree `chunkctl info` prints, as data a
//! library caller can use too.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{IoError, Result};
use crate::hdf5::{self, list_datasets, list_groups, Hdf5Store};
use crate::meta::ArrayMeta;
use crate::netcdf3::{self, global_attributes, list_variables, Netcdf3Store};
use crate::store::ChunkStore;
use crate::zarr::ZarrStore;

use crate::zarr::{list_tree, ZarrFormat, ZarrNodeKind, ZarrRoot};

/// One group or array of a store.
#[derive(Debug, Clone, Serialize)]
pub struct NodeInfo {
    /// Path inside the store or file (`/`, `/group/array`).
    pub path: String,
    /// `group`, `array`, or `link` (a soft, external or user-defined HDF5
    /// link, which listings do not follow: see `link`).
    pub kind: &'static str,
    /// The format (`zarr v2`, `zarr v3`, `hdf5`, `netcdf3`).
    pub format: String,
    /// For arrays: the metadata.
    pub array: Option<ArrayMeta>,
    /// For arrays that cannot be opened: why.
    pub error: Option<String>,
    /// For arrays whose elements no ndchunk dtype holds (strings,
    /// compounds, …): that element type, as the store names it. Such an
    /// array is listed, with `error` saying so, rather than left out, so
    /// that whoever converts the whole store knows what it cannot carry.
    pub unsupported_dtype: Option<String>,
    /// For groups: their attributes (arrays carry theirs in `array`).
    pub attributes: Map<String, Value>,
    /// Chunks (shards) stored, where the format can tell.
    pub chunks_written: Option<u64>,
    /// Bytes the stored chunks take, where the format can tell.
    pub stored_bytes: Option<u64>,
    /// For links: what the link points to (`soft link to /a`,
    /// `external link to other.h5:/b`).
    pub link: Option<String>,
}

/// What kind of container a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// A Zarr store, group or array (a directory).
    Zarr,
    /// An HDF5 (or netCDF-4) file.
    Hdf5,
    /// A netCDF-3 file (classic, 64-bit offset or CDF-5).
    Netcdf3,
}

/// Recognises a path by what it is: a directory is Zarr, a file by its
/// signature (HDF5's may sit at 0, 512, 1024, … bytes).
pub fn container_of(path: &Path) -> Result<Container> {
    let not_a_store = |reason: &str| IoError::NotAStore {
        path: path.display().to_string(),
        reason: reason.into(),
    };
    if path.is_dir() {
        return Ok(Container::Zarr);
    }
    if !path.exists() {
        return Err(not_a_store("no such file or directory"));
    }
    // Only the signatures are read: a file may be many gigabytes.
    let mut file = std::fs::File::open(path).map_err(|e| not_a_store(&e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| not_a_store(&e.to_string()))?
        .len();
    let mut read_at = |offset: u64, buf: &mut [u8]| {
        use std::io::{Read, Seek, SeekFrom};
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(buf))
            .map_err(|e| not_a_store(&e.to_string()))
    };
    let mut head = [0u8; 4];
    if len >= 4 {
        read_at(0, &mut head)?;
        if &head[..3] == b"CDF" && matches!(head[3], 1 | 2 | 5) {
            return Ok(Container::Netcdf3);
        }
    }
    const HDF5: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let mut offset = 0u64;
    while offset + HDF5.len() as u64 <= len {
        let mut signature = [0u8; 8];
        read_at(offset, &mut signature)?;
        if &signature == HDF5 {
            return Ok(Container::Hdf5);
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    Err(not_a_store(
        "neither a Zarr directory nor an HDF5 or netCDF file",
    ))
}

/// Splits `file.h5:/group/var` into the file and the array inside it
/// (`None` when the whole path exists, or has no `:`).
pub fn split_array_path(spec: &str) -> (PathBuf, Option<String>) {
    if Path::new(spec).exists() {
        return (PathBuf::from(spec), None);
    }
    match spec.rsplit_once(':') {
        Some((file, inner)) if Path::new(file).is_file() => {
            (PathBuf::from(file), Some(inner.to_string()))
        }
        _ => (PathBuf::from(spec), None),
    }
}

/// Opens one array for reading from any container: a Zarr array directory,
/// or `file.h5:/dataset` / `file.nc:/variable` (netCDF-3 on its default
/// grid).
pub fn open_array(spec: &str) -> Result<Box<dyn ChunkStore>> {
    let (path, inner) = split_array_path(spec);
    match (container_of(&path)?, inner) {
        (Container::Zarr, None) => Ok(Box::new(ZarrStore::open_dir(&path)?)),
        (Container::Zarr, Some(inner)) => Ok(Box::new(ZarrStore::open(&path, &inner)?)),
        (Container::Hdf5, Some(inner)) => Ok(Box::new(Hdf5Store::open(&path, &inner)?)),
        (Container::Netcdf3, Some(inner)) => Ok(Box::new(Netcdf3Store::open(
            &path,
            inner.trim_start_matches('/'),
            None,
        )?)),
        (_, None) => Err(IoError::NotAStore {
            path: path.display().to_string(),
            reason: "a file holds several arrays: name one as FILE:/NAME".into(),
        }),
    }
}

/// An array no ndchunk dtype holds, listed with why.
fn unsupported_node(path: String, format: &str, dtype: String) -> NodeInfo {
    NodeInfo {
        path,
        kind: "array",
        format: format.into(),
        array: None,
        error: Some(
            IoError::UnsupportedDType {
                dtype: dtype.clone(),
            }
            .to_string(),
        ),
        unsupported_dtype: Some(dtype),
        attributes: Map::new(),
        chunks_written: None,
        stored_bytes: None,
        link: None,
    }
}

fn array_node(path: String, format: &str, meta: ArrayMeta) -> NodeInfo {
    NodeInfo {
        path,
        kind: "array",
        format: format.into(),
        array: Some(meta),
        error: None,
        unsupported_dtype: None,
        attributes: Map::new(),
        chunks_written: None,
        stored_bytes: None,
        link: None,
    }
}

/// What [`inspect_tree`] found: the tree, and what a caller should warn
/// about.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Every group, array and link, parents first.
    pub nodes: Vec<NodeInfo>,
    /// One line per thing the listing did not follow or found disagreeing
    /// (a Zarr store's symlink loops, stale consolidated metadata: see
    /// [`list_tree`]), to show the user. Links of an HDF5 file are nodes
    /// of kind `link`, not warnings.
    pub warnings: Vec<String>,
}

/// [`inspect`] with the listing's warnings, so a caller that prints the
/// tree also says what it left out, from the same walk.
pub fn inspect_tree(path: &Path) -> Result<Inspection> {
    let root = ZarrRoot::parse(path)?;
    if root.is_remote() {
        return inspect_zarr(root);
    }
    let (file, _) = split_array_path(&path.to_string_lossy());
    if !file.exists() {
        return Err(IoError::NotAStore {
            path: path.display().to_string(),
            reason: "no such file or directory".into(),
        });
    }
    if container_of(&file)? == Container::Zarr {
        return inspect_zarr(file.as_path());
    }
    Ok(Inspection {
        nodes: inspect(path)?,
        warnings: Vec::new(),
    })
}

/// Describes a store or file as a tree of groups and arrays, parents first:
/// a Zarr directory, an HDF5/netCDF-4 file (its groups with their
/// attributes, the root `/` holding the global attributes, and its
/// datasets), a netCDF-3 file, one array of a file (`file.h5:/dataset`), or
/// one group of an HDF5 file with everything below it (`file.h5:/group`).
/// A name inside an HDF5 file that is neither is an error.
///
/// Nothing is left out silently: arrays that cannot be opened carry
/// `error`, arrays of element types ndchunk does not hold
/// `unsupported_dtype`, and an HDF5 file's soft, external and user-defined
/// links are nodes of kind `link` (with `link` saying where they point;
/// they are listed, not followed, even a soft link to a dataset of the same
/// file). A name read from the container that is not a plain member path
/// (a netCDF-3 variable `../evil`, an HDF5 dataset `..`, a consolidated
/// metadata key `../evil/.zarray`) is an [`IoError::UnsafeName`]. A Zarr
/// store's warnings (symlink loops, stale consolidated metadata) are
/// dropped here: see [`inspect_tree`].
pub fn inspect(path: &Path) -> Result<Vec<NodeInfo>> {
    let root = ZarrRoot::parse(path)?;
    if root.is_remote() {
        return Ok(inspect_zarr(root)?.nodes);
    }
    let (file, inner) = split_array_path(&path.to_string_lossy());
    if !file.exists() {
        return Err(IoError::NotAStore {
            path: path.display().to_string(),
            reason: "no such file or directory".into(),
        });
    }
    match container_of(&file)? {
        Container::Zarr => Ok(inspect_zarr(file.as_path())?.nodes),
        Container::Hdf5 => inspect_hdf5(&file, inner.as_deref()),
        Container::Netcdf3 => {
            let mut out = vec![NodeInfo {
                path: "/".into(),
                kind: "group",
                format: "netcdf3".into(),
                array: None,
                error: None,
                unsupported_dtype: None,
                attributes: global_attributes(&file)?,
                chunks_written: None,
                stored_bytes: None,
                link: None,
            }];
            for (name, meta) in list_variables(&file)? {
                out.push(array_node(format!("/{name}"), "netcdf3", meta));
            }
            for (name, dtype) in netcdf3::list_unsupported(&file)? {
                out.push(unsupported_node(format!("/{name}"), "netcdf3", dtype));
            }
            if let Some(inner) = inner {
                out.retain(|n| n.path.trim_start_matches('/') == inner.trim_start_matches('/'));
            }
            Ok(out)
        }
    }
}

/// An HDF5/netCDF-4 file as a tree: its groups (the root is `/`, with the
/// file's global attributes) and datasets, parents first. With `inner`
/// naming a dataset, just that dataset; naming a group, that group and
/// everything below it.
fn inspect_hdf5(file: &Path, inner: Option<&str>) -> Result<Vec<NodeInfo>> {
    let mut out: Vec<NodeInfo> = list_groups(file)?
        .into_iter()
        .map(|(name, attributes)| NodeInfo {
            path: format!("/{name}"),
            kind: "group",
            format: "hdf5".into(),
            array: None,
            error: None,
            unsupported_dtype: None,
            attributes,
            chunks_written: None,
            stored_bytes: None,
            link: None,
        })
        .collect();
    for (name, meta) in list_datasets(file)? {
        out.push(array_node(format!("/{name}"), "hdf5", meta));
    }
    for (name, dtype) in hdf5::list_unsupported(file)? {
        out.push(unsupported_node(format!("/{name}"), "hdf5", dtype));
    }
    for (name, target) in hdf5::list_links(file)? {
        out.push(NodeInfo {
            path: format!("/{name}"),
            kind: "link",
            format: "hdf5".into(),
            array: None,
            error: None,
            unsupported_dtype: None,
            attributes: Map::new(),
            chunks_written: None,
            stored_bytes: None,
            link: Some(target),
        });
    }
    out.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    let Some(inner) = inner.map(|i| i.trim_matches('/')) else {
        return Ok(out);
    };
    let wanted = format!("/{inner}");
    if out.iter().any(|n| n.kind == "array" && n.path == wanted) {
        out.retain(|n| n.path == wanted);
    } else if inner.is_empty() {
        // `file.h5:/`: the whole file.
    } else {
        let below = format!("{wanted}/");
        out.retain(|n| n.path == wanted || n.path.starts_with(&below));
    }
    if out.is_empty() {
        return Err(IoError::Metadata {
            location: format!("{}:{wanted}", file.display()),
            reason: format!("no dataset or group `{inner}` in the file"),
        });
    }
    Ok(out)
}

fn inspect_zarr(path: impl Into<ZarrRoot>) -> Result<Inspection> {
    let tree = list_tree(path)?;
    let mut out = Vec::new();
    for node in tree.nodes {
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
                unsupported_dtype: None,
                attributes,
                chunks_written: None,
                stored_bytes: None,
                link: None,
            },
            ZarrNodeKind::Array(store) => {
                let summary = store.as_ref().ok().and_then(|s| s.storage_summary().ok());
                let meta = store.map(|s| s.meta().clone());
                NodeInfo {
                    path: node.path,
                    kind: "array",
                    format,
                    error: meta.as_ref().err().map(ToString::to_string),
                    unsupported_dtype: match &meta {
                        Err(IoError::UnsupportedDType { dtype }) => Some(dtype.clone()),
                        _ => None,
                    },
                    array: meta.ok(),
                    attributes: Map::new(),
                    chunks_written: summary.map(|s| s.0),
                    stored_bytes: summary.map(|s| s.1),
                    link: None,
                }
            }
        });
    }
    Ok(Inspection {
        nodes: out,
        warnings: tree.warnings,
    })
}

impl NodeInfo {
    /// The node's own chunks total (shards, if sharded).
    pub fn chunks_total(&self) -> Option<u64> {
        self.array.as_ref().map(|m| m.grid.num_blocks())
    }
}
