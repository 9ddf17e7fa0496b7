//! The journal of a rechunk job: what the job is, its plan, and which tasks
//! of which passes are done, kept in the job's work directory. A finished
//! task is appended only after all its chunks are written, so a killed run
//! redoes at most the tasks that were in flight (chunk writes are whole and
//! idempotent).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use super::source_state::SourceState;
use crate::error::{Error, Result};
use crate::owned_paths::OwnedPaths;

/// The journal's lock file, held for the whole run.
pub(crate) const LOCK_FILE: &str = "lock";

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    open: Mutex<Option<(usize, File)>>,
    /// The source as the job first read it.
    source: SourceState,
    /// Held for the whole job: a second run of the same job waits for no
    /// one, it refuses (two runs would delete each other's intermediates).
    _lock: File,
}

/// What [`Journal::open`] found.
#[derive(Debug)]
pub enum Opened {
    /// A new job.
    New(Journal),
    /// The same job, interrupted: its manifest as stored.
    Resumed(Journal, Value),
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
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| job_error(&tmp, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| job_error(path, e.to_string()))
}

impl Journal {
    /// Opens the journal in `dir`, whose `lock` ([`Journal::lock`]) the
    /// caller holds, for the job `job` (a JSON description of everything
    /// that defines its output), whose source is now in state `source`:
    /// a journal of the same job over an
    /// unchanged source is resumed; one of another job, one whose source
    /// changed since, or a damaged one is an error; none starts a new one,
    /// the source state and then `manifest` (which includes `job`) written
    /// first.
    pub(crate) fn open(
        dir: &Path,
        lock: File,
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
                Ok(Opened::Resumed(Self::with(dir, lock, earlier), stored))
            }
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
        let path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| job_error(&path, e.to_string()))?;
        lock.try_lock().map_err(|_| {
            job_error(
                dir,
                "another chunkctl run is writing here; wait for it or stop it first",
            )
        })?;
        Ok(lock)
    }

    fn with(dir: &Path, lock: File, source: SourceState) -> Self {
        Self {
            dir: dir.to_path_buf(),
            open: Mutex::new(None),
            source,
            _lock: lock,
        }
    }

    /// The source as the job first read it.
    pub(crate) fn source(&self) -> &SourceState {
        &self.source
    }

    fn log(&self, pass: usize) -> PathBuf {
        self.dir.join(format!("pass-{pass}.done"))
    }

    fn complete_marker(&self, pass: usize) -> PathBuf {
        self.dir.join(format!("pass-{pass}.complete"))
    }

    /// The tasks of `pass` already done (a torn last line is ignored).
    pub fn done_tasks(&self, pass: usize) -> Result<HashSet<u64>> {
        match std::fs::read_to_string(self.log(pass)) {
            Ok(text) => Ok(text
                .split_inclusive('\n')
                .filter(|line| line.ends_with('\n'))
                .filter_map(|line| line.trim().parse().ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
            Err(e) => Err(job_error(&self.log(pass), e.to_string())),
        }
    }

    /// Records task `task` of `pass` as done.
    pub fn record(&self, pass: usize, task: u64) -> Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.as_ref().map(|(p, _)| *p) != Some(pass) {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log(pass))
                .map_err(|e| job_error(&self.log(pass), e.to_string()))?;
            *open = Some((pass, file));
        }
        if let Some((_, file)) = open.as_mut() {
            // One write per line: the OS keeps it whole even if we are killed.
            file.write_all(format!("{task}\n").as_bytes())
                .map_err(|e| job_error(&self.log(pass), e.to_string()))?;
        }
        Ok(())
    }

    /// Whether every task of `pass` is done.
    pub fn pass_complete(&self, pass: usize) -> bool {
        self.complete_marker(pass).is_file()
    }

    /// Marks `pass` complete.
    pub fn complete_pass(&self, pass: usize) -> Result<()> {
        if let Some((_, file)) = self.open.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            file.flush()
                .map_err(|e| job_error(&self.log(pass), e.to_string()))?;
        }
        File::create(self.complete_marker(pass))
            .map_err(|e| job_error(&self.complete_marker(pass), e.to_string()))?;
        Ok(())
    }

    /// Deletes the work directory: the job is finished.
    pub(crate) fn finish(self, owned: &OwnedPaths) -> Result<()> {
        drop(self.open.lock().unwrap_or_else(|p| p.into_inner()).take());
        owned.remove(&self.dir)
    }
}
