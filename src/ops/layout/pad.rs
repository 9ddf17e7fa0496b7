//! `pad`: numpy's `constant`, `edge` and `reflect` modes; the widths are
//! added to the edge chunks.

use ndchunk_io::Element;

use super::gather;
use super::gather::{AxisMap, OutAxis, PadRule};
use crate::array::Array;
use crate::ops::elementwise::invalid;

/// What `pad` puts outside the array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PadMode<T> {
    /// One value (numpy's `constant` with `constant_values`).
    Constant(T),
    /// The edge value repeated (numpy's `edge`).
    Edge,
    /// The mirror image without repeating the edge value (numpy's
    /// `reflect`: `[1, 2, 3]` padded by 2 is `[3, 2, 1, 2, 3, 2, 1]`).
    Reflect,
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
    /// ```
    pub fn pad(&self, widths: &[(u64, u64)], mode: PadMode<T>) -> Array<T> {
        let (rule, fill, mode_name) = match mode {
            PadMode::Constant(v) => (PadRule::Constant, v, format!("constant({v:?})")),
            PadMode::Edge => (PadRule::Edge, T::default(), "edge".into()),
            PadMode::Reflect => (PadRule::Reflect, T::default(), "reflect".into()),
        };
        let name = format!("pad({widths:?}, {mode_name})");
        let shape = self.shape();
        let widths: Vec<(u64, u64)> = match widths.len() {
            1 => vec![widths[0]; shape.len()],
            n if n == shape.len() => widths.to_vec(),
            n => {
                return invalid(
                    &name,
                    self.grid().clone(),
                    format!(
                    "{n} pad widths for a {}-dimensional array (give one pair, or one per axis)",
                    shape.len()
                ),
                )
            }
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
