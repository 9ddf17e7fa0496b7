//! The one error type of this crate.

use thiserror::Error;

/// What can go wrong reading or writing chunk stores.
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
}
