//! The one error type of the `ndchunk` crate.

use thiserror::Error;

use ndchunk_chunking::{format_bytes, ChunkingError};
use ndchunk_io::IoError;

/// What can go wrong planning or running work. A caller tells the kinds
/// apart: [`Error::Invalid`] and [`Error::TaskTooLarge`] are the caller's
/// to fix (an operation written wrong, chunks too large for the budget),
/// [`Error::Io`] and [`Error::Job`] are about the stores and files,
/// [`Error::Internal`] is a bug in ndchunk to report.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A store could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A grid or plan question failed (bad chunk spec, budget too small, …).
    #[error(transparent)]
    Chunking(#[from] ChunkingError),
    /// A task failed; says which.
    #[error("{operation}, block {block:?}: {source}")]
    Task {
        /// The operation (and pass).
        operation: String,
        /// The output block the task was making.
        block: Vec<u64>,
        /// What failed.
        source: Box<Error>,
    },
    /// An operation cannot be built or run as written: shapes that do not
    /// match, an axis out of range, a dtype that is not the array's, a user
    /// function that broke its contract, a reduction of nothing that has no
    /// identity. The caller's to fix.
    #[error("{operation}: {message}")]
    Invalid {
        /// The operation, as the user wrote it.
        operation: String,
        /// What is wrong.
        message: String,
    },
    /// An invariant of ndchunk itself does not hold: a bug, to report with
    /// the operation and the message.
    #[error("{operation}: internal error, please report it: {message}")]
    Internal {
        /// The operation being run.
        operation: String,
        /// What did not hold.
        message: String,
    },
    /// A plan whose single task cannot fit `max_mem`, refused before
    /// anything runs, with a chunking that would fit.
    #[error(
        "{operation}: max_mem {} is too small: one task needs {}; {suggestion}",
        format_bytes(*limit),
        format_bytes(*needed)
    )]
    TaskTooLarge {
        /// The operation (the stage's user-facing name).
        operation: String,
        /// The task's projected bytes.
        needed: u64,
        /// The budget.
        limit: u64,
        /// What to change, e.g. a smaller chunk shape.
        suggestion: String,
    },
    /// A job's own bookkeeping (its journal, its work directory) failed.
    #[error("{path}: {message}")]
    Job {
        /// The file or directory.
        path: String,
        /// What happened.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
