//! `chunkctl rechunk` as a job: a source array (Zarr, or one array of an
//! HDF5/netCDF file), a target Zarr array with new chunks, a memory budget.
//! The work itself is the engine's: `from_store(src).rechunk(target)`
//! stored into the target by the one executor, journaled so that a killed
//! run resumes. What this module adds is the destination's lifecycle: it
//! never touches anything outside DST and its scratch, resumes only over an
//! unchanged source, publishes the metadata last, and leaves a record so
//! that the same command run again writes nothing.

pub(crate) mod array;
pub(crate) mod group;
pub(crate) mod places;
pub(crate) mod plan_file;
mod source_state;
mod work_dir;

pub use array::{JobStatus, Outcome, ShardOf, ZarrRechunk};
pub use group::{is_group, plan_group};
pub use plan_file::{JobArgs, PlanFile};
