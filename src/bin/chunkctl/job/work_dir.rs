//! The work directory of a `chunkctl rechunk` job inside its destination:
//! its lock, what the job is (its manifest), the state of the source it
//! read, and the executor's task journal (`tasks/`). Its presence means
//! "unfinished"; the job resumes only over an unchanged source.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::source_state::SourceState;
use ndchunk::{Error, Result};
use ndchunk_io::owned_paths::OwnedPaths;

/// The work directory's lock file, held for the whole run.
pub(crate) const LOCK_FILE: &str = "lock";

/// An open work directory, locked for this run.
#[derive(Debug)]
pub(crate) struct WorkDir {
    dir: PathBuf,
    /// The source as the job first read it.
    source: SourceState,
    /// Held for the whole job: a second run of the same job waits for no
    /// one, it refuses (two runs would delete each other's intermediates).
    _lock: File,
}

/// What [`WorkDir::open`] found.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A new job.
    New(WorkDir),
    /// The same job, interrupted.
    Resumed(WorkDir),
}

fn job_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Job {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Writes `bytes` to `path` whole or not at all (a file beside it, renamed
/// over it), so a kill or a full disk never leaves a torn file.
pub(crate) fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    ndchunk_io::write_whole(path, bytes).map_err(|e| job_error(path, e.to_string()))
}

impl WorkDir {
    /// Opens the work directory `dir`, whose `lock` ([`WorkDir::lock`]) the
    /// caller holds, for the job `job` (a JSON description of everything
    /// that defines its output), whose source is now in state `source`:
    /// a journal of the same job over an
    /// unchanged source is resumed; one of another job, one whose source
    /// changed since, or a damaged one is an error; none starts a new one,
    /// the source state and then `manifest` (which includes `job`) written
    /// first. A shard's (`shared`, its lock from [`WorkDir::lock_shared`])
    /// only resumes: none is an error.
    pub(crate) fn open(
        dir: &Path,
        lock: File,
        shared: bool,
        job: &Value,
        manifest: &Value,
        source: SourceState,
        owned: &OwnedPaths,
    ) -> Result<Opened> {
        let path = dir.join("manifest.json");
        let source_path = dir.join("source.txt");
        let damaged = |what: &str| {
            job_error(
                dir,
                format!(
                    "the journal of the interrupted run is damaged ({what}); \
                     pass --restart to discard that run and start over"
                ),
            )
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let stored: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| damaged(&format!("manifest.json: {e}")))?;
                let different = || {
                    job_error(
                        dir,
                        "this is the journal of an interrupted run of a different command \
                         (other source, chunks, format, codec or destination); rerun that \
                         command to finish it, or pass --restart to discard it",
                    )
                };
                if stored["job"]["src"] != job["src"] {
                    return Err(different());
                }
                let text = std::fs::read_to_string(&source_path)
                    .map_err(|e| damaged(&format!("source.txt: {e}")))?;
                let earlier =
                    SourceState::from_text(&text).ok_or_else(|| damaged("source.txt is torn"))?;
                // A changed source is said as such, before any other
                // difference it causes (its shape, hence the chunks).
                let changed = source.changed_since(&earlier);
                if changed > 0 {
                    return Err(job_error(
                        dir,
                        format!(
                            "SRC changed since the interrupted run ({changed} chunk file{} \
                             changed, added or removed): resuming would mix old and new data; \
                             pass --restart to start over from SRC as it is now",
                            if changed == 1 { "" } else { "s" }
                        ),
                    ));
                }
                if &stored["job"] != job {
                    return Err(different());
                }
                Ok(Opened::Resumed(Self::with(dir, lock, earlier)))
            }
            // A shard joins a job its plan began; it never begins one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && shared => Err(job_error(
                dir,
                "holds no job made by `chunkctl rechunk --plan-out`: make the plan again",
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // No task runs before the manifest exists: whatever else
                // is here (pass logs, scratch) is from a run killed before
                // it started, or while its finished journal was removed;
                // none of it may count for this run.
                let entries = std::fs::read_dir(dir).map_err(|e| job_error(dir, e.to_string()))?;
                for entry in entries.flatten() {
                    if entry.file_name() != LOCK_FILE {
                        owned.remove(&entry.path())?;
                    }
                }
                write_whole(&source_path, source.to_text().as_bytes())?;
                let text = serde_json::to_string_pretty(manifest)
                    .map_err(|e| job_error(&path, e.to_string()))?;
                write_whole(&path, text.as_bytes())?;
                Ok(Opened::New(Self::with(dir, lock, source)))
            }
            Err(e) => Err(job_error(&path, e.to_string())),
        }
    }

    /// Creates and takes the lock of the work directory `dir` (which
    /// exists); another run holding it is an error.
    pub(crate) fn lock(dir: &Path) -> Result<File> {
        Self::lock_as(dir, false)
    }

    /// The lock a shard holds: shared with the other shards of its plan,
    /// so that no whole run (nor `--overwrite`) starts beside them.
    pub(crate) fn lock_shared(dir: &Path) -> Result<File> {
        Self::lock_as(dir, true)
    }

    fn lock_as(dir: &Path, shared: bool) -> Result<File> {
        let path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| job_error(&path, e.to_string()))?;
        let locked = if shared {
            lock.try_lock_shared()
        } else {
            lock.try_lock()
        };
        locked.map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => job_error(
                dir,
                "another chunkctl run is writing here; wait for it or stop it first",
            ),
            std::fs::TryLockError::Error(e) => job_error(
                dir,
                format!(
                    "cannot lock the work directory on this file system ({e}); chunkctl \
                     needs file locks (flock), across machines for shards"
                ),
            ),
        })?;
        Ok(lock)
    }

    fn with(dir: &Path, lock: File, source: SourceState) -> Self {
        Self {
            dir: dir.to_path_buf(),
            source,
            _lock: lock,
        }
    }

    /// The source as the job first read it.
    pub(crate) fn source(&self) -> &SourceState {
        &self.source
    }

    /// Deletes the work directory: the job is finished.
    pub(crate) fn finish(self, owned: &OwnedPaths) -> Result<()> {
        Ok(owned.remove(&self.dir)?)
    }
}
