//! A plan run as shards in separate processes (`ComputeOptions::shard`):
//! this test binary runs itself as the shard processes, kills one with
//! `kill -9` and runs it again, and the store's chunks are byte for byte
//! those of a run in one process. A stage waits for every shard of the
//! stage before it; bad shards are refused. Plans of several stages (an
//! anomaly from a time mean kept for the subtraction, then perhaps
//! rechunked to time series) run as shards too, the mean kept in the
//! journal by the shards of its stage.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use cli::{doubled_store, kill_once_logged, store_files};
use ndchunk::chunking::ChunkGrid;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions, Error, StageKind};

const DIR: &str = "NDCHUNK_SHARD_TEST_DIR";
const SHARD: &str = "NDCHUNK_SHARD_TEST_SHARD";
const KIND: &str = "NDCHUNK_SHARD_TEST_KIND";

/// [`doubled_store`] into `dst` (gzip chunks): a plan of two stages.
fn job(dir: &Path, dst: &str, create: bool) -> (Array<f64>, ZarrStore, ComputeOptions) {
    doubled_store(dir, dst, ZarrCodec::Gzip(5), create)
}

fn journal(dir: &Path) -> PathBuf {
    dir.join("journal")
}

/// The child: shard `stage/index/count` (from the environment) of the job.
#[test]
#[ignore = "run as a child process by shards_in_processes_give_the_bytes_of_one_run"]
fn child_runs_a_shard() {
    let (Some(dir), Some(shard)) = (std::env::var_os(DIR), std::env::var(SHARD).ok()) else {
        return;
    };
    let dir = Path::new(&dir);
    let [stage, index, count]: [u64; 3] = shard
        .split('/')
        .map(|n| n.parse().unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let kind = std::env::var(KIND).unwrap_or_default();
    let shard = |options: ComputeOptions| {
        options
            .journal_dir(journal(dir))
            .shard(stage as usize, index, count)
    };
    if kind.starts_with("anomaly") {
        let (array, target, options) =
            anomaly_job(dir, "sharded.zarr", false, kind == "anomaly-series");
        array.store_with(&target, &shard(options)).unwrap();
        return;
    }
    let (array, target, options) = match kind.as_str() {
        "reduction" => reduction_job(dir, "sharded.zarr", false),
        _ => job(dir, "sharded.zarr", false),
    };
    array.store_with(&target, &shard(options)).unwrap();
}

/// Shard `index` of `count` of stage `stage` of the rechunk job (or, with
/// `reduction`, of [`reduction_job`]), as a child process.
fn spawn_shard(dir: &Path, stage: usize, index: u64, count: u64) -> Child {
    spawn_shard_of("rechunk", dir, stage, index, count)
}

fn spawn_shard_of(kind: &str, dir: &Path, stage: usize, index: u64, count: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["child_runs_a_shard", "--exact", "--ignored", "--nocapture"])
        .env(KIND, kind)
        .env(DIR, dir)
        .env(SHARD, format!("{stage}/{index}/{count}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn shards_in_processes_give_the_bytes_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (array, whole_target, options) = job(dir.path(), "whole.zarr", true);
    array.store_with(&whole_target, &options).unwrap();
    let (array, _target, _) = job(dir.path(), "sharded.zarr", true);
    let stages = array
        .store_plan(whole_target.meta(), &options)
        .unwrap()
        .shard_stages();
    assert_eq!(stages.len(), 2, "{stages:?}");
    let count = 3;
    for (s, stage) in stages.iter().enumerate() {
        let stage_number = s + 1;
        assert!(stage.tasks >= 2 * count, "{stage:?}");
        let mut children: Vec<Child> = (0..count)
            .map(|i| spawn_shard(dir.path(), stage_number, i, count))
            .collect();
        // Shard 0 of the first stage is killed once it has done a task,
        // then run again: it does only what is left.
        if stage_number == 1 {
            let log = journal(dir.path()).join("stage-0-pass-0-shard-0-of-3.done");
            kill_once_logged(&mut children[0], &log);
            children[0] = spawn_shard(dir.path(), stage_number, 0, count);
        }
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a shard of stage {stage_number} failed"
            );
        }
    }
    assert_eq!(
        store_files(&dir.path().join("sharded.zarr")),
        store_files(&dir.path().join("whole.zarr")),
        "the sharded run's chunks differ from one run's"
    );
    // A shard run again after its stage finished does nothing.
    let (array, target, options) = job(dir.path(), "sharded.zarr", false);
    let report = array
        .store_with(
            &target,
            &options.journal_dir(journal(dir.path())).shard(2, 1, 3),
        )
        .unwrap();
    assert_eq!(report.tasks_run, 0, "{report:?}");
    assert!(report.tasks_resumed > 0, "{report:?}");
}

fn shard_error(dir: &Path, options: ComputeOptions) -> String {
    let (array, target, _) = job(dir, "sharded.zarr", false);
    match array.store_with(&target, &options) {
        Err(e @ Error::Invalid { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_stage_waits_for_every_shard_of_the_one_before() {
    let dir = tempfile::tempdir().unwrap();
    let (array, target, options) = job(dir.path(), "sharded.zarr", true);
    let options = options.journal_dir(journal(dir.path()));
    array
        .store_with(&target, &options.clone().shard(1, 0, 2))
        .unwrap();
    let e = shard_error(dir.path(), options.clone().shard(2, 0, 2));
    assert!(e.contains("stage 1 is not finished"), "{e}");
    let e = shard_error(dir.path(), options.clone().finish_shards());
    assert!(e.contains("stage 1 is not finished"), "{e}");
    array
        .store_with(&target, &options.clone().shard(1, 1, 2))
        .unwrap();
    // While stage 2 runs in 3 shards (a running shard's hold on its count,
    // as the journal keeps it), it cannot also be run in 2.
    let running = std::fs::File::create(journal(dir.path()).join("lock-stage-2-count-3")).unwrap();
    running.lock_shared().unwrap();
    let e = array
        .store_with(&target, &options.clone().shard(2, 0, 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("stage 2 is being run in 3 shards now"), "{e}");
    drop(running);
    // Stage 2 in another number of shards than stage 1 had.
    for i in 0..3 {
        array
            .store_with(&target, &options.clone().shard(2, i, 3))
            .unwrap();
    }
    // Every shard stage finished: the journal goes.
    let report = array
        .store_with(&target, &options.clone().finish_shards())
        .unwrap();
    assert_eq!(report.tasks_run, 0, "{report:?}");
    assert!(!journal(dir.path()).exists(), "the journal is removed");
    let written = Array::<f64>::from_store(Arc::new(target)).unwrap();
    assert_eq!(
        written.compute().unwrap(),
        array.compute().unwrap(),
        "the sharded store holds the expression's values"
    );
}

#[test]
fn bad_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, options) = job(dir.path(), "sharded.zarr", true);
    let with_journal = options.journal_dir(journal(dir.path()));
    for (options, expected) in [
        (
            with_journal.clone().shard(1, 3, 3),
            "shard index 3 is out of range",
        ),
        (with_journal.clone().shard(1, 0, 0), "at least 1"),
        (
            with_journal.clone().shard(0, 0, 1),
            "stage 0 does not exist",
        ),
        (
            with_journal.clone().shard(3, 0, 1),
            "stage 3 does not exist: the plan has stages 1 to 2",
        ),
        (
            ComputeOptions::default().max_mem(4 << 20).shard(1, 0, 1),
            "needs a journal_dir",
        ),
    ] {
        let e = shard_error(dir.path(), options);
        assert!(e.contains(expected), "{e} (expected: {expected})");
    }
    // Pieces of a journal without its plan (a run killed as it began or
    // ended) are not a shard's to take over.
    std::fs::create_dir_all(journal(dir.path())).unwrap();
    std::fs::write(journal(dir.path()).join("stage-0-pass-0.done"), "0\n").unwrap();
    let (array, target, _) = job(dir.path(), "sharded.zarr", false);
    let e = array
        .store_with(&target, &with_journal.clone().shard(1, 0, 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("without its plan"), "{e}");
}

#[test]
fn a_whole_run_finishes_what_shards_began() {
    let dir = tempfile::tempdir().unwrap();
    let (array, target, options) = job(dir.path(), "sharded.zarr", true);
    let options = options.journal_dir(journal(dir.path()));
    let shard = array
        .store_with(&target, &options.clone().shard(1, 0, 2))
        .unwrap();
    assert!(shard.tasks_run > 0, "{shard:?}");
    let whole = array.store_with(&target, &options).unwrap();
    assert_eq!(whole.tasks_resumed, shard.tasks_run, "{whole:?}");
    assert!(!journal(dir.path()).exists(), "the journal is removed");
    let written = Array::<f64>::from_store(Arc::new(target)).unwrap();
    assert_eq!(written.compute().unwrap(), array.compute().unwrap());
}

/// Each time step's spatial mean of the job's array (one output block
/// per input chunk), stored in `dst`.
fn reduction_job(dir: &Path, dst: &str, create: bool) -> (Array<f64>, ZarrStore, ComputeOptions) {
    let (array, _, options) = job(dir, "unused.zarr", !dir.join("unused.zarr").exists());
    let means = array.mean([1, 2], false);
    let meta = ArrayMeta::new(means.grid().clone(), DType::Float64, Scalar::Float(0.0));
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Gzip(5));
    let target = if create {
        ZarrStore::create(dir.join(dst), "/", &spec).unwrap()
    } else {
        ZarrStore::open_dir(dir.join(dst)).unwrap()
    };
    (means, target, options)
}

/// A reduction's output blocks are dealt out whole: shards of it, in
/// separate processes side by side, give the bytes of one run, and a whole
/// run then finds every leaf done.
#[test]
fn a_reduction_runs_as_shards() {
    let dir = tempfile::tempdir().unwrap();
    let (means, whole, options) = reduction_job(dir.path(), "whole.zarr", true);
    means.store_with(&whole, &options).unwrap();
    let (means, sharded, _) = reduction_job(dir.path(), "sharded.zarr", true);
    let stages = means
        .store_plan(sharded.meta(), &options)
        .unwrap()
        .shard_stages();
    assert_eq!(stages.len(), 1, "{stages:?}");
    assert_eq!(stages[0].tasks, 200, "one task per output block");
    let children: Vec<Child> = (0..3)
        .map(|i| spawn_shard_of("reduction", dir.path(), 1, i, 3))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a shard failed");
    }
    assert_eq!(
        store_files(&dir.path().join("sharded.zarr")),
        store_files(&dir.path().join("whole.zarr"))
    );
    let report = means
        .store_with(&sharded, &options.journal_dir(journal(dir.path())))
        .unwrap();
    assert_eq!(report.tasks_run, 0, "{report:?}");
    assert_eq!(report.tasks_resumed, stages[0].tasks, "{report:?}");
}

/// A climate-like field (time, lat, lon), monthly for 30 years, in Kelvin:
/// a meridional gradient, a seasonal cycle whose amplitude grows towards
/// the poles and flips between hemispheres, planetary waves drifting
/// eastwards and a slow warming trend. Smooth, as a model's output is.
fn climate(t: u64, lat: u64, lon: u64) -> f32 {
    let phi = (-87.5 + 3.75 * lat as f64).to_radians();
    let lambda = (lon as f64 * 5.625).to_radians();
    let month = (t % 12) as f64;
    let season = (2.0 * std::f64::consts::PI * month / 12.0).cos();
    let kelvin = 300.0 - 45.0 * phi.sin().powi(2) - 12.0 * phi.sin() * season
        + 3.0 * (2.0 * phi).cos() * (3.0 * lambda + 0.05 * t as f64).sin()
        + 0.03 * t as f64 / 12.0;
    kelvin as f32
}

const CLIMATE_SHAPE: [u64; 3] = [360, 48, 64];
const CLIMATE_CHUNKS: [u64; 3] = [30, 8, 16];

/// The anomaly of [`climate`] from its time mean (`x - x.mean(time,
/// keepdims)`: a reduction whose result is kept for a blocks stage),
/// stored into `dst` in the source's chunks, or, with `series`, rechunked
/// to time series (a rechunk stage after the kept reduction). The source
/// is written once, in `dir/climate.zarr`.
fn anomaly_job(
    dir: &Path,
    dst: &str,
    create: bool,
    series: bool,
) -> (Array<f32>, ZarrStore, ComputeOptions) {
    let src = dir.join("climate.zarr");
    if !src.exists() {
        let grid = ChunkGrid::regular(&CLIMATE_SHAPE, &CLIMATE_CHUNKS).unwrap();
        let meta = ArrayMeta::new(grid.clone(), DType::Float32, Scalar::Float(f64::NAN));
        let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Gzip(5));
        let store = ZarrStore::create(&src, "/", &spec).unwrap();
        let shape = CLIMATE_SHAPE.map(|n| n as usize);
        let values = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&shape), |i| {
            climate(i[0] as u64, i[1] as u64, i[2] as u64)
        });
        Array::from_ndarray(values, CLIMATE_CHUNKS.to_vec())
            .unwrap()
            .store_with(&store, &ComputeOptions::new().progress(false))
            .unwrap();
    }
    let source: Arc<dyn ChunkStore> = Arc::new(ZarrStore::open_dir(&src).unwrap());
    let x = Array::<f32>::from_store(source).unwrap();
    let mut anomaly = &x - &x.mean([0], true);
    let chunks = if series {
        anomaly = anomaly.rechunk(vec![360, 4, 4]);
        [360, 4, 4]
    } else {
        CLIMATE_CHUNKS
    };
    let grid = ChunkGrid::regular(&CLIMATE_SHAPE, &chunks).unwrap();
    let meta = ArrayMeta::new(grid, DType::Float32, Scalar::Float(f64::NAN));
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Gzip(5));
    let target = if create {
        ZarrStore::create(dir.join(dst), "/", &spec).unwrap()
    } else {
        ZarrStore::open_dir(dir.join(dst)).unwrap()
    };
    // (Time series in 512 KiB: the rechunk goes through an intermediate.)
    let options = ComputeOptions::default()
        .max_mem(if series { 512 << 10 } else { 4 << 20 })
        .threads(1)
        .progress(false);
    (anomaly, target, options)
}

/// Runs the `kind` anomaly job as `count` shard processes per stage, the
/// first shard of stage `killed` killed with `kill -9` once it has done a
/// task and run again, then finishes the shards; the store's files must
/// be those of one run in this process. Returns the shard stages.
fn anomaly_in_processes(kind: &str, count: u64, killed: usize) -> Vec<ndchunk::ShardStage> {
    let dir = tempfile::tempdir().unwrap();
    let series = kind == "anomaly-series";
    let (anomaly, whole, options) = anomaly_job(dir.path(), "whole.zarr", true, series);
    let started = std::time::Instant::now();
    anomaly.store_with(&whole, &options).unwrap();
    let one_run = started.elapsed();
    let (anomaly, sharded, _) = anomaly_job(dir.path(), "sharded.zarr", true, series);
    let plan = anomaly.store_plan(sharded.meta(), &options).unwrap();
    assert!(plan.stages().len() >= 2, "{plan}");
    let stages = plan.shard_stages();
    assert!(stages[0].description.starts_with("reduction"), "{stages:?}");
    let started = std::time::Instant::now();
    for (s, stage) in stages.iter().enumerate() {
        let stage_number = s + 1;
        assert!(stage.tasks >= 2 * count, "{stage:?}");
        let mut children: Vec<Child> = (0..count)
            .map(|i| spawn_shard_of(kind, dir.path(), stage_number, i, count))
            .collect();
        if stage_number == killed {
            let log = plan_log(&plan, s);
            let log = journal(dir.path()).join(format!("{log}-shard-0-of-{count}.done"));
            kill_once_logged(&mut children[0], &log);
            children[0] = spawn_shard_of(kind, dir.path(), stage_number, 0, count);
        }
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a shard of stage {stage_number} failed"
            );
        }
    }
    let report = anomaly
        .store_with(
            &sharded,
            &options.journal_dir(journal(dir.path())).finish_shards(),
        )
        .unwrap();
    assert_eq!(report.tasks_run, 0, "{report:?}");
    eprintln!(
        "{kind}: {} shard stages of {count} processes in {:.2} s (one run in this process: {:.2} s)",
        stages.len(),
        started.elapsed().as_secs_f64(),
        one_run.as_secs_f64()
    );
    assert!(!journal(dir.path()).exists(), "the journal is removed");
    assert_eq!(
        store_files(&dir.path().join("sharded.zarr")),
        store_files(&dir.path().join("whole.zarr")),
        "the sharded run's chunks differ from one run's"
    );
    // The anomaly's values: the time mean of each point is gone.
    let written = Array::<f32>::from_store(Arc::new(sharded)).unwrap();
    let mean = written.mean([0], false).compute().unwrap();
    assert!(mean.iter().all(|m| m.abs() < 1e-3), "{mean:?}");
    stages
}

/// The journal log of shard stage `s` (from 0) of a plan of a reduction
/// then a blocks stage or a rechunk, as the journal names it.
fn plan_log(plan: &ndchunk::Plan, s: usize) -> String {
    if s == 0 {
        return "stage-0-reduce".into();
    }
    match plan.stages()[1].kind() {
        StageKind::Blocks => "stage-1-blocks".into(),
        _ => format!("stage-1-pass-{}", s - 1),
    }
}

/// An anomaly from the time mean, as shards: the mean's stage (killed
/// once mid-stage and run again) writes it into the journal, the
/// subtraction's shards read it there.
#[test]
fn an_anomaly_from_a_kept_mean_runs_as_shards() {
    let stages = anomaly_in_processes("anomaly", 3, 1);
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(stages[0].tasks, 24, "one task per output block of the mean");
    assert_eq!(stages[1].tasks, 288, "one task per block of the anomaly");
}

/// The anomaly rechunked to time series: the rechunk's two passes follow
/// the kept mean, one shard of the first (which reads the mean from the
/// journal and writes the intermediate) killed once and run again.
#[test]
fn an_anomaly_rechunked_after_a_kept_mean_runs_as_shards() {
    let stages = anomaly_in_processes("anomaly-series", 2, 2);
    assert_eq!(stages.len(), 3, "{stages:?}");
    assert!(stages[1].description.starts_with("pass 1/2"), "{stages:?}");
    assert!(stages[2].description.starts_with("pass 2/2"), "{stages:?}");
}

/// A later stage refuses to start before every shard of the earlier ones
/// has finished, writing nothing; once they have, its shards read the
/// kept mean from the journal and compute only their share.
#[test]
fn a_stage_after_a_kept_result_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let (anomaly, target, options) = anomaly_job(dir.path(), "sharded.zarr", true, false);
    let options = options.journal_dir(journal(dir.path()));
    let written = || store_files(&dir.path().join("sharded.zarr"));
    let empty = written();
    let refused = |options: &ComputeOptions| match anomaly.store_with(&target, options) {
        Err(e @ Error::Invalid { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let e = refused(&options.clone().shard(2, 0, 2));
    assert!(
        e.contains("stage 2 cannot start: stage 1 is not finished"),
        "{e}"
    );
    anomaly
        .store_with(&target, &options.clone().shard(1, 1, 2))
        .unwrap();
    let e = refused(&options.clone().shard(2, 1, 2));
    assert!(e.contains("stage 1 is not finished"), "{e}");
    let e = refused(&options.clone().finish_shards());
    assert!(e.contains("stage 1 is not finished"), "{e}");
    let e = refused(&options.clone().shard(1, 2, 2));
    assert!(e.contains("shard index 2 is out of range"), "{e}");
    let e = refused(&options.clone().shard(3, 0, 2));
    assert!(
        e.contains("stage 3 does not exist: the plan has stages 1 to 2"),
        "{e}"
    );
    assert_eq!(written(), empty, "nothing is written to the destination");
    // The mean's other half; its blocks are in the journal, not the store.
    let report = anomaly
        .store_with(&target, &options.clone().shard(1, 0, 2))
        .unwrap();
    assert_eq!(
        report.tasks_run,
        12 * 2,
        "12 output blocks of 2 leaves of 8 chunks"
    );
    assert_eq!(written(), empty, "the mean goes to the journal");
    // Stage 2 reads the mean there: without it, its shards fail rather
    // than compute it again.
    let kept = journal(dir.path()).join("scratch-stage-0-result");
    let aside = dir.path().join("mean-aside");
    std::fs::rename(&kept, &aside).unwrap();
    let e = anomaly
        .store_with(&target, &options.clone().shard(2, 0, 3))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
    if kept.exists() {
        std::fs::remove_dir_all(&kept).unwrap();
    }
    std::fs::rename(&aside, &kept).unwrap();
    // Stage 2's shard computes its blocks alone: no leaf of the mean.
    let report = anomaly
        .store_with(&target, &options.clone().shard(2, 0, 3))
        .unwrap();
    assert_eq!(report.tasks_run, 96, "{report:?}");
    let e = refused(&options.clone().finish_shards());
    assert!(e.contains("stage 2 is not finished"), "{e}");
    for i in 1..3 {
        anomaly
            .store_with(&target, &options.clone().shard(2, i, 3))
            .unwrap();
    }
    anomaly
        .store_with(&target, &options.clone().finish_shards())
        .unwrap();
    assert!(!journal(dir.path()).exists(), "the journal is removed");
    let stored = Array::<f32>::from_store(Arc::new(target)).unwrap();
    assert_eq!(stored.compute().unwrap(), anomaly.compute().unwrap());
}

/// Runs `expr` into `dir/whole.zarr` in one run, and into
/// `dir/sharded.zarr` as shards here, one after the other, two per stage
/// (`dst` makes each store); the stores' files must be equal. Returns the
/// plan.
fn shards_here_give_one_run(
    dir: &Path,
    expr: &Array<f32>,
    dst: impl Fn(&str) -> ZarrStore,
    options: &ComputeOptions,
) -> ndchunk::Plan {
    let whole = dst("whole.zarr");
    expr.store_with(&whole, options).unwrap();
    let sharded = dst("sharded.zarr");
    let plan = expr.store_plan(sharded.meta(), options).unwrap();
    let options = options.clone().journal_dir(journal(dir));
    for stage in 1..=plan.shard_stages().len() {
        for i in 0..2 {
            expr.store_with(&sharded, &options.clone().shard(stage, i, 2))
                .unwrap();
        }
    }
    expr.store_with(&sharded, &options.finish_shards()).unwrap();
    assert_eq!(
        store_files(&dir.join("sharded.zarr")),
        store_files(&dir.join("whole.zarr")),
        "the sharded run's chunks differ from one run's"
    );
    plan
}

/// Each map standardised, `(x - mean) / std` over latitude and longitude:
/// two reductions of one source, which a whole run reads together (a joint
/// group), are a shard stage each, both kept in the journal for the last
/// stage.
#[test]
fn reductions_read_together_are_a_shard_stage_each() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, options) = anomaly_job(dir.path(), "unused.zarr", true, false);
    let x = Array::<f32>::from_store(Arc::new(
        ZarrStore::open_dir(dir.path().join("climate.zarr")).unwrap(),
    ))
    .unwrap();
    let z = (&x - &x.mean([1, 2], true)) / &x.std([1, 2], true, 0);
    let dst = |name: &str| anomaly_job(dir.path(), name, true, false).1;
    let plan = shards_here_give_one_run(dir.path(), &z, dst, &options.max_mem(64 << 20));
    assert!(plan.to_string().contains("runs with stage 1"), "{plan}");
    assert_eq!(plan.shard_stages().len(), 3);
}

/// A rechunk to time series kept for a reduction (each series' running
/// spread from its mean, here its standard deviation): the rechunk's last
/// pass writes the kept result into the journal.
#[test]
fn a_kept_rechunk_runs_as_shards() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, options) = anomaly_job(dir.path(), "unused.zarr", true, false);
    let x = Array::<f32>::from_store(Arc::new(
        ZarrStore::open_dir(dir.path().join("climate.zarr")).unwrap(),
    ))
    .unwrap();
    let series = x.rechunk(vec![360, 4, 4]);
    let spread = series.std([0], false, 1);
    let dst = |name: &str| {
        let grid = ChunkGrid::regular(&[48, 64], &[4, 4]).unwrap();
        let meta = ArrayMeta::new(grid, DType::Float32, Scalar::Float(f64::NAN));
        let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Gzip(5));
        ZarrStore::create(dir.path().join(name), "/", &spec).unwrap()
    };
    let plan = shards_here_give_one_run(dir.path(), &spread, dst, &options.max_mem(512 << 10));
    let kinds: Vec<&StageKind> = plan.stages().iter().map(|s| s.kind()).collect();
    assert!(
        matches!(
            kinds[..],
            [StageKind::Rechunk { .. }, StageKind::Reduce { .. }]
        ),
        "{plan}"
    );
    assert!(
        plan.stages()[0].residence() != ndchunk::Residence::Sink,
        "{plan}"
    );
}
