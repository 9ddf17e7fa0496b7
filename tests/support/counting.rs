//! A chunk store that counts how often each chunk is read: what the
//! engine's culling and read-once tests observe. Shared through `#[path]`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ndarray::ArrayViewD;
use ndchunk::chunking::Region;
use ndchunk::io::{ArrayMeta, ChunkStore, ChunkStoreExt, IoError, MemoryStore};

/// A memory store recording its chunk reads.
pub struct Counting {
    inner: MemoryStore,
    reads: Mutex<BTreeMap<Vec<u64>, usize>>,
}

impl Counting {
    /// A store of `meta` holding `values` (the whole array), no reads yet.
    pub fn holding(meta: ArrayMeta, values: ArrayViewD<'_, f64>) -> Arc<Counting> {
        let shape = meta.shape();
        let store = Counting {
            inner: MemoryStore::new("counting", meta),
            reads: Mutex::new(BTreeMap::new()),
        };
        store
            .write_region(&Region::from_shape(&shape), values)
            .unwrap();
        Arc::new(store)
    }

    /// How many times each chunk was read since the last call, in chunk
    /// order; the count starts again.
    pub fn take_reads(&self) -> BTreeMap<Vec<u64>, usize> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

impl ChunkStore for Counting {
    fn meta(&self) -> &ArrayMeta {
        self.inner.meta()
    }
    fn location(&self) -> String {
        "counting".into()
    }
    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>, IoError> {
        *self
            .reads
            .lock()
            .unwrap()
            .entry(chunk.to_vec())
            .or_default() += 1;
        self.inner.read_chunk_bytes(chunk)
    }
    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<(), IoError> {
        self.inner.write_chunk_bytes(chunk, bytes)
    }
    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool, IoError> {
        self.inner.chunk_exists(chunk)
    }
}
