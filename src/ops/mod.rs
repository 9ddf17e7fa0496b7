//! The operations of [`Array`](crate::Array), one file per family. Each
//! adds one node to the graph and returns at once.

pub(crate) mod blocks;
pub(crate) mod coarsen;
pub(crate) mod elementwise;
pub(crate) mod filters;
pub(crate) mod histogram;
pub(crate) mod label;
pub(crate) mod layout;
pub(crate) mod logic;
pub(crate) mod numeric;
pub(crate) mod overlap;
pub(crate) mod reduce;

pub use blocks::{map_blocks, BlockSpec};

/// An argument given once for all `ndim` axes or once per axis (numpy's
/// `pad_width`, Dask's `depth`, scipy's `sigma`), one per axis; `what`
/// names it in the error (`"depths"`).
pub(crate) fn per_axis<V: Copy>(values: &[V], ndim: usize, what: &str) -> Result<Vec<V>, String> {
    match values.len() {
        1 => Ok(vec![values[0]; ndim]),
        n if n == ndim => Ok(values.to_vec()),
        n => Err(format!(
            "{n} {what} for a {ndim}-dimensional array (give one, or one per axis)"
        )),
    }
}
pub use coarsen::{CoarsenElement, Downsample};
pub use elementwise::Operand;
pub use filters::{FilterElement, FilterFloat, FilterOptions};
pub use label::RegionProps;
pub use layout::{concatenate, stack, Index, PadMode};
pub use logic::{blockwise, where_};
pub use numeric::Numeric;
pub(crate) use reduce::GroupStat;
pub use reduce::{Axes, MeanElement, ReduceOptions, DEFAULT_SPLIT_EVERY};
