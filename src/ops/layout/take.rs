//! `take`: integer indices along one axis, grouped by source chunk as Dask
//! does (an output chunk is a run of consecutive indices in one input chunk).

use std::sync::Arc;

use ndchunk_io::Element;

use super::gather;
use super::gather::{AxisMap, OutAxis};
use super::{check_axis, check_index};
use crate::array::Array;
use crate::ops::elementwise::invalid;

impl<T: Element> Array<T> {
    /// The elements at `indices` along `axis` (numpy's `take`; negative
    /// indices count from the end, repeats and any order allowed). Each
    /// output chunk along `axis` reads one input chunk.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<i64>::arange(10, [3]).unwrap();
    /// let b = a.take(&[7, 0, -1, 1], 0);
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![7, 0, 9, 1]);
    /// assert_eq!(b.grid().to_sizes(), vec![vec![1, 1, 1, 1]]);
    /// ```
    pub fn take(&self, indices: &[i64], axis: usize) -> Array<T> {
        let kept: std::sync::Arc<[i64]> = indices.into();
        let args = crate::array::recipe::Args::Lazy(Box::new(
            move || serde_json::json!({ "indices": &*kept, "axis": axis }),
        ));
        self.take_built(indices, axis)
            .recorded_with("take", args, vec![self.origin()])
    }

    fn take_built(&self, indices: &[i64], axis: usize) -> Array<T> {
        let name = format!("take(axis={axis}, {} indices)", indices.len());
        let shape = self.shape();
        if let Err(message) = check_axis(axis, shape.len()) {
            return invalid(&name, self.grid().clone(), message);
        }
        let table = match indices
            .iter()
            .map(|&i| check_index(i, axis, shape[axis]))
            .collect::<Result<Vec<u64>, String>>()
        {
            Ok(table) => table,
            Err(message) => return invalid(&name, self.grid().clone(), message),
        };
        let out = (0..shape.len())
            .map(|a| OutAxis::From {
                axis: a,
                map: if a == axis {
                    AxisMap::Table(Arc::from(table.as_slice()))
                } else {
                    AxisMap::Strided { start: 0, step: 1 }
                },
                len: if a == axis {
                    table.len() as u64
                } else {
                    shape[a]
                },
            })
            .collect();
        gather(self, name, vec![None; shape.len()], out, T::default())
    }
}
