//! Climate anomalies as time series: each grid point's departure from its
//! mean over time, rechunked from one-day maps to whole time series, and
//! the anomalies' standard deviation over time (a map), written as two
//! arrays of one Zarr group (`OUT/anomaly`, `OUT/std`) in one run
//! (`store_many`). The time mean is one reduction stage both outputs
//! share; then a rechunk stage (the rechunk planner's passes, within the
//! budget) whose last pass computes the anomaly and writes the target's
//! chunks, and the reduction of the standard deviation.
//!
//! ```text
//! cargo run --release --example anomaly -- SRC OUT.zarr [--chunks 8760,10,10] [--max-mem 1GiB]
//! cargo run --release --example anomaly        # on built-in sample data
//! ```
//!
//! SRC is a float32 (time, lat, lon) Zarr array, e.g. `chunkctl demo`'s.

mod support;

use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::{parse_bytes, ChunkGrid};
use ndchunk::io::zarr::{create_group, ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ChunkStore, ZarrStore};
use ndchunk::{store_many, store_many_plan, Array, ComputeOptions, DynArray};

type Error = Box<dyn std::error::Error>;

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Error> {
    let args = support::ExampleArgs::from_env();
    let flag = |name: &str| args.flag(name);
    let scratch = tempfile::tempdir()?;
    let (src, out) = args.paths_or_sample(scratch.path(), "anomaly.zarr")?;
    let source = Arc::new(ZarrStore::open_dir(&src)?);
    let shape = source.meta().shape();
    let chunks: Vec<u64> = match flag("--chunks") {
        Some(spec) => spec.split(',').map(str::parse).collect::<Result<_, _>>()?,
        None => vec![shape[0], 10, 10],
    };
    let mut options = ComputeOptions::new();
    if let Some(max_mem) = flag("--max-mem") {
        options = options.max_mem(parse_bytes(&max_mem)?);
    }

    let t = Array::<f32>::from_store(source.clone())?;
    let anomaly = &t - t.mean([0], true);
    let spread = anomaly.std([0], false, 0);

    create_group(&out, "/", ZarrFormat::V3, &Default::default())?;
    let mut meta = source.meta().clone();
    meta.grid = ChunkGrid::regular(&shape, &chunks)?;
    let spec = ZarrArraySpec::new(meta.clone(), ZarrFormat::V3, ZarrCodec::Zstd(3));
    let anomaly_store = ZarrStore::create(&out, "/anomaly", &spec)?;
    meta.grid = spread.grid().clone();
    meta.dimension_names = meta.dimension_names.map(|names| names[1..].to_vec());
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    let spread_store = ZarrStore::create(&out, "/std", &spec)?;
    let (anomaly, spread) = (DynArray::from(anomaly), DynArray::from(spread));
    let outputs = [(&anomaly, &anomaly_store), (&spread, &spread_store)];
    let metas = outputs.map(|(a, s)| (a, s.meta()));
    print!("{}", store_many_plan(&metas, &options)?);
    let started = Instant::now();
    let report = store_many(&outputs.map(|(a, s)| (a, s as &dyn ChunkStore)), &options)?;
    println!(
        "anomaly of {} in chunks of {chunks:?}, and its std over time: {:.2} s, {} tasks in {} stages, peak {} of {} bytes budgeted -> {}",
        source.location(),
        started.elapsed().as_secs_f64(),
        report.tasks_run,
        report.stages,
        report.peak_bytes,
        report.max_mem,
        out.display()
    );
    Ok(())
}
