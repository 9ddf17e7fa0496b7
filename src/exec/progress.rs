//! Progress of a run: counters any caller can read, and an `indicatif` bar
//! on a terminal that is only a view of them.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// Tasks and bytes done out of a total, shared by the tasks of a run.
#[derive(Debug)]
pub struct Progress {
    tasks_total: u64,
    tasks_done: AtomicU64,
    bytes_done: AtomicU64,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Counters for `tasks_total` tasks moving `bytes_total` bytes; a bar on
    /// stderr when `show` and stderr is a terminal.
    pub fn new(label: &str, tasks_total: u64, bytes_total: u64, show: bool) -> Self {
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
        Self {
            tasks_total,
            tasks_done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            bar,
        }
    }

    /// One task done, having moved `bytes`.
    pub fn task_done(&self, bytes: u64) {
        self.tasks_done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Tasks done so far.
    pub fn tasks_done(&self) -> u64 {
        self.tasks_done.load(Ordering::Relaxed)
    }

    /// Tasks in all.
    pub fn tasks_total(&self) -> u64 {
        self.tasks_total
    }

    /// Bytes moved so far.
    pub fn bytes_done(&self) -> u64 {
        self.bytes_done.load(Ordering::Relaxed)
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
