//! `chunkctl rechunk`: rechunk a Zarr array within a memory budget,
//! resumably.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use ndchunk::chunking::rechunk::{format_bytes, plan_rechunk, PlanOptions, RechunkPlan};
use ndchunk::chunking::{normalize_chunks, parse_bytes, ChunkSpec, NormalizeOptions};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ChunkStore, ZarrStore};
use ndchunk::rechunk::{run_plan, Journal, Opened, RunOptions};

/// The work directory inside DST: journal and (by default) intermediates.
const WORK_DIR: &str = ".ndchunk-rechunk";

#[derive(Debug, Args)]
pub struct RechunkArgs {
    /// Source Zarr array (its directory; v2 or v3).
    src: PathBuf,
    /// Destination Zarr array directory (must not exist, unless --overwrite,
    /// or it is an interrupted run of this same command, which resumes).
    dst: PathBuf,
    /// Target chunks: by dimension name (`time=8760,lat=10,lon=10`; names
    /// not given keep their chunks) or positional (`8760,10,10`); `-1` is
    /// the whole axis, `auto` sizes it like Dask (see --chunk-bytes).
    #[arg(long)]
    chunks: String,
    /// Memory budget for the whole process's chunk buffers.
    #[arg(long, default_value = "1GiB")]
    max_mem: String,
    /// Target bytes of an `auto` chunk.
    #[arg(long, default_value = "128MiB")]
    chunk_bytes: String,
    /// Directory for intermediate arrays (default: inside DST).
    #[arg(long)]
    temp: Option<PathBuf>,
    /// Zarr format of DST (default: that of SRC).
    #[arg(long, value_parser = ["v2", "v3"])]
    format: Option<String>,
    /// Compressor of DST (default: that of SRC): none, zstd:LEVEL,
    /// gzip:LEVEL, zlib:LEVEL (v2), blosc:CNAME:LEVEL:SHUFFLE.
    #[arg(long)]
    codec: Option<String>,
    /// Write a sharded v3 array with shards of this shape (multiples of the
    /// target chunks), e.g. `8760,100,100`.
    #[arg(long)]
    shards: Option<String>,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the plan and stop.
    #[arg(long)]
    dry_run: bool,
    /// Replace an existing DST.
    #[arg(long)]
    overwrite: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Print the plan and the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &RechunkArgs) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    let source = ZarrStore::open_dir(&args.src)?;
    let meta = source.meta().clone();
    let dims = meta.dims_or_default();
    let dim_refs: Vec<&str> = dims.iter().map(String::as_str).collect();
    let itemsize = meta.dtype.size() as u64;
    let target_grid = normalize_chunks(
        &ChunkSpec::parse(&args.chunks, &dim_refs)?,
        &meta.shape(),
        &NormalizeOptions {
            limit: Some(parse_bytes(&args.chunk_bytes)?),
            itemsize: Some(itemsize),
            previous: Some(&meta.grid),
        },
    )?;
    let format = match args.format.as_deref() {
        Some("v2") => ZarrFormat::V2,
        Some(_) => ZarrFormat::V3,
        None => source.format(),
    };
    let codec: ZarrCodec = match &args.codec {
        Some(text) => text.parse()?,
        None => source.compressor().clone(),
    };
    // Sharded: the grid written is the shards; the target chunks live inside.
    let (write_grid, inner_chunks) = match &args.shards {
        None => (target_grid.clone(), None),
        Some(text) => {
            if format == ZarrFormat::V2 {
                return Err("--shards needs --format v3".into());
            }
            let shards = normalize_chunks(&ChunkSpec::parse(text, &dim_refs)?, &meta.shape(), &NormalizeOptions::default())?;
            (shards, Some(target_grid.chunk_shape()))
        }
    };
    if !write_grid.is_regular() {
        return Err(format!("Zarr needs regular chunks; {:?} are irregular", write_grid.to_sizes()).into());
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let max_mem = parse_bytes(&args.max_mem)?;
    let options = PlanOptions::new(itemsize, max_mem).with_workers(threads as u64);
    let plan = plan_rechunk(&meta.grid, &write_grid, &options)?;
    if args.dry_run {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&json!({"plan": plan}))?);
        } else {
            println!("{plan}");
        }
        return Ok(());
    }

    let mut target_meta = meta.clone();
    target_meta.grid = write_grid.clone();
    let mut spec = ZarrArraySpec::new(target_meta, format, codec.clone());
    spec.inner_chunks = inner_chunks.clone();
    let job = json!({
        "src": std::fs::canonicalize(&args.src)?.display().to_string(),
        "dst": absolute(&args.dst).display().to_string(),
        "src_chunks": meta.grid,
        "dtype": meta.dtype,
        "chunks": write_grid,
        "inner_chunks": inner_chunks,
        "format": format!("{format:?}"),
        "codec": format!("{codec:?}"),
    });
    let work = args.dst.join(WORK_DIR);
    prepare_destination(&args.dst, &work, &job, args.overwrite)?;
    let (journal, plan) = match Journal::open(&work, &job, &json!({"job": job, "plan": plan}))? {
        Opened::New(journal) => (journal, plan),
        Opened::Resumed(journal, manifest) => {
            let stored: RechunkPlan = serde_json::from_value(manifest["plan"].clone())?;
            if !args.quiet {
                eprintln!("chunkctl: resuming an interrupted rechunk into {}", args.dst.display());
            }
            if stored.peak_bytes > max_mem {
                return Err(format!(
                    "the interrupted run planned for {}; rerun with --max-mem of at least that",
                    format_bytes(stored.peak_bytes)
                )
                .into());
            }
            (journal, stored)
        }
    };
    let target = ZarrStore::create_unpublished(&args.dst, "/", &spec)?;
    // The same job finds the same scratch directory when it resumes.
    let scratch_dir = match &args.temp {
        Some(temp) => temp.join(format!("ndchunk-rechunk-{:016x}", fnv1a(job.to_string().as_bytes()))),
        None => work.join("scratch"),
    };
    let run_options = RunOptions {
        threads,
        scratch_dir: scratch_dir.clone(),
        progress: !args.quiet && !args.json,
    };
    let report = run_plan(&source, &target, &plan, &journal, &run_options)?;
    // Finished: metadata last, then the journal and intermediates go.
    target.publish()?;
    journal.finish()?;
    if scratch_dir.exists() {
        std::fs::remove_dir_all(&scratch_dir)?;
    }
    let (chunks_stored, bytes_stored) = target.storage_summary()?;
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss = peak_rss_bytes();
    let logical = meta.logical_bytes();
    if args.json {
        let out = json!({
            "plan": plan,
            "report": report,
            "seconds": seconds,
            "peak_rss_bytes": peak_rss,
            "logical_bytes": logical,
            "stored_bytes": bytes_stored,
            "chunks_stored": chunks_stored,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "rechunked {} ({}) in {seconds:.2} s: {:.0} MB/s; read {} in {} chunks, wrote {} in {} chunks ({} on disk); \
             {} tasks{}; peak RSS {} (budget {}, executor accounting {})",
            args.src.display(),
            format_bytes(logical),
            logical as f64 / seconds / 1e6,
            format_bytes(report.bytes_read),
            report.chunks_read,
            format_bytes(report.bytes_written),
            report.chunks_written,
            format_bytes(bytes_stored),
            report.tasks_run,
            if report.tasks_resumed > 0 { format!(" ({} resumed as done)", report.tasks_resumed) } else { String::new() },
            peak_rss.map_or("unknown".into(), format_bytes),
            format_bytes(max_mem),
            format_bytes(report.budget_peak_bytes),
        );
    }
    Ok(())
}

/// Refuses an existing DST unless it is an interrupted run of this job
/// (resumed) or `--overwrite` is given.
fn prepare_destination(dst: &Path, work: &Path, job: &Value, overwrite: bool) -> Result<(), Box<dyn Error>> {
    if !dst.exists() {
        return Ok(());
    }
    let manifest: Option<Value> = std::fs::read(work.join("manifest.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let same_job = manifest.is_some_and(|m| &m["job"] == job);
    if same_job {
        return Ok(());
    }
    if overwrite {
        if dst.is_dir() {
            std::fs::remove_dir_all(dst)?;
        } else {
            std::fs::remove_file(dst)?;
        }
        return Ok(());
    }
    Err(format!(
        "{} already exists{}; pass --overwrite to replace it",
        dst.display(),
        if work.exists() { " (an interrupted rechunk of a different job)" } else { "" }
    )
    .into())
}

/// The process's peak resident set (VmHWM), where the OS tells.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// FNV-1a: a stable name for a job's scratch directory.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
