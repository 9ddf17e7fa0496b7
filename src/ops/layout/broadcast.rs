//! numpy broadcasting: shapes aligned on the right, length-1 axes
//! stretched; `broadcast_to` is one layout node that reads each input
//! element once per output block that needs it.

use ndchunk_io::Element;

use super::gather;
use super::gather::{AxisMap, OutAxis};
use crate::array::Array;
use crate::ops::elementwise::invalid;

/// The shape `a` and `b` broadcast to, or `None` when they cannot be.
pub(crate) fn broadcast_shapes(a: &[u64], b: &[u64]) -> Option<Vec<u64>> {
    let n = a.len().max(b.len());
    let at = |s: &[u64], i: usize| (i + s.len()).checked_sub(n).map_or(1, |k| s[k]);
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}

impl<T: Element> Array<T> {
    /// The array repeated along new leading axes and stretched along its
    /// length-1 axes to `shape` (numpy's `broadcast_to`); new and stretched
    /// axes are one chunk each, as in Dask. Nothing is copied until a block
    /// is computed.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(3, [2]).unwrap();
    /// let b = a.broadcast_to(&[2, 3]);
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 1, 2, 0, 1, 2]);
    /// assert!(a.broadcast_to(&[4]).compute().is_err());
    /// ```
    pub fn broadcast_to(&self, shape: &[u64]) -> Array<T> {
        let args = serde_json::json!({ "shape": shape });
        self.broadcast_to_built(shape)
            .recorded("broadcast_to", args, vec![self.origin()])
    }

    fn broadcast_to_built(&self, shape: &[u64]) -> Array<T> {
        let name = format!("broadcast_to({shape:?})");
        let own = self.shape();
        if own == shape {
            return self.clone();
        }
        let fits =
            shape.len() >= own.len() && broadcast_shapes(&own, shape).is_some_and(|s| s == shape);
        if !fits {
            return invalid(
                &name,
                self.grid().clone(),
                format!("cannot broadcast an array of shape {own:?} to shape {shape:?}"),
            );
        }
        let lead = shape.len() - own.len();
        let out = shape
            .iter()
            .enumerate()
            .map(|(j, &len)| match j.checked_sub(lead) {
                None => OutAxis::New { len },
                Some(axis) => OutAxis::From {
                    axis,
                    map: if own[axis] == len {
                        AxisMap::Strided { start: 0, step: 1 }
                    } else {
                        AxisMap::Broadcast
                    },
                    len,
                },
            })
            .collect();
        gather(self, name, vec![None; own.len()], out, T::default())
    }
}
