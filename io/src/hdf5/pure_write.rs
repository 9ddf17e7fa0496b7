//! Writing with rust-hdf5 (pure Rust).
//!
//! rust-hdf5 allows one writer per file and its handles cannot leave their
//! thread, so a created store owns a writer thread that holds the file and
//! writes what it is sent. The expensive part of a chunk write, shuffle and
//! deflate, runs on the calling thread (chunks are sent already filtered),
//! so parallel writers still compress in parallel.
//!
//! rust-hdf5 writes a file's metadata when it closes it and cannot read a
//! file it is writing, so a read of a created store closes the file first
//! (the writer thread ends), and a later write reopens it for appending.
//! Reads then go through [`super::pure`]'s per-thread handles, tagged with
//! a generation that each close bumps.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use rust_hdf5::format::messages::filter::apply_filters;
use rust_hdf5::{FilterPipeline, H5Dataset, H5File};

use ndchunk_chunking::Region;

use super::pure::{read_region, with_dataset, HandleKey};
use super::pure_create::{open_for_writing, Plan, Setup};
use super::{location, Compression};
use crate::copy::{copy_box, filled};
use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

type Reply = mpsc::SyncSender<std::result::Result<(), String>>;

/// What the writer thread is asked to do.
enum Job {
    /// Store one whole chunk; `filtered` when the pipeline already ran.
    Chunk {
        coords: Vec<usize>,
        bytes: Vec<u8>,
        filtered: bool,
        reply: Reply,
    },
    /// Store the single element of a 0-d dataset.
    Whole { bytes: Vec<u8>, reply: Reply },
    /// Close the file (writing its metadata) and stop.
    Close { reply: Reply },
}

/// A live writer thread.
struct Actor {
    jobs: mpsc::Sender<Job>,
    thread: JoinHandle<()>,
    /// The file, as [`WRITING`] knows it.
    file: PathBuf,
}

/// The files this process has open for writing. rust-hdf5 writes a file's
/// superblock only when it closes it, so until then the file does not look
/// like HDF5: this lets [`writing`] say why instead.
static WRITING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// How [`WRITING`] names a file (the same file by any path).
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether a store of this process is writing the file at `path` (so it is
/// not complete on disk yet).
pub(crate) fn writing(path: &Path) -> bool {
    let file = identity(path);
    WRITING.lock().map(|w| w.contains(&file)).unwrap_or(false)
}

/// Whether the file is open for writing (by the thread) or complete.
enum State {
    Open(Actor),
    Closed,
}

/// A created dataset, written chunk by chunk.
pub(crate) struct Writer {
    path: PathBuf,
    dataset: String,
    dtype: DType,
    chunk_shape: Vec<u64>,
    /// One element of the fill value, native order.
    fill: Vec<u8>,
    pipeline: Option<FilterPipeline>,
    state: RwLock<State>,
    written: Mutex<HashSet<Vec<u64>>>,
    key: HandleKey,
    generation: AtomicU64,
}

impl Writer {
    /// Plans `dataset` (dimension scales, filters), then starts the writer
    /// thread, which makes it.
    pub(crate) fn create(
        path: &Path,
        dataset: &str,
        meta: &ArrayMeta,
        compression: Compression,
    ) -> Result<Writer> {
        let plan = Plan::new(path, dataset, meta, compression)?;
        let (chunk_shape, pipeline) = (plan.chunk_shape.clone(), plan.pipeline.clone());
        let loc = location(path, dataset);
        let actor = Actor::start(path, dataset, Setup::Create(Box::new(plan))).map_err(|e| {
            IoError::Storage {
                location: loc.clone(),
                message: format!("cannot create the dataset: {e}"),
            }
        })?;
        Ok(Writer {
            path: path.to_path_buf(),
            dataset: dataset.to_string(),
            dtype: meta.dtype,
            chunk_shape,
            fill: meta.fill_value.to_ne_bytes(meta.dtype),
            pipeline,
            state: RwLock::new(State::Open(actor)),
            written: Mutex::new(HashSet::new()),
            key: HandleKey::new(),
            generation: AtomicU64::new(0),
        })
    }

    /// Writes the chunk `chunk` (covering `region`) from its clipped bytes.
    pub(crate) fn write(
        &self,
        chunk: &[u64],
        region: &Region,
        bytes: &[u8],
    ) -> std::result::Result<(), String> {
        if region.num_elements() == 0 && region.ndim() > 0 {
            return Ok(());
        }
        let itemsize = self.dtype.size();
        let shape = region.shape();
        let whole = if region.ndim() == 0 || shape == self.chunk_shape {
            bytes.to_vec()
        } else {
            // HDF5 stores edge chunks whole: pad with the fill value.
            let elements = self.chunk_shape.iter().product::<u64>();
            let mut padded = filled(&self.fill, elements);
            let origin = vec![0; shape.len()];
            copy_box(
                bytes,
                &shape,
                &Region::from_shape(&shape),
                &mut padded,
                &self.chunk_shape,
                &origin,
                itemsize,
            );
            padded
        };
        let (payload, filtered) = match &self.pipeline {
            Some(p) => (apply_filters(p, &whole).map_err(|e| e.to_string())?, true),
            None => (whole, false),
        };
        let coords: Vec<usize> = chunk.iter().map(|&c| c as usize).collect();
        let make = |reply| {
            if region.ndim() == 0 {
                Job::Whole {
                    bytes: payload.clone(),
                    reply,
                }
            } else {
                Job::Chunk {
                    coords: coords.clone(),
                    bytes: payload.clone(),
                    filtered,
                    reply,
                }
            }
        };
        loop {
            {
                let state = self.state.read().map_err(|_| poisoned())?;
                if let State::Open(actor) = &*state {
                    actor.call(make)?;
                    self.written
                        .lock()
                        .map_err(|_| poisoned())?
                        .insert(chunk.to_vec());
                    return Ok(());
                }
            }
            let mut state = self.state.write().map_err(|_| poisoned())?;
            if matches!(*state, State::Closed) {
                *state = State::Open(Actor::start(&self.path, &self.dataset, Setup::Reopen)?);
            }
        }
    }

    /// Reads `region` from the complete file (closing it first if open).
    pub(crate) fn read(&self, region: &Region) -> std::result::Result<Vec<u8>, String> {
        let _closed = self.closed()?;
        let generation = self.generation.load(Ordering::Acquire);
        with_dataset(&self.key, generation, &self.path, &self.dataset, |ds| {
            read_region(ds, self.dtype, region)
        })
    }

    /// Whether `chunk` was written.
    pub(crate) fn chunk_exists(&self, chunk: &[u64]) -> bool {
        self.written
            .lock()
            .map(|w| w.contains(chunk))
            .unwrap_or(false)
    }

    /// Closes the file if it is open, making it complete.
    pub(crate) fn finish(&self) -> Result<()> {
        self.closed().map(drop).map_err(|message| IoError::Storage {
            location: location(&self.path, &self.dataset),
            message: format!("finishing the file: {message}"),
        })
    }

    /// The state, closed, held so that no write reopens the file meanwhile.
    fn closed(&self) -> std::result::Result<RwLockReadGuard<'_, State>, String> {
        loop {
            let state = self.state.read().map_err(|_| poisoned())?;
            if matches!(*state, State::Closed) {
                return Ok(state);
            }
            drop(state);
            let mut state = self.state.write().map_err(|_| poisoned())?;
            if let State::Open(actor) = std::mem::replace(&mut *state, State::Closed) {
                self.generation.fetch_add(1, Ordering::AcqRel);
                actor.close()?;
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Errors were for `finish` to report; the file is closed either way.
        drop(self.closed());
    }
}

fn poisoned() -> String {
    "a thread panicked while using this HDF5 store".into()
}

impl Actor {
    /// Starts the writer thread, which opens the file and sets up the
    /// dataset before it takes jobs.
    fn start(path: &Path, dataset: &str, setup: Setup) -> std::result::Result<Actor, String> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::sync_channel(1);
        let path_of_file = path.to_path_buf();
        let (path, dataset) = (path.to_path_buf(), dataset.to_string());
        let thread = std::thread::Builder::new()
            .name("ndchunk-hdf5-writer".into())
            .spawn(move || {
                let (file, ds) = match open_for_writing(&path, &dataset, setup) {
                    Ok(open) => {
                        let _ = ready.send(Ok(()));
                        open
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                serve(file, ds, inbox);
            })
            .map_err(|e| format!("cannot start the writer thread: {e}"))?;
        match started.recv() {
            Ok(Ok(())) => {
                let file = identity(&path_of_file);
                if let Ok(mut writing) = WRITING.lock() {
                    writing.push(file.clone());
                }
                Ok(Actor { jobs, thread, file })
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err("the writer thread stopped while opening the file".into()),
        }
    }

    /// Sends a job and waits for its answer.
    fn call(&self, job: impl FnOnce(Reply) -> Job) -> std::result::Result<(), String> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(job(reply))
            .map_err(|_| "the writer thread has stopped".to_string())?;
        answer
            .recv()
            .map_err(|_| "the writer thread stopped before answering".to_string())?
    }

    /// Closes the file and waits for the thread to end.
    fn close(self) -> std::result::Result<(), String> {
        let result = self.call(|reply| Job::Close { reply });
        drop(self.jobs);
        let joined = self.thread.join();
        if let Ok(mut writing) = WRITING.lock() {
            if let Some(at) = writing.iter().position(|f| *f == self.file) {
                writing.swap_remove(at);
            }
        }
        result?;
        joined.map_err(|_| "the writer thread panicked".to_string())
    }
}

/// The writer thread's loop: jobs until `Close` (or until the store goes,
/// which drops the sender; dropping the file then completes it).
fn serve(file: H5File, ds: H5Dataset, inbox: mpsc::Receiver<Job>) {
    while let Ok(job) = inbox.recv() {
        match job {
            Job::Chunk {
                coords,
                bytes,
                filtered,
                reply,
            } => {
                let done = if filtered {
                    ds.write_chunk_raw_at(&coords, &bytes, 0)
                } else {
                    ds.write_chunk_at(&coords, &bytes)
                };
                let _ = reply.send(done.map_err(|e| e.to_string()));
            }
            Job::Whole { bytes, reply } => {
                let _ = reply.send(ds.write_raw_bytes(&bytes).map_err(|e| e.to_string()));
            }
            Job::Close { reply } => {
                drop(ds);
                let _ = reply.send(file.close().map_err(|e| e.to_string()));
                return;
            }
        }
    }
}
