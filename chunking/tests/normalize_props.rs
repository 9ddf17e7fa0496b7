//! Properties of `normalize_chunks`, `balance_chunks`, `ChunkSpec::parse`
//! and `parse_bytes` over random shapes, specs and previous chunkings.
//! Dask's own expectations and the error cases are in `normalize.rs`.

use std::collections::BTreeMap;

use ndchunk_chunking::grid::is_regular_sizes;
use ndchunk_chunking::{
    balance_chunks, normalize_chunks, parse_bytes, AxisSpec, ChunkGrid, ChunkSpec, NormalizeOptions,
};
use proptest::prelude::*;

use AxisSpec::{Auto, Keep, Size, Sizes, Whole};

const DIMS: [&str; 3] = ["time", "lat", "lon"];

fn options(
    limit: Option<u64>,
    itemsize: u64,
    previous: Option<&ChunkGrid>,
) -> NormalizeOptions<'_> {
    NormalizeOptions {
        limit,
        itemsize: Some(itemsize),
        previous,
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// Random sizes adding up to `len` (zero-size chunks included).
fn partition(len: u64) -> BoxedStrategy<Vec<u64>> {
    if len == 0 {
        return Just(vec![0]).boxed();
    }
    prop::collection::vec(0..=len, 0..6)
        .prop_map(move |mut cuts| {
            cuts.sort_unstable();
            let mut sizes = Vec::with_capacity(cuts.len() + 1);
            let mut at = 0;
            for cut in cuts.into_iter().chain([len]) {
                sizes.push(cut - at);
                at = cut;
            }
            sizes
        })
        .boxed()
}

/// A previous chunking of one axis: regular or explicit.
fn previous_axis(len: u64) -> BoxedStrategy<Vec<u64>> {
    prop_oneof![
        (1..=len.max(1)).prop_map(move |c| ChunkGrid::regular(&[len], &[c])
            .unwrap()
            .to_sizes()
            .remove(0)),
        partition(len),
    ]
    .boxed()
}

fn axis_spec(len: u64, with_keep: bool) -> BoxedStrategy<AxisSpec> {
    let size = if len == 0 { 0..=3u64 } else { 1..=len * 2 };
    let mut choices = vec![
        (4, Just(Auto).boxed()),
        (1, Just(Whole).boxed()),
        (2, size.prop_map(Size).boxed()),
        (1, partition(len).prop_map(Sizes).boxed()),
    ];
    if with_keep {
        choices.push((1, Just(Keep).boxed()));
    }
    prop::strategy::Union::new_weighted(choices).boxed()
}

fn shape() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        prop_oneof![1 => Just(0u64), 6 => 1..60u64, 2 => 60..5000u64],
        1..4,
    )
}

#[derive(Debug, Clone)]
struct Case {
    shape: Vec<u64>,
    previous: Option<Vec<Vec<u64>>>,
    specs: Vec<AxisSpec>,
    limit: u64,
    itemsize: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (shape(), any::<bool>()).prop_flat_map(|(shape, with_previous)| {
        let previous = if with_previous {
            shape
                .iter()
                .map(|&l| previous_axis(l))
                .collect::<Vec<_>>()
                .prop_map(Some)
                .boxed()
        } else {
            Just(None).boxed()
        };
        let specs: Vec<_> = shape.iter().map(|&l| axis_spec(l, with_previous)).collect();
        (
            Just(shape),
            previous,
            specs,
            prop_oneof![1..100u64, 100..100_000u64, 100_000..1_000_000_000u64],
            prop::sample::select(vec![1u64, 2, 4, 8, 16]),
        )
            .prop_map(|(shape, previous, specs, limit, itemsize)| Case {
                shape,
                previous,
                specs,
                limit,
                itemsize,
            })
    })
}

impl Case {
    fn run(&self) -> ChunkGrid {
        let previous = self
            .previous
            .as_ref()
            .map(|p| ChunkGrid::from_sizes(p).unwrap());
        normalize_chunks(
            &ChunkSpec::PerAxis(self.specs.clone()),
            &self.shape,
            &options(Some(self.limit), self.itemsize, previous.as_ref()),
        )
        .unwrap()
    }
}

/// Dask's `blockdims_from_blockshape` for one axis.
fn blockdims(len: u64, chunk: u64) -> Vec<u64> {
    if len == 0 {
        return vec![0];
    }
    let mut sizes = vec![chunk; (len / chunk) as usize];
    if !len.is_multiple_of(chunk) {
        sizes.push(len % chunk);
    }
    sizes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn result_covers_the_shape_and_honours_fixed_axes(case in case()) {
        let grid = case.run();
        prop_assert_eq!(grid.shape(), case.shape.clone());
        let sizes = grid.to_sizes();
        for (axis, spec) in case.specs.iter().enumerate() {
            let len = case.shape[axis];
            let expected = match spec {
                Whole => Some(vec![len]),
                Size(n) => Some(blockdims(len, *n)),
                Sizes(s) => Some(s.clone()),
                Keep => case.previous.as_ref().map(|p| p[axis].clone()),
                Auto => None,
            };
            if let Some(expected) = expected {
                prop_assert_eq!(&sizes[axis], &expected, "axis {}", axis);
            }
        }
    }

    /// Without previous chunks, `auto` keeps blocks within the limit unless
    /// the fixed axes alone exceed it (then the auto axes get chunks of 1,
    /// as in Dask); and the auto axes are regular.
    #[test]
    fn auto_without_previous_stays_within_the_limit(case in case()) {
        let case = Case { previous: None, specs: case.specs.into_iter().map(|s| if s == Keep { Auto } else { s }).collect(), ..case };
        let grid = case.run();
        let fixed: u128 = case.specs.iter().zip(&case.shape).map(|(s, &len)| match s {
            Auto | Keep => 1,
            Whole => u128::from(len),
            Size(n) => u128::from(*n),
            Sizes(v) => u128::from(*v.iter().max().unwrap()),
        }).product();
        let bytes = u128::from(grid.max_block_elements()) * u128::from(case.itemsize);
        prop_assert!(bytes <= u128::from(case.limit).max(fixed * u128::from(case.itemsize)),
            "{} bytes > limit {} ({:?})", bytes, case.limit, grid.to_sizes());
        for (axis, spec) in case.specs.iter().enumerate() {
            if *spec == Auto {
                prop_assert!(grid.axis(axis).is_regular());
            }
        }
    }

    /// Dask's claim (test_align_chunks_to_previous_chunks): with regular
    /// previous chunks of size c, `auto` keeps every chunk but the last a
    /// multiple of c, or splits below c.
    #[test]
    fn auto_with_regular_previous_aligns_to_it(case in case(), chunk_divisor in 1..8u64) {
        let previous: Vec<Vec<u64>> = case.shape.iter().map(|&len| {
            ChunkGrid::regular(&[len], &[(len / chunk_divisor).max(1)]).unwrap().to_sizes().remove(0)
        }).collect();
        let case = Case { previous: Some(previous.clone()), specs: vec![Auto; case.shape.len()], ..case };
        let grid = case.run();
        for (axis, sizes) in grid.to_sizes().iter().enumerate() {
            let c = previous[axis][0];
            if c == 0 {
                continue;
            }
            let aligned = sizes[..sizes.len() - 1].iter().all(|s| s % c == 0);
            let split = sizes.iter().all(|&s| s <= c);
            prop_assert!(aligned || split, "axis {}: previous chunk {}, got {:?}", axis, c, sizes);
        }
    }

    #[test]
    fn balance_is_dasks_search(sizes in prop::collection::vec(0..300u64, 1..12)) {
        let balanced = balance_chunks(&sizes);
        prop_assert_eq!(&balanced, &balance_by_search(&sizes));
        prop_assert_eq!(balanced.iter().sum::<u64>(), sizes.iter().sum::<u64>());
        if balanced != sizes {
            prop_assert!(is_regular_sizes(&balanced));
        }
    }

    #[test]
    fn parsed_named_entries_round_trip(
        values in prop::collection::vec(prop_oneof![Just(Auto), Just(Whole), (1..u64::MAX).prop_map(Size)], 3),
        keep in prop::collection::vec(any::<bool>(), 3),
    ) {
        let text = |v: &AxisSpec| match v { Size(n) => n.to_string(), other => other.to_string() };
        let entries: Vec<String> = DIMS.iter().zip(&values).zip(&keep)
            .filter(|(_, &k)| k)
            .map(|((d, v), _)| format!("{d}={}", text(v)))
            .collect();
        prop_assume!(!entries.is_empty());
        let expected: BTreeMap<i64, AxisSpec> = values.iter().zip(&keep).enumerate()
            .filter(|(_, (_, &k))| k)
            .map(|(i, (v, _))| (i as i64, v.clone()))
            .collect();
        prop_assert_eq!(ChunkSpec::parse(&entries.join(","), &DIMS).unwrap(), ChunkSpec::ByAxis(expected));
        let positional: Vec<String> = values.iter().map(text).collect();
        prop_assert_eq!(ChunkSpec::parse(&positional.join(","), &DIMS).unwrap(), ChunkSpec::PerAxis(values));
    }

    #[test]
    fn byte_sizes_with_units(n in 0..1_000_000u64, unit in prop::sample::select(vec![
        ("", 1u64), ("B", 1), ("kB", 1_000), ("k", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
        ("KiB", 1 << 10), ("kib", 1 << 10), ("MiB", 1 << 20), ("Mi", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
    ]), space in any::<bool>()) {
        let text = format!("{n}{}{}", if space { " " } else { "" }, unit.0);
        prop_assert_eq!(parse_bytes(&text).unwrap(), n * unit.1);
    }
}

/// Dask's `_balance_chunksizes`, literally: try every candidate size.
fn balance_by_search(sizes: &[u64]) -> Vec<u64> {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0
    } as u64;
    let total: u64 = sizes.iter().sum();
    let eps = median / 2;
    let mut n_chunks = n;
    if (sorted[0] as f64) <= 0.5 * sorted[n - 1] as f64 {
        n_chunks -= 1;
    }
    let mut best: Option<(u64, Vec<u64>)> = None;
    for size in (median - eps)..=(median + eps) {
        if size == 0 {
            continue; // Dask divides by zero here
        }
        let mut candidate = vec![size; (total / size) as usize];
        if !total.is_multiple_of(size) {
            candidate.push(total % size);
        }
        if candidate.len() != n_chunks || candidate.is_empty() {
            continue;
        }
        let spread = candidate.iter().max().unwrap() - candidate.iter().min().unwrap();
        if best.as_ref().is_none_or(|(s, _)| spread < *s) {
            best = Some((spread, candidate));
        }
    }
    best.map_or_else(|| sizes.to_vec(), |(_, c)| c)
}
