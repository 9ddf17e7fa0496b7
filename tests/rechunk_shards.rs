//! `chunkctl rechunk --plan-out` and `chunkctl run`: a rechunk planned to a
//! file, its stages run as shards by separate processes (one killed with
//! `kill -9` and run again), published by the last stage: the chunks are
//! byte for byte those of one `chunkctl rechunk`, and zarr-python reads
//! the values. Bad plans and shards are refused before anything is
//! written.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use cli::{
    assert_same_values, chunkctl, kill_once_logged, planned_rechunk, s, slow_job, store_files,
};

fn run_shard(plan: &Path, stage: usize, shard: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args([
            "run",
            s(plan),
            "--stage",
            &stage.to_string(),
            "--shard",
            shard,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn stderr(args: &[&str]) -> String {
    let out = chunkctl(args);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn text_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The plan's stages, from the plan file.
fn stages(plan: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(plan).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["stages"].as_array().unwrap().clone()
}

#[test]
fn shards_in_processes_give_the_bytes_of_one_rechunk() {
    let dir = tempfile::tempdir().unwrap();
    let (src, plan, whole, sharded, stdout) = planned_rechunk(dir.path(), 120, "1MiB");
    assert!(stdout.contains("chunkctl run"), "{stdout}");
    assert!(
        !sharded.join("zarr.json").exists(),
        "nothing is published by planning"
    );
    let stages = stages(&plan);
    assert_eq!(stages.len(), 3, "two passes and the publish: {stages:?}");
    let count = 3;
    for stage in 1..=2 {
        assert!(stages[stage - 1]["tasks"].as_u64().unwrap() >= 2 * count);
        let mut children: Vec<Child> = (0..count)
            .map(|i| run_shard(&plan, stage, &format!("{i}/{count}")))
            .collect();
        if stage == 1 {
            // Shard 0 is killed once it has done a task, and run again.
            let log = sharded.join(".ndchunk-rechunk/scratch/stage-0-pass-0-shard-0-of-3.done");
            kill_once_logged(&mut children[0], &log);
            children[0] = run_shard(&plan, stage, "0/3");
        }
        for mut child in children {
            assert!(
                child.wait().unwrap().success(),
                "a shard of stage {stage} failed"
            );
        }
    }
    let out = chunkctl(&["run", s(&plan), "--stage", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(" 0 tasks"),
        "the shards did every task: {stdout}"
    );
    assert_eq!(
        store_files(&sharded),
        store_files(&whole),
        "the sharded rechunk differs"
    );
    assert!(
        !sharded.join(".ndchunk-rechunk").exists(),
        "the journal is removed"
    );
    let e = stderr(&["run", s(&plan), "--stage", "1", "--shard", "0/3"]);
    assert!(e.contains("holds no unfinished job"), "{e}");
    assert_same_values(&src, &sharded);
    // zarr-python reads it.
    if let Some(python) = support::python_peer() {
        support::run_python(
            &python,
            "import sys, zarr, numpy as np; a = zarr.open_array(sys.argv[1], mode='r'); \
             b = zarr.open_array(sys.argv[2], mode='r'); assert b.chunks == (120, 8, 8); \
             np.testing.assert_array_equal(a[...], b[...])",
            &[&src, &sharded],
        );
    }
}

#[test]
fn bad_plans_and_shards_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, mut args) = slow_job(dir.path(), 24, "dst.zarr");
    let plan = dir.path().join("plan.json");
    args.extend(["--plan-out".into(), s(&plan).into()]);
    let args: Vec<&str> = args
        .iter()
        .map(|a| if a == "8MiB" { "256KiB" } else { a.as_str() })
        .collect();
    assert!(chunkctl(&args).status.success());
    assert_eq!(stages(&plan).len(), 3, "two passes and the publish");
    let p = s(&plan);
    let e = stderr(&["run", p, "--stage", "2", "--shard", "0/1"]);
    assert!(e.contains("stage 1 is not finished"), "{e}");
    let e = stderr(&["run", p, "--stage", "3"]);
    assert!(
        e.contains("stage 1 is not finished"),
        "the publish waits: {e}"
    );
    let e = stderr(&["run", p, "--stage", "1", "--shard", "4/4"]);
    assert!(e.contains("shard 4/4 is out of range"), "{e}");
    let e = stderr(&["run", p, "--stage", "9"]);
    assert!(
        e.contains("stage 9 does not exist: the plan has stages 1 to 3"),
        "{e}"
    );
    let e = stderr(&["run", p, "--stage", "1", "--shard", "x"]);
    assert!(e.contains("expected I/N"), "{e}");
    let e = stderr(&["run", p, "--stage", "1", "--shards", "4"]);
    assert!(e.contains("SLURM_ARRAY_TASK_ID"), "{e}");
    // Resources come from the plan.
    let out = chunkctl(&["run", p, "--stage", "1", "--print-resources"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cpus: 1")
            && text.contains("--mem=")
            && text.contains("hyperqueue: --cpus=1 --resource mem="),
        "{text}"
    );
    // Scripts are never written into SRC.
    let inside = src.join("scripts");
    let e = stderr(&["submit", "--slurm", p, "--out", s(&inside)]);
    assert!(e.contains("would be written into SRC"), "{e}");
    assert!(!inside.exists());
    // A plan file edited by hand (a stage removed, so that stage 2 would
    // count as the publish).
    let edited = dir.path().join("edited.json");
    let mut value: serde_json::Value = serde_json::from_str(&text_of(&plan)).unwrap();
    let stages = value["stages"].as_array_mut().unwrap();
    stages.remove(1);
    stages[1]["stage"] = 2.into();
    std::fs::write(&edited, value.to_string()).unwrap();
    let e = stderr(&["run", s(&edited), "--stage", "2"]);
    assert!(e.contains("the plan file has changed"), "{e}");
    // Slurm's #SBATCH lines cannot carry every path.
    let e = stderr(&["submit", "--slurm", p, "--out", s(&dir.path().join("a b"))]);
    assert!(e.contains("choose another --out"), "{e}");
    // A plan is never made in a dry run.
    let e = stderr(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "24,8,8",
        "--dry-run",
        "--plan-out",
        s(&dir.path().join("p3.json")),
    ]);
    assert!(e.contains("cannot be used with"), "{e}");
    // Another chunkctl's plan.
    let other = dir.path().join("other.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &other,
        text.replace(env!("CARGO_PKG_VERSION"), "0.0.0-other"),
    )
    .unwrap();
    let e = stderr(&["run", s(&other), "--stage", "1"]);
    assert!(e.contains("made by chunkctl \"0.0.0-other\""), "{e}");
    // SRC changed since planning: one chunk rewritten.
    let chunk = std::fs::read_dir(src.join("c/0/0"))
        .ok()
        .and_then(|mut d| d.next())
        .map(|e| e.unwrap().path())
        .unwrap_or_else(|| src.join("c/0/0/0"));
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, [bytes.as_slice(), b" "].concat()).unwrap();
    let e = stderr(&["run", p, "--stage", "1"]);
    assert!(
        e.contains("SRC, the job or the plan file has changed since the plan was made"),
        "{e}"
    );
    let in_dst: Vec<_> = std::fs::read_dir(&dst)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(in_dst, [".ndchunk-rechunk"], "no chunk was written");
    // A plan into a destination that is not chunkctl's is refused.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
    let e = stderr(&[
        "rechunk",
        s(&src),
        s(&foreign),
        "--chunks",
        "24,8,8",
        "--plan-out",
        s(&dir.path().join("p2.json")),
    ]);
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "keep me"
    );
}
