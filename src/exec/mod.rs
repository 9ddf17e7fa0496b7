//! The one executor: a byte budget that admits tasks, progress counters,
//! results kept between stages, the task journal that makes a `store()`
//! resumable, and the run itself.

pub mod budget;
pub(crate) mod journal;
pub(crate) mod kept;
pub mod progress;
pub mod run;

pub use budget::{MemoryBudget, Reservation};
pub use progress::{Progress, ProgressCallback, ProgressUpdate};
pub use run::{ComputeOptions, ComputeReport};
