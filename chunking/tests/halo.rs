//! Halo geometry: checked against a brute force (pad the whole array the way
//! Dask does, axis after axis, then cut the block's window), against numbers
//! produced by Dask itself, and for its error cases.

use ndchunk_chunking::halo::validate_halo;
use ndchunk_chunking::{
    halo_plan, Boundary, ChunkGrid, ChunkingError, CopyMode, Halo, HaloPlan, Region,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Helpers: a dense array whose elements are their own C-order linear index.
// ---------------------------------------------------------------------------

fn linear(shape: &[u64], coord: &[u64]) -> u64 {
    shape.iter().zip(coord).fold(0, |acc, (&n, &c)| acc * n + c)
}

/// Calls `f` on every coordinate of `region`, in C order.
fn for_each_coord(region: &Region, mut f: impl FnMut(&[u64])) {
    if region.is_empty() {
        return;
    }
    let mut at = region.start().to_vec();
    loop {
        f(&at);
        let mut axis = at.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            at[axis] += 1;
            if at[axis] < region.stop()[axis] {
                break;
            }
            at[axis] = region.start()[axis];
        }
    }
}

/// A dense n-d array of `Option<u64>`: `None` is the constant fill.
#[derive(Debug, Clone, PartialEq)]
struct Dense {
    shape: Vec<u64>,
    data: Vec<Option<u64>>,
}

impl Dense {
    fn iota(shape: &[u64]) -> Self {
        let n: u64 = shape.iter().product();
        Self {
            shape: shape.to_vec(),
            data: (0..n).map(Some).collect(),
        }
    }

    fn get(&self, coord: &[u64]) -> Option<u64> {
        self.data[linear(&self.shape, coord) as usize]
    }

    /// A new array whose index `t` along `axis` is old index `map[t]` (or the
    /// fill where `map[t]` is `None`).
    fn gather(&self, axis: usize, map: &[Option<u64>]) -> Self {
        let mut shape = self.shape.clone();
        shape[axis] = map.len() as u64;
        let mut data = Vec::new();
        for_each_coord(&Region::from_shape(&shape), |c| {
            data.push(map[c[axis] as usize].and_then(|i| {
                let mut old = c.to_vec();
                old[axis] = i;
                self.get(&old)
            }));
        });
        Self { shape, data }
    }

    fn window(&self, region: &Region) -> Self {
        let mut data = Vec::new();
        for_each_coord(region, |c| data.push(self.get(c)));
        Self {
            shape: region.shape(),
            data,
        }
    }
}

/// The index map Dask's `boundaries` applies to an axis of length `m`,
/// written as the concatenations of `dask.array.overlap` (reflect: `x[d-1::-1]`
/// and `x[-1:-d-1:-1]`; periodic: `x[-d:]` and `x[:d]`; nearest: `x[:1]` and
/// `x[-1:]` repeated; constant: a fill). Returns the map and the pad in front.
fn dask_axis_map(m: u64, d: u64, b: Boundary) -> (Vec<Option<u64>>, u64) {
    let middle = (0..m).map(Some);
    if d == 0 || b == Boundary::None {
        return (middle.collect(), 0);
    }
    let (left, right): (Vec<Option<u64>>, Vec<Option<u64>>) = match b {
        Boundary::Reflect => (
            (0..d).rev().map(Some).collect(),
            (m - d..m).rev().map(Some).collect(),
        ),
        Boundary::Periodic => ((m - d..m).map(Some).collect(), (0..d).map(Some).collect()),
        Boundary::Nearest => (vec![Some(0); d as usize], vec![Some(m - 1); d as usize]),
        Boundary::Constant => (vec![None; d as usize], vec![None; d as usize]),
        Boundary::None => unreachable!(),
    };
    (left.into_iter().chain(middle).chain(right).collect(), d)
}

/// The expected expanded block by brute force: pad the whole array axis by
/// axis, then cut the window of the block grown by the depth (clipped to the
/// array for `none`). Returns the window and the block's offset in it.
fn brute_force(grid: &ChunkGrid, block: &[u64], halo: &[Halo]) -> (Dense, Vec<u64>) {
    let shape = grid.shape();
    let mut padded = Dense::iota(&shape);
    let mut pre = Vec::new();
    for (axis, h) in halo.iter().enumerate() {
        let (map, p) = dask_axis_map(shape[axis], h.depth, h.boundary);
        padded = padded.gather(axis, &map);
        pre.push(p);
    }
    let region = grid.block_region(block).unwrap();
    let mut start = Vec::new();
    let mut stop = Vec::new();
    let mut offset = Vec::new();
    for (axis, h) in halo.iter().enumerate() {
        let (s, e, d, n) = (
            region.start()[axis],
            region.stop()[axis],
            h.depth,
            shape[axis],
        );
        let (a, b) = if pre[axis] == 0 {
            (s.saturating_sub(d), (e + d).min(n))
        } else {
            (s + pre[axis] - d, e + pre[axis] + d)
        };
        start.push(a);
        stop.push(b);
        offset.push(s + pre[axis] - a);
    }
    (padded.window(&Region::new(start, stop).unwrap()), offset)
}

/// The buffer obtained by executing the plan's pieces (source values are the
/// global linear index, fills are `None`), checking along the way that every
/// piece is well formed and that every element is written exactly once.
fn assemble(grid: &ChunkGrid, plan: &HaloPlan) -> Dense {
    let shape = grid.shape();
    let whole = Region::from_shape(&plan.shape);
    let n = whole.num_elements() as usize;
    let mut data = vec![None; n];
    let mut hits = vec![0u32; n];
    for piece in &plan.pieces {
        assert!(!piece.dest.is_empty(), "empty piece {piece:?}");
        assert!(
            whole.contains(&piece.dest),
            "piece {piece:?} outside buffer {:?}",
            plan.shape
        );
        let source = piece.source.as_ref();
        let origin = source.map(|src| {
            let block_region = grid.block_region(&src.block).unwrap();
            assert!(
                Region::from_shape(&block_region.shape()).contains(&src.region),
                "source {src:?} outside its block {block_region}"
            );
            for (axis, mode) in src.modes.iter().enumerate() {
                let (sl, dl) = (src.region.shape()[axis], piece.dest.shape()[axis]);
                match mode {
                    CopyMode::Straight | CopyMode::Flip => {
                        assert_eq!(sl, dl, "axis {axis} of {piece:?}")
                    }
                    CopyMode::Broadcast => assert_eq!(sl, 1, "axis {axis} of {piece:?}"),
                }
            }
            block_region
        });
        for_each_coord(&piece.dest, |d| {
            let at = linear(&plan.shape, d) as usize;
            hits[at] += 1;
            data[at] = source.map(|src| {
                let global: Vec<u64> = (0..d.len())
                    .map(|axis| {
                        let k = d[axis] - piece.dest.start()[axis];
                        let local = match src.modes[axis] {
                            CopyMode::Straight => src.region.start()[axis] + k,
                            CopyMode::Flip => src.region.stop()[axis] - 1 - k,
                            CopyMode::Broadcast => src.region.start()[axis],
                        };
                        origin.as_ref().unwrap().start()[axis] + local
                    })
                    .collect();
                linear(&shape, &global)
            });
        });
    }
    assert!(
        hits.iter().all(|&h| h == 1),
        "pieces do not tile the buffer exactly once: {hits:?}"
    );
    Dense {
        shape: plan.shape.clone(),
        data,
    }
}

/// The first axis whose mode cannot supply its depth, by the documented rule.
fn first_invalid_axis(shape: &[u64], halo: &[Halo]) -> Option<usize> {
    shape.iter().zip(halo).position(|(&n, h)| match h.boundary {
        Boundary::Reflect | Boundary::Periodic => h.depth > n,
        Boundary::Nearest => h.depth > 0 && n == 0,
        Boundary::None | Boundary::Constant => false,
    })
}

fn check_block(grid: &ChunkGrid, block: &[u64], halo: &[Halo]) {
    let plan = halo_plan(grid, block, halo).unwrap();
    let (expected, offset) = brute_force(grid, block, halo);
    assert_eq!(plan.shape, expected.shape, "shape of block {block:?}");
    assert_eq!(plan.block_offset, offset, "offset of block {block:?}");
    assert_eq!(plan.block_shape, grid.block_shape(block).unwrap());
    let got = assemble(grid, &plan);
    assert_eq!(
        got,
        expected,
        "content of block {block:?} with {halo:?} on {:?}",
        grid.to_sizes()
    );
    // The block itself sits at `block_in_buffer`, untouched.
    let region = grid.block_region(block).unwrap();
    let inner = got.window(&plan.block_in_buffer());
    assert_eq!(inner, Dense::iota(&grid.shape()).window(&region));
}

// ---------------------------------------------------------------------------
// Property test against the brute force.
// ---------------------------------------------------------------------------

fn boundary() -> impl Strategy<Value = Boundary> {
    prop_oneof![
        Just(Boundary::None),
        Just(Boundary::Reflect),
        Just(Boundary::Nearest),
        Just(Boundary::Constant),
        Just(Boundary::Periodic),
    ]
}

/// Chunk sizes of an axis of length 0..12, cut at random (repeated cuts and
/// cuts at the ends make zero-size chunks).
fn axis_sizes() -> impl Strategy<Value = Vec<u64>> {
    (0u64..12).prop_flat_map(|n| {
        prop::collection::vec(0..=n, 0..5).prop_map(move |mut cuts| {
            cuts.sort_unstable();
            let mut sizes = Vec::new();
            let mut prev = 0;
            for c in cuts {
                sizes.push(c - prev);
                prev = c;
            }
            sizes.push(n - prev);
            sizes
        })
    })
}

fn case() -> impl Strategy<Value = (Vec<Vec<u64>>, Vec<Halo>)> {
    (1usize..=3).prop_flat_map(|ndim| {
        (
            prop::collection::vec(axis_sizes(), ndim),
            prop::collection::vec(
                (0u64..6, boundary()).prop_map(|(d, b)| Halo::new(d, b)),
                ndim,
            ),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plan_matches_padded_window((sizes, halo) in case()) {
        let grid = ChunkGrid::from_sizes(&sizes).unwrap();
        let shape = grid.shape();
        if let Some(axis) = first_invalid_axis(&shape, &halo) {
            for block in grid.all_blocks().iter() {
                match halo_plan(&grid, &block, &halo) {
                    Err(ChunkingError::InvalidHalo { axis: a, .. }) => prop_assert_eq!(a, axis),
                    other => prop_assert!(false, "expected InvalidHalo on axis {}, got {:?}", axis, other),
                }
            }
            return Ok(());
        }
        for block in grid.all_blocks().iter() {
            check_block(&grid, &block, &halo);
        }
    }
}

// ---------------------------------------------------------------------------
// Hand-written cases, checked against Dask itself.
// ---------------------------------------------------------------------------

/// The buffer as Dask would show it: element values are the linear index of
/// `np.arange(size).reshape(shape)`, fills are `fill`.
fn dask_view(grid: &ChunkGrid, block: &[u64], halo: &[Halo], fill: i64) -> (Vec<u64>, Vec<i64>) {
    let plan = halo_plan(grid, block, halo).unwrap();
    let dense = assemble(grid, &plan);
    (
        dense.shape,
        dense
            .data
            .iter()
            .map(|v| v.map_or(fill, |x| x as i64))
            .collect(),
    )
}

// The literals below come from dask 2026.8.0 (/tmp/refvenv), printed by:
//
//   x = np.arange(np.prod(shape)).reshape(shape)
//   g = da.overlap.overlap(da.from_array(x, chunks=chunks), depth=depth,
//                          boundary=boundary, allow_rechunk=False)
//   for idx in np.ndindex(g.numblocks): np.asarray(g.blocks[idx]).ravel()
//
// with the chunks chosen at least as large as the depth, so that Dask does
// not rechunk and its blocks are the grid's blocks.

#[test]
fn dask_1d_every_mode() {
    // shape (5,), chunks ((2, 3),), depth {0: 2}.
    let grid = ChunkGrid::from_sizes(&[vec![2, 3]]).unwrap();
    let cases: [(Boundary, [&[i64]; 2]); 5] = [
        (
            Boundary::Reflect,
            [&[1, 0, 0, 1, 2, 3], &[0, 1, 2, 3, 4, 4, 3]],
        ),
        (
            Boundary::Nearest,
            [&[0, 0, 0, 1, 2, 3], &[0, 1, 2, 3, 4, 4, 4]],
        ),
        (
            Boundary::Periodic,
            [&[3, 4, 0, 1, 2, 3], &[0, 1, 2, 3, 4, 0, 1]],
        ),
        (Boundary::None, [&[0, 1, 2, 3], &[0, 1, 2, 3, 4]]),
        // boundary {0: -1}
        (
            Boundary::Constant,
            [&[-1, -1, 0, 1, 2, 3], &[0, 1, 2, 3, 4, -1, -1]],
        ),
    ];
    for (boundary, blocks) in cases {
        for (b, expected) in blocks.iter().enumerate() {
            let (shape, values) = dask_view(&grid, &[b as u64], &[Halo::new(2, boundary)], -1);
            assert_eq!(shape, vec![expected.len() as u64], "{boundary:?} block {b}");
            assert_eq!(values, expected.to_vec(), "{boundary:?} block {b}");
        }
    }
}

#[test]
fn dask_2d_constant_and_reflect() {
    // The example of `dask.array.overlap.overlap`'s docstring: shape (8, 8),
    // chunks (4, 4), depth {0: 2, 1: 1}, boundary {0: 100, 1: 'reflect'}.
    let grid = ChunkGrid::regular(&[8, 8], &[4, 4]).unwrap();
    let halo = [
        Halo::new(2, Boundary::Constant),
        Halo::new(1, Boundary::Reflect),
    ];
    let expected: [(&[u64], &[i64]); 4] = [
        (
            &[0, 0],
            &[
                100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 0, 0, 1, 2, 3, 4, 8, 8,
                9, 10, 11, 12, 16, 16, 17, 18, 19, 20, 24, 24, 25, 26, 27, 28, 32, 32, 33, 34, 35,
                36, 40, 40, 41, 42, 43, 44,
            ],
        ),
        (
            &[0, 1],
            &[
                100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 3, 4, 5, 6, 7, 7, 11,
                12, 13, 14, 15, 15, 19, 20, 21, 22, 23, 23, 27, 28, 29, 30, 31, 31, 35, 36, 37, 38,
                39, 39, 43, 44, 45, 46, 47, 47,
            ],
        ),
        (
            &[1, 0],
            &[
                16, 16, 17, 18, 19, 20, 24, 24, 25, 26, 27, 28, 32, 32, 33, 34, 35, 36, 40, 40, 41,
                42, 43, 44, 48, 48, 49, 50, 51, 52, 56, 56, 57, 58, 59, 60, 100, 100, 100, 100,
                100, 100, 100, 100, 100, 100, 100, 100,
            ],
        ),
        (
            &[1, 1],
            &[
                19, 20, 21, 22, 23, 23, 27, 28, 29, 30, 31, 31, 35, 36, 37, 38, 39, 39, 43, 44, 45,
                46, 47, 47, 51, 52, 53, 54, 55, 55, 59, 60, 61, 62, 63, 63, 100, 100, 100, 100,
                100, 100, 100, 100, 100, 100, 100, 100,
            ],
        ),
    ];
    for (block, values) in expected {
        assert_eq!(
            dask_view(&grid, block, &halo, 100),
            (vec![8, 6], values.to_vec()),
            "block {block:?}"
        );
    }
}

#[test]
fn dask_2d_periodic_and_nearest_irregular() {
    // shape (7, 5), chunks ((3, 4), (2, 3)), depth {0: 3, 1: 2},
    // boundary {0: 'periodic', 1: 'nearest'}.
    let grid = ChunkGrid::from_sizes(&[vec![3, 4], vec![2, 3]]).unwrap();
    let halo = [
        Halo::new(3, Boundary::Periodic),
        Halo::new(2, Boundary::Nearest),
    ];
    let expected: [(&[u64], &[u64], &[i64]); 4] = [
        (
            &[0, 0],
            &[9, 6],
            &[
                20, 20, 20, 21, 22, 23, 25, 25, 25, 26, 27, 28, 30, 30, 30, 31, 32, 33, 0, 0, 0, 1,
                2, 3, 5, 5, 5, 6, 7, 8, 10, 10, 10, 11, 12, 13, 15, 15, 15, 16, 17, 18, 20, 20, 20,
                21, 22, 23, 25, 25, 25, 26, 27, 28,
            ],
        ),
        (
            &[0, 1],
            &[9, 7],
            &[
                20, 21, 22, 23, 24, 24, 24, 25, 26, 27, 28, 29, 29, 29, 30, 31, 32, 33, 34, 34, 34,
                0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9, 9, 9, 10, 11, 12, 13, 14, 14, 14, 15, 16, 17,
                18, 19, 19, 19, 20, 21, 22, 23, 24, 24, 24, 25, 26, 27, 28, 29, 29, 29,
            ],
        ),
        (
            &[1, 0],
            &[10, 6],
            &[
                0, 0, 0, 1, 2, 3, 5, 5, 5, 6, 7, 8, 10, 10, 10, 11, 12, 13, 15, 15, 15, 16, 17, 18,
                20, 20, 20, 21, 22, 23, 25, 25, 25, 26, 27, 28, 30, 30, 30, 31, 32, 33, 0, 0, 0, 1,
                2, 3, 5, 5, 5, 6, 7, 8, 10, 10, 10, 11, 12, 13,
            ],
        ),
        (
            &[1, 1],
            &[10, 7],
            &[
                0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9, 9, 9, 10, 11, 12, 13, 14, 14, 14, 15, 16, 17,
                18, 19, 19, 19, 20, 21, 22, 23, 24, 24, 24, 25, 26, 27, 28, 29, 29, 29, 30, 31, 32,
                33, 34, 34, 34, 0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9, 9, 9, 10, 11, 12, 13, 14, 14,
                14,
            ],
        ),
    ];
    for (block, shape, values) in expected {
        assert_eq!(
            dask_view(&grid, block, &halo, 0),
            (shape.to_vec(), values.to_vec()),
            "block {block:?}"
        );
    }
}

#[test]
fn dask_3d_reflect_none_periodic() {
    // shape (3, 4, 2), chunks ((1, 2), (4,), (1, 1)), depth {0: 1, 1: 2, 2: 1},
    // boundary {0: 'reflect', 1: 'none', 2: 'periodic'}.
    let grid = ChunkGrid::from_sizes(&[vec![1, 2], vec![4], vec![1, 1]]).unwrap();
    let halo = [
        Halo::new(1, Boundary::Reflect),
        Halo::new(2, Boundary::None),
        Halo::new(1, Boundary::Periodic),
    ];
    let expected: [(&[u64], &[u64], &[i64]); 4] = [
        (
            &[0, 0, 0],
            &[3, 4, 3],
            &[
                1, 0, 1, 3, 2, 3, 5, 4, 5, 7, 6, 7, 1, 0, 1, 3, 2, 3, 5, 4, 5, 7, 6, 7, 9, 8, 9,
                11, 10, 11, 13, 12, 13, 15, 14, 15,
            ],
        ),
        (
            &[0, 0, 1],
            &[3, 4, 3],
            &[
                0, 1, 0, 2, 3, 2, 4, 5, 4, 6, 7, 6, 0, 1, 0, 2, 3, 2, 4, 5, 4, 6, 7, 6, 8, 9, 8,
                10, 11, 10, 12, 13, 12, 14, 15, 14,
            ],
        ),
        (
            &[1, 0, 0],
            &[4, 4, 3],
            &[
                1, 0, 1, 3, 2, 3, 5, 4, 5, 7, 6, 7, 9, 8, 9, 11, 10, 11, 13, 12, 13, 15, 14, 15,
                17, 16, 17, 19, 18, 19, 21, 20, 21, 23, 22, 23, 17, 16, 17, 19, 18, 19, 21, 20, 21,
                23, 22, 23,
            ],
        ),
        (
            &[1, 0, 1],
            &[4, 4, 3],
            &[
                0, 1, 0, 2, 3, 2, 4, 5, 4, 6, 7, 6, 8, 9, 8, 10, 11, 10, 12, 13, 12, 14, 15, 14,
                16, 17, 16, 18, 19, 18, 20, 21, 20, 22, 23, 22, 16, 17, 16, 18, 19, 18, 20, 21, 20,
                22, 23, 22,
            ],
        ),
    ];
    for (block, shape, values) in expected {
        assert_eq!(
            dask_view(&grid, block, &halo, 0),
            (shape.to_vec(), values.to_vec()),
            "block {block:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Geometry details.
// ---------------------------------------------------------------------------

#[test]
fn depth_larger_than_neighbours_takes_several_blocks() {
    // 10 elements cut (1, 1, 1, 4, 1, 2); block 3 with depth 3 needs blocks
    // 0..=2 on the left and 4..=5 on the right.
    let grid = ChunkGrid::from_sizes(&[vec![1, 1, 1, 4, 1, 2]]).unwrap();
    let plan = halo_plan(&grid, &[3], &[Halo::new(3, Boundary::Reflect)]).unwrap();
    assert_eq!(plan.shape, vec![10]);
    assert_eq!(plan.block_offset, vec![3]);
    let blocks: Vec<u64> = plan
        .pieces
        .iter()
        .map(|p| p.source.as_ref().unwrap().block[0])
        .collect();
    assert_eq!(blocks, vec![0, 1, 2, 3, 4, 5]);
    check_block(&grid, &[3], &[Halo::new(3, Boundary::Reflect)]);

    // Block 5 (elements 8..10) with depth 3: reflected 9, 8, 7 past the end,
    // where 7 comes from block 3.
    let plan = halo_plan(&grid, &[5], &[Halo::new(3, Boundary::Reflect)]).unwrap();
    let dense = assemble(&grid, &plan);
    assert_eq!(dense.data, [5, 6, 7, 8, 9, 9, 8, 7].map(Some).to_vec());
}

#[test]
fn constant_fill_is_a_few_slabs() {
    // A constant halo on every axis of a 3-d block: 6 fill slabs, whatever
    // the number of data pieces.
    let grid = ChunkGrid::regular(&[4, 4, 4], &[1, 1, 1]).unwrap();
    let halo = [Halo::new(2, Boundary::Constant); 3];
    let plan = halo_plan(&grid, &[0, 0, 0], &halo).unwrap();
    assert_eq!(plan.shape, vec![5, 5, 5]);
    let fills = plan.pieces.iter().filter(|p| p.source.is_none()).count();
    assert_eq!(fills, 3); // only the front of each axis lies outside
    let plan = halo_plan(
        &ChunkGrid::regular(&[1, 1, 1], &[1, 1, 1]).unwrap(),
        &[0, 0, 0],
        &halo,
    )
    .unwrap();
    assert_eq!(plan.pieces.iter().filter(|p| p.source.is_none()).count(), 6);
    assert_eq!(plan.pieces.len(), 7);
}

#[test]
fn zero_size_blocks_and_empty_axes() {
    // A zero-size block still gets a halo around its position.
    let grid = ChunkGrid::from_sizes(&[vec![2, 0, 3]]).unwrap();
    let plan = halo_plan(&grid, &[1], &[Halo::new(2, Boundary::None)]).unwrap();
    assert_eq!(
        (plan.shape.clone(), plan.block_offset.clone()),
        (vec![4], vec![2])
    );
    check_block(&grid, &[1], &[Halo::new(2, Boundary::Reflect)]);

    // An empty axis: constant gives a buffer of pure fill; none gives nothing.
    let grid = ChunkGrid::from_sizes(&[vec![0], vec![3]]).unwrap();
    let halo = [
        Halo::new(1, Boundary::Constant),
        Halo::new(1, Boundary::Nearest),
    ];
    let plan = halo_plan(&grid, &[0, 0], &halo).unwrap();
    assert_eq!(plan.shape, vec![2, 5]);
    assert!(plan.pieces.iter().all(|p| p.source.is_none()));
    assert_eq!(assemble(&grid, &plan).data, vec![None; 10]);
    let plan = halo_plan(&grid, &[0, 0], &[Halo::new(1, Boundary::None); 2]).unwrap();
    assert_eq!(plan.shape, vec![0, 3]);
    assert!(plan.pieces.is_empty());
}

#[test]
fn depth_beyond_the_array_for_modes_that_allow_it() {
    // Dask refuses these (its rechunk needs depth <= array length); the values
    // are still those of np.pad: clipped, edge, constant.
    let grid = ChunkGrid::from_sizes(&[vec![1, 2]]).unwrap();
    for boundary in [Boundary::None, Boundary::Nearest, Boundary::Constant] {
        for block in 0..2 {
            check_block(&grid, &[block], &[Halo::new(5, boundary)]);
        }
    }
    let plan = halo_plan(&grid, &[0], &[Halo::new(5, Boundary::Nearest)]).unwrap();
    assert_eq!(
        assemble(&grid, &plan).data,
        [0, 0, 0, 0, 0, 0, 1, 2, 2, 2, 2].map(Some).to_vec()
    );
}

#[test]
fn zero_dimensional_grid() {
    let grid = ChunkGrid::from_sizes::<Vec<u64>>(&[]).unwrap();
    let plan = halo_plan(&grid, &[], &[]).unwrap();
    assert_eq!(plan.shape, Vec::<u64>::new());
    assert_eq!(plan.pieces.len(), 1);
}

#[test]
fn huge_grid_costs_only_the_pieces() {
    // 10^18 blocks: a plan must not look at them.
    let grid = ChunkGrid::regular(&[1 << 20, 1 << 20, 1 << 20], &[1, 1, 1]).unwrap();
    let halo = [
        Halo::new(2, Boundary::Periodic),
        Halo::new(1, Boundary::Reflect),
        Halo::new(3, Boundary::Nearest),
    ];
    let plan = halo_plan(&grid, &[0, 7, (1 << 20) - 1], &halo).unwrap();
    assert_eq!(plan.shape, vec![5, 3, 7]);
    assert_eq!(plan.pieces.len(), 5 * 3 * 5);
    assert_eq!(
        plan.block_in_buffer(),
        Region::new(vec![2, 1, 3], vec![3, 2, 4]).unwrap()
    );
    // The periodic halo of block 0 on axis 0 comes from the last blocks.
    let first = plan.pieces[0].source.as_ref().unwrap();
    assert_eq!(first.block, vec![(1 << 20) - 2, 6, (1 << 20) - 4]);
    // The nearest halo past the end of axis 2 is one broadcast piece.
    let last = plan.pieces.last().unwrap();
    assert_eq!(
        last.dest,
        Region::new(vec![4, 2, 4], vec![5, 3, 7]).unwrap()
    );
    assert_eq!(last.source.as_ref().unwrap().modes[2], CopyMode::Broadcast);
}

#[test]
fn serde_round_trip() {
    let grid = ChunkGrid::from_sizes(&[vec![2, 3], vec![4]]).unwrap();
    let halo = [
        Halo::new(1, Boundary::Constant),
        Halo::new(2, Boundary::Reflect),
    ];
    let plan = halo_plan(&grid, &[1, 0], &halo).unwrap();
    let json = serde_json::to_string(&plan).unwrap();
    assert_eq!(serde_json::from_str::<HaloPlan>(&json).unwrap(), plan);
    assert_eq!(
        serde_json::to_string(&halo[1]).unwrap(),
        r#"{"depth":2,"boundary":"reflect"}"#
    );
    assert_eq!(serde_json::to_string(&CopyMode::Flip).unwrap(), r#""flip""#);
}

// ---------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------

fn invalid_axis(result: ndchunk_chunking::Result<HaloPlan>) -> (usize, String) {
    match result {
        Err(ChunkingError::InvalidHalo { axis, reason }) => (axis, reason),
        other => panic!("expected InvalidHalo, got {other:?}"),
    }
}

#[test]
fn reflect_and_periodic_refuse_depth_beyond_the_axis() {
    let grid = ChunkGrid::regular(&[10, 3], &[5, 3]).unwrap();
    for boundary in [Boundary::Reflect, Boundary::Periodic] {
        let halo = [Halo::new(10, boundary), Halo::new(4, boundary)];
        // Every block fails the same way, even one that would not reach the edge.
        for block in [[0, 0], [1, 0]] {
            let (axis, reason) = invalid_axis(halo_plan(&grid, &block, &halo));
            assert_eq!(axis, 1);
            assert!(
                reason.contains("depth 4") && reason.contains("length 3"),
                "{reason}"
            );
        }
        let err = validate_halo(&[10, 3], &halo).unwrap_err();
        assert!(err.to_string().starts_with("axis 1: "), "{err}");
    }
}

#[test]
fn nearest_refuses_an_empty_axis() {
    let grid = ChunkGrid::from_sizes(&[vec![3], vec![0]]).unwrap();
    let (axis, reason) = invalid_axis(halo_plan(
        &grid,
        &[0, 0],
        &[Halo::new(1, Boundary::Nearest); 2],
    ));
    assert_eq!(axis, 1);
    assert!(reason.contains("nearest"), "{reason}");
    // Depth 0 asks for nothing, so it is fine.
    assert!(halo_plan(&grid, &[0, 0], &[Halo::new(0, Boundary::Nearest); 2]).is_ok());
}

#[test]
fn overflowing_depth_is_refused() {
    let grid = ChunkGrid::regular(&[4], &[2]).unwrap();
    let (axis, reason) = invalid_axis(halo_plan(
        &grid,
        &[0],
        &[Halo::new(u64::MAX, Boundary::Constant)],
    ));
    assert_eq!(axis, 0);
    assert!(reason.contains("u64::MAX"), "{reason}");
    // Clipping never overflows.
    let plan = halo_plan(&grid, &[1], &[Halo::new(u64::MAX, Boundary::None)]).unwrap();
    assert_eq!((plan.shape, plan.block_offset), (vec![4], vec![2]));
}

#[test]
fn wrong_ndim_and_block_out_of_bounds() {
    let grid = ChunkGrid::regular(&[4, 4], &[2, 2]).unwrap();
    assert!(matches!(
        halo_plan(&grid, &[0, 0], &[Halo::default()]),
        Err(ChunkingError::NdimMismatch {
            what: "halo",
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        halo_plan(&grid, &[2, 0], &[Halo::default(); 2]),
        Err(ChunkingError::BlockOutOfBounds { .. })
    ));
    assert!(matches!(
        halo_plan(&grid, &[0], &[Halo::default(); 2]),
        Err(ChunkingError::NdimMismatch { .. })
    ));
}
