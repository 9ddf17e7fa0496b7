//! Running a fused stage's kernel: a region of a node, computed by pulling
//! the same region (or, through a rechunk, the intersecting pieces) from its
//! inputs, down to sources and materialised reductions. One block's
//! intermediates exist at a time; the chain never materialises whole.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ndchunk_chunking::Region;

use crate::error::{Error, Result};
use crate::graph::{BlockInfo, MapRegions, Node, NodeKind, Scan};
use crate::runtime::block::{shape_of, Block};
use crate::runtime::block_cache::BlockCache;
use crate::runtime::lanes::Held;

/// Reductions already computed by earlier stages, by node id, as sources.
pub(crate) type Materialised = HashMap<u64, Arc<Node>>;

/// What one task's evaluation reads besides the graph: earlier stages'
/// results, and the values of shared nodes (read by several elementwise
/// consumers in the stage) kept until their last consumer has read them,
/// so a diamond `f(b) + g(b)` computes `b` once per region.
pub(crate) struct EvalContext<'a> {
    done: &'a Materialised,
    /// Consumers in the stage of each shared node.
    shared: &'a HashMap<u64, usize>,
    /// Values of shared nodes by (node, region), with the reads left.
    memo: RefCell<HashMap<(u64, Region), (Block, usize)>>,
    /// The stage's kept blocks of cached nodes (`None`: computed per read).
    cache: Option<&'a BlockCache>,
    /// Sources whose chunks are read through `cache`, once for all the
    /// stages of a joint group (see `plan::shared_reads`).
    shares: Option<&'a HashSet<u64>>,
}

impl<'a> EvalContext<'a> {
    /// A context for one task; `shared` from [`shared_nodes`].
    pub(crate) fn new(done: &'a Materialised, shared: &'a HashMap<u64, usize>) -> Self {
        Self {
            done,
            shared,
            memo: RefCell::new(HashMap::new()),
            cache: None,
            shares: None,
        }
    }

    /// The same context reading cached nodes' blocks through `cache`.
    pub(crate) fn cached_by(mut self, cache: Option<&'a BlockCache>) -> Self {
        self.cache = cache;
        self
    }

    /// The stage's block cache.
    pub(crate) fn cache(&self) -> Option<&'a BlockCache> {
        self.cache
    }

    /// The same context reading the chunks of `sources` through its cache.
    pub(crate) fn sharing(mut self, sources: &'a HashSet<u64>) -> Self {
        self.shares = Some(sources);
        self
    }

    /// The chunk of source `node` that is exactly `region`, read once for
    /// every stage of a joint group that reads it, as the store decoded
    /// it (a [`Held`] lent to lanes where it lies): `None` when the source
    /// is not shared or the region is not one of its chunks.
    pub(crate) fn shared_chunk(&self, node: &Node, region: &Region) -> Result<Option<Held>> {
        let (Some(cache), Some(shares)) = (self.cache, self.shares) else {
            return Ok(None);
        };
        let NodeKind::Source {
            hold: Some(hold), ..
        } = node.kind()
        else {
            return Ok(None);
        };
        if !shares.contains(&node.id()) {
            return Ok(None);
        }
        let Some(index) = whole_block(node, region) else {
            return Ok(None);
        };
        let bytes = region.num_elements().saturating_mul(node.itemsize());
        let chunk = cache.get(node.id(), &index, bytes, || {
            let held = hold(region)?.ok_or_else(|| internal(node))?;
            Ok(Box::new(held) as Block)
        })?;
        chunk
            .downcast_ref::<Held>()
            .cloned()
            .map(Some)
            .ok_or_else(|| internal(node))
    }

    /// Earlier stages' results, by node id.
    pub(crate) fn materialised(&self) -> &'a Materialised {
        self.done
    }
}

/// The nodes under `roots` (down to sources and earlier stages' results)
/// read by more than one consumer, all of them elementwise (which read the
/// region they are asked for, so a kept value is always used), with their
/// number of consumers. Each root evaluated over a task's region counts as
/// a consumer of itself, so that outputs made by one task share what they
/// read.
pub(crate) fn shared_nodes(roots: &[&Arc<Node>], done: &Materialised) -> HashMap<u64, usize> {
    fn visit(
        node: &Arc<Node>,
        done: &Materialised,
        seen: &mut HashMap<u64, ()>,
        edges: &mut HashMap<u64, (usize, bool)>,
    ) {
        if seen.insert(node.id(), ()).is_some() || done.contains_key(&node.id()) {
            return;
        }
        let elementwise = matches!(
            node.kind(),
            NodeKind::Map {
                regions: MapRegions::Any,
                ..
            }
        );
        for input in node.inputs() {
            let entry = edges.entry(input.id()).or_insert((0, true));
            entry.0 += 1;
            entry.1 &= elementwise;
            visit(input, done, seen, edges);
        }
    }
    let (mut seen, mut edges) = (HashMap::new(), HashMap::new());
    let mut roots = roots.to_vec();
    roots.dedup_by_key(|r| r.id());
    for root in &roots {
        if roots.len() > 1 {
            edges.entry(root.id()).or_insert((0, true)).0 += 1;
        }
        visit(root, done, &mut seen, &mut edges);
    }
    edges
        .into_iter()
        .filter(|(_, (n, elementwise))| *n > 1 && *elementwise)
        .map(|(id, (n, _))| (id, n))
        .collect()
}

/// The values of `node` over `region` (global coordinates).
pub(crate) fn eval(node: &Arc<Node>, region: &Region, ctx: &EvalContext<'_>) -> Result<Block> {
    let Some(&consumers) = ctx.shared.get(&node.id()) else {
        return compute(node, region, ctx);
    };
    let key = (node.id(), region.clone());
    let kept = ctx.memo.borrow_mut().remove(&key);
    let Some((values, reads_left)) = kept else {
        let values = compute(node, region, ctx)?;
        let copy = node
            .block_type()
            .copy_region(&values, &Region::from_shape(&region.shape()))?;
        ctx.memo.borrow_mut().insert(key, (copy, consumers - 1));
        return Ok(values);
    };
    if reads_left <= 1 {
        return Ok(values);
    }
    let copy = node
        .block_type()
        .copy_region(&values, &Region::from_shape(&region.shape()))?;
    ctx.memo.borrow_mut().insert(key, (values, reads_left - 1));
    Ok(copy)
}

fn compute(node: &Arc<Node>, region: &Region, ctx: &EvalContext<'_>) -> Result<Block> {
    if let Some(source) = ctx.done.get(&node.id()) {
        return eval(source, region, ctx);
    }
    match node.kind() {
        NodeKind::Source { read, .. } => match ctx.shared_chunk(node, region)? {
            Some(chunk) => node.block_type().held_block(&chunk),
            None => read(region),
        },
        NodeKind::Map {
            inputs,
            kernel,
            regions,
            ..
        } => {
            let MapRegions::Blocks(block_inputs) = regions else {
                let ins = eval_all(inputs, region, ctx)?;
                return kernel(ins, &BlockInfo { index: &[], region });
            };
            match whole_block(node, region) {
                Some(index) => {
                    let ins = eval_all(inputs, &block_inputs.region(&index)?, ctx)?;
                    kernel(
                        ins,
                        &BlockInfo {
                            index: &index,
                            region,
                        },
                    )
                }
                None => assemble(node, node, region, ctx, |b, _| {
                    let full = node.grid().block_region(b)?;
                    Ok((full.clone(), eval(node, &full, ctx)?))
                }),
            }
        }
        NodeKind::Rechunk { input } => {
            // One input block holds the whole region: no copy needed.
            if within_one_block(input, region) {
                return eval(input, region, ctx);
            }
            assemble(node, input, region, ctx, |_, piece| {
                Ok((piece.clone(), eval(input, piece, ctx)?))
            })
        }
        NodeKind::Scan {
            input,
            carries,
            axis,
            scan,
        } => eval_scan(input, carries, *axis, scan.as_ref(), region, ctx),
        NodeKind::Layout { inputs, op } => {
            let mut pull = |i: usize, r: &Region| match inputs.get(i) {
                Some(input) => eval(input, r, ctx),
                None => Err(internal(node)),
            };
            op.eval(region, &mut pull)
        }
        NodeKind::Cached { input, .. } => match ctx.cache {
            Some(cache) => from_cache(node, input, cache, region, ctx),
            None => eval(input, region, ctx),
        },
        NodeKind::Reduce { .. } => Err(Error::Internal {
            operation: node.name().to_string(),
            message: "a reduction read before its stage ran".into(),
        }),
        NodeKind::Invalid { message } => Err(Error::Invalid {
            operation: node.name().to_string(),
            message: message.clone(),
        }),
    }
}

/// `node`'s values over `region`, cut from the whole blocks of `input`
/// that the region overlaps, each computed once and kept in `cache`.
fn from_cache(
    node: &Node,
    input: &Arc<Node>,
    cache: &BlockCache,
    region: &Region,
    ctx: &EvalContext<'_>,
) -> Result<Block> {
    let (ty, grid) = (node.block_type(), input.grid());
    let whole_block = |b: &[u64]| -> Result<(Region, Arc<Block>)> {
        let whole = grid.block_region(b)?;
        let bytes = whole.num_elements().saturating_mul(node.itemsize());
        let values = cache.get(node.id(), b, bytes, || eval(input, &whole, ctx))?;
        Ok((whole, values))
    };
    let blocks = grid.blocks_overlapping(region)?;
    if blocks.num_blocks() == 1 {
        if let Some(b) = blocks.iter().next() {
            let (whole, values) = whole_block(&b)?;
            let local = region.relative_to(&whole).ok_or_else(|| internal(node))?;
            return ty.copy_region(&values, &local);
        }
    }
    let mut dst = ty.filled(&shape_of(region));
    for b in blocks.iter() {
        let (whole, values) = whole_block(&b)?;
        let Some(piece) = whole.intersect(region).filter(|p| !p.is_empty()) else {
            continue;
        };
        let local = piece.relative_to(&whole).ok_or_else(|| internal(node))?;
        let at = piece.relative_to(region).ok_or_else(|| internal(node))?;
        ty.assign(&mut dst, &at, ty.copy_region(&values, &local)?)?;
    }
    Ok(dst)
}

fn eval_all(inputs: &[Arc<Node>], region: &Region, ctx: &EvalContext<'_>) -> Result<Vec<Block>> {
    inputs.iter().map(|i| eval(i, region, ctx)).collect()
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
    _ctx: &EvalContext<'_>,
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
    Error::Internal {
        operation: node.name().to_string(),
        message: "a piece outside its block".into(),
    }
}

// Scans ([`NodeKind::Scan`]): each block of the input along the scanned
// axis is scanned from its start, seeded with its carry (read from the
// materialised carries), so a value's bits do not depend on which region
// asked for it.

/// `region` with `axis` replaced by `range`.
fn with_axis(region: &Region, axis: usize, range: std::ops::Range<u64>) -> Result<Region> {
    let mut start = region.start().to_vec();
    let mut stop = region.stop().to_vec();
    start[axis] = range.start;
    stop[axis] = range.end;
    Ok(Region::new(start, stop)?)
}

/// The scan of `input` along `axis` over `region` (global coordinates).
fn eval_scan(
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
