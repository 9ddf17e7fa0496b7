//! `chunkctl submit`: a rechunk plan run by real batch systems on this
//! machine. A single-node Slurm cluster (`support/slurm.rs`) runs the
//! stages as job arrays chained by `afterok` (`--submit`); a HyperQueue
//! cluster (the `hyperqueue` package's `LocalCluster`: a real server and
//! worker) runs the generated job. Each output is byte for byte that of
//! one `chunkctl rechunk`.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/slurm.rs"]
mod slurm;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli::{chunkctl, planned_rechunk, s, store_files};
use slurm::SlurmCluster;

/// A rechunk of two passes, done once into `whole.zarr` and planned into
/// `sharded.zarr`: the plan file and both destinations.
fn planned(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (_, plan, whole, sharded, _) = planned_rechunk(dir, 48, "512KiB");
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains("pass 2/2"), "a plan of two passes: {text}");
    (plan, whole, sharded)
}

#[test]
fn slurm_runs_a_plan_as_chained_job_arrays() {
    let Some(cluster) = SlurmCluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (plan, whole, sharded) = planned(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(["submit", "--slurm", s(&plan), "--shards", "3", "--submit"])
        .env("SLURM_CONF", cluster.conf())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("stage 3: Slurm job"), "{stdout}");
    let chain = dir.path().join("plan.slurm/submit.sh");
    let parsed = std::process::Command::new("bash")
        .arg("-n")
        .arg(&chain)
        .status()
        .unwrap();
    assert!(parsed.success(), "submit.sh is not valid bash");
    let script = std::fs::read_to_string(dir.path().join("plan.slurm/stage-1.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-2"), "{script}");
    assert!(script.contains("#SBATCH --mem="), "{script}");
    // The last job publishes DST.
    let started = Instant::now();
    while !sharded.join(".ndchunk-rechunk.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the Slurm jobs did not finish: {stdout}\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(store_files(&sharded), store_files(&whole));
    // Each stage ran as three array tasks.
    for shard in 0..3 {
        let log = dir.path().join(format!("plan.slurm/stage-1-{shard}.log"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains(&format!("shard {shard}/3")), "{text}");
    }
}

#[test]
fn hyperqueue_runs_a_plan_as_one_job() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (plan, whole, sharded) = planned(dir.path());
    // By default each task asks for its stage's memory as HyperQueue's
    // `mem` resource (MiB), which `hq worker start` detects.
    let submit = |extra: &[&str]| {
        let mut args = vec!["submit", "--hq", s(&plan), "--shards", "3"];
        args.extend(extra);
        let out = chunkctl(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let asks = dir.path().join("asks.hq");
    submit(&["--out", s(&asks)]);
    let requests = support::run_python(
        &python,
        "import runpy, sys\n\
         job = runpy.run_path(sys.argv[1])['build']()\n\
         for task in job.tasks:\n\
         \x20   print(task.resources.resources['cpus'], task.resources.resources.get('mem'))\n",
        &[&asks.join("job.py")],
    );
    let requests = String::from_utf8(requests).unwrap();
    let resources = |stage: &str| {
        let out = chunkctl(&["run", s(&plan), "--stage", stage, "--print-resources"]);
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("hyperqueue:"))
            .unwrap()
            .to_string();
        line.replace("hyperqueue: --cpus=", "")
            .replace(" --resource mem=", " ")
    };
    // Three shards in each of the two rechunk passes, one publish task.
    let expected: Vec<String> = [("1", 3), ("2", 3), ("3", 1)]
        .iter()
        .flat_map(|(stage, shards)| std::iter::repeat_n(resources(stage), *shards))
        .collect();
    assert_eq!(requests.lines().collect::<Vec<_>>(), expected, "{requests}");
    // The Python package's LocalCluster workers define no `mem`: a task
    // asking for it would wait forever there.
    submit(&["--no-memory-request"]);
    let job = dir.path().join("plan.hq/job.py");
    let server = dir.path().join("hq-server");
    support::run_python(
        &python,
        "import runpy, sys\n\
         from hyperqueue import LocalCluster\n\
         from hyperqueue.cluster import WorkerConfig\n\
         job = runpy.run_path(sys.argv[1])\n\
         with LocalCluster(sys.argv[2]) as cluster:\n\
         \x20   cluster.start_worker(WorkerConfig(cores=2))\n\
         \x20   client = cluster.client()\n\
         \x20   submitted = client.submit(job['build']())\n\
         \x20   client.wait_for_jobs([submitted])\n",
        &[&job, &server],
    );
    assert!(sharded.join(".ndchunk-rechunk.json").exists(), "published");
    assert_eq!(store_files(&sharded), store_files(&whole));
    let log = std::fs::read_to_string(dir.path().join("plan.hq/stage-2-1.log")).unwrap();
    assert!(log.contains("shard 1/3"), "{log}");
}
