//! `MemoryStore`: an array held in memory, chunk by chunk. For tests, and
//! for intermediates that fit the budget.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;
use crate::store::{fill_chunk, ChunkStore};

/// An in-memory array: a map from chunk index to decoded chunk bytes.
#[derive(Debug)]
pub struct MemoryStore {
    name: String,
    meta: ArrayMeta,
    chunks: RwLock<HashMap<Vec<u64>, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty array (every chunk reads as the fill value).
    pub fn new(name: impl Into<String>, meta: ArrayMeta) -> Self {
        Self {
            name: name.into(),
            meta,
            chunks: RwLock::new(HashMap::new()),
        }
    }

    /// Decoded bytes held.
    pub fn stored_bytes(&self) -> usize {
        self.chunks
            .read()
            .map(|c| c.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    /// Drops a chunk (it reads as the fill value again).
    pub fn remove_chunk(&self, chunk: &[u64]) {
        if let Ok(mut chunks) = self.chunks.write() {
            chunks.remove(chunk);
        }
    }

    fn poisoned(&self) -> IoError {
        IoError::Storage {
            location: self.location(),
            message: "a thread panicked while writing this in-memory array".into(),
        }
    }
}

impl ChunkStore for MemoryStore {
    fn meta(&self) -> &ArrayMeta {
        &self.meta
    }

    fn location(&self) -> String {
        format!("memory:{}", self.name)
    }

    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>> {
        let chunks = self.chunks.read().map_err(|_| self.poisoned())?;
        match chunks.get(chunk) {
            Some(bytes) => Ok(bytes.clone()),
            None => fill_chunk(&self.meta, &self.meta.grid, chunk).map_err(|e| self.grid_error(e)),
        }
    }

    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<()> {
        self.region_for_write(chunk, bytes.len())?;
        self.chunks
            .write()
            .map_err(|_| self.poisoned())?
            .insert(chunk.to_vec(), bytes.to_vec());
        Ok(())
    }

    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool> {
        self.chunk_region(chunk)?;
        Ok(self
            .chunks
            .read()
            .map_err(|_| self.poisoned())?
            .contains_key(chunk))
    }

    fn written_chunks(&self) -> Result<Vec<Vec<u64>>> {
        let mut out: Vec<Vec<u64>> = self
            .chunks
            .read()
            .map_err(|_| self.poisoned())?
            .keys()
            .cloned()
            .collect();
        out.sort();
        Ok(out)
    }
}
