//! `Region`: an n-dimensional hyper-rectangle of element coordinates.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ChunkingError, Result};

/// A half-open hyper-rectangle `[start, stop)` per axis, in element
/// coordinates of some array (or of a chunk, when it is chunk-local).
///
/// A region may be empty (`start == stop` on some axis); an empty region
/// still has a position, which matters for zero-length chunks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RegionParts")]
pub struct Region {
    start: Vec<u64>,
    stop: Vec<u64>,
}

/// The serialized form, checked by [`Region::new`] on the way in.
#[derive(Deserialize)]
struct RegionParts {
    start: Vec<u64>,
    stop: Vec<u64>,
}

impl TryFrom<RegionParts> for Region {
    type Error = ChunkingError;
    fn try_from(parts: RegionParts) -> Result<Self> {
        Region::new(parts.start, parts.stop)
    }
}

impl Region {
    /// A region from its per-axis start and stop.
    ///
    /// ```
    /// use ndchunk_chunking::Region;
    /// let r = Region::new(vec![0, 10], vec![5, 20]).unwrap();
    /// assert_eq!(r.shape(), vec![5, 10]);
    /// assert!(Region::new(vec![3], vec![2]).is_err());
    /// ```
    pub fn new(start: Vec<u64>, stop: Vec<u64>) -> Result<Self> {
        if start.len() != stop.len() {
            return Err(ChunkingError::NdimMismatch {
                what: "region start and stop",
                expected: start.len(),
                got: stop.len(),
            });
        }
        for (axis, (&a, &b)) in start.iter().zip(&stop).enumerate() {
            if a > b {
                return Err(ChunkingError::InvertedRegion {
                    axis,
                    start: a,
                    stop: b,
                });
            }
        }
        Ok(Self { start, stop })
    }

    /// Built from parts already known to be valid (`start <= stop` per axis).
    pub(crate) fn from_parts_unchecked(start: Vec<u64>, stop: Vec<u64>) -> Self {
        debug_assert!(start.len() == stop.len() && start.iter().zip(&stop).all(|(a, b)| a <= b));
        Self { start, stop }
    }

    /// The region `[0, shape)`: a whole array.
    pub fn from_shape(shape: &[u64]) -> Self {
        Self {
            start: vec![0; shape.len()],
            stop: shape.to_vec(),
        }
    }

    /// A region from `(start, stop)` pairs per axis.
    pub fn from_ranges(ranges: &[std::ops::Range<u64>]) -> Result<Self> {
        Self::new(
            ranges.iter().map(|r| r.start).collect(),
            ranges.iter().map(|r| r.end).collect(),
        )
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.start.len()
    }

    /// Start per axis (inclusive).
    pub fn start(&self) -> &[u64] {
        &self.start
    }

    /// Stop per axis (exclusive).
    pub fn stop(&self) -> &[u64] {
        &self.stop
    }

    /// The range `[start, stop)` of one axis.
    pub fn range(&self, axis: usize) -> std::ops::Range<u64> {
        self.start[axis]..self.stop[axis]
    }

    /// Extent per axis.
    pub fn shape(&self) -> Vec<u64> {
        self.start
            .iter()
            .zip(&self.stop)
            .map(|(a, b)| b - a)
            .collect()
    }

    /// Number of elements inside (saturating at `u64::MAX`).
    pub fn num_elements(&self) -> u64 {
        self.start
            .iter()
            .zip(&self.stop)
            .fold(1u64, |n, (a, b)| n.saturating_mul(b - a))
    }

    /// True when the region holds no element.
    pub fn is_empty(&self) -> bool {
        self.start.iter().zip(&self.stop).any(|(a, b)| a == b)
    }

    /// The common part of two regions, or `None` when they share no element.
    ///
    /// ```
    /// use ndchunk_chunking::Region;
    /// let a = Region::new(vec![0, 0], vec![10, 10]).unwrap();
    /// let b = Region::new(vec![5, 8], vec![20, 9]).unwrap();
    /// assert_eq!(a.intersect(&b), Some(Region::new(vec![5, 8], vec![10, 9]).unwrap()));
    /// ```
    pub fn intersect(&self, other: &Region) -> Option<Region> {
        if self.ndim() != other.ndim() {
            return None;
        }
        let mut start = Vec::with_capacity(self.ndim());
        let mut stop = Vec::with_capacity(self.ndim());
        for axis in 0..self.ndim() {
            let a = self.start[axis].max(other.start[axis]);
            let b = self.stop[axis].min(other.stop[axis]);
            if a >= b {
                return None;
            }
            start.push(a);
            stop.push(b);
        }
        Some(Region { start, stop })
    }

    /// True when every element of `other` lies in `self` (an empty `other`
    /// is contained when its position lies within `self`'s bounds).
    pub fn contains(&self, other: &Region) -> bool {
        self.ndim() == other.ndim()
            && (0..self.ndim()).all(|axis| {
                self.start[axis] <= other.start[axis] && other.stop[axis] <= self.stop[axis]
            })
    }

    /// True when the point lies inside.
    pub fn contains_point(&self, point: &[u64]) -> bool {
        self.ndim() == point.len()
            && (0..self.ndim())
                .all(|axis| self.start[axis] <= point[axis] && point[axis] < self.stop[axis])
    }

    /// The region moved by a signed offset per axis.
    pub fn translate(&self, offset: &[i64]) -> Result<Region> {
        if offset.len() != self.ndim() {
            return Err(ChunkingError::NdimMismatch {
                what: "translation offset",
                expected: self.ndim(),
                got: offset.len(),
            });
        }
        let shift = |x: u64, d: i64| x.checked_add_signed(d);
        let overflow = || ChunkingError::TranslateOverflow {
            region: self.to_string(),
            offset: offset.to_vec(),
        };
        let moved = |ends: &[u64]| -> Result<Vec<u64>> {
            ends.iter()
                .zip(offset)
                .map(|(&x, &d)| shift(x, d).ok_or_else(overflow))
                .collect()
        };
        Ok(Region {
            start: moved(&self.start)?,
            stop: moved(&self.stop)?,
        })
    }

    /// This region in the coordinates of `origin` (subtracts `origin`'s start):
    /// the slice to take out of a chunk that covers `origin`.
    ///
    /// Returns `None` when `origin` does not contain `self`.
    pub fn relative_to(&self, origin: &Region) -> Option<Region> {
        if !origin.contains(self) {
            return None;
        }
        Some(Region {
            start: self
                .start
                .iter()
                .zip(&origin.start)
                .map(|(a, o)| a - o)
                .collect(),
            stop: self
                .stop
                .iter()
                .zip(&origin.start)
                .map(|(b, o)| b - o)
                .collect(),
        })
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for axis in 0..self.ndim() {
            if axis > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}..{}", self.start[axis], self.stop[axis])?;
        }
        f.write_str("]")
    }
}
