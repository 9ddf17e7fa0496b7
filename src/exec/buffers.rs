//! `BufferPool`: large task buffers reused across tasks. A fresh 100 MiB
//! allocation is mapped anew and costs ~25 000 page faults to fill; a reused
//! one costs nothing more. The pool keeps at most one buffer per worker, so
//! it holds no more than the budget already admitted at its peak.

use std::sync::Mutex;

/// A few byte buffers kept between tasks.
#[derive(Debug)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl BufferPool {
    /// A pool that keeps up to `keep` buffers.
    pub fn new(keep: usize) -> Self {
        Self {
            free: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// A buffer of `len` bytes, reusing a kept one when one is large
    /// enough. Its contents are unspecified (a reused buffer keeps its old
    /// bytes: zeroing 100 MiB per task is measurable), so callers overwrite
    /// all of it.
    pub fn take(&self, len: usize) -> Vec<u8> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            free.iter()
                .position(|b| b.capacity() >= len)
                .map(|i| free.swap_remove(i))
        };
        match reused {
            Some(mut buffer) => {
                buffer.resize(len, 0);
                buffer
            }
            None => vec![0u8; len],
        }
    }

    /// Gives a buffer back for reuse (dropped if the pool is full).
    pub fn give(&self, buffer: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.keep {
            free.push(buffer);
        } else if let Some(smallest) = free.iter_mut().min_by_key(|b| b.capacity()) {
            // Keep the larger of the two: later tasks are as large.
            if smallest.capacity() < buffer.capacity() {
                *smallest = buffer;
            }
        }
    }
}
