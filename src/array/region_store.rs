//! A part of a stored array as an array of its own, for writing a dataset
//! into part of an existing store (`to_zarr` with a region, or appending
//! along a dimension): chunk `c` of the part is chunk `c + offset` of the
//! whole. The part starts on chunk boundaries and ends on one or at the
//! array's end, so every chunk written is whole and no other data is
//! touched (xarray's `safe_chunks`).

use crate::chunking::ChunkGrid;
use crate::error::{Error, Result};
use crate::io::{ArrayMeta, ChunkStore, ZarrStore};

pub(crate) struct RegionStore {
    inner: ZarrStore,
    /// Where the part starts, in chunks.
    offset: Vec<u64>,
    meta: ArrayMeta,
}

impl RegionStore {
    /// The part of `inner` from `start` with `shape` (in elements).
    pub(crate) fn new(inner: ZarrStore, start: &[u64], shape: &[u64]) -> Result<RegionStore> {
        let chunks = inner.meta().grid.chunk_shape();
        check_region(
            &inner.location(),
            &inner.meta().shape(),
            &chunks,
            start,
            shape,
        )?;
        let fails = |message: String| Error::Invalid {
            operation: format!("writing into {}", inner.location()),
            message,
        };
        let grid = ChunkGrid::regular(shape, &chunks).map_err(|e| fails(e.to_string()))?;
        let mut meta = inner.meta().clone();
        meta.grid = grid;
        let offset = start
            .iter()
            .zip(&chunks)
            .map(|(&s, &c)| s / c.max(1))
            .collect();
        Ok(RegionStore {
            inner,
            offset,
            meta,
        })
    }

    /// The array the part is of.
    pub(crate) fn array(&self) -> &ZarrStore {
        &self.inner
    }

    fn whole(&self, chunk: &[u64]) -> Vec<u64> {
        chunk.iter().zip(&self.offset).map(|(c, o)| c + o).collect()
    }
}

/// Checks that the part of an array of shape `whole` (chunked by
/// `chunks`, at `location`) from `start` with `shape` is inside it and on
/// its chunk boundaries (its end may be the array's).
pub(crate) fn check_region(
    location: &str,
    whole: &[u64],
    chunks: &[u64],
    start: &[u64],
    shape: &[u64],
) -> Result<()> {
    let fails = |message: String| Error::Invalid {
        operation: format!("writing into {location}"),
        message,
    };
    if start.len() != whole.len() || shape.len() != whole.len() {
        return Err(fails(format!(
            "a region of {} axes for an array of {}",
            start.len(),
            whole.len()
        )));
    }
    for axis in 0..whole.len() {
        let (from, to, chunk) = (start[axis], start[axis] + shape[axis], chunks[axis].max(1));
        if to > whole[axis] {
            return Err(fails(format!(
                "the region {from}..{to} of axis {axis} goes past its length {}",
                whole[axis]
            )));
        }
        if from % chunk != 0 || (to % chunk != 0 && to != whole[axis]) {
            return Err(fails(format!(
                "the region {from}..{to} of axis {axis} does not fall on its chunks of {chunk} \
                 (writing part of a chunk would rewrite data outside the region)"
            )));
        }
    }
    Ok(())
}

impl ChunkStore for RegionStore {
    fn meta(&self) -> &ArrayMeta {
        &self.meta
    }

    fn location(&self) -> String {
        format!("{} (from chunk {:?})", self.inner.location(), self.offset)
    }

    fn read_chunk_bytes(&self, chunk: &[u64]) -> crate::io::Result<Vec<u8>> {
        self.inner.read_chunk_bytes(&self.whole(chunk))
    }

    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> crate::io::Result<()> {
        self.inner.write_chunk_bytes(&self.whole(chunk), bytes)
    }

    fn chunk_exists(&self, chunk: &[u64]) -> crate::io::Result<bool> {
        self.inner.chunk_exists(&self.whole(chunk))
    }
}
