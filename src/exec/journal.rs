//! The task journal of a resumable `store()`: what the run is (its plan
//! and sink, as text), which tasks of its last stage are done, and the
//! intermediates of a rechunk, kept in one directory. A task is appended
//! only after all its chunks are written (writes are whole chunks and
//! idempotent), so a killed run redoes at most the tasks in flight; the
//! same run started again with the same directory skips the rest.
//!
//! In a whole run, stages before the last keep their results in memory or
//! in temporary spill files, which a kill loses: a resumed run computes
//! them again (bit-identically: reductions combine in a fixed tree), then
//! resumes the last stage. Shards journal every stage, and keep the
//! results later stages read in the journal directory (see
//! `plan::shards`).

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::plan::shards::{shard_suffix, Shard};
use ndchunk_io::owned_paths::OwnedPaths;

const LOCK_FILE: &str = "lock";
const IDENTITY_FILE: &str = "plan.txt";

/// The first line of every journal's identity: a journal of an earlier
/// layout (its intermediates named otherwise) is another run's, refused,
/// never resumed over files it does not have.
const LAYOUT: &str =
    "ndchunk journal, layout 2 (scratch-stage-{i}-pass-{k}, scratch-stage-{i}-result)";

fn other_run(dir: &Path) -> Error {
    journal_error(
        dir,
        "holds the journal of an interrupted run of another computation \
         (other operations, budget, threads or output): run that one again to \
         resume it, or delete this journal to start over",
    )
}

fn journal_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Job {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// An open task journal, locked for this run.
#[derive(Debug)]
pub(crate) struct Journal {
    dir: PathBuf,
    owned: OwnedPaths,
    logs: Mutex<HashMap<String, File>>,
    /// The journal's lock (and a shard's own), held while the run lasts.
    _locks: Vec<File>,
}

impl Journal {
    /// Opens (creating it if needed) the journal in `dir` for the run
    /// described by `identity`. Another run holding it is an error; a
    /// journal of another run (another plan, budget or sink) is an error;
    /// none starts a new one.
    ///
    /// A shard's run (`shard`) shares the journal with the other shards of
    /// its plan: it holds the journal's lock shared (so a whole run cannot
    /// start beside it) and its own shard's lock alone.
    pub(crate) fn open(dir: &Path, identity: &str, shard: Option<&Shard>) -> Result<Journal> {
        let identity = format!("{LAYOUT}\n{identity}");
        let identity = identity.as_str();
        std::fs::create_dir_all(dir)
            .map_err(|e| journal_error(dir, format!("cannot create the journal: {e}")))?;
        let open_lock = |name: &str| {
            let path = dir.join(name);
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| journal_error(&path, e.to_string()))
        };
        let busy = |e: std::fs::TryLockError| match e {
            std::fs::TryLockError::WouldBlock => journal_error(
                dir,
                "another run is using this journal; wait for it or stop it first",
            ),
            std::fs::TryLockError::Error(e) => journal_error(
                dir,
                format!(
                    "cannot lock the journal on this file system ({e}); shards need file \
                     locks (flock) that work across machines"
                ),
            ),
        };
        let lock = open_lock(LOCK_FILE)?;
        let mut locks = Vec::new();
        match shard {
            None => lock.try_lock().map_err(busy)?,
            Some(shard) => {
                lock.try_lock_shared().map_err(busy)?;
                let own = open_lock(&shard.log(&format!("{LOCK_FILE}-stage-{}", shard.stage)))?;
                own.try_lock().map_err(|e| match e {
                    std::fs::TryLockError::WouldBlock => journal_error(
                        dir,
                        format!(
                            "shard {} of {} of stage {} is already running",
                            shard.index, shard.count, shard.stage
                        ),
                    ),
                    e => busy(e),
                })?;
                locks.push(own);
                locks.push(Self::lock_count(dir, shard, &open_lock, &busy)?);
            }
        }
        locks.push(lock);
        let mut owned = OwnedPaths::protecting(&[]);
        owned.claim(dir, "the journal")?;
        let identity_path = dir.join(IDENTITY_FILE);
        match std::fs::read_to_string(&identity_path) {
            Ok(stored) if stored == identity => {}
            Ok(_) => return Err(other_run(dir)),
            // Shards start side by side: the first to write the identity
            // wins (a link never replaces), the others check theirs
            // against it. Nothing is cleared: what is here is theirs.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && shard.is_some() => {
                // Logs without an identity are from a run killed before it
                // started, or while its journal was removed: not a shard's
                // to take over (a whole run clears them).
                let stale = std::fs::read_dir(dir)
                    .map_err(|e| journal_error(dir, e.to_string()))?
                    .flatten()
                    .any(|entry| {
                        let name = entry.file_name();
                        let name = name.to_string_lossy();
                        !name.starts_with(LOCK_FILE) && !name.ends_with(".tmp")
                    });
                // (A shard starting beside this one links the identity
                // before it logs anything: its logs come with it.)
                if stale && !identity_path.exists() {
                    return Err(journal_error(
                        dir,
                        "holds pieces of a journal without its plan (a run killed while it \
                         began or ended): run the store once without a shard to clear it, \
                         or delete this journal",
                    ));
                }
                let own = shard.map_or(String::new(), |s| s.log(""));
                let tmp = dir.join(format!("plan.txt.{}{own}.tmp", std::process::id()));
                std::fs::write(&tmp, identity).map_err(|e| journal_error(&tmp, e.to_string()))?;
                let linked = std::fs::hard_link(&tmp, &identity_path);
                owned.remove(&tmp)?;
                match linked {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let stored = std::fs::read_to_string(&identity_path)
                            .map_err(|e| journal_error(&identity_path, e.to_string()))?;
                        if stored != identity {
                            return Err(other_run(dir));
                        }
                    }
                    Err(e) => return Err(journal_error(&identity_path, e.to_string())),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Nothing runs before the identity is written: whatever is
                // here is from a run killed before it started.
                let entries =
                    std::fs::read_dir(dir).map_err(|e| journal_error(dir, e.to_string()))?;
                for entry in entries.flatten() {
                    if entry.file_name() != LOCK_FILE {
                        owned.remove(&entry.path())?;
                    }
                }
                let tmp = dir.join("plan.txt.tmp");
                std::fs::write(&tmp, identity).map_err(|e| journal_error(&tmp, e.to_string()))?;
                std::fs::rename(&tmp, &identity_path)
                    .map_err(|e| journal_error(&identity_path, e.to_string()))?;
            }
            Err(e) => return Err(journal_error(&identity_path, e.to_string())),
        }
        Ok(Journal {
            dir: dir.to_path_buf(),
            owned,
            logs: Mutex::new(HashMap::new()),
            _locks: locks,
        })
    }

    /// A shard's hold on its stage's number of shards: shared with the
    /// other shards of that number, while no shard of another number of
    /// the same stage runs (two dealings of one stage would write the same
    /// intermediate chunks). Checked and taken under the stage's own lock.
    fn lock_count(
        dir: &Path,
        shard: &Shard,
        open_lock: &dyn Fn(&str) -> Result<File>,
        busy: &dyn Fn(std::fs::TryLockError) -> Error,
    ) -> Result<File> {
        let stage = format!("{LOCK_FILE}-stage-{}", shard.stage);
        let guard = open_lock(&stage)?;
        guard
            .lock()
            .map_err(|e| busy(std::fs::TryLockError::Error(e)))?;
        let prefix = format!("{stage}-count-");
        let entries = std::fs::read_dir(dir).map_err(|e| journal_error(dir, e.to_string()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(count) = name
                .strip_prefix(&prefix)
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if count == shard.count {
                continue;
            }
            let other = open_lock(&name)?;
            match other.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(journal_error(
                        dir,
                        format!(
                            "stage {} is being run in {count} shards now: run it in {count} \
                             too, or wait for those to finish",
                            shard.stage
                        ),
                    ))
                }
                Err(e) => return Err(busy(e)),
            }
        }
        let mine = open_lock(&format!("{prefix}{}", shard.count))?;
        mine.try_lock_shared().map_err(busy)?;
        Ok(mine)
    }

    fn log_path(&self, log: &str) -> PathBuf {
        self.dir.join(format!("{log}.done"))
    }

    fn complete_path(&self, log: &str) -> PathBuf {
        self.dir.join(format!("{log}.complete"))
    }

    /// The tasks of `log` already done, by a whole run or by shards of
    /// any number (a torn last line is ignored).
    pub(crate) fn done(&self, log: &str) -> Result<HashSet<u64>> {
        let mut files = vec![self.log_path(log)];
        let shard_prefix = format!("{log}-shard-");
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(&shard_prefix))
                    .and_then(|n| n.strip_suffix(".done"))
                    .and_then(|n| n.split_once("-of-"))
                    .is_some_and(|(i, n)| i.parse::<u64>().is_ok() && n.parse::<u64>().is_ok())
            }));
        }
        let mut done = HashSet::new();
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(text) => done.extend(
                    text.split_inclusive('\n')
                        .filter(|line| line.ends_with('\n'))
                        .filter_map(|line| line.trim().parse::<u64>().ok()),
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(journal_error(&path, e.to_string())),
            }
        }
        Ok(done)
    }

    /// Records task `task` of `log` as done.
    pub(crate) fn record(&self, log: &str, task: u64) -> Result<()> {
        let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
        if !logs.contains_key(log) {
            let path = self.log_path(log);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| journal_error(&path, e.to_string()))?;
            logs.insert(log.to_string(), file);
        }
        if let Some(file) = logs.get_mut(log) {
            // One write per line: the OS keeps it whole even if we are killed.
            file.write_all(format!("{task}\n").as_bytes())
                .map_err(|e| journal_error(&self.log_path(log), e.to_string()))?;
        }
        Ok(())
    }

    /// Whether every task of `log` is done: by one run, or by every shard
    /// of some number of shards.
    pub(crate) fn is_complete(&self, log: &str) -> bool {
        if self.complete_path(log).is_file() {
            return true;
        }
        // Shard logs are `{log}-shard-{i}-of-{n}`: complete when, for the
        // `n` of any one of them, all `n` are.
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return false;
        };
        let prefix = format!("{log}-shard-0-of-");
        entries.flatten().any(|entry| {
            let name = entry.file_name();
            let count = name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|n| n.strip_suffix(".complete"))
                .and_then(|n| n.parse::<u64>().ok());
            count.is_some_and(|n| {
                (0..n).all(|i| {
                    self.complete_path(&format!("{log}{}", shard_suffix(i, n)))
                        .is_file()
                })
            })
        })
    }

    /// Marks `log` complete.
    pub(crate) fn complete(&self, log: &str) -> Result<()> {
        if let Some(file) = self
            .logs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(log)
        {
            file.flush()
                .map_err(|e| journal_error(&self.log_path(log), e.to_string()))?;
        }
        let path = self.complete_path(log);
        File::create(&path).map_err(|e| journal_error(&path, e.to_string()))?;
        Ok(())
    }

    /// The directory of the intermediate array `name`, kept for a resumed
    /// run to find.
    pub(crate) fn scratch(&self, name: &str) -> PathBuf {
        self.dir.join(format!("scratch-{name}"))
    }

    /// Deletes the intermediate array `name`.
    pub(crate) fn remove_scratch(&self, name: &str) -> Result<()> {
        Ok(self.owned.remove(&self.scratch(name))?)
    }

    /// Deletes the journal: the run is complete.
    pub(crate) fn finish(self) -> Result<()> {
        drop(self.logs.lock().unwrap_or_else(|p| p.into_inner()).drain());
        Ok(self.owned.remove(&self.dir)?)
    }
}
