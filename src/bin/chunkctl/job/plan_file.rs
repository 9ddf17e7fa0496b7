//! A rechunk job as a plan file, run stage by stage as shards by any
//! number of processes (`chunkctl rechunk --plan-out`, `chunkctl run`).
//!
//! The file holds the job's arguments (the command that makes it), its
//! stages (the engine's [`ndchunk::Plan::shard_stages`], then a last one
//! that publishes DST), and an identity: a digest of the job as planned
//! and of SRC's chunk files. Every `chunkctl run` plans the job again from
//! the arguments and refuses to run unless the identity is the same, so a
//! plan file never runs against stores that changed since, nor under
//! another chunkctl. The work itself is the engine's: shards of a stage
//! share DST's journal, where each records its finished tasks.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::array::{job_error, Part, Prepared, ShardOf};
use super::places::is_url;
use super::source_state::{fnv1a, SourceState};
use super::work_dir::{write_whole, Opened, WorkDir};
use super::ZarrRechunk;
use ndchunk::io::zarr::ZarrFormat;
use ndchunk::{ComputeReport, Result};
use ndchunk_io::owned_paths::is_within;

/// The version of the plan file's layout.
const LAYOUT: u32 = 1;

/// Bytes a shard's process needs beyond its tasks' projected peak: the
/// program, its thread stacks, the allocator's slack.
pub const PROCESS_OVERHEAD: u64 = 64 << 20;

/// The arguments of the job, as `chunkctl rechunk` took them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobArgs {
    pub src: PathBuf,
    pub dst: PathBuf,
    pub chunks: String,
    pub chunk_bytes: u64,
    pub max_mem: u64,
    pub threads: usize,
    pub temp: Option<PathBuf>,
    /// The local journal directory of a DST in object storage.
    #[serde(default)]
    pub journal: Option<PathBuf>,
    pub format: Option<String>,
    pub codec: Option<String>,
    pub shards: Option<String>,
}

impl JobArgs {
    /// The job these arguments describe.
    pub fn to_job(&self) -> std::result::Result<ZarrRechunk, Box<dyn std::error::Error>> {
        let mut job = ZarrRechunk::new(&self.src, &self.dst, &self.chunks);
        job.chunk_bytes = self.chunk_bytes;
        job.max_mem = self.max_mem;
        job.threads = self.threads.max(1);
        job.temp = self.temp.clone();
        job.journal = self.journal.clone();
        job.format = match self.format.as_deref() {
            None => None,
            Some("v2") => Some(ZarrFormat::V2),
            Some("v3") => Some(ZarrFormat::V3),
            Some(other) => return Err(format!("format `{other}` is not v2 or v3").into()),
        };
        job.codec = self.codec.as_deref().map(str::parse).transpose()?;
        job.shards = self.shards.clone();
        Ok(job)
    }
}

/// One stage of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStage {
    /// From 1.
    pub stage: usize,
    /// What it does.
    pub does: String,
    /// Tasks, dealt to shards by index (task `t` to shard `t mod N`).
    pub tasks: u64,
    /// Projected peak bytes of one task.
    pub task_bytes: u64,
    /// CPUs to ask of a scheduler for one shard's process: its threads, or
    /// for a job over object storage (whose threads mostly wait on the
    /// network) one per four threads.
    pub cpus: usize,
    /// Memory to ask of a scheduler for one shard's process: its tasks in
    /// flight at the projected peak, plus [`PROCESS_OVERHEAD`].
    pub memory_bytes: u64,
}

impl PlanStage {
    /// [`memory_bytes`](Self::memory_bytes) in whole MiB, as schedulers
    /// take it (Slurm's `--mem=…M`, HyperQueue's `mem` resource).
    pub fn memory_mib(&self) -> u64 {
        self.memory_bytes.div_ceil(1 << 20)
    }
}

/// A plan file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The layout of this file.
    pub ndchunk_plan: u32,
    /// The chunkctl that wrote it; no other runs it.
    pub chunkctl: String,
    /// Digest of the job as planned and of SRC's chunk files.
    pub identity: String,
    pub job: JobArgs,
    /// The engine's stages, then the one that publishes DST.
    pub stages: Vec<PlanStage>,
}

impl PlanFile {
    /// Reads a plan file, refusing one of another layout or chunkctl.
    pub fn read(path: &Path) -> Result<PlanFile> {
        let bytes = std::fs::read(path).map_err(|e| job_error(path, e.to_string()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| job_error(path, format!("not a plan file: {e}")))?;
        let version = env!("CARGO_PKG_VERSION");
        if value["ndchunk_plan"] != LAYOUT || value["chunkctl"] != version {
            return Err(job_error(
                path,
                format!(
                    "made by chunkctl {} (plan layout {}); this is chunkctl {version} (layout \
                     {LAYOUT}): make the plan again with this chunkctl",
                    value["chunkctl"], value["ndchunk_plan"]
                ),
            ));
        }
        serde_json::from_value(value).map_err(|e| job_error(path, format!("not a plan file: {e}")))
    }

    /// The stage that publishes DST: the last.
    pub fn publish_stage(&self) -> usize {
        self.stages.len()
    }
}

/// The identity of a plan: the job as planned (`prepared`), its arguments
/// and stages as written, and SRC as it is now.
fn identity(prepared: &Prepared, args: &JobArgs, stages: &[PlanStage]) -> Result<String> {
    let source = SourceState::of(&args.src)?;
    let written =
        serde_json::to_string(&(args, stages)).map_err(|e| job_error(&args.src, e.to_string()))?;
    let text = format!("{}\n{written}\n{}", prepared.identity(), source.digest());
    Ok(format!("{:016x}", fnv1a(text.as_bytes())))
}

impl Prepared {
    /// The stages of the job's plan: the engine's shard stages, each with
    /// what one shard's process needs, then the one that publishes DST.
    fn plan_stages(&self, args: &JobArgs) -> Result<Vec<PlanStage>> {
        let threads = args.threads.max(1);
        // Threads of a job over object storage mostly wait on the network
        // (there are REMOTE_IO_THREADS of them to keep requests in
        // flight): one CPU per four of them. (Of the plan's arguments
        // only, so that every machine computes the same stages.)
        let cpus = if is_url(&args.src) || is_url(&args.dst) {
            threads.div_ceil(4)
        } else {
            threads
        };
        let mut stages: Vec<PlanStage> = self
            .engine_plan()
            .shard_stages()
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let in_flight = s.tasks.min(threads as u64).max(1);
                let peak = in_flight.saturating_mul(s.task_bytes).min(args.max_mem);
                PlanStage {
                    stage: k + 1,
                    does: s.description.clone(),
                    tasks: s.tasks,
                    task_bytes: s.task_bytes,
                    cpus,
                    memory_bytes: peak + PROCESS_OVERHEAD,
                }
            })
            .collect();
        stages.push(PlanStage {
            stage: stages.len() + 1,
            does: "publish DST: check that every shard finished and SRC is unchanged, \
                   write the metadata, remove the journal"
                .into(),
            tasks: 1,
            task_bytes: 0,
            cpus: 1,
            memory_bytes: PROCESS_OVERHEAD,
        });
        Ok(stages)
    }

    /// Begins the job in DST (as a run would, running no task) and writes
    /// its plan to `path`.
    pub fn save_plan(&self, args: &JobArgs, path: &Path) -> Result<PlanFile> {
        let (src_file, _) = ndchunk_io::info::split_array_path(&args.src.to_string_lossy());
        if !is_url(&args.src) && is_within(path, &src_file)? {
            return Err(job_error(path, "the plan file would be written into SRC"));
        }
        let stages = self.plan_stages(args)?;
        let owned = self.owned()?;
        // The work directory is made now, so that shards starting side by
        // side find it; none of them makes one.
        drop(self.begin_for_plan(&owned)?);
        let plan = PlanFile {
            ndchunk_plan: LAYOUT,
            chunkctl: env!("CARGO_PKG_VERSION").into(),
            identity: identity(self, args, &stages)?,
            job: args.clone(),
            stages,
        };
        let text =
            serde_json::to_string_pretty(&plan).map_err(|e| job_error(path, e.to_string()))?;
        write_whole(path, text.as_bytes())?;
        Ok(plan)
    }

    /// Refuses to run `plan` unless it is this job's, over SRC as it was.
    pub fn check_plan(&self, plan: &PlanFile, path: &Path) -> Result<()> {
        let stages = self.plan_stages(&plan.job)?;
        if identity(self, &plan.job, &stages)? != plan.identity || stages != plan.stages {
            return Err(job_error(
                path,
                "SRC, the job or the plan file has changed since the plan was made: running \
                 it would mix old and new data; make the plan again (`chunkctl rechunk \
                 --plan-out`, with --restart to discard the work done)",
            ));
        }
        Ok(())
    }

    /// Runs shard `shard` of the job begun by its plan.
    pub fn run_shard(&self, shard: ShardOf) -> Result<ComputeReport> {
        let owned = self.owned()?;
        let work = self.work_dir()?;
        if self.finished_record_exists()? || !work.is_dir() {
            return Err(job_error(
                self.dst(),
                "holds no unfinished job: make the plan with `chunkctl rechunk --plan-out`, \
                 or it is finished already",
            ));
        }
        let lock = WorkDir::lock_shared(&work)?;
        let source_now = SourceState::of(self.src())?;
        let (Opened::Resumed(work_dir) | Opened::New(work_dir)) =
            self.open_work(&work, lock, true, source_now, &owned)?;
        let report = self.store(Part::Shard(shard))?;
        self.check_source(&work_dir)?;
        Ok(report)
    }
}
