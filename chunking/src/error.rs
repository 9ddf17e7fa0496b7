//! The one error type of this crate.

use thiserror::Error;

use crate::bytesize::format_bytes;

/// Everything that can go wrong when asking the chunk-grid algebra a question.
///
/// Each variant says what was wrong and where (axis, block, sizes), so that a
/// message shown to a user of `chunkctl` is enough to fix the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChunkingError {
    /// Two things that must have the same number of axes do not.
    #[error("{what}: expected {expected} axes, got {got}")]
    NdimMismatch {
        /// What was being compared.
        what: &'static str,
        /// The number of axes required.
        expected: usize,
        /// The number of axes given.
        got: usize,
    },
    /// Two grids or regions that must cover the same shape do not.
    #[error("shape mismatch: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// The first shape.
        left: Vec<u64>,
        /// The second shape.
        right: Vec<u64>,
    },
    /// A chunk size of zero on an axis of non-zero length.
    #[error("axis {axis}: chunk size 0 is only allowed on an axis of length 0 (length is {len})")]
    ZeroChunk {
        /// The axis.
        axis: usize,
        /// Its length.
        len: u64,
    },
    /// Explicit chunk sizes that do not add up to the axis length.
    #[error("axis {axis}: chunk sizes add up to {sum}, but the axis has length {len}")]
    ChunksDoNotAddUp {
        /// The axis.
        axis: usize,
        /// The sum of the given sizes.
        sum: u64,
        /// The axis length.
        len: u64,
    },
    /// A region whose start lies after its stop.
    #[error("axis {axis}: region start {start} is after its stop {stop}")]
    InvertedRegion {
        /// The axis.
        axis: usize,
        /// Region start.
        start: u64,
        /// Region stop.
        stop: u64,
    },
    /// A region that reaches outside the array.
    #[error("region {region} is outside the array of shape {shape:?}")]
    RegionOutOfBounds {
        /// The region, formatted.
        region: String,
        /// The array shape.
        shape: Vec<u64>,
    },
    /// A block index outside the grid.
    #[error("block {block:?} is outside the grid of {blocks:?} blocks")]
    BlockOutOfBounds {
        /// The block index.
        block: Vec<u64>,
        /// Blocks per axis.
        blocks: Vec<u64>,
    },
    /// A grid with more blocks than a `u64` linear index can count.
    #[error("a grid of {blocks:?} blocks has more than 2^64 blocks: no linear index exists")]
    TooManyBlocks {
        /// Blocks per axis.
        blocks: Vec<u64>,
    },
    /// An irregular axis that would need more chunk bounds than memory
    /// should hold (two regular chunkings of a huge axis that do not divide
    /// each other).
    #[error(
        "an axis of length {len} would be cut into {chunks} irregular chunks (more than {limit}): \
         choose chunks that divide one another, or fewer of them"
    )]
    TooManyChunks {
        /// The axis length.
        len: u64,
        /// The chunks it would need.
        chunks: u64,
        /// The most allowed.
        limit: u64,
    },
    /// An array (or one chunk of it) with more elements than a `u64` counts.
    #[error(
        "{what} of shape {shape:?} has 2^64 elements or more, more than a 64-bit count can hold"
    )]
    TooManyElements {
        /// What was counted ("the array", "one chunk").
        what: &'static str,
        /// Its shape.
        shape: Vec<u64>,
    },
    /// An array (or one chunk of it) whose size in bytes a `u64` cannot hold.
    #[error(
        "{what} of shape {shape:?} in {itemsize}-byte elements holds 2^63 bytes (8 EiB) or more, \
         more than 64-bit sizes can count or address"
    )]
    TooManyBytes {
        /// What was counted ("the array", "one chunk").
        what: &'static str,
        /// Its shape.
        shape: Vec<u64>,
        /// Bytes per element.
        itemsize: u64,
    },
    /// A translation that would move a region below zero or past `u64::MAX`.
    #[error("translating region {region} by {offset:?} leaves the coordinate range")]
    TranslateOverflow {
        /// The region, formatted.
        region: String,
        /// The offset.
        offset: Vec<i64>,
    },
    /// A chunk specification that cannot be understood or applied.
    #[error("invalid chunk spec `{spec}`: {reason}")]
    InvalidChunkSpec {
        /// The offending part of the spec.
        spec: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A byte size such as `1GiB` that cannot be parsed.
    #[error("invalid byte size `{text}`: {reason}")]
    InvalidByteSize {
        /// The text given.
        text: String,
        /// Why it is wrong.
        reason: String,
    },
    /// The memory budget cannot hold even the smallest possible task.
    #[error(
        "max_mem of {max_mem} bytes ({}) is too small: one task must hold {minimum} bytes ({}) \
         (a target chunk being assembled, plus a source chunk decoded and encoded while \
         reading, or the target chunk copied and encoded while writing); \
         use a budget of at least {} or smaller chunks",
        format_bytes(*.max_mem), format_bytes(*.minimum), format_bytes(*.minimum)
    )]
    BudgetTooSmall {
        /// The budget given.
        max_mem: u64,
        /// The smallest budget that would work.
        minimum: u64,
    },
    /// A plan kind the caller asked for cannot fit the budget.
    #[error("a {strategy} rechunk plan does not fit max_mem of {max_mem} bytes")]
    StrategyDoesNotFit {
        /// The plan kind asked for.
        strategy: String,
        /// The budget.
        max_mem: u64,
    },
}

/// Result alias for this crate.
pub type Result<T, E = ChunkingError> = std::result::Result<T, E>;
