//! Evaluating a scan node ([`NodeKind::Scan`](crate::graph::NodeKind::Scan))
//! over a region: each block of the input along the scanned axis is scanned
//! from its start, seeded with its carry (read from the materialised
//! carries), so a value's bits do not depend on which region asked for it.

use std::sync::Arc;

use ndchunk_chunking::Region;

use crate::error::{Error, Result};
use crate::graph::block::shape_of;
use crate::graph::{Block, Node, Scan};

use super::fused_eval::{eval, EvalContext};

/// `region` with `axis` replaced by `range`.
fn with_axis(region: &Region, axis: usize, range: std::ops::Range<u64>) -> Result<Region> {
    let mut start = region.start().to_vec();
    let mut stop = region.stop().to_vec();
    start[axis] = range.start;
    stop[axis] = range.end;
    Ok(Region::new(start, stop)?)
}

/// The scan of `input` along `axis` over `region` (global coordinates).
pub(super) fn eval_scan(
    input: &Arc<Node>,
    carries: &Arc<Node>,
    axis: usize,
    scan: &dyn Scan,
    region: &Region,
    ctx: &EvalContext<'_>,
) -> Result<Block> {
    let chunks = input.grid().axis(axis);
    let range = region.range(axis);
    let blocks = chunks.chunks_overlapping(range.clone());
    if blocks.is_empty() {
        // Nothing along the axis: an empty block of the right type.
        return eval(input, region, ctx);
    }
    let ty = input.block_type();
    let single = blocks.end - blocks.start == 1;
    let mut out = (!single).then(|| ty.filled(&shape_of(region)));
    for k in blocks {
        let block = chunks.chunk_range(k);
        let piece = range.start.max(block.start)..range.end.min(block.end);
        // From the block's start: the carry is where the block begins.
        let from_start = with_axis(region, axis, block.start..piece.end)?;
        let carry = match k {
            0 => None,
            _ => Some(eval(carries, &with_axis(region, axis, k..k + 1)?, ctx)?),
        };
        let scanned = scan.scan(eval(input, &from_start, ctx)?, carry, axis)?;
        let local = with_axis(
            &Region::from_shape(&from_start.shape()),
            axis,
            piece.start - block.start..piece.end - block.start,
        )?;
        let values = ty.cut(scanned, &local)?;
        let Some(out) = out.as_mut() else {
            return Ok(values);
        };
        let at = with_axis(
            &Region::from_shape(&region.shape()),
            axis,
            piece.start - range.start..piece.end - range.start,
        )?;
        ty.assign(out, &at, values)?;
    }
    out.ok_or_else(|| Error::Internal {
        operation: "scan".into(),
        message: "a scan over no block".into(),
    })
}
