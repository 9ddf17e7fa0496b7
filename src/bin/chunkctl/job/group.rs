//! Rechunking a whole dataset: a Zarr group as xarray writes it, or a whole
//! HDF5/netCDF file (converted to a Zarr group). Every array whose
//! dimensions the spec names is rechunked, the others (coordinates) are
//! copied with their chunks, groups and attributes are recreated, and the
//! root group's metadata (and v2 consolidated metadata) is written last, so
//! `xarray.open_zarr(DST)` gives the same dataset with new chunks and an
//! unfinished DST does not open. Either side may be in object storage
//! (`s3://`): see [`GroupPlan::run`] for where the job's state then lives.
//!
//! Arrays of an element type ndchunk cannot move (strings, compounds,
//! variable-length, …) are never dropped unseen: the job is refused, naming
//! each with its type, unless [`ZarrRechunk::skip_unsupported`] says to
//! leave them out, in which case [`GroupPlan::skipped`] and
//! [`GroupOutcome::skipped`] name them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Map, Value};

use ndchunk_chunking::rechunk::RechunkPlan;
use ndchunk_io::info::{container_of, inspect, Container};
use ndchunk_io::zarr::{
    create_group, list_tree, write_consolidated, ZarrFormat, ZarrNodeKind, ZarrRoot,
};
use ndchunk_io::{check_member_path, ArrayMeta, IoError};

use super::array::{source_identity, JobStatus, Outcome, ZarrRechunk, FINISHED_RECORD, WORK_DIR};
use super::places::{check_replaceable, is_empty_dir, is_url};
use ndchunk::{Error, Result};

/// The marker of an unfinished group job in its destination.
pub(crate) const GROUP_MARKER: &str = ".ndchunk-rechunk-group.json";

/// The lock a group job holds on its destination while it runs.
pub(crate) const GROUP_LOCK: &str = ".ndchunk-rechunk-group.lock";

/// One array of a group job.
#[derive(Debug, Clone, Serialize)]
pub struct ArrayOutcome {
    /// Path in the group.
    pub path: String,
    /// The chunks asked for this array (its own dims only).
    pub chunks: String,
    /// What the run did ([`JobStatus::UpToDate`]: finished by an earlier
    /// run).
    pub outcome: Outcome,
}

/// An array of the source left out of a group job, because no ndchunk
/// dtype holds its elements (only with [`ZarrRechunk::skip_unsupported`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedArray {
    /// Path in the group (`/station_name`).
    pub path: String,
    /// Its element type, as the source names it.
    pub dtype: String,
}

/// A soft or external HDF5 link of the source, left out of a group job (a
/// listing follows hard links only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedLink {
    /// Path in the file (`/t_alias`).
    pub path: String,
    /// What it points to (`soft link to /t`, `external link to b.h5:/x`).
    pub target: String,
}

/// What a group job did.
#[derive(Debug, Clone, Serialize)]
pub struct GroupOutcome {
    /// Each array, in store order.
    pub arrays: Vec<ArrayOutcome>,
    /// The arrays left out, in store order (see [`SkippedArray`]).
    pub skipped: Vec<SkippedArray>,
    /// The links left out, not followed (see [`SkippedLink`]).
    pub links: Vec<SkippedLink>,
    /// Wall time, seconds.
    pub seconds: f64,
}

fn job_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Job {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Whether `src` is a hierarchy of arrays rather than one array: a Zarr
/// group, or a whole HDF5/netCDF file (`file.nc`, not `file.nc:/var`).
pub fn is_group(src: &Path) -> bool {
    if super::places::is_url(src) {
        return ndchunk_io::zarr::ZarrRoot::parse(src).is_ok_and(|root| {
            root.contains(".zgroup")
                || root
                    .read_json("zarr.json")
                    .ok()
                    .flatten()
                    .is_some_and(|doc| doc["node_type"] == "group")
        });
    }
    if src.join(".zgroup").is_file() {
        return true;
    }
    if src.is_file() {
        return matches!(container_of(src), Ok(Container::Hdf5 | Container::Netcdf3));
    }
    std::fs::read(src.join("zarr.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|doc| doc["node_type"] == "group")
}

/// One group or array of the source, whatever holds it.
struct SourceNode {
    /// Path inside the source, without the leading `/` (root: empty).
    path: String,
    kind: SourceKind,
}

enum SourceKind {
    /// A group, with its attributes.
    Group(Map<String, Value>),
    /// An array, or why it cannot be read.
    Array(std::result::Result<ArrayMeta, String>),
    /// An array of this element type, which no ndchunk dtype holds.
    Unsupported(String),
    /// A soft or external link, not followed: what it points to.
    Link(String),
}

/// The source's nodes, parents first, and its Zarr format (`None` for an
/// HDF5/netCDF file, which converts to Zarr v3 unless told otherwise).
/// Every node's name is checked before it can become a path in DST.
fn source_tree(src: &Path) -> Result<(Vec<SourceNode>, Option<ZarrFormat>, Vec<String>)> {
    let (nodes, format, warnings) = read_source_tree(src)?;
    let location = src.display().to_string();
    for node in &nodes {
        check_member_path(&node.path, &location)?;
    }
    Ok((nodes, format, warnings))
}

/// The nodes, the Zarr format, and the listing's warnings.
fn read_source_tree(src: &Path) -> Result<(Vec<SourceNode>, Option<ZarrFormat>, Vec<String>)> {
    let relative = |path: &str| path.trim_start_matches('/').to_string();
    if is_url(src) || container_of(src)? == Container::Zarr {
        let tree = list_tree(ZarrRoot::parse(src)?)?;
        let warnings = tree.warnings;
        let nodes = tree.nodes;
        let format = nodes.first().map(|n| n.format);
        let nodes = nodes
            .into_iter()
            .map(|n| SourceNode {
                path: relative(&n.path),
                kind: match n.kind {
                    ZarrNodeKind::Group(attributes) => SourceKind::Group(attributes),
                    ZarrNodeKind::Array(Err(IoError::UnsupportedDType { dtype })) => {
                        SourceKind::Unsupported(dtype)
                    }
                    ZarrNodeKind::Array(store) => SourceKind::Array(
                        store
                            .map(|s| ndchunk_io::ChunkStore::meta(&*s).clone())
                            .map_err(|e| e.to_string()),
                    ),
                },
            })
            .collect();
        return Ok((nodes, format, warnings));
    }
    let nodes = inspect(src)?
        .into_iter()
        .map(|n| SourceNode {
            path: relative(&n.path),
            kind: match (n.kind, n.array, n.error, n.unsupported_dtype) {
                ("group", ..) => SourceKind::Group(n.attributes),
                ("link", ..) => SourceKind::Link(n.link.unwrap_or_default()),
                (_, Some(meta), ..) => SourceKind::Array(Ok(meta)),
                (_, None, _, Some(dtype)) => SourceKind::Unsupported(dtype),
                (_, None, error, None) => SourceKind::Array(Err(error.unwrap_or_default())),
            },
        })
        .collect();
    Ok((nodes, None, Vec::new()))
}

/// The nodes a `--array` selection keeps: every group, the arrays named,
/// and their coordinates in the same group: the arrays of their dimensions
/// (named like the dimension) and those their CF `coordinates` attribute
/// lists (as xarray writes non-index coordinates), so xarray opens the
/// result as a dataset. Naming an array ndchunk cannot move is an error.
fn select_arrays(nodes: Vec<SourceNode>, names: &[String], src: &Path) -> Result<Vec<SourceNode>> {
    if names.is_empty() {
        return Ok(nodes);
    }
    let arrays: Vec<&SourceNode> = nodes
        .iter()
        .filter(|n| !matches!(n.kind, SourceKind::Group(_)))
        .collect();
    let mut wanted: Vec<String> = Vec::new();
    for name in names {
        check_member_path(name, &src.display().to_string())?;
        let name = name.trim_matches('/');
        match arrays.iter().find(|n| n.path == name) {
            None => {
                let available: Vec<&str> = arrays.iter().map(|n| n.path.as_str()).collect();
                return Err(job_error(
                    src,
                    format!("no array `{name}`; it has {}", available.join(", ")),
                ));
            }
            Some(SourceNode {
                kind: SourceKind::Unsupported(dtype),
                ..
            }) => {
                return Err(job_error(
                    src,
                    format!("array `{name}` holds {dtype}, which ndchunk cannot move (it moves bool, int8-int64, uint8-uint64, float32 and float64)"),
                ));
            }
            Some(_) => {}
        }
        wanted.push(name.to_string());
    }
    let parent = |path: &str| path.rsplit_once('/').map_or("", |(p, _)| p).to_string();
    let coordinates: Vec<String> = nodes
        .iter()
        .filter(|n| wanted.contains(&n.path))
        .flat_map(|n| match &n.kind {
            SourceKind::Array(Ok(meta)) => {
                let group = parent(&n.path);
                let listed = meta
                    .attributes
                    .get("coordinates")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                meta.dims_or_default()
                    .into_iter()
                    .chain(listed.split_whitespace().map(String::from))
                    .map(|name| {
                        if group.is_empty() {
                            name
                        } else {
                            format!("{group}/{name}")
                        }
                    })
                    .collect()
            }
            _ => Vec::new(),
        })
        .collect();
    Ok(nodes
        .into_iter()
        .filter(|n| match &n.kind {
            SourceKind::Group(_) => true,
            SourceKind::Array(_) | SourceKind::Unsupported(_) | SourceKind::Link(_) => {
                wanted.contains(&n.path) || coordinates.contains(&n.path)
            }
        })
        .collect())
}

/// How a job names one array of the source: a Zarr array's directory or
/// prefix in a bucket, or `file.nc:/var` inside a file.
fn array_source(src: &Path, relative: &str) -> PathBuf {
    if is_url(src) {
        let url = src.to_string_lossy();
        PathBuf::from(format!("{}/{relative}", url.trim_end_matches('/')))
    } else if src.is_dir() {
        src.join(relative)
    } else {
        PathBuf::from(format!("{}:/{relative}", src.display()))
    }
}

/// `name=value` pairs of a by-name chunk spec; a group needs names.
/// An empty spec names none: every array keeps its chunks (a conversion).
fn named_entries(spec: &str, at: &Path) -> Result<Vec<(String, String)>> {
    if spec.trim().is_empty() {
        return Ok(Vec::new());
    }
    spec.split(',')
        .map(|entry| match entry.split_once('=') {
            Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
            None => Err(job_error(
                at,
                format!("a group's arrays have different dimensions: give chunks by name (`time=8760,lat=10`), not `{entry}`"),
            )),
        })
        .collect()
}

/// One array of a group job.
#[derive(Debug, Clone)]
pub struct ArrayJob {
    /// Path in the group (`/t`).
    pub path: String,
    /// The job for this array alone.
    pub job: ZarrRechunk,
}

/// A group job resolved into its arrays' jobs; nothing read or written yet.
#[derive(Debug)]
pub struct GroupPlan {
    template: ZarrRechunk,
    format: ZarrFormat,
    identity: Value,
    /// Groups below the root, with their attributes, parents first.
    groups: Vec<(String, Map<String, Value>)>,
    root_attributes: Map<String, Value>,
    /// The arrays, in source order.
    pub arrays: Vec<ArrayJob>,
    /// The arrays left out, in source order: arrays of an element type
    /// ndchunk cannot move, with [`ZarrRechunk::skip_unsupported`] (without
    /// it, [`plan_group`] refuses the job instead).
    pub skipped: Vec<SkippedArray>,
    /// The links left out, not followed (see [`SkippedLink`]).
    pub links: Vec<SkippedLink>,
    /// What listing the source left out or found disagreeing (a symlink
    /// loop not followed, stale consolidated metadata, a link), to show
    /// the user.
    pub warnings: Vec<String>,
}

/// Resolves a group job: checks the chunk spec against the arrays'
/// dimensions and makes one job per array. Reads no chunk. Arrays of an
/// element type ndchunk cannot move (strings, compounds, …) make it an
/// error that names each of them, unless `template.skip_unsupported` says
/// to leave them out ([`GroupPlan::skipped`]).
pub fn plan_group(template: &ZarrRechunk) -> Result<GroupPlan> {
    let (src, dst) = (&template.src, &template.dst);
    template.owned_paths()?;
    let entries = named_entries(&template.chunks, src)?;
    let (nodes, source_format, warnings) = source_tree(src)?;
    let known: Vec<String> = nodes
        .iter()
        .filter_map(|n| match &n.kind {
            SourceKind::Array(Ok(meta)) => Some(meta.dims_or_default()),
            _ => None,
        })
        .flatten()
        .collect();
    if let Some((name, _)) = entries.iter().find(|(name, _)| !known.contains(name)) {
        let have = if known.is_empty() {
            "no dimensions (every array is a scalar): pass --chunks '' to convert them as they are"
                .to_string()
        } else {
            dedup(&known).join(", ")
        };
        return Err(job_error(
            src,
            format!("unknown dimension `{name}`; the group's arrays have {have}"),
        ));
    }
    let nodes = select_arrays(nodes, &template.arrays, src)?;
    let format = template.format.or(source_format).unwrap_or(ZarrFormat::V3);
    let identity = json!({
        "arrays": template.arrays,
        "src": source_identity(src)?,
        "chunks": template.chunks,
        "format": format!("{format:?}"),
        "codec": format!("{:?}", template.codec),
        "shards": template.shards,
        "chunk_bytes": template.chunk_bytes,
        "temp": template.temp,
        "skip_unsupported": template.skip_unsupported,
        "ndchunk": env!("CARGO_PKG_VERSION"),
    });
    let mut plan = GroupPlan {
        template: template.clone(),
        format,
        identity,
        groups: Vec::new(),
        root_attributes: Map::new(),
        arrays: Vec::new(),
        skipped: Vec::new(),
        links: Vec::new(),
        warnings,
    };
    for node in nodes {
        let relative = node.path;
        match node.kind {
            SourceKind::Group(attributes) if relative.is_empty() => {
                plan.root_attributes = attributes
            }
            SourceKind::Group(attributes) => plan.groups.push((relative, attributes)),
            SourceKind::Unsupported(dtype) => plan.skipped.push(SkippedArray {
                path: format!("/{relative}"),
                dtype,
            }),
            SourceKind::Link(target) => {
                plan.warnings.push(format!(
                    "/{relative}: {target}; not followed, left out (convert its target on its own)"
                ));
                plan.links.push(SkippedLink {
                    path: format!("/{relative}"),
                    target,
                });
            }
            SourceKind::Array(Err(e)) => {
                return Err(job_error(
                    &array_source(src, &relative),
                    format!("cannot rechunk this array: {e}"),
                ));
            }
            SourceKind::Array(Ok(meta)) => {
                let dims = meta.dims_or_default();
                let own: Vec<String> = entries
                    .iter()
                    .filter(|(name, _)| dims.contains(name))
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                let mut job = template.clone();
                // Arrays the spec does not touch keep their chunks.
                job.chunks = if own.is_empty() {
                    meta.grid
                        .chunk_shape()
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                } else {
                    own.join(",")
                };
                job.src = array_source(src, &relative);
                job.dst = dst.join(&relative);
                job.format = Some(format);
                job.overwrite = false;
                // Shards only where they fit the array's dims.
                if own.is_empty() {
                    job.shards = None;
                }
                plan.arrays.push(ArrayJob {
                    path: format!("/{relative}"),
                    job,
                });
            }
        }
    }
    if !plan.skipped.is_empty() && !template.skip_unsupported {
        let listed: Vec<String> = plan
            .skipped
            .iter()
            .map(|a| format!("  {}: {}", a.path, a.dtype))
            .collect();
        return Err(job_error(
            src,
            format!(
                "{} an element type ndchunk cannot move (it moves bool, int8-int64, uint8-uint64, float32 and float64) and would be lost:\n{}\n\
                 pass --skip-unsupported to convert the other arrays without them, or pick the arrays to convert with --array NAME",
                if listed.len() == 1 {
                    "1 array has".to_string()
                } else {
                    format!("{} arrays have", listed.len())
                },
                listed.join("\n"),
            ),
        ));
    }
    Ok(plan)
}

impl GroupPlan {
    /// Each array's rechunk plan, for `--dry-run`.
    pub fn array_plans(&self) -> Result<Vec<(String, RechunkPlan)>> {
        self.arrays
            .iter()
            .map(|a| Ok((a.path.clone(), a.job.prepare()?.plan)))
            .collect()
    }

    /// Runs every array's job, then writes the root group and its
    /// consolidated metadata: DST looks finished only at the very end. An
    /// interrupted run of the same job resumes: finished arrays are kept.
    /// The same command run again over an unchanged source writes nothing.
    ///
    /// A DST in object storage keeps the group's marker and lock in the
    /// job's work directory under `--journal`, each array's journal beside
    /// it, and its finished record as an object in DST; it must be an empty
    /// prefix or this job's own interrupted run, as nothing in a bucket is
    /// known to be ours to delete.
    pub fn run(self) -> Result<GroupOutcome> {
        let start = Instant::now();
        let dst = &self.template.dst;
        let remote = is_url(dst);
        let root = self.template.dst_root()?;
        let mut owned = self.template.owned_paths()?;
        // Every array is opened and planned before anything is created: a
        // bad chunk spec for one array leaves no DST behind.
        let prepared = self
            .arrays
            .iter()
            .map(|a| a.job.prepare())
            .collect::<Result<Vec<_>>>()?;
        // Where the marker and the lock live: in DST, or in the job's
        // local work directory for a DST in a bucket.
        let state = if remote {
            let state = self.template.group_state_dir()?;
            owned.claim(&state, "the group job's journal directory")?;
            state
        } else {
            dst.clone()
        };
        let marker = state.join(GROUP_MARKER);
        let marker_job = read_json(&marker).map(|doc| doc["job"].clone());
        // Asked first for a bucket: refused credentials, a missing bucket
        // or no answer stop the job before anything is made here.
        // (A local DST that is a file has no record: refused below.)
        let finished_job = match root.read_json(FINISHED_RECORD) {
            Ok(doc) => doc.map(|doc| doc["job"].clone()),
            Err(e) if remote => return Err(e.into()),
            Err(_) => None,
        };
        let ours = [&marker_job, &finished_job]
            .iter()
            .any(|job| job.as_ref() == Some(&self.identity));
        let mut replace = false;
        if remote {
            self.check_bucket_destination(&root, ours, [&marker_job, &finished_job])?;
        } else if let Ok(meta) = std::fs::symlink_metadata(dst) {
            replace = self.template.overwrite || (self.template.restart && marker.exists());
            if replace {
                check_replaceable(dst)?;
            } else if !(ours || meta.is_dir() && is_empty_dir(dst)) {
                return Err(job_error(
                    dst,
                    if marker.exists() {
                        "holds an interrupted rechunk of another command; rerun that command to \
                         finish it, or pass --restart to discard it"
                    } else {
                        "already exists; pass --overwrite to replace it"
                    },
                ));
            }
        }
        std::fs::create_dir_all(&state).map_err(|e| job_error(&state, e.to_string()))?;
        let lock_path = state.join(GROUP_LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| job_error(&lock_path, e.to_string()))?;
        lock.try_lock().map_err(|_| {
            job_error(
                dst,
                "another chunkctl run is writing here; wait for it or stop it first",
            )
        })?;
        if replace {
            // Cleared under the lock, which stays in place meanwhile.
            owned.empty_keeping(dst, Path::new(GROUP_LOCK))?;
        }
        let finished = !replace && finished_job.as_ref() == Some(&self.identity);
        if !finished {
            let record = json!({"job": self.identity});
            super::work_dir::write_whole(&marker, record.to_string().as_bytes())?;
            for (relative, attributes) in &self.groups {
                create_group(&root, relative, self.format, attributes)?;
            }
        }
        let mut arrays = Vec::new();
        for (ArrayJob { path, job }, prepared) in self.arrays.into_iter().zip(prepared) {
            // Inside our own destination: an array folder with neither a
            // journal nor a finished record was cut short before its
            // journal existed, and starts over. (In a bucket, an array's
            // prefix holds nothing before its journal exists here.)
            if !remote
                && job.dst.exists()
                && !job.dst.join(WORK_DIR).exists()
                && !job.dst.join(FINISHED_RECORD).exists()
            {
                owned.remove(&job.dst)?;
            }
            let outcome = prepared.run()?;
            arrays.push(ArrayOutcome {
                path,
                chunks: job.chunks,
                outcome,
            });
        }
        let wrote = !finished
            || arrays
                .iter()
                .any(|a| a.outcome.status != JobStatus::UpToDate);
        if wrote {
            // Last: the root group, which makes DST a store, and its index.
            create_group(&root, "", self.format, &self.root_attributes)?;
            write_consolidated(&root, self.format)?;
            root.write_json(FINISHED_RECORD, &json!({"job": self.identity}))?;
            owned.remove(&marker)?;
        }
        drop(lock);
        owned.remove(&lock_path)?;
        if remote {
            owned.remove(&state)?;
        }
        Ok(GroupOutcome {
            arrays,
            skipped: self.skipped,
            links: self.links,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Whether this job may write into DST in object storage: an empty
    /// prefix, or this same job's (interrupted or finished) run; never one
    /// holding anything else, and never with `--overwrite`, which would
    /// have to delete what is there.
    fn check_bucket_destination(
        &self,
        root: &ZarrRoot,
        ours: bool,
        [marker_job, finished_job]: [&Option<Value>; 2],
    ) -> Result<()> {
        let dst = &self.template.dst;
        if finished_job
            .as_ref()
            .is_some_and(|job| *job != self.identity)
        {
            return Err(job_error(
                dst,
                "holds the finished output of another job; choose another destination (or \
                 remove it first: aws s3 rm --recursive)",
            ));
        }
        if marker_job.as_ref().is_some_and(|job| *job != self.identity) {
            return Err(job_error(
                dst,
                "holds the interrupted run of another job (other arrays, chunks, format or \
                 source), whose objects this one would be written beside: rerun that command \
                 to finish it, or remove them first (aws s3 rm --recursive)",
            ));
        }
        let exists = root.exists()?;
        if !exists {
            return Ok(());
        }
        if ours && !self.template.overwrite {
            return self.check_only_ours(root);
        }
        Err(job_error(
            dst,
            if self.template.overwrite {
                "already holds objects, and --overwrite does not delete from object storage: \
                 remove them first (aws s3 rm --recursive), or choose another destination"
            } else {
                "already holds objects; choose another destination (or remove them first)"
            },
        ))
    }

    /// A prefix taken for this job's own run holds nothing it would not
    /// write, level by level of its groups (one listing each): a group's
    /// metadata, the finished record, and its arrays' and subgroups'
    /// prefixes (an array's own job checks inside its prefix). Anything
    /// else, put there by someone else meanwhile, is named and the job
    /// refused, so that nothing is ever written beside it.
    fn check_only_ours(&self, root: &ZarrRoot) -> Result<()> {
        const GROUP_OBJECTS: [&str; 5] = [
            ".zgroup",
            ".zattrs",
            ".zmetadata",
            "zarr.json",
            FINISHED_RECORD,
        ];
        let nodes: Vec<&str> = self
            .arrays
            .iter()
            .map(|a| a.path.trim_start_matches('/'))
            .chain(self.groups.iter().map(|(relative, _)| relative.as_str()))
            .collect();
        let levels = std::iter::once("").chain(self.groups.iter().map(|(g, _)| g.as_str()));
        for level in levels {
            let (objects, prefixes) = root.list_level(level)?;
            let children: Vec<&str> = nodes
                .iter()
                .filter_map(|node| {
                    let (parent, name) = node.rsplit_once('/').unwrap_or(("", node));
                    (parent == level).then_some(name)
                })
                .collect();
            let foreign = objects
                .iter()
                .find(|name| !GROUP_OBJECTS.contains(&name.as_str()))
                .or_else(|| {
                    prefixes
                        .iter()
                        .find(|name| !children.contains(&name.as_str()))
                });
            if let Some(name) = foreign {
                let key = if level.is_empty() {
                    name.clone()
                } else {
                    format!("{level}/{name}")
                };
                return Err(job_error(
                    &self.template.dst,
                    format!(
                        "holds {key:?}, which this job did not write: it writes nothing beside \
                         what is not its own; remove it, or choose another destination"
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn read_json(path: &Path) -> Option<Value> {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

fn dedup(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}
