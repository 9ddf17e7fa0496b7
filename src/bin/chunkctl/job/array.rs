//! A whole Zarr rechunk job, as `chunkctl rechunk` runs it: resolve the
//! target chunks, plan, refuse or resume an existing destination, run,
//! publish the metadata last, clean up.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions, RechunkPlan};
use ndchunk_chunking::{normalize_chunks, ChunkSpec, NormalizeOptions, DEFAULT_CHUNK_BYTES};
use ndchunk_io::info::{container_of, open_array, split_array_path, Container};
use ndchunk_io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat, ZarrRoot, FILL_VALUE};
use ndchunk_io::{ChunkStore, ZarrStore};

use super::places::{check_destination, is_url};
use super::source_state::SourceState;
use super::work_dir::{Opened, WorkDir, LOCK_FILE};
use ndchunk::DynArray;
use ndchunk::{ComputeOptions, ComputeReport};
use ndchunk::{Error, Result};
use ndchunk::{Plan, StageKind};
use ndchunk_io::owned_paths::OwnedPaths;

/// The work directory inside the destination: journal and (by default)
/// intermediates. Its presence means "unfinished".
pub const WORK_DIR: &str = ".ndchunk-rechunk";

/// The record a finished job leaves in its destination: the job and a
/// digest of the source it read, so that the same command run again
/// succeeds without writing anything, and `--overwrite` knows the folder
/// is one this tool made.
pub const FINISHED_RECORD: &str = ".ndchunk-rechunk.json";

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
    /// Where intermediates go (default: inside `dst`, or in `journal` when
    /// `dst` is in object storage).
    pub temp: Option<PathBuf>,
    /// A local directory for the journal (and intermediates) of a job whose
    /// `dst` is in object storage, where no lock or append-only log can
    /// live; unused for a local `dst`, whose journal lives inside it.
    pub journal: Option<PathBuf>,
    /// Format of `dst` (default: the source's).
    pub format: Option<ZarrFormat>,
    /// Compressor of `dst` (default: the source's).
    pub codec: Option<ZarrCodec>,
    /// Shard shape for a sharded v3 `dst`, as a chunk spec.
    pub shards: Option<String>,
    /// Worker threads.
    pub threads: usize,
    /// Replace an existing `dst`: only a Zarr store or a folder this tool
    /// made, and never while another run writes it.
    pub overwrite: bool,
    /// Discard an interrupted run into `dst` (whose source changed, or
    /// whose journal is damaged) and start over.
    pub restart: bool,
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
            journal: None,
            format: None,
            codec: None,
            shards: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            overwrite: false,
            restart: false,
            progress: false,
            arrays: Vec::new(),
            skip_unsupported: false,
        }
    }

    /// Opens the source, resolves the target and plans; reads no chunk.
    pub fn prepare(&self) -> Result<Prepared> {
        self.owned_paths()?;
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
        let mut target_meta = meta.clone();
        target_meta.grid = write_grid.clone();
        let source: Arc<dyn ChunkStore> = Arc::from(source);
        let array = DynArray::from_store(source.clone())?;
        let engine_plan = array.store_plan(&target_meta, &self.options())?;
        // What the planner decided, shown and reported; with no rechunk
        // stage (the chunks only merge, or stay), the copy it amounts to.
        let plan = match engine_plan.stages().iter().find_map(|s| match s.kind() {
            StageKind::Rechunk { plan, .. } => Some(plan.clone()),
            _ => None,
        }) {
            Some(plan) => plan,
            None => plan_rechunk(
                &meta.grid,
                &write_grid,
                &PlanOptions::new(itemsize, self.max_mem).with_workers(self.threads as u64),
            )?,
        };
        let mut spec = ZarrArraySpec::new(target_meta, format, codec.clone());
        spec.inner_chunks = inner_chunks.clone();
        spec.v2_null_fill = null_fill;
        let job = json!({
            "src": source_identity(&self.src)?,
            "dst": self.dst_place()?,
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
            array,
            spec,
            engine_plan,
            plan,
            identity: job,
        })
    }
}

/// A planned job, ready to run.
/// What [`Prepared::begin`] found in DST.
enum Begun {
    /// An earlier run of the same job finished it.
    UpToDate,
    /// The job's work directory, new or resumed, locked.
    Open(WorkDir, JobStatus),
}

/// What part of the job's work a run does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    /// All of it.
    Whole,
    /// One shard of one stage of its plan file.
    Shard(ShardOf),
    /// None: every shard of its plan file has finished (checked).
    Finish,
}

/// One shard of one stage of a job's plan (see `chunkctl run`).
#[derive(Debug, Clone, Copy)]
pub struct ShardOf {
    /// The stage, from 1.
    pub stage: usize,
    /// The shard, from 0.
    pub index: u64,
    /// Shards of the stage.
    pub count: u64,
}

pub struct Prepared {
    job: ZarrRechunk,
    source: Arc<dyn ChunkStore>,
    array: DynArray,
    spec: ZarrArraySpec,
    engine_plan: Plan,
    /// The rechunk planner's plan (for display and reports).
    pub plan: RechunkPlan,
    identity: Value,
}

impl Prepared {
    /// The plan as text: the executor's stages, then the rechunk
    /// planner's passes in detail.
    pub fn explain(&self) -> String {
        format!("{}\n{}", self.engine_plan, self.plan)
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobStatus {
    /// Ran from the start.
    Ran,
    /// Finished an interrupted run of the same job.
    Resumed,
    /// DST was already this job's finished output, from SRC as it is now:
    /// nothing was written.
    UpToDate,
}

/// What a finished job did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The plan that ran.
    pub plan: RechunkPlan,
    /// What the executor did; `None` when the job was up to date and
    /// nothing ran.
    pub report: Option<ComputeReport>,
    /// Whether it ran, resumed, or found nothing to do.
    pub status: JobStatus,
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
    /// that looks finished; rerunning the same job resumes it, over an
    /// unchanged source only, and rerunning a finished one writes nothing.
    pub fn run(self) -> Result<Outcome> {
        self.run_as(Part::Whole)
    }

    /// The last stage of a plan file: once every shard has finished,
    /// publishes DST as [`Prepared::run`] does, running nothing.
    pub fn publish(self) -> Result<Outcome> {
        self.run_as(Part::Finish)
    }

    fn run_as(self, part: Part) -> Result<Outcome> {
        let start = Instant::now();
        let owned = self.job.owned_paths()?;
        let Begun::Open(work_dir, status) = self.begin(&owned)? else {
            return self.up_to_date(start);
        };
        let report = self.store(part)?;
        self.check_source(&work_dir)?;
        let target = self.target()?;
        target.publish()?;
        crash_point("published");
        let (chunks_stored, stored_bytes) = target.storage_summary()?;
        let record = json!({"job": self.identity, "source": work_dir.source().digest()});
        self.job.dst_root()?.write_json(FINISHED_RECORD, &record)?;
        crash_point("recorded");
        owned.remove(&self.job.scratch_dir()?)?;
        crash_point("scratch-removed");
        work_dir.finish(&owned)?;
        Ok(Outcome {
            plan: self.plan,
            report: Some(report),
            status,
            seconds: start.elapsed().as_secs_f64(),
            logical_bytes: self.source.meta().logical_bytes(),
            chunks_stored,
            stored_bytes,
        })
    }

    /// Begins the job in DST, or finds it done: a new job's work directory
    /// made, an interrupted one's checked for resuming (same job, same
    /// source), DST emptied first where `--overwrite` or `--restart` say.
    /// The work directory is locked for this process while it is open.
    fn begin(&self, owned: &OwnedPaths) -> Result<Begun> {
        let dst = &self.job.dst;
        let work = self.job.work_dir()?;
        if is_url(dst) {
            // The bucket is asked first: refused credentials, a missing
            // bucket or no answer stop the job before anything is made
            // here (a work directory would later pass for this job's own
            // interrupted run in that prefix).
            self.job.dst_root()?.exists()?;
        }
        let source_now = SourceState::of(&self.job.src)?;
        // Decided before anything is written: a DST that is not ours to
        // write into is refused untouched.
        let finished = self.finished_here(&source_now)?;
        if finished && !work.exists() {
            return Ok(Begun::UpToDate);
        }
        check_destination(&self.job, &work)?;
        let interrupted = work.is_dir();
        // From here on, DST is changed only under its lock, which stays in
        // place while DST is cleared: a second run waits for no one.
        std::fs::create_dir_all(&work)
            .map_err(|e| job_error(&work, format!("cannot create: {e}")))?;
        let lock = WorkDir::lock(&work)?;
        if finished {
            // Killed while cleaning up after itself: finish the cleanup.
            owned.remove(&self.job.scratch_dir()?)?;
            owned.remove(&work)?;
            drop(lock);
            return Ok(Begun::UpToDate);
        }
        let discard = self.job.overwrite || self.job.restart && interrupted;
        if discard {
            if is_url(dst) {
                // Nothing in the bucket is deleted: only the same job
                // (the same chunk keys) restarts there, and writes every
                // chunk again (a chunk of fill values as no object, as
                // Zarr stores it). Another job's chunks would be left
                // beside the new ones: refused.
                let manifest = std::fs::read(work.join("manifest.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                if manifest.is_some_and(|m| m["job"] != self.identity) {
                    return Err(job_error(
                        dst,
                        "holds the interrupted run of another job (other chunks, format or \
                         source), whose objects --restart would leave beside this one's: \
                         remove them first (aws s3 rm --recursive), or choose another \
                         destination",
                    ));
                }
                owned.empty_keeping(&work, Path::new(LOCK_FILE))?;
            } else {
                owned.empty_keeping(dst, &Path::new(WORK_DIR).join(LOCK_FILE))?;
            }
            owned.remove(&self.job.scratch_dir()?)?;
        }
        Ok(
            match self.open_work(&work, lock, false, source_now, owned)? {
                Opened::New(work_dir) => Begun::Open(work_dir, JobStatus::Ran),
                Opened::Resumed(work_dir) => Begun::Open(work_dir, JobStatus::Resumed),
            },
        )
    }

    /// Opens the work directory `work`, `lock` held, SRC now in state
    /// `source_now`: a new one (unless `shared`, a shard's), or an
    /// interrupted one of this same job over the same source.
    pub(crate) fn open_work(
        &self,
        work: &Path,
        lock: std::fs::File,
        shared: bool,
        source_now: SourceState,
        owned: &OwnedPaths,
    ) -> Result<Opened> {
        let manifest = json!({"job": self.identity});
        WorkDir::open(
            work,
            lock,
            shared,
            &self.identity,
            &manifest,
            source_now,
            owned,
        )
    }

    /// Begins the job for a plan file: as [`Prepared::run`] would, running
    /// nothing; a job finished already has nothing to plan.
    pub(crate) fn begin_for_plan(&self, owned: &OwnedPaths) -> Result<WorkDir> {
        match self.begin(owned)? {
            Begun::Open(work_dir, _) => Ok(work_dir),
            Begun::UpToDate => Err(job_error(
                &self.job.dst,
                "was finished by this same job already: there is nothing to plan",
            )),
        }
    }

    /// The paths the job may delete (inside DST and its scratch).
    pub(crate) fn owned(&self) -> Result<OwnedPaths> {
        self.job.owned_paths()
    }

    /// The job's source.
    pub(crate) fn src(&self) -> &Path {
        &self.job.src
    }

    /// The job's destination.
    pub(crate) fn dst(&self) -> &Path {
        &self.job.dst
    }

    /// The job's work directory (see [`ZarrRechunk::work_dir`]).
    pub(crate) fn work_dir(&self) -> Result<PathBuf> {
        self.job.work_dir()
    }

    /// Whether DST holds the record of a finished job.
    pub(crate) fn finished_record_exists(&self) -> Result<bool> {
        Ok(self.job.dst_root()?.contains(FINISHED_RECORD))
    }

    /// The job as planned: what defines its output.
    pub(crate) fn identity(&self) -> &Value {
        &self.identity
    }

    /// The engine's plan of the job.
    pub(crate) fn engine_plan(&self) -> &Plan {
        &self.engine_plan
    }

    /// The outcome of a job an earlier run finished.
    fn up_to_date(self, start: Instant) -> Result<Outcome> {
        let (chunks_stored, stored_bytes) =
            ZarrStore::open_dir(self.job.dst_root()?)?.storage_summary()?;
        Ok(Outcome {
            plan: self.plan,
            report: None,
            status: JobStatus::UpToDate,
            seconds: start.elapsed().as_secs_f64(),
            logical_bytes: self.source.meta().logical_bytes(),
            chunks_stored,
            stored_bytes,
        })
    }

    /// DST as the job writes it: chunks, and metadata kept back until
    /// [`ZarrStore::publish`].
    fn target(&self) -> Result<ZarrStore> {
        Ok(ZarrStore::create_unpublished(
            self.job.dst_root()?,
            "/",
            &self.spec,
        )?)
    }

    /// The engine's run into DST, journaled beside the scratch: all of it,
    /// or one shard of one stage.
    pub(crate) fn store(&self, part: Part) -> Result<ComputeReport> {
        let scratch_dir = self.job.scratch_dir()?;
        let options = self
            .job
            .options()
            .journal_dir(scratch_dir.clone())
            .temp_dir(scratch_dir);
        let options = match part {
            Part::Whole => options,
            Part::Shard(ShardOf {
                stage,
                index,
                count,
            }) => options.shard(stage, index, count),
            Part::Finish => options.finish_shards(),
        };
        self.array.store_with(&self.target()?, &options)
    }

    /// Refuses a job whose source changed while it was read.
    pub(crate) fn check_source(&self, work_dir: &WorkDir) -> Result<()> {
        let changed = SourceState::of(&self.job.src)?.changed_since(work_dir.source());
        if changed > 0 {
            return Err(job_error(
                &self.job.src,
                format!(
                    "SRC changed while it was read ({changed} chunk file{} changed, added or removed); \
                     DST is left unfinished: pass --restart to start over from SRC as it is now",
                    if changed == 1 { "" } else { "s" }
                ),
            ));
        }
        Ok(())
    }

    fn finished_here(&self, source_now: &SourceState) -> Result<bool> {
        let dst = &self.job.dst;
        let Some(record) = self
            .job
            .dst_root()?
            .read_json(FINISHED_RECORD)
            .ok()
            .flatten()
        else {
            return Ok(false);
        };
        if record["job"] != self.identity || self.job.overwrite {
            return Ok(false);
        }
        if record["source"] != json!(source_now.digest()) {
            return Err(job_error(
                dst,
                "was made by this same command from SRC as it was before: SRC has changed since; \
                 pass --overwrite to redo it",
            ));
        }
        Ok(true)
    }
}

impl ZarrRechunk {
    /// The executor's options for this job (its journal set by the run).
    fn options(&self) -> ComputeOptions {
        ComputeOptions::default()
            .max_mem(self.max_mem)
            .threads(self.threads.max(1))
            .progress(self.progress)
    }
}

/// The source array: a Zarr array (whose format, compressor and v2 null
/// fill become the defaults of the output), or one array of an HDF5 or
/// netCDF file (`file.nc:/var`), converted to Zarr v3 with its compression
/// carried over as gzip.
fn open_source(src: &Path) -> Result<(Box<dyn ChunkStore>, ZarrFormat, ZarrCodec, bool)> {
    let text = src.to_string_lossy();
    let (file, inner) = split_array_path(&text);
    if is_url(src) || container_of(&file)? == Container::Zarr {
        let zarr = match &inner {
            _ if is_url(src) => ZarrStore::open_dir(ZarrRoot::parse(src)?)?,
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
pub(crate) fn source_identity(src: &Path) -> Result<String> {
    if is_url(src) {
        return Ok(ZarrRoot::parse(src)?.to_string());
    }
    let text = src.to_string_lossy();
    let (file, inner) = split_array_path(&text);
    let canonical = std::fs::canonicalize(&file).map_err(|e| job_error(&file, e.to_string()))?;
    Ok(match inner {
        Some(inner) => format!("{}:{inner}", canonical.display()),
        None => canonical.display().to_string(),
    })
}

pub(crate) fn job_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Job {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Ends the process on the spot, as `kill -9` would, when the environment
/// variable `NDCHUNK_CRASH_AT` names this point: how the tests kill a job
/// at each step of its cleanup, which no timing can hit reliably.
fn crash_point(name: &str) {
    if std::env::var_os("NDCHUNK_CRASH_AT").is_some_and(|at| at == name) {
        std::process::abort();
    }
}
