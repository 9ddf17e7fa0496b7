//! The stores a plan file names: how each is opened again in another
//! process (a Zarr directory or `s3://` URL with the endpoint it was
//! planned at, an HDF5 file's dataset, a netCDF-3 file's variable on its
//! grid), and the digest of a source's files
//! or objects that tells a changed source.

use super::*;
use crate::array::region_store::RegionStore;
use ndchunk_io::info::{container_of, Container};
use ndchunk_io::netcdf3::Netcdf3Store;

/// How to open a store again in another process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum StoreSpec {
    /// A Zarr array: an absolute directory, or an `s3://` URL and the
    /// endpoint its requests went to when the plan was made.
    Zarr {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// A dataset of an HDF5 or netCDF-4 file.
    Hdf5 { path: PathBuf, dataset: String },
    /// A variable of a netCDF-3 file, read on the record's grid (the file
    /// has no chunks of its own).
    Netcdf3 { path: PathBuf, variable: String },
}

/// A store as the file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StoreRecord {
    #[serde(flatten)]
    pub(super) spec: StoreSpec,
    pub(super) dtype: DType,
    pub(super) grid: ChunkGrid,
    /// How its chunks are encoded (codecs), where the store says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) encoding: Option<String>,
    /// A source's files or objects (name, size, modification time or
    /// ETag), digested; none for the destination, which the run writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) state: Option<String>,
}

/// A source read by `from_store(location)`, as another process opens it.
pub(super) fn reopen_source(location: &str, read: Option<&dyn ChunkStore>) -> Result<StoreRecord> {
    if location.starts_with("memory:") {
        return Err(save_error(format!(
            "`from_store({location})` reads an in-memory store: this plan can only run in \
             this process"
        )));
    }
    let grid = read.map(|read| &read.meta().grid);
    let store = open_by_location(location, grid).map_err(|why| {
        save_error(format!(
            "`from_store({location})`: {why}, so this plan can only run in this process"
        ))
    })?;
    let (spec, store) = store;
    if let Some(read) = read {
        if read.meta() != store.meta() || read.encoding() != store.encoding() {
            return Err(save_error(format!(
                "`from_store({location})`: the array at that path is not the one this \
                 expression reads (its metadata changed since it was opened); open it again"
            )));
        }
    }
    let state = state_of(&spec, &*store)?;
    Ok(StoreRecord::of(spec, &*store, Some(state)))
}

/// The destination, as another process opens it (checked to be the same
/// array: metadata and encoding).
pub(super) fn record_store(
    store: &dyn ChunkStore,
    state: Option<String>,
) -> std::result::Result<StoreRecord, String> {
    let location = store.location();
    if location.starts_with("memory:") {
        return Err("it is an in-memory store".into());
    }
    let zarr =
        location.contains("://") || std::fs::canonicalize(&location).is_ok_and(|dir| dir.is_dir());
    if !zarr {
        return Err(
            "plan files write Zarr arrays (an HDF5 file takes one writer at a time, \
                    so shards in several processes cannot share it)"
                .into(),
        );
    }
    let (spec, reopened) = open_by_location(&location, Some(&store.meta().grid))?;
    if reopened.meta() != store.meta() || reopened.encoding() != store.encoding() {
        return Err("opened again by its path, it is not the same array".into());
    }
    Ok(StoreRecord::of(spec, store, state))
}

impl StoreRecord {
    /// `store`, reopened by `spec`, as the file records it.
    fn of(spec: StoreSpec, store: &dyn ChunkStore, state: Option<String>) -> StoreRecord {
        let meta = store.meta();
        StoreRecord {
            spec,
            dtype: meta.dtype,
            grid: meta.grid.clone(),
            encoding: store.encoding(),
            state,
        }
    }
}

/// The store at `location` (a store's own), opened as a Zarr array, an
/// HDF5 dataset or a netCDF-3 variable (on `grid`, where given), with how
/// to open it again from anywhere.
pub(super) fn open_by_location(
    location: &str,
    grid: Option<&ChunkGrid>,
) -> std::result::Result<(StoreSpec, Arc<dyn ChunkStore>), String> {
    if location.contains("://") {
        let root = ZarrRoot::parse(location).map_err(|e| e.to_string())?;
        let store = ZarrStore::open_dir(root).map_err(|e| e.to_string())?;
        let spec = StoreSpec::Zarr {
            url: location.to_string(),
            endpoint: root_endpoint(location),
        };
        return Ok((spec, Arc::new(store)));
    }
    if let Ok(dir) = std::fs::canonicalize(location) {
        if dir.is_dir() {
            let store = ZarrStore::open_dir(&dir).map_err(|e| e.to_string())?;
            let spec = StoreSpec::Zarr {
                url: dir.display().to_string(),
                endpoint: None,
            };
            return Ok((spec, Arc::new(store)));
        }
    }
    if let Some((file, dataset)) = location.rsplit_once(":/") {
        if let Ok(path) = std::fs::canonicalize(file) {
            let store = Hdf5Store::open(&path, dataset).map_err(|e| e.to_string())?;
            let spec = StoreSpec::Hdf5 {
                path,
                dataset: dataset.to_string(),
            };
            return Ok((spec, Arc::new(store)));
        }
    }
    // A netCDF-3 variable's location is `FILE/VARIABLE`.
    if let Some((file, variable)) = location.rsplit_once('/') {
        let file = Path::new(file);
        if file.is_file() && matches!(container_of(file), Ok(Container::Netcdf3)) {
            let path = std::fs::canonicalize(file).map_err(|e| e.to_string())?;
            let store =
                Netcdf3Store::open(&path, variable, grid.cloned()).map_err(|e| e.to_string())?;
            let spec = StoreSpec::Netcdf3 {
                path,
                variable: variable.to_string(),
            };
            return Ok((spec, Arc::new(store)));
        }
    }
    Err(
        "ndchunk opens again only Zarr arrays, HDF5 datasets and netCDF-3 variables, by path"
            .into(),
    )
}

/// The endpoint an `s3://` location's requests go to now.
pub(super) fn root_endpoint(location: &str) -> Option<String> {
    ZarrRoot::parse(location)
        .ok()
        .and_then(|root| root.endpoint())
}

/// The root of a Zarr array the file records, refused when its requests
/// would now go to another endpoint than when the plan was made.
fn zarr_root(url: &str, endpoint: &Option<String>) -> Result<ZarrRoot> {
    let now = root_endpoint(url);
    if *endpoint != now {
        return Err(Error::Invalid {
            operation: "plan file".into(),
            message: format!(
                "{url} was planned at {}, and would now be read at {}: set the same \
                 AWS_ENDPOINT_URL as when the plan was made",
                endpoint.as_deref().unwrap_or("AWS S3"),
                now.as_deref().unwrap_or("AWS S3")
            ),
        });
    }
    Ok(ZarrRoot::parse(url)?)
}

/// Opens a store the file records.
pub(super) fn open_record(record: &StoreRecord) -> Result<Arc<dyn ChunkStore>> {
    Ok(match &record.spec {
        StoreSpec::Zarr { url, endpoint } => {
            Arc::new(ZarrStore::open_dir(zarr_root(url, endpoint)?)?)
        }
        StoreSpec::Hdf5 { path, dataset } => Arc::new(Hdf5Store::open(path, dataset)?),
        StoreSpec::Netcdf3 { path, variable } => Arc::new(Netcdf3Store::open(
            path,
            variable,
            Some(record.grid.clone()),
        )?),
    })
}

/// A digest of a source's files or objects: names, sizes, and
/// modification times (ETags in a bucket).
pub(super) fn state_of(spec: &StoreSpec, store: &dyn ChunkStore) -> Result<String> {
    let mut text = String::new();
    match spec {
        StoreSpec::Zarr { url, .. } => {
            let root = ZarrRoot::parse(url)?;
            for object in root.list_objects("")? {
                text.push_str(&format!(
                    "{} {} {}\n",
                    object.key, object.size, object.version
                ));
            }
        }
        StoreSpec::Hdf5 { path, .. } | StoreSpec::Netcdf3 { path, .. } => {
            let meta = std::fs::metadata(path).map_err(|e| Error::Job {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            text.push_str(&format!("{} {modified}\n", meta.len()));
        }
    }
    text.push_str(&serde_json::to_string(store.meta()).unwrap_or_default());
    Ok(format!("{:016x}", fnv1a(text.as_bytes())))
}

/// Opens an output that is a part of a Zarr array: the array at the shape
/// it is written at (grown in memory only, for an append not yet
/// published), and the part in it. Refused when the array's shape is not
/// the one it had when the plan was made: appended to since, by this
/// plan's finished run (an append is made once) or by someone else.
pub(super) fn open_part(record: &StoreRecord, part: &Part) -> Result<Arc<dyn ChunkStore>> {
    let StoreSpec::Zarr { url, endpoint } = &record.spec else {
        return Err(file_error("only a Zarr array is written in part".into()));
    };
    let root = zarr_root(url, endpoint)?;
    let shape = ZarrStore::open_dir(root.clone())?.meta().shape();
    if shape != part.stored_shape {
        return Err(Error::Invalid {
            operation: "plan file".into(),
            message: format!(
                "the array {url} has the shape {shape:?}, and had {:?} when the plan was made: \
                 it was changed meanwhile (appended to by this plan's finished run, or by \
                 someone else), and the plan would write over what is there now",
                part.stored_shape
            ),
        });
    }
    let array = ZarrStore::open_with_shape(root, "/", &part.array_shape)?;
    Ok(Arc::new(RegionStore::new(
        array,
        &part.start,
        &record.grid.shape(),
    )?))
}

/// A part of the Zarr array `array` (open at the shape it is written at)
/// from `part.start`, written through `region`, as the file records it:
/// checked to be the same array opened again by its path (dtype, chunks,
/// codecs).
pub(super) fn record_part(
    array: &ZarrStore,
    region: &dyn ChunkStore,
) -> std::result::Result<StoreRecord, String> {
    let location = array.location();
    let (spec, reopened) = open_by_location(&location, None)?;
    let (a, b) = (reopened.meta(), array.meta());
    if a.dtype != b.dtype
        || a.grid.chunk_shape() != b.grid.chunk_shape()
        || reopened.encoding() != array.encoding()
    {
        return Err("opened again by its path, it is not the same array".into());
    }
    Ok(StoreRecord::of(spec, region, None))
}
