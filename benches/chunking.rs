//! Chunk-grid algebra at scale: the questions the engine asks per task must
//! cost O(answer), whatever the number of chunks, and planning a rechunk of
//! a 10^6-chunk array must take well under a millisecond.
//!
//! Run: `cargo bench --bench chunking`. The baseline of each group is the
//! same question on a grid 1000x smaller: equal times mean O(answer).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions};
use ndchunk_chunking::{ChunkGrid, Intersections, Region};

/// Regular 3-d grids of 10^6 and 10^9 chunks (100^3 and 1000^3 chunks of
/// 10^3 elements each), and irregular ones of the same size.
fn grids() -> Vec<(&'static str, ChunkGrid)> {
    let irregular = |blocks: u64| {
        // Alternating 9 and 11: irregular, same total as regular 10s.
        let axis: Vec<u64> = (0..blocks)
            .map(|i| if i % 2 == 0 { 9 } else { 11 })
            .collect();
        ChunkGrid::from_sizes(&[axis.clone(), axis.clone(), axis]).unwrap()
    };
    vec![
        (
            "regular 1e6 chunks",
            ChunkGrid::regular(&[1000; 3], &[10; 3]).unwrap(),
        ),
        (
            "regular 1e9 chunks",
            ChunkGrid::regular(&[10_000; 3], &[10; 3]).unwrap(),
        ),
        ("irregular 1e6 chunks", irregular(100)),
        ("irregular 1e9 chunks", irregular(1000)),
    ]
}

fn region_to_blocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("region_to_blocks");
    for (name, grid) in grids() {
        // A region touching 3x3x3 = 27 blocks in the middle of the array.
        let mid = grid.shape()[0] / 2;
        let region = Region::new(vec![mid - 5; 3], vec![mid + 15; 3]).unwrap();
        group.bench_with_input(BenchmarkId::new("27 blocks", name), &grid, |b, grid| {
            b.iter(|| {
                let blocks = grid.blocks_overlapping(black_box(&region)).unwrap();
                blocks.iter().map(|blk| blk[0]).sum::<u64>()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("block_of + block_region", name),
            &grid,
            |b, grid| {
                b.iter(|| {
                    let blk = grid.block_of(black_box(&[mid, mid, mid])).unwrap();
                    grid.block_region(&blk).unwrap()
                })
            },
        );
    }
    group.finish();
}

fn intersections(c: &mut Criterion) {
    let mut group = c.benchmark_group("intersections");
    for (name, from) in grids() {
        // Rechunk to chunks of 25 (not aligned with 10): each new block
        // needs 3x3x3 = 27 pieces at most.
        let shape = from.shape();
        let to = ChunkGrid::regular(&shape, &[25; 3]).unwrap();
        let mid = to.blocks_per_axis()[0] / 2;
        group.bench_with_input(
            BenchmarkId::new("pieces of one block", name),
            &(from, to),
            |b, (from, to)| {
                let change = Intersections::new(from, to).unwrap();
                b.iter(|| change.pieces(black_box(&[mid, mid, mid])).unwrap().count())
            },
        );
    }
    group.finish();
}

fn planning(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan_rechunk");
    // 10^6 source chunks: (10000, 1000, 1000) float32 in (1, 100, 100) chunks,
    // to time series (1000, 10, 10): 10^6 target chunks too.
    let shape = [10_000, 1000, 1000];
    let source = ChunkGrid::regular(&shape, &[1, 100, 100]).unwrap();
    let target = ChunkGrid::regular(&shape, &[1000, 10, 10]).unwrap();
    for max_mem in [256u64 << 20, 4 << 30] {
        let options = PlanOptions::new(4, max_mem).with_workers(2);
        group.bench_function(
            BenchmarkId::new("1e6 chunks", format!("{} MiB", max_mem >> 20)),
            |b| b.iter(|| plan_rechunk(black_box(&source), black_box(&target), &options).unwrap()),
        );
    }
    // ERA5-like year, daily chunks to 10x10 time series.
    let shape = [8760, 721, 1440];
    let source = ChunkGrid::regular(&shape, &[24, 721, 1440]).unwrap();
    let target = ChunkGrid::regular(&shape, &[8760, 10, 10]).unwrap();
    let options = PlanOptions::new(4, 2 << 30).with_workers(2);
    group.bench_function("era5 year 2 GiB", |b| {
        b.iter(|| plan_rechunk(black_box(&source), black_box(&target), &options).unwrap())
    });
    group.finish();
}

criterion_group!(benches, region_to_blocks, intersections, planning);
criterion_main!(benches);
