//! The data a task moves between fused kernels: one block as a type-erased
//! `ArrayD<T>`. Kernels are typed; the graph is not, so the dtype is
//! recovered once per block (a downcast), never per element.

use std::any::Any;

use ndarray::{ArrayD, IxDyn, SliceInfoElem};
use ndchunk_chunking::Region;
use ndchunk_io::copy::copy_box;
use ndchunk_io::Element;

use crate::error::{Error, Result};

/// One block of some node's output: an `ArrayD<T>` of the node's dtype,
/// standard (C) layout, owned so kernels may work in place.
pub(crate) type Block = Box<dyn Any + Send + Sync>;

/// The typed array inside a block. A mismatch is a bug in an operation's
/// construction (the typed front guarantees the dtypes), reported rather
/// than panicking so that a run stops cleanly.
pub(crate) fn take<T: Element>(block: Block, operation: &str) -> Result<ArrayD<T>> {
    block
        .downcast::<ArrayD<T>>()
        .map(|b| *b)
        .map_err(|_| Error::Internal {
            operation: operation.to_string(),
            message: format!("expected a block of {}", T::DTYPE.name()),
        })
}

/// Wraps a typed array as a block.
pub(crate) fn block<T: Element>(array: ArrayD<T>) -> Block {
    Box::new(array)
}

/// The ndarray slice of a region, in the coordinates of the array sliced.
pub(crate) fn slice_of(region: &Region) -> Vec<SliceInfoElem> {
    region
        .start()
        .iter()
        .zip(region.stop())
        .map(|(&a, &b)| SliceInfoElem::Slice {
            start: a as isize,
            end: Some(b as isize),
            step: 1,
        })
        .collect()
}

/// A region's shape as ndarray wants it.
pub(crate) fn shape_of(region: &Region) -> Vec<usize> {
    region.shape().iter().map(|&n| n as usize).collect()
}

/// The values of `array` over `local` (coordinates inside it), as a new
/// C-order array: rows of memcpy when `array` is C-ordered (ndarray's
/// `to_owned` of a strided view copies element by element).
pub(crate) fn copy_out<T: Element>(array: &ArrayD<T>, local: &Region) -> ArrayD<T> {
    let Some(from) = array.as_slice() else {
        return array.slice(slice_of(local).as_slice()).to_owned();
    };
    let shape: Vec<u64> = array.shape().iter().map(|&n| n as u64).collect();
    let mut out = vec![T::default(); local.num_elements() as usize];
    let origin = vec![0; shape.len()];
    copy_box(from, &shape, local, &mut out, &local.shape(), &origin, 1);
    ArrayD::from_shape_vec(IxDyn(&shape_of(local)), out).expect("a box's values fill its shape")
}
