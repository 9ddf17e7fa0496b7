//! A plan run as shards in separate processes (`ComputeOptions::shard`):
//! this test binary runs itself as the shard processes, kills one with
//! `kill -9` and runs it again, and the store's chunks are byte for byte
//! those of a run in one process. A stage waits for every shard of the
//! stage before it; bad shards and unshardable plans are refused.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use cli::{doubled_store, kill_once_logged, store_files};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions, Error};

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
    let (array, target, options) = match std::env::var(KIND).as_deref() {
        Ok("reduction") => reduction_job(dir, "sharded.zarr", false),
        _ => job(dir, "sharded.zarr", false),
    };
    let options = options
        .journal_dir(journal(dir))
        .shard(stage as usize, index, count);
    array.store_with(&target, &options).unwrap();
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
        .shard_stages()
        .unwrap();
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
fn bad_shards_and_unshardable_plans_are_refused() {
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
    std::fs::remove_dir_all(journal(dir.path())).unwrap();
    // An anomaly: the mean is kept in memory for the subtraction.
    let (array, target, _) = job(dir.path(), "sharded.zarr", false);
    let anomaly = &array - &array.mean([0], true);
    let e = anomaly
        .store_with(&target, &with_journal.shard(1, 0, 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot run as shards"), "{e}");
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
        .shard_stages()
        .unwrap();
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
