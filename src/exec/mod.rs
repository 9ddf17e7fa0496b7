//! The one executor: a byte budget that admits tasks, progress counters,
//! results kept between stages, the task journal that makes a `store()`
//! resumable, and the run itself.

pub(crate) mod budget;
pub(crate) mod journal;
pub(crate) mod kept;
pub(crate) mod progress;
mod reduce;
pub(crate) mod run;

pub(crate) use budget::{MemoryBudget, Reservation};
pub(crate) use progress::ProgressCallback;
