//! A whole Zarr rechunk job, as `chunkctl rechunk` runs it: resolve the
//! target chunks, plan, refuse or resume an existing destination, run,
//! publish the metadata last, clean up.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions, RechunkPlan};
use ndchunk_chunking::{normalize_chunks, ChunkSpec, NormalizeOptions, DEFAULT_CHUNK_BYTES};
use ndchunk_io::info::{container_of, open_array, split_array_path, Container};
use ndchunk_io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat, FILL_VALUE};
use ndchunk_io::{ChunkStore, ZarrStore};

use super::{run_plan, Journal, Opened, RunOptions, RunReport};
use crate::error::{Error, Result};

/// The work directory inside the destination: journal and (by default)
/// intermediates. Its presence means "unfinished".
pub const WORK_DIR: &str = ".ndchunk-rechunk";

/// What to rechunk, into what, within what.
#[derive(Debug, Clone)]
pub struct ZarrRechunk {
    /// Source array directory (Zarr v2 or v3).
    pub src: PathBuf,
    /// Destination array directory.
    pub dst: PathBuf,
    /// Target chunks, as `chunkctl --chunks` spells them (by dimension name
    /// or positional; `-1` whole axis; `auto`).
    pub chunks: String,
    /// Bytes of an `auto` chunk.
    pub chunk_bytes: u64,
    /// Memory budget for all tasks in flight.
    pub max_mem: u64,
    /// Where intermediates go (default: inside `dst`).
    pub temp: Option<PathBuf>,
    /// Format of `dst` (default: the source's).
    pub format: Option<ZarrFormat>,
    /// Compressor of `dst` (default: the source's).
    pub codec: Option<ZarrCodec>,
    /// Shard shape for a sharded v3 `dst`, as a chunk spec.
    pub shards: Option<String>,
    /// Worker threads.
    pub threads: usize,
    /// Replace an existing `dst`.
    pub overwrite: bool,
    /// Show progress bars on a terminal.
    pub progress: bool,
    /// For a group or file: only these arrays (paths in it), with the
    /// coordinate arrays of their dimensions; empty: every array.
    pub arrays: Vec<String>,
    /// For a group or file: leave out the arrays of an element type ndchunk
    /// cannot move (strings, compounds, variable-length, …) instead of
    /// refusing the job; the group plan and outcome name them.
    pub skip_unsupported: bool,
}

impl ZarrRechunk {
    /// A job with defaults: 1 GiB, all cores, the source's format and codec.
    pub fn new(
        src: impl Into<PathBuf>,
        dst: impl Into<PathBuf>,
        chunks: impl Into<String>,
    ) -> Self {
        Self {
            src: src.into(),
            dst: dst.into(),
            chunks: chunks.into(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            max_mem: 1 << 30,
            temp: None,
            format: None,
            codec: None,
            shards: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            overwrite: false,
            progress: false,
            arrays: Vec::new(),
            skip_unsupported: false,
        }
    }

    /// Opens the source, resolves the target and plans; reads no chunk.
    pub fn prepare(&self) -> Result<Prepared> {
        refuse_overlap(&self.src, &self.dst)?;
        let (source, source_format, source_codec, null_fill) = open_source(&self.src)?;
        let meta = source.meta().clone();
        let dims = meta.dims_or_default();
        let dim_refs: Vec<&str> = dims.iter().map(String::as_str).collect();
        let itemsize = meta.dtype.size() as u64;
        // A 0-d array has nothing to chunk.
        let spec = if dim_refs.is_empty() && self.chunks.trim().is_empty() {
            ChunkSpec::PerAxis(Vec::new())
        } else {
            ChunkSpec::parse(&self.chunks, &dim_refs)?
        };
        let target_grid = normalize_chunks(
            &spec,
            &meta.shape(),
            &NormalizeOptions {
                limit: Some(self.chunk_bytes),
                itemsize: Some(itemsize),
                previous: Some(&meta.grid),
            },
        )?;
        let format = self.format.unwrap_or(source_format);
        let codec = self.codec.clone().unwrap_or(source_codec);
        // Sharded: the grid written is the shards, the target chunks inside.
        let (write_grid, inner_chunks) = match &self.shards {
            None => (target_grid.clone(), None),
            Some(text) => {
                if format == ZarrFormat::V2 {
                    return Err(job_error(&self.dst, "sharding needs Zarr v3 (--format v3)"));
                }
                let shards = normalize_chunks(
                    &ChunkSpec::parse(text, &dim_refs)?,
                    &meta.shape(),
                    &NormalizeOptions::default(),
                )?;
                (shards, Some(target_grid.chunk_shape()))
            }
        };
        if !write_grid.is_regular() {
            return Err(job_error(
                &self.dst,
                format!(
                    "Zarr needs regular chunks; {:?} are irregular",
                    write_grid.to_sizes()
                ),
            ));
        }
        let options = PlanOptions::new(itemsize, self.max_mem).with_workers(self.threads as u64);
        let plan = plan_rechunk(&meta.grid, &write_grid, &options)?;
        let mut target_meta = meta.clone();
        target_meta.grid = write_grid.clone();
        let mut spec = ZarrArraySpec::new(target_meta, format, codec.clone());
        spec.inner_chunks = inner_chunks.clone();
        spec.v2_null_fill = null_fill;
        let job = json!({
            "src": source_identity(&self.src)?,
            // A source rewritten since the interrupted run is another job:
            // resuming would mix old and new data.
            "src_meta": meta,
            "src_modified": source_modified(&self.src),
            "dst": std::path::absolute(&self.dst).unwrap_or_else(|_| self.dst.clone()).display().to_string(),
            "src_chunks": meta.grid,
            "dtype": meta.dtype,
            "chunks": write_grid,
            "inner_chunks": inner_chunks,
            "format": format!("{format:?}"),
            "codec": format!("{codec:?}"),
            "temp": self.temp.as_ref().map(|t| std::path::absolute(t).unwrap_or_else(|_| t.clone()).display().to_string()),
            "ndchunk": env!("CARGO_PKG_VERSION"),
        });
        Ok(Prepared {
            job: self.clone(),
            source,
            spec,
            plan,
            identity: job,
        })
    }
}

/// A planned job, ready to run.
pub struct Prepared {
    job: ZarrRechunk,
    source: Box<dyn ChunkStore>,
    spec: ZarrArraySpec,
    /// The plan (replaced by the stored one when an interrupted run resumes).
    pub plan: RechunkPlan,
    identity: Value,
}

/// What a finished job did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The plan that ran.
    pub plan: RechunkPlan,
    /// Counters of the run.
    pub report: RunReport,
    /// Whether an interrupted run was resumed.
    pub resumed: bool,
    /// Wall time of the whole job, seconds.
    pub seconds: f64,
    /// Decoded bytes of the array.
    pub logical_bytes: u64,
    /// Chunk files of the destination and the bytes they take.
    pub chunks_stored: u64,
    /// Bytes the destination's chunks take.
    pub stored_bytes: u64,
}

impl Prepared {
    /// Runs the job to the end. The destination gets its metadata only when
    /// every chunk is written, so an interrupted job never leaves a store
    /// that looks finished; rerunning the same job resumes it.
    pub fn run(self) -> Result<Outcome> {
        let start = Instant::now();
        let dst = &self.job.dst;
        let work = dst.join(WORK_DIR);
        prepare_destination(dst, &work, &self.identity, self.job.overwrite)?;
        let manifest = json!({"job": self.identity, "plan": self.plan});
        let (journal, plan, resumed) = match Journal::open(&work, &self.identity, &manifest)? {
            Opened::New(journal) => (journal, self.plan, false),
            Opened::Resumed(journal, stored) => {
                let plan: RechunkPlan = serde_json::from_value(stored["plan"].clone())
                    .map_err(|e| job_error(&work, format!("unreadable stored plan: {e}")))?;
                let fits = plan.source == self.plan.source
                    && plan.target == self.plan.target
                    && plan.itemsize == self.plan.itemsize;
                plan.check_consistent()
                    .and_then(|()| fits.then_some(()).ok_or_else(|| "it is for other grids".to_string()))
                    .map_err(|why| job_error(&work, format!("the stored plan is damaged ({why}): remove {} or rerun with --overwrite", dst.display())))?;
                if plan.peak_bytes > self.job.max_mem {
                    return Err(job_error(
                        dst,
                        format!("the interrupted run planned for {} bytes; resume it with at least that max_mem", plan.peak_bytes),
                    ));
                }
                (journal, plan, true)
            }
        };
        let target = ZarrStore::create_unpublished(dst, "/", &self.spec)?;
        // The same job finds the same scratch directory when it resumes.
        let scratch_dir = match &self.job.temp {
            Some(temp) => temp.join(format!(
                "ndchunk-rechunk-{:016x}",
                fnv1a(self.identity.to_string().as_bytes())
            )),
            None => work.join("scratch"),
        };
        let options = RunOptions {
            threads: self.job.threads,
            scratch_dir: scratch_dir.clone(),
            progress: self.job.progress,
            max_mem: self.job.max_mem,
        };
        let report = run_plan(&*self.source, &target, &plan, &journal, &options)?;
        target.publish()?;
        journal.finish()?;
        if scratch_dir.exists() {
            std::fs::remove_dir_all(&scratch_dir)
                .map_err(|e| job_error(&scratch_dir, e.to_string()))?;
        }
        let (chunks_stored, stored_bytes) = target.storage_summary()?;
        Ok(Outcome {
            plan,
            report,
            resumed,
            seconds: start.elapsed().as_secs_f64(),
            logical_bytes: self.source.meta().logical_bytes(),
            chunks_stored,
            stored_bytes,
        })
    }
}

/// The source array: a Zarr array (whose format, compressor and v2 null
/// fill become the defaults of the output), or one array of an HDF5 or
/// netCDF file (`file.nc:/var`), converted to Zarr v3 with its compression
/// carried over as gzip.
fn open_source(src: &Path) -> Result<(Box<dyn ChunkStore>, ZarrFormat, ZarrCodec, bool)> {
    let text = src.to_string_lossy();
    let (file, inner) = split_array_path(&text);
    if container_of(&file)? == Container::Zarr {
        let zarr = match &inner {
            None => ZarrStore::open_dir(&file)?,
            Some(inner) => ZarrStore::open(&file, inner)?,
        };
        let defaults = (
            zarr.format(),
            zarr.compressor().clone(),
            zarr.has_null_fill(),
        );
        return Ok((Box::new(zarr), defaults.0, defaults.1, defaults.2));
    }
    let store = open_array(&text)?;
    let level = store.meta().codecs.iter().find_map(|c| {
        c.strip_prefix("deflate(")
            .and_then(|l| l.trim_end_matches(')').parse::<u32>().ok())
    });
    let codec = level.map_or(ZarrCodec::None, ZarrCodec::Gzip);
    // As a v2 array, a variable without `_FillValue` gets a null fill, or
    // xarray would mask its zeros as missing.
    let null_fill = !store.meta().attributes.contains_key(FILL_VALUE);
    Ok((store, ZarrFormat::V3, codec, null_fill))
}

/// What names the source in a job's identity: its canonical path, plus the
/// array inside a file.
fn source_identity(src: &Path) -> Result<String> {
    let text = src.to_string_lossy();
    let (file, inner) = split_array_path(&text);
    let canonical = std::fs::canonicalize(&file).map_err(|e| job_error(&file, e.to_string()))?;
    Ok(match inner {
        Some(inner) => format!("{}:{inner}", canonical.display()),
        None => canonical.display().to_string(),
    })
}

/// When the source last changed, as far as cheap to tell: a file's mtime
/// (HDF5/netCDF files change as a whole), or the newest mtime of a Zarr
/// array's metadata documents. Rewriting Zarr chunks in place without
/// touching the metadata is not detected.
fn source_modified(src: &Path) -> Option<u64> {
    let text = src.to_string_lossy();
    let (file, inner) = split_array_path(&text);
    let mtime = |p: &Path| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as u64)
    };
    if file.is_file() {
        return mtime(&file);
    }
    let dir = file.join(inner.unwrap_or_default().trim_start_matches('/'));
    ["zarr.json", ".zarray", ".zattrs"]
        .iter()
        .filter_map(|f| mtime(&dir.join(f)))
        .max()
}

fn job_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Job {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Refuses an existing destination unless it is an interrupted run of this
/// job (resumed) or `overwrite` is set.
fn prepare_destination(dst: &Path, work: &Path, job: &Value, overwrite: bool) -> Result<()> {
    if !dst.exists() {
        return Ok(());
    }
    if overwrite {
        let removed = if dst.is_dir() {
            std::fs::remove_dir_all(dst)
        } else {
            std::fs::remove_file(dst)
        };
        return removed.map_err(|e| job_error(dst, format!("cannot remove: {e}")));
    }
    let manifest: Option<Value> = std::fs::read(work.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if manifest.is_some_and(|m| &m["job"] == job) {
        return Ok(());
    }
    Err(job_error(
        dst,
        format!(
            "already exists{}; pass --overwrite to replace it",
            if work.exists() {
                " (an interrupted rechunk of a different job)"
            } else {
                ""
            }
        ),
    ))
}

/// FNV-1a: a stable name for a job's scratch directory.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Refuses a destination that is the source, holds it, or lies inside it:
/// replacing it would destroy the data being read.
pub(crate) fn refuse_overlap(src: &Path, dst: &Path) -> Result<()> {
    let (file, _) = split_array_path(&src.to_string_lossy());
    let src = std::path::absolute(std::fs::canonicalize(&file).unwrap_or(file)).unwrap_or_default();
    let dst_abs = std::path::absolute(dst).unwrap_or_else(|_| dst.to_path_buf());
    let dst = std::fs::canonicalize(&dst_abs).unwrap_or(dst_abs);
    if src.starts_with(&dst) || dst.starts_with(&src) {
        return Err(job_error(
            &dst,
            format!(
                "the destination overlaps the source {}: write somewhere else",
                src.display()
            ),
        ));
    }
    Ok(())
}
