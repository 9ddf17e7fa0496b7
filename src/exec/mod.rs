//! Running tasks: a byte budget that admits tasks, and progress counters.
//! The rechunk runner uses both today; the array engine's executor will.

pub mod budget;
pub mod buffers;
mod kept;
pub mod progress;
pub mod run;

pub use budget::{MemoryBudget, Reservation};
pub use buffers::BufferPool;
pub use progress::{Progress, ProgressCallback, ProgressUpdate};
pub use run::{ComputeOptions, ComputeReport};
