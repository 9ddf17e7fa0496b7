//! Results of a stage that later stages read (a reduction, a scan's
//! carries). They are kept whole in memory when they fit in `max_mem`
//! beside the largest task still to run, and are then counted in the budget
//! for the rest of the run. Otherwise they are spilled: each finished block
//! is written to a scratch store on disk and read back region by region, so
//! a result larger than the budget never has to exist in memory.

use std::sync::{Arc, Mutex};

use ndchunk_chunking::Region;
use ndchunk_io::scratch::ScratchStore;
use ndchunk_io::{ArrayMeta, ChunkStore, Scalar};

use crate::error::{Error, Result};
use crate::graph::block::shape_of;
use crate::graph::{Block, Node, NodeKind};

/// Where one stage's whole result goes while the stage runs.
pub(crate) enum Kept {
    /// In memory, assembled block by block.
    Memory(Mutex<Block>),
    /// On disk, one scratch chunk per block of the node's grid, under a
    /// temporary directory removed when the run ends.
    Disk {
        store: Arc<ScratchStore>,
        _dir: Arc<tempfile::TempDir>,
    },
}

impl Kept {
    /// Memory when `in_memory`, else a scratch store in a new temporary
    /// directory.
    pub(crate) fn new(node: &Node, in_memory: bool) -> Result<Kept> {
        if in_memory {
            let shape = shape_of(&Region::from_shape(&node.grid().shape()));
            return Ok(Kept::Memory(Mutex::new(node.block_type().filled(&shape))));
        }
        let spill = |e: String| Error::Job {
            path: std::env::temp_dir().display().to_string(),
            message: format!("cannot spill the result of `{}`: {e}", node.name()),
        };
        let dir = tempfile::Builder::new()
            .prefix("ndchunk-spill-")
            .tempdir()
            .map_err(|e| spill(e.to_string()))?;
        let meta = ArrayMeta::new(
            node.grid().clone(),
            node.block_type().dtype(),
            Scalar::Int(0),
        );
        let store = ScratchStore::open(dir.path(), meta).map_err(|e| spill(e.to_string()))?;
        Ok(Kept::Disk {
            store: Arc::new(store),
            _dir: Arc::new(dir),
        })
    }

    /// Stores one finished block (`index` of the node's grid, at `region`).
    pub(crate) fn put(
        &self,
        node: &Node,
        index: &[u64],
        region: &Region,
        values: Block,
    ) -> Result<()> {
        let ty = node.block_type();
        match self {
            Kept::Memory(whole) => {
                let mut whole = whole.lock().unwrap_or_else(|p| p.into_inner());
                ty.assign(&mut whole, region, values)
            }
            Kept::Disk { store, .. } => {
                store.write_chunk_bytes(index, &ty.to_bytes(values)?)?;
                Ok(())
            }
        }
    }

    /// The complete result as a source node over the node's grid, for the
    /// stages that read it.
    pub(crate) fn into_source(self, node: &Arc<Node>) -> Arc<Node> {
        let ty = node.block_type().clone();
        let reader_ty = ty.clone();
        let (read, how): (Arc<crate::graph::SourceFn>, &str) = match self {
            Kept::Memory(whole) => {
                let whole = whole.into_inner().unwrap_or_else(|p| p.into_inner());
                (
                    Arc::new(move |region: &Region| reader_ty.copy_region(&whole, region)),
                    "materialised",
                )
            }
            Kept::Disk { store, _dir } => (
                Arc::new(move |region: &Region| {
                    let _keep_directory = &_dir;
                    let bytes = store.read_region_bytes(region)?;
                    reader_ty.block_from_bytes(&shape_of(region), &bytes)
                }),
                "spilled",
            ),
        };
        Node::new(
            format!("{} ({how})", node.name()),
            node.grid().clone(),
            ty,
            NodeKind::Source {
                read,
                scratch_bytes: 0,
            },
        )
    }
}
