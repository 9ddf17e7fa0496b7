//! `label`: connected components across chunks, as
//! `dask_image.ndmeasure.label` finds them, in three passes over a mask:
//!
//! 1. each block is labelled on its own (`kernel.rs`, scipy's raster
//!    two-pass algorithm), and the result kept (in memory within the
//!    budget, or spilled: [`Array::persist_with`]); a block's labels
//!    become global by the number of labels in the blocks before it (C
//!    order);
//! 2. the two planes on either side of each block face are read, and the
//!    labels that touch across it are joined (a union-find over the labels
//!    on faces only); the planes are held whole until then, so their bytes
//!    are reserved from `max_mem` and the run reading them gets the rest
//!    (too small a budget is `Error::TaskTooLarge` naming `label`);
//! 3. a blockwise pass numbers every component 1..=N, lazily.
//!
//! Then `props.rs` measures each component ([`Array::regionprops`]).
//!
//! Components get the same voxels as scipy's (`scipy.ndimage.label` with
//! `generate_binary_structure(ndim, connectivity)`), numbered otherwise:
//! by block, then by their first voxel within it.

pub(crate) mod kernel;
mod props;

pub use props::RegionProps;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ndarray::IxDyn;
use ndchunk_chunking::{ChunkGrid, Region};

use crate::array::{compute_many, Array};
use crate::error::{Error, Result};
use crate::ops::blocks::{map_blocks_built as map_blocks, BlockSpec};
use crate::ops::layout::Index;
use crate::ComputeOptions;

impl Array<bool> {
    /// The connected components of the `true` voxels, numbered 1 to N (0
    /// is the background), and N: `scipy.ndimage.label` with the
    /// structure `generate_binary_structure(ndim, connectivity)`: 1 joins
    /// voxels that share a face (6 neighbours in 3-D), `ndim` joins those
    /// that share a corner (26). Components cross chunks as they like.
    ///
    /// Runs two of its three passes when called, within `options`: each
    /// block labelled on its own and kept (in memory when it fits
    /// `max_mem`, else on disk), then the faces between blocks read to
    /// join what touches across them; the planes either side of the
    /// faces are held while they are joined, counted in `max_mem`. The
    /// labels returned are lazy: a
    /// blockwise renumbering of what was kept.
    ///
    /// ```
    /// use ndchunk::{Array, ComputeOptions};
    /// let mask = ndarray::arr2(&[[true, true, false, true], [false, true, false, true]]).into_dyn();
    /// let mask = Array::from_ndarray(mask, [2, 2]).unwrap();
    /// let (labels, n) = mask.label(1, &ComputeOptions::new().progress(false)).unwrap();
    /// assert_eq!(n, 2);
    /// let labels = labels.compute().unwrap();
    /// assert_eq!(labels[[0, 0]], labels[[1, 1]]);
    /// assert_ne!(labels[[0, 0]], labels[[0, 3]]);
    /// ```
    pub fn label(
        &self,
        connectivity: usize,
        options: &ComputeOptions,
    ) -> Result<(Array<u32>, u64)> {
        let ndim = self.ndim();
        if connectivity == 0 || connectivity > ndim.max(1) {
            return Err(Error::Invalid {
                operation: "label".into(),
                message: format!(
                    "connectivity {connectivity} for a {ndim}-dimensional array: give 1 (faces) to {ndim} (corners)"
                ),
            });
        }
        // Each block's number of labels, recorded as it is labelled (the
        // persisted run labels each block once).
        let grid = self.grid().clone();
        let counts = Arc::new(Mutex::new(vec![0u32; grid.num_blocks() as usize]));
        let (record, blocks) = (counts.clone(), grid.clone());
        let local = self.map_blocks(move |b, info| {
            let (labels, n) = kernel::label_block(b.view(), connectivity);
            if let Ok(i) = blocks.linear_index(info.index) {
                record.lock().unwrap_or_else(|p| p.into_inner())[i as usize] = n;
            }
            labels
        });
        let (local, _) = local.persist_with(options)?;
        let counts = counts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let offsets = block_offsets(&counts);
        let merged = join_faces(&local, &grid, &offsets, connectivity, options)?;
        let total = offsets.last().copied().unwrap_or(0) - merged.merged.len() as u64;
        if total > u64::from(u32::MAX) {
            return Err(Error::Invalid {
                operation: "label".into(),
                message: format!("{total} components do not fit the uint32 labels"),
            });
        }
        let numbering = Arc::new(merged);
        let relabelled = map_blocks(
            "label",
            &[&local],
            &BlockSpec::new(),
            move |blocks, info| {
                let b = grid.linear_index(info.index).unwrap_or(0) as usize;
                let (first, next) = (offsets[b], offsets[b + 1]);
                // Each local label's final number, once per block.
                let table: Vec<u32> = std::iter::once(0)
                    .chain((first + 1..=next).map(|g| numbering.number(g) as u32))
                    .collect();
                blocks[0].mapv(|l| table[l as usize])
            },
        );
        // Two of its passes ran here, their result kept in this process.
        let relabelled = relabelled.local_only(
            "`label` computes its components when called and keeps them in this process: \
             this plan can only run in this process (store the labels into a Zarr array and \
             read them with `from_store` to use them in a plan file)",
        );
        Ok((relabelled, total))
    }
}

/// The global label of a block's first label is one more than the number
/// of labels in the blocks before it (C order): `offsets[b]` is that
/// number, and `offsets[n]` the total.
fn block_offsets(counts: &[u32]) -> Vec<u64> {
    let mut offsets = Vec::with_capacity(counts.len() + 1);
    let mut total = 0u64;
    offsets.push(0);
    for &n in counts {
        total += u64::from(n);
        offsets.push(total);
    }
    offsets
}

/// The labels joined across faces, and the final numbering they make.
struct Numbering {
    /// Labels joined into an earlier one: label → its root.
    merged: HashMap<u64, u64>,
    /// The same labels, sorted: a root's number is itself less the merged
    /// labels before it.
    sorted: Vec<u64>,
}

impl Numbering {
    fn number(&self, global: u64) -> u64 {
        let root = self.merged.get(&global).copied().unwrap_or(global);
        root - self.sorted.partition_point(|&m| m < root) as u64
    }
}

/// A union-find over the global labels met on faces.
#[derive(Default)]
struct Joins {
    parent: HashMap<u64, u64>,
}

impl Joins {
    fn find(&mut self, x: u64) -> u64 {
        let mut root = x;
        while let Some(&p) = self.parent.get(&root) {
            if p == root {
                break;
            }
            root = p;
        }
        // Path compression.
        let mut at = x;
        while at != root {
            let next = self.parent.get(&at).copied().unwrap_or(root);
            self.parent.insert(at, root);
            at = next;
        }
        root
    }

    fn join(&mut self, a: u64, b: u64) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller label stays the root.
            let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent.insert(child, root);
            self.parent.entry(root).or_insert(root);
        }
    }
}

/// Reads the two planes on either side of every block face (one voxel
/// wider on the other axes, for diagonal neighbours) and joins the labels
/// that touch across it.
fn join_faces(
    local: &Array<u32>,
    grid: &ChunkGrid,
    offsets: &[u64],
    connectivity: usize,
    options: &ComputeOptions,
) -> Result<Numbering> {
    let ndim = grid.ndim();
    let shape = grid.shape();
    let counts = grid.blocks_per_axis();
    let mut slabs: Vec<(usize, Region)> = Vec::new();
    for b in grid.all_blocks().iter() {
        let r = grid.block_region(&b)?;
        for axis in 0..ndim {
            if b[axis] + 1 >= counts[axis] {
                continue;
            }
            let (start, stop): (Vec<u64>, Vec<u64>) = (0..ndim)
                .map(|a| match a == axis {
                    true => (r.stop()[a] - 1, r.stop()[a] + 1),
                    false => (
                        r.start()[a].saturating_sub(1),
                        (r.stop()[a] + 1).min(shape[a]),
                    ),
                })
                .unzip();
            slabs.push((axis, Region::new(start, stop)?));
        }
    }
    let arrays: Vec<Array<u32>> = slabs
        .iter()
        .map(|(_, r)| {
            let index: Vec<Index> = (0..ndim)
                .map(|a| Index::range(r.start()[a] as i64, r.stop()[a] as i64, 1))
                .collect();
            local.slice(&index)
        })
        .collect();
    // The planes are held whole until every face is joined: their bytes
    // are reserved from the budget, and the run reading them gets the
    // rest.
    let held: u64 = slabs.iter().fold(0u64, |n, (_, r)| {
        n.saturating_add(r.num_elements().saturating_mul(4))
    });
    let max_mem = options.plan_budget().max_mem;
    let too_small = |needed: u64| Error::TaskTooLarge {
        operation: "label".into(),
        needed,
        limit: max_mem,
        suggestion: format!(
            "joining the blocks holds the planes either side of their {} faces, {held} \
             bytes, beside the run reading them; give a larger budget, or larger chunks \
             (fewer faces)",
            slabs.len()
        ),
    };
    let rest = match max_mem.checked_sub(held) {
        Some(rest) if rest > 0 => rest,
        _ => return Err(too_small(held.saturating_add(1))),
    };
    let (values, _) = compute_many(
        &arrays.iter().collect::<Vec<_>>(),
        &options.clone().max_mem(rest),
    )
    .map_err(|e| match e {
        Error::TaskTooLarge { needed, .. } => too_small(needed.saturating_add(held)),
        e => e,
    })?;
    let across: Vec<Vec<i64>> = kernel::neighbours(ndim, connectivity);
    let mut joins = Joins::default();
    let global = |at: &[u64], local: u32| -> Result<u64> {
        let block = grid
            .block_of(at)
            .ok_or_else(|| internal("a face voxel outside the array"))?;
        Ok(offsets[grid.linear_index(&block)? as usize] + u64::from(local))
    };
    for ((axis, region), plane) in slabs.iter().zip(&values) {
        let dims = plane.shape().to_vec();
        for (ix, &l) in plane.indexed_iter() {
            // Voxels of the first plane, joined with their neighbours in
            // the second.
            if l == 0 || ix[*axis] != 0 {
                continue;
            }
            let at: Vec<u64> = (0..ndim)
                .map(|a| region.start()[a] + ix[a] as u64)
                .collect();
            for d in across.iter().filter(|d| d[*axis] == 1) {
                let q: Option<Vec<usize>> = (0..ndim)
                    .map(|a| {
                        let p = ix[a] as i64 + d[a];
                        (p >= 0 && (p as usize) < dims[a]).then_some(p as usize)
                    })
                    .collect();
                let Some(q) = q else { continue };
                let other = plane[IxDyn(&q)];
                if other == 0 {
                    continue;
                }
                let q_at: Vec<u64> = (0..ndim).map(|a| region.start()[a] + q[a] as u64).collect();
                joins.join(global(&at, l)?, global(&q_at, other)?);
            }
        }
    }
    let labels: Vec<u64> = joins.parent.keys().copied().collect();
    let mut merged = HashMap::new();
    for l in labels {
        let root = joins.find(l);
        if root != l {
            merged.insert(l, root);
        }
    }
    let mut sorted: Vec<u64> = merged.keys().copied().collect();
    sorted.sort_unstable();
    Ok(Numbering { merged, sorted })
}

fn internal(message: &str) -> Error {
    Error::Internal {
        operation: "label".into(),
        message: message.into(),
    }
}
