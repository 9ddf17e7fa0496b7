//! `chunkctl rechunk`: rechunk a Zarr array within a memory budget,
//! resumably. The work is [`crate::job::ZarrRechunk`]; this is its
//! command line.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::job::array::Prepared;
use crate::job::places::{absolute_place, is_url};
use crate::job::{is_group, plan_group, JobArgs, JobStatus, Outcome};
use ndchunk::chunking::format_bytes;
use ndchunk::chunking::parse_bytes;

#[derive(Debug, Args)]
pub struct RechunkArgs {
    /// Source: a Zarr array or group (a directory, or in object storage
    /// as `s3://bucket/path.zarr`; v2 or v3), an HDF5/netCDF
    /// file (all its variables, converted to a Zarr v3 group), or one array
    /// of a file as FILE:/NAME (converted to a Zarr v3 array). For a group
    /// or file, every array whose dimensions --chunks names is rechunked
    /// and the others (coordinates) copied; the chunks must then be given
    /// by name.
    ///
    /// A group or file with arrays of an element type ndchunk cannot move
    /// (strings, compounds, variable-length, enums, netCDF-3 `char`, …) is
    /// refused, naming each such array and its type, so that no variable is
    /// lost unseen: pass --skip-unsupported to convert the others, or pick
    /// arrays with --array.
    src: PathBuf,
    /// Destination Zarr array or group directory (must not exist, unless --overwrite,
    /// or it is an interrupted run of this same command, which resumes), or
    /// an array or group in object storage as `s3://bucket/path.zarr` (an
    /// empty prefix; needs --journal). S3 credentials and endpoint come from the
    /// standard AWS environment variables (AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL).
    dst: PathBuf,
    /// Target chunks: by dimension name (`time=8760,lat=10,lon=10`; names
    /// not given keep their chunks) or positional (`8760,10,10`); `-1` is
    /// the whole axis, `auto` sizes it like Dask (see --chunk-bytes).
    #[arg(long, allow_hyphen_values = true)]
    chunks: String,
    /// Memory budget for the whole process's chunk buffers.
    #[arg(long, default_value = "1GiB")]
    max_mem: String,
    /// Target bytes of an `auto` chunk.
    #[arg(long, default_value = "128MiB")]
    chunk_bytes: String,
    /// Directory for intermediate arrays (default: inside DST, or in
    /// --journal for DST in object storage).
    #[arg(long)]
    temp: Option<PathBuf>,
    /// A local directory for the journal of a DST in object storage (where
    /// no lock or journal can live); run again with the same one to resume.
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
    /// Zarr format of DST (default: that of SRC).
    #[arg(long, value_parser = ["v2", "v3"])]
    format: Option<String>,
    /// Compressor of DST (default: that of SRC): none, zstd:LEVEL,
    /// gzip:LEVEL, zlib:LEVEL (v2), blosc:CNAME:LEVEL:SHUFFLE.
    #[arg(long)]
    codec: Option<String>,
    /// Write a sharded v3 array with shards of this shape (multiples of the
    /// target chunks), e.g. `8760,100,100`.
    #[arg(long, allow_hyphen_values = true)]
    shards: Option<String>,
    /// For a group or file: rechunk only this array (repeatable), with the
    /// coordinate arrays of its dimensions.
    #[arg(long = "array", value_name = "NAME")]
    arrays: Vec<String>,
    /// For a group or file: convert it without its arrays of an element
    /// type ndchunk cannot move (strings, compounds, …) instead of
    /// refusing; a warning on stderr names each one left out, and --dry-run
    /// and --json list them under `skipped`.
    #[arg(long)]
    skip_unsupported: bool,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the plan and stop (the plan is printed before a run too,
    /// unless --quiet).
    #[arg(long)]
    dry_run: bool,
    /// Replace an existing DST: only a Zarr store or a folder chunkctl
    /// made is replaced (anything else is refused), and never while
    /// another run writes it.
    #[arg(long)]
    overwrite: bool,
    /// Discard an interrupted run into DST that cannot resume (SRC changed
    /// since, or its journal is damaged) and start over.
    #[arg(long)]
    restart: bool,
    /// No plan, no progress bar.
    #[arg(long)]
    quiet: bool,
    /// Print the plan and the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write the job's plan to this file and begin the job in DST, running
    /// no task: its stages then run as shards, in any number of processes
    /// or cluster jobs, with `chunkctl run PLAN --stage S --shard I/N`.
    #[arg(long, value_name = "PLAN", conflicts_with = "dry_run")]
    plan_out: Option<PathBuf>,
}

/// `--plan-out`: the plan file, and how to run it.
fn save_plan(
    prepared: &Prepared,
    job_args: JobArgs,
    path: &std::path::Path,
    args: &RechunkArgs,
) -> Result<(), Box<dyn Error>> {
    let job_args = JobArgs {
        src: absolute_place(&job_args.src),
        dst: absolute_place(&job_args.dst),
        temp: job_args.temp.map(std::path::absolute).transpose()?,
        journal: job_args.journal.map(std::path::absolute).transpose()?,
        ..job_args
    };
    let plan = prepared.save_plan(&job_args, path)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    if !args.quiet {
        println!(
            "{}
",
            prepared.explain()
        );
    }
    println!(
        "plan written to {}: DST is begun, no task run yet",
        path.display()
    );
    for stage in &plan.stages {
        println!(
            "  stage {}: {} ({} task{}; per shard process: {} CPU{}, {})",
            stage.stage,
            stage.does,
            stage.tasks,
            if stage.tasks == 1 { "" } else { "s" },
            stage.cpus,
            if stage.cpus == 1 { "" } else { "s" },
            format_bytes(stage.memory_bytes)
        );
    }
    println!(
        "run each stage after the one before, in as many shards as you like:\n  \
         chunkctl run {} --stage S --shard I/N",
        path.display()
    );
    Ok(())
}

pub fn run(args: &RechunkArgs) -> Result<(), Box<dyn Error>> {
    let job_args = JobArgs {
        src: args.src.clone(),
        dst: args.dst.clone(),
        chunks: args.chunks.clone(),
        chunk_bytes: parse_bytes(&args.chunk_bytes)?,
        max_mem: parse_bytes(&args.max_mem)?,
        threads: args.threads.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            // Object storage: many requests in flight hide its latency.
            if is_url(&args.src) || is_url(&args.dst) {
                cores.max(ndchunk::REMOTE_IO_THREADS)
            } else {
                cores
            }
        }),
        temp: args.temp.clone(),
        journal: args.journal.clone(),
        format: args.format.clone(),
        codec: args.codec.clone(),
        shards: args.shards.clone(),
    };
    let mut job = job_args.to_job()?;
    job.overwrite = args.overwrite;
    job.restart = args.restart;
    job.arrays = args.arrays.clone();
    job.skip_unsupported = args.skip_unsupported;
    job.progress = !args.quiet && !args.json;
    if args.plan_out.is_some() && is_group(&args.src) {
        return Err(
            "--plan-out plans one array; for a group or file, plan each array (SRC/NAME)".into(),
        );
    }
    if args.journal.is_some() && !is_url(&args.dst) {
        return Err(
            "--journal is for a DST in object storage; a local DST keeps its \
                    journal inside it"
                .into(),
        );
    }
    if is_group(&args.src) {
        let plan = plan_group(&job)?;
        for warning in &plan.warnings {
            eprintln!("chunkctl: warning: {warning}");
        }
        for skipped in &plan.skipped {
            eprintln!(
                "chunkctl: warning: {}: skipped, its element type ({}) is not one ndchunk can move",
                skipped.path, skipped.dtype
            );
        }
        if args.dry_run {
            let plans = plan.array_plans()?;
            if args.json {
                let arrays: Vec<_> = plans
                    .iter()
                    .map(|(path, plan)| json!({"path": path, "plan": plan}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({ "arrays": arrays, "skipped": plan.skipped, "links": plan.links })
                    )?
                );
            } else {
                for (path, plan) in &plans {
                    println!("{path}:\n{plan}");
                }
                for skipped in &plan.skipped {
                    println!("{}: skipped ({})", skipped.path, skipped.dtype);
                }
                for link in &plan.links {
                    println!("{}: skipped ({}, not followed)", link.path, link.target);
                }
            }
            return Ok(());
        }
        if !args.quiet && !args.json {
            for (path, plan) in plan.array_plans()? {
                println!("{path}:\n{plan}");
            }
        }
        let outcome = plan.run()?;
        if args.json {
            let mut out = serde_json::to_value(&outcome)?;
            out["peak_rss_bytes"] = json!(peak_rss_bytes());
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            for array in &outcome.arrays {
                println!(
                    "{}",
                    summary(&array.path, &array.outcome, None, job.max_mem)
                );
            }
            for link in &outcome.links {
                println!("{}: skipped ({}, not followed)", link.path, link.target);
            }
            println!(
                "group rechunked in {:.2} s; peak RSS {}",
                outcome.seconds,
                peak_rss_bytes().map_or("unknown".into(), format_bytes)
            );
        }
        return Ok(());
    }
    if !args.arrays.is_empty() {
        return Err("--array picks arrays of a group or file; SRC is one array".into());
    }
    if args.skip_unsupported {
        return Err(
            "--skip-unsupported leaves arrays out of a group or file; SRC is one array".into(),
        );
    }
    let prepared = job.prepare()?;
    if let Some(path) = &args.plan_out {
        return save_plan(&prepared, job_args, path, args);
    }
    if !args.dry_run && !args.quiet && !args.json {
        println!("{}\n", prepared.explain());
    }
    if args.dry_run {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"plan": prepared.plan}))?
            );
        } else {
            println!("{}", prepared.explain());
        }
        return Ok(());
    }
    let outcome = prepared.run()?;
    let peak_rss = peak_rss_bytes();
    if args.json {
        let mut out = serde_json::to_value(&outcome)?;
        out["peak_rss_bytes"] = json!(peak_rss);
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{}",
            summary(
                &args.src.display().to_string(),
                &outcome,
                peak_rss,
                job.max_mem
            )
        );
    }
    Ok(())
}

/// The one-paragraph report of a finished job; `peak_rss` where the job
/// was the whole process (not one array of a group).
pub fn summary(src: &str, outcome: &Outcome, peak_rss: Option<u64>, max_mem: u64) -> String {
    let Some(r) = outcome
        .report
        .as_ref()
        .filter(|_| outcome.status != JobStatus::UpToDate)
    else {
        return format!(
            "{src}: finished by an earlier run of this command, from SRC as it is now; nothing written"
        );
    };
    // An array whose chunks stay as they are (a coordinate) is copied.
    let verb = if outcome.plan.source == outcome.plan.target {
        "copied"
    } else {
        "rechunked"
    };
    let rate = if outcome.seconds >= 0.01 {
        format!(
            ", {}/s",
            format_bytes((outcome.logical_bytes as f64 / outcome.seconds) as u64)
        )
    } else {
        String::new()
    };
    let rss = peak_rss.map_or(String::new(), |rss| {
        format!(
            "; peak RSS {} (budget {})",
            format_bytes(rss),
            format_bytes(max_mem)
        )
    });
    format!(
        "{verb} {src} ({}) in {:.2} s{rate}{}: {} on disk in {} files; {} tasks{}{}; \
         executor accounting peak {}{rss}",
        format_bytes(outcome.logical_bytes),
        outcome.seconds,
        if outcome.status == JobStatus::Resumed {
            ", resumed"
        } else {
            ""
        },
        format_bytes(outcome.stored_bytes),
        outcome.chunks_stored,
        r.tasks_run,
        if r.tasks_resumed > 0 {
            format!(" ({} resumed as done)", r.tasks_resumed)
        } else {
            String::new()
        },
        if r.spilled_bytes > 0 {
            format!(", {} spilled", format_bytes(r.spilled_bytes))
        } else {
            String::new()
        },
        format_bytes(r.peak_bytes),
    )
}

/// The process's peak resident set (VmHWM), where the OS tells.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
