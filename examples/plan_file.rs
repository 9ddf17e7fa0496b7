//! A plan file: an expression's store planned here, written to a file,
//! and run by other processes that load the file and nothing else (this
//! program started again with `--run-plan`, as a cluster's job array
//! would start a worker), stage by stage, three shards each. Temperatures
//! in °C above freezing, square-rooted, rechunked from one-step maps to
//! time series. A closure in the expression is refused when saving; the
//! result is checked against the expression at three points.
//!
//! ```text
//! cargo run --release --example plan_file -- SRC OUT.zarr [--shards 3] [--max-mem 256MiB]
//! cargo run --release --example plan_file        # on built-in sample data
//! ```
//!
//! SRC is a float32 (time, lat, lon) Zarr array, e.g. `chunkctl demo`'s.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::{parse_bytes, ChunkGrid};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ChunkStore, ZarrStore};
use ndchunk::{where_, Array, ComputeOptions, Index, PlanFile};

type Error = Box<dyn std::error::Error>;

/// How this program is started as one shard: `--run-plan PLAN JOURNAL
/// STAGE INDEX COUNT`.
const RUN: &str = "--run-plan";

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

/// A worker: loads the plan file and runs its share. Nothing of the
/// expression is built here.
fn worker(plan: &str, journal: &str, stage: &str, index: &str, count: &str) -> Result<(), Error> {
    let plan = PlanFile::load(plan)?;
    let options = ComputeOptions::new()
        .progress(false)
        .journal_dir(journal)
        .shard(stage.parse()?, index.parse()?, count.parse()?);
    let report = plan.run(&options)?;
    println!(
        "  stage {stage}, shard {index}/{count}: {} tasks run, {} found done",
        report.tasks_run, report.tasks_resumed
    );
    Ok(())
}

fn run() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, plan, journal, stage, index, count] = args.as_slice() {
        if flag == RUN {
            return worker(plan, journal, stage, index, count);
        }
    }
    let args = support::ExampleArgs::from_env();
    let scratch = tempfile::tempdir()?;
    let (src, out) = args.paths_or_sample(scratch.path(), "thaw.zarr")?;
    let shards: u64 = args.flag("--shards").map_or(Ok(3), |n| n.parse())?;
    let max_mem = parse_bytes(&args.flag("--max-mem").unwrap_or("256MiB".into()))?;

    // The expression: built-in operations only.
    let source = Arc::new(ZarrStore::open_dir(&src)?);
    let shape = source.meta().shape();
    let t = Array::<f32>::from_store(source.clone())?;
    let celsius = &t - 273.15;
    let thaw = where_(&celsius.greater(0.0), celsius.sqrt(), 0.0);
    let mut meta = source.meta().clone();
    meta.grid = ChunkGrid::regular(&shape, &[shape[0], 10, 10])?;
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    let store = ZarrStore::create(&out, "/", &spec)?;
    let options = ComputeOptions::new().max_mem(max_mem).progress(false);

    // A closure makes a plan local to this process: saving it is refused.
    let local = thaw.map("round", |x: f32| x.round());
    let refused = local.save_plan(&store, &options, out.with_extension("local.json"));
    println!("a closure: {}", refused.unwrap_err());

    let plan_path = out.with_extension("plan.json");
    let plan = thaw.save_plan(&store, &options, &plan_path)?;
    println!("{}\nidentity {}", plan.explain(), plan.identity());
    let journal = out.with_extension("journal");
    let started = Instant::now();
    for (s, stage) in plan.shard_stages().iter().enumerate() {
        println!(
            "stage {}: {} ({} tasks) in {shards} processes",
            s + 1,
            stage.description,
            stage.tasks
        );
        let children = (0..shards)
            .map(|i| {
                Command::new(std::env::current_exe()?)
                    .arg(RUN)
                    .args([&plan_path, &journal])
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
    PlanFile::load(&plan_path)?
        .run(&ComputeOptions::new().journal_dir(&journal).finish_shards())?;

    check(&out, &thaw, max_mem)?;
    Ok(())
}

/// Three time series of the store, against the expression's.
fn check(out: &Path, thaw: &Array<f32>, max_mem: u64) -> Result<(), Error> {
    let written = Array::<f32>::from_store(Arc::new(ZarrStore::open_dir(out)?))?;
    let quiet = ComputeOptions::new().max_mem(max_mem).progress(false);
    let shape = written.shape();
    for (lat, lon) in [
        (0, 0),
        (shape[1] / 2, shape[2] / 2),
        (shape[1] - 1, shape[2] - 1),
    ] {
        let at = [Index::ALL, Index::At(lat as i64), Index::At(lon as i64)];
        let (stored, _) = written.slice(&at).compute_with(&quiet)?;
        let (expected, _) = thaw.slice(&at).compute_with(&quiet)?;
        if stored != expected {
            return Err(format!("the time series at ({lat}, {lon}) differs").into());
        }
    }
    println!(
        "{}: time-series chunks, checked against the expression at three points",
        out.display()
    );
    Ok(())
}
