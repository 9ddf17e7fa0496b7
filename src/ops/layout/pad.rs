//! `pad`: numpy's `constant`, `edge`, `reflect`, `symmetric` and `wrap`
//! modes; the widths are added to the edge chunks. The same modes say what
//! [`map_overlap`](crate::Array::map_overlap) and the filters see past the
//! array's edge.

use ndchunk_io::Element;

use super::gather;
use super::gather::PadRule;
use super::gather::{AxisMap, OutAxis};
use crate::array::Array;
use crate::ops::elementwise::invalid;
use crate::ops::per_axis;

/// What lies past the array's edge: for [`pad`](Array::pad), and for
/// what [`map_overlap`](Array::map_overlap) and the filters see there.
///
/// The names are numpy's (`np.pad`'s `mode`). scipy.ndimage and Dask call
/// some of the same modes otherwise; `[a b c d]` extended by 2 on each side:
///
/// | `PadMode` | values | `np.pad` | `scipy.ndimage` `mode` | Dask `boundary` |
/// |---|---|---|---|---|
/// | `Constant(v)` | `v v \| a b c d \| v v` | `constant` | `constant` (`cval`) | a number |
/// | `Edge` | `a a \| a b c d \| d d` | `edge` | `nearest` | `nearest` |
/// | `Reflect` | `c b \| a b c d \| c b` | `reflect` | `mirror` | — |
/// | `Symmetric` | `b a \| a b c d \| d c` | `symmetric` | `reflect` (its default) | `reflect` |
/// | `Wrap` | `c d \| a b c d \| a b` | `wrap` | `wrap`, `grid-wrap` | `periodic` |
///
/// Dask's `boundary="none"` (no values past the edge) is `None` where a
/// boundary is an `Option<PadMode>`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadMode<T> {
    /// One value (numpy's `constant` with `constant_values`).
    Constant(T),
    /// The edge value repeated (numpy's `edge`, scipy's `nearest`).
    Edge,
    /// The mirror image without repeating the edge value (numpy's
    /// `reflect`, scipy's `mirror`: `[1, 2, 3]` padded by 2 is
    /// `[3, 2, 1, 2, 3, 2, 1]`).
    Reflect,
    /// The mirror image repeating the edge value (numpy's `symmetric`,
    /// scipy's `reflect`, Dask's `reflect`: `[1, 2, 3]` padded by 2 is
    /// `[2, 1, 1, 2, 3, 3, 2]`).
    Symmetric,
    /// The other end of the array (numpy's `wrap`, scipy's `wrap` and
    /// `grid-wrap`, Dask's `periodic`: `[1, 2, 3]` padded by 2 is
    /// `[2, 3, 1, 2, 3, 1, 2]`).
    Wrap,
}

impl<T: ndchunk_io::Element> PadMode<T> {
    /// The mode as a plan file holds it.
    pub(crate) fn to_value(self) -> serde_json::Value {
        match self {
            PadMode::Constant(v) => {
                serde_json::json!({ "constant": crate::array::recipe::scalar(v) })
            }
            PadMode::Edge => "edge".into(),
            PadMode::Reflect => "reflect".into(),
            PadMode::Symmetric => "symmetric".into(),
            PadMode::Wrap => "wrap".into(),
        }
    }

    /// The mode [`to_value`](Self::to_value) wrote.
    pub(crate) fn from_value(value: &serde_json::Value) -> crate::error::Result<Self> {
        if let Some(v) = value.get("constant") {
            return Ok(PadMode::Constant(crate::array::recipe::scalar_from(v)?));
        }
        match value.as_str() {
            Some("edge") => Ok(PadMode::Edge),
            Some("reflect") => Ok(PadMode::Reflect),
            Some("symmetric") => Ok(PadMode::Symmetric),
            Some("wrap") => Ok(PadMode::Wrap),
            _ => Err(crate::array::recipe::file_error(format!(
                "unknown pad mode {value}"
            ))),
        }
    }
}

impl<T: Copy> PadMode<T> {
    /// The gather rule, its fill value and the mode's numpy name.
    pub(crate) fn rule(self) -> (PadRule, Option<T>, &'static str) {
        match self {
            PadMode::Constant(v) => (PadRule::Constant, Some(v), "constant"),
            PadMode::Edge => (PadRule::Edge, None, "edge"),
            PadMode::Reflect => (PadRule::Reflect, None, "reflect"),
            PadMode::Symmetric => (PadRule::Symmetric, None, "symmetric"),
            PadMode::Wrap => (PadRule::Wrap, None, "wrap"),
        }
    }
}

impl<T: Element> Array<T> {
    /// The array with `widths[i] = (before, after)` elements added on each
    /// side of axis `i` (one pair for all axes is allowed, as numpy's
    /// `pad_width`). `Edge` and `Reflect` cannot extend an empty axis.
    ///
    /// ```
    /// use ndchunk::{Array, PadMode};
    /// let a = Array::<i32>::arange(3, [2]).unwrap();
    /// let r = a.pad(&[(2, 2)], PadMode::Reflect);
    /// assert_eq!(r.compute().unwrap().into_raw_vec_and_offset().0, vec![2, 1, 0, 1, 2, 1, 0]);
    /// assert_eq!(r.grid().to_sizes(), vec![vec![4, 3]]);
    /// let c = a.pad(&[(1, 0)], PadMode::Constant(-1));
    /// assert_eq!(c.compute().unwrap().into_raw_vec_and_offset().0, vec![-1, 0, 1, 2]);
    /// let s = a.pad(&[(2, 2)], PadMode::Symmetric);
    /// assert_eq!(s.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 0, 0, 1, 2, 2, 1]);
    /// let w = a.pad(&[(2, 2)], PadMode::Wrap);
    /// assert_eq!(w.compute().unwrap().into_raw_vec_and_offset().0, vec![1, 2, 0, 1, 2, 0, 1]);
    /// ```
    pub fn pad(&self, widths: &[(u64, u64)], mode: PadMode<T>) -> Array<T> {
        let args = serde_json::json!({ "widths": widths, "mode": mode.to_value() });
        self.pad_built(widths, mode)
            .recorded("pad", args, vec![self.origin()])
    }

    fn pad_built(&self, widths: &[(u64, u64)], mode: PadMode<T>) -> Array<T> {
        let (rule, fill, mode_name) = mode.rule();
        let mode_name = match fill {
            Some(v) => format!("{mode_name}({v:?})"),
            None => mode_name.to_string(),
        };
        let fill = fill.unwrap_or_default();
        let name = format!("pad({widths:?}, {mode_name})");
        let shape = self.shape();
        let widths = match per_axis(widths, shape.len(), "pad widths") {
            Ok(widths) => widths,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        let mut out = Vec::with_capacity(shape.len());
        for (axis, (&(before, after), &len)) in widths.iter().zip(&shape).enumerate() {
            if len == 0 && rule != PadRule::Constant && before + after > 0 {
                return invalid(
                    &name,
                    self.grid().clone(),
                    format!("can't extend empty axis {axis} using modes other than 'constant'"),
                );
            }
            let map = if before + after == 0 {
                AxisMap::Strided { start: 0, step: 1 }
            } else {
                AxisMap::Pad { before, len, rule }
            };
            let Some(total) = len.checked_add(before).and_then(|n| n.checked_add(after)) else {
                return invalid(&name, self.grid().clone(), "pad widths overflow".into());
            };
            out.push(OutAxis::From {
                axis,
                map,
                len: total,
            });
        }
        if widths.iter().all(|&(b, a)| b + a == 0) {
            return self.clone();
        }
        gather(self, name, vec![None; shape.len()], out, fill)
    }
}
