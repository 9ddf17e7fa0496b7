//! The brute-force model of chunked axes and grids, and the proptest
//! strategies that generate them, shared by `grid_props` and
//! `region_props`.
//!
//! The brute-force model of an axis is its explicit list of chunk sizes, the
//! boundary list derived from it, and a per-element owner list (found by
//! scanning every chunk for each element). Every question is answered from
//! that model by scanning, never by the arithmetic the crate uses.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeSet;

use ndchunk_chunking::{AxisChunks, ChunkGrid, Region};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Brute-force model
// ---------------------------------------------------------------------------

/// How a random axis is specified.
#[derive(Debug, Clone)]
pub enum AxisSpec {
    /// `AxisChunks::regular(len, chunk)`.
    Regular { len: u64, chunk: u64 },
    /// `AxisChunks::from_sizes(sizes)`.
    Sizes(Vec<u64>),
}

impl AxisSpec {
    pub fn build(&self) -> AxisChunks {
        match self {
            AxisSpec::Regular { len, chunk } => AxisChunks::regular(*len, *chunk).unwrap(),
            AxisSpec::Sizes(sizes) => AxisChunks::from_sizes(sizes).unwrap(),
        }
    }

    /// The explicit chunk sizes, computed by hand.
    pub fn sizes(&self) -> Vec<u64> {
        match self {
            AxisSpec::Regular { len, chunk } => regular_sizes(*len, *chunk),
            AxisSpec::Sizes(sizes) => sizes.clone(),
        }
    }

    pub fn len(&self) -> u64 {
        self.sizes().iter().sum()
    }
}

/// Dask's sizes for an axis cut every `chunk` elements: full chunks, then
/// the remainder; a zero-length axis has the single chunk `(0,)`.
pub fn regular_sizes(len: u64, chunk: u64) -> Vec<u64> {
    if len == 0 {
        return vec![0];
    }
    let mut sizes = Vec::new();
    let mut left = len;
    while left > 0 {
        let s = chunk.min(left);
        sizes.push(s);
        left -= s;
    }
    sizes
}

/// Explicit model of one axis.
#[derive(Debug, Clone)]
pub struct AxisModel {
    pub sizes: Vec<u64>,
    /// `bounds[i]..bounds[i + 1]` is chunk `i`.
    pub bounds: Vec<u64>,
    /// `owner[e]` is the chunk holding element `e`.
    pub owner: Vec<u64>,
}

impl AxisModel {
    pub fn new(sizes: Vec<u64>) -> Self {
        let mut bounds = vec![0u64];
        for &s in &sizes {
            bounds.push(bounds.last().unwrap() + s);
        }
        let len = *bounds.last().unwrap();
        let owner = (0..len)
            .map(|e| {
                let holders: Vec<u64> = (0..sizes.len())
                    .filter(|&i| bounds[i] <= e && e < bounds[i + 1])
                    .map(|i| i as u64)
                    .collect();
                assert_eq!(
                    holders.len(),
                    1,
                    "model: element {e} must have exactly one owner"
                );
                holders[0]
            })
            .collect();
        Self {
            sizes,
            bounds,
            owner,
        }
    }

    pub fn len(&self) -> u64 {
        *self.bounds.last().unwrap()
    }

    pub fn num_chunks(&self) -> u64 {
        self.sizes.len() as u64
    }

    pub fn range(&self, i: u64) -> std::ops::Range<u64> {
        self.bounds[i as usize]..self.bounds[i as usize + 1]
    }

    /// The distinct cut positions, including 0 and the length.
    pub fn boundary_set(&self) -> BTreeSet<u64> {
        self.bounds.iter().copied().collect()
    }
}

pub fn grid_model(specs: &[AxisSpec]) -> Vec<AxisModel> {
    specs.iter().map(|s| AxisModel::new(s.sizes())).collect()
}

pub fn build_grid(specs: &[AxisSpec]) -> ChunkGrid {
    ChunkGrid::new(specs.iter().map(AxisSpec::build).collect())
}

/// Every index vector of a box, in C order (last axis fastest), by nested
/// expansion.
pub fn c_order(ranges: &[std::ops::Range<u64>]) -> Vec<Vec<u64>> {
    let mut out: Vec<Vec<u64>> = vec![vec![]];
    for r in ranges {
        let mut next = Vec::new();
        for prefix in &out {
            for i in r.clone() {
                let mut v = prefix.clone();
                v.push(i);
                next.push(v);
            }
        }
        out = next;
    }
    out
}

/// Every block of the model grid, in C order.
pub fn model_blocks(model: &[AxisModel]) -> Vec<Vec<u64>> {
    c_order(&model.iter().map(|a| 0..a.num_chunks()).collect::<Vec<_>>())
}

/// Every element of a region, in C order.
pub fn points(region: &Region) -> Vec<Vec<u64>> {
    c_order(
        &(0..region.ndim())
            .map(|i| region.range(i))
            .collect::<Vec<_>>(),
    )
}

pub fn model_block_region(model: &[AxisModel], block: &[u64]) -> Region {
    Region::from_ranges(
        &model
            .iter()
            .zip(block)
            .map(|(a, &b)| a.range(b))
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

pub fn model_owner(model: &[AxisModel], point: &[u64]) -> Vec<u64> {
    model
        .iter()
        .zip(point)
        .map(|(a, &p)| a.owner[p as usize])
        .collect()
}

pub fn product(v: &[u64]) -> u64 {
    v.iter().product()
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// An axis length in `0..=max`, with 0 and 1 frequent.
pub fn len_strategy(max: u64) -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 1 => Just(1u64), 6 => 0..=max]
}

/// A regular axis of length `len`: chunk 1..50 (larger than the axis and
/// non-dividing included), or 0 on an empty axis.
pub fn regular_spec(len: u64) -> BoxedStrategy<AxisSpec> {
    let lo = if len == 0 { 0 } else { 1 };
    prop_oneof![
        4 => lo..50u64,
        1 => Just(len.max(lo)),
        1 => Just(len + 1),
    ]
    .prop_map(move |chunk| AxisSpec::Regular { len, chunk })
    .boxed()
}

/// An irregular axis of length `len`: random cut positions (repeats give
/// zero-size chunks; cuts at 0 or `len` give zero-size chunks at the ends).
pub fn irregular_spec(len: u64) -> BoxedStrategy<AxisSpec> {
    prop::collection::vec(
        prop_oneof![1 => Just(0u64), 1 => Just(len), 4 => 0..=len],
        0..8,
    )
    .prop_map(move |mut cuts| {
        cuts.sort_unstable();
        let mut sizes = Vec::new();
        let mut at = 0;
        for c in cuts.into_iter().chain([len]) {
            sizes.push(c - at);
            at = c;
        }
        AxisSpec::Sizes(sizes)
    })
    .boxed()
}

pub fn axis_spec(len: u64) -> BoxedStrategy<AxisSpec> {
    prop_oneof![regular_spec(len), irregular_spec(len)].boxed()
}

/// A shape of 0..=4 axes of length 0..=40, at most `100_000` elements so
/// that element-by-element brute force stays cheap.
pub fn shape_strategy() -> impl Strategy<Value = Vec<u64>> {
    (0usize..=4)
        .prop_flat_map(|ndim| prop::collection::vec(len_strategy(40), ndim))
        .prop_filter("brute force needs few elements", |s| product(s) <= 100_000)
}

pub fn grid_strategy() -> impl Strategy<Value = Vec<AxisSpec>> {
    shape_strategy().prop_flat_map(|shape| shape.into_iter().map(axis_spec).collect::<Vec<_>>())
}

pub fn regular_grid_strategy() -> impl Strategy<Value = Vec<AxisSpec>> {
    shape_strategy().prop_flat_map(|shape| shape.into_iter().map(regular_spec).collect::<Vec<_>>())
}

/// A region with `0 <= start <= stop <= len + slack` per axis.
pub fn region_strategy(shape: Vec<u64>, slack: u64) -> impl Strategy<Value = Region> {
    shape
        .into_iter()
        .map(|len| {
            prop_oneof![
                1 => (0..=len + slack).prop_map(|a| (a, a)),
                5 => (0..=len + slack, 0..=len + slack),
            ]
            .prop_map(|(a, b)| (a.min(b), a.max(b)))
            .boxed()
        })
        .collect::<Vec<_>>()
        .prop_map(|pairs| {
            Region::new(
                pairs.iter().map(|p| p.0).collect(),
                pairs.iter().map(|p| p.1).collect(),
            )
            .unwrap()
        })
}

pub fn grid_and_region(slack: u64) -> impl Strategy<Value = (Vec<AxisSpec>, Region)> {
    grid_strategy().prop_flat_map(move |specs| {
        let shape: Vec<u64> = specs.iter().map(AxisSpec::len).collect();
        (Just(specs), region_strategy(shape, slack))
    })
}

/// Two axes of the same length.
pub fn axis_pair(max_len: u64) -> impl Strategy<Value = (AxisSpec, AxisSpec)> {
    len_strategy(max_len).prop_flat_map(|len| (axis_spec(len), axis_spec(len)))
}

/// A small region of `ndim` axes with coordinates in `0..=8`.
pub fn small_region(ndim: usize) -> impl Strategy<Value = Region> {
    region_strategy(vec![6; ndim], 2)
}
