//! Boxes of block indices and their C-order iteration.

use std::ops::Range;

/// A box of block indices: a range per axis. Cheap to build; iterate it to
/// visit the blocks in C order (last axis fastest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRange {
    ranges: Vec<Range<u64>>,
}

impl BlockRange {
    /// A box from its per-axis ranges.
    pub fn new(ranges: Vec<Range<u64>>) -> Self {
        Self { ranges }
    }

    /// The per-axis ranges.
    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// Number of blocks inside (saturating).
    pub fn num_blocks(&self) -> u64 {
        self.ranges
            .iter()
            .fold(1u64, |n, r| n.saturating_mul(r.end.saturating_sub(r.start)))
    }

    /// True when the box holds no block.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().any(|r| r.start >= r.end)
    }

    /// The blocks in C order.
    pub fn iter(&self) -> BlockIter {
        BlockIter {
            next: if self.is_empty() {
                None
            } else {
                Some(self.ranges.iter().map(|r| r.start).collect())
            },
            ranges: self.ranges.clone(),
        }
    }
}

impl IntoIterator for &BlockRange {
    type Item = Vec<u64>;
    type IntoIter = BlockIter;
    fn into_iter(self) -> BlockIter {
        self.iter()
    }
}

/// C-order iterator over a [`BlockRange`]: an odometer, O(1) amortised per
/// block and no allocation beyond the yielded index.
#[derive(Debug, Clone)]
pub struct BlockIter {
    ranges: Vec<Range<u64>>,
    next: Option<Vec<u64>>,
}

impl Iterator for BlockIter {
    type Item = Vec<u64>;

    fn next(&mut self) -> Option<Vec<u64>> {
        let current = self.next.take()?;
        let mut following = current.clone();
        for axis in (0..following.len()).rev() {
            following[axis] += 1;
            if following[axis] < self.ranges[axis].end {
                self.next = Some(following);
                return Some(current);
            }
            following[axis] = self.ranges[axis].start;
        }
        // Every axis wrapped (or a 0-d box): `current` was the last block.
        Some(current)
    }
}
