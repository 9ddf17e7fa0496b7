//! Results of a stage that later stages read (a reduction, a scan's
//! carries). They are kept whole in memory when they fit in `max_mem`
//! beside the largest task still to run, and are then counted in the budget
//! for the rest of the run. Otherwise they are spilled: each finished block
//! is written to a scratch store on disk and read back region by region, so
//! a result larger than the budget never has to exist in memory.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ndchunk_chunking::{ChunkGrid, Region};
use ndchunk_io::owned_paths::OwnedTempDir;
use ndchunk_io::scratch::ScratchStore;
use ndchunk_io::{ArrayMeta, Scalar};

use crate::error::{Error, Result};
use crate::graph::{Node, NodeKind};
use crate::runtime::block::shape_of;
use crate::runtime::block::Block;
use crate::runtime::block_type::BlockType;

/// Where one stage's whole result (or a rechunk's intermediate) goes while
/// the stage runs.
pub(crate) struct Kept {
    grid: ChunkGrid,
    ty: Arc<dyn BlockType>,
    place: Place,
}

enum Place {
    /// In memory, assembled block by block.
    Memory(Mutex<Block>),
    /// In memory and complete: read without a lock, and lent to lanes.
    Complete(Arc<Block>),
    /// On disk, one scratch chunk per block of the grid, under a temporary
    /// directory removed when the last reader is dropped, or (`None`) in a
    /// directory a journal keeps for a resumed run.
    Disk {
        store: Box<ScratchStore>,
        _dir: Option<OwnedTempDir>,
    },
}

impl Kept {
    /// An empty array over `grid`: in memory, or with `spill_to`, a
    /// scratch store in a new temporary directory under it. `name` is the
    /// operation, for errors.
    pub(crate) fn new(
        name: &str,
        grid: &ChunkGrid,
        ty: &Arc<dyn BlockType>,
        spill_to: Option<&Path>,
    ) -> Result<Kept> {
        let place = if let Some(parent) = spill_to {
            let spill = |e: String| Error::Job {
                path: parent.display().to_string(),
                message: format!("cannot spill the result of `{name}`: {e}"),
            };
            let dir =
                OwnedTempDir::new_in(parent, "ndchunk-spill-").map_err(|e| spill(e.to_string()))?;
            let meta = ArrayMeta::new(grid.clone(), ty.dtype(), Scalar::Int(0));
            let store = ScratchStore::open(dir.path(), meta).map_err(|e| spill(e.to_string()))?;
            Place::Disk {
                store: Box::new(store),
                _dir: Some(dir),
            }
        } else {
            let shape = shape_of(&Region::from_shape(&grid.shape()));
            Place::Memory(Mutex::new(ty.filled(&shape)))
        };
        Ok(Kept {
            grid: grid.clone(),
            ty: ty.clone(),
            place,
        })
    }

    /// An array over `grid` in the scratch directory `dir`, which is kept
    /// (chunks already there included: a resumed run finds its work).
    pub(crate) fn on_disk_at(
        name: &str,
        grid: &ChunkGrid,
        ty: &Arc<dyn BlockType>,
        dir: &Path,
    ) -> Result<Kept> {
        let meta = ArrayMeta::new(grid.clone(), ty.dtype(), Scalar::Int(0));
        let store = ScratchStore::open(dir, meta).map_err(|e| Error::Job {
            path: dir.display().to_string(),
            message: format!("cannot keep the intermediate of `{name}`: {e}"),
        })?;
        Ok(Kept {
            grid: grid.clone(),
            ty: ty.clone(),
            place: Place::Disk {
                store: Box::new(store),
                _dir: None,
            },
        })
    }

    /// Stores one finished block (`index` of the grid, at `region`).
    pub(crate) fn put(&self, index: &[u64], region: &Region, values: Block) -> Result<()> {
        match &self.place {
            Place::Memory(whole) => {
                let mut whole = whole.lock().unwrap_or_else(|p| p.into_inner());
                self.ty.assign(&mut whole, region, values)
            }
            Place::Complete(_) => Err(Error::Internal {
                operation: "kept result".into(),
                message: "a block put into a complete result".into(),
            }),
            Place::Disk { store, .. } => self.ty.write_chunk(store.as_ref(), index, values),
        }
    }

    /// The values over `region`, once every block overlapping it is put.
    pub(crate) fn read(&self, region: &Region) -> Result<Block> {
        match &self.place {
            Place::Memory(whole) => {
                let whole = whole.lock().unwrap_or_else(|p| p.into_inner());
                self.ty.copy_region(&whole, region)
            }
            Place::Complete(whole) => self.ty.copy_region(whole, region),
            Place::Disk { store, .. } => self.ty.read_store(store.as_ref(), region),
        }
    }

    /// Drops the blocks that lie inside `region`, read for the last time
    /// (on disk: their files, before the kernel writes them back; in
    /// memory, nothing is freed until the whole result is).
    pub(crate) fn discard(&self, region: &Region) -> Result<()> {
        let Place::Disk { store, .. } = &self.place else {
            return Ok(());
        };
        for index in self.grid.blocks_overlapping(region)?.iter() {
            if region.contains(&self.grid.block_region(&index)?) {
                store.discard_chunk(&index)?;
            }
        }
        Ok(())
    }

    /// The complete result as a source node over its grid, for the stages
    /// that read `node`.
    pub(crate) fn into_source(self, node: &Node) -> Arc<Node> {
        let how = match self.place {
            Place::Disk { .. } => "spilled",
            _ => "materialised",
        };
        let (grid, ty) = (self.grid.clone(), self.ty.clone());
        let kept = match self.place {
            Place::Memory(whole) => Kept {
                place: Place::Complete(Arc::new(
                    whole.into_inner().unwrap_or_else(|p| p.into_inner()),
                )),
                ..self
            },
            place => Kept { place, ..self },
        };
        // A result complete in memory is lent whole to lane kernels.
        let lent = match &kept.place {
            Place::Complete(whole) => ty.lend(whole.clone()),
            _ => None,
        };
        let hold = lent.map(|held| {
            Arc::new(move |_: &Region| Ok(Some(held.clone()))) as Arc<crate::graph::HoldFn>
        });
        let read = move |region: &Region| kept.read(region);
        Node::new(
            format!("{} ({how})", node.name()),
            grid,
            ty,
            NodeKind::Source {
                read: Arc::new(read),
                scratch_bytes: 0,
                hold,
                store: None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::block::block;
    use crate::runtime::block_type::block_type;

    #[test]
    fn discarded_blocks_are_gone_from_disk_and_the_others_stay() {
        let temp = tempfile::tempdir().unwrap();
        let grid = ChunkGrid::regular(&[4, 6], &[2, 3]).unwrap();
        let ty = block_type::<f64>();
        let kept = Kept::new("t", &grid, &ty, Some(temp.path())).unwrap();
        for index in grid.all_blocks().iter() {
            let region = grid.block_region(&index).unwrap();
            let values = ndarray::ArrayD::from_elem(shape_of(&region), index[0] as f64);
            kept.put(&index, &region, block(values)).unwrap();
        }
        // Rows 0..2 hold blocks [0, 0] and [0, 1]; [1, 0] only overlaps.
        let first_row = Region::new(vec![0, 0], vec![2, 6]).unwrap();
        kept.discard(&Region::new(vec![0, 0], vec![3, 6]).unwrap())
            .unwrap();
        let error = kept.read(&first_row).map(|_| ()).unwrap_err().to_string();
        assert!(error.contains("missing"), "{error}");
        let second_row = Region::new(vec![2, 0], vec![4, 6]).unwrap();
        assert!(kept.read(&second_row).is_ok());
    }
}
