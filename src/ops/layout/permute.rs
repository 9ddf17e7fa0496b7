//! Axis bookkeeping without moving values between chunks: `transpose`
//! (chunks permuted with the axes), `squeeze` and `expand_dims` (length-1
//! axes removed or inserted).

use ndchunk_io::Element;

use super::check_axis;
use super::gather;
use super::gather::{AxisMap, OutAxis};
use crate::array::Array;
use crate::ops::elementwise::invalid;

fn identity(axis: usize, len: u64) -> OutAxis {
    OutAxis::From {
        axis,
        map: AxisMap::Strided { start: 0, step: 1 },
        len,
    }
}

impl<T: Element> Array<T> {
    /// The axes permuted: output axis `i` is input axis `axes[i]`
    /// (numpy's `transpose(axes)`); an empty `axes` reverses them. Chunks
    /// follow their axes.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i32>::arange(6, [3]).unwrap().reshape(&[2, 3]);
    /// let t = a.transpose(&[1, 0]);
    /// assert_eq!(t.shape(), vec![3, 2]);
    /// assert_eq!(t.compute().unwrap().into_raw_vec_and_offset().0, vec![0, 3, 1, 4, 2, 5]);
    /// ```
    pub fn transpose(&self, axes: &[usize]) -> Array<T> {
        let args = serde_json::json!({ "axes": axes });
        self.transpose_built(axes)
            .recorded("transpose", args, vec![self.origin()])
    }

    fn transpose_built(&self, axes: &[usize]) -> Array<T> {
        let ndim = self.ndim();
        let axes: Vec<usize> = if axes.is_empty() {
            (0..ndim).rev().collect()
        } else {
            axes.to_vec()
        };
        let name = format!("transpose({axes:?})");
        let mut sorted = axes.clone();
        sorted.sort_unstable();
        if sorted != (0..ndim).collect::<Vec<_>>() {
            return invalid(
                &name,
                self.grid().clone(),
                format!("axes {axes:?} are not a permutation of the {ndim} axes"),
            );
        }
        if axes.iter().enumerate().all(|(i, &a)| i == a) {
            return self.clone();
        }
        let shape = self.shape();
        let out = axes.iter().map(|&a| identity(a, shape[a])).collect();
        gather(self, name, vec![None; ndim], out, T::default())
    }

    /// The axes reversed (numpy's `.T`).
    pub fn t(&self) -> Array<T> {
        self.transpose(&[])
    }

    /// Removes length-1 axes: those in `axes` (each must have length 1), or
    /// every length-1 axis when `axes` is `None` (numpy's `squeeze`).
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f32>::zeros(&[1, 3, 1], [1, 2, 1]).unwrap();
    /// assert_eq!(a.squeeze(None).shape(), vec![3]);
    /// assert_eq!(a.squeeze(Some(&[2])).shape(), vec![1, 3]);
    /// assert!(a.squeeze(Some(&[1])).compute().is_err());
    /// ```
    pub fn squeeze(&self, axes: Option<&[usize]>) -> Array<T> {
        let args = serde_json::json!({ "axes": axes });
        self.squeeze_built(axes)
            .recorded("squeeze", args, vec![self.origin()])
    }

    fn squeeze_built(&self, axes: Option<&[usize]>) -> Array<T> {
        let shape = self.shape();
        let name = match axes {
            Some(axes) => format!("squeeze({axes:?})"),
            None => "squeeze".to_string(),
        };
        let drop: Vec<usize> = match axes {
            None => (0..shape.len()).filter(|&a| shape[a] == 1).collect(),
            Some(axes) => {
                for &a in axes {
                    if let Err(message) = check_axis(a, shape.len()) {
                        return invalid(&name, self.grid().clone(), message);
                    }
                    if shape[a] != 1 {
                        return invalid(
                            &name,
                            self.grid().clone(),
                            format!(
                                "cannot select axis {a} to squeeze out: it has size {} (not 1)",
                                shape[a]
                            ),
                        );
                    }
                }
                axes.to_vec()
            }
        };
        if drop.is_empty() {
            return self.clone();
        }
        let fixed = (0..shape.len())
            .map(|a| drop.contains(&a).then_some(0))
            .collect();
        let out = (0..shape.len())
            .filter(|a| !drop.contains(a))
            .map(|a| identity(a, shape[a]))
            .collect();
        gather(self, name, fixed, out, T::default())
    }

    /// A new length-1 axis at position `axis` (`0..=ndim`), one chunk.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<u8>::zeros(&[4, 5], [2, 5]).unwrap();
    /// assert_eq!(a.expand_dims(1).shape(), vec![4, 1, 5]);
    /// ```
    pub fn expand_dims(&self, axis: usize) -> Array<T> {
        let args = serde_json::json!({ "axis": axis });
        self.expand_dims_built(axis)
            .recorded("expand_dims", args, vec![self.origin()])
    }

    fn expand_dims_built(&self, axis: usize) -> Array<T> {
        let name = format!("expand_dims({axis})");
        let shape = self.shape();
        if let Err(message) = check_axis(axis, shape.len() + 1) {
            return invalid(&name, self.grid().clone(), message);
        }
        let mut out: Vec<OutAxis> = (0..shape.len()).map(|a| identity(a, shape[a])).collect();
        out.insert(axis, OutAxis::New { len: 1 });
        gather(self, name, vec![None; shape.len()], out, T::default())
    }
}
