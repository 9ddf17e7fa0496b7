//! Zarr v2 and v3 arrays through `zarrs`, on the local filesystem.
//!
//! An array is opened by its store root and its path inside the store
//! (`ZarrStore::open(root, "/group/array")`), or by the array's own
//! directory (`ZarrStore::open_dir`). Reading goes through zarrs' codec
//! pipeline with its internal parallelism off: ndchunk runs chunk tasks in
//! parallel itself, and the two pools would fight. For a sharded v3 array
//! the grid is the shard grid (a shard is read and written whole).

mod cf_fill;
mod create;
mod hierarchy;
mod metadata;

pub use cf_fill::FILL_VALUE;
pub use create::{ZarrArraySpec, ZarrCodec, ZarrFormat};
pub use hierarchy::{
    create_group, list_nodes, list_tree, write_consolidated, ZarrNode, ZarrNodeKind, ZarrTree,
};

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use unsafe_cell_slice::UnsafeCellSlice;
use zarrs::array::{
    Array, ArrayBytes, ArrayBytesDecodeIntoTarget, ArrayBytesFixedDisjointView, ArraySubset,
    CodecOptions,
};
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::ReadableStorageTraits;

use crate::copy::{copy_box, filled};
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;
use crate::store::{ChunkStore, EncodedChunk};

/// One Zarr array (v2 or v3) on the filesystem.
pub struct ZarrStore {
    array: Array<FilesystemStore>,
    storage: Arc<FilesystemStore>,
    meta: ArrayMeta,
    location: String,
    dir: PathBuf,
    options: CodecOptions,
    format: ZarrFormat,
    compressor: ZarrCodec,
    null_fill: bool,
    /// Metadata documents not yet written (see `create_unpublished`).
    unpublished: Mutex<Option<Vec<(PathBuf, serde_json::Value)>>>,
}

impl std::fmt::Debug for ZarrStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrStore")
            .field("location", &self.location)
            .field("meta", &self.meta)
            .finish()
    }
}

/// `root` + `path` as a display location (`data.zarr/group/array`).
fn location_of(root: &Path, path: &str) -> String {
    let inner = path.trim_matches('/');
    if inner.is_empty() {
        root.display().to_string()
    } else {
        format!("{}/{inner}", root.display())
    }
}

/// Normalises a node path to zarrs' form (`/a/b`, `/` for the root).
fn node_path(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

/// Opens the filesystem store at `root`.
fn filesystem(root: &Path) -> Result<Arc<FilesystemStore>> {
    if !root.is_dir() {
        return Err(IoError::NotAStore {
            path: root.display().to_string(),
            reason: if root.exists() {
                "not a directory".into()
            } else {
                "no such directory".into()
            },
        });
    }
    FilesystemStore::new(root)
        .map(Arc::new)
        .map_err(|e| IoError::NotAStore {
            path: root.display().to_string(),
            reason: e.to_string(),
        })
}

impl ZarrStore {
    /// Opens the array at `path` inside the store rooted at `root`.
    pub fn open(root: &Path, path: &str) -> Result<Self> {
        let storage = filesystem(root)?;
        let location = location_of(root, path);
        let raw = metadata::read_raw(root, path, &location)?;
        let array = Array::open(storage.clone(), &node_path(path))
            .map_err(|e| metadata::open_error(&location, &raw, &e.to_string()))?;
        Self::assemble(
            array,
            storage,
            &raw,
            location,
            root.join(path.trim_matches('/')),
            None,
        )
    }

    /// Sets the shape of the array at `path` (its metadata only: chunks
    /// already written keep their places, and chunks of the new part read
    /// as the fill value until written) and returns it open: how a dataset
    /// is appended to along a dimension. The metadata file is replaced
    /// atomically (written aside, then renamed).
    pub fn resize(root: &Path, path: &str, shape: &[u64]) -> Result<Self> {
        let location = location_of(root, path);
        let raw = metadata::read_raw(root, path, &location)?;
        let dims = raw.json["shape"].as_array().map_or(0, Vec::len);
        if dims != shape.len() {
            return Err(IoError::Metadata {
                location,
                reason: format!("a {dims}-dimensional array cannot take the shape {shape:?}"),
            });
        }
        let mut json = raw.json;
        json["shape"] = serde_json::json!(shape);
        let file = if raw.v2 {
            if let Some(map) = json.as_object_mut() {
                map.remove("attributes");
            }
            ".zarray"
        } else {
            "zarr.json"
        };
        let dir = root.join(path.trim_matches('/'));
        let aside = dir.join(format!(".{file}.resizing"));
        let fail = |e: std::io::Error| IoError::Storage {
            location: location.clone(),
            message: format!("cannot rewrite the metadata: {e}"),
        };
        std::fs::write(&aside, json.to_string()).map_err(fail)?;
        std::fs::rename(&aside, dir.join(file)).map_err(fail)?;
        Self::open(root, path)
    }

    /// Opens the array whose metadata lives in directory `dir`.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        Self::open(dir, "/")
    }

    /// Creates (or replaces the metadata of) an array and returns it open.
    /// No chunk is written: every chunk reads as the fill value.
    pub fn create(root: &Path, path: &str, spec: &ZarrArraySpec) -> Result<Self> {
        let store = Self::create_unpublished(root, path, spec)?;
        store.publish()?;
        Ok(store)
    }

    /// Creates an array whose metadata is not yet on disk: chunks can be
    /// written, but until [`publish`](Self::publish) the directory is not a
    /// Zarr array to anyone else, so an unfinished write never looks like a
    /// finished one.
    pub fn create_unpublished(root: &Path, path: &str, spec: &ZarrArraySpec) -> Result<Self> {
        std::fs::create_dir_all(root).map_err(|e| IoError::Storage {
            location: root.display().to_string(),
            message: format!("cannot create the store directory: {e}"),
        })?;
        let location = location_of(root, path);
        let documents = create::metadata_documents(root, path, spec)?;
        let raw = metadata::raw_from_documents(&documents);
        let mut for_zarrs = raw.json.clone();
        if raw.v2 {
            if let Some(map) = for_zarrs.as_object_mut() {
                map.remove("attributes");
            }
        }
        let parsed: zarrs::metadata::ArrayMetadata =
            serde_json::from_value(for_zarrs).map_err(|e| IoError::Metadata {
                location: location.clone(),
                reason: format!("ndchunk wrote metadata zarrs cannot read: {e}"),
            })?;
        let storage = filesystem(root)?;
        let mut array = Array::new_with_metadata(storage.clone(), &node_path(path), parsed)
            .map_err(|e| metadata::open_error(&location, &raw, &e.to_string()))?;
        if raw.v2 {
            *array.attributes_mut() = raw.json["attributes"]
                .as_object()
                .cloned()
                .unwrap_or_default();
        }
        Self::assemble(
            array,
            storage,
            &raw,
            location,
            root.join(path.trim_matches('/')),
            Some(documents),
        )
    }

    /// The store around an open zarrs array and its raw metadata.
    fn assemble(
        array: Array<FilesystemStore>,
        storage: Arc<FilesystemStore>,
        raw: &metadata::RawMeta,
        location: String,
        dir: PathBuf,
        unpublished: Option<Vec<(PathBuf, serde_json::Value)>>,
    ) -> Result<Self> {
        let meta = metadata::array_meta(&array, raw, &location)?;
        Ok(Self {
            array,
            storage,
            meta,
            location,
            dir,
            options: CodecOptions::default().with_concurrent_target(1),
            format: if raw.v2 {
                ZarrFormat::V2
            } else {
                ZarrFormat::V3
            },
            compressor: metadata::compressor_of(raw),
            null_fill: raw.v2 && raw.json["fill_value"].is_null(),
            unpublished: Mutex::new(unpublished),
        })
    }

    /// Writes the metadata of an array made by
    /// [`create_unpublished`](Self::create_unpublished); a no-op otherwise.
    pub fn publish(&self) -> Result<()> {
        let mut pending = self.unpublished.lock().map_err(|_| IoError::Storage {
            location: self.location.clone(),
            message: "a writer panicked".into(),
        })?;
        if let Some(documents) = pending.as_ref() {
            for (file, doc) in documents {
                create::write_json(file, doc)?;
            }
        }
        *pending = None;
        Ok(())
    }

    /// Zarr v2 or v3.
    pub fn format(&self) -> ZarrFormat {
        self.format
    }

    /// Whether a v2 array declares no fill value (`"fill_value": null`).
    pub fn has_null_fill(&self) -> bool {
        self.null_fill
    }

    /// The array's compressor, as ndchunk would write it again.
    pub fn compressor(&self) -> &ZarrCodec {
        &self.compressor
    }

    /// The chunks (shards, if sharded) on disk and the bytes they take,
    /// found by walking the array's directory once rather than asking for
    /// every chunk of the grid.
    pub fn storage_summary(&self) -> Result<(u64, u64)> {
        fn walk(dir: &Path, top: bool, acc: &mut (u64, u64)) -> std::io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let kind = entry.file_type()?;
                // At the top, dot-names are never chunks: metadata, and
                // what tools keep beside it (chunkctl's journal and record).
                if top && (name.starts_with('.') || name == "zarr.json") {
                    continue;
                }
                if kind.is_dir() {
                    walk(&entry.path(), false, acc)?;
                } else {
                    acc.0 += 1;
                    acc.1 += entry.metadata()?.len();
                }
            }
            Ok(())
        }
        let mut acc = (0, 0);
        walk(&self.dir, true, &mut acc).map_err(|e| IoError::Storage {
            location: self.location.clone(),
            message: format!("cannot list the array's chunks: {e}"),
        })?;
        Ok(acc)
    }

    fn storage_size(&self, chunk: &[u64]) -> Result<Option<u64>> {
        self.storage
            .size_key(&self.array.chunk_key(chunk))
            .map_err(|e| IoError::Storage {
                location: self.location.clone(),
                message: format!("chunk {chunk:?}: {e}"),
            })
    }

    fn chunk_error(&self, chunk: &[u64], error: impl std::fmt::Display) -> IoError {
        IoError::CorruptChunk {
            location: self.location.clone(),
            chunk: chunk.to_vec(),
            reason: error.to_string(),
        }
    }
}

impl ChunkStore for ZarrStore {
    fn meta(&self) -> &ArrayMeta {
        &self.meta
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>> {
        let region = self.chunk_region(chunk)?;
        let ranges: Vec<_> = (0..region.ndim()).map(|i| region.range(i)).collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        let bytes: ArrayBytes<'static> = self
            .array
            .retrieve_array_subset_opt(&subset, &self.options)
            .map_err(|e| self.chunk_error(chunk, e))?;
        let raw = bytes.into_fixed().map_err(|e| self.chunk_error(chunk, e))?;
        Ok(raw.into_owned())
    }

    fn read_chunk_into(&self, chunk: &[u64], out: &mut [u8]) -> Result<()> {
        let region = self.chunk_region(chunk)?;
        self.check_length(&region, out.len())?;
        let ranges: Vec<_> = (0..region.ndim()).map(|i| region.range(i)).collect();
        let shape = region.shape();
        let whole = ArraySubset::new_with_shape(shape.clone());
        // SAFETY: this is the only view of `out`, so no other view overlaps it.
        let mut view = unsafe {
            ArrayBytesFixedDisjointView::new(
                UnsafeCellSlice::new(out),
                self.meta.dtype.size(),
                &shape,
                whole,
            )
        }
        .map_err(|e| self.chunk_error(chunk, e))?;
        self.array
            .retrieve_array_subset_into_opt(
                &ArraySubset::new_with_ranges(&ranges),
                ArrayBytesDecodeIntoTarget::Fixed(&mut view),
                &self.options,
            )
            .map_err(|e| self.chunk_error(chunk, e))
    }

    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<()> {
        let region = self.region_for_write(chunk, bytes.len())?;
        // Zarr chunks keep their nominal shape at the array's edge: pad the
        // clipped region with the fill value.
        let full: Vec<u64> = self
            .array
            .chunk_shape(chunk)
            .map_err(|e| self.chunk_error(chunk, e))?
            .iter()
            .map(|n| n.get())
            .collect();
        let data: Cow<'_, [u8]> = if full == region.shape() {
            Cow::Borrowed(bytes)
        } else {
            let itemsize = self.meta.dtype.size();
            let fill = self.meta.fill_value.to_ne_bytes(self.meta.dtype);
            let mut padded = filled(&fill, full.iter().product());
            let whole = ndchunk_chunking::Region::from_shape(&region.shape());
            copy_box(
                bytes,
                &region.shape(),
                &whole,
                &mut padded,
                &full,
                &vec![0; full.len()],
                itemsize,
            );
            Cow::Owned(padded)
        };
        self.array
            .store_chunk_opt(chunk, ArrayBytes::new_flen(data), &self.options)
            .map_err(|e| IoError::Storage {
                location: self.location.clone(),
                message: format!("writing chunk {chunk:?}: {e}"),
            })
    }

    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool> {
        self.chunk_region(chunk)?;
        Ok(self.storage_size(chunk)?.is_some())
    }

    /// The array's metadata without what does not change a chunk's bytes
    /// (shape, attributes, names, key encoding); `None` when sharded or
    /// transformed, where a stored object is not one chunk.
    fn encoding(&self) -> Option<String> {
        let mut doc = serde_json::to_value(self.array.metadata()).ok()?;
        let fields = doc.as_object_mut()?;
        let sharded = fields
            .get("codecs")
            .and_then(|c| c.as_array())
            .is_some_and(|codecs| {
                codecs
                    .iter()
                    .any(|c| c.get("name").and_then(|n| n.as_str()) == Some("sharding_indexed"))
            });
        let transformed = fields
            .get("storage_transformers")
            .and_then(|t| t.as_array())
            .is_some_and(|t| !t.is_empty());
        if sharded || transformed {
            return None;
        }
        for key in [
            "shape",
            "attributes",
            "dimension_names",
            "chunk_key_encoding",
            "dimension_separator",
        ] {
            fields.remove(key);
        }
        Some(doc.to_string())
    }

    fn read_encoded_chunk(&self, chunk: &[u64]) -> Result<Option<EncodedChunk>> {
        self.chunk_region(chunk)?;
        let Some(encoding) = self.encoding() else {
            return Err(crate::store::not_copyable(self.location.clone()));
        };
        let bytes = self
            .array
            .retrieve_encoded_chunk(chunk)
            .map_err(|e| self.chunk_error(chunk, e))?;
        Ok(bytes.map(|b| EncodedChunk::new(encoding, b)))
    }

    fn copy_encoded_chunk_from(&self, source: &dyn ChunkStore, chunk: &[u64]) -> Result<bool> {
        self.chunk_region(chunk)?;
        let Some(encoding) = self.encoding() else {
            return Err(crate::store::not_copyable(self.location.clone()));
        };
        let unlike = |why: &str| IoError::Storage {
            location: self.location.clone(),
            message: format!(
                "chunk {chunk:?} of {} cannot be copied here as stored: {why}",
                source.location()
            ),
        };
        if source.meta().grid != self.meta().grid {
            return Err(unlike("the chunk grids differ"));
        }
        if source.encoding().as_deref() != Some(encoding.as_str()) {
            return Err(unlike("the stores encode their chunks differently"));
        }
        let Some(encoded) = source.read_encoded_chunk(chunk)? else {
            self.array
                .erase_chunk(chunk)
                .map_err(|e| self.chunk_error(chunk, e))?;
            return Ok(false);
        };
        // What the source says of its encoding is not what decides: the
        // chunk carries the encoding of the Zarr store it was read from.
        if encoded.encoding() != encoding {
            return Err(unlike("the chunk read was encoded differently"));
        }
        // SAFETY: `EncodedChunk`s are made only by `read_encoded_chunk`
        // above, of a Zarr array of this encoding (dtype, chunk shape,
        // codecs, fill value): the bytes are a chunk as this array's codecs
        // encode it, and Zarr stores edge chunks whole, so any chunk of one
        // is a valid chunk of the other.
        unsafe {
            self.array
                .store_encoded_chunk(chunk, zarrs::storage::Bytes::from(encoded.into_bytes()))
        }
        .map_err(|e| self.chunk_error(chunk, e))?;
        Ok(true)
    }
}
