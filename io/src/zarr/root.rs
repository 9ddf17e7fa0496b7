//! Where a Zarr hierarchy lives: a local directory, or a prefix in an
//! S3-compatible bucket (`s3://bucket/path.zarr`).
//!
//! Everything the Zarr backend does that is not a chunk (metadata
//! documents, listing a group's children, counting an array's stored
//! chunks) goes through [`ZarrRoot`], so that one code path serves both.
//! Chunks go through zarrs' storage traits: its filesystem store, or its
//! `object_store` adapter over the AWS backend, driven by a tokio runtime
//! of this crate's.
//!
//! S3 settings come from the standard AWS environment variables, as the
//! AWS CLI reads them: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION` (or `AWS_DEFAULT_REGION`),
//! and `AWS_ENDPOINT_URL` for S3-compatible servers (MinIO, Ceph, moto;
//! an `http://` one is used as given). Requests that fail
//! with a server error or throttling are retried with exponential backoff
//! (up to 10 times within 3 minutes); a refused request (403), a missing
//! bucket and an endpoint that does not answer are said when the root is
//! first used, before anything is read or written.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object_store::aws::AmazonS3;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use serde_json::Value;
use zarrs::filesystem::FilesystemStore;
use zarrs::storage::{
    ListableStorageTraits, ReadableStorageTraits, ReadableWritableListableStorageTraits, StoreKey,
    StorePrefix, WritableStorageTraits,
};

use super::s3::{block_on, endpoint, s3_open};
use crate::error::{IoError, Result};

/// The storage zarrs reads and writes chunks through.
pub(crate) type Storage = Arc<dyn ReadableWritableListableStorageTraits>;

/// Where a Zarr hierarchy lives: a directory, or a prefix in an S3 bucket.
///
/// Made from a path (`ZarrRoot::from(path)`), or from what a user typed
/// with [`ZarrRoot::parse`], which takes `s3://bucket/prefix` URLs and
/// paths alike. Clones share one connection to the bucket.
///
/// ```
/// use ndchunk_io::zarr::ZarrRoot;
///
/// let root = ZarrRoot::parse("s3://climate/era5.zarr").unwrap();
/// assert!(root.is_remote());
/// assert_eq!(root.to_string(), "s3://climate/era5.zarr");
/// assert_eq!(ZarrRoot::parse("data/era5.zarr").unwrap().as_dir(), Some(std::path::Path::new("data/era5.zarr")));
/// assert!(ZarrRoot::parse("gs://bucket/x.zarr").is_err());
/// ```
#[derive(Clone)]
pub struct ZarrRoot {
    place: Place,
    /// The storage, made on first use and shared by clones.
    opened: Arc<Mutex<Option<Opened>>>,
}

/// A root's storage once opened: zarrs' view, and for a bucket the
/// `object_store` client under it (which lists with sizes and versions).
#[derive(Clone)]
pub(super) struct Opened {
    pub(super) storage: Storage,
    pub(super) objects: Option<Arc<PrefixStore<Arc<AmazonS3>>>>,
}

/// One stored object (a chunk or document) as a listing gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Its key below the listed node (`c/0/1`, `zarr.json`).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// What changes when it is rewritten: the file's modification time in
    /// nanoseconds, or the object's ETag (or its last-modified time).
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Debug for ZarrRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZarrRoot({self})")
    }
}

impl std::fmt::Display for ZarrRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::Dir(dir) => write!(f, "{}", dir.display()),
            Place::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Place::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl PartialEq for ZarrRoot {
    fn eq(&self, other: &Self) -> bool {
        self.place == other.place
    }
}

impl From<&Path> for ZarrRoot {
    fn from(dir: &Path) -> Self {
        Self::new(Place::Dir(dir.to_path_buf()))
    }
}

impl From<PathBuf> for ZarrRoot {
    fn from(dir: PathBuf) -> Self {
        Self::new(Place::Dir(dir))
    }
}

impl From<&PathBuf> for ZarrRoot {
    fn from(dir: &PathBuf) -> Self {
        Self::from(dir.as_path())
    }
}

impl From<&ZarrRoot> for ZarrRoot {
    fn from(root: &ZarrRoot) -> Self {
        root.clone()
    }
}

impl ZarrRoot {
    fn new(place: Place) -> Self {
        Self {
            place,
            opened: Arc::new(Mutex::new(None)),
        }
    }

    /// `s3://bucket/prefix` (or `s3a://`) as an S3 root; a path without a
    /// `scheme://` as a directory. Other schemes are refused.
    pub fn parse(text: impl AsRef<Path>) -> Result<Self> {
        let path = text.as_ref();
        let Some((scheme, rest)) = path.to_str().and_then(|t| t.split_once("://")) else {
            return Ok(Self::from(path));
        };
        let text = path.to_str().unwrap_or_default();
        let refuse = |reason: String| IoError::NotAStore {
            path: text.to_string(),
            reason,
        };
        if !matches!(scheme, "s3" | "s3a") {
            return Err(refuse(format!(
                "`{scheme}://` is not supported: ndchunk reads local paths and s3:// URLs"
            )));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(refuse("the URL names no bucket (s3://BUCKET/path)".into()));
        }
        let prefix = prefix.trim_matches('/');
        // A prefix is a path of plain names: `..` or an empty segment would
        // address another key than the one written.
        if !prefix.is_empty() {
            crate::check_member_path(prefix, text)?;
        }
        Ok(Self::new(Place::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }))
    }

    /// Whether this is object storage (not a local directory).
    pub fn is_remote(&self) -> bool {
        matches!(self.place, Place::S3 { .. })
    }

    /// Whether anything is stored here (a directory or file, or any object
    /// under the prefix). A bucket that cannot be asked (refused
    /// credentials, no such bucket, no answer) is an error, never "no".
    pub fn exists(&self) -> Result<bool> {
        match &self.place {
            Place::Dir(dir) => Ok(dir.exists()),
            Place::S3 { .. } => {
                // The first object is enough: one request, however many
                // objects the prefix holds.
                use futures::StreamExt;
                let fail = |message: String| IoError::Storage {
                    location: self.to_string(),
                    message: format!("cannot list: {message}"),
                };
                let Some(objects) = self.open()?.objects else {
                    return Err(fail("no client".into()));
                };
                match block_on(objects.list(None).next()) {
                    None => Ok(false),
                    Some(Ok(_)) => Ok(true),
                    Some(Err(e)) => Err(fail(e.to_string())),
                }
            }
        }
    }

    /// Where requests for this root go: the S3 endpoint (`None` for a
    /// directory), as the environment sets it when the root is used.
    pub fn endpoint(&self) -> Option<String> {
        self.is_remote().then(endpoint)
    }

    /// Whether the document `key` (`zarr.json`, `group/.zarray`) is here.
    pub fn contains(&self, key: &str) -> bool {
        self.has(key)
    }

    /// The directory, for a local root.
    pub fn as_dir(&self) -> Option<&Path> {
        match &self.place {
            Place::Dir(dir) => Some(dir),
            Place::S3 { .. } => None,
        }
    }

    /// The root of the node at `path` inside this one (a sub-directory, or
    /// a longer prefix). `path` must be a plain relative path.
    pub fn join(&self, path: &str) -> Result<ZarrRoot> {
        let path = path.trim_matches('/');
        if path.is_empty() {
            return Ok(self.clone());
        }
        crate::check_member_path(path, &self.to_string())?;
        Ok(match &self.place {
            Place::Dir(dir) => Self::from(dir.join(path)),
            Place::S3 { bucket, prefix } => Self::new(Place::S3 {
                bucket: bucket.clone(),
                prefix: join_key(prefix, path),
            }),
        })
    }

    /// `root/path` as a display location (`data.zarr/group/array`).
    pub(crate) fn location(&self, path: &str) -> String {
        let inner = path.trim_matches('/');
        if inner.is_empty() {
            self.to_string()
        } else {
            format!("{self}/{inner}")
        }
    }

    /// The storage (opened on first use: a local root must be a directory;
    /// an S3 root's bucket must answer).
    pub(crate) fn storage(&self) -> Result<Storage> {
        Ok(self.open()?.storage)
    }

    fn open(&self) -> Result<Opened> {
        let mut slot = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(opened) = slot.as_ref() {
            return Ok(opened.clone());
        }
        let opened = match &self.place {
            Place::Dir(dir) if dir.to_str().is_some_and(|t| t.contains("://")) => {
                return Err(IoError::NotAStore {
                    path: dir.display().to_string(),
                    reason: "a URL taken as a path: make the root with ZarrRoot::parse".into(),
                })
            }
            Place::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(IoError::NotAStore {
                        path: dir.display().to_string(),
                        reason: if dir.exists() {
                            "not a directory".into()
                        } else {
                            "no such directory".into()
                        },
                    });
                }
                let storage = FilesystemStore::new(dir).map_err(|e| IoError::NotAStore {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
                Opened {
                    storage: Arc::new(storage),
                    objects: None,
                }
            }
            Place::S3 { bucket, prefix } => s3_open(&self.to_string(), bucket, prefix)?,
        };
        *slot = Some(opened.clone());
        Ok(opened)
    }

    /// Every file or object below the node `path`, with its size and
    /// version, from one listing (keys relative to the node, sorted).
    pub fn list_objects(&self, path: &str) -> Result<Vec<StoredObject>> {
        let path = path.trim_matches('/');
        let location = self.location(path);
        let fail = |message: String| IoError::Storage {
            location: location.clone(),
            message: format!("cannot list: {message}"),
        };
        let mut out = Vec::new();
        match &self.place {
            Place::Dir(dir) => {
                walk_files(&dir.join(path), "", &mut out).map_err(|e| fail(e.to_string()))?
            }
            Place::S3 { .. } => {
                use futures::TryStreamExt;
                let Some(objects) = self.open()?.objects else {
                    return Err(fail("no client".into()));
                };
                let prefix = object_store::path::Path::from(path);
                let listed: Vec<object_store::ObjectMeta> =
                    block_on(objects.list(Some(&prefix)).try_collect())
                        .map_err(|e| fail(e.to_string()))?;
                for meta in listed {
                    let key = meta.location.as_ref();
                    let key = key
                        .strip_prefix(prefix.as_ref())
                        .unwrap_or(key)
                        .trim_start_matches('/');
                    out.push(StoredObject {
                        key: key.to_string(),
                        size: meta.size,
                        version: meta
                            .e_tag
                            .unwrap_or_else(|| meta.last_modified.to_rfc3339()),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Makes the node directory `path` (nothing to make in a bucket).
    pub(crate) fn create_dir(&self, path: &str) -> Result<()> {
        if let Place::Dir(dir) = &self.place {
            // A URL given as a path is not made into local directories.
            if dir.to_str().is_some_and(|t| t.contains("://")) {
                return Err(IoError::NotAStore {
                    path: dir.display().to_string(),
                    reason: "a URL taken as a path: make the root with ZarrRoot::parse".into(),
                });
            }
            let dir = dir.join(path.trim_matches('/'));
            std::fs::create_dir_all(&dir).map_err(|e| IoError::Storage {
                location: self.location(path),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        Ok(())
    }

    /// The JSON document at `key` (`group/zarr.json`); `None` if absent.
    pub fn read_json(&self, key: &str) -> Result<Option<Value>> {
        let location = self.location(key);
        let bytes = match &self.place {
            Place::Dir(dir) => match std::fs::read(dir.join(key)) {
                Ok(bytes) => Some(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                // A directory where a document was looked for.
                Err(_) if dir.join(key).is_dir() => None,
                Err(e) => {
                    return Err(IoError::Storage {
                        location,
                        message: format!("cannot read: {e}"),
                    })
                }
            },
            Place::S3 { .. } => self
                .storage()?
                .get(&store_key(key, &location)?)
                .map_err(|e| IoError::Storage {
                    location: location.clone(),
                    message: format!("cannot read: {e}"),
                })?
                .map(|b| b.to_vec()),
        };
        bytes
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| IoError::Metadata {
                    location: location.clone(),
                    reason: format!("not valid JSON: {e}"),
                })
            })
            .transpose()
    }

    /// Whether an object or file exists at `key`.
    pub(crate) fn has(&self, key: &str) -> bool {
        match &self.place {
            Place::Dir(dir) => dir.join(key).is_file(),
            Place::S3 { .. } => self
                .storage()
                .ok()
                .and_then(|s| s.size_key(&StoreKey::new(key).ok()?).ok())
                .flatten()
                .is_some(),
        }
    }

    /// Writes a JSON document whole or not at all: on disk aside and
    /// renamed over the old one, in a bucket by one PUT (which S3 applies
    /// atomically).
    pub fn write_json(&self, key: &str, value: &Value) -> Result<()> {
        let location = self.location(key);
        let fail = |e: String| IoError::Storage {
            location: location.clone(),
            message: format!("cannot write metadata: {e}"),
        };
        let text = serde_json::to_string_pretty(value).map_err(|e| fail(e.to_string()))?;
        match &self.place {
            Place::Dir(dir) => {
                crate::write_whole(&dir.join(key), text.as_bytes()).map_err(|e| fail(e.to_string()))
            }
            Place::S3 { .. } => self
                .storage()?
                .set(&store_key(key, &location)?, text.into_bytes().into())
                .map_err(|e| fail(e.to_string())),
        }
    }

    /// What lies directly at `path`: the names of its objects (files) and
    /// of its child prefixes (directories), each sorted; one delimited
    /// listing in a bucket, whatever lies deeper.
    pub fn list_level(&self, path: &str) -> Result<(Vec<String>, Vec<String>)> {
        let path = path.trim_matches('/');
        let location = self.location(path);
        let fails = |message: String| IoError::Storage {
            location: location.clone(),
            message,
        };
        let (mut objects, mut prefixes) = (Vec::new(), Vec::new());
        let last = |key: &str| {
            key.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        match &self.place {
            Place::Dir(dir) => {
                let entries =
                    std::fs::read_dir(dir.join(path)).map_err(|e| fails(e.to_string()))?;
                for entry in entries {
                    let entry = entry.map_err(|e| fails(e.to_string()))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if entry.path().is_dir() {
                        prefixes.push(name);
                    } else {
                        objects.push(name);
                    }
                }
            }
            Place::S3 { .. } => {
                let prefix = store_prefix(path, &location)?;
                let listed = self
                    .storage()?
                    .list_dir(&prefix)
                    .map_err(|e| fails(format!("cannot list: {e}")))?;
                objects.extend(listed.keys().iter().map(|key| last(key.as_str())));
                prefixes.extend(listed.prefixes().iter().map(|p| last(p.as_str())));
                prefixes.retain(|name| !name.is_empty());
            }
        }
        objects.sort();
        prefixes.sort();
        Ok((objects, prefixes))
    }

    /// The child nodes of `path` that may be groups or arrays (directories,
    /// or prefixes: names not starting with `.`, sorted), and the names
    /// that are not UTF-8 (lossily, for a warning).
    pub(crate) fn child_dirs(&self, path: &str) -> Result<(Vec<String>, Vec<String>)> {
        let path = path.trim_matches('/');
        let mut children = Vec::new();
        let mut unreadable = Vec::new();
        match &self.place {
            Place::Dir(dir) => {
                let entries = std::fs::read_dir(dir.join(path)).map_err(|e| IoError::Storage {
                    location: self.location(path),
                    message: e.to_string(),
                })?;
                for entry in entries.filter_map(|entry| entry.ok()) {
                    if !entry.path().is_dir() {
                        continue;
                    }
                    match entry.file_name().into_string() {
                        Ok(name) if !name.starts_with('.') => children.push(name),
                        Ok(_) => {}
                        Err(name) => unreadable.push(name.to_string_lossy().into_owned()),
                    }
                }
            }
            Place::S3 { .. } => {
                let (_, prefixes) = self.list_level(path)?;
                children.extend(prefixes.into_iter().filter(|name| !name.starts_with('.')));
            }
        }
        children.sort();
        Ok((children, unreadable))
    }

    /// A directory's identity (device, inode) through symlinks, to walk
    /// each once; `None` in a bucket, where a prefix has no second name.
    pub(crate) fn node_id(&self, path: &str) -> Option<(u64, u64)> {
        let Place::Dir(dir) = &self.place else {
            return None;
        };
        dir_id(&dir.join(path.trim_matches('/')))
    }

    /// The identities of the directories that hold a local root (its
    /// ancestors, through symlinks); none for a bucket.
    pub(crate) fn holding(&self) -> std::collections::HashSet<(u64, u64)> {
        let Place::Dir(dir) = &self.place else {
            return Default::default();
        };
        let Ok(canonical) = std::fs::canonicalize(dir) else {
            return Default::default();
        };
        canonical.ancestors().skip(1).filter_map(dir_id).collect()
    }

    /// Whether the node `path` exists at all (a directory, or any key under
    /// the prefix).
    pub(crate) fn node_exists(&self, path: &str) -> bool {
        let path = path.trim_matches('/');
        match &self.place {
            Place::Dir(dir) => dir.join(path).exists(),
            Place::S3 { .. } => self.storage().is_ok_and(|s| {
                StorePrefix::new(if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}/")
                })
                .ok()
                .and_then(|p| s.list_dir(&p).ok())
                .is_some_and(|l| !l.keys().is_empty() || !l.prefixes().is_empty())
            }),
        }
    }

    /// The chunks (objects or files below the node `path`, leaving out its
    /// top-level metadata and dot-names: chunkctl's records) and the bytes
    /// they take, from one listing.
    pub(crate) fn chunk_summary(&self, path: &str) -> Result<(u64, u64)> {
        Ok(self
            .list_objects(path)?
            .iter()
            .filter(|o| {
                let top = o.key.split('/').next().unwrap_or_default();
                !(top.starts_with('.') || top == "zarr.json")
            })
            .fold((0, 0), |(n, bytes), o| (n + 1, bytes + o.size)))
    }
}

/// The files below `dir` (symlinks to files read through, symlinks to
/// directories not entered, so a loop cannot make the walk endless).
fn walk_files(dir: &Path, prefix: &str, out: &mut Vec<StoredObject>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let key = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            walk_files(&entry.path(), &format!("{key}/"), out)?;
        } else if let Ok(meta) = std::fs::metadata(entry.path()) {
            if meta.is_file() {
                let modified = meta
                    .modified()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                out.push(StoredObject {
                    key,
                    size: meta.len(),
                    version: modified.to_string(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(dir: &Path) -> Option<(u64, u64)> {
    use std::hash::{Hash, Hasher};
    let canonical = std::fs::canonicalize(dir).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut h);
    Some((0, h.finish()))
}

/// The key of the document `file` of the node at `path` (`g/a/zarr.json`;
/// `zarr.json` at the root).
pub(super) fn node_key(path: &str, file: &str) -> String {
    join_key(path.trim_matches('/'), file)
}

fn join_key(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (_, true) => prefix.to_string(),
        _ => format!("{prefix}/{path}"),
    }
}

fn store_key(key: &str, location: &str) -> Result<StoreKey> {
    StoreKey::new(key.trim_matches('/')).map_err(|e| IoError::Storage {
        location: location.to_string(),
        message: e.to_string(),
    })
}

fn store_prefix(path: &str, location: &str) -> Result<StorePrefix> {
    let path = path.trim_matches('/');
    StorePrefix::new(if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    })
    .map_err(|e| IoError::Storage {
        location: location.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_parse() {
        let root = ZarrRoot::parse("s3://b/a/x.zarr/").unwrap();
        assert_eq!(root.to_string(), "s3://b/a/x.zarr");
        assert_eq!(root.join("g/v").unwrap().to_string(), "s3://b/a/x.zarr/g/v");
        assert_eq!(ZarrRoot::parse("s3://b").unwrap().to_string(), "s3://b");
        assert!(ZarrRoot::parse("s3:///x").is_err());
        assert!(ZarrRoot::parse("s3://b/../x").is_err());
        assert!(ZarrRoot::parse("s3://b/a//x").is_err());
        assert!(root.join("../up").is_err());
        assert!(matches!(
            ZarrRoot::parse("http://host/x.zarr"),
            Err(IoError::NotAStore { .. })
        ));
        let dir = ZarrRoot::parse("rel/x.zarr").unwrap();
        assert!(!dir.is_remote());
        assert_eq!(
            dir.join("g").unwrap().as_dir(),
            Some(Path::new("rel/x.zarr/g"))
        );
    }
}
