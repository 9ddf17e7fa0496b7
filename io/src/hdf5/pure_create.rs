//! Making datasets and groups with rust-hdf5. A dataset: deciding
//! everything first (dimension scales, filters), so a refusal leaves the
//! file untouched, then, on the writer thread, creating groups, the
//! dataset, its scales (netCDF-4 style) and its attributes. A group: on the
//! calling thread, in a work file beside the file (a copy of it, if it
//! exists), the group (and its parents) made, its attributes set, the work
//! file closed and renamed over the file: a failure midway leaves no new
//! file and an existing one as it was.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rust_hdf5::format::messages::filter::FilterPipeline;
use rust_hdf5::{H5Dataset, H5File, H5Group, H5Type, HBool};
use serde_json::{Map, Value};

use super::conventions::{basename, NETCDF_DIMENSION_ONLY};
use super::pure_attrs::write_attributes;
use super::{check_hdf5_file, location, Compression};
use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

/// How the writer thread gets its dataset.
pub(crate) enum Setup {
    Create(Box<Plan>),
    Reopen,
}

/// Everything decided before a dataset is made, so that a refusal leaves
/// the file as it was; the writer thread then does it.
pub(crate) struct Plan {
    meta: ArrayMeta,
    pub(crate) pipeline: Option<FilterPipeline>,
    pub(crate) chunk_shape: Vec<u64>,
    /// Whether the file exists already (open for appending).
    append: bool,
    /// Per axis: the scale to attach, if any.
    scales: Vec<Option<Scale>>,
}

/// A dimension scale to attach to one axis.
#[derive(Clone)]
enum Scale {
    /// The dataset itself (a coordinate variable).
    Itself,
    /// A dataset of the group that is (or becomes) a scale.
    Existing { path: String, mark: bool },
    /// A netCDF dimension-only scale to make, of this length.
    New { path: String, len: u64 },
}

impl Plan {
    /// Checks and decides how `dataset` is made in the file at `path`.
    pub(crate) fn new(
        path: &Path,
        dataset: &str,
        meta: &ArrayMeta,
        compression: Compression,
    ) -> Result<Plan> {
        let loc = location(path, dataset);
        let bad = |reason: String| IoError::Metadata {
            location: loc.clone(),
            reason,
        };
        let append = path.exists();
        let existing = if append {
            if let Some(e) = check_hdf5_file(path, dataset) {
                return Err(e);
            }
            existing_datasets(path)
                .map_err(|e| bad(format!("cannot read the existing file: {e}")))?
        } else {
            HashMap::new()
        };
        if existing.contains_key(dataset) {
            return Err(bad("the dataset already exists in the file".into()));
        }
        let shape = meta.shape();
        let chunk_shape: Vec<u64> = meta.grid.chunk_shape().iter().map(|&c| c.max(1)).collect();
        let group = dataset.rsplit_once('/').map_or("", |(g, _)| g);
        let mut scales = Vec::with_capacity(shape.len());
        let mut made: HashMap<String, u64> = HashMap::new();
        let names = meta.dimension_names.clone().unwrap_or_default();
        if !names.is_empty() && names.len() != shape.len() {
            return Err(bad(format!(
                "{} dimension names for {} axes",
                names.len(),
                shape.len()
            )));
        }
        for (name, &len) in names.iter().zip(&shape) {
            let Some(name) = name else {
                scales.push(None);
                continue;
            };
            let scale_path = if group.is_empty() {
                name.to_string()
            } else {
                format!("{group}/{name}")
            };
            let scale = if scale_path == dataset {
                if shape.len() != 1 {
                    return Err(bad(format!(
                        "dimension `{name}` has the dataset's own name, which only a 1-D coordinate variable may"
                    )));
                }
                Scale::Itself
            } else if let Some(found) = existing.get(&scale_path) {
                if found.shape != [len] || found.has_scales {
                    return Err(bad(format!(
                        "dimension `{name}` (length {len}) cannot use the dataset `{scale_path}` of shape {:?} as its scale",
                        found.shape
                    )));
                }
                Scale::Existing {
                    path: scale_path,
                    mark: !found.is_scale,
                }
            } else if let Some(&other) = made.get(&scale_path) {
                if other != len {
                    return Err(bad(format!(
                        "dimension `{name}` has two lengths, {other} and {len}"
                    )));
                }
                Scale::Existing {
                    path: scale_path,
                    mark: false,
                }
            } else {
                made.insert(scale_path.clone(), len);
                Scale::New {
                    path: scale_path,
                    len,
                }
            };
            scales.push(Some(scale));
        }
        let pipeline = match compression.deflate {
            Some(level) if !shape.is_empty() => Some(if compression.shuffle {
                FilterPipeline::shuffle_deflate(meta.dtype.size() as u32, u32::from(level))
            } else {
                FilterPipeline::deflate(u32::from(level))
            }),
            _ => None,
        };
        Ok(Plan {
            meta: meta.clone(),
            pipeline,
            chunk_shape,
            append,
            scales,
        })
    }
}

/// Opens the file on the writer thread: creates the dataset, or reopens it.
pub(crate) fn open_for_writing(
    path: &Path,
    dataset: &str,
    setup: Setup,
) -> std::result::Result<(H5File, H5Dataset), String> {
    let plan = match setup {
        Setup::Reopen => {
            let file = H5File::open_rw(path).map_err(|e| e.to_string())?;
            let ds = file.dataset_writer(dataset).map_err(|e| e.to_string())?;
            return Ok((file, ds));
        }
        Setup::Create(plan) => plan,
    };
    let file = if plan.append {
        H5File::open_rw(path)
    } else {
        H5File::create(path)
    }
    .map_err(|e| e.to_string())?;
    let (group_path, name) = dataset.rsplit_once('/').unwrap_or(("", dataset));
    let group = group_of(&file, group_path)?;
    let ds = new_dataset(&group, name, &plan)?;
    let mut made: HashMap<String, H5Dataset> = HashMap::new();
    for (axis, scale) in plan.scales.iter().enumerate() {
        let Some(scale) = scale else { continue };
        match scale {
            Scale::Itself => ds.set_scale(Some(name)).map_err(|e| e.to_string())?,
            Scale::New {
                path: scale_path,
                len,
            } => {
                let scale_ds = group
                    .new_dataset::<f32>()
                    .shape([*len as usize])
                    .create(basename(scale_path))
                    .map_err(|e| e.to_string())?;
                let label = format!("{NETCDF_DIMENSION_ONLY}.{len:>10}");
                scale_ds
                    .set_scale(Some(&label))
                    .map_err(|e| e.to_string())?;
                ds.attach_scale(axis, &scale_ds)
                    .map_err(|e| e.to_string())?;
                made.insert(scale_path.clone(), scale_ds);
            }
            Scale::Existing {
                path: scale_path,
                mark,
            } => {
                if !made.contains_key(scale_path) {
                    let scale_ds = file.dataset_writer(scale_path).map_err(|e| e.to_string())?;
                    if *mark {
                        scale_ds
                            .set_scale(Some(basename(scale_path)))
                            .map_err(|e| e.to_string())?;
                    }
                    made.insert(scale_path.clone(), scale_ds);
                }
                if let Some(scale_ds) = made.get(scale_path) {
                    ds.attach_scale(axis, scale_ds).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    write_attributes(&ds, &plan.meta.attributes, Some(plan.meta.dtype))?;
    drop(made);
    Ok((file, ds))
}

/// The group at `path` (made, with its parents, where missing).
fn group_of(file: &H5File, path: &str) -> std::result::Result<H5Group, String> {
    let mut group = file.root_group();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        // In write mode rust-hdf5 hands out a group by any name, so making
        // it is tried first; it refuses a name that exists.
        group = match group.create_group(part) {
            Ok(g) => g,
            Err(_) => group.group(part).map_err(|e| e.to_string())?,
        };
    }
    Ok(group)
}

/// Creates `group` (a normalized path; `""` is the root) with its parents
/// where missing in the file at `path` (made if absent), and sets
/// `attributes` on it (see [`super::create_group`]).
pub(crate) fn create_group(
    path: &Path,
    group: &str,
    attributes: &Map<String, Value>,
) -> Result<()> {
    let loc = location(path, group);
    let append = path.exists();
    if append {
        if let Some(e) = check_hdf5_file(path, group) {
            return Err(e);
        }
        let datasets = existing_datasets(path).map_err(|e| IoError::Metadata {
            location: loc.clone(),
            reason: format!("cannot read the existing file: {e}"),
        })?;
        if let Some(dataset) = super::groups::ancestors(group).find(|p| datasets.contains_key(*p)) {
            return Err(IoError::Metadata {
                location: loc,
                reason: format!("`{dataset}` is a dataset, not a group"),
            });
        }
    }
    let failed = |message: String| IoError::Storage {
        location: loc.clone(),
        message: format!("cannot write the group: {message}"),
    };
    // Through a symbolic link, the file it names is replaced, not the link.
    let target = if append {
        std::fs::canonicalize(path).map_err(|e| failed(e.to_string()))?
    } else {
        path.to_path_buf()
    };
    let work = WorkFile::beside(&target).map_err(|e| failed(e.to_string()))?;
    if append {
        std::fs::copy(&target, &work.path).map_err(|e| {
            failed(format!(
                "cannot copy the file to {}: {e}",
                work.path.display()
            ))
        })?;
    }
    let file = if append {
        H5File::open_rw(&work.path)
    } else {
        H5File::create(&work.path)
    }
    .map_err(|e| failed(e.to_string()))?;
    let made = group_of(&file, group).and_then(|g| write_attributes(&g, attributes, None));
    let closed = file.close().map_err(|e| e.to_string());
    made.and(closed).map_err(failed)?;
    work.replace(&target).map_err(|e| failed(e.to_string()))
}

/// A file beside the one a group is made in, where the work happens: it
/// replaces that file only once complete ([`WorkFile::replace`]), and is
/// removed if dropped before.
struct WorkFile {
    path: PathBuf,
    done: bool,
}

impl WorkFile {
    /// A new, empty file in `target`'s directory, named after it (hidden),
    /// made with the permissions a new file gets there.
    fn beside(target: &Path) -> std::io::Result<WorkFile> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map_or_else(|| "hdf5".into(), |n| n.to_string_lossy());
        loop {
            let path = dir.join(format!(
                ".{name}.ndchunk-{}-{}.tmp",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(WorkFile { path, done: false }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the finished work file over `target`, in one step.
    fn replace(mut self, target: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, target)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for WorkFile {
    fn drop(&mut self) {
        if !self.done {
            // This file only: it was made here, with `create_new`.
            let mut owned = crate::owned_paths::OwnedPaths::default();
            if owned.claim(&self.path, "a work file").is_ok() {
                let _ = owned.remove(&self.path);
            }
        }
    }
}

/// Creates the dataset itself, typed by the dtype.
fn new_dataset(group: &H5Group, name: &str, plan: &Plan) -> std::result::Result<H5Dataset, String> {
    fn typed<T: H5Type>(
        group: &H5Group,
        name: &str,
        plan: &Plan,
    ) -> std::result::Result<H5Dataset, String> {
        let shape: Vec<usize> = plan.meta.shape().iter().map(|&n| n as usize).collect();
        let fill = plan.meta.fill_value.to_ne_bytes(plan.meta.dtype);
        let mut builder = group
            .new_dataset::<T>()
            .shape(&shape)
            .fill_value_bytes(&fill);
        if !shape.is_empty() {
            let chunk: Vec<usize> = plan.chunk_shape.iter().map(|&c| c as usize).collect();
            builder = builder.chunk(&chunk);
            if let Some(pipeline) = &plan.pipeline {
                builder = builder.filter_pipeline(pipeline.clone());
            }
        }
        builder.create(name).map_err(|e| e.to_string())
    }
    match plan.meta.dtype {
        DType::Bool => typed::<HBool>(group, name, plan),
        DType::Int8 => typed::<i8>(group, name, plan),
        DType::Int16 => typed::<i16>(group, name, plan),
        DType::Int32 => typed::<i32>(group, name, plan),
        DType::Int64 => typed::<i64>(group, name, plan),
        DType::UInt8 => typed::<u8>(group, name, plan),
        DType::UInt16 => typed::<u16>(group, name, plan),
        DType::UInt32 => typed::<u32>(group, name, plan),
        DType::UInt64 => typed::<u64>(group, name, plan),
        DType::Float32 => typed::<f32>(group, name, plan),
        DType::Float64 => typed::<f64>(group, name, plan),
    }
}

/// What [`Writer::create`] needs to know of a dataset already in the file.
struct Existing {
    shape: Vec<u64>,
    is_scale: bool,
    has_scales: bool,
}

/// The datasets of an existing file, by path.
fn existing_datasets(path: &Path) -> std::result::Result<HashMap<String, Existing>, String> {
    let file = H5File::options()
        .no_locking()
        .open(path)
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for name in file.dataset_names() {
        let ds = file.dataset(&name).map_err(|e| e.to_string())?;
        let attrs = ds.attr_names().unwrap_or_default();
        out.insert(
            super::normalize(&name),
            Existing {
                shape: ds.shape().iter().map(|&n| n as u64).collect(),
                is_scale: attrs.iter().any(|a| a == "CLASS"),
                has_scales: attrs.iter().any(|a| a == "DIMENSION_LIST"),
            },
        );
    }
    Ok(out)
}
