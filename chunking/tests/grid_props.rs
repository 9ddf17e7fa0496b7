//! Property tests of `AxisChunks`, `ChunkGrid` and `BlockRange`/`BlockIter`
//! against brute force (the model in `common/grid_gen.rs`): every question
//! is answered from that model by scanning, never by the arithmetic the
//! crate uses. `Region` is tested in `region_props`.

use std::collections::{BTreeSet, HashSet};

use ndchunk_chunking::{AxisChunks, BlockRange, ChunkGrid, ChunkingError, Region};
use proptest::prelude::*;

#[path = "common/grid_gen.rs"]
mod grid_gen;

use grid_gen::{
    axis_pair, axis_spec, build_grid, c_order, grid_and_region, grid_model, grid_strategy,
    model_block_region, model_blocks, model_owner, points, product, regular_grid_strategy,
    regular_sizes, AxisModel, AxisSpec,
};

// ---------------------------------------------------------------------------
// ChunkGrid / AxisChunks against the model
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Shape, ndim, blocks per axis, number of blocks, sizes, chunk shape.
    #[test]
    fn grid_counts_match_model(specs in grid_strategy()) {
        let grid = build_grid(&specs);
        let model = grid_model(&specs);
        let shape: Vec<u64> = model.iter().map(AxisModel::len).collect();
        let per_axis: Vec<u64> = model.iter().map(AxisModel::num_chunks).collect();
        prop_assert_eq!(grid.ndim(), specs.len());
        prop_assert_eq!(grid.shape(), shape);
        prop_assert_eq!(grid.blocks_per_axis(), per_axis.clone());
        prop_assert_eq!(grid.num_blocks(), model_blocks(&model).len() as u64);
        prop_assert_eq!(grid.num_blocks(), product(&per_axis));
        let sizes: Vec<Vec<u64>> = model.iter().map(|a| a.sizes.clone()).collect();
        prop_assert_eq!(grid.to_sizes(), sizes.clone());
        let max_sizes: Vec<u64> = sizes.iter().map(|s| *s.iter().max().unwrap()).collect();
        prop_assert_eq!(grid.chunk_shape(), max_sizes.clone());
        prop_assert_eq!(grid.max_block_elements(), product(&max_sizes));
        for (axis, (a, m)) in grid.axes().iter().zip(&model).enumerate() {
            prop_assert_eq!(grid.axis(axis), a);
            prop_assert_eq!(a.len(), m.len());
            prop_assert_eq!(a.is_empty(), m.len() == 0);
            prop_assert_eq!(a.num_chunks(), m.num_chunks());
            prop_assert_eq!(a.sizes().collect::<Vec<_>>(), m.sizes.clone());
            for i in 0..m.num_chunks() {
                prop_assert_eq!(a.chunk_range(i), m.range(i));
                prop_assert_eq!(a.chunk_size(i), m.sizes[i as usize]);
            }
        }
    }

    /// Block regions tile the array: every element lies in exactly one block
    /// region, zero-size blocks are empty, and block_shape agrees.
    #[test]
    fn block_regions_tile_the_array(specs in grid_strategy()) {
        let grid = build_grid(&specs);
        let model = grid_model(&specs);
        let shape = grid.shape();
        let whole = Region::from_shape(&shape);
        // Count, per element (C-order linear position), how many block regions hold it.
        let mut strides = vec![1u64; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        let mut hits = vec![0u32; product(&shape) as usize];
        for block in model_blocks(&model) {
            let region = grid.block_region(&block).unwrap();
            prop_assert_eq!(&region, &model_block_region(&model, &block));
            prop_assert!(whole.contains(&region));
            let bshape = grid.block_shape(&block).unwrap();
            prop_assert_eq!(&bshape, &region.shape());
            let zero_size = block.iter().zip(&model).any(|(&b, a)| a.sizes[b as usize] == 0);
            prop_assert_eq!(region.is_empty(), zero_size);
            let elems = points(&region);
            prop_assert_eq!(elems.len() as u64, product(&bshape));
            for p in elems {
                let at: u64 = p.iter().zip(&strides).map(|(x, s)| x * s).sum();
                hits[at as usize] += 1;
            }
        }
        prop_assert!(hits.iter().all(|&h| h == 1), "every element in exactly one block");
    }

    /// block_of matches the brute-force owner for every element and never
    /// names a zero-size chunk; outside points and wrong ndim give None.
    #[test]
    fn block_of_matches_owner(specs in grid_strategy()) {
        let grid = build_grid(&specs);
        let model = grid_model(&specs);
        let shape = grid.shape();
        for p in points(&Region::from_shape(&shape)) {
            let want = model_owner(&model, &p);
            let got = grid.block_of(&p);
            prop_assert_eq!(got.as_ref(), Some(&want));
            prop_assert!(grid.block_region(&want).unwrap().contains_point(&p));
            for (axis, (a, &x)) in grid.axes().iter().zip(&p).enumerate() {
                let c = a.chunk_of(x).unwrap();
                prop_assert_eq!(c, want[axis]);
                prop_assert!(a.chunk_size(c) > 0);
            }
        }
        for axis in 0..shape.len() {
            // A point just past the end of one axis (others inside or not).
            let mut p: Vec<u64> = shape.iter().map(|&l| l.saturating_sub(1)).collect();
            p[axis] = shape[axis];
            prop_assert_eq!(grid.block_of(&p), None);
            prop_assert_eq!(grid.axis(axis).chunk_of(shape[axis]), None);
            prop_assert_eq!(grid.axis(axis).chunk_of(shape[axis] + 7), None);
        }
        let mut longer = vec![0; shape.len() + 1];
        prop_assert_eq!(grid.block_of(&longer), None);
        longer.truncate(shape.len().saturating_sub(1));
        if !shape.is_empty() {
            prop_assert_eq!(grid.block_of(&longer), None);
        }
    }

    /// blocks_overlapping: the blocks that share an element with the region,
    /// found by mapping every element of the region to its owner.
    ///
    /// `BlockRange` is a box, and `AxisChunks::chunks_overlapping` documents
    /// that zero-size chunks strictly inside the result are included. So the
    /// result is checked to be (1) exactly the C-order box spanned by the
    /// brute-force overlapping blocks, and (2) once its zero-element blocks are
    /// dropped, exactly the brute-force set; the dropped blocks are the
    /// zero-size ones strictly inside the box.
    #[test]
    fn blocks_overlapping_matches_brute_force((specs, region) in grid_and_region(3)) {
        let grid = build_grid(&specs);
        let model = grid_model(&specs);
        let shape = grid.shape();
        let inside = (0..shape.len()).all(|i| region.stop()[i] <= shape[i]);
        let result = grid.blocks_overlapping(&region);
        if !inside {
            let is_out_of_bounds = matches!(result, Err(ChunkingError::RegionOutOfBounds { .. }));
            prop_assert!(is_out_of_bounds, "{:?}", result);
            return Ok(());
        }
        let range = result.unwrap();
        // Brute force: owners of the region's elements.
        let touched: BTreeSet<Vec<u64>> = points(&region).iter().map(|p| model_owner(&model, p)).collect();
        let listed: Vec<Vec<u64>> = range.iter().collect();
        prop_assert_eq!(range.num_blocks(), listed.len() as u64);
        prop_assert_eq!(range.is_empty(), listed.is_empty());
        prop_assert_eq!(range.ranges().len(), shape.len());
        if region.is_empty() {
            prop_assert!(listed.is_empty());
            prop_assert!(touched.is_empty());
        }
        // (1) the spanned box, C order.
        let want_box: Vec<Vec<u64>> = if touched.is_empty() {
            vec![]
        } else {
            c_order(
                &(0..shape.len())
                    .map(|i| {
                        let lo = touched.iter().map(|b| b[i]).min().unwrap();
                        let hi = touched.iter().map(|b| b[i]).max().unwrap();
                        lo..hi + 1
                    })
                    .collect::<Vec<_>>(),
            )
        };
        prop_assert_eq!(&listed, &want_box);
        // (2) exactly the touched blocks once zero-element blocks are dropped.
        let non_empty: Vec<Vec<u64>> = listed
            .iter()
            .filter(|b| !model_block_region(&model, b).is_empty())
            .cloned()
            .collect();
        prop_assert_eq!(non_empty, touched.iter().cloned().collect::<Vec<_>>());
        // Every listed block either shares an element or is a zero-size block.
        for b in &listed {
            let shares = model_block_region(&model, b).intersect(&region).is_some();
            prop_assert_eq!(shares, touched.contains(b));
        }
    }

    /// When no zero-size chunk can sit strictly inside a box (no zero-size
    /// chunk anywhere), blocks_overlapping is exactly the set of blocks whose
    /// region shares an element with the region, by scanning every block.
    #[test]
    fn blocks_overlapping_exact_without_zero_chunks((specs, region) in grid_and_region(0)) {
        let model = grid_model(&specs);
        prop_assume!(model.iter().all(|a| a.len() == 0 || a.sizes.iter().all(|&s| s > 0)));
        let grid = build_grid(&specs);
        let listed: Vec<Vec<u64>> = grid.blocks_overlapping(&region).unwrap().iter().collect();
        let want: Vec<Vec<u64>> = model_blocks(&model)
            .into_iter()
            .filter(|b| {
                let br = model_block_region(&model, b);
                points(&region).iter().any(|p| br.contains_point(p))
            })
            .collect();
        prop_assert_eq!(listed, want);
    }

    /// all_blocks is every block in C order; linear_index / block_index are
    /// the position in that order and invert each other.
    #[test]
    fn all_blocks_and_linear_index(specs in grid_strategy()) {
        let grid = build_grid(&specs);
        let model = grid_model(&specs);
        let want = model_blocks(&model);
        let all = grid.all_blocks();
        prop_assert_eq!(all.num_blocks(), want.len() as u64);
        prop_assert!(!all.is_empty());
        let got: Vec<Vec<u64>> = (&all).into_iter().collect();
        prop_assert_eq!(&got, &want);
        for (i, block) in want.iter().enumerate() {
            prop_assert_eq!(grid.linear_index(block).unwrap(), i as u64);
            prop_assert_eq!(&grid.block_index(i as u64).unwrap(), block);
        }
        let n = grid.num_blocks();
        let is_oob = matches!(grid.block_index(n), Err(ChunkingError::BlockOutOfBounds { .. }));
        prop_assert!(is_oob);
        for axis in 0..grid.ndim() {
            let mut block = vec![0; grid.ndim()];
            block[axis] = model[axis].num_chunks();
            let is_oob = matches!(grid.linear_index(&block), Err(ChunkingError::BlockOutOfBounds { .. }));
            prop_assert!(is_oob);
            let is_oob = matches!(grid.block_region(&block), Err(ChunkingError::BlockOutOfBounds { .. }));
            prop_assert!(is_oob);
            let is_oob = matches!(grid.block_shape(&block), Err(ChunkingError::BlockOutOfBounds { .. }));
            prop_assert!(is_oob);
        }
        let wrong = vec![0; grid.ndim() + 1];
        let is_mismatch = matches!(grid.linear_index(&wrong), Err(ChunkingError::NdimMismatch { .. }));
        prop_assert!(is_mismatch);
        let is_mismatch = matches!(grid.block_region(&wrong), Err(ChunkingError::NdimMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    /// to_sizes / from_sizes round trip; a grid equals the same grid given as
    /// explicit sizes or as bounds; two grids are equal exactly when their
    /// size lists are.
    #[test]
    fn sizes_round_trip_and_equality(specs in grid_strategy(), other in grid_strategy()) {
        let grid = build_grid(&specs);
        let sizes = grid.to_sizes();
        let again = ChunkGrid::from_sizes(&sizes).unwrap();
        prop_assert_eq!(&again, &grid);
        prop_assert_eq!(again.to_sizes(), sizes.clone());
        for (a, m) in grid.axes().iter().zip(grid_model(&specs)) {
            let from_bounds = AxisChunks::from_bounds(m.bounds.clone()).unwrap();
            prop_assert_eq!(&from_bounds, a);
            prop_assert_eq!(from_bounds.sizes().collect::<Vec<_>>(), m.sizes.clone());
        }
        let other_grid = build_grid(&other);
        prop_assert_eq!(grid == other_grid, sizes == other_grid.to_sizes());
        // Axis equality is equality of cut lists, whatever the representation.
        for a in grid.axes() {
            for b in other_grid.axes() {
                let sa: Vec<u64> = a.sizes().collect();
                let sb: Vec<u64> = b.sizes().collect();
                prop_assert_eq!(a == b, sa == sb);
            }
        }
    }

    /// A regular grid equals the same grid given as explicit sizes, and
    /// `ChunkGrid::regular` builds it.
    #[test]
    fn regular_grid_equals_explicit_sizes(specs in regular_grid_strategy()) {
        let shape: Vec<u64> = specs.iter().map(AxisSpec::len).collect();
        let chunks: Vec<u64> = specs
            .iter()
            .map(|s| match s {
                AxisSpec::Regular { chunk, .. } => *chunk,
                AxisSpec::Sizes(_) => unreachable!(),
            })
            .collect();
        let grid = ChunkGrid::regular(&shape, &chunks).unwrap();
        prop_assert!(grid.is_regular());
        prop_assert_eq!(&grid, &build_grid(&specs));
        let explicit: Vec<Vec<u64>> = specs.iter().map(AxisSpec::sizes).collect();
        prop_assert_eq!(grid.to_sizes(), explicit.clone());
        let from_sizes = ChunkGrid::from_sizes(&explicit).unwrap();
        prop_assert_eq!(&from_sizes, &grid);
        prop_assert!(from_sizes.is_regular());
        for (a, &c) in grid.axes().iter().zip(&chunks) {
            prop_assert_eq!(a.regular_chunk(), Some(c));
        }
    }

    /// from_sizes stores an axis as regular exactly when some chunk size `c`
    /// gives the same sizes by cutting every `c` elements.
    #[test]
    fn from_sizes_regularity((spec, _) in axis_pair(40)) {
        let sizes = spec.sizes();
        let len: u64 = sizes.iter().sum();
        let regular_by_search = (0..=len + 1).any(|c| (c > 0 || len == 0) && regular_sizes(len, c) == sizes);
        let axis = AxisChunks::from_sizes(&sizes).unwrap();
        prop_assert_eq!(axis.is_regular(), regular_by_search);
        prop_assert_eq!(ndchunk_chunking::grid::is_regular_sizes(&sizes), regular_by_search);
        prop_assert_eq!(axis.sizes().collect::<Vec<_>>(), sizes);
    }

    /// count_overlaps = number of distinct non-empty pieces when both cuts
    /// are applied: distinct (owner in a, owner in b) pairs over the elements.
    #[test]
    fn count_overlaps_matches_pieces((a, b) in axis_pair(40)) {
        let (ma, mb) = (AxisModel::new(a.sizes()), AxisModel::new(b.sizes()));
        let pieces: HashSet<(u64, u64)> = ma.owner.iter().copied().zip(mb.owner.iter().copied()).collect();
        let (xa, xb) = (a.build(), b.build());
        prop_assert_eq!(xa.count_overlaps(&xb), pieces.len() as u64);
        prop_assert_eq!(xb.count_overlaps(&xa), pieces.len() as u64);
    }

    /// refine_with cuts at the union of both boundary sets, and each refined
    /// chunk lies inside one chunk of each input.
    #[test]
    fn refine_with_is_union_of_boundaries((a, b) in axis_pair(40)) {
        let (ma, mb) = (AxisModel::new(a.sizes()), AxisModel::new(b.sizes()));
        let (xa, xb) = (a.build(), b.build());
        let refined = xa.refine_with(&xb).unwrap();
        let union: BTreeSet<u64> = ma.boundary_set().union(&mb.boundary_set()).copied().collect();
        let mr = AxisModel::new(refined.sizes().collect());
        prop_assert_eq!(mr.boundary_set(), union);
        prop_assert_eq!(refined.len(), ma.len());
        // Coarsest: no zero-size chunk unless the axis is empty.
        if ma.len() > 0 {
            prop_assert!(mr.sizes.iter().all(|&s| s > 0));
        } else {
            prop_assert_eq!(mr.sizes.clone(), vec![0]);
        }
        for e in 0..ma.len() as usize {
            for f in 0..ma.len() as usize {
                if mr.owner[e] == mr.owner[f] {
                    prop_assert_eq!(ma.owner[e], ma.owner[f]);
                    prop_assert_eq!(mb.owner[e], mb.owner[f]);
                }
            }
        }
        // The number of refined chunks is what count_overlaps predicts.
        if ma.len() > 0 {
            prop_assert_eq!(refined.num_chunks(), xa.count_overlaps(&xb));
        }
        prop_assert_eq!(xb.refine_with(&xa).unwrap(), refined);
        let longer = AxisChunks::regular(ma.len() + 1, 1).unwrap();
        let is_mismatch = matches!(xa.refine_with(&longer), Err(ChunkingError::ShapeMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    /// ChunkGrid::refine_with refines every axis; shapes must match.
    #[test]
    fn grid_refine_with((a, b) in grid_strategy().prop_flat_map(|specs| {
        let shape: Vec<u64> = specs.iter().map(AxisSpec::len).collect();
        (Just(specs), shape.into_iter().map(axis_spec).collect::<Vec<_>>())
    })) {
        let (ga, gb) = (build_grid(&a), build_grid(&b));
        let refined = ga.refine_with(&gb).unwrap();
        prop_assert_eq!(refined.shape(), ga.shape());
        for ((r, x), y) in refined.axes().iter().zip(ga.axes()).zip(gb.axes()) {
            prop_assert_eq!(r, &x.refine_with(y).unwrap());
        }
        let mut bigger = ga.shape();
        bigger.push(1);
        let other = ChunkGrid::regular(&bigger, &vec![1; bigger.len()]).unwrap();
        let is_mismatch = matches!(ga.refine_with(&other), Err(ChunkingError::ShapeMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    /// merge_groups(k) sums every k consecutive sizes; max_merged(k) is the
    /// largest such sum.
    #[test]
    fn merge_groups_and_max_merged((a, _) in axis_pair(40), k in 1u64..12) {
        let sizes = a.sizes();
        let merged: Vec<u64> = sizes.chunks(k as usize).map(|g| g.iter().sum()).collect();
        let axis = a.build();
        let got = axis.merge_groups(k);
        prop_assert_eq!(got.sizes().collect::<Vec<_>>(), merged.clone());
        prop_assert_eq!(got.len(), axis.len());
        prop_assert_eq!(axis.max_merged(k), *merged.iter().max().unwrap());
        // Coarsening: merged boundaries are a subset of the original ones.
        let orig = AxisModel::new(sizes).boundary_set();
        prop_assert!(AxisModel::new(merged).boundary_set().is_subset(&orig));
    }

    /// chunk_at_position: the chunk holding `pos`, or the last chunk at or
    /// past the end.
    #[test]
    fn chunk_at_position_matches_model((a, _) in axis_pair(40)) {
        let m = AxisModel::new(a.sizes());
        let axis = a.build();
        for pos in 0..=m.len() + 3 {
            let want = if pos < m.len() { m.owner[pos as usize] } else { m.num_chunks() - 1 };
            prop_assert_eq!(axis.chunk_at_position(pos), want);
        }
    }

    /// Axis-level chunks_overlapping, clipped to the axis.
    #[test]
    fn axis_chunks_overlapping((a, _) in axis_pair(40), s in 0u64..50, e in 0u64..50) {
        let m = AxisModel::new(a.sizes());
        let axis = a.build();
        let (s, e) = (s.min(e), s.max(e));
        let touched: Vec<u64> = (s..e.min(m.len())).map(|x| m.owner[x as usize]).collect();
        let got = axis.chunks_overlapping(s..e);
        match (touched.first(), touched.last()) {
            (Some(&lo), Some(&hi)) => prop_assert_eq!(got, lo..hi + 1),
            _ => prop_assert!(got.is_empty()),
        }
    }

    /// JSON round trip of a grid keeps it equal and keeps its representation.
    #[test]
    fn serde_json_round_trip(specs in grid_strategy()) {
        let grid = build_grid(&specs);
        let json = serde_json::to_string(&grid).unwrap();
        let back: ChunkGrid = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &grid);
        prop_assert_eq!(back.to_sizes(), grid.to_sizes());
        for (x, y) in back.axes().iter().zip(grid.axes()) {
            prop_assert_eq!(x.is_regular(), y.is_regular());
            prop_assert_eq!(x.regular_chunk(), y.regular_chunk());
        }
    }
}

// ---------------------------------------------------------------------------
// count_overlaps on long regular axes, via boundary sets
// ---------------------------------------------------------------------------

/// The number of pieces of `[0, len)` cut at every multiple of `a` and of
/// `b`: distinct interior cut positions + 1, by merging both lists.
fn pieces_by_boundaries(len: u64, a: u64, b: u64) -> u64 {
    let cuts: BTreeSet<u64> = (1..)
        .map(|i| i * a)
        .take_while(|&x| x < len)
        .chain((1..).map(|i| i * b).take_while(|&x| x < len))
        .collect();
    cuts.len() as u64 + 1
}

fn long_chunk() -> impl Strategy<Value = u64> {
    prop_oneof![2 => 20u64..200, 2 => 200u64..20_000, 1 => 20_000u64..2_000_000]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn count_overlaps_long_regular_axes(len in 1u64..=1_000_000, a in long_chunk(), b in long_chunk()) {
        let (xa, xb) = (AxisChunks::regular(len, a).unwrap(), AxisChunks::regular(len, b).unwrap());
        let want = pieces_by_boundaries(len, a, b);
        prop_assert_eq!(xa.count_overlaps(&xb), want);
        prop_assert_eq!(xb.count_overlaps(&xa), want);
        // Same answer when one side is given as explicit (irregular-looking) bounds.
        let mut bounds: Vec<u64> = (0..).map(|i| i * b).take_while(|&x| x < len).collect();
        bounds.push(len);
        bounds.insert(1, 0); // a leading zero-size chunk forces the irregular path
        let irregular = AxisChunks::from_bounds(bounds).unwrap();
        prop_assert!(!irregular.is_regular());
        prop_assert_eq!(xa.count_overlaps(&irregular), want);
    }

    /// Regular axes whose length is near `u64::MAX`: the last chunk must end
    /// exactly at the axis end, and element lookups stay consistent.
    #[test]
    fn regular_axis_near_u64_max(
        len in prop_oneof![(u64::MAX - 1_000)..=u64::MAX, (u64::MAX / 2)..=(u64::MAX / 2 + 1_000)],
        chunk in prop_oneof![1u64..1_000, (u64::MAX / 3)..=u64::MAX],
    ) {
        let axis = AxisChunks::regular(len, chunk).unwrap();
        let n = axis.num_chunks();
        prop_assert_eq!(n, len.div_ceil(chunk));
        let last = axis.chunk_range(n - 1);
        prop_assert_eq!(last.end, len);
        prop_assert_eq!(last.start, (n - 1) * chunk);
        prop_assert_eq!(axis.chunk_of(len - 1), Some(n - 1));
        prop_assert_eq!(axis.chunks_overlapping(len - 1..len), n - 1..n);
        let grid = ChunkGrid::new(vec![axis.clone()]);
        prop_assert_eq!(grid.block_region(&[n - 1]).unwrap().stop().to_vec(), vec![len]);
        prop_assert_eq!(grid.block_shape(&[n - 1]).unwrap(), vec![len - (n - 1) * chunk]);
        prop_assert_eq!(axis.max_chunk(), chunk.min(len));
    }
}

// ---------------------------------------------------------------------------
// BlockRange / BlockIter
// ---------------------------------------------------------------------------

fn ok_block_ranges(ranges: Vec<std::ops::Range<u64>>) -> BlockRange {
    BlockRange::new(ranges)
}

fn block_ranges() -> impl Strategy<Value = Vec<std::ops::Range<u64>>> {
    prop::collection::vec((0u64..6, 0u64..6).prop_map(|(a, b)| a..b), 0..=4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// C-order iteration of any box (including inverted or empty ranges and
    /// the 0-d box) equals nested loops; num_blocks and is_empty agree.
    #[test]
    fn block_range_iterates_in_c_order(ranges in block_ranges()) {
        let range = ok_block_ranges(ranges.clone());
        // Nested loops; an inverted range holds nothing.
        let want = c_order(&ranges.iter().map(|r| r.start..r.end.max(r.start)).collect::<Vec<_>>());
        let mut it = range.iter();
        let got: Vec<Vec<u64>> = it.by_ref().collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(it.next(), None);
        prop_assert_eq!(range.num_blocks(), want.len() as u64);
        prop_assert_eq!(range.is_empty(), want.is_empty());
        prop_assert_eq!(range.ranges(), &ranges[..]);
        let again: Vec<Vec<u64>> = (&range).into_iter().collect();
        prop_assert_eq!(again, got);
        // Strictly increasing in lexicographic (= C) order.
        prop_assert!(want.windows(2).all(|w| w[0] < w[1]));
    }
}

// ---------------------------------------------------------------------------
// Fixed cases and construction errors
// ---------------------------------------------------------------------------

#[test]
fn zero_size_chunks_in_the_middle_and_at_the_ends() {
    let grid = ChunkGrid::from_sizes(&[vec![0, 3, 0, 0, 2, 0], vec![4]]).unwrap();
    assert_eq!(grid.shape(), vec![5, 4]);
    assert_eq!(grid.blocks_per_axis(), vec![6, 1]);
    assert_eq!(grid.block_of(&[0, 0]), Some(vec![1, 0]));
    assert_eq!(grid.block_of(&[2, 3]), Some(vec![1, 0]));
    assert_eq!(grid.block_of(&[3, 3]), Some(vec![4, 0]));
    assert_eq!(grid.block_of(&[5, 0]), None);
    assert!(grid.block_region(&[0, 0]).unwrap().is_empty());
    assert!(grid.block_region(&[5, 0]).unwrap().is_empty());
    assert_eq!(
        grid.block_region(&[5, 0]).unwrap(),
        Region::new(vec![5, 0], vec![5, 4]).unwrap()
    );
    let all = grid
        .blocks_overlapping(&Region::from_shape(&[5, 4]))
        .unwrap();
    // Leading and trailing zero-size blocks are not included; interior ones are.
    assert_eq!(all.ranges(), &[1..5, 0..1][..]);
    let axis = grid.axis(0);
    assert_eq!(axis.chunk_at_position(5), 5);
    assert_eq!(axis.chunk_at_position(3), 4);
    // Empty region: no blocks, but only when inside the array.
    let empty = Region::new(vec![3, 1], vec![3, 4]).unwrap();
    assert_eq!(grid.blocks_overlapping(&empty).unwrap().num_blocks(), 0);
    let outside = Region::new(vec![6, 0], vec![6, 0]).unwrap();
    assert!(matches!(
        grid.blocks_overlapping(&outside),
        Err(ChunkingError::RegionOutOfBounds { .. })
    ));
    let wrong = Region::new(vec![0], vec![1]).unwrap();
    assert!(matches!(
        grid.blocks_overlapping(&wrong),
        Err(ChunkingError::NdimMismatch { .. })
    ));
}

#[test]
fn zero_dimensional_grid() {
    let grid = ChunkGrid::from_sizes::<Vec<u64>>(&[]).unwrap();
    assert_eq!(grid, ChunkGrid::regular(&[], &[]).unwrap());
    assert_eq!(grid.ndim(), 0);
    assert_eq!(grid.shape(), Vec::<u64>::new());
    assert_eq!(grid.num_blocks(), 1);
    assert_eq!(
        grid.all_blocks().iter().collect::<Vec<_>>(),
        vec![Vec::<u64>::new()]
    );
    assert_eq!(grid.block_of(&[]), Some(vec![]));
    assert_eq!(grid.linear_index(&[]).unwrap(), 0);
    assert_eq!(grid.block_index(0).unwrap(), Vec::<u64>::new());
    assert!(grid.block_index(1).is_err());
    let whole = grid.blocks_overlapping(&Region::from_shape(&[])).unwrap();
    assert_eq!(whole.iter().collect::<Vec<_>>(), vec![Vec::<u64>::new()]);
    assert_eq!(whole.num_blocks(), 1);
}

#[test]
fn construction_errors() {
    assert!(matches!(
        ChunkGrid::regular(&[10, 5], &[0, 1]),
        Err(ChunkingError::ZeroChunk { axis: 0, len: 10 })
    ));
    assert!(matches!(
        ChunkGrid::regular(&[10, 5], &[1, 0]),
        Err(ChunkingError::ZeroChunk { axis: 1, len: 5 })
    ));
    assert!(ChunkGrid::regular(&[0], &[0]).is_ok());
    assert!(matches!(
        ChunkGrid::regular(&[10], &[1, 1]),
        Err(ChunkingError::NdimMismatch { .. })
    ));
    assert!(matches!(
        ChunkGrid::from_sizes(&[vec![1u64], vec![]]),
        Err(ChunkingError::InvalidChunkSpec { .. })
    ));
    assert!(AxisChunks::from_sizes(&[u64::MAX, 1]).is_err());
    assert!(AxisChunks::from_bounds(vec![]).is_err());
    assert!(AxisChunks::from_bounds(vec![0]).is_err());
    assert!(AxisChunks::from_bounds(vec![1, 2]).is_err());
    assert!(AxisChunks::from_bounds(vec![0, 3, 2]).is_err());
    // Deserialisation validates too.
    assert!(
        serde_json::from_str::<ChunkGrid>(r#"{"axes":[{"irregular":{"bounds":[0,3,2]}}]}"#)
            .is_err()
    );
    assert!(
        serde_json::from_str::<ChunkGrid>(r#"{"axes":[{"irregular":{"bounds":[1,3]}}]}"#).is_err()
    );
    assert!(
        serde_json::from_str::<ChunkGrid>(r#"{"axes":[{"regular":{"len":5,"chunk":0}}]}"#).is_err()
    );
    let ok: ChunkGrid =
        serde_json::from_str(r#"{"axes":[{"regular":{"len":5,"chunk":2}}]}"#).unwrap();
    assert_eq!(ok.to_sizes(), vec![vec![2, 2, 1]]);
}

/// A regular grid of 10^12 blocks: every question is answered without
/// enumerating blocks (no timing assertion; enumeration would never finish).
#[test]
fn huge_regular_grid_answers_without_enumeration() {
    let n = 1_000_000u64;
    let grid = ChunkGrid::regular(&[n, n, n], &[100, 100, 100]).unwrap();
    let total = 1_000_000_000_000u64;
    assert_eq!(grid.num_blocks(), total);
    assert_eq!(grid.blocks_per_axis(), vec![10_000; 3]);
    let last = vec![9_999u64; 3];
    assert_eq!(
        grid.block_region(&last).unwrap(),
        Region::new(vec![999_900; 3], vec![n; 3]).unwrap()
    );
    assert_eq!(grid.block_shape(&[5, 9_999, 0]).unwrap(), vec![100; 3]);
    assert_eq!(
        grid.block_of(&[999_999, 0, 123_456]),
        Some(vec![9_999, 0, 1_234])
    );
    assert_eq!(grid.block_of(&[n, 0, 0]), None);
    assert_eq!(grid.linear_index(&last).unwrap(), total - 1);
    assert_eq!(
        grid.linear_index(&[1, 2, 3]).unwrap(),
        100_000_000 + 20_000 + 3
    );
    assert_eq!(grid.block_index(total - 1).unwrap(), last);
    assert_eq!(grid.block_index(100_020_003).unwrap(), vec![1, 2, 3]);
    let whole = grid
        .blocks_overlapping(&Region::from_shape(&grid.shape()))
        .unwrap();
    assert_eq!(whole.num_blocks(), total);
    assert_eq!(
        whole.iter().take(3).collect::<Vec<_>>(),
        vec![vec![0, 0, 0], vec![0, 0, 1], vec![0, 0, 2]]
    );
    assert_eq!(grid.all_blocks().num_blocks(), total);
    let some = Region::new(vec![150, 0, 999_950], vec![250, 1, n]).unwrap();
    let touched = grid.blocks_overlapping(&some).unwrap();
    assert_eq!(touched.ranges(), &[1..3, 0..1, 9_999..10_000][..]);
    assert_eq!(
        touched.iter().collect::<Vec<_>>(),
        vec![vec![1, 0, 9_999], vec![2, 0, 9_999]]
    );
    // Axis algebra on long regular axes stays O(1).
    let len = 1_000_000_000_000u64;
    let (a, b) = (
        AxisChunks::regular(len, 7).unwrap(),
        AxisChunks::regular(len, 11).unwrap(),
    );
    // Inclusion-exclusion on interior cut positions.
    let cuts = (len.div_ceil(7) - 1) + (len.div_ceil(11) - 1) - (len.div_ceil(77) - 1);
    assert_eq!(a.count_overlaps(&b), cuts + 1);
    let fine = AxisChunks::regular(len, 1_000).unwrap();
    let coarse = AxisChunks::regular(len, 1_000_000).unwrap();
    assert_eq!(fine.refine_with(&coarse).unwrap(), fine);
    assert_eq!(fine.merge_groups(1_000), coarse);
    assert_eq!(fine.max_merged(1_000), 1_000_000);
    assert_eq!(a.chunk_at_position(len - 1), len.div_ceil(7) - 1);
}

/// A grid with more blocks than a `u64` can count: per-block questions still
/// work, and linear_index refuses instead of overflowing.
#[test]
fn grid_with_more_than_u64_max_blocks() {
    let m = u64::MAX;
    let grid = ChunkGrid::regular(&[m, m], &[1, 1]).unwrap();
    assert_eq!(grid.num_blocks(), m); // saturated
    assert_eq!(grid.block_of(&[5, m - 1]), Some(vec![5, m - 1]));
    assert_eq!(
        grid.block_region(&[m - 1, 0]).unwrap(),
        Region::new(vec![m - 1, 0], vec![m, 1]).unwrap()
    );
    assert!(grid.linear_index(&[2, 0]).is_err());
    assert_eq!(grid.linear_index(&[0, 7]).unwrap(), 7);
    let touched = grid
        .blocks_overlapping(&Region::new(vec![m - 2, 3], vec![m, 5]).unwrap())
        .unwrap();
    assert_eq!(touched.ranges(), &[m - 2..m, 3..5][..]);
}
