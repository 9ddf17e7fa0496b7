//! Basic slicing with numpy's semantics: ranges with steps (negative too),
//! negative indices, integer indices that drop an axis, `newaxis`.

use std::ops::{Range, RangeFrom, RangeFull, RangeTo};

use ndchunk_io::Element;

use super::gather::{AxisMap, OutAxis};
use super::{check_index, gather};
use crate::array::Array;
use crate::ops::elementwise::invalid;

/// One entry of a slice, as in numpy's `a[1:5:2, -1, np.newaxis]`.
/// Missing trailing entries take the whole axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// `start:stop:step` (Python's rules: negative positions count from
    /// the end, `None` is the natural end for the step's direction, out of
    /// range positions are clipped; `step` must not be 0).
    Range {
        /// First position (`None`: the start for the step's direction).
        start: Option<i64>,
        /// Past-the-last position.
        stop: Option<i64>,
        /// Distance between positions; negative walks backwards.
        step: i64,
    },
    /// One position (negative counts from the end); the axis is dropped.
    At(i64),
    /// A new length-1 axis (`np.newaxis`).
    NewAxis,
}

impl Index {
    /// The whole axis, `:`.
    pub const ALL: Index = Index::Range {
        start: None,
        stop: None,
        step: 1,
    };

    /// `start:stop:step`.
    pub fn range(start: impl Into<Option<i64>>, stop: impl Into<Option<i64>>, step: i64) -> Index {
        Index::Range {
            start: start.into(),
            stop: stop.into(),
            step,
        }
    }

    /// This range with another step (`(2..).into()` then `.step(3)` is `2::3`).
    pub fn step(self, step: i64) -> Index {
        match self {
            Index::Range { start, stop, .. } => Index::Range { start, stop, step },
            other => other,
        }
    }
}

impl From<Range<i64>> for Index {
    fn from(r: Range<i64>) -> Self {
        Index::range(r.start, r.end, 1)
    }
}

impl From<RangeFrom<i64>> for Index {
    fn from(r: RangeFrom<i64>) -> Self {
        Index::range(r.start, None, 1)
    }
}

impl From<RangeTo<i64>> for Index {
    fn from(r: RangeTo<i64>) -> Self {
        Index::range(None, r.end, 1)
    }
}

impl From<RangeFull> for Index {
    fn from(_: RangeFull) -> Self {
        Index::ALL
    }
}

impl From<i64> for Index {
    fn from(i: i64) -> Self {
        Index::At(i)
    }
}

/// Python's `slice(start, stop, step).indices(len)`: the first position
/// and the number of positions.
fn resolve(start: Option<i64>, stop: Option<i64>, step: i64, len: u64) -> (u64, u64) {
    let (len, step) = (i128::from(len), i128::from(step));
    let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
    let clip = |v: Option<i64>, default: i128| match v {
        None => default,
        Some(v) if v < 0 => (i128::from(v) + len).max(lower),
        Some(v) => i128::from(v).min(upper),
    };
    let first = clip(start, if step > 0 { lower } else { upper });
    let end = clip(stop, if step > 0 { upper } else { lower });
    let count = if step > 0 && end > first {
        (end - first + step - 1) / step
    } else if step < 0 && first > end {
        (first - end - step - 1) / -step
    } else {
        0
    };
    (first.max(0) as u64, count as u64)
}

impl Index {
    /// The positions this index picks on axis `axis` of length `len`, and
    /// whether it drops the axis (an [`Index::At`]); an error for an
    /// out-of-bounds position, a zero step or a new axis.
    pub(crate) fn positions(self, axis: usize, len: u64) -> Result<(Vec<u64>, bool), String> {
        match self {
            Index::At(i) => Ok((vec![check_index(i, axis, len)?], true)),
            Index::Range { step: 0, .. } => Err("slice step cannot be zero".into()),
            Index::Range { start, stop, step } => {
                let (first, count) = resolve(start, stop, step, len);
                let positions = (0..count)
                    .map(|k| (i128::from(first) + i128::from(k) * i128::from(step)) as u64)
                    .collect();
                Ok((positions, false))
            }
            Index::NewAxis => Err("a new axis picks no positions of an existing one".into()),
        }
    }
}

fn describe(indices: &[Index]) -> String {
    let part = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let items: Vec<String> = indices
        .iter()
        .map(|i| match i {
            Index::Range { start, stop, step } if *step == 1 => {
                format!("{}:{}", part(*start), part(*stop))
            }
            Index::Range { start, stop, step } => {
                format!("{}:{}:{step}", part(*start), part(*stop))
            }
            Index::At(i) => i.to_string(),
            Index::NewAxis => "newaxis".into(),
        })
        .collect();
    format!("slice[{}]", items.join(", "))
}

/// An index as a plan file holds it.
pub(crate) fn index_value(index: &Index) -> serde_json::Value {
    match *index {
        Index::Range { start, stop, step } => serde_json::json!({ "range": [start, stop, step] }),
        Index::At(i) => serde_json::json!({ "at": i }),
        Index::NewAxis => serde_json::json!("newaxis"),
    }
}

/// The index [`index_value`] wrote.
pub(crate) fn index_from(value: &serde_json::Value) -> Option<Index> {
    if value == "newaxis" {
        return Some(Index::NewAxis);
    }
    if let Some(i) = value.get("at") {
        return i.as_i64().map(Index::At);
    }
    let range = value.get("range")?.as_array()?;
    let [start, stop, step] = range.as_slice() else {
        return None;
    };
    let bound = |v: &serde_json::Value| -> Option<Option<i64>> {
        if v.is_null() {
            Some(None)
        } else {
            v.as_i64().map(Some)
        }
    };
    Some(Index::Range {
        start: bound(start)?,
        stop: bound(stop)?,
        step: step.as_i64()?,
    })
}

impl<T: Element> Array<T> {
    /// numpy's basic indexing `a[...]`: one [`Index`] per axis (missing
    /// trailing ones take the whole axis), plus any number of
    /// [`Index::NewAxis`]. The output chunks are the slices of the input
    /// chunks (Dask's); evaluating the result reads only the input chunks
    /// the slice touches. A bad index is reported when planned.
    ///
    /// ```
    /// use ndchunk::{Array, Index};
    /// let a = Array::<i64>::arange(10, [4]).unwrap();
    /// let b = a.slice(&[Index::range(-2, None, -3)]);
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![8, 5, 2]);
    /// let c = a.slice(&[Index::NewAxis, (2..5).into()]);
    /// assert_eq!(c.shape(), vec![1, 3]);
    /// assert_eq!(a.slice(&[Index::At(-1)]).compute().unwrap().into_raw_vec_and_offset().0, vec![9]);
    /// ```
    pub fn slice(&self, indices: &[Index]) -> Array<T> {
        let indices_value: Vec<serde_json::Value> = indices.iter().map(index_value).collect();
        let args = serde_json::json!({ "indices": indices_value });
        self.slice_built(indices)
            .recorded("slice", args, vec![self.origin()])
    }

    fn slice_built(&self, indices: &[Index]) -> Array<T> {
        let name = describe(indices);
        let shape = self.shape();
        let used = indices.iter().filter(|i| **i != Index::NewAxis).count();
        if used > shape.len() {
            return invalid(
                &name,
                self.grid().clone(),
                format!(
                    "too many indices for array: array is {}-dimensional, but {used} were indexed",
                    shape.len()
                ),
            );
        }
        let mut fixed = vec![None; shape.len()];
        let mut out = Vec::new();
        let mut axis = 0;
        let rest = (used..shape.len()).map(|_| Index::ALL);
        for index in indices.iter().copied().chain(rest) {
            match index {
                Index::NewAxis => out.push(OutAxis::New { len: 1 }),
                Index::At(i) => {
                    match check_index(i, axis, shape[axis]) {
                        Ok(at) => fixed[axis] = Some(at),
                        Err(message) => return invalid(&name, self.grid().clone(), message),
                    }
                    axis += 1;
                }
                Index::Range { start, stop, step } => {
                    if step == 0 {
                        return invalid(
                            &name,
                            self.grid().clone(),
                            "slice step cannot be zero".into(),
                        );
                    }
                    let (first, len) = resolve(start, stop, step, shape[axis]);
                    let map = AxisMap::Strided { start: first, step };
                    out.push(OutAxis::From { axis, map, len });
                    axis += 1;
                }
            }
        }
        if fixed.iter().all(Option::is_none)
            && out.len() == shape.len()
            && out.iter().zip(&shape).all(|(o, &n)| {
                matches!(o, OutAxis::From { map: AxisMap::Strided { start: 0, step: 1 }, len, .. } if *len == n)
            })
        {
            return self.clone();
        }
        gather(self, name, fixed, out, T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn resolve_follows_python() {
        // (start, count) of list(range(10))[a:b:c]
        assert_eq!(resolve(None, None, 1, 10), (0, 10));
        assert_eq!(resolve(Some(-3), None, 1, 10), (7, 3));
        assert_eq!(resolve(None, None, -1, 10), (9, 10));
        assert_eq!(resolve(Some(-2), None, -3, 10), (8, 3));
        assert_eq!(resolve(Some(20), Some(-20), -4, 10), (9, 3));
        assert_eq!(resolve(Some(5), Some(2), 1, 10), (5, 0));
        assert_eq!(resolve(None, None, -1, 0), (0, 0));
        assert_eq!(resolve(Some(-100), Some(100), 3, 10), (0, 4));
    }
}
