//! What one task runs on, and every `unsafe` of the crate: the data
//! between fused kernels ([`block`]: a type-erased `ArrayD<T>`; [`lanes`]:
//! short contiguous runs of elements, type-erased slices), what the untyped
//! engine does with a node's element type ([`block_type`]), and the
//! evaluator that computes a region of a node by pulling its inputs, over
//! whole blocks ([`eval`]) or lane by lane ([`eval_lanes`]), and the
//! blocks a stage keeps for the tasks that read them again
//! ([`block_cache`]).
//!
//! Imports run one way: `block` ← `lanes` ← `block_type`; the graph's
//! kernels are written over these; `eval` ← `eval_lanes` walk the graph.

pub(crate) mod block;
pub(crate) mod block_cache;
pub(crate) mod block_type;
pub(crate) mod eval;
pub(crate) mod eval_lanes;
pub(crate) mod lanes;
