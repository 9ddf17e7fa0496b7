//! `Array::store_with` with a journal resumes after a real `kill -9`: this
//! test binary runs itself as a child process that stores a lazy
//! expression (a rechunk through intermediates on disk), kills it once
//! tasks are journaled, then runs the same store in process: it skips the
//! tasks done and the result equals the expression computed in memory.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use cli::{doubled_store, journaled_tasks};
use ndchunk::io::zarr::ZarrCodec;
use ndchunk::io::{ChunkStore, ZarrStore};
use ndchunk::{Array, ComputeOptions};

const DIR: &str = "NDCHUNK_RESUME_TEST_DIR";

/// [`doubled_store`] into `dst.zarr` (raw chunks), journaled.
fn job(dir: &Path, create: bool) -> (Array<f64>, ZarrStore, ComputeOptions) {
    let (array, target, options) = doubled_store(dir, "dst.zarr", ZarrCodec::None, create);
    (array, target, options.journal_dir(journal_dir(dir)))
}

fn journal_dir(dir: &Path) -> PathBuf {
    dir.join("journal")
}

/// The child: runs the store to the end (unless killed).
#[test]
#[ignore = "run as a child process by store_resumes_after_kill"]
fn child_stores() {
    let Some(dir) = std::env::var_os(DIR) else {
        return;
    };
    let (array, target, options) = job(Path::new(&dir), false);
    array.store_with(&target, &options).unwrap();
}

#[test]
fn store_resumes_after_kill() {
    let dir = tempfile::tempdir().unwrap();
    let (array, target, options) = job(dir.path(), true);
    let plan = array
        .store_plan(target.meta(), &options)
        .unwrap()
        .to_string();
    assert!(plan.contains("intermediate"), "{plan}");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_stores", "--exact", "--ignored", "--nocapture"])
        .env(DIR, dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while journaled_tasks(&journal_dir(dir.path())) < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the child finished before it could be killed; make the job bigger"
        );
        assert!(started.elapsed().as_secs() < 120, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let report = array.store_with(&target, &options).unwrap();
    assert!(report.tasks_resumed >= 3, "{report:?}");
    assert!(!journal_dir(dir.path()).exists(), "the journal is removed");
    let expected = array
        .compute_with(&ComputeOptions::default().progress(false))
        .unwrap()
        .0;
    let stored: Arc<dyn ChunkStore> =
        Arc::new(ZarrStore::open_dir(dir.path().join("dst.zarr")).unwrap());
    let stored = Array::<f64>::from_store(stored).unwrap().compute().unwrap();
    assert_eq!(stored, expected);
}

/// `compute()` keeps its result in memory, which a kill loses: a journal
/// is refused there, not ignored.
#[test]
fn compute_with_a_journal_is_refused() {
    let a = Array::<f64>::ones(&[4, 4], [2, 2]).unwrap();
    let options = ComputeOptions::default().journal_dir(PathBuf::from("journal"));
    let err = a.compute_with(&options).unwrap_err().to_string();
    assert!(err.contains("store it instead"), "{err}");
}
