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

use crate::error::{Error, Result};

/// An open journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    open: Mutex<Option<(usize, File)>>,
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

impl Journal {
    /// Opens the journal in `dir` for the job `job` (a JSON description of
    /// everything that defines its output). A journal of the same job is
    /// resumed; one of another job is an error; none starts a new one with
    /// `manifest` (which includes `job`) written first.
    pub fn open(dir: &Path, job: &Value, manifest: &Value) -> Result<Opened> {
        let path = dir.join("manifest.json");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let stored: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| job_error(&path, format!("unreadable journal manifest: {e}")))?;
                if &stored["job"] != job {
                    return Err(job_error(
                        &path,
                        "this is the journal of an interrupted run of a different job; \
                         rerun that job to finish it, or pass --overwrite to start over",
                    ));
                }
                Ok(Opened::Resumed(Self::at(dir)?, stored))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| job_error(dir, format!("cannot create: {e}")))?;
                let tmp = dir.join("manifest.json.tmp");
                let text = serde_json::to_string_pretty(manifest)
                    .map_err(|e| job_error(&path, e.to_string()))?;
                std::fs::write(&tmp, text).map_err(|e| job_error(&tmp, e.to_string()))?;
                std::fs::rename(&tmp, &path).map_err(|e| job_error(&path, e.to_string()))?;
                Ok(Opened::New(Self::at(dir)?))
            }
            Err(e) => Err(job_error(&path, e.to_string())),
        }
    }

    fn at(dir: &Path) -> Result<Self> {
        let path = dir.join("lock");
        let lock = File::create(&path).map_err(|e| job_error(&path, e.to_string()))?;
        lock.try_lock().map_err(|_| {
            job_error(
                dir,
                "another run of this job is in progress; wait for it or stop it first",
            )
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            open: Mutex::new(None),
            _lock: lock,
        })
    }

    /// The work directory.
    pub fn dir(&self) -> &Path {
        &self.dir
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
    pub fn finish(self) -> Result<()> {
        drop(self.open.lock().unwrap_or_else(|p| p.into_inner()).take());
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| job_error(&self.dir, format!("cannot remove: {e}")))
    }
}
