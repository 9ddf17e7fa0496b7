//! `MemoryBudget`: tasks are admitted by their projected bytes, not by
//! count, so the bytes in flight never exceed `max_mem`.

use std::sync::{Condvar, Mutex};

use crate::error::{Error, Result};

/// A byte budget shared by the tasks of a run.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: u64,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    in_flight: u64,
    peak: u64,
}

/// Bytes held by one running task; given back when dropped.
#[derive(Debug)]
pub(crate) struct Reservation<'a> {
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: u64) -> Self {
        Self {
            limit,
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// Waits until `bytes` fit beside what is in flight, then holds them.
    /// A task larger than the whole budget is an error, never a deadlock.
    pub(crate) fn acquire(&self, operation: &str, bytes: u64) -> Result<Reservation<'_>> {
        if bytes > self.limit {
            return Err(Error::TaskTooLarge {
                operation: operation.to_string(),
                needed: bytes,
                limit: self.limit,
                suggestion: "raise max_mem, or choose smaller chunks".into(),
            });
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while state.in_flight + bytes > self.limit {
            state = self.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.in_flight += bytes;
        state.peak = state.peak.max(state.in_flight);
        Ok(Reservation {
            budget: self,
            bytes,
        })
    }

    /// The most bytes ever in flight at once (the executor's own accounting).
    pub(crate) fn peak(&self) -> u64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).peak
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut state = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
        state.in_flight -= self.bytes;
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_the_limit_in_flight() {
        let budget = MemoryBudget::new(100);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let _r = budget.acquire("t", 40).unwrap();
                        std::hint::black_box(());
                    }
                });
            }
        });
        assert!(budget.peak() <= 100);
        assert!(budget.peak() >= 40);
        assert!(matches!(
            budget.acquire("big", 101),
            Err(Error::TaskTooLarge { needed: 101, .. })
        ));
    }
}
