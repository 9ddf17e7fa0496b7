//! The rechunk planner, checked by running its plans: a small simulated
//! executor moves real values through every pass, chunk by chunk, counting
//! reads and writes and checking that every element lands exactly once.

use std::collections::HashMap;

use ndchunk_chunking::rechunk::{
    minimum_budget, plan_rechunk, ArrayRef, PlanOptions, RechunkPlan, Strategy as Plan,
};
use ndchunk_chunking::{ChunkGrid, ChunkingError, Intersections, Region};
use proptest::prelude::*;

type Store = HashMap<Vec<u64>, Vec<u64>>;

fn strides(shape: &[u64]) -> Vec<u64> {
    let mut s = vec![1u64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Every point of a region, C order, as global coordinates.
fn points(region: &Region) -> Vec<Vec<u64>> {
    let mut out = vec![vec![]];
    for axis in 0..region.ndim() {
        out = out
            .into_iter()
            .flat_map(|p| {
                region.range(axis).map(move |x| {
                    let mut q = p.clone();
                    q.push(x);
                    q
                })
            })
            .collect();
    }
    if region.is_empty() {
        out.clear();
    }
    out
}

fn local_offset(region: &Region, point: &[u64]) -> usize {
    let st = strides(&region.shape());
    point
        .iter()
        .zip(region.start())
        .zip(&st)
        .map(|((p, s), k)| (p - s) * k)
        .sum::<u64>() as usize
}

fn cut(grid: &ChunkGrid, value: impl Fn(&[u64]) -> u64) -> Store {
    grid.all_blocks()
        .iter()
        .map(|b| {
            let r = grid.block_region(&b).unwrap();
            let data = points(&r).iter().map(|p| value(p)).collect();
            (b, data)
        })
        .collect()
}

/// Runs a plan on an array whose values are their own linear index.
fn simulate(plan: &RechunkPlan) -> Result<(), TestCaseError> {
    let shape = plan.source.shape();
    let st = strides(&shape);
    let linear = |p: &[u64]| p.iter().zip(&st).map(|(a, b)| a * b).sum::<u64>();
    let mut stores: HashMap<ArrayRef, Store> = HashMap::new();
    stores.insert(ArrayRef::Source, cut(&plan.source, linear));
    prop_assert_eq!(plan.passes.first().unwrap().input, ArrayRef::Source);
    prop_assert_eq!(plan.passes.last().unwrap().output, ArrayRef::Target);
    prop_assert_eq!(&plan.passes[0].input_chunks, &plan.source);
    prop_assert_eq!(&plan.passes.last().unwrap().output_chunks, &plan.target);
    for pass in &plan.passes {
        prop_assert!(
            pass.task_peak_bytes <= plan.max_mem,
            "task peak {} over budget {}",
            pass.task_peak_bytes,
            plan.max_mem
        );
        let input = stores
            .get(&pass.input)
            .expect("a pass reads an array an earlier pass wrote")
            .clone();
        let mut output = Store::new();
        let (mut reads, mut writes) = (0u64, 0u64);
        let mut reads_of_chunk: HashMap<Vec<u64>, u64> = HashMap::new();
        for block in pass.blocks.all_blocks().iter() {
            let region = pass.blocks.block_region(&block).unwrap();
            let mut buffer = vec![u64::MAX; region.num_elements() as usize];
            let mut seen = vec![0u8; buffer.len()];
            for chunk in pass
                .input_chunks
                .blocks_overlapping(&region)
                .unwrap()
                .iter()
            {
                reads += 1;
                *reads_of_chunk.entry(chunk.clone()).or_default() += 1;
                let chunk_region = pass.input_chunks.block_region(&chunk).unwrap();
                let data = &input[&chunk];
                for p in points(&chunk_region.intersect(&region).unwrap()) {
                    let at = local_offset(&region, &p);
                    buffer[at] = data[local_offset(&chunk_region, &p)];
                    seen[at] += 1;
                }
            }
            prop_assert!(
                seen.iter().all(|&n| n == 1),
                "block {:?} not covered exactly once",
                block
            );
            for chunk in pass
                .output_chunks
                .blocks_overlapping(&region)
                .unwrap()
                .iter()
            {
                let chunk_region = pass.output_chunks.block_region(&chunk).unwrap();
                prop_assert!(
                    region.contains(&chunk_region),
                    "output chunk {:?} straddles block {:?}",
                    chunk,
                    block
                );
                let data = points(&chunk_region)
                    .iter()
                    .map(|p| buffer[local_offset(&region, p)])
                    .collect();
                prop_assert!(
                    output.insert(chunk.clone(), data).is_none(),
                    "output chunk {:?} written twice",
                    chunk
                );
                writes += 1;
            }
        }
        prop_assert_eq!(reads, pass.reads, "reads of {:?}", pass.input);
        prop_assert_eq!(writes, pass.writes, "writes of {:?}", pass.output);
        if pass.aligned {
            prop_assert!(
                reads_of_chunk.values().all(|&n| n == 1),
                "an aligned pass read a chunk twice"
            );
        }
        stores.insert(pass.output, output);
    }
    let target = &stores[&ArrayRef::Target];
    prop_assert_eq!(target.len() as u64, plan.target.num_blocks());
    for (chunk, data) in target {
        let region = plan.target.block_region(chunk).unwrap();
        let expected: Vec<u64> = points(&region).iter().map(|p| linear(p)).collect();
        prop_assert_eq!(data, &expected, "target chunk {:?}", chunk);
    }
    Ok(())
}

/// Random chunk sizes (no zero-size chunks) adding up to `len`.
fn axis_sizes(len: u64) -> impl Strategy<Value = Vec<u64>> {
    prop_oneof![
        (1..=len.max(1)).prop_map(move |c| {
            let mut v = vec![c; (len / c) as usize];
            if !len.is_multiple_of(c) {
                v.push(len % c);
            }
            v
        }),
        proptest::collection::vec(1..=len.max(1), 1..=len.max(1) as usize).prop_map(move |raw| {
            let mut v = Vec::new();
            let mut left = len;
            for s in raw {
                if left == 0 {
                    break;
                }
                let s = s.min(left);
                v.push(s);
                left -= s;
            }
            if left > 0 {
                v.push(left);
            }
            v
        }),
    ]
}

fn grids() -> impl Strategy<Value = (ChunkGrid, ChunkGrid)> {
    proptest::collection::vec(1u64..14, 1..=3).prop_flat_map(|shape| {
        let a: Vec<_> = shape.iter().map(|&l| axis_sizes(l)).collect();
        let b: Vec<_> = shape.iter().map(|&l| axis_sizes(l)).collect();
        (a, b).prop_map(|(a, b)| {
            (
                ChunkGrid::from_sizes(&a).unwrap(),
                ChunkGrid::from_sizes(&b).unwrap(),
            )
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn plans_move_every_element_once_within_budget(
        (source, target) in grids(),
        itemsize in 1u64..9,
        slack in 0u64..4000,
        workers in 1u64..4,
        max_stages in 1usize..5,
    ) {
        let minimum = minimum_budget(&source, &target, itemsize);
        let mut options = PlanOptions::new(itemsize, minimum + slack * itemsize).with_workers(workers);
        options.max_stages = max_stages;
        // Tiny min_mem and cheap operations push the planner to multistage plans.
        options.min_mem = Some(1 << 20);
        options.cost.per_operation = 1.0;
        let plan = plan_rechunk(&source, &target, &options).unwrap();
        prop_assert!(plan.peak_bytes <= plan.max_mem);
        prop_assert!(plan.concurrency >= 1 && plan.concurrency <= workers);
        let best = plan.candidates.iter().map(|c| c.1).fold(f64::INFINITY, f64::min);
        prop_assert_eq!(plan.cost, best);
        match plan.strategy {
            Plan::Direct => prop_assert_eq!(plan.passes.len(), 1),
            Plan::Intermediate { stages } => {
                prop_assert_eq!(plan.passes.len(), stages + 1);
                prop_assert_eq!(plan.stages.len(), stages);
            }
        }
        prop_assert_eq!(plan.check_consistent(), Ok(()));
        // A damaged plan (as a corrupted journal could hold) is caught.
        let mut damaged = plan.clone();
        damaged.passes.pop();
        prop_assert!(damaged.check_consistent().is_err());
        let mut damaged = plan.clone();
        damaged.target = damaged.source.clone();
        prop_assert!(damaged.check_consistent().is_err() || plan.source == plan.target);
        simulate(&plan)?;
    }

    #[test]
    fn every_kind_of_plan_is_valid(
        (source, target) in grids(),
        itemsize in 1u64..5,
        slack in 0u64..2000,
        stages in 1usize..5,
    ) {
        let minimum = minimum_budget(&source, &target, itemsize);
        for strategy in [Plan::Direct, Plan::Intermediate { stages }] {
            let mut options = PlanOptions::new(itemsize, minimum + slack);
            options.strategy = Some(strategy);
            match plan_rechunk(&source, &target, &options) {
                Ok(plan) => {
                    prop_assert_eq!(plan.strategy, strategy);
                    simulate(&plan)?;
                }
                // Only multistage plans may not fit: the direct one always does.
                Err(ChunkingError::StrategyDoesNotFit { .. }) => prop_assert_ne!(strategy, Plan::Direct),
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }

    #[test]
    fn budget_below_minimum_is_refused_with_the_minimum((source, target) in grids(), itemsize in 1u64..9) {
        let minimum = minimum_budget(&source, &target, itemsize);
        let err = plan_rechunk(&source, &target, &PlanOptions::new(itemsize, minimum - 1)).unwrap_err();
        prop_assert_eq!(err, ChunkingError::BudgetTooSmall { max_mem: minimum - 1, minimum });
        let plan = plan_rechunk(&source, &target, &PlanOptions::new(itemsize, minimum)).unwrap();
        prop_assert!(plan.peak_bytes <= minimum);
    }

    #[test]
    fn intersection_pieces_tile_each_new_block((old, new) in grids()) {
        let change = Intersections::new(&old, &new).unwrap();
        let mut total = 0u64;
        for (block, pieces) in change.iter() {
            let region = new.block_region(&block).unwrap();
            let expected = pieces.num_pieces();
            let mut seen = vec![0u8; region.num_elements() as usize];
            let mut n = 0u64;
            for piece in pieces {
                n += 1;
                let from = old.block_region(&piece.from_block).unwrap();
                // The same global elements on both sides.
                let global_from = piece.from_region.translate(&from.start().iter().map(|&x| x as i64).collect::<Vec<_>>()).unwrap();
                let global_to = piece.to_region.translate(&region.start().iter().map(|&x| x as i64).collect::<Vec<_>>()).unwrap();
                prop_assert_eq!(&global_from, &global_to);
                prop_assert!(from.contains(&global_from) && region.contains(&global_to));
                prop_assert!(!global_to.is_empty());
                for p in points(&global_to) {
                    seen[local_offset(&region, &p)] += 1;
                }
            }
            prop_assert_eq!(n, expected);
            prop_assert!(seen.iter().all(|&c| c == 1));
            total += n;
        }
        prop_assert_eq!(total, change.num_pieces());
    }
}

#[test]
fn empty_and_identical_grids_plan_trivially() {
    let g = ChunkGrid::regular(&[0, 5], &[3, 2]).unwrap();
    let plan = plan_rechunk(&g, &g, &PlanOptions::new(8, 1 << 20)).unwrap();
    assert_eq!(plan.strategy, Plan::Direct);
    assert_eq!(plan.passes[0].read_bytes, 0);

    let g = ChunkGrid::regular(&[100, 100], &[10, 10]).unwrap();
    let plan = plan_rechunk(&g, &g, &PlanOptions::new(8, 1 << 30)).unwrap();
    assert_eq!(plan.strategy, Plan::Direct);
    assert!(plan.passes[0].aligned);
    assert_eq!(plan.total_reads(), 100);
}

#[test]
fn mismatched_shapes_are_refused() {
    let a = ChunkGrid::regular(&[10], &[5]).unwrap();
    let b = ChunkGrid::regular(&[11], &[5]).unwrap();
    assert!(matches!(
        plan_rechunk(&a, &b, &PlanOptions::new(1, 1 << 20)),
        Err(ChunkingError::ShapeMismatch { .. })
    ));
}

/// The climate case Rechunker was written for: daily chunks to time series.
/// A budget that holds a day's worth of blocks goes through one
/// intermediate store; reading each day once beats re-reading it per tile.
#[test]
fn time_to_space_rechunk_uses_an_intermediate_and_stays_in_budget() {
    let shape = [8760, 721, 1440];
    let source = ChunkGrid::regular(&shape, &[24, 721, 1440]).unwrap();
    let target = ChunkGrid::regular(&shape, &[8760, 10, 10]).unwrap();
    let options = PlanOptions::new(4, 2 << 30).with_workers(2);
    let plan = plan_rechunk(&source, &target, &options).unwrap();
    assert_eq!(plan.strategy, Plan::Intermediate { stages: 1 });
    assert!(plan.peak_bytes <= 2 << 30);
    assert_eq!(plan.concurrency, 2);
    // Every source chunk decoded once.
    assert_eq!(plan.passes[0].reads, 365);
    let direct = plan
        .candidates
        .iter()
        .find(|c| c.0 == Plan::Direct)
        .unwrap()
        .1;
    assert!(direct > plan.cost * 10.0);
}

/// When everything fits, the copy is direct and aligned.
#[test]
fn small_arrays_are_copied_directly() {
    let source = ChunkGrid::regular(&[100, 100], &[10, 100]).unwrap();
    let target = ChunkGrid::regular(&[100, 100], &[100, 10]).unwrap();
    let plan = plan_rechunk(&source, &target, &PlanOptions::new(4, 1 << 30)).unwrap();
    assert_eq!(plan.strategy, Plan::Direct);
    assert_eq!(
        plan.passes[0].blocks,
        ChunkGrid::regular(&[100, 100], &[100, 100]).unwrap()
    );
    assert_eq!(plan.total_reads(), 10);
    assert_eq!(plan.total_writes(), 10);
}
