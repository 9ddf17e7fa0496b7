//! Proptest strategies for the engine's tests: random shapes (empty and
//! length-1 axes included) and random irregular chunkings of them. Shared by
//! the `array_*` test crates through `#[path]`.

use ndchunk::chunking::ChunkGrid;
use proptest::prelude::*;

/// Chunk sizes adding up to `len`, cut at random places (zero-size chunks
/// only on empty axes).
pub fn axis_chunks(len: usize) -> impl Strategy<Value = Vec<u64>> {
    proptest::collection::vec(any::<bool>(), len.saturating_sub(1)).prop_map(move |cuts| {
        if len == 0 {
            return vec![0];
        }
        let mut sizes = vec![1u64];
        for cut in cuts {
            if cut {
                sizes.push(1);
            } else if let Some(last) = sizes.last_mut() {
                *last += 1;
            }
        }
        sizes
    })
}

/// A random chunking of `shape`.
pub fn grid_for(shape: &[usize]) -> BoxedStrategy<ChunkGrid> {
    shape
        .iter()
        .map(|&n| axis_chunks(n))
        .collect::<Vec<_>>()
        .prop_map(|sizes| ChunkGrid::from_sizes(&sizes).unwrap())
        .boxed()
}

#[allow(dead_code)] // each includer uses its own part
/// A shape of 1 to 3 axes, each empty, of length 1, or 2 to `max_len - 1`.
pub fn shape_up_to(max_len: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(
        prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..max_len],
        1..=3,
    )
}
