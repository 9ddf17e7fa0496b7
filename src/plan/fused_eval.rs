//! Running a fused stage's kernel: a region of a node, computed by pulling
//! the same region (or, through a rechunk, the intersecting pieces) from its
//! inputs, down to sources and materialised reductions. One block's
//! intermediates exist at a time; the chain never materialises whole.

use std::collections::HashMap;
use std::sync::Arc;

use ndchunk_chunking::Region;

use crate::error::{Error, Result};
use crate::graph::{Block, BlockInfo, Node, NodeKind};

/// Reductions already computed by earlier stages, by node id, as sources.
pub type Materialised = HashMap<u64, Arc<Node>>;

/// The values of `node` over `region` (global coordinates).
pub fn eval(node: &Arc<Node>, region: &Region, done: &Materialised) -> Result<Block> {
    if let Some(source) = done.get(&node.id()) {
        return eval(source, region, done);
    }
    match node.kind() {
        NodeKind::Source { read, .. } => read(region),
        NodeKind::Map {
            inputs,
            kernel,
            per_block,
        } => {
            if !*per_block {
                let ins = eval_all(inputs, region, done)?;
                return kernel(ins, &BlockInfo { index: &[], region });
            }
            match whole_block(node, region) {
                Some(index) => {
                    let ins = eval_all(inputs, region, done)?;
                    kernel(
                        ins,
                        &BlockInfo {
                            index: &index,
                            region,
                        },
                    )
                }
                None => assemble(node, node, region, done, |b, _| {
                    let full = node.grid().block_region(b)?;
                    Ok((full.clone(), eval(node, &full, done)?))
                }),
            }
        }
        NodeKind::Rechunk { input } => {
            // One input block holds the whole region: no copy needed.
            if within_one_block(input, region) {
                return eval(input, region, done);
            }
            assemble(node, input, region, done, |_, piece| {
                Ok((piece.clone(), eval(input, piece, done)?))
            })
        }
        NodeKind::Scan {
            input,
            carries,
            axis,
            scan,
        } => super::fused_scan::eval_scan(input, carries, *axis, scan.as_ref(), region, done),
        NodeKind::Layout { inputs, op } => {
            let mut pull = |i: usize, r: &Region| match inputs.get(i) {
                Some(input) => eval(input, r, done),
                None => Err(internal(node)),
            };
            op.eval(region, &mut pull)
        }
        NodeKind::Reduce { .. } => Err(Error::Graph {
            operation: node.name().to_string(),
            message: "internal: a reduction read before its stage ran".into(),
        }),
        NodeKind::Invalid { message } => Err(Error::Graph {
            operation: node.name().to_string(),
            message: message.clone(),
        }),
    }
}

fn eval_all(inputs: &[Arc<Node>], region: &Region, done: &Materialised) -> Result<Vec<Block>> {
    inputs.iter().map(|i| eval(i, region, done)).collect()
}

/// The index of the block of `node`'s grid that is exactly `region`.
fn whole_block(node: &Node, region: &Region) -> Option<Vec<u64>> {
    let grid = node.grid();
    let index = grid.block_of(region.start())?;
    (grid.block_region(&index).ok()? == *region).then_some(index)
}

fn within_one_block(node: &Node, region: &Region) -> bool {
    node.grid()
        .blocks_overlapping(region)
        .map(|r| r.num_blocks() <= 1)
        .unwrap_or(false)
}

/// `out`'s values over `region`, assembled from the blocks of `by`'s grid
/// that the region overlaps (the rechunk dependency rule: for a block of the
/// new grid, its pieces of old blocks). `fetch(block, piece)` returns a
/// region containing `piece` and the values over it.
fn assemble(
    out: &Node,
    by: &Node,
    region: &Region,
    _done: &Materialised,
    fetch: impl Fn(&[u64], &Region) -> Result<(Region, Block)>,
) -> Result<Block> {
    let ty = out.block_type();
    let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
    let mut dst = ty.filled(&shape);
    for b in by.grid().blocks_overlapping(region)?.iter() {
        let Some(piece) = by.grid().block_region(&b)?.intersect(region) else {
            continue;
        };
        if piece.is_empty() {
            continue;
        }
        let (got_region, got) = fetch(&b, &piece)?;
        let local = piece
            .relative_to(&got_region)
            .ok_or_else(|| internal(out))?;
        let values = ty.cut(got, &local)?;
        let at = piece.relative_to(region).ok_or_else(|| internal(out))?;
        ty.assign(&mut dst, &at, values)?;
    }
    Ok(dst)
}

fn internal(node: &Node) -> Error {
    Error::Graph {
        operation: node.name().to_string(),
        message: "internal: a piece outside its block".into(),
    }
}
