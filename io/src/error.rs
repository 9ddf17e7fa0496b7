//! The one error type of this crate.

use thiserror::Error;

use crate::dtype::DType;
use ndchunk_chunking::ChunkingError;

/// What can go wrong reading or writing chunk stores. Every variant names
/// where: the store location (path plus array path) and, for chunk
/// errors, the chunk index.
#[derive(Debug, Error)]
pub enum IoError {
    /// An element type ndchunk cannot hold in a fixed-size array.
    #[error(
        "unsupported dtype `{dtype}`: ndchunk arrays hold bool, int8-int64, uint8-uint64, float32 and float64"
    )]
    UnsupportedDType {
        /// The dtype as written in the store or by the user.
        dtype: String,
    },
    /// An array opened, read or written as another dtype than it has.
    #[error("{location}: the array holds {actual}, not {requested}")]
    WrongDType {
        /// The array.
        location: String,
        /// Its dtype.
        actual: DType,
        /// The dtype asked for.
        requested: DType,
    },
    /// A chunk whose stored bytes cannot be decoded.
    #[error("{location}: chunk {chunk:?} is corrupt: {reason}")]
    CorruptChunk {
        /// The array.
        location: String,
        /// The chunk index.
        chunk: Vec<u64>,
        /// What the decoder said.
        reason: String,
    },
    /// Array or group metadata that is missing or cannot be understood.
    #[error("{location}: bad metadata: {reason}")]
    Metadata {
        /// The store node.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A codec this build cannot run.
    #[error("{location}: codec `{codec}` is not supported by this build of ndchunk")]
    UnsupportedCodec {
        /// The array.
        location: String,
        /// The codec's name.
        codec: String,
    },
    /// A path that is not a store ndchunk can open.
    #[error("{path}: not a Zarr store or HDF5/netCDF file: {reason}")]
    NotAStore {
        /// The path given.
        path: String,
        /// Why.
        reason: String,
    },
    /// Bytes of the wrong length for the region they are written to.
    #[error("{location}: {got} bytes given for a region of {expected} bytes")]
    WrongLength {
        /// The array.
        location: String,
        /// Bytes the region holds.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A region write that does not cover whole chunks.
    #[error("{location}: region {region} does not cover whole chunks; writes are whole-chunk")]
    NotChunkAligned {
        /// The array.
        location: String,
        /// The region.
        region: String,
    },
    /// A grid question failed (out of bounds, wrong number of axes, …).
    #[error("{location}: {source}")]
    Grid {
        /// The array.
        location: String,
        /// The grid's answer.
        source: ChunkingError,
    },
    /// Anything else the storage layer reports (I/O errors, a full disk).
    #[error("{location}: {message}")]
    Storage {
        /// The store node.
        location: String,
        /// What happened.
        message: String,
    },
    /// A name read from a container (group member, array, consolidated
    /// metadata key) that would reach outside its node if used as a path.
    #[error("{location}: unsafe name {name:?} refused: {reason}")]
    UnsafeName {
        /// The container that holds the name.
        location: String,
        /// The name, as read.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Object storage that refused the request (HTTP 403: credentials,
    /// or the bucket's policy).
    #[error("{location}: permission denied: {reason}")]
    PermissionDenied {
        /// The store.
        location: String,
        /// What the server said, and what to check.
        reason: String,
    },
    /// A write to a store that ndchunk only reads (a netCDF-3 file): a
    /// variant of its own so that a caller can tell "choose another output"
    /// from a failing disk.
    #[error("{location}: read-only: {reason}")]
    ReadOnly {
        /// The array.
        location: String,
        /// Why, and what to write instead.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = IoError> = std::result::Result<T, E>;
