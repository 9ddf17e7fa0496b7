//! `reshape` in C order, where chunk boundaries allow it: the axes are
//! matched in groups of equal size (one input axis to one output axis,
//! several merged into one, one split into several); each output block
//! must read one box of input. Merging needs the inner input axes whole
//! (one chunk); splitting needs the chunks to be whole rows of the inner
//! output axes. Anything else is an error that suggests the rechunk.

use std::ops::Range;

use ndarray::{ArrayD, Axis, IxDyn};
use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};
use ndchunk_io::Element;

use super::layout;
use crate::array::Array;
use crate::error::{Error, Result};
use crate::graph::{LayoutOp, PullFn};
use crate::ops::elementwise::invalid;
use crate::runtime::block::Block;
use crate::runtime::block::{block, take};
use crate::runtime::block_type::BlockType;

/// Input axes `ins` hold the same elements as output axes `outs`.
#[derive(Debug, Clone)]
struct Group {
    ins: Range<usize>,
    outs: Range<usize>,
}

/// numpy's shape with at most one `-1` (inferred).
fn resolve_shape(size: u64, shape: &[i64]) -> std::result::Result<Vec<u64>, String> {
    let bad = || format!("cannot reshape array of size {size} into shape {shape:?}");
    if shape.iter().filter(|&&n| n == -1).count() > 1 {
        return Err("can only specify one unknown dimension (-1)".into());
    }
    if shape.iter().any(|&n| n < -1) {
        return Err(bad());
    }
    let known: u64 = shape
        .iter()
        .filter(|&&n| n >= 0)
        .map(|&n| n as u64)
        .product();
    shape
        .iter()
        .map(|&n| match n {
            -1 if known > 0 && size.is_multiple_of(known) => Ok(size / known),
            -1 => Err(bad()),
            n => Ok(n as u64),
        })
        .collect::<std::result::Result<Vec<u64>, String>>()
        .and_then(|s| {
            (s.iter().product::<u64>() == size)
                .then_some(s)
                .ok_or_else(bad)
        })
}

/// The groups of two shapes of equal, non-zero size; a length-1 axis
/// facing a longer one is a group of its own (inserted or dropped).
fn groups(a: &[u64], b: &[u64]) -> Option<Vec<Group>> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        let (x, y) = (a.get(i).copied(), b.get(j).copied());
        if x == Some(1) && y != Some(1) {
            out.push(Group {
                ins: i..i + 1,
                outs: j..j,
            });
            i += 1;
            continue;
        }
        if y == Some(1) && x != Some(1) {
            out.push(Group {
                ins: i..i,
                outs: j..j + 1,
            });
            j += 1;
            continue;
        }
        let (i0, j0) = (i, j);
        let (mut p, mut q) = (x?, y?);
        i += 1;
        j += 1;
        while p != q {
            if p < q {
                p *= *a.get(i)?;
                i += 1;
            } else {
                q *= *b.get(j)?;
                j += 1;
            }
        }
        out.push(Group {
            ins: i0..i,
            outs: j0..j,
        });
    }
    Some(out)
}

/// The output grid, or why the input's chunks do not allow the reshape.
fn reshape_grid(
    input: &ChunkGrid,
    shape: &[u64],
    groups: &[Group],
) -> std::result::Result<ChunkGrid, String> {
    let in_shape = input.shape();
    let mut axes = Vec::with_capacity(shape.len());
    for g in groups {
        if g.outs.is_empty() {
            continue;
        }
        if g.ins.is_empty() {
            axes.push(AxisChunks::from_sizes(&[1]).map_err(|e| e.to_string())?);
            continue;
        }
        if g.ins.len() == 1 && g.outs.len() == 1 {
            axes.push(input.axis(g.ins.start).clone());
            continue;
        }
        let inner_in: Vec<usize> = (g.ins.start + 1..g.ins.end).collect();
        if let Some(&a) = inner_in.iter().find(|&&a| input.axis(a).num_chunks() > 1) {
            return Err(format!(
                "merging input axes {:?} needs axes {inner_in:?} in one chunk each (axis {a} has {} chunks); rechunk them to whole axes first, e.g. .rechunk() with chunk size {} on axis {a}",
                g.ins, input.axis(a).num_chunks(), in_shape[a]
            ));
        }
        let p_in: u64 = inner_in.iter().map(|&a| in_shape[a]).product();
        let p_out: u64 = shape[g.outs.start + 1..g.outs.end].iter().product();
        let lead = input.axis(g.ins.start);
        let mut sizes = Vec::new();
        for s in lead.sizes() {
            let flat = s * p_in;
            if !flat.is_multiple_of(p_out) {
                return Err(format!(
                    "splitting into output axes {:?} needs the chunks of input axis {} to hold whole multiples of {} elements{}; rechunk input axis {} to a multiple of {} first",
                    g.outs,
                    g.ins.start,
                    p_out,
                    if p_in > 1 { format!(" (times {p_in} merged)") } else { String::new() },
                    g.ins.start,
                    p_out / gcd(p_out, p_in)
                ));
            }
            sizes.push(flat / p_out);
        }
        axes.push(AxisChunks::from_sizes(&sizes).map_err(|e| e.to_string())?);
        for &n in &shape[g.outs.start + 1..g.outs.end] {
            axes.push(AxisChunks::from_sizes(&[n]).map_err(|e| e.to_string())?);
        }
    }
    Ok(ChunkGrid::new(axes))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

struct Reshape<T> {
    input_shape: Vec<u64>,
    shape: Vec<u64>,
    groups: Vec<Group>,
    grid: ChunkGrid,
    ty: std::sync::Arc<dyn BlockType>,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T: Element> Reshape<T> {
    /// One piece inside one output block: its input box, regrouped.
    fn piece(&self, region: &Region, pull: &mut PullFn<'_>) -> Result<Block> {
        let out_shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
        let mut start = vec![0u64; self.input_shape.len()];
        let mut stop = vec![0u64; self.input_shape.len()];
        let mut flats = Vec::with_capacity(self.groups.len());
        let mut picks = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let in_dims = &self.input_shape[g.ins.clone()];
            let out_dims = &self.shape[g.outs.clone()];
            // Output positions of the group, in C order, as linear indices.
            let mut linear = vec![0u64];
            for (k, a) in g.outs.clone().enumerate() {
                let r = region.range(a);
                linear = linear
                    .iter()
                    .flat_map(|&l| r.clone().map(move |i| l * out_dims[k] + i))
                    .collect();
            }
            // Two passes over the positions with one index buffer: the
            // box they span, then each one's offset inside the box.
            let mut m = vec![0u64; in_dims.len()];
            let unravel = |l: u64, m: &mut [u64]| {
                let mut rest = l;
                for (slot, &d) in m.iter_mut().zip(in_dims).rev() {
                    *slot = rest % d;
                    rest /= d;
                }
            };
            let mut lo = vec![u64::MAX; in_dims.len()];
            let mut hi = vec![0u64; in_dims.len()];
            for &l in &linear {
                unravel(l, &mut m);
                for (k, &v) in m.iter().enumerate() {
                    lo[k] = lo[k].min(v);
                    hi[k] = hi[k].max(v + 1);
                }
            }
            let mut flat = 1u64;
            for (k, a) in g.ins.clone().enumerate() {
                start[a] = lo[k];
                stop[a] = hi[k];
                flat *= hi[k] - lo[k];
            }
            let offsets: Vec<usize> = linear
                .iter()
                .map(|&l| {
                    unravel(l, &mut m);
                    m.iter()
                        .enumerate()
                        .fold(0u64, |acc, (k, &v)| acc * (hi[k] - lo[k]) + (v - lo[k]))
                        as usize
                })
                .collect();
            flats.push(flat as usize);
            picks.push(offsets);
        }
        let name = "reshape";
        let piece = take::<T>(pull(0, &Region::new(start, stop)?)?, name)?;
        let internal = |e: ndarray::ShapeError| Error::Internal {
            operation: name.into(),
            message: format!("{e}"),
        };
        let mut values: ArrayD<T> = piece
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&flats))
            .map_err(internal)?;
        for (g, offsets) in picks.iter().enumerate() {
            if offsets.len() != flats[g] || offsets.iter().enumerate().any(|(k, &o)| k != o) {
                values = values.select(Axis(g), offsets);
            }
        }
        let values = values
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(&out_shape))
            .map_err(internal)?;
        Ok(block(values))
    }
}

impl<T: Element> LayoutOp for Reshape<T> {
    fn eval(&self, region: &Region, pull: &mut PullFn<'_>) -> Result<Block> {
        let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
        if region.is_empty() {
            return Ok(block(ArrayD::<T>::default(IxDyn(&shape))));
        }
        let blocks = self.grid.blocks_overlapping(region)?;
        if blocks.num_blocks() == 1 {
            return self.piece(region, pull);
        }
        // Piece by piece, so that each pull stays inside one block's box.
        let mut dst = self.ty.filled(&shape);
        for b in blocks.iter() {
            let Some(piece) = self.grid.block_region(&b)?.intersect(region) else {
                continue;
            };
            if piece.is_empty() {
                continue;
            }
            let values = self.piece(&piece, pull)?;
            let at = piece.relative_to(region).ok_or_else(|| Error::Internal {
                operation: "reshape".into(),
                message: "a piece outside its region".into(),
            })?;
            self.ty.assign(&mut dst, &at, values)?;
        }
        Ok(dst)
    }

    fn pull_elements(&self, _input: usize, _elements: u64) -> u64 {
        self.grid.max_block_elements()
    }
}

impl<T: Element> Array<T> {
    /// The same elements in C order in a new `shape` (one entry may be
    /// `-1`, inferred), where the chunks allow it without moving data
    /// between chunks: each output block must read one box of the input.
    /// Merging axes needs the inner ones in one chunk; splitting an axis
    /// needs its chunks to be whole rows of the new inner axes. Otherwise
    /// planning fails with an error naming `reshape` and the rechunk to do.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(12, [4]).unwrap();
    /// let b = a.reshape(&[-1, 2]);
    /// assert_eq!(b.shape(), vec![6, 2]);
    /// assert_eq!(b.grid().to_sizes(), vec![vec![2, 2, 2], vec![2]]);
    /// assert_eq!(b.reshape(&[12]).compute().unwrap(), a.compute().unwrap());
    /// // Splitting chunks of 4 into rows of 3 would straddle chunks.
    /// assert!(a.reshape(&[4, 3]).compute().is_err());
    /// ```
    pub fn reshape(&self, shape: &[i64]) -> Array<T> {
        let args = serde_json::json!({ "shape": shape });
        self.reshape_built(shape)
            .recorded("reshape", args, vec![self.origin()])
    }

    fn reshape_built(&self, shape: &[i64]) -> Array<T> {
        let name = format!("reshape({shape:?})");
        let input_shape = self.shape();
        let size: u64 = input_shape.iter().product();
        let shape = match resolve_shape(size, shape) {
            Ok(s) => s,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        if shape == input_shape {
            return self.clone();
        }
        let (groups, grid) = if size == 0 {
            let grid = ChunkGrid::regular(&shape, &shape).map_err(|e| e.to_string());
            (Vec::new(), grid)
        } else {
            match groups(&input_shape, &shape) {
                Some(g) => {
                    let grid = reshape_grid(self.grid(), &shape, &g);
                    (g, grid)
                }
                None => (
                    Vec::new(),
                    Err("the shapes hold different numbers of elements".to_string()),
                ),
            }
        };
        let grid = match grid {
            Ok(grid) => grid,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        let op = Reshape::<T> {
            input_shape,
            shape,
            groups,
            grid: grid.clone(),
            ty: crate::runtime::block_type::block_type::<T>(),
            _t: std::marker::PhantomData,
        };
        layout(name, grid, vec![self.node().clone()], op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    /// A region across several blocks, and pieces of blocks that are not
    /// boxes of the input (a row cut in the middle), pull the right boxes.
    #[test]
    fn any_region_of_a_reshape_reads_its_boxes() {
        let x = ArrayD::from_shape_fn(IxDyn(&[4, 6]), |ix| (ix[0] * 6 + ix[1]) as i32);
        let input = ChunkGrid::from_sizes(&[vec![1, 3], vec![6]]).unwrap();
        let shape = [3u64, 8];
        let split = groups(&[4, 6], &shape).unwrap();
        let grid = reshape_grid(&input, &shape, &split);
        // 6 elements per chunk of axis 0 cannot make rows of 8.
        assert!(grid.unwrap_err().contains("multiple of 4"));
        let input = ChunkGrid::from_sizes(&[vec![2, 2], vec![6]]).unwrap();
        let shape = [2u64, 12];
        let groups = groups(&[4, 6], &shape).unwrap();
        let grid = reshape_grid(&input, &shape, &groups).unwrap();
        assert_eq!(grid.to_sizes(), vec![vec![1, 1], vec![12]]);
        let op = Reshape::<i32> {
            input_shape: vec![4, 6],
            shape: shape.to_vec(),
            groups,
            grid,
            ty: crate::runtime::block_type::block_type::<i32>(),
            _t: std::marker::PhantomData,
        };
        let want = x.clone().into_shape_with_order(IxDyn(&[2, 12])).unwrap();
        let mut pulls = Vec::new();
        let mut pull = |_: usize, r: &Region| -> Result<Block> {
            pulls.push(r.clone());
            Ok(block(
                x.slice(crate::runtime::block::slice_of(r).as_slice())
                    .to_owned(),
            ))
        };
        for (start, stop) in [([0, 0], [2, 12]), ([0, 5], [2, 7]), ([1, 3], [2, 4])] {
            let region = Region::new(start.to_vec(), stop.to_vec()).unwrap();
            let got = take::<i32>(op.eval(&region, &mut pull).unwrap(), "test").unwrap();
            let cut = want.slice(crate::runtime::block::slice_of(&region).as_slice());
            assert_eq!(got, cut);
        }
        assert!(pulls.iter().all(|r| r.num_elements() <= 12), "{pulls:?}");
        assert_eq!(pulls.len(), 5);
    }
}
