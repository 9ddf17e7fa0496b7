//! A store run as shards by separate processes, as the tasks of a
//! cluster's job array would run it: temperature anomalies from each
//! point's time mean, rechunked from maps to time series, written by three
//! processes per stage (this program started again as each shard), which
//! share one journal directory. The first stage's shards compute the mean
//! and keep it in the journal; the later stages' shards read it there. A
//! stage starts once every shard of the one before has finished; the
//! result is then checked against the expression.
//!
//! ```text
//! cargo run --release --example shards -- SRC OUT.zarr [--shards 3] [--max-mem 256MiB]
//! cargo run --release --example shards        # on built-in sample data
//! ```
//!
//! SRC is a float32 (time, lat, lon) Zarr array, e.g. `chunkctl demo`'s.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::{parse_bytes, ChunkGrid};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ChunkStore, ZarrStore};
use ndchunk::{Array, ComputeOptions, Index};

type Error = Box<dyn std::error::Error>;

/// How this program is started as one shard.
const SHARD: &str = "--run-shard";

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

/// The expression, its store and the options every shard uses.
fn job(
    src: &Path,
    out: &Path,
    max_mem: u64,
    create: bool,
) -> Result<(Array<f32>, ZarrStore, ComputeOptions), Error> {
    let source = Arc::new(ZarrStore::open_dir(src)?);
    let shape = source.meta().shape();
    let kelvin = Array::<f32>::from_store(source.clone())?;
    let anomaly = &kelvin - &kelvin.mean(0, true);
    let mut meta = source.meta().clone();
    meta.grid = ChunkGrid::regular(&shape, &[shape[0], 10, 10])?;
    meta.attributes.insert("units".into(), "K".into());
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    let store = if create {
        ZarrStore::create(out, "/", &spec)?
    } else {
        ZarrStore::open_dir(out)?
    };
    // Every shard plans the same: the same budget and threads.
    let options = ComputeOptions::new()
        .max_mem(max_mem)
        .threads(1)
        .progress(false)
        .journal_dir(journal_dir(out));
    Ok((anomaly, store, options))
}

fn journal_dir(out: &Path) -> PathBuf {
    out.with_extension("journal")
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, src, out, max_mem, stage, index, count] = args.as_slice() {
        if flag == SHARD {
            let (anomaly, store, options) =
                job(src.as_ref(), out.as_ref(), max_mem.parse()?, false)?;
            let options = options.shard(stage.parse()?, index.parse()?, count.parse()?);
            let report = anomaly.store_with(&store, &options)?;
            println!(
                "  stage {stage}, shard {index}/{count}: {} tasks run, {} found done",
                report.tasks_run, report.tasks_resumed
            );
            return Ok(());
        }
    }
    let args = support::ExampleArgs::from_env();
    let scratch = tempfile::tempdir()?;
    let (src, out) = args.paths_or_sample(scratch.path(), "anomaly.zarr")?;
    let shards: u64 = args.flag("--shards").map_or(Ok(3), |n| n.parse())?;
    let max_mem = parse_bytes(&args.flag("--max-mem").unwrap_or("256MiB".into()))?;

    let (anomaly, store, options) = job(&src, &out, max_mem, true)?;
    let plan = anomaly.store_plan(store.meta(), &options)?;
    println!("{plan}");
    let stages = plan.shard_stages();
    let started = Instant::now();
    for (s, stage) in stages.iter().enumerate() {
        println!(
            "stage {}: {} ({} tasks) in {shards} processes",
            s + 1,
            stage.description,
            stage.tasks
        );
        let children = (0..shards)
            .map(|i| {
                Command::new(std::env::current_exe()?)
                    .arg(SHARD)
                    .args([&src, &out])
                    .arg(max_mem.to_string())
                    .args([(s + 1).to_string(), i.to_string(), shards.to_string()])
                    .spawn()
            })
            .collect::<Result<Vec<_>, _>>()?;
        for mut child in children {
            if !child.wait()?.success() {
                return Err(format!("a shard of stage {} failed", s + 1).into());
            }
        }
    }
    println!("all stages in {:.2} s", started.elapsed().as_secs_f64());
    // Every stage's shards done: checked, and the journal removed.
    anomaly.store_with(&store, &options.finish_shards())?;

    // Three time series, read back and computed from the expression.
    let written = Array::<f32>::from_store(Arc::new(ZarrStore::open_dir(&out)?))?;
    let quiet = ComputeOptions::new().max_mem(max_mem).progress(false);
    for (lat, lon) in [(0, 0), (90, 180), (179, 359)] {
        let at = [
            Index::Range {
                start: None,
                stop: None,
                step: 1,
            },
            Index::At(lat),
            Index::At(lon),
        ];
        let (stored, _) = written.slice(&at).compute_with(&quiet)?;
        let (expected, _) = anomaly.slice(&at).compute_with(&quiet)?;
        // (The mean of one point alone may round in another order than
        // over a whole map: equal within float32 rounding.)
        let off = stored
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if stored.shape() != expected.shape() || off > 1e-4 {
            return Err(format!("the time series at ({lat}, {lon}) differs by {off}").into());
        }
    }
    println!(
        "{}: time-series chunks, checked against the expression at three points",
        out.display()
    );
    Ok(())
}
