//! Memory-bounded rechunk planning: how to turn an array stored with one
//! chunking into the same array with another, within `max_mem`.
//!
//! The planner weighs two ways of doing it, in the manner of Rechunker but
//! with every buffer counted:
//!
//! - **direct**: one pass; each task builds one *write block* (a group of
//!   target chunks) by reading every source chunk it overlaps. Nothing is
//!   stored in between, but a source chunk that straddles several write
//!   blocks is read and decoded once per block.
//! - **through intermediates**: Rechunker's algorithm. Source chunks are
//!   consolidated into *read blocks*, cut into *intermediate chunks* that fit
//!   both the read and the write blocks, stored in a private temporary store,
//!   then gathered into write blocks. Every chunk is decoded once; the price
//!   is one write and one read of the intermediate store (cheap codec, page
//!   cache). When the intermediate chunks would be tiny, the change is split
//!   into several stages whose block shapes follow a geometric progression
//!   from the read to the write blocks (Rechunker's multistage plan), adding
//!   stages until the smallest intermediate chunk reaches `min_mem` or the
//!   I/O count stops falling.
//!
//! The candidate with the lowest projected cost (bytes decoded and encoded,
//! weighted by [`CostModel`], plus a charge per I/O operation) wins.
//!
//! **Memory is counted honestly**: one task holds its block decoded, and
//! while reading one input chunk decoded *and* encoded, while writing one
//! output chunk copied out and encoded (bounded by [`encoded_bound`]). A
//! budget that cannot hold the smallest possible task (a target chunk, plus
//! a source chunk decoded and encoded) is refused with the minimum that
//! would work.
//!
//! ```
//! use ndchunk_chunking::ChunkGrid;
//! use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions};
//!
//! // A year of hourly float32 on a 0.25° grid, stored one day per chunk,
//! // rechunked for time series: all hours of a 10x10 tile per chunk.
//! let source = ChunkGrid::regular(&[8760, 721, 1440], &[24, 721, 1440]).unwrap();
//! let target = ChunkGrid::regular(&[8760, 721, 1440], &[8760, 10, 10]).unwrap();
//! let plan = plan_rechunk(&source, &target, &PlanOptions::new(4, 2 << 30)).unwrap();
//! assert!(plan.peak_bytes <= 2 << 30);
//! assert_eq!(plan.passes.last().unwrap().output_chunks, target);
//! println!("{plan}");
//! ```

mod consolidate;
mod display;
mod plan;
mod planner;

pub use consolidate::consolidate;
pub use plan::{
    ArrayRef, CopyPass, CostModel, PlanOptions, RechunkPlan, RechunkStage, Strategy, TaskCost,
    TaskShape,
};

use crate::error::{ChunkingError, Result};
use crate::grid::ChunkGrid;
use planner::Planner;

/// An upper bound of the encoded size of `decoded` bytes under any codec
/// ndchunk writes (zstd, lz4, blosc, deflate all stay below `n + n/128 +
/// 1 KiB` on incompressible data).
pub fn encoded_bound(decoded: u64) -> u64 {
    decoded.saturating_add(decoded / 128).saturating_add(1024)
}

/// The smallest `max_mem` with which `source` can be rechunked to `target`:
/// one task assembling a target chunk, while it reads a source chunk
/// (decoded and encoded) or writes its target chunk (copied and encoded).
pub fn minimum_budget(source: &ChunkGrid, target: &ChunkGrid, itemsize: u64) -> u64 {
    let s = source.max_block_elements().saturating_mul(itemsize);
    let t = target.max_block_elements().saturating_mul(itemsize);
    let reading = s.saturating_add(encoded_bound(s));
    let writing = t.saturating_add(encoded_bound(t));
    t.saturating_add(reading.max(writing))
}

/// Plan the change of `source`'s chunking into `target`'s within
/// `options.max_mem`. See the module documentation for the algorithm.
pub fn plan_rechunk(
    source: &ChunkGrid,
    target: &ChunkGrid,
    options: &PlanOptions,
) -> Result<RechunkPlan> {
    source.check_same_shape(target)?;
    if options.itemsize == 0 {
        return Err(ChunkingError::InvalidChunkSpec {
            spec: "itemsize 0".into(),
            reason: "elements must have a size of at least one byte".into(),
        });
    }
    // Counts the plan is made of (blocks, elements, one chunk's bytes) must
    // fit a u64; the array's total bytes may saturate (shown as such).
    for grid in [source, target] {
        grid.check_counts()?;
        grid.max_block_bytes(options.itemsize)?;
    }
    let minimum = minimum_budget(source, target, options.itemsize);
    if options.max_mem < minimum {
        return Err(ChunkingError::BudgetTooSmall {
            max_mem: options.max_mem,
            minimum,
        });
    }
    let planner = Planner::new(source, target, options, minimum, options.workers);
    if options.strategy.is_none() && options.workers > 1 {
        // Blocks sized for every worker at once may be too small for any
        // staged plan (its last pass holds a whole target chunk), leaving
        // a direct plan that re-reads each source chunk many times. Tasks
        // sized for the whole budget, one at a time, can be far cheaper
        // even without the parallelism: both are priced, by the cost per
        // task that runs at once.
        let shared = planner.finish(planner.search());
        let alone = Planner::new(source, target, options, minimum, 1);
        let single = alone.finish(alone.search());
        // A plan over the budget (only a `task_cost` can make one) never
        // wins over one within it.
        let time = |plan: &RechunkPlan| {
            let over = u8::from(plan.task_peak_bytes > options.max_mem);
            (over, plan.cost / plan.concurrency.max(1) as f64)
        };
        let (single_time, shared_time) = (time(&single), time(&shared));
        let single_wins = single_time
            .0
            .cmp(&shared_time.0)
            .then(single_time.1.total_cmp(&shared_time.1))
            == std::cmp::Ordering::Less;
        return Ok(if single_wins { single } else { shared });
    }

    let candidates = match options.strategy {
        Some(Strategy::Direct) => vec![planner.direct()],
        Some(strategy @ Strategy::Intermediate { stages }) => {
            vec![planner
                .staged(stages.max(1))
                .ok_or(ChunkingError::StrategyDoesNotFit {
                    strategy: format!("{strategy:?}"),
                    max_mem: options.max_mem,
                })?]
        }
        None => planner.search(),
    };
    Ok(planner.finish(candidates))
}
