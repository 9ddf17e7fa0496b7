//! Zarr v2 and v3 arrays through `zarrs`, on the local filesystem or in
//! S3-compatible object storage (see [`ZarrRoot`]).
//!
//! An array is opened by its store root and its path inside the store
//! (`ZarrStore::open(root, "/group/array")`), or by the array's own
//! directory or URL (`ZarrStore::open_dir`). Reading goes through zarrs' codec
//! pipeline with its internal parallelism off: ndchunk runs chunk tasks in
//! parallel itself, and the two pools would fight. For a sharded v3 array
//! the grid is the shard grid (a shard is read and written whole).

mod cf_fill;
mod create;
mod hierarchy;
mod metadata;
mod root;
mod s3;

pub use cf_fill::FILL_VALUE;
pub use create::{ZarrArraySpec, ZarrCodec, ZarrFormat};
pub use hierarchy::{
    create_group, list_nodes, list_tree, write_consolidated, ZarrNode, ZarrNodeKind, ZarrTree,
};
pub use root::{StoredObject, ZarrRoot};

use std::borrow::Cow;
use std::sync::Mutex;

use unsafe_cell_slice::UnsafeCellSlice;
use zarrs::array::{
    Array, ArrayBytes, ArrayBytesDecodeIntoTarget, ArrayBytesFixedDisjointView, ArraySubset,
    CodecOptions,
};
use zarrs::storage::{ReadableStorageTraits, ReadableWritableListableStorageTraits};

use crate::copy::{copy_box, filled};
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;
use crate::store::{ChunkStore, EncodedChunk};

use root::Storage;

/// One Zarr array (v2 or v3), in a directory or in object storage.
pub struct ZarrStore {
    array: Array<dyn ReadableWritableListableStorageTraits>,
    storage: Storage,
    meta: ArrayMeta,
    location: String,
    root: ZarrRoot,
    /// The array's node path in `root` (`/group/array`).
    path: String,
    options: CodecOptions,
    format: ZarrFormat,
    compressor: ZarrCodec,
    null_fill: bool,
    /// Metadata documents not yet written (see `create_unpublished`).
    unpublished: Mutex<Option<Vec<(String, serde_json::Value)>>>,
}

impl std::fmt::Debug for ZarrStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrStore")
            .field("location", &self.location)
            .field("meta", &self.meta)
            .finish()
    }
}

/// The zarrs array at `path` with the metadata `raw` (which need not be
/// the stored one).
fn array_of(
    storage: &Storage,
    path: &str,
    raw: &metadata::RawMeta,
    location: &str,
) -> Result<Array<dyn ReadableWritableListableStorageTraits>> {
    let mut for_zarrs = raw.json.clone();
    if raw.v2 {
        if let Some(map) = for_zarrs.as_object_mut() {
            map.remove("attributes");
        }
    }
    let parsed: zarrs::metadata::ArrayMetadata =
        serde_json::from_value(for_zarrs).map_err(|e| IoError::Metadata {
            location: location.to_string(),
            reason: format!("metadata zarrs cannot read: {e}"),
        })?;
    let mut array = Array::new_with_metadata(storage.clone(), &node_path(path), parsed)
        .map_err(|e| metadata::open_error(location, raw, &e.to_string()))?;
    if raw.v2 {
        *array.attributes_mut() = raw.json["attributes"]
            .as_object()
            .cloned()
            .unwrap_or_default();
    }
    Ok(array)
}

/// Normalises a node path to zarrs' form (`/a/b`, `/` for the root).
fn node_path(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

impl ZarrStore {
    /// Opens the array at `path` inside the store rooted at `root` (a
    /// directory, or a [`ZarrRoot`] such as `s3://bucket/store.zarr`).
    pub fn open(root: impl Into<ZarrRoot>, path: &str) -> Result<Self> {
        let root = root.into();
        let storage = root.storage()?;
        let location = root.location(path);
        let raw = metadata::read_raw(&root, path, &location)?;
        let array = Array::open(storage.clone(), &node_path(path))
            .map_err(|e| metadata::open_error(&location, &raw, &e.to_string()))?;
        Self::assemble(array, storage, &raw, location, root, path, None)
    }

    /// Sets the shape of the array at `path` (its metadata only: chunks
    /// already written keep their places, and chunks of the new part read
    /// as the fill value until written) and returns it open: how a dataset
    /// is appended to along a dimension. The metadata file is replaced
    /// atomically (written aside, then renamed).
    pub fn resize(root: impl Into<ZarrRoot>, path: &str, shape: &[u64]) -> Result<Self> {
        let root = root.into();
        let location = root.location(path);
        let raw = metadata::read_raw(&root, path, &location)?;
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
        root.write_json(&root::node_key(path, file), &json)?;
        Self::open(root, path)
    }

    /// Opens the array whose metadata lives in directory (or at URL) `dir`.
    pub fn open_dir(dir: impl Into<ZarrRoot>) -> Result<Self> {
        Self::open(dir, "/")
    }

    /// Creates (or replaces the metadata of) an array and returns it open.
    /// No chunk is written: every chunk reads as the fill value.
    pub fn create(root: impl Into<ZarrRoot>, path: &str, spec: &ZarrArraySpec) -> Result<Self> {
        let store = Self::create_unpublished(root, path, spec)?;
        store.publish()?;
        Ok(store)
    }

    /// Creates an array whose metadata is not yet on disk: chunks can be
    /// written, but until [`publish`](Self::publish) the directory is not a
    /// Zarr array to anyone else, so an unfinished write never looks like a
    /// finished one.
    pub fn create_unpublished(
        root: impl Into<ZarrRoot>,
        path: &str,
        spec: &ZarrArraySpec,
    ) -> Result<Self> {
        let root = root.into();
        root.create_dir("")?;
        let location = root.location(path);
        let documents = create::metadata_documents(&root, path, spec)?;
        let raw = metadata::raw_from_documents(&documents);
        let storage = root.storage()?;
        let array = array_of(&storage, path, &raw, &location)?;
        Self::assemble(array, storage, &raw, location, root, path, Some(documents))
    }

    /// Opens the array at `path` as if its shape were `shape`, which is
    /// not written: chunks past the stored end can be written, and no
    /// reader sees them until [`resize`](Self::resize) sets that shape
    /// (how an append is prepared before it is made visible).
    pub fn open_with_shape(root: impl Into<ZarrRoot>, path: &str, shape: &[u64]) -> Result<Self> {
        let root = root.into();
        let location = root.location(path);
        let mut raw = metadata::read_raw(&root, path, &location)?;
        let dims = raw.json["shape"].as_array().map_or(0, Vec::len);
        if dims != shape.len() {
            return Err(IoError::Metadata {
                location,
                reason: format!("a {dims}-dimensional array cannot take the shape {shape:?}"),
            });
        }
        raw.json["shape"] = serde_json::json!(shape);
        let storage = root.storage()?;
        let array = array_of(&storage, path, &raw, &location)?;
        Self::assemble(array, storage, &raw, location, root, path, None)
    }

    /// The store around an open zarrs array and its raw metadata.
    fn assemble(
        array: Array<dyn ReadableWritableListableStorageTraits>,
        storage: Storage,
        raw: &metadata::RawMeta,
        location: String,
        root: ZarrRoot,
        path: &str,
        unpublished: Option<Vec<(String, serde_json::Value)>>,
    ) -> Result<Self> {
        let meta = metadata::array_meta(&array, raw, &location)?;
        Ok(Self {
            array,
            storage,
            meta,
            location,
            root,
            path: node_path(path),
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
            for (key, doc) in documents {
                self.root.write_json(key, doc)?;
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
        self.root.chunk_summary(&self.path)
    }

    /// The root of the store this array was opened in, and its node path
    /// there.
    pub fn root(&self) -> (&ZarrRoot, &str) {
        (&self.root, &self.path)
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

    fn is_remote(&self) -> bool {
        self.root.is_remote()
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
