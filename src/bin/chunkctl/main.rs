//! `chunkctl`: the ndchunk command line.

mod demo;
mod info;
mod job;
mod plan;
mod pyramid;
mod rechunk;
mod run;
mod sample;
mod submit;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Chunked n-dimensional arrays from the command line: plan and run
/// rechunks of Zarr and HDF5 stores within a memory budget, write image
/// pyramids.
#[derive(Debug, Parser)]
#[command(name = "chunkctl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The S3-compatible server that `s3://` URLs name buckets of (MinIO,
    /// Ceph, a local test server), as the AWS CLI's flag: the same as
    /// AWS_ENDPOINT_URL (an `http://` one is used as given). Credentials come
    /// from the environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY):
    /// a secret on a command line is seen by every user of the machine.
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job on built-in data: write a climate-like Zarr store with
    /// daily chunks, rechunk it to time series within a small budget, check.
    Demo(demo::DemoArgs),
    /// Plan a rechunk within a memory budget and print the plan (no data is
    /// read). With no arguments: a year of hourly ERA5-like reanalysis
    /// (float32, 8760 x 721 x 1440), daily chunks to 10x10 time series.
    Plan(plan::PlanArgs),
    /// Show what a Zarr store or an HDF5/netCDF file holds: groups and arrays with shape, dims,
    /// dtype, chunks, shards, codecs, fill value, chunks written, bytes
    /// stored vs logical, attributes.
    Info(info::InfoArgs),
    /// Rechunk a Zarr array or group (or convert an HDF5/netCDF file to
    /// Zarr) within a memory budget: planned (direct or through
    /// intermediates), parallel, resumable after a kill.
    Rechunk(rechunk::RechunkArgs),
    /// Run one shard of one stage of a plan made by `rechunk --plan-out`:
    /// one task of a Slurm or HyperQueue job array, or one of several
    /// processes on one machine.
    Run(run::RunArgs),
    /// Write (and with --submit, submit) a plan's stages as Slurm job
    /// arrays chained by `afterok`, or as one HyperQueue job.
    Submit(submit::SubmitArgs),
    /// Write an image (Zarr array, or an array of an HDF5/netCDF file) and
    /// its downsampled levels as an OME-Zarr multiscale image.
    Pyramid(pyramid::PyramidArgs),
}

fn main() -> ExitCode {
    // Printing into a closed pipe (`chunkctl info … | head`) ends the
    // program quietly, as for any Unix tool, instead of panicking.
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Tasks allocate blocks of tens of MiB one after the other. glibc would
    // hand each a fresh mapping (per-thread arenas cannot hold them) and
    // return it on free, so every task page-faults its block in again:
    // seconds of system time per rechunk. One arena that keeps what it
    // freed reuses the memory instead; RSS stays at the peak of what tasks
    // held, which the budget bounds.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: allocator tuning calls, made before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
    let cli = Cli::parse();
    if let Some(endpoint) = &cli.endpoint_url {
        // Read by the S3 client when a bucket is first used; set while
        // this is the only thread.
        // Both names: the S3 client prefers the service-specific one.
        std::env::set_var("AWS_ENDPOINT_URL", endpoint);
        std::env::set_var("AWS_ENDPOINT_URL_S3", endpoint);
    }
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Plan(args) => plan::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Rechunk(args) => rechunk::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Submit(args) => submit::run(&args),
        Command::Pyramid(args) => pyramid::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chunkctl: error: {e}");
            ExitCode::FAILURE
        }
    }
}
