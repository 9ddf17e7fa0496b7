//! Cache tiling of a task's fused elementwise chain. A task evaluates its
//! chain over a whole block; for a large block every intermediate (the
//! copy of an in-memory source, `a * 2`, `+ b`, …) is a pass over memory
//! that does not fit in cache. Here the block is cut into tiles of about
//! [`TILE_ELEMENTS`] elements and the chain runs tile by tile, so its
//! intermediates stay in L2 and memory is read about once.
//!
//! A tile is evaluated exactly like a block only for nodes that compute any
//! region at a cost proportional to it: elementwise maps, sources with no
//! decode scratch (in-memory arrays, constants, seeded random data) and
//! rechunks over those. Any other node met below the elementwise maps (a
//! store's source, which decodes whole chunks; `map_blocks`; a scan; a
//! layout operation; an earlier stage's result) is a *barrier*: it is
//! evaluated once over the whole task region, as without tiling, and the
//! tiles copy their part of it.
//!
//! Tiles depend only on the task's region (so on the grid), never on the
//! threads. An elementwise result is the same bits tiled or not; a
//! reduction folds its tiles' partials in tile order, a finer tree than
//! one partial per block, fixed by the grid as well.

use std::collections::HashSet;
use std::sync::Arc;

use ndchunk_chunking::Region;

use super::{eval, EvalContext, Materialised};
use crate::error::{Error, Result};
use crate::graph::block::shape_of;
use crate::graph::{Block, Node, NodeKind, Reduction};

/// Elements of one tile: 256 KiB of float64, so that a chain's inputs and
/// intermediates for one tile fit together in a core's L2.
pub const TILE_ELEMENTS: u64 = 1 << 15;

/// `node` over `region`, the same values as [`eval`], tile by tile when
/// the region is large and the chain can be tiled.
pub fn eval_tiled(node: &Arc<Node>, region: &Region, ctx: &EvalContext<'_>) -> Result<Block> {
    let Some(tiles) = block_tiles(region) else {
        return eval(node, region, ctx);
    };
    let Some(barriers) = barriers(node, ctx.materialised()) else {
        return eval(node, region, ctx);
    };
    let done = with_barriers(&barriers, region, ctx)?;
    let tile_ctx = EvalContext::new(&done, ctx.shared());
    let ty = node.block_type();
    let mut out = ty.filled(&shape_of(region));
    for tile in &tiles {
        let values = eval(node, tile, &tile_ctx)?;
        let at = tile.relative_to(region).ok_or_else(|| internal(node))?;
        ty.assign(&mut out, &at, values)?;
    }
    Ok(out)
}

/// The partial result of `reduction` over `axes` of `input` over `region`
/// (a block of `input`'s grid): tile by tile along the first reduced axis
/// when the region is large and the chain can be tiled, the tiles'
/// partials combined in order.
pub fn partial_tiled(
    input: &Arc<Node>,
    reduction: &dyn Reduction,
    axes: &[usize],
    region: &Region,
    ctx: &EvalContext<'_>,
) -> Result<Block> {
    let whole = || reduction.partial(eval(input, region, ctx)?, axes, region);
    if !reduction.splits_blocks() {
        return whole();
    }
    let Some(tiles) = reduce_tiles(region, axes) else {
        return whole();
    };
    let Some(barriers) = barriers(input, ctx.materialised()) else {
        return whole();
    };
    let done = with_barriers(&barriers, region, ctx)?;
    let tile_ctx = EvalContext::new(&done, ctx.shared());
    let mut acc: Option<Block> = None;
    for tile in &tiles {
        let part = reduction.partial(eval(input, tile, &tile_ctx)?, axes, tile)?;
        acc = Some(match acc {
            None => part,
            Some(a) => reduction.combine(a, part)?,
        });
    }
    acc.ok_or_else(|| internal(input))
}

/// The barriers under `root` (see the module docs), or `None` when the
/// root itself is one (nothing to tile).
fn barriers(root: &Arc<Node>, done: &Materialised) -> Option<Vec<Arc<Node>>> {
    fn walk(
        node: &Arc<Node>,
        done: &Materialised,
        seen: &mut HashSet<u64>,
        out: &mut Vec<Arc<Node>>,
    ) {
        if !seen.insert(node.id()) {
            return;
        }
        match node.kind() {
            NodeKind::Map {
                inputs,
                per_block: false,
                ..
            } if !done.contains_key(&node.id()) => {
                for input in inputs {
                    walk(input, done, seen, out);
                }
            }
            _ if cheap(node, done) => {}
            _ => out.push(node.clone()),
        }
    }
    let elementwise = matches!(
        root.kind(),
        NodeKind::Map {
            per_block: false,
            ..
        }
    );
    if done.contains_key(&root.id()) || !(elementwise || cheap(root, done)) {
        return None;
    }
    let mut out = Vec::new();
    walk(root, done, &mut HashSet::new(), &mut out);
    Some(out)
}

/// Whether any region of `node` costs in proportion to its size: the
/// node and everything under it are sources without decode scratch,
/// elementwise maps and rechunks.
fn cheap(node: &Arc<Node>, done: &Materialised) -> bool {
    if done.contains_key(&node.id()) {
        return false;
    }
    match node.kind() {
        NodeKind::Source { scratch_bytes, .. } => *scratch_bytes == 0,
        NodeKind::Map {
            inputs,
            per_block: false,
            ..
        } => inputs.iter().all(|i| cheap(i, done)),
        NodeKind::Rechunk { input } => cheap(input, done),
        _ => false,
    }
}

/// `ctx`'s earlier results plus each barrier evaluated once over `region`,
/// as an in-memory source the tiles copy from.
fn with_barriers(
    barriers: &[Arc<Node>],
    region: &Region,
    ctx: &EvalContext<'_>,
) -> Result<Materialised> {
    let mut done = ctx.materialised().clone();
    if barriers.is_empty() {
        return Ok(done);
    }
    // Evaluated apart from the tiles' sharing: a barrier read by several
    // consumers is read from its copy below, never from the memo.
    let alone = Default::default();
    let whole_ctx = EvalContext::new(ctx.materialised(), &alone);
    for node in barriers {
        let values = Arc::new(eval(node, region, &whole_ctx)?);
        let ty = node.block_type().clone();
        let origin = region.clone();
        let name = node.name().to_string();
        let read = move |tile: &Region| {
            let local = tile.relative_to(&origin).ok_or_else(|| Error::Graph {
                operation: name.clone(),
                message: "internal: a tile outside its task".into(),
            })?;
            ty.copy_region(&values, &local)
        };
        let source = Node::new(
            node.name(),
            node.grid().clone(),
            node.block_type().clone(),
            NodeKind::Source {
                read: Arc::new(read),
                scratch_bytes: 0,
            },
        );
        done.insert(node.id(), source);
    }
    Ok(done)
}

/// Tiles of a block in C order: along the first axis whose inner axes hold
/// at most [`TILE_ELEMENTS`], one index at a time along the axes before it.
/// `None` when the block is a tile or two.
fn block_tiles(region: &Region) -> Option<Vec<Region>> {
    if region.num_elements() <= 2 * TILE_ELEMENTS {
        return None;
    }
    let shape = region.shape();
    let mut inner = 1u64;
    let mut axis = shape.len();
    while axis > 0 && inner.saturating_mul(shape[axis - 1]) <= TILE_ELEMENTS {
        axis -= 1;
        inner *= shape[axis];
    }
    // `axis` is the first axis kept whole; the tiles step along the one
    // before it.
    let k = axis.checked_sub(1)?;
    let step = (TILE_ELEMENTS / inner).max(1);
    Some(split(region, k, step, true))
}

/// Tiles of a block for a reduction over `axes`: slabs along the first
/// reduced axis, each spanning every other axis (so that each tile's
/// partial has the block's partial's shape). `None` when the other axes
/// alone hold more than two tiles' worth, or the block is a tile.
fn reduce_tiles(region: &Region, axes: &[usize]) -> Option<Vec<Region>> {
    if region.num_elements() <= 2 * TILE_ELEMENTS {
        return None;
    }
    let &k = axes.iter().min()?;
    let shape = region.shape();
    let others = region.num_elements() / shape[k].max(1);
    if others > 2 * TILE_ELEMENTS {
        return None;
    }
    let step = (TILE_ELEMENTS / others.max(1)).max(1);
    (step < shape[k]).then(|| split(region, k, step, false))
}

/// `region` cut along axis `k` in steps of `step`; with `outer`, also one
/// index at a time along the axes before `k`. C order.
fn split(region: &Region, k: usize, step: u64, outer: bool) -> Vec<Region> {
    let (start, stop) = (region.start(), region.stop());
    let cut_axes = if outer { k } else { 0 };
    let mut tiles = Vec::new();
    let mut at: Vec<u64> = start[..cut_axes].to_vec();
    loop {
        let mut s = start[k];
        while s < stop[k] {
            let e = (s + step).min(stop[k]);
            let mut lo = start.to_vec();
            let mut hi = stop.to_vec();
            for (a, &i) in at.iter().enumerate() {
                lo[a] = i;
                hi[a] = i + 1;
            }
            lo[k] = s;
            hi[k] = e;
            if let Ok(tile) = Region::new(lo, hi) {
                tiles.push(tile);
            }
            s = e;
        }
        // The next index along the outer axes, last axis fastest.
        let mut a = cut_axes;
        loop {
            if a == 0 {
                return tiles;
            }
            a -= 1;
            at[a] += 1;
            if at[a] < stop[a] {
                break;
            }
            at[a] = start[a];
        }
    }
}

fn internal(node: &Node) -> Error {
    Error::Graph {
        operation: node.name().to_string(),
        message: "internal: a tile outside its task".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: &[u64], stop: &[u64]) -> Region {
        Region::new(start.to_vec(), stop.to_vec()).unwrap()
    }

    /// Tiles cover the region exactly once, in C order.
    fn assert_partition(r: &Region, tiles: &[Region]) {
        let total: u64 = tiles.iter().map(Region::num_elements).sum();
        assert_eq!(total, r.num_elements());
        for (i, t) in tiles.iter().enumerate() {
            assert!(r.contains(t), "{t} outside {r}");
            for u in &tiles[i + 1..] {
                assert!(t.intersect(u).is_none_or(|x| x.is_empty()), "{t} meets {u}");
                assert!(t.start() < u.start(), "{t} after {u}");
            }
        }
    }

    #[test]
    fn block_tiles_partition_the_block() {
        for (start, stop) in [
            (vec![5], vec![5 + (1 << 20) + 17]),
            (vec![3, 0], vec![1027, 1024]),
            (vec![0, 0], vec![3, 100_000]),
            (vec![1, 2, 3], vec![40, 70, 300]),
            (vec![0, 0, 0], vec![2, 3, 70_001]),
        ] {
            let r = region(&start, &stop);
            let tiles = block_tiles(&r).unwrap();
            assert!(tiles.len() > 1);
            assert!(tiles.iter().all(|t| t.num_elements() <= TILE_ELEMENTS));
            assert_partition(&r, &tiles);
        }
        assert!(block_tiles(&region(&[0, 0], &[100, 100])).is_none());
    }

    #[test]
    fn reduce_tiles_span_the_other_axes() {
        let r = region(&[0, 0], &[1024, 1024]);
        for axes in [vec![0], vec![1], vec![0, 1]] {
            let tiles = reduce_tiles(&r, &axes).unwrap();
            let k = axes[0];
            for t in &tiles {
                for a in (0..2).filter(|&a| a != k) {
                    assert_eq!(t.range(a), r.range(a));
                }
            }
            assert_partition(&r, &tiles);
        }
        // The other axes alone are too large for a tile.
        assert!(reduce_tiles(&region(&[0, 0], &[1_000_000, 4]), &[1]).is_none());
        assert!(reduce_tiles(&region(&[0], &[10]), &[0]).is_none());
    }
}
