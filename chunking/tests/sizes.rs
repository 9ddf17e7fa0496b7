//! Axes of astronomical length (2^62 elements): planned in closed form,
//! never walked chunk by chunk, and an irregular axis too large to hold is
//! refused, not allocated.

use ndchunk_chunking::rechunk::{plan_rechunk, PlanOptions};
use ndchunk_chunking::{AxisChunks, ChunkGrid, ChunkingError};

const HUGE: u64 = 1 << 62;

#[test]
fn a_rechunk_of_a_huge_axis_is_planned_in_closed_form() {
    for (from, to) in [(1, 1000), (7, 1000), (1000, 7), (3, 3)] {
        let source = ChunkGrid::regular(&[HUGE], &[from]).unwrap();
        let target = ChunkGrid::regular(&[HUGE], &[to]).unwrap();
        let plan = plan_rechunk(&source, &target, &PlanOptions::new(4, 1 << 30)).unwrap();
        let pass = &plan.passes[0];
        // Every source chunk is read at least once, every target chunk written.
        assert!(pass.reads >= source.num_blocks(), "{from} -> {to}");
        assert_eq!(
            pass.writes,
            plan.passes.last().unwrap().output_chunks.num_blocks()
        );
    }
}

#[test]
fn an_irregular_union_too_large_to_hold_is_refused() {
    let a = AxisChunks::regular(HUGE, 7).unwrap();
    let b = AxisChunks::regular(HUGE, 1000).unwrap();
    match a.refine_with(&b) {
        Err(ChunkingError::TooManyChunks { len, chunks, .. }) => {
            assert_eq!(len, HUGE);
            assert!(chunks > 1 << 24);
        }
        other => panic!("{other:?}"),
    }
    // Small unions still work.
    let a = AxisChunks::regular(100, 7).unwrap();
    let b = AxisChunks::regular(100, 10).unwrap();
    assert_eq!(
        a.refine_with(&b).unwrap().num_chunks(),
        a.count_overlaps(&b)
    );
}
