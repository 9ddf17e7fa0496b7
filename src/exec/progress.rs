//! Progress of a run: counters any caller can read, an `indicatif` bar on
//! a terminal that is only a view of them, and a callback
//! ([`ProgressCallback`]) for library callers that want the same numbers.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::graph::NodeKind;
use crate::plan::{Stage, StageKind};

/// A stage's `indicatif` bar on stderr (only where stderr is a terminal);
/// the counters callers read are [`RunProgress`]'s.
#[derive(Debug)]
pub(crate) struct StageBar {
    bar: Option<ProgressBar>,
}

impl StageBar {
    /// A bar over `bytes_total` bytes, labelled `label`, when `show` and
    /// stderr is a terminal; otherwise nothing is drawn.
    pub(crate) fn new(label: &str, bytes_total: u64, show: bool) -> Self {
        let bar = (show && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(bytes_total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(label.to_string());
            bar
        });
        Self { bar }
    }

    /// One task done, having moved `bytes`.
    pub(crate) fn task_done(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Whether a bar is drawn.
    pub(crate) fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// What a progress callback sees: a snapshot of a whole run's counters.
/// Counts only grow from one call to the next, and the last call of a run
/// that succeeds has `tasks_done == tasks_total` and
/// `bytes_done == bytes_total`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressUpdate<'a> {
    /// The operation of the stage running (its user-facing name).
    pub operation: &'a str,
    /// The running stage, from 0.
    pub stage: usize,
    /// Stages in the run.
    pub stages: usize,
    /// Tasks finished, over all stages.
    pub tasks_done: u64,
    /// Tasks in the run, over all stages.
    pub tasks_total: u64,
    /// Array bytes the finished tasks processed: the blocks a blockwise
    /// stage produced, the input blocks a reduction folded.
    pub bytes_done: u64,
    /// Array bytes the whole run processes, on the same terms.
    pub bytes_total: u64,
    /// Time since the run started.
    pub elapsed: Duration,
}

impl ProgressUpdate<'_> {
    /// Tasks done as a fraction of the run, in `[0, 1]` (1 for a run with
    /// no tasks).
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = ndchunk::ProgressUpdate {
    ///     operation: "sum",
    ///     stage: 0,
    ///     stages: 1,
    ///     tasks_done: 3,
    ///     tasks_total: 4,
    ///     bytes_done: 300,
    ///     bytes_total: 400,
    ///     elapsed: Duration::from_millis(20),
    /// };
    /// assert_eq!(p.fraction(), 0.75);
    /// ```
    pub fn fraction(&self) -> f64 {
        if self.tasks_total == 0 {
            1.0
        } else {
            self.tasks_done as f64 / self.tasks_total as f64
        }
    }
}

type CallbackFn = dyn Fn(&ProgressUpdate<'_>) + Send + Sync;

/// A function called with a [`ProgressUpdate`] as a run's tasks finish, at
/// most once per `interval` (100 ms unless set) and once at the end of
/// every stage. Calls never overlap and are made on the worker threads, so
/// the function should return quickly.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ndchunk::{Array, ComputeOptions, ProgressCallback};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let options = ComputeOptions::new()
///     .progress(false)
///     .on_progress(ProgressCallback::new(move |p| {
///         log.lock().unwrap().push((p.tasks_done, p.tasks_total));
///     }));
/// let a = Array::<f64>::ones(&[1000], [100]).unwrap(); // 10 blocks
/// (&a + 1.0).compute_with(&options).unwrap();
/// assert_eq!(seen.lock().unwrap().last(), Some(&(10, 10)));
/// ```
#[derive(Clone)]
pub struct ProgressCallback {
    f: Arc<CallbackFn>,
    interval: Duration,
}

impl ProgressCallback {
    /// Calls `f` at most every 100 ms, and at the end of every stage.
    pub fn new(f: impl Fn(&ProgressUpdate<'_>) + Send + Sync + 'static) -> Self {
        Self {
            f: Arc::new(f),
            interval: Duration::from_millis(100),
        }
    }

    /// The same function called at most once per `interval` (zero: after
    /// every task).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
}

impl std::fmt::Debug for ProgressCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressCallback")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A run's counters over all its stages, and the throttled callback that
/// reads them.
pub(crate) struct RunProgress {
    callback: Option<ProgressCallback>,
    started: Instant,
    stages: usize,
    tasks_total: u64,
    bytes_total: u64,
    tasks_done: AtomicU64,
    bytes_done: AtomicU64,
    /// Nanoseconds after `started` of the last call.
    last_call: AtomicU64,
    /// Held while calling: calls never overlap, and each reads the counters
    /// after the previous one did, so what the callback sees only grows.
    calling: Mutex<()>,
}

impl RunProgress {
    /// Counters for a run of `stages` stages, `tasks_total` tasks and
    /// `bytes_total` bytes, started at `started`.
    pub(crate) fn new(
        callback: Option<ProgressCallback>,
        started: Instant,
        stages: usize,
        tasks_total: u64,
        bytes_total: u64,
    ) -> Self {
        Self {
            callback,
            started,
            stages,
            tasks_total,
            bytes_total,
            tasks_done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            last_call: AtomicU64::new(0),
            calling: Mutex::new(()),
        }
    }

    /// Whether anyone reads the counters (a callback is set); when not,
    /// the executor need not work out each task's bytes.
    pub(crate) fn watched(&self) -> bool {
        self.callback.is_some()
    }

    /// One task of stage `stage` (`operation`) done, having processed
    /// `bytes`; calls the callback when its interval has passed and no
    /// other thread is calling it.
    pub(crate) fn task_done(&self, stage: usize, operation: &str, bytes: u64) {
        self.tasks_done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        let Some(callback) = &self.callback else {
            return;
        };
        let now = self.nanos();
        let last = self.last_call.load(Ordering::Relaxed);
        if now.saturating_sub(last) < callback.interval.as_nanos() as u64 {
            return;
        }
        if let Ok(_calling) = self.calling.try_lock() {
            self.last_call.store(now, Ordering::Relaxed);
            (callback.f)(&self.snapshot(stage, operation));
        }
    }

    /// `tasks` tasks moving `bytes` found done by an interrupted run:
    /// counted as done, without a call.
    pub(crate) fn tasks_resumed(&self, tasks: u64, bytes: u64) {
        self.tasks_done.fetch_add(tasks, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Stage `stage` finished: the callback is called whatever the interval.
    pub(crate) fn stage_done(&self, stage: usize, operation: &str) {
        if let Some(callback) = &self.callback {
            let _calling = self.calling.lock().unwrap_or_else(|p| p.into_inner());
            self.last_call.store(self.nanos(), Ordering::Relaxed);
            (callback.f)(&self.snapshot(stage, operation));
        }
    }

    fn nanos(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn snapshot<'a>(&self, stage: usize, operation: &'a str) -> ProgressUpdate<'a> {
        ProgressUpdate {
            operation,
            stage,
            stages: self.stages,
            tasks_done: self.tasks_done.load(Ordering::Relaxed),
            tasks_total: self.tasks_total,
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            bytes_total: self.bytes_total,
            elapsed: self.started.elapsed(),
        }
    }
}

/// Array bytes a stage processes: its output for a blockwise stage, its
/// input for a reduction (whose output is small).
pub(crate) fn stage_bytes(stage: &Stage) -> u64 {
    let node = match stage.node.kind() {
        NodeKind::Reduce { input, .. } => input,
        _ => &stage.node,
    };
    // Saturating: `Plan::check` refuses arrays whose bytes overflow, but a
    // plan may be shown (and this counted) before it is checked.
    let once = node.grid().num_bytes(node.itemsize()).unwrap_or(u64::MAX);
    match &stage.kind {
        // Every pass moves the whole array.
        StageKind::Rechunk { plan, .. } => once.saturating_mul(plan.passes.len() as u64),
        _ => once,
    }
}
