//! Interrupted `chunkctl rechunk` runs: a real `kill -9` mid-run, then the
//! same command resumes and ends exact (arrays and groups); a changed
//! source or a damaged journal is refused, not resumed.

#[path = "support/cli.rs"]
mod cli;
mod support;

use cli::{assert_same_values, chunkctl, kill_once_journaled, s, slow_job, two_array_group};

use ndchunk::io::{ChunkStore, ZarrStore};

/// `kill -9` in the middle, then the same command again: it resumes (the
/// tasks done are not redone) and the result is exact.
#[test]
fn killed_run_resumes_and_ends_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, args) = slow_job(dir.path(), 400, "resumed.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_once_journaled(&args, &dst, 3);
    assert!(
        ZarrStore::open_dir(&dst).is_err(),
        "an interrupted DST must not look finished"
    );
    let out = chunkctl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("resumed as done"), "{text}");
    assert_same_values(&src, &dst);
    // A different job into the same unfinished DST is refused.
    let other = dir.path().join("other.zarr");
    std::fs::create_dir_all(other.join(".ndchunk-rechunk")).unwrap();
    std::fs::write(
        other.join(".ndchunk-rechunk/manifest.json"),
        r#"{"job": {"src": "elsewhere"}}"#,
    )
    .unwrap();
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&other),
        "--chunks",
        "400,8,8",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted run of a different command"),
        "{err}"
    );
}

/// An interrupted run whose source has changed since is not resumed into a
/// mix of old and new data: the rerun says SRC changed and how many chunk
/// files; `--restart` starts over from SRC as it is now.
#[test]
fn a_changed_source_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    // A real interruption: start, kill once a task is journaled.
    let (src, dst, args) = slow_job(dir.path(), 300, "out.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_once_journaled(&args, &dst, 1);
    // One chunk of the source is rewritten with other values, its
    // metadata untouched.
    let store = ZarrStore::open_dir(&src).unwrap();
    let chunk = vec![7u8; 64 * 64 * 8];
    store.write_chunk_bytes(&[5, 0, 0], &chunk).unwrap();
    let out = chunkctl(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SRC changed since the interrupted run (1 chunk file changed"),
        "{err}"
    );
    assert!(ZarrStore::open_dir(&dst).is_err(), "nothing looks finished");
    let mut restart = args.clone();
    restart.push("--restart");
    let out = chunkctl(&restart);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_values(&src, &dst);
    // The same command again: nothing to do, nothing written.
    let out = chunkctl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing written"), "{text}");
}

/// A run resumes only the plan it was: the same command with another
/// budget plans other tasks, so it is refused (not resumed into tasks
/// numbered for another plan), as is a journal whose plan was tampered
/// with; `--restart` starts over and ends exact.
#[test]
fn a_different_plan_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, args) = slow_job(dir.path(), 300, "out.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kill_once_journaled(&args, &dst, 1);
    let mut other_budget = args.clone();
    let at = other_budget.iter().position(|a| *a == "8MiB").unwrap();
    other_budget[at] = "5MiB";
    let out = chunkctl(&other_budget);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted run of another computation"),
        "{err}"
    );
    let identity = dst.join(".ndchunk-rechunk/scratch/plan.txt");
    std::fs::write(&identity, "PLAN: something else").unwrap();
    let out = chunkctl(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interrupted run of another computation"),
        "{err}"
    );
    assert!(ZarrStore::open_dir(&dst).is_err(), "nothing looks finished");
    let mut restart = args.clone();
    restart.push("--restart");
    let out = chunkctl(&restart);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_same_values(&src, &dst);
}

/// A group job killed mid-run resumes: finished arrays are kept, the one
/// interrupted resumes from its journal, and xarray reads the result.
#[test]
fn killed_group_run_resumes_and_ends_exact() {
    let dir = tempfile::tempdir().unwrap();
    let group = two_array_group(dir.path(), [40, 400], &serde_json::Map::new());
    let arrays = [group.join("a"), group.join("b")];
    let dst = dir.path().join("out.zarr");
    let args = [
        "rechunk",
        s(&group),
        s(&dst),
        "--chunks",
        "time=200,lat=8,lon=8",
        "--max-mem",
        "8MiB",
        "--threads",
        "1",
        "--quiet",
    ];
    // Past the first array, into the second.
    kill_once_journaled(&args, &dst.join("b"), 1);
    assert!(
        ZarrStore::open_dir(&dst).is_err() && !dst.join("zarr.json").exists(),
        "an interrupted group must not look finished"
    );
    let out = chunkctl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/a: finished by an earlier run"), "{text}");
    assert!(text.contains("resumed"), "{text}");
    for (name, src) in ["a", "b"].iter().zip(&arrays) {
        assert_same_values(src, &dst.join(name));
    }
    assert!(dst.join("zarr.json").is_file());
    assert!(!dst.join(".ndchunk-rechunk-group.json").exists());
}
