//! Operations on whole blocks: `map_blocks` (a user kernel per block, told
//! where the block is) and `rechunk` (the same values on a new grid).

use std::sync::Arc;

use ndarray::ArrayD;
use ndchunk_chunking::ChunkGrid;
use ndchunk_io::Element;

use crate::array::{Array, Chunks};
use crate::error::Error;
use crate::graph::{BlockInfo, Node, NodeKind};
use crate::ops::elementwise::invalid;
use crate::runtime::block::{block, take};
use crate::runtime::block_type::block_type;

impl<T: Element> Array<T> {
    /// `f` run on each block, told the block's index and region; it must
    /// return an array of the block's shape (else the run stops with an
    /// error naming `map_blocks` and the block). Fuses with the blockwise
    /// operations around it.
    pub fn map_blocks<U: Element>(
        &self,
        f: impl Fn(ArrayD<T>, &BlockInfo<'_>) -> ArrayD<U> + Send + Sync + 'static,
    ) -> Array<U> {
        let kernel = move |ins: Vec<crate::runtime::block::Block>, info: &BlockInfo<'_>| {
            let input = ins.into_iter().next().ok_or_else(|| Error::Internal {
                operation: "map_blocks".into(),
                message: "no input block".into(),
            })?;
            let out = f(take::<T>(input, "map_blocks")?, info);
            let expected: Vec<usize> = info.region.shape().iter().map(|&n| n as usize).collect();
            if out.shape() != expected.as_slice() {
                return Err(Error::Invalid {
                    operation: "map_blocks".into(),
                    message: format!(
                        "the function returned shape {:?} for block {:?} of shape {expected:?}",
                        out.shape(),
                        info.index
                    ),
                });
            }
            Ok(block(out.as_standard_layout().into_owned()))
        };
        Array::from_node(Node::new(
            "map_blocks",
            self.grid().clone(),
            block_type::<U>(),
            NodeKind::Map {
                inputs: vec![self.node().clone()],
                kernel: Arc::new(kernel),
                per_block: true,
                lanes: None,
            },
        ))
    }

    /// The same values cut along a new grid. A rechunk that only merges
    /// whole chunks fuses into its consumer (a new block is assembled from
    /// the old blocks inside it); one that cuts chunks is a stage of its
    /// own, planned by the rechunk planner within the budget (each old
    /// block computed once per pass, through intermediates on disk when the
    /// budget is small). A rechunk to the same grid is no node at all, and
    /// a rechunk of a rechunk is one rechunk of the original.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::arange(12, [3]).unwrap();
    /// let b = (&a * 2.0).rechunk([4]).rechunk([6]);
    /// assert_eq!(b.grid().chunk_shape(), vec![6]);
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0[11], 22.0);
    /// ```
    pub fn rechunk(&self, chunks: impl Into<Chunks>) -> Array<T> {
        let grid: ChunkGrid = match chunks.into().resolve(&self.shape(), T::DTYPE.size()) {
            Ok(grid) => grid,
            Err(e) => return invalid("rechunk", self.grid().clone(), e.to_string()),
        };
        Array::from_node(self.node().rechunked(grid))
    }
}
