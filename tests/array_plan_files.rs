//! Plan files (`Array::save_plan`, `PlanFile::load`, `PlanFile::run`): a
//! lazy expression over a Zarr store written here is saved, and each
//! stage's shards run in separate processes (this test binary started
//! again) that only load the file, one of them killed with `kill -9` and
//! run again; the output store's files are byte for byte those of one
//! `store_with` in this process. Expressions over every serialisable
//! operation come back from their files to the same bytes. Closures and
//! in-memory data are refused when saving, naming the operation; a source
//! changed after planning, a file of another layout or version, and a
//! hand-edited file are refused when loading.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};

use cli::{kill_once_logged, store_files};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::io::hdf5::Compression;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, ChunkStoreExt, DType, Hdf5Store, Scalar, ZarrStore};
use ndchunk::{
    concatenate, stack, where_, Array, Axes, CoarsenBoundary, ComputeOptions, Downsample, DynArray,
    FilterOptions, Index, PadMode, PlanFile, ReduceOptions,
};

const DIR: &str = "NDCHUNK_PLAN_FILE_TEST_DIR";
const SHARD: &str = "NDCHUNK_PLAN_FILE_TEST_SHARD";

/// A smooth field (time, y, x): seasonal cycle plus a spatial pattern.
fn smooth(shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| {
        let (t, y, x) = (i[0] as f64, i[1] as f64, i[2] as f64);
        280.0 + 10.0 * (t / 15.0).sin() + 5.0 * (y / 9.0).cos() * (x / 11.0).sin()
    })
}

/// A Zarr v3 array at `path` holding [`smooth`] of `shape` in `chunks`.
fn source(path: &Path, shape: &[usize], chunks: &[u64]) -> Arc<dyn ChunkStore> {
    let shape64: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    let grid = ChunkGrid::regular(&shape64, chunks).unwrap();
    let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(0.0));
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Gzip(5));
    let store = ZarrStore::create(path, "/", &spec).unwrap();
    Array::from_ndarray(smooth(shape), chunks.to_vec())
        .unwrap()
        .store_with(&store, &ComputeOptions::new().progress(false))
        .unwrap();
    Arc::new(ZarrStore::open_dir(path).unwrap())
}

/// A new Zarr v3 store at `path` for `array`'s shape and dtype, in
/// chunks of `chunks`.
fn target(path: &Path, dtype: DType, shape: &[u64], chunks: &[u64]) -> ZarrStore {
    let grid = ChunkGrid::regular(shape, chunks).unwrap();
    let fill = match dtype {
        DType::Bool => Scalar::Bool(false),
        DType::Float32 | DType::Float64 => Scalar::Float(0.0),
        _ => Scalar::Int(0),
    };
    let meta = ArrayMeta::new(grid, dtype, fill);
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    ZarrStore::create(path, "/", &spec).unwrap()
}

/// The sharded job: an anomaly-like expression over a (200, 64, 64)
/// source in one-step chunks, stored as time series (200, 8, 8) within
/// 4 MiB on one thread: a rechunk through an intermediate, two stages.
fn sharded_job(dir: &Path) -> Array<f64> {
    let src = dir.join("src.zarr");
    let store = if src.exists() {
        Arc::new(ZarrStore::open_dir(&src).unwrap()) as Arc<dyn ChunkStore>
    } else {
        source(&src, &[200, 64, 64], &[1, 64, 64])
    };
    let a = Array::<f64>::from_store(store).unwrap();
    let warm = where_(&a.greater(280.0), ((&a - 280.0) * 0.5).sqrt(), 0.0);
    (warm + &a / 100.0).clip(0.0, 100.0)
}

fn options() -> ComputeOptions {
    ComputeOptions::new()
        .max_mem(4 << 20)
        .threads(1)
        .progress(false)
}

/// The child: loads the plan file and runs shard `stage/index/count`;
/// nothing of the expression is built here.
#[test]
#[ignore = "run as a child process by shards_of_a_plan_file_give_the_bytes_of_one_run"]
fn child_runs_a_shard_of_the_plan_file() {
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
    let plan = PlanFile::load(dir.join("plan.json")).unwrap();
    let options = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"))
        .shard(stage as usize, index, count);
    plan.run(&options).unwrap();
}

fn spawn_shard(dir: &Path, stage: usize, index: u64, count: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "child_runs_a_shard_of_the_plan_file",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(DIR, dir)
        .env(SHARD, format!("{stage}/{index}/{count}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[test]
fn shards_of_a_plan_file_give_the_bytes_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let job = sharded_job(dir);
    let whole = target(
        &dir.join("whole.zarr"),
        DType::Float64,
        &[200, 64, 64],
        &[200, 8, 8],
    );
    job.store_with(&whole, &options()).unwrap();
    let sharded = target(
        &dir.join("sharded.zarr"),
        DType::Float64,
        &[200, 64, 64],
        &[200, 8, 8],
    );
    let saved = job
        .save_plan(&sharded, &options(), dir.join("plan.json"))
        .unwrap();
    let stages = saved.shard_stages();
    assert!(stages.len() >= 2, "{}", saved.explain());

    // What the file says: every task's output and input regions, whose
    // outputs cover each stage's output once.
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(file["destination"]["kind"], "zarr");
    assert_eq!(file["sources"][0]["kind"], "zarr");
    assert_eq!(file["identity"], saved.identity());
    for stage in file["stages"].as_array().unwrap() {
        let tasks = stage["task_list"].as_array().unwrap();
        assert_eq!(tasks.len() as u64, stage["tasks"].as_u64().unwrap());
        let elements: u64 = tasks
            .iter()
            .map(|t| {
                let start = t["writes"]["start"].as_array().unwrap();
                let stop = t["writes"]["stop"].as_array().unwrap();
                start
                    .iter()
                    .zip(stop)
                    .map(|(a, b)| b.as_u64().unwrap() - a.as_u64().unwrap())
                    .product::<u64>()
            })
            .sum();
        assert_eq!(elements, 200 * 64 * 64, "{stage}");
        assert!(stage["task_bytes"].as_u64().unwrap() <= 4 << 20);
    }

    let count = 3;
    for (s, stage) in stages.iter().enumerate() {
        let stage_number = s + 1;
        assert!(stage.tasks >= 2 * count, "{stage:?}");
        let mut children: Vec<Child> = (0..count)
            .map(|i| spawn_shard(dir, stage_number, i, count))
            .collect();
        // Shard 0 of the first stage is killed once it has done a task,
        // then run again: it does only what is left.
        if stage_number == 1 {
            let log = dir.join("journal/stage-0-pass-0-shard-0-of-3.done");
            kill_once_logged(&mut children[0], &log);
            children[0] = spawn_shard(dir, stage_number, 0, count);
        }
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a shard of stage {stage_number} failed"
            );
        }
    }
    // Every stage finished: checked, and the journal removed.
    let plan = PlanFile::load(dir.join("plan.json")).unwrap();
    let finish = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"))
        .finish_shards();
    plan.run(&finish).unwrap();
    assert!(!dir.join("journal").exists());
    let (sharded, whole) = (
        store_files(&dir.join("sharded.zarr")),
        store_files(&dir.join("whole.zarr")),
    );
    assert!(whole.len() > 64, "{} files", whole.len());
    assert!(
        sharded == whole,
        "the sharded run's chunks differ from one run's"
    );
}

/// Stores `array` in this process and through a plan file (saved, loaded,
/// run whole), into stores of chunks `chunks`; both must hold the same
/// bytes.
fn same_through_a_file(dir: &Path, name: &str, array: &DynArray, chunks: &[u64]) {
    let shape = array.shape();
    let here = target(
        &dir.join(format!("{name}-here.zarr")),
        array.dtype(),
        &shape,
        chunks,
    );
    array.store_with(&here, &options()).unwrap();
    let there = target(
        &dir.join(format!("{name}-file.zarr")),
        array.dtype(),
        &shape,
        chunks,
    );
    let path = dir.join(format!("{name}.json"));
    array
        .save_plan(&there, &options(), &path)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let plan = PlanFile::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    plan.run(&ComputeOptions::new().progress(false)).unwrap();
    assert!(
        store_files(&dir.join(format!("{name}-here.zarr")))
            == store_files(&dir.join(format!("{name}-file.zarr"))),
        "{name}: the plan file's run differs"
    );
}

#[test]
fn every_serialisable_operation_comes_back_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let store = source(&dir.join("src.zarr"), &[20, 12, 10], &[4, 5, 5]);
    let a = Array::<f64>::from_store(store).unwrap();
    let all = Index::ALL;
    let cases: Vec<(&str, DynArray, Vec<u64>)> = vec![
        (
            "arithmetic",
            ((&a * 2.0 + 1.0 - &a / 3.0).abs() * &a).into(),
            vec![20, 6, 5],
        ),
        (
            "functions",
            ((&a / 300.0).sin() + (&a / 300.0).cos().tanh() + a.log10() + a.sqrt().exp().log()
                - (&a / 1000.0).powf(1.5)
                + (&a / 1000.0).powf(2.0)
                + (&a / 600.0).arcsin().rad2deg().deg2rad())
            .into(),
            vec![10, 12, 10],
        ),
        (
            "logic",
            where_(
                &((a.greater(281.0) & a.less_equal(287.0)) | !a.not_equal(280.0)),
                &a,
                -1.0,
            )
            .clip(0.0, 286.0)
            .into(),
            vec![5, 5, 5],
        ),
        (
            "compare",
            a.greater_equal(a.mean(0, true)).into(),
            vec![20, 12, 10],
        ),
        ("astype", a.astype::<i32>().into(), vec![7, 12, 3]),
        (
            "astype_bool",
            DynArray::from(a.less(279.0)).astype::<f32>().into(),
            vec![20, 12, 10],
        ),
        (
            "nan_tests",
            (a.isnan() | a.isinf()).logical_xor(a.isfinite()).into(),
            vec![20, 12, 10],
        ),
        (
            "mean",
            a.mean_with(0, &ReduceOptions::default().split_every(2))
                .into(),
            vec![6, 5],
        ),
        ("var", a.var([0, 2], true, 1).into(), vec![1, 12, 1]),
        ("std", a.nanstd(Axes::All, false, 0).into(), vec![]),
        ("argmax", a.argmax(1).into(), vec![20, 10]),
        (
            "min",
            (a.min(0, false) + a.nanmax(0, false)).into(),
            vec![12, 10],
        ),
        ("any", a.greater(289.0).any(2, false).into(), vec![20, 12]),
        (
            "count",
            a.greater(283.0).count_nonzero([0, 1], false).into(),
            vec![10],
        ),
        ("sum", a.sum(1, false).into(), vec![20, 10]),
        ("cumsum", a.cumsum(0).into(), vec![20, 12, 10]),
        (
            "rechunk",
            (a.rechunk([20, 1, 10]) * 2.0).into(),
            vec![20, 12, 10],
        ),
        (
            "slice",
            a.slice(&[Index::range(2, 18, 3), Index::At(-1), Index::NewAxis, all])
                .into(),
            vec![6, 1, 10],
        ),
        (
            "transpose",
            a.transpose(&[2, 0, 1]).into(),
            vec![10, 20, 12],
        ),
        (
            "reshape",
            a.rechunk([4, 12, 10]).reshape(&[20, 120]).into(),
            vec![4, 60],
        ),
        (
            "concatenate",
            concatenate(&[a.clone(), (&a * 3.0).slice(&[Index::range(0, 5, 1)])], 0).into(),
            vec![25, 12, 10],
        ),
        (
            "stack",
            stack(&[a.clone(), a.sqrt()], 1).into(),
            vec![20, 2, 12, 10],
        ),
        (
            "pad",
            (a.pad(&[(2, 1)], PadMode::Reflect) + a.pad(&[(1, 2)], PadMode::Constant(-3.0))).into(),
            vec![23, 15, 13],
        ),
        ("take", a.take(&[3, 0, -1, 3], 1).into(), vec![20, 4, 10]),
        (
            "dims",
            a.expand_dims(0)
                .squeeze(Some(&[0]))
                .broadcast_to(&[2, 20, 12, 10])
                .into(),
            vec![1, 20, 12, 10],
        ),
        (
            "sources",
            (&a + &Array::<f64>::arange(10, [3]).unwrap()
                + &Array::<f64>::linspace(0.0, 1.0, 10, true, [4]).unwrap()
                + &Array::<f64>::random_normal(3, 0.0, 1.0, &[12, 10], [5, 5]).unwrap()
                + &Array::<f64>::random_uniform(4, &[20, 12, 10], [20, 3, 3]).unwrap()
                + &Array::<f64>::full(&[10], 2.5, [10]).unwrap()
                + &Array::<f64>::ones(&[1, 1, 10], [1, 1, 5]).unwrap())
                .into(),
            vec![20, 12, 10],
        ),
        (
            "filters",
            (a.gaussian_filter(&[1.0, 0.5, 2.0], &FilterOptions::new())
                + a.median_filter(&[3], &FilterOptions::new().mode(PadMode::Constant(1.0)))
                + a.uniform_filter(&[2, 3, 1], &FilterOptions::new().mode(PadMode::Wrap))
                + a.laplace(&FilterOptions::new())
                + a.gaussian_gradient_magnitude(&[1.5], &FilterOptions::new().truncate(2.0))
                + a.minimum_filter(&[3], &FilterOptions::new())
                - a.maximum_filter(&[1, 5, 1], &FilterOptions::new()))
            .into(),
            vec![10, 6, 5],
        ),
        (
            "sobel",
            a.astype::<u16>()
                .sobel(1, &FilterOptions::new().mode(PadMode::Edge))
                .into(),
            vec![20, 12, 10],
        ),
        (
            "coarsen",
            (a.coarsen(&[2, 3, 2], Downsample::Mean, CoarsenBoundary::Exact)
                + a.coarsen(&[2, 3, 2], Downsample::Max, CoarsenBoundary::Exact))
            .into(),
            vec![5, 4, 5],
        ),
        (
            "coarsen_trim",
            a.astype::<i32>()
                .coarsen(&[3, 5, 4], Downsample::Mode, CoarsenBoundary::Trim)
                .into(),
            vec![6, 2, 2],
        ),
        (
            "shared",
            {
                let b = (&a * 2.0).rechunk([10, 12, 10]);
                (&b + &b.mean(0, true)).into()
            },
            vec![20, 12, 10],
        ),
        (
            "dynamic",
            DynArray::from(a.clone()).reduce(ndchunk::Reduction::Std { ddof: 1 }, &[0], false),
            vec![12, 10],
        ),
    ];
    for (name, array, chunks) in &cases {
        same_through_a_file(dir, name, array, chunks);
    }
}

/// A netCDF-3 file (a real one, written by FERRET) comes back as the
/// variable on the grid it was read on; the file changed is refused.
#[test]
fn a_netcdf3_source_comes_back_from_its_file_on_its_grid() {
    let Some(fixture) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let path = dir.join("coads.cdf");
    std::fs::copy(&fixture, &path).unwrap();
    let grid = ChunkGrid::regular(&[12, 90, 180], &[3, 45, 60]).unwrap();
    let sst = ndchunk::io::netcdf3::Netcdf3Store::open(&path, "SST", Some(grid.clone())).unwrap();
    let sst = Arc::new(sst);
    let a = Array::<f32>::from_store(sst).unwrap();
    let anomaly = (&a - &a.mean(0, true)).rechunk([12, 30, 30]);
    same_through_a_file(dir, "netcdf3", &anomaly.into(), &[12, 30, 30]);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("netcdf3.json")).unwrap()).unwrap();
    let source = &file["sources"][0];
    assert_eq!(source["kind"], "netcdf3", "{file}");
    assert_eq!(source["variable"], "SST");
    assert_eq!(
        source["grid"],
        serde_json::to_value(&grid).unwrap(),
        "{file}"
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let e = PlanFile::load(dir.join("netcdf3.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has changed since the plan was made"), "{e}");
}

#[test]
fn an_hdf5_source_comes_back_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let path = dir.join("field.h5");
    let grid = ChunkGrid::regular(&[20, 12, 10], &[5, 6, 10]).unwrap();
    let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(0.0));
    {
        let h5 = Hdf5Store::create(&path, "t2m", &meta, Compression::deflate(4)).unwrap();
        Array::from_ndarray(smooth(&[20, 12, 10]), [5, 6, 10])
            .unwrap()
            .store_with(&h5, &options())
            .unwrap();
        h5.flush().unwrap();
    }
    let h5 = Arc::new(Hdf5Store::open(&path, "t2m").unwrap());
    let a = Array::<f64>::from_store(h5).unwrap();
    let anomaly = (&a - &a.mean(0, true)).rechunk([20, 3, 5]);
    same_through_a_file(dir, "hdf5", &anomaly.into(), &[20, 3, 5]);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("hdf5.json")).unwrap()).unwrap();
    assert_eq!(file["sources"][0]["kind"], "hdf5", "{file}");
    assert_eq!(file["sources"][0]["dataset"], "t2m");
    // An HDF5 destination is refused: shards cannot share its one writer.
    let h5_out = Hdf5Store::create(
        &dir.join("out.h5"),
        "anomaly",
        &ArrayMeta::new(
            ChunkGrid::regular(&[20, 12, 10], &[20, 3, 5]).unwrap(),
            DType::Float64,
            Scalar::Float(0.0),
        ),
        Compression::deflate(1),
    )
    .unwrap();
    let e = (&a * 2.0)
        .save_plan(&h5_out, &options(), dir.join("h5-out.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("plan files write Zarr arrays"), "{e}");
    drop(h5_out);
    // The file rewritten (touched) after planning: refused.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let e = PlanFile::load(dir.join("hdf5.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has changed since the plan was made"), "{e}");
}

/// An anomaly from a mean kept between stages, run from its file as
/// shards (the mean's written into the journal by its stage's shards, read
/// there by the subtraction's), one stage after the other: the bytes of
/// one `store_with`.
#[test]
fn a_plan_that_keeps_results_between_stages_runs_as_shards_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let store = source(&dir.join("src.zarr"), &[20, 12, 10], &[4, 5, 5]);
    let a = Array::<f64>::from_store(store).unwrap();
    let anomaly: DynArray = (&a - &a.mean(0, true)).into();
    same_through_a_file(dir, "anomaly", &anomaly, &[4, 5, 5]);
    let sharded = target(
        &dir.join("sharded.zarr"),
        DType::Float64,
        &[20, 12, 10],
        &[4, 5, 5],
    );
    let path = dir.join("sharded.json");
    let saved = anomaly.save_plan(&sharded, &options(), &path).unwrap();
    let stages = saved.shard_stages();
    assert_eq!(stages.len(), 2, "{}", saved.explain());
    assert_eq!(stages[0].tasks, 6, "the mean's output blocks");
    assert_eq!(stages[1].tasks, 30, "the anomaly's blocks");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (stage, record) in stages.iter().zip(file["stages"].as_array().unwrap()) {
        let tasks = record["task_list"].as_array().unwrap();
        assert_eq!(tasks.len() as u64, stage.tasks, "{record}");
    }
    let journal = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"));
    let run = |options: &ComputeOptions| PlanFile::load(&path).unwrap().run(options);
    let e = run(&journal.clone().shard(2, 0, 2))
        .unwrap_err()
        .to_string();
    assert!(e.contains("stage 1 is not finished"), "{e}");
    for (stage, count) in [(1, 3), (2, 2)] {
        for i in 0..count {
            run(&journal.clone().shard(stage, i, count)).unwrap();
        }
    }
    run(&journal.clone().finish_shards()).unwrap();
    assert!(!dir.join("journal").exists());
    assert!(
        store_files(&dir.join("sharded.zarr")) == store_files(&dir.join("anomaly-here.zarr")),
        "the shards' store differs from one store_with"
    );
}

#[test]
fn a_reduction_runs_as_shards_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let store = source(&dir.join("src.zarr"), &[24, 12, 10], &[4, 3, 5]);
    let a = Array::<f64>::from_store(store).unwrap();
    let spread = a.std_with(0, 1, &ReduceOptions::default().split_every(3));
    let whole = target(&dir.join("whole.zarr"), DType::Float64, &[12, 10], &[3, 5]);
    spread.store_with(&whole, &options()).unwrap();
    let sharded = target(
        &dir.join("sharded.zarr"),
        DType::Float64,
        &[12, 10],
        &[3, 5],
    );
    let path = dir.join("spread.json");
    let saved = spread.save_plan(&sharded, &options(), &path).unwrap();
    assert_eq!(saved.shard_stages().len(), 1);
    assert_eq!(saved.shard_stages()[0].tasks, 8);
    let journal = ComputeOptions::new()
        .progress(false)
        .journal_dir(dir.join("journal"));
    for i in 0..3 {
        let plan = PlanFile::load(&path).unwrap();
        plan.run(&journal.clone().shard(1, i, 3)).unwrap();
    }
    PlanFile::load(&path)
        .unwrap()
        .run(&journal.finish_shards())
        .unwrap();
    assert!(
        store_files(&dir.join("sharded.zarr")) == store_files(&dir.join("whole.zarr")),
        "the sharded reduction differs from one run's"
    );
    // Each task reads its output block's columns over the whole reduced axis.
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let last = &file["stages"][0]["task_list"][7];
    assert_eq!(last["writes"]["start"], serde_json::json!([9, 5]), "{last}");
    assert_eq!(
        last["reads"]["start"],
        serde_json::json!([0, 9, 5]),
        "{last}"
    );
    assert_eq!(
        last["reads"]["stop"],
        serde_json::json!([24, 12, 10]),
        "{last}"
    );
}

fn save_error(array: &DynArray, dir: &Path) -> String {
    let shape = array.shape();
    let chunks: Vec<u64> = shape.iter().map(|&n| n.max(1)).collect();
    let store = target(&dir.join("refused.zarr"), array.dtype(), &shape, &chunks);
    let error = array
        .save_plan(&store, &options(), dir.join("refused.json"))
        .unwrap_err()
        .to_string();
    assert!(!dir.join("refused.json").exists(), "no file is written");
    error
}

#[test]
fn local_operations_are_refused_when_saving() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let store = source(&dir.join("src.zarr"), &[8, 6, 4], &[4, 3, 4]);
    let a = Array::<f64>::from_store(store).unwrap();
    let closure = (a.map("kelvin_to_celsius", |x| x - 273.15) + 1.0).sum(0, false);
    let e = save_error(&closure.into(), dir);
    assert!(
        e.contains(
            "`kelvin_to_celsius` runs a Rust closure: this plan can only run in this process"
        ),
        "{e}"
    );
    let blocks = a.map_blocks(|block, _| block * 2.0).sqrt();
    let e = save_error(&blocks.into(), dir);
    assert!(e.contains("`map_blocks` runs a Rust closure"), "{e}");
    let memory = &a + &Array::from_ndarray(smooth(&[8, 6, 4]), [4, 3, 4]).unwrap();
    let e = save_error(&memory.into(), dir);
    assert!(
        e.contains("`from_ndarray` reads an array in this process's memory"),
        "{e}"
    );
    let meta = ZarrStore::open_dir(dir.join("src.zarr"))
        .unwrap()
        .meta()
        .clone();
    let memory_store = Arc::new(ndchunk::io::MemoryStore::new("scratch", meta));
    let e = save_error(
        &(Array::<f64>::from_store(memory_store).unwrap() * 2.0).into(),
        dir,
    );
    assert!(e.contains("reads an in-memory store"), "{e}");
    // Nor is a plan file written into its own source.
    let out = target(
        &dir.join("out.zarr"),
        DType::Float64,
        &[8, 6, 4],
        &[8, 6, 4],
    );
    let e = (&a * 2.0)
        .save_plan(&out, &options(), dir.join("src.zarr/plan.json"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("would be written into the source"), "{e}");

    // An operation that keeps no recipe is refused by name, never saved
    // as something else.
    let (labels, _) = a.greater(283.0).label(1, &options()).unwrap();
    let e = save_error(&labels.astype::<f64>().into(), dir);
    assert!(
        e.contains("`label` computes its components when called"),
        "{e}"
    );
    // The same expressions run in this process.
    assert!(closure_runs(&a));
}

fn closure_runs(a: &Array<f64>) -> bool {
    let c = a.map("double", |x| 2.0 * x).sum(Axes::All, false);
    c.compute().is_ok()
}

/// A plan saved over the small source, and its path.
fn saved(dir: &Path) -> (PathBuf, Array<f64>) {
    let store = source(&dir.join("src.zarr"), &[8, 6, 4], &[4, 3, 4]);
    let a = Array::<f64>::from_store(store).unwrap() * 2.0;
    let out = target(
        &dir.join("out.zarr"),
        DType::Float64,
        &[8, 6, 4],
        &[8, 2, 2],
    );
    let path = dir.join("plan.json");
    a.save_plan(&out, &options(), &path).unwrap();
    (path, a)
}

fn load_error(path: &Path) -> String {
    PlanFile::load(path).unwrap_err().to_string()
}

#[test]
fn a_source_whose_metadata_changed_since_it_was_opened_is_refused_when_saving() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let store = source(&dir.join("src.zarr"), &[8, 6, 4], &[4, 3, 4]);
    let a = Array::<f64>::from_store(store).unwrap() * 2.0;
    // Its metadata replaced on disk: another fill value.
    let grid = ChunkGrid::regular(&[8, 6, 4], &[4, 3, 4]).unwrap();
    let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(1.0));
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Gzip(5));
    ZarrStore::create(dir.join("src.zarr"), "/", &spec).unwrap();
    let e = save_error(&a.into(), dir);
    assert!(e.contains("is not the one this expression reads"), "{e}");
}

#[test]
fn a_source_changed_after_planning_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved(dir.path());
    assert!(PlanFile::load(&path).is_ok());
    // One chunk of the source rewritten with other values.
    let src = ZarrStore::open_dir(dir.path().join("src.zarr")).unwrap();
    let chunk = src.read_chunk::<f64>(&[1, 1, 0]).unwrap();
    src.write_chunk(&[1, 1, 0], (chunk + 1.0).view()).unwrap();
    let e = load_error(&path);
    assert!(e.contains("has changed since the plan was made"), "{e}");
    assert!(e.contains("src.zarr"), "{e}");
}

fn edited(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut file);
    std::fs::write(path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
}

#[test]
fn files_of_other_versions_and_edited_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = saved(dir.path());
    let original = std::fs::read(&path).unwrap();

    edited(&path, |f| f["ndchunk_plan"] = 99.into());
    let e = load_error(&path);
    assert!(e.contains("plan file layout 99"), "{e}");
    assert!(e.contains("make the plan again with this version"), "{e}");

    std::fs::write(&path, &original).unwrap();
    edited(&path, |f| f["ndchunk"] = "0.0.1".into());
    let e = load_error(&path);
    assert!(e.contains("made by ndchunk \"0.0.1\""), "{e}");

    // The scalar of `* 2.0` changed to 3.0 by hand.
    std::fs::write(&path, &original).unwrap();
    edited(&path, |f| {
        let steps = f["steps"].as_array_mut().unwrap();
        let mul = steps.iter_mut().find(|s| s["op"] == "mul").unwrap();
        mul["args"]["other"]["scalar"]["bits"] = "0000000000000840".into();
    });
    let e = load_error(&path);
    assert!(e.contains("do not match its identity"), "{e}");

    std::fs::write(&path, b"{ not json").unwrap();
    assert!(load_error(&path).contains("not a plan file"));

    // The untouched file loads, and runs only within its own budget.
    std::fs::write(&path, &original).unwrap();
    let plan = PlanFile::load(&path).unwrap();
    let e = plan
        .run(&ComputeOptions::new().max_mem(1 << 30))
        .unwrap_err()
        .to_string();
    assert!(e.contains("the plan was made for max_mem 4194304"), "{e}");
}
