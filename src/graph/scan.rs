//! The arithmetic of a cumulative operation (`cumsum`, `cumprod`), as the
//! graph's [`NodeKind::Scan`](super::NodeKind::Scan) runs it: a block is
//! scanned along the axis starting from its carry, the reduction of all the
//! blocks before it, which an earlier reduce stage computed.

use crate::error::Result;

use crate::runtime::block::Block;

/// A scan's kernel, type-erased.
pub(crate) trait Scan: Send + Sync {
    /// `block` scanned along `axis`, every lane started from `carry` (the
    /// block's shape with `axis` of length 1); `None` for the first block
    /// along the axis, whose lanes start from their first element.
    fn scan(&self, block: Block, carry: Option<Block>, axis: usize) -> Result<Block>;
}
