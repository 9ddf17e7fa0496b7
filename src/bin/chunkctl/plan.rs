//! `chunkctl plan`: a rechunk plan for an array described on the command line.

use std::error::Error;

use clap::Args;
use ndchunk::chunking::rechunk::{plan_rechunk, PlanOptions};
use ndchunk::chunking::{normalize_chunks, parse_bytes, ChunkSpec, NormalizeOptions};
use ndchunk::io::DType;

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Array shape, comma-separated.
    #[arg(long, default_value = "8760,721,1440")]
    shape: String,
    /// Dimension names, comma-separated (used by named chunk specs).
    #[arg(long, default_value = "time,latitude,longitude")]
    dims: String,
    /// Element type (numpy name or typestr: float32, <f4, uint8, ...).
    #[arg(long, default_value = "float32")]
    dtype: String,
    /// Chunks the array is stored with (`24,721,1440` or `time=24`).
    #[arg(long, default_value = "time=24", allow_hyphen_values = true)]
    source_chunks: String,
    /// Chunks wanted: by name (`time=-1,latitude=10,longitude=10`, unnamed
    /// dimensions keep their chunks) or positional; `-1` = whole axis,
    /// `auto` = Dask's automatic sizing.
    #[arg(
        long,
        default_value = "time=-1,latitude=10,longitude=10",
        allow_hyphen_values = true
    )]
    chunks: String,
    /// Target bytes of an `auto` chunk.
    #[arg(long, default_value = "128MiB")]
    chunk_bytes: String,
    /// Memory budget for all tasks together (e.g. 2GiB, 500MB).
    #[arg(long, default_value = "2GiB")]
    max_mem: String,
    /// Tasks to run at once (default: the number of cores).
    #[arg(long)]
    workers: Option<u64>,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &PlanArgs) -> Result<(), Box<dyn Error>> {
    let shape = args
        .shape
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|e| format!("--shape: `{s}` is not a length: {e}"))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let dims: Vec<&str> = args.dims.split(',').map(str::trim).collect();
    if dims.len() != shape.len() {
        return Err(format!(
            "--dims names {} dimensions but --shape has {}",
            dims.len(),
            shape.len()
        )
        .into());
    }
    let dtype: DType = args.dtype.parse()?;
    let itemsize = dtype.size() as u64;
    let limit = parse_bytes(&args.chunk_bytes)?;
    let source_spec = ChunkSpec::parse(&args.source_chunks, &dims)?;
    let source = normalize_chunks(
        &source_spec,
        &shape,
        &NormalizeOptions {
            limit: Some(limit),
            itemsize: Some(itemsize),
            previous: None,
        },
    )?;
    let target_spec = ChunkSpec::parse(&args.chunks, &dims)?;
    let target = normalize_chunks(
        &target_spec,
        &shape,
        &NormalizeOptions {
            limit: Some(limit),
            itemsize: Some(itemsize),
            previous: Some(&source),
        },
    )?;
    let workers = args
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));
    let options = PlanOptions::new(itemsize, parse_bytes(&args.max_mem)?).with_workers(workers);
    let plan = plan_rechunk(&source, &target, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        println!(
            "array: ({}) {dtype}, dims ({})",
            args.shape,
            dims.join(", ")
        );
        println!("{plan}");
    }
    Ok(())
}
