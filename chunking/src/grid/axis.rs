//! `AxisChunks`: how one axis is cut into chunks.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{ChunkingError, Result};

/// The chunking of one axis: either regular (one chunk size, a possibly
/// smaller last chunk; O(1) memory whatever the number of chunks) or
/// irregular (explicit sizes, as Dask allows and Zarr v3's rectilinear grid
/// stores).
///
/// An axis always has at least one chunk: an axis of length 0 has a single
/// chunk of size 0, as in Dask. Irregular axes may contain zero-size chunks.
/// Two `AxisChunks` are equal when they cut the axis at the same places,
/// whatever their representation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "AxisRepr", into = "AxisRepr")]
pub struct AxisChunks {
    repr: AxisRepr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AxisRepr {
    /// `chunk > 0`, or `len == 0`.
    Regular { len: u64, chunk: u64 },
    /// Chunk boundaries: `bounds[0] == 0`, non-decreasing, `len + 1 >= 2` entries.
    Irregular { bounds: Vec<u64> },
}

/// The most chunks an irregular axis may be given by combining two others
/// (2^24: 128 MiB of bounds).
pub const MAX_IRREGULAR_CHUNKS: u64 = 1 << 24;

impl TryFrom<AxisRepr> for AxisChunks {
    type Error = ChunkingError;
    fn try_from(repr: AxisRepr) -> Result<Self> {
        match repr {
            AxisRepr::Regular { len, chunk } => AxisChunks::regular(len, chunk),
            // Back to the compact form when the bounds are regular.
            AxisRepr::Irregular { bounds } => AxisChunks::from_bounds(bounds),
        }
    }
}

impl From<AxisChunks> for AxisRepr {
    fn from(a: AxisChunks) -> Self {
        a.repr
    }
}

impl AxisChunks {
    /// A regular axis of length `len` cut every `chunk` elements (the last
    /// chunk may be smaller). `chunk` may exceed `len` (one chunk); it may be
    /// 0 only when `len` is 0 (the error names axis 0: this axis does not
    /// know its place; [`ChunkGrid::regular`](crate::ChunkGrid::regular) names the real one).
    pub fn regular(len: u64, chunk: u64) -> Result<Self> {
        if chunk == 0 && len > 0 {
            return Err(ChunkingError::ZeroChunk { axis: 0, len });
        }
        Ok(Self {
            repr: AxisRepr::Regular { len, chunk },
        })
    }

    /// An axis from explicit chunk sizes. Sizes that are all equal except a
    /// smaller, non-empty last one are stored as a regular axis.
    pub fn from_sizes(sizes: &[u64]) -> Result<Self> {
        if sizes.is_empty() {
            return Err(ChunkingError::InvalidChunkSpec {
                spec: "()".into(),
                reason: "an axis needs at least one chunk; write a zero-length axis as (0,)".into(),
            });
        }
        let len = sizes
            .iter()
            .try_fold(0u64, |acc, &s| acc.checked_add(s))
            .ok_or_else(|| ChunkingError::InvalidChunkSpec {
                spec: format!("{sizes:?}"),
                reason: "chunk sizes overflow u64".into(),
            })?;
        if is_regular_sizes(sizes) {
            return Self::regular(len, sizes[0]);
        }
        let mut bounds = Vec::with_capacity(sizes.len() + 1);
        bounds.push(0);
        let mut at = 0;
        for &s in sizes {
            at += s;
            bounds.push(at);
        }
        Ok(Self {
            repr: AxisRepr::Irregular { bounds },
        })
    }

    /// An axis from its chunk boundaries `[0, b1, ..., len]`.
    pub fn from_bounds(bounds: Vec<u64>) -> Result<Self> {
        let sizes: Vec<u64> = bounds.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
        if bounds.first() != Some(&0) || bounds.len() < 2 || bounds.windows(2).any(|w| w[0] > w[1])
        {
            return Err(ChunkingError::InvalidChunkSpec {
                spec: format!("{bounds:?}"),
                reason: "chunk bounds must start at 0 and never decrease".into(),
            });
        }
        if is_regular_sizes(&sizes) {
            return Self::regular(*bounds.last().unwrap_or(&0), sizes[0]);
        }
        Ok(Self {
            repr: AxisRepr::Irregular { bounds },
        })
    }

    /// Length of the axis in elements.
    pub fn len(&self) -> u64 {
        match &self.repr {
            AxisRepr::Regular { len, .. } => *len,
            AxisRepr::Irregular { bounds } => *bounds.last().unwrap_or(&0),
        }
    }

    /// True when the axis has length 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when stored as one chunk size (all chunks equal but a smaller last).
    pub fn is_regular(&self) -> bool {
        matches!(self.repr, AxisRepr::Regular { .. })
    }

    /// The nominal chunk size of a regular axis (what Zarr stores as its chunk
    /// shape, possibly larger than the axis); `None` for an irregular axis.
    pub fn regular_chunk(&self) -> Option<u64> {
        match &self.repr {
            AxisRepr::Regular { chunk, .. } => Some(*chunk),
            AxisRepr::Irregular { .. } => None,
        }
    }

    /// Number of chunks (at least 1).
    pub fn num_chunks(&self) -> u64 {
        match &self.repr {
            AxisRepr::Regular { len: 0, .. } => 1,
            AxisRepr::Regular { len, chunk } => len.div_ceil(*chunk),
            AxisRepr::Irregular { bounds } => bounds.len() as u64 - 1,
        }
    }

    /// The element range of chunk `i`. Panics when `i >= num_chunks()`.
    pub fn chunk_range(&self, i: u64) -> Range<u64> {
        match &self.repr {
            AxisRepr::Regular { len, chunk } => {
                assert!(i < self.num_chunks(), "chunk {i} out of range");
                let start = i * chunk;
                start..start.saturating_add(*chunk).min(*len)
            }
            AxisRepr::Irregular { bounds } => bounds[i as usize]..bounds[i as usize + 1],
        }
    }

    /// The size of chunk `i`.
    pub fn chunk_size(&self, i: u64) -> u64 {
        let r = self.chunk_range(i);
        r.end - r.start
    }

    /// The largest chunk size.
    pub fn max_chunk(&self) -> u64 {
        match &self.repr {
            AxisRepr::Regular { len, chunk } => (*chunk).min(*len),
            AxisRepr::Irregular { bounds } => {
                bounds.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
            }
        }
    }

    /// All chunk sizes, in order.
    pub fn sizes(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.num_chunks()).map(move |i| self.chunk_size(i))
    }

    /// The chunk that holds element `coord`, or `None` past the end.
    /// O(1) on a regular axis, O(log n) on an irregular one; zero-size chunks
    /// hold no element and are never returned.
    pub fn chunk_of(&self, coord: u64) -> Option<u64> {
        if coord >= self.len() {
            return None;
        }
        Some(match &self.repr {
            AxisRepr::Regular { chunk, .. } => coord / chunk,
            AxisRepr::Irregular { bounds } => bounds.partition_point(|&b| b <= coord) as u64 - 1,
        })
    }

    /// The chunk an empty range at position `pos` belongs to: the chunk that
    /// holds `pos`, or the last chunk when `pos` is the axis end (Dask's rule
    /// for zero-size pieces).
    pub fn chunk_at_position(&self, pos: u64) -> u64 {
        self.chunk_of(pos).unwrap_or(self.num_chunks() - 1)
    }

    /// The chunks that share at least one element with `range` (clipped to the
    /// axis); an empty range overlaps no chunk. Zero-size chunks strictly
    /// inside the result are included (they hold nothing to copy).
    pub fn chunks_overlapping(&self, range: Range<u64>) -> Range<u64> {
        let end = range.end.min(self.len());
        if range.start >= end {
            return 0..0;
        }
        // Both exist: start < end <= len.
        let first = self.chunk_of(range.start).unwrap_or(0);
        let last = self.chunk_of(end - 1).unwrap_or(0);
        first..last + 1
    }

    /// Number of non-empty pieces when this axis and `other` (same length)
    /// are both cut: the number of distinct (chunk, chunk) overlaps, which is
    /// the number of intermediate chunks or of partial reads along this axis.
    /// O(1) for two regular axes, O(chunks) otherwise.
    pub fn count_overlaps(&self, other: &AxisChunks) -> u64 {
        assert_eq!(
            self.len(),
            other.len(),
            "count_overlaps needs two cuts of one axis"
        );
        let len = self.len();
        if len == 0 {
            return 0;
        }
        if let (Some(a), Some(b)) = (self.regular_chunk(), other.regular_chunk()) {
            let (a, b) = (a.min(len), b.min(len));
            // Boundaries repeat with period lcm(a, b): count per period, then
            // the remainder (Rechunker's _count_intermediate_chunks).
            let (periods, rem, per_period) = match lcm(a, b) {
                Some(l) => (len / l, len % l, l / a + l / b - 1),
                None => (0, len, 0),
            };
            let in_rem = if rem > 0 {
                rem.div_ceil(a) + rem.div_ceil(b) - 1
            } else {
                0
            };
            return periods * per_period + in_rem;
        }
        // Merge interior boundaries of non-empty cuts.
        let mut count = 1u64;
        let mut ia = self.interior_bounds().peekable();
        let mut ib = other.interior_bounds().peekable();
        let mut last = 0u64;
        loop {
            let next = match (ia.peek(), ib.peek()) {
                (None, None) => break,
                (Some(&x), None) => {
                    ia.next();
                    x
                }
                (None, Some(&y)) => {
                    ib.next();
                    y
                }
                (Some(&x), Some(&y)) => {
                    if x <= y {
                        ia.next();
                        x
                    } else {
                        ib.next();
                        y
                    }
                }
            };
            if next > last {
                count += 1;
                last = next;
            }
        }
        count
    }

    /// Boundaries strictly between 0 and `len`, in order (may repeat).
    fn interior_bounds(&self) -> impl Iterator<Item = u64> + '_ {
        let len = self.len();
        (1..self.num_chunks())
            .map(move |i| self.chunk_range(i).start)
            .filter(move |&b| b > 0 && b < len)
    }

    /// The axis cut at every boundary of `self` and of `other` (same length):
    /// the coarsest chunking that refines both.
    pub fn refine_with(&self, other: &AxisChunks) -> Result<AxisChunks> {
        let len = self.len();
        if other.len() != len {
            return Err(ChunkingError::ShapeMismatch {
                left: vec![len],
                right: vec![other.len()],
            });
        }
        if let (Some(a), Some(b)) = (self.regular_chunk(), other.regular_chunk()) {
            let (a, b) = (a.min(len), b.min(len));
            if a > 0 && b > 0 && (a % b == 0 || b % a == 0) {
                return AxisChunks::regular(len, a.min(b));
            }
        }
        // The union of two regular cuttings that do not divide each other
        // is irregular: one bound per cut, held in memory. Refused, rather
        // than allocated, past what a plan can sensibly hold.
        let cuts = self.num_chunks().saturating_add(other.num_chunks());
        if cuts > MAX_IRREGULAR_CHUNKS {
            return Err(ChunkingError::TooManyChunks {
                len,
                chunks: cuts,
                limit: MAX_IRREGULAR_CHUNKS,
            });
        }
        let mut bounds: Vec<u64> = Vec::with_capacity(cuts as usize + 1);
        bounds.push(0);
        bounds.extend(self.interior_bounds());
        bounds.extend(other.interior_bounds());
        bounds.push(len);
        bounds.sort_unstable();
        bounds.dedup();
        if len == 0 {
            bounds = vec![0, 0];
        }
        AxisChunks::from_bounds(bounds)
    }

    /// Merge every `k` consecutive chunks into one (the last group may hold
    /// fewer): a coarsening whose boundaries are a subset of this axis'.
    pub fn merge_groups(&self, k: u64) -> AxisChunks {
        let k = k.max(1);
        match &self.repr {
            AxisRepr::Regular { len, chunk } => AxisChunks {
                repr: AxisRepr::Regular {
                    len: *len,
                    chunk: chunk.saturating_mul(k).min((*len).max(*chunk)),
                },
            },
            AxisRepr::Irregular { bounds } => {
                let n = bounds.len() - 1;
                let mut merged: Vec<u64> = bounds.iter().step_by(k as usize).copied().collect();
                if n % k as usize != 0 {
                    merged.push(bounds[n]);
                }
                AxisChunks::from_bounds(merged).unwrap_or_else(|_| self.clone())
            }
        }
    }

    /// The largest chunk that results from merging every `k` chunks.
    pub fn max_merged(&self, k: u64) -> u64 {
        match &self.repr {
            AxisRepr::Regular { len, chunk } => chunk.saturating_mul(k.max(1)).min(*len),
            AxisRepr::Irregular { .. } => self.merge_groups(k).max_chunk(),
        }
    }
}

impl PartialEq for AxisChunks {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() || self.num_chunks() != other.num_chunks() {
            return false;
        }
        match (&self.repr, &other.repr) {
            (AxisRepr::Regular { chunk: a, .. }, AxisRepr::Regular { chunk: b, .. }) => {
                a == b || self.num_chunks() == 1
            }
            _ => (0..self.num_chunks()).all(|i| self.chunk_range(i) == other.chunk_range(i)),
        }
    }
}

impl Eq for AxisChunks {}

/// True when the sizes can be stored as one chunk size: all equal except a
/// smaller, non-empty last (or a single zero-length chunk). This is Dask's
/// `_check_regular_chunks` except that trailing zero-size chunks (`[5, 5,
/// 0]`, which Dask accepts) are irregular here, because a regular axis
/// cannot represent them.
pub fn is_regular_sizes(sizes: &[u64]) -> bool {
    match sizes {
        [] => false,
        [0] => true,
        [first, rest @ ..] => {
            *first > 0
                && match rest.split_last() {
                    None => true,
                    Some((last, middle)) => {
                        middle.iter().all(|s| s == first) && *last > 0 && last <= first
                    }
                }
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn lcm(a: u64, b: u64) -> Option<u64> {
    (a / gcd(a, b)).checked_mul(b)
}
