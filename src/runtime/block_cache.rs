//! The blocks of [`Cached`](crate::graph::NodeKind::Cached) nodes kept by
//! one stage for the tasks that read them: an overlap's task reads parts of
//! its neighbours' blocks, so without the cache each source chunk would be
//! decoded once per neighbour (up to 27 times in 3-D).
//!
//! A block is computed by the first task that asks for it (others asking
//! meanwhile wait for it, so it is computed once), then kept until the
//! least recently used blocks must make room: the stage's tasks run in
//! C order of their blocks, so a block's readers come close together, and
//! a capacity of the plan's window (the blocks between a block's first and
//! last reader) computes each block once. A smaller capacity computes some
//! blocks again: the values are the same, only the work grows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::Result;
use crate::runtime::block::Block;

/// One stage's kept blocks, at most `capacity` bytes of them.
pub(crate) struct BlockCache {
    capacity: u64,
    state: Mutex<State>,
}

/// (cached node id, block index).
type Key = (u64, Vec<u64>);

/// A block being computed (`None`, its computing task holds the lock) or
/// computed.
type Slot = Arc<Mutex<Option<Arc<Block>>>>;

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    bytes: u64,
    clock: u64,
}

struct Entry {
    slot: Slot,
    bytes: u64,
    last_used: u64,
    /// The thread computing the block, until it is computed.
    computing: Option<std::thread::ThreadId>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BlockCache {
    /// A cache of at most `capacity` bytes (0: nothing is kept).
    pub(crate) fn new(capacity: u64) -> Self {
        Self {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// The block `index` of node `node`, from the cache or computed by
    /// `compute` (of `bytes` bytes) and kept.
    pub(crate) fn get(
        &self,
        node: u64,
        index: &[u64],
        bytes: u64,
        compute: impl FnOnce() -> Result<Block>,
    ) -> Result<Arc<Block>> {
        if bytes > self.capacity {
            return compute().map(Arc::new);
        }
        let key = (node, index.to_vec());
        // Found, or made ours to compute, in one step: two tasks missing
        // the same block never both compute it.
        let (slot, mine) = {
            let mut state = lock(&self.state);
            state.clock += 1;
            let now = state.clock;
            match state.entries.get_mut(&key) {
                Some(entry) => {
                    entry.last_used = now;
                    (entry.slot.clone(), false)
                }
                None => {
                    let slot: Slot = Arc::new(Mutex::new(None));
                    let entry = Entry {
                        slot: slot.clone(),
                        bytes: 0,
                        last_used: now,
                        computing: Some(std::thread::current().id()),
                    };
                    state.entries.insert(key.clone(), entry);
                    (slot, true)
                }
            }
        };
        if !mine {
            // A task that waits inside its own computation (rayon running
            // another task on this thread) must not wait for itself.
            let this_thread = Some(std::thread::current().id());
            let computing_here = lock(&self.state)
                .entries
                .get(&key)
                .is_some_and(|e| e.computing == this_thread);
            if computing_here {
                return compute().map(Arc::new);
            }
            // Waits while another task computes it.
            loop {
                let value = lock(&slot);
                if let Some(block) = value.as_ref() {
                    return Ok(block.clone());
                }
                drop(value);
                // Empty: its task has not yet taken the slot (it is still
                // listed: wait for it), or its computation failed (it
                // removed the entry: this task tries, without keeping).
                let pending = lock(&self.state)
                    .entries
                    .get(&key)
                    .is_some_and(|e| Arc::ptr_eq(&e.slot, &slot) && e.computing.is_some());
                if !pending {
                    return compute().map(Arc::new);
                }
                std::thread::yield_now();
            }
        }
        let mut value = lock(&slot);
        let computed = compute();
        let mut state = lock(&self.state);
        let ours = |state: &State| {
            state
                .entries
                .get(&key)
                .is_some_and(|e| Arc::ptr_eq(&e.slot, &slot))
        };
        let block = match computed {
            Ok(block) => Arc::new(block),
            Err(e) => {
                if ours(&state) {
                    state.entries.remove(&key);
                }
                return Err(e);
            }
        };
        *value = Some(block.clone());
        drop(value);
        if ours(&state) {
            if let Some(entry) = state.entries.get_mut(&key) {
                entry.bytes = bytes;
                entry.computing = None;
            }
            state.bytes += bytes;
            self.evict(&mut state, &key);
        }
        Ok(block)
    }

    /// Least recently used blocks dropped (never `keep`, nor blocks being
    /// computed) until the kept bytes fit the capacity.
    fn evict(&self, state: &mut State, keep: &Key) {
        while state.bytes > self.capacity {
            let oldest = state
                .entries
                .iter()
                .filter(|(k, e)| *k != keep && e.bytes > 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some(entry) = state.entries.remove(&oldest) {
                state.bytes -= entry.bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::block::block;
    use ndarray::{ArrayD, IxDyn};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn value(v: f64) -> Block {
        block(ArrayD::from_elem(IxDyn(&[2]), v))
    }

    #[test]
    fn computes_each_block_once_within_capacity_and_again_after_eviction() {
        let cache = BlockCache::new(32);
        let computed = AtomicU64::new(0);
        let get = |i: u64| {
            cache
                .get(7, &[i], 16, || {
                    computed.fetch_add(1, Ordering::Relaxed);
                    Ok(value(i as f64))
                })
                .unwrap()
        };
        let first = get(0);
        assert_eq!(first.downcast_ref::<ArrayD<f64>>().unwrap()[[0]], 0.0);
        get(1);
        get(0);
        get(1);
        assert_eq!(computed.load(Ordering::Relaxed), 2);
        // A third block evicts the least recently used (block 0).
        get(2);
        get(1);
        assert_eq!(computed.load(Ordering::Relaxed), 3);
        get(0);
        assert_eq!(computed.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn concurrent_readers_share_one_computation_and_errors_are_not_kept() {
        let cache = BlockCache::new(1 << 20);
        let computed = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    cache
                        .get(1, &[0, 0], 16, || {
                            computed.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            Ok(value(1.0))
                        })
                        .unwrap();
                });
            }
        });
        assert_eq!(computed.load(Ordering::Relaxed), 1);
        let failed = cache.get(1, &[5], 16, || {
            Err(crate::error::Error::Internal {
                operation: "t".into(),
                message: "boom".into(),
            })
        });
        assert!(failed.is_err());
        let retried = cache.get(1, &[5], 16, || Ok(value(2.0))).unwrap();
        assert_eq!(retried.downcast_ref::<ArrayD<f64>>().unwrap()[[1]], 2.0);
    }
}
